//! # sodeep
//!
//! Learned differentiable ranking: the sorters of *SoDeep: A Sorting Deep Net to Learn Ranking
//! Loss Surrogates* (Engilberge et al., CVPR 2019) on [candle](https://github.com/huggingface/candle).
//!
//! Data flows through the modules in this order:
//! [`synthetic`] score vectors → [`sorter`] networks → [`train`] (with [`optim`]) →
//! [`checkpoint`] folders → [`eval`] and [`report`]. A frozen sorter is a [`ranker::Ranker`];
//! [`loss`] turns any ranker into Spearman, mAP and Recall losses for a model, and
//! [`experiment`] compares them with the usual losses on real [`data`] (built-in tables and
//! digits, fetched MNIST, the user's CSV files). [`rank`] and [`metrics`] hold the exact rank
//! math; [`registry`] finds the shipped sorters; [`torch_import`] converts PyTorch checkpoints.
//!
//! ```no_run
//! use candle_core::{Device, Tensor};
//! let sorter = sodeep::Sorter::load("handcrafted:10")?;
//! let x = Tensor::new(&[[0.3f32, -1.0, 2.0]], &Device::Cpu)?;
//! let ranks = sorter.forward(&x)?; // ≈ [[0.67, 1.0, 0.33]]
//! # Ok::<(), sodeep::Error>(())
//! ```

#![warn(missing_docs)]

pub mod card;
pub mod checkpoint;
pub mod error;
pub mod eval;
pub mod export;
pub mod host;
pub mod kernels;
pub mod loss;
pub mod metrics;
pub mod optim;
pub mod rank;
pub mod ranker;
pub mod registry;
pub mod relax;
pub mod sorter;
pub mod spec;
pub mod synthetic;
pub mod torch_import;
pub mod torchsort;
pub mod train;

pub use error::{Error, Result};
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
