//! The learning-to-rank baselines practitioners compare rank losses with, computed per query on
//! scores directly (no ranker). For a query q of `n_q` items with scores s and labels rel:
//!
//! | kind | `L_q` |
//! |---|---|
//! | `mse` | `mean_i (s_i − rel_i)²` |
//! | `ranknet` | `Σ_{(i,j): rel_i > rel_j} log(1 + exp(−σ(s_i − s_j)))` / the number of such pairs |
//! | `lambdarank` | `Σ_{(i,j): rel_i > rel_j} |ΔNDCG_ij| · log(1 + exp(−σ(s_i − s_j)))` |
//! | `listnet` | `−Σ_i softmax(rel)_i · log_softmax(s)_i` |
//! | `listmle` | `Σ_k [log Σ_{j≥k} exp(s_{π_j}) − s_{π_k}] / n_q`, π by relevance descending |
//! | `approxndcg` | `1 − Σ_i G(rel_i) · D(π̂_i) / IDCG_q`, `π̂_i = 1 + Σ_{j≠i} σ((s_j − s_i)/T)` |
//!
//! where `|ΔNDCG_ij| = |G(rel_i) − G(rel_j)| · |D(p_i) − D(p_j)| / IDCG_q` with p the 1-based
//! positions in the current score order (detached, ties by item index), `D(p) = 1/log2(1 + p)`
//! (0 beyond k with a cutoff), G the [`Gain`]; ListMLE breaks ties among equal labels by a
//! seeded shuffle; ApproxNDCG applies the cutoff ramp of [`NdcgLoss`](super::NdcgLoss).
//!
//! Layout: the items are laid out one query per row of a `G × L` grid by
//! [`Grouping`] (L the longest query, shorter ones padded with copies); every
//! term is masked to the real items of one query, so pads never change a value.
//!
//! Reduction: a query carries a signal when its term is defined: every query for mse, listnet
//! and listmle, a query with at least one pair `rel_i > rel_j` for ranknet and lambdarank, a
//! query with a relevant item for approxndcg. [`Reduction::Mean`] averages `L_q` over those,
//! `Sum` adds them, `None` gives one value per query id in increasing id order (0 for a query
//! without a signal).
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use sodeep::loss::{LtrConfig, LtrKind, LtrLoss, QueryLoss};
//! let dev = &Device::Cpu;
//! let rel = Tensor::new(&[2f32, 1.0, 0.0], dev)?;
//! let tied = Tensor::new(&[0f32, 0.0, 0.0], dev)?;
//! // all scores equal: each of the 3 ordered pairs costs log(1 + e⁰) = ln 2
//! let ranknet = LtrLoss::new(LtrKind::RankNet, LtrConfig::default());
//! let v: f32 = ranknet.forward(&tied, &rel)?.to_scalar()?;
//! assert!((v - std::f32::consts::LN_2).abs() < 1e-6);
//! // ListNet at equal scores: the cross-entropy to the uniform distribution, ln 3
//! let listnet = LtrLoss::new(LtrKind::from_name("listnet")?, LtrConfig::default());
//! let v: f32 = listnet.forward(&tied, &rel)?.to_scalar()?;
//! assert!((v - 3f32.ln()).abs() < 1e-6);
//! # Ok::<(), sodeep::Error>(())
//! ```

use std::sync::Mutex;

use candle_core::Tensor;
use rand_chacha::ChaCha8Rng;

use super::grouping::{grouping, stream};
use super::ndcg::{check_k, Queries};
use super::query::QueryLoss;
use super::reduction::Reduction;
use crate::error::{Error, Result};
use crate::metrics::Gain;

mod approx;
mod layout;
mod listwise;
mod pairwise;
mod pointwise;

use layout::{Layout, PerQuery};

/// Which baseline [`LtrLoss`] computes (formulas in the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LtrKind {
    /// Pointwise regression of the labels.
    Mse,
    /// Pairwise logistic loss (Burges et al. 2005).
    RankNet,
    /// RankNet's pairs weighted by the NDCG change of swapping them (Burges 2010).
    LambdaRank,
    /// Top-one cross-entropy of the score and label distributions (Cao et al. 2007).
    ListNet,
    /// Plackett–Luce likelihood of the label order (Xia et al. 2008).
    ListMle,
    /// NDCG with positions approximated by sigmoids (Qin et al. 2010).
    ApproxNdcg,
}

impl LtrKind {
    /// Every kind, in the order of the module docs.
    pub const ALL: [LtrKind; 6] = [
        Self::Mse,
        Self::RankNet,
        Self::LambdaRank,
        Self::ListNet,
        Self::ListMle,
        Self::ApproxNdcg,
    ];

    /// `mse`, `ranknet`, `lambdarank`, `listnet`, `listmle` or `approxndcg`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mse => "mse",
            Self::RankNet => "ranknet",
            Self::LambdaRank => "lambdarank",
            Self::ListNet => "listnet",
            Self::ListMle => "listmle",
            Self::ApproxNdcg => "approxndcg",
        }
    }

    /// The kind called `name` (see [`LtrKind::name`]).
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|k| k.name()).collect();
                Error::InvalidArgument(format!(
                    "unknown learning-to-rank loss '{name}': use one of {}",
                    known.join(", ")
                ))
            })
    }
}

/// Settings of [`LtrLoss`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LtrConfig {
    /// The gain of a relevance label, for lambdarank and approxndcg (exponential by default).
    pub gain: Gain,
    /// Top-k cutoff of the NDCG that lambdarank and approxndcg target (`None`: whole query).
    pub k: Option<usize>,
    /// Score scale σ of ranknet and lambdarank (default 1; finite, > 0).
    pub sigma: f64,
    /// Temperature T of approxndcg's sigmoids (default 1; finite, > 0).
    pub temperature: f64,
    /// Mean over the queries with a signal (default), sum, or none (one value per query id).
    pub reduction: Reduction,
    /// Seed of the pads and of listmle's tie shuffles.
    pub seed: u64,
}

impl Default for LtrConfig {
    fn default() -> Self {
        Self {
            gain: Gain::Exponential,
            k: None,
            sigma: 1.0,
            temperature: 1.0,
            reduction: Reduction::Mean,
            seed: 0,
        }
    }
}

/// A learning-to-rank baseline loss on scores (see the [module docs](self)).
pub struct LtrLoss {
    kind: LtrKind,
    config: LtrConfig,
    rng: Mutex<ChaCha8Rng>,
}

impl LtrLoss {
    /// The loss `kind` with `config`.
    pub fn new(kind: LtrKind, config: LtrConfig) -> Self {
        Self {
            kind,
            rng: stream(config.seed),
            config,
        }
    }

    /// Which baseline this is.
    pub fn kind(&self) -> LtrKind {
        self.kind
    }

    fn check(&self) -> Result<Option<usize>> {
        for (what, v) in [
            ("sigma", self.config.sigma),
            ("temperature", self.config.temperature),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::InvalidArgument(format!(
                    "{}: {what} = {v}; it must be a finite number > 0 (default 1)",
                    self.kind.name()
                )));
            }
        }
        check_k(self.config.k)
    }

    fn forward_impl(&self, scores: &Tensor, relevance: &Tensor, lists: &[u32]) -> Result<Tensor> {
        let k = self.check()?;
        let batch = Queries::new(scores, relevance, lists)?;
        if matches!(self.kind, LtrKind::LambdaRank | LtrKind::ApproxNdcg) {
            self.config.gain.check_labels(&batch.rel)?;
        }
        // with no fixed length, L is the longest query: one group per query, none cut
        let g = grouping(&self.rng, batch.rel.len(), Some(lists), None)?;
        let layout = Layout::new(&batch, &g)?;
        let c = &self.config;
        let PerQuery { values, signal } = match self.kind {
            LtrKind::Mse => pointwise::mse(&layout)?,
            LtrKind::RankNet => pairwise::pairwise(&layout, c.sigma, None)?,
            LtrKind::LambdaRank => pairwise::pairwise(&layout, c.sigma, Some((c.gain, k)))?,
            LtrKind::ListNet => listwise::listnet(&layout)?,
            LtrKind::ListMle => {
                let mut rng = self.rng.lock().expect("loss rng lock");
                listwise::listmle(&layout, &mut rng)?
            }
            LtrKind::ApproxNdcg => approx::approx_ndcg(&layout, c.temperature, c.gain, k)?,
        };
        let weights: Vec<f64> = signal.iter().map(|&h| f64::from(u8::from(h))).collect();
        let weights = layout.constant(weights, layout.groups)?;
        c.reduction.apply(&values, &weights)
    }
}

impl QueryLoss for LtrLoss {
    fn forward_lists(&self, scores: &Tensor, relevance: &Tensor, lists: &[u32]) -> Result<Tensor> {
        self.forward_impl(scores, relevance, lists)
    }
}
