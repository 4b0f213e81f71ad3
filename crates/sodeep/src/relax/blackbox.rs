//! Blackbox differentiation of exact ranks (Rolínek, Musil, Paulus, Vlastelica, Michaelis,
//! Martius, *Optimizing Rank-based Metrics with Blackbox Differentiation*, CVPR 2020).
//!
//! Forward: the exact SoDeep ranks, which are `argmin_π ⟨x, π⟩` over the permutations of
//! `(1/n, 2/n, …, 1)`. Backward: re-rank the scores perturbed by the incoming gradient,
//! `x' = x + λ'·g`, and return `−(r(x) − r(x')) / λ'`, the gradient of a piecewise-linear
//! interpolation of the loss (Vlastelica et al. 2020). λ trades informativeness (large λ moves
//! more items) against faithfulness (small λ: most gradients are exactly zero). Both passes
//! cost one sort, O(n log n) per row.
//!
//! Scale: ranks do not change when a model multiplies its scores by a constant, but a fixed
//! perturbation would: as a model's scores spread out, `λ·g` stops swapping anything and the
//! gradient vanishes (with a fixed λ = 10 the multi-digit MNIST sorting task did not learn:
//! exact match 0.17 at n = 3). So the perturbation is measured in the row's own units,
//! `λ' = λ · n · sd(x)`: with normalised ranks a rank step is `1/n`, so λ = 1 lets a gradient of
//! one rank step per item move a score by one standard deviation of its row. (A constant row
//! uses sd = 1.)

use super::row_op::{positive, RowMap};
use crate::error::Result;
use crate::rank::sodeep_rank as exact_ranks;
use crate::ranker::Ranker;

/// The blackbox ranker; knob `lambda` (λ > 0, default 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Blackbox {
    /// Interpolation strength λ.
    pub lambda: f64,
}

/// λ when none is given (in units of the row's standard deviation per rank step; see the
/// module docs). On the quick multi-digit MNIST protocol (`cargo run --release --example
/// digit_sort -- blackbox:lambda=L`), exact match at n = 3 / n = 5: λ = 0.1 0.212 / 0.106,
/// 0.3 0.388 / 0.188, 1 0.486 / 0.282, 3 0.548 / 0.178, 10 0.190 / 0.010.
pub const DEFAULT_LAMBDA: f64 = 1.0;

impl Blackbox {
    /// A blackbox ranker; λ must be positive.
    pub fn new(lambda: f64) -> Result<Self> {
        positive("blackbox", "lambda", lambda)?;
        Ok(Self { lambda })
    }
}

/// The standard deviation of a row (1 for a constant row, whose scale is undefined).
fn spread(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let sd = (x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
    if sd > 0.0 && sd.is_finite() {
        sd
    } else {
        1.0
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
        let lambda = self.lambda * x.len() as f64 * spread(x);
        let r = exact_ranks(x);
        let shifted: Vec<f64> = x.iter().zip(g).map(|(a, b)| a + lambda * b).collect();
        let r2 = exact_ranks(&shifted);
        Ok(r.iter().zip(&r2).map(|(a, b)| -(a - b) / lambda).collect())
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
        super::row_op::apply_rows(self, scores)
    }
}
