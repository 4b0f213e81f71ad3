//! [`VseHingeLoss`]: the VSE++ baseline on similarities, `Σ_i max(0, α − S_ii + max_{j≠i} S_ij)`.

use candle_core::Tensor;

use crate::error::{Error, Result};

/// The VSE++ baseline (Faghri et al. 2018) on similarities, not ranks:
/// `Σ_i max(0, α − S_ii + max_{j≠i} S_ij)`, over rows and columns, mean-reduced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VseHingeLoss {
    /// Margin α in similarity units.
    pub margin: f64,
}

impl VseHingeLoss {
    /// The loss of an `n × n` similarity matrix whose positives lie on the diagonal.
    pub fn forward(&self, sim: &Tensor) -> Result<Tensor> {
        let n = match sim.dims() {
            [a, b] if a == b && *a > 1 => *a,
            other => {
                return Err(Error::InvalidArgument(format!(
                "the hinge loss needs a square similarity matrix with n ≥ 2, got shape {other:?}"
            )))
            }
        };
        let eye = Tensor::eye(n, sim.dtype(), sim.device())?;
        let diag = (sim * &eye)?.sum(1)?;
        // the diagonal is pushed below every similarity before taking the max over negatives
        let negatives = (sim - (&eye * 10.0)?)?;
        let rows = ((negatives.max(1)? - &diag)? + self.margin)?.relu()?;
        let cols = ((negatives.max(0)? - &diag)? + self.margin)?.relu()?;
        Ok(((rows.mean_all()? + cols.mean_all()?)? / 2.0)?)
    }
}
