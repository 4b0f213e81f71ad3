//! The paper's untrained sorter: `rank_i = (1 + Σ_{j≠i} σ(λ (y_j − y_i))) / d`.
//!
//! Each sigmoid softly counts whether `y_j` beats `y_i`, so the sum approaches the number of
//! larger scores as λ grows. It has no weights and takes vectors of any length.

use candle_core::{Module, Result, Tensor};
use candle_nn::ops::sigmoid;

/// Default sharpness λ.
pub use crate::card::DEFAULT_LAMBDA;

/// The pairwise-sigmoid sorter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Handcrafted {
    /// Sharpness of the sigmoids.
    pub lambda: f64,
}

impl Default for Handcrafted {
    fn default() -> Self {
        Self {
            lambda: DEFAULT_LAMBDA,
        }
    }
}

impl Module for Handcrafted {
    /// `x`: `B × d` → `B × d` soft SoDeep ranks.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let d = x.dim(1)? as f64;
        // diff[b, i, j] = y_j − y_i
        let diff = x.unsqueeze(1)?.broadcast_sub(&x.unsqueeze(2)?)?;
        let soft_count = sigmoid(&(diff * self.lambda)?)?.sum(2)?;
        // the j = i term contributes σ(0) = 1/2, which the formula excludes
        (soft_count + 0.5)? / d
    }
}
