//! Sorter architectures and loading sorters by name or path.
//!
//! Every learned sorter follows candle-nn's shape (a config struct, a constructor taking a
//! [`VarBuilder`], and `forward`). [`SorterNet`] dispatches over them; [`Sorter`] is a frozen
//! sorter ready for use: it validates its input and runs in evaluation mode.

mod cnn;
mod frozen;
mod gru;
mod handcrafted;
mod lstm;
mod mlp;
mod net;
mod wrappers;

pub use cnn::{CnnSorter, CnnSorterConfig, CNN_BLOCKS};
pub use frozen::Sorter;
pub use gru::{GruSorter, GruSorterConfig};
pub use handcrafted::{Handcrafted, DEFAULT_LAMBDA};
pub use lstm::{LstmSorter, LstmSorterConfig};
pub use mlp::{MlpSorter, MlpSorterConfig};
pub use net::{init_sorter, parameter_count, standardize_rows, Net, SorterNet};
pub use wrappers::{FineTuned, Standardized};

pub use crate::card::{Arch, Head, SorterConfig};
