//! The library's error type. Every message says what was wrong and, where possible, what to do.
//!
//! A `sodeep::Error` converts into candle's, so `?` works inside a candle `Module`:
//!
//! ```
//! use candle_core::{Device, Module, Tensor};
//! struct Ranks;
//! impl Module for Ranks {
//!     fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
//!         Ok(sodeep::soft_rank(x, 0.1)?) // sodeep::Error → candle_core::Error
//!     }
//! }
//! let bad = Tensor::new(&[[1f32, f32::NAN]], &Device::Cpu)?;
//! let e = Ranks.forward(&bad).unwrap_err().to_string();
//! assert!(e.contains("must be finite"), "{e}");
//! # Ok::<(), candle_core::Error>(())
//! ```

use std::path::PathBuf;

/// Errors raised by `sodeep`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Scores contain NaN or an infinity: no order is defined for them.
    #[error(
        "score {index} of vector {row} is {value}: scores must be finite numbers (no NaN or Inf)"
    )]
    NonFinite {
        /// Row of the offending value.
        row: usize,
        /// Position within the row.
        index: usize,
        /// The value itself.
        value: f64,
    },
    /// An empty batch or an empty vector was given.
    #[error("empty input: {0}")]
    Empty(String),
    /// A vector's length differs from the sorter's fixed length.
    #[error("vector {row} has length {got}, but this sorter ranks vectors of length d = {expected}; use a sorter trained for d = {got} or the handcrafted sorter, which takes any length")]
    LengthMismatch {
        /// Row of the offending vector.
        row: usize,
        /// Its length.
        got: usize,
        /// The sorter's d.
        expected: usize,
    },
    /// An argument is out of its valid range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A sorter name that is neither shipped nor a folder.
    #[error("unknown sorter '{name}': it is not a folder holding sorter.safetensors and sorter.json, nor a shipped sorter (known: {known})")]
    UnknownSorter {
        /// The name given.
        name: String,
        /// The shipped names, comma-separated, and `handcrafted[:LAMBDA]`.
        known: String,
    },
    /// A weights file or card that cannot be used.
    #[error("cannot load sorter from {path}: {reason}")]
    BadWeights {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A resume asked of a folder without a checkpoint.
    #[error("nothing to resume: {0} holds no checkpoint; start a new training run there instead")]
    NoCheckpoint(PathBuf),
    /// `--resume` with a setting that differs from the checkpoint's: a resumed run takes every
    /// setting from its checkpoint.
    #[error(
        "{flag} {given} differs from the checkpoint's {stored}: a resumed run keeps every setting \
         of its checkpoint, except --steps, --save-every, --threads and --device, and --lr, \
         --lr-halve-every and --batch, whose changes the card records; drop {flag}, or start a \
         new run in another --out"
    )]
    ResumeMismatch {
        /// The command-line flag of the setting.
        flag: &'static str,
        /// The value given.
        given: String,
        /// The checkpoint's value.
        stored: String,
    },
    /// File-system failure, with the path concerned.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("cannot write", "cannot read", ...).
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An error inside candle (shape mismatch, dtype, ...).
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An I/O error with the action and path it concerns.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Lets `?` pass a `sodeep` error out of code that returns candle's `Result`, such as a
/// `candle_nn::Module`'s `forward`. Candle's own errors come back unwrapped.
impl From<Error> for candle_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Candle(inner) => inner,
            other => candle_core::Error::wrap(other),
        }
    }
}

/// Checks that every score is finite; `rows` are the vectors of a batch.
pub fn check_finite<T: Copy + Into<f64>>(data: &[T], row_len: usize) -> Result<()> {
    let row_len = row_len.max(1);
    for (i, &v) in data.iter().enumerate() {
        let v: f64 = v.into();
        if !v.is_finite() {
            return Err(Error::NonFinite {
                row: i / row_len,
                index: i % row_len,
                value: v,
            });
        }
    }
    Ok(())
}
