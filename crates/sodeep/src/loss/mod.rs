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

mod bce;
mod diagonal;
mod grouping;
mod inputs;
pub mod ltr;
mod map;
pub mod ndcg;
mod query;
mod rank_sum;
mod recall;
mod reduction;
mod spearman;
mod vse_hinge;

pub use crate::metrics::Gain;
pub use bce::bce_with_logits;
pub use grouping::Grouping;
pub use ltr::{LtrConfig, LtrKind, LtrLoss};
pub use map::{MapConfig, MapLoss};
pub use ndcg::{NdcgConfig, NdcgLoss};
pub use query::QueryLoss;
pub use rank_sum::{RankSumConfig, RankSumLoss};
pub use recall::{RecallConfig, RecallLoss};
pub use reduction::Reduction;
pub use spearman::{AuxKind, AuxTerm, SpearmanConfig, SpearmanLoss};
pub use vse_hinge::VseHingeLoss;
