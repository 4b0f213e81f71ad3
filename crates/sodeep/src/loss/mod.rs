//! Rank losses built on any [`Ranker`], plus the usual baselines they are compared with.
//!
//! Every rank loss lays its items out with the [`Grouping`] rule (see [`crate::ranker`]), so it
//! takes any batch size and, through `*_lists` methods, one group id per item so that ranks are
//! computed within each query or list only. Pads are masked out; each real item counts once.
//!
//! | loss | formula (r = the ranker's normalised ranks, r* = exact ranks) |
//! |---|---|
//! | [`SpearmanLoss`] | `mean_i (r(ŷ)_i − r*(y)_i)²` (+ optional `w(epoch)·aux(ŷ, y)`) |
//! | [`MapLoss`] | per label column c with positives: `Σ_{i: y_ic = 1} r(ŷ_·c)_i` |
//! | [`RecallLoss`] | `Σ_i max(0, α + r(S_i·)_i − min_{j≠i} r(S_i·)_j)`, rows and columns |
//! | [`RankSumLoss`] | `Σ_i r(S_i·)_i`, rows and columns |
//! | [`VseHingeLoss`] | `Σ_i max(0, α − S_ii + max_{j≠i} S_ij)`, rows and columns (baseline) |
//! | [`NdcgLoss`] | per query: `1 − Σ_i G(rel_i) / log2(1 + n_q·r(ŷ)_i) / IDCG_q` (optional top-k ramp) |
//! | [`LtrLoss`] | per query, on scores: mse, RankNet, LambdaRank, ListNet, ListMLE, ApproxNDCG (baselines) |
//!
//! ```
//! use std::sync::Arc;
//! use candle_core::{Device, Tensor};
//! use sodeep::loss::{SpearmanConfig, SpearmanLoss};
//! let ranker = sodeep::spec::parse("softrank:eps=0.001")?;
//! let loss = SpearmanLoss::new(ranker, SpearmanConfig::default());
//! let target = Tensor::new(&[1f32, 2.0, 3.0, 4.0], &Device::Cpu)?;
//! let right = Tensor::new(&[0.1f32, 0.2, 0.3, 0.4], &Device::Cpu)?; // same order
//! let wrong = Tensor::new(&[0.4f32, 0.3, 0.2, 0.1], &Device::Cpu)?; // reversed
//! let (good, bad): (f32, f32) = (
//!     loss.forward(&right, &target)?.to_scalar()?,
//!     loss.forward(&wrong, &target)?.to_scalar()?,
//! );
//! assert!(good < 1e-6 && bad > 0.2);
//! # Ok::<(), sodeep::Error>(())
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use candle_core::{DType, Tensor, D};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::rank::sodeep_rank_average;
use crate::ranker::Ranker;

mod grouping;
pub mod ltr;
pub mod ndcg;
pub use crate::metrics::Gain;
use grouping::members_by_id;
pub use grouping::Grouping;
pub use ltr::{LtrConfig, LtrKind, LtrLoss};
pub use ndcg::{NdcgConfig, NdcgLoss};

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
    fn apply(self, values: &Tensor, weights: &Tensor) -> Result<Tensor> {
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

/// A learning-to-rank loss: scores and relevance labels of documents grouped by query
/// ([`NdcgLoss`], [`LtrLoss`]). Bring it into scope to call `forward`, as with candle-nn's
/// `Module`.
pub trait QueryLoss: Send + Sync {
    /// The loss over the queries given by `lists`, one query id per document (the documents
    /// of a query need not be contiguous); `scores` and `relevance` are `m` or `m × 1`.
    fn forward_lists(&self, scores: &Tensor, relevance: &Tensor, lists: &[u32]) -> Result<Tensor>;

    /// The loss of one query (`scores` and `relevance` both `m` or `m × 1`), or of a `B × n`
    /// batch whose rows are B queries (relevance `B × n` too).
    fn forward(&self, scores: &Tensor, relevance: &Tensor) -> Result<Tensor> {
        match rows_as_lists(scores, relevance)? {
            Some((_, _, lists)) => {
                self.forward_lists(&scores.flatten_all()?, &relevance.flatten_all()?, &lists)
            }
            None => {
                let m = as_vector(scores, "scores")?.dim(0)?;
                self.forward_lists(scores, relevance, &vec![0; m])
            }
        }
    }
}

/// A per-loss random stream for the grouping's shuffles and pads.
fn stream(seed: u64) -> Mutex<ChaCha8Rng> {
    Mutex::new(ChaCha8Rng::seed_from_u64(seed))
}

fn grouping(
    rng: &Mutex<ChaCha8Rng>,
    m: usize,
    lists: Option<&[u32]>,
    fixed: Option<usize>,
) -> Result<Grouping> {
    let mut rng = rng.lock().expect("loss rng lock");
    Grouping::new(m, lists, fixed, &mut *rng)
}

/// A 1-D view of `m` predictions given as `m` or `m × 1`.
fn as_vector(t: &Tensor, what: &str) -> Result<Tensor> {
    match t.dims() {
        [_] => Ok(t.clone()),
        [m, 1] => Ok(t.reshape(*m)?),
        other => Err(Error::InvalidArgument(format!(
            "{what} must be a vector of m values (or m × 1), got shape {other:?}"
        ))),
    }
}

/// For a `B × n` batch with n > 1 (each row one list): B, n and the row id of every item in
/// row-major order. `None` for a vector of m values (`m` or `m × 1`).
fn rows_as_lists(pred: &Tensor, target: &Tensor) -> Result<Option<(usize, usize, Vec<u32>)>> {
    match pred.dims() {
        &[b, n] if n > 1 => {
            if target.dims() != [b, n] {
                return Err(Error::InvalidArgument(format!(
                    "predictions are a {b} × {n} batch of lists, but the targets have shape {:?}",
                    target.dims()
                )));
            }
            let lists = (0..b)
                .flat_map(|r| std::iter::repeat_n(r as u32, n))
                .collect();
            Ok(Some((b, n, lists)))
        }
        _ => Ok(None),
    }
}

/// Exact SoDeep ranks (ties share their mean rank) of every row of a `G × L` tensor.
fn exact_ranks(values: &Tensor) -> Result<Tensor> {
    let rows: Vec<Vec<f64>> = values.to_dtype(DType::F64)?.to_vec2()?;
    let flat: Vec<f64> = rows.iter().flat_map(|r| sodeep_rank_average(r)).collect();
    Ok(Tensor::from_vec(flat, values.shape(), values.device())?.to_dtype(values.dtype())?)
}

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

/// The positive's rank in each row of a square similarity matrix, and the hardest negative's.
struct DiagonalRanks {
    /// `n`: rank of `S_ii` within its row's group.
    positive: Tensor,
    /// `n`: smallest rank among the row's real negatives (a large value when it has none).
    hardest_negative: Tensor,
}

/// Ranks each row of the square `sim` with the grouping rule applied to its columns.
fn diagonal_ranks(
    ranker: &dyn Ranker,
    sim: &Tensor,
    rng: &Mutex<ChaCha8Rng>,
) -> Result<DiagonalRanks> {
    let n = match sim.dims() {
        [a, b] if a == b => *a,
        other => {
            return Err(Error::InvalidArgument(format!(
                "a similarity matrix must be square (n × n, positives on the diagonal), got shape {other:?}"
            )))
        }
    };
    let g = grouping(rng, n, None, ranker.fixed_len())?;
    let (groups, len) = (g.groups, g.len);
    let dev = sim.device();
    let idx = Tensor::from_slice(&g.index, g.index.len(), dev)?;
    let laid_out = sim.index_select(&idx, 1)?.reshape((n * groups, len))?;
    let ranks = ranker.rank(&laid_out)?;
    // row i keeps only the group holding its own positive column
    let own: Vec<u32> = (0..n)
        .map(|i| (i * groups) as u32 + g.slot[i] / len as u32)
        .collect();
    let own_ranks = ranks.index_select(&Tensor::from_slice(&own, n, dev)?, 0)?;
    let pos_at: Vec<u32> = (0..n).map(|i| g.slot[i] % len as u32).collect();
    let positive = own_ranks
        .gather(&Tensor::from_slice(&pos_at, (n, 1), dev)?, 1)?
        .reshape(n)?;
    let mut neg = vec![0f32; n * len];
    for i in 0..n {
        let group = (g.slot[i] as usize) / len;
        for j in 0..len {
            if g.mask[group * len + j] > 0.0 && j != pos_at[i] as usize {
                neg[i * len + j] = 1.0;
            }
        }
    }
    let neg = Tensor::from_vec(neg, (n, len), dev)?.to_dtype(sim.dtype())?;
    // non-negatives are lifted past every rank (ranks are at most 1) before the min
    let lifted = (own_ranks + ((1.0 - neg)? * 4.0)?)?;
    Ok(DiagonalRanks {
        positive,
        hardest_negative: lifted.min(D::Minus1)?,
    })
}

/// Transposes a square matrix so that its columns can be ranked as rows.
fn columns_as_rows(sim: &Tensor) -> Result<Tensor> {
    Ok(sim.t()?.contiguous()?)
}

/// Settings of [`RecallLoss`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecallConfig {
    /// Margin α in normalised-rank units (`k/n` asks for a gap of k places).
    pub margin: f64,
    /// Also rank each column (both retrieval directions; default true).
    pub both_directions: bool,
    /// Mean (default), sum or none (one value per row, then per column).
    pub reduction: Reduction,
    /// Seed of the grouping's shuffles and pads.
    pub seed: u64,
}

impl Default for RecallConfig {
    fn default() -> Self {
        Self {
            margin: 0.02,
            both_directions: true,
            reduction: Reduction::Mean,
            seed: 0,
        }
    }
}

/// The paper's eq. (10): for a square similarity matrix `S` whose positives lie on the
/// diagonal, `Σ_i max(0, α + r(S_i·)_i − min_{j≠i} r(S_i·)_j)`: the positive must rank ahead of
/// the hardest (best-ranked) negative by α. With `both_directions`, columns are ranked too.
pub struct RecallLoss {
    ranker: Arc<dyn Ranker>,
    config: RecallConfig,
    rng: Mutex<ChaCha8Rng>,
}

impl RecallLoss {
    /// A recall loss through `ranker`.
    pub fn new(ranker: Arc<dyn Ranker>, config: RecallConfig) -> Self {
        Self {
            ranker,
            rng: stream(config.seed),
            config,
        }
    }

    /// The loss of an `n × n` similarity matrix.
    pub fn forward(&self, sim: &Tensor) -> Result<Tensor> {
        let mut terms = Vec::new();
        let mut directions = vec![sim.clone()];
        if self.config.both_directions {
            directions.push(columns_as_rows(sim)?);
        }
        for s in &directions {
            let d = diagonal_ranks(self.ranker.as_ref(), s, &self.rng)?;
            let hinge = ((d.positive - d.hardest_negative)? + self.config.margin)?.relu()?;
            terms.push(hinge);
        }
        let all = Tensor::cat(&terms, 0)?;
        let ones = all.ones_like()?;
        self.config.reduction.apply(&all, &ones)
    }
}

/// Settings of [`RankSumLoss`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankSumConfig {
    /// Also rank each column (default true).
    pub both_directions: bool,
    /// Mean (default), sum or none.
    pub reduction: Reduction,
    /// Seed of the grouping's shuffles and pads.
    pub seed: u64,
}

impl Default for RankSumConfig {
    fn default() -> Self {
        Self {
            both_directions: true,
            reduction: Reduction::Mean,
            seed: 0,
        }
    }
}

/// `Σ_i r(S_i·)_i`: the ranker's ranks of the diagonal (positive) similarities, rows and
/// optionally columns. It pulls every positive towards rank 1/n, without a margin.
pub struct RankSumLoss {
    ranker: Arc<dyn Ranker>,
    config: RankSumConfig,
    rng: Mutex<ChaCha8Rng>,
}

impl RankSumLoss {
    /// A rank-sum loss through `ranker`.
    pub fn new(ranker: Arc<dyn Ranker>, config: RankSumConfig) -> Self {
        Self {
            ranker,
            rng: stream(config.seed),
            config,
        }
    }

    /// The loss of an `n × n` similarity matrix.
    pub fn forward(&self, sim: &Tensor) -> Result<Tensor> {
        let mut terms = vec![diagonal_ranks(self.ranker.as_ref(), sim, &self.rng)?.positive];
        if self.config.both_directions {
            let t = columns_as_rows(sim)?;
            terms.push(diagonal_ranks(self.ranker.as_ref(), &t, &self.rng)?.positive);
        }
        let all = Tensor::cat(&terms, 0)?;
        let ones = all.ones_like()?;
        self.config.reduction.apply(&all, &ones)
    }
}

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

/// Binary cross-entropy on logits, mean over every entry, in the stable form
/// `max(x, 0) − x·y + log(1 + e^{−|x|})` (candle-nn's version takes `log(σ(x))`, which
/// overflows to −∞ once a logit is confidently wrong).
pub fn bce_with_logits(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let softplus = ((logits.abs()?.neg()?.exp()? + 1.0)?).log()?;
    let loss = ((logits.relu()? - (logits * targets)?)? + softplus)?;
    Ok(loss.mean_all()?)
}
