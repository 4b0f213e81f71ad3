//! # sodeep
//!
//! Differentiable ranking for [candle](https://github.com/huggingface/candle): rank losses
//! (Spearman, mAP, Recall@K) that train any candle model on rank-based metrics, through any
//! differentiable ranker — the learned sorters of *SoDeep: A Sorting Deep Net to Learn Ranking
//! Loss Surrogates* (Engilberge et al., CVPR 2019), or every published analytic relaxation (soft
//! rank, NeuralSort, SoftSort, Sinkhorn, sorting networks, blackbox).
//!
//! Train a model through a Spearman loss on soft ranks:
//!
//! ```
//! use candle_core::{Device, Module, Tensor, Var};
//! use candle_nn::{Linear, Optimizer, SGD};
//! use sodeep::{SpearmanConfig, SpearmanLoss};
//!
//! let dev = Device::Cpu;
//! let x = Tensor::new(&[[0.1f32, 1.0], [0.4, -0.5], [0.9, 0.2], [0.3, 0.7], [0.6, -1.0]], &dev)?;
//! let y = Tensor::new(&[0.1f32, 0.4, 0.9, 0.3, 0.6], &dev)?; // ordered like the first feature
//! let w = Var::new(&[[-1f32, 1.0]], &dev)?; // starts ranking by the second feature
//! let model = Linear::new(w.as_tensor().clone(), None);
//! let loss = SpearmanLoss::new(sodeep::spec::parse("softrank")?, SpearmanConfig::default());
//! let rho = |m: &Linear| -> candle_core::Result<f64> {
//!     let p = m.forward(&x)?.squeeze(1)?.to_vec1::<f32>()?;
//!     Ok(sodeep::metrics::spearman(&p, &y.to_vec1::<f32>()?))
//! };
//! let before = rho(&model)?;
//! let mut sgd = SGD::new(vec![w], 0.5)?;
//! for _ in 0..100 {
//!     sgd.backward_step(&loss.forward(&model.forward(&x)?.squeeze(1)?, &y)?)?;
//! }
//! assert!(rho(&model)? > before + 1.0, "Spearman {before} → {}", rho(&model)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Where things are:
//! - rankers: the [`Ranker`] trait (SoDeep convention: the largest score gets `1/n`), the
//!   analytic rankers in [`relax`], the learned sorters in [`sorter`] (shipped ones load by name
//!   through [`registry`]), and [`spec::parse`] for `NAME[:knob=value,…]` specs;
//! - [`soft_rank`] and [`soft_sort`]: torchsort's two functions, with torchsort's conventions;
//! - [`loss`]: rank losses for any candle model, through any ranker;
//! - [`rank`] and [`metrics`]: exact ranks and rank metrics, as pure functions;
//! - training sorters: [`synthetic`] data → [`train`] (with [`optim`]) → [`checkpoint`] folders,
//!   described by their [`card`] → [`eval`] → [`export`]; [`torch_import`] reads the reference
//!   implementation's checkpoints;
//! - [`kernels`]: the fused CPU ops behind the sorters, with their vector-instruction dispatch;
//!   [`host`] describes the machine for benchmarks.
//!
//! Experiments, datasets, benchmarks and reports live in the `sodeep-lab` crate beside this one.

#![warn(missing_docs)]

pub mod card;
pub mod checkpoint;
pub mod error;
#[cfg(feature = "train")]
pub mod eval;
#[cfg(feature = "train")]
pub mod export;
pub mod files;
#[cfg(doctest)]
mod guide;
pub mod host;
pub mod kernels;
pub mod loss;
pub mod memory;
pub mod metrics;
#[cfg(feature = "train")]
pub mod optim;
#[cfg(feature = "train")]
mod pickle_depth;
pub mod rank;
pub mod ranker;
pub mod registry;
pub mod relax;
pub mod sorter;
pub mod spec;
#[cfg(feature = "train")]
pub mod synthetic;
#[cfg(feature = "train")]
pub mod torch_import;
pub mod torchsort;
#[cfg(feature = "train")]
pub mod train;

pub use error::{Error, Result};
pub use loss::{NdcgConfig, NdcgLoss, QueryLoss, SpearmanConfig, SpearmanLoss};
pub use ranker::Ranker;
pub use sorter::{Arch, Sorter, SorterConfig};
pub use torchsort::{soft_rank, soft_sort};

/// Sets the number of CPU threads used by candle's kernels and by rayon.
///
/// Call it before any tensor work: candle reads the setting when its kernels first run.
pub fn set_threads(n: usize) {
    let n = n.max(1);
    // SAFETY-free in edition 2021; done before other threads read the environment.
    std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    std::env::set_var("CANDLE_NUM_THREADS", n.to_string());
    let _ = rayon_pool(n);
}

fn rayon_pool(n: usize) -> std::result::Result<(), String> {
    // candle's gemm calls use rayon's global pool when more than one thread is asked for.
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .map_err(|e| e.to_string())
}
