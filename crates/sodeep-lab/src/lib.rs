//! # sodeep-lab
//!
//! The experiments, datasets, benchmarks and reports built on the [`sodeep`] library: what the
//! `sodeep` command line runs, kept out of the library so that a model that only needs a rank
//! loss does not pull in plotting, dataset or CSV crates.
//!
//! - [`data`]: real datasets (compiled-in tables and digits, fetched MNIST and MSLR sample, the
//!   user's CSV and LETOR files);
//! - [`experiment`]: rank losses against the usual losses on one model, split and budget;
//! - [`mod@bench`]: the Rust sorters and every ranker side by side with their PyTorch references;
//! - [`reproduce`]: the paper's tables and figures into one report, drawn by [`report`];
//! - [`jobs`]: running whole jobs side by side on the cores;
//! - [`commands`]: what each `sodeep` subcommand does once its arguments are parsed.

#![warn(missing_docs)]

pub mod bench;
pub mod commands;
pub mod data;
pub mod error;
pub mod experiment;
pub mod jobs;
pub mod report;
pub mod reproduce;

pub use error::{Error, Result};
