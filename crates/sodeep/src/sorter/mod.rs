//! Sorter architectures and loading sorters by name or path.
//!
//! Every learned sorter follows candle-nn's shape (a config struct, a constructor taking a
//! [`candle_nn::VarBuilder`], and `forward`). [`SorterNet`] dispatches over them; [`Sorter`] is a frozen
//! sorter ready for use: it validates its input and runs in evaluation mode.
//!
//! The handcrafted sorter: `rank_i = (1 + Σ_{j≠i} σ(λ (y_j − y_i))) / d`.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! let sorter = sodeep::Sorter::load("handcrafted:100")?;
//! let x = Tensor::new(&[[0.3f32, -1.0, 2.0]], &Device::Cpu)?;
//! let r = sorter.forward(&x)?.to_vec2::<f32>()?;
//! for (got, want) in r[0].iter().zip([2.0 / 3.0, 1.0, 1.0 / 3.0]) {
//!     assert!((got - want).abs() < 1e-3);
//! }
//! # Ok::<(), sodeep::Error>(())
//! ```

mod cnn;
mod frozen;
mod gru;
mod handcrafted;
mod lstm;
mod mlp;
mod net;
mod pairwise;
mod standardize;
mod wrappers;

pub use cnn::{CnnSorter, CnnSorterConfig, CNN_BLOCKS};
pub use frozen::Sorter;
pub use gru::{GruSorter, GruSorterConfig};
pub use handcrafted::{Handcrafted, DEFAULT_LAMBDA};
pub use lstm::{LstmSorter, LstmSorterConfig};
pub use mlp::{MlpSorter, MlpSorterConfig};
pub use net::{expected_names, init_sorter, parameter_count, read_loss, Net, SorterNet};
pub use pairwise::{PairwiseSorter, PairwiseSorterConfig, DEFAULT_MAX_SHARPNESS};
pub use standardize::standardize_rows;
pub use wrappers::Standardized;

pub use crate::card::{Arch, Head, SorterConfig};
