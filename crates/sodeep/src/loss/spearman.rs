//! [`SpearmanLoss`]: `L = mean_i (r(ŷ)_i − r*(y)_i)² + w(epoch) · mean_i aux(ŷ_i, y_i)`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use candle_core::Tensor;
use rand_chacha::ChaCha8Rng;

use super::grouping::{grouping, stream};
use super::inputs::{as_vector, exact_ranks, rows_as_lists};
use super::reduction::Reduction;
use crate::error::{Error, Result};
use crate::ranker::Ranker;

/// The regression term the paper adds while the score distributions settle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuxKind {
    /// `|ŷ − y|`.
    L1,
    /// `(ŷ − y)²`.
    Mse,
}

/// An auxiliary regression term and its weight schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AuxTerm {
    /// L1 or MSE.
    pub kind: AuxKind,
    /// Its weight while active.
    pub weight: f64,
    /// Active for epochs `0..epochs` (the paper: the first epoch), or always when `None`.
    pub epochs: Option<usize>,
}

impl AuxTerm {
    /// The weight at `epoch` (0-based).
    pub fn weight_at(&self, epoch: usize) -> f64 {
        match self.epochs {
            Some(n) if epoch >= n => 0.0,
            _ => self.weight,
        }
    }
}

/// Settings of [`SpearmanLoss`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SpearmanConfig {
    /// Mean (default), sum or none (one value per item).
    pub reduction: Reduction,
    /// Optional auxiliary regression term.
    pub aux: Option<AuxTerm>,
    /// Seed of the grouping's shuffles and pads.
    pub seed: u64,
}

/// `L = mean_i (r(ŷ)_i − r*(y)_i)² + w(epoch) · mean_i aux(ŷ_i, y_i)`: the squared distance
/// between the ranker's ranks of the predictions and the exact ranks of the targets (tied
/// targets share their mean rank). Minimising it maximises Spearman's correlation.
pub struct SpearmanLoss {
    ranker: Arc<dyn Ranker>,
    config: SpearmanConfig,
    rng: Mutex<ChaCha8Rng>,
    epoch: AtomicUsize,
}

impl SpearmanLoss {
    /// A Spearman loss through `ranker`.
    pub fn new(ranker: Arc<dyn Ranker>, config: SpearmanConfig) -> Self {
        Self {
            ranker,
            rng: stream(config.seed),
            config,
            epoch: AtomicUsize::new(0),
        }
    }

    /// Sets the epoch that the auxiliary term's schedule reads.
    pub fn set_epoch(&self, epoch: usize) {
        self.epoch.store(epoch, Ordering::Relaxed);
    }

    /// The loss over one list of m predictions and targets (`m` or `m × 1`), or over a `B × n`
    /// batch whose rows are B lists of n items (ranks are computed within each row; with
    /// [`Reduction::None`] the result is `B × n` too).
    pub fn forward(&self, pred: &Tensor, target: &Tensor) -> Result<Tensor> {
        match rows_as_lists(pred, target)? {
            Some((b, n, lists)) => {
                let per =
                    self.forward_impl(&pred.flatten_all()?, &target.flatten_all()?, Some(&lists))?;
                match self.config.reduction {
                    Reduction::None => Ok(per.reshape((b, n))?),
                    _ => Ok(per),
                }
            }
            None => self.forward_impl(pred, target, None),
        }
    }

    /// The loss with ranks computed within each list (`lists`: one id per item).
    pub fn forward_lists(&self, pred: &Tensor, target: &Tensor, lists: &[u32]) -> Result<Tensor> {
        self.forward_impl(pred, target, Some(lists))
    }

    fn forward_impl(
        &self,
        pred: &Tensor,
        target: &Tensor,
        lists: Option<&[u32]>,
    ) -> Result<Tensor> {
        let pred = as_vector(pred, "predictions")?;
        let target = as_vector(target, "targets")?.to_dtype(pred.dtype())?;
        let m = pred.dim(0)?;
        if target.dim(0)? != m {
            return Err(Error::InvalidArgument(format!(
                "{m} predictions but {} targets",
                target.dim(0)?
            )));
        }
        let g = grouping(&self.rng, m, lists, self.ranker.fixed_len())?;
        let r_pred = self.ranker.rank(&g.gather(&pred)?)?;
        let r_true = exact_ranks(&g.gather(&target.detach())?)?;
        let mut per_item = g.scatter_back(&(r_pred - r_true)?.sqr()?)?;
        if let Some(aux) = self.config.aux {
            let w = aux.weight_at(self.epoch.load(Ordering::Relaxed));
            if w > 0.0 {
                let diff = (&pred - &target)?;
                let term = match aux.kind {
                    AuxKind::L1 => diff.abs()?,
                    AuxKind::Mse => diff.sqr()?,
                };
                per_item = (per_item + (term * w)?)?;
            }
        }
        let ones = per_item.ones_like()?;
        self.config.reduction.apply(&per_item, &ones)
    }
}
