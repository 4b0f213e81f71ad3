//! NDCG through any ranker: per query q with items i,
//! `L_q = 1 − Σ_i G(rel_i) · D(R_i) · ramp_k(R_i) / IDCG_q`, where
//! - `R_i = r_i · n_q` is the ranker's rank in raw units (1 = top; `r_i` is its normalised
//!   rank), floored at 1 so that no item sits ahead of the first position,
//! - `D(R) = 1 / log2(1 + R)`, `G` the [`Gain`] (`2^rel − 1` by default),
//! - `ramp_k(R) = clamp(k + 1 − R, 0, 1)` with a cutoff k (NeuralNDCG@k's continuous top-k:
//!   1 inside the top k, 0 beyond k + 1), 1 without one,
//! - `IDCG_q` the ideal DCG of the query's labels (over the top k with a cutoff).
//!
//! How queries reach the ranker: queries are bucketed by their length n. For each distinct n,
//! when the ranker takes any length, or its fixed length d equals n, the queries of that length
//! are stacked into one `B × n` batch and ranked in one call: no pads, so `R_i` is exactly the
//! ranker's rank. A fixed-length sorter with `d ≠ n` gets the queries of that length laid out
//! by [`Grouping`](super::Grouping) (chunks of d, padded with random copies, seeded), and the
//! normalised rank of each real item within its group is read as its quantile in the query:
//! `R_i = r_i · n_q`. Queries of different lengths are never padded together.
//!
//! Queries without a relevant item (`IDCG_q = 0`) carry no signal: they are ranked with the
//! others (so that the layout, a fixed-length sorter's seeded pads included, depends on the
//! query ids only, never on the labels), and contribute 0 with a zero gradient.
//! [`Reduction::Mean`] averages `L_q` over the other queries, `Sum` adds them, `None` gives one
//! value per query id in increasing id order. Gradients reach the scores
//! through the ranker; the relevance labels are constants.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use sodeep::metrics::{ndcg_at_k_gain, Gain};
//! use sodeep::{NdcgConfig, NdcgLoss, QueryLoss};
//! let loss = NdcgLoss::new(sodeep::spec::parse("softrank:eps=0.0001")?, NdcgConfig::default());
//! let rel = [0f32, 1.0, 2.0];
//! let reversed = [3f32, 2.0, 1.0]; // the most relevant item last
//! let dev = &Device::Cpu;
//! let l: f32 = loss
//!     .forward(&Tensor::new(&reversed, dev)?, &Tensor::new(&rel, dev)?)?
//!     .to_scalar()?;
//! // gains 0, 1, 3 at positions 1, 2, 3 against 3, 1, 0
//! let ndcg = ndcg_at_k_gain(&rel, &reversed, None, Gain::Exponential).unwrap();
//! let by_hand = (1.0 / 3f64.log2() + 3.0 / 2.0) / (3.0 + 1.0 / 3f64.log2());
//! assert!((ndcg - by_hand).abs() < 1e-12);
//! assert!((f64::from(l) - (1.0 - ndcg)).abs() < 1e-4, "{l}");
//! # Ok::<(), sodeep::Error>(())
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use candle_core::{DType, Tensor};
use rand_chacha::ChaCha8Rng;

use super::grouping::{grouping, members_by_id, stream};
use super::inputs::as_vector;
use super::query::QueryLoss;
use super::reduction::Reduction;
use crate::error::{Error, Result};
use crate::metrics::{ideal_dcg, Gain};
use crate::ranker::Ranker;

/// Settings of [`NdcgLoss`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdcgConfig {
    /// The gain of a relevance label (exponential by default).
    pub gain: Gain,
    /// Top-k cutoff (NDCG@k), or the whole query when `None` (default).
    pub k: Option<usize>,
    /// Mean over the queries with a relevant item (default), sum, or none (one value per
    /// query id, in increasing id order).
    pub reduction: Reduction,
    /// Seed of the grouping's shuffles and pads (fixed-length sorters only).
    pub seed: u64,
}

impl Default for NdcgConfig {
    fn default() -> Self {
        Self {
            gain: Gain::Exponential,
            k: None,
            reduction: Reduction::Mean,
            seed: 0,
        }
    }
}

/// `1 − NDCG` through a ranker's differentiable ranks (see the [module docs](self)).
pub struct NdcgLoss {
    ranker: Arc<dyn Ranker>,
    config: NdcgConfig,
    rng: Mutex<ChaCha8Rng>,
}

impl NdcgLoss {
    /// An NDCG loss through `ranker`.
    pub fn new(ranker: Arc<dyn Ranker>, config: NdcgConfig) -> Self {
        Self {
            ranker,
            rng: stream(config.seed),
            config,
        }
    }

    fn forward_impl(&self, scores: &Tensor, relevance: &Tensor, lists: &[u32]) -> Result<Tensor> {
        let k = check_k(self.config.k)?;
        let batch = Queries::new(scores, relevance, lists)?;
        self.config.gain.check_labels(&batch.rel)?;
        let members = members_by_id(lists);
        let (s, dev, dtype) = (&batch.scores, batch.scores.device(), batch.scores.dtype());
        let gains: Vec<f64> = batch
            .rel
            .iter()
            .map(|&r| self.config.gain.apply(r))
            .collect();
        // G_i / IDCG_q for every item, and which queries carry a signal
        let mut weight = vec![0.0; gains.len()];
        let mut signal = vec![false; members.len()];
        for (q, items) in members.iter().enumerate() {
            let g: Vec<f64> = items.iter().map(|&i| gains[i as usize]).collect();
            let idcg = ideal_dcg(&g, k.unwrap_or(items.len()));
            if idcg > 0.0 {
                signal[q] = true;
                for &i in items {
                    weight[i as usize] = gains[i as usize] / idcg;
                }
            }
        }
        // every query is ranked, with or without a signal: the layout (and a fixed-length
        // sorter's seeded pads) then depends on the query ids alone, never on the labels, so
        // that a device computing it needs no labels on the host
        let mut by_len: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (q, items) in members.iter().enumerate() {
            by_len.entry(items.len()).or_default().push(q);
        }
        // per-query losses, bucket by bucket, then put back in query order
        let mut parts = Vec::new();
        let mut at = vec![0u32; members.len()];
        let mut filled = 0u32;
        for (n, queries) in by_len {
            let b = queries.len();
            let items: Vec<u32> = queries
                .iter()
                .flat_map(|&q| members[q].iter().copied())
                .collect();
            let x = s.index_select(&Tensor::from_slice(&items, items.len(), dev)?, 0)?;
            let r = self.rank_bucket(&x, b, n)?;
            let d = discount_tensor(&(r * n as f64)?, k)?;
            let w: Vec<f64> = items.iter().map(|&i| weight[i as usize]).collect();
            let w = Tensor::from_vec(w, (b, n), dev)?.to_dtype(dtype)?;
            parts.push((d * w)?.sum(1)?.affine(-1.0, 1.0)?);
            for q in queries {
                at[q] = filled;
                filled += 1;
            }
        }
        finish(s, parts, &at, &signal, self.config.reduction)
    }

    /// Normalised ranks (`b × n`) of `b` queries of `n` items each, laid out query after query
    /// in `x`.
    fn rank_bucket(&self, x: &Tensor, b: usize, n: usize) -> Result<Tensor> {
        match self.ranker.fixed_len() {
            Some(d) if d != n => {
                let local: Vec<u32> = (0..b as u32)
                    .flat_map(|q| std::iter::repeat_n(q, n))
                    .collect();
                let g = grouping(&self.rng, b * n, Some(&local), Some(d))?;
                let r = self.ranker.rank(&g.gather(x)?)?;
                Ok(g.scatter_back(&r)?.reshape((b, n))?)
            }
            _ => Ok(self.ranker.rank(&x.reshape((b, n))?)?),
        }
    }
}

/// Assembles per-query values: `parts` (concatenated, query `q` at `at[q]`), then reduces them
/// over the queries with a signal (the others count 0, with a zero gradient).
fn finish(
    s: &Tensor,
    parts: Vec<Tensor>,
    at: &[u32],
    signal: &[bool],
    reduction: Reduction,
) -> Result<Tensor> {
    let (dev, dtype) = (s.device(), s.dtype());
    let queries = signal.len();
    let all = Tensor::cat(&parts, 0)?.index_select(&Tensor::from_slice(at, queries, dev)?, 0)?;
    let weights: Vec<f64> = signal.iter().map(|&h| f64::from(u8::from(h))).collect();
    let weights = Tensor::from_vec(weights, queries, dev)?.to_dtype(dtype)?;
    reduction.apply(&all, &weights)
}

/// `D(R) · ramp_k(R)` elementwise, with `R` floored at 1.
pub(super) fn discount_tensor(raw: &Tensor, k: Option<usize>) -> Result<Tensor> {
    let raw = raw.maximum(1.0)?;
    // 1 / log2(1 + R) = ln 2 / ln(1 + R)
    let d = ((raw.clone() + 1.0)?.log()?.recip()? * std::f64::consts::LN_2)?;
    match k {
        None => Ok(d),
        Some(k) => Ok((d * raw.affine(-1.0, k as f64 + 1.0)?.clamp(0.0, 1.0)?)?),
    }
}

/// Rejects a cutoff of 0, which would leave no position to score.
pub(super) fn check_k(k: Option<usize>) -> Result<Option<usize>> {
    match k {
        Some(0) => Err(Error::InvalidArgument(
            "a top-k cutoff of k = 0 scores no position: use k ≥ 1, or None for the whole query"
                .into(),
        )),
        other => Ok(other),
    }
}

/// One batch of queries, validated: the scores as a vector and the relevance labels on the
/// host, with one query id per item.
pub(super) struct Queries {
    /// The m scores, 1-D.
    pub scores: Tensor,
    /// The m relevance labels (finite, ≥ 0).
    pub rel: Vec<f64>,
}

impl Queries {
    pub fn new(scores: &Tensor, relevance: &Tensor, lists: &[u32]) -> Result<Self> {
        let s = as_vector(scores, "scores")?;
        let m = s.dim(0)?;
        let r = as_vector(relevance, "relevance")?;
        if r.dim(0)? != m {
            return Err(Error::InvalidArgument(format!(
                "{m} scores but {} relevance labels: give one label per item",
                r.dim(0)?
            )));
        }
        if m == 0 {
            return Err(Error::InvalidArgument(
                "no item to rank: m = 0 scores".into(),
            ));
        }
        let rel: Vec<f64> = r.detach().to_dtype(DType::F64)?.to_vec1()?;
        if let Some((i, v)) = rel
            .iter()
            .enumerate()
            .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
        {
            return Err(Error::InvalidArgument(format!(
                "relevance label {i} is {v}: labels must be finite numbers ≥ 0"
            )));
        }
        if lists.len() != m {
            return Err(Error::InvalidArgument(format!(
                "{} query ids for {m} items: give one query id per item",
                lists.len()
            )));
        }
        Ok(Self { scores: s, rel })
    }
}

impl QueryLoss for NdcgLoss {
    fn forward_lists(&self, scores: &Tensor, relevance: &Tensor, lists: &[u32]) -> Result<Tensor> {
        self.forward_impl(scores, relevance, lists)
    }
}
