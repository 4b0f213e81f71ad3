//! [`MapLoss`]: per label column c with positives, `Σ_{i: y_ic = 1} r(ŷ_·c)_i` (optionally divided
//! by the number of positives).

use std::sync::{Arc, Mutex};

use candle_core::Tensor;
use rand_chacha::ChaCha8Rng;

use super::grouping::{grouping, stream};
use super::reduction::Reduction;
use crate::error::{Error, Result};
use crate::ranker::Ranker;

/// Settings of [`MapLoss`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MapConfig {
    /// Divide each column's sum by its number of positives (the mean rank of the positives).
    pub normalized: bool,
    /// Mean over the columns that have positives (default), sum, or none (one value per
    /// column; columns without positives give 0).
    pub reduction: Reduction,
    /// Seed of the grouping's shuffles and pads.
    pub seed: u64,
}

/// `L_c = Σ_{i: y_ic = 1} r(ŷ_·c)_i` for each label column c: the ranker's ranks of the
/// positives among the batch (or list). Pushing the positives to the top ranks raises average
/// precision. Columns without a positive in the batch are skipped. With `normalized`, each
/// column's sum is divided by its number of positives.
pub struct MapLoss {
    ranker: Arc<dyn Ranker>,
    config: MapConfig,
    rng: Mutex<ChaCha8Rng>,
}

impl MapLoss {
    /// An mAP loss through `ranker`.
    pub fn new(ranker: Arc<dyn Ranker>, config: MapConfig) -> Self {
        Self {
            ranker,
            rng: stream(config.seed),
            config,
        }
    }

    /// The loss for `scores` and 0/1 `labels`, both `m × C`.
    pub fn forward(&self, scores: &Tensor, labels: &Tensor) -> Result<Tensor> {
        self.forward_impl(scores, labels, None)
    }

    /// The loss with ranks computed within each list (`lists`: one id per row).
    pub fn forward_lists(&self, scores: &Tensor, labels: &Tensor, lists: &[u32]) -> Result<Tensor> {
        self.forward_impl(scores, labels, Some(lists))
    }

    fn forward_impl(
        &self,
        scores: &Tensor,
        labels: &Tensor,
        lists: Option<&[u32]>,
    ) -> Result<Tensor> {
        let (m, c) = scores.dims2().map_err(|_| {
            Error::InvalidArgument(format!(
                "scores must be m × C (one column per label), got shape {:?}",
                scores.dims()
            ))
        })?;
        if labels.dims() != [m, c] {
            return Err(Error::InvalidArgument(format!(
                "labels have shape {:?} but scores {:?}",
                labels.dims(),
                scores.dims()
            )));
        }
        let g = grouping(&self.rng, m, lists, self.ranker.fixed_len())?;
        let (groups, len) = (g.groups, g.len);
        // C·G rows of L scores: every column is ranked within every group
        let by_column = |t: &Tensor| -> Result<Tensor> {
            Ok(g.gather(t)?
                .permute((2, 0, 1))?
                .contiguous()?
                .reshape((c * groups, len))?)
        };
        let ranks = self.ranker.rank(&by_column(scores)?)?;
        let mask = g
            .mask_tensor(scores.dtype(), scores.device())?
            .reshape((1, groups * len))?
            .broadcast_as((c, groups * len))?
            .reshape((c * groups, len))?;
        let positives = (by_column(&labels.to_dtype(scores.dtype())?.detach())? * mask)?;
        let per_column = (ranks * &positives)?.reshape((c, groups * len))?.sum(1)?;
        let counts = positives.reshape((c, groups * len))?.sum(1)?;
        let has = counts.gt(0.0)?.to_dtype(scores.dtype())?;
        let per_column = if self.config.normalized {
            per_column.div(&counts.maximum(1.0)?)?
        } else {
            per_column
        };
        self.config.reduction.apply(&per_column, &has)
    }
}
