//! [`Reduction`]: how a loss combines its per-item values, `mean_i w_i v_i / Σ w_i`, `Σ_i w_i v_i`, or
//! the values themselves (`w_i` = 1 for a counted item, 0 for a pad).

use candle_core::{DType, Tensor};

use crate::error::{Error, Result};

/// How per-item (or per-column) losses are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// The mean over counted items (default).
    #[default]
    Mean,
    /// The sum.
    Sum,
    /// No reduction: one value per item (or per column), in input order.
    None,
}

impl Reduction {
    /// Parses `mean`, `sum` or `none`.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "mean" => Ok(Self::Mean),
            "sum" => Ok(Self::Sum),
            "none" => Ok(Self::None),
            other => Err(Error::InvalidArgument(format!(
                "unknown reduction '{other}': use mean, sum or none"
            ))),
        }
    }

    /// Reduces `values` (1-D) where `weights` (same shape, 0 or 1) says which ones count.
    pub(super) fn apply(self, values: &Tensor, weights: &Tensor) -> Result<Tensor> {
        let counted = (values * weights)?;
        match self {
            Self::None => Ok(counted),
            Self::Sum => Ok(counted.sum_all()?),
            Self::Mean => {
                let n = weights
                    .sum_all()?
                    .to_dtype(DType::F64)?
                    .to_scalar::<f64>()?;
                Ok((counted.sum_all()? / n.max(1.0))?)
            }
        }
    }
}
