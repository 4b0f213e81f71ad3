//! Blackbox differentiation of exact ranks (Rolínek, Musil, Paulus, Vlastelica, Michaelis,
//! Martius, *Optimizing Rank-based Metrics with Blackbox Differentiation*, CVPR 2020).
//!
//! Forward: the exact SoDeep ranks, which are `argmin_π ⟨x, π⟩` over the permutations of
//! `(1/n, 2/n, …, 1)`. Backward: re-rank the scores perturbed by the incoming gradient,
//! `x' = x + λ·g`, and return `−(r(x) − r(x')) / λ`, the gradient of a piecewise-linear
//! interpolation of the loss (Vlastelica et al. 2020). λ trades informativeness (large λ moves
//! more items) against faithfulness (small λ: most gradients are exactly zero). Both passes
//! cost one sort, O(n log n) per row.

use crate::error::Result;
use crate::ranker::Ranker;
use crate::relax::{exact_ranks, positive, RowMap};

/// The blackbox ranker; knob `lambda` (λ > 0, default 10).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Blackbox {
    /// Interpolation strength λ.
    pub lambda: f64,
}

/// λ when none is given: with normalised ranks and loss gradients of order 1/n, λ = 10 moves
/// a handful of neighbours per item.
pub const DEFAULT_LAMBDA: f64 = 10.0;

impl Blackbox {
    /// A blackbox ranker; λ must be positive.
    pub fn new(lambda: f64) -> Result<Self> {
        positive("blackbox", "lambda", lambda)?;
        Ok(Self { lambda })
    }
}

impl RowMap for Blackbox {
    fn op_name(&self) -> &'static str {
        "blackbox"
    }

    fn forward(&self, x: &[f64]) -> Result<Vec<f64>> {
        Ok(exact_ranks(x))
    }

    fn vjp(&self, x: &[f64], g: &[f64]) -> Result<Vec<f64>> {
        let r = exact_ranks(x);
        let shifted: Vec<f64> = x.iter().zip(g).map(|(a, b)| a + self.lambda * b).collect();
        let r2 = exact_ranks(&shifted);
        Ok(r.iter()
            .zip(&r2)
            .map(|(a, b)| -(a - b) / self.lambda)
            .collect())
    }
}

impl Ranker for Blackbox {
    fn name(&self) -> String {
        format!("blackbox:lambda={}", self.lambda)
    }

    fn fixed_len(&self) -> Option<usize> {
        None
    }

    fn rank(&self, scores: &candle_core::Tensor) -> Result<candle_core::Tensor> {
        crate::relax::apply_rows(self, scores)
    }
}
