//! The library's error type. Every message says what was wrong and, where possible, what to do.

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
    /// `--resume` without a checkpoint to resume from.
    #[error(
        "nothing to resume: {0} holds no checkpoint (run without --resume to start a new training)"
    )]
    NoCheckpoint(PathBuf),
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
    /// Malformed JSON in a card or data file.
    #[error("cannot parse {path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// A CSV line that cannot be read as numbers.
    #[error("line {line}: {reason}")]
    Parse {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A CSV cell that cannot be used, or a row of the wrong length.
    #[error("{path}, data row {row} (line {line}), column '{column}': {reason}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based data row (the header is not counted).
        row: usize,
        /// 1-based line of the file (the header is line 1).
        line: usize,
        /// The column's header name.
        column: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A column asked for by name that the file's header lacks.
    #[error("{path} has no column '{column}' (its columns: {known})")]
    UnknownColumn {
        /// The file.
        path: PathBuf,
        /// The name asked for.
        column: String,
        /// The header's names, comma-separated.
        known: String,
    },
    /// A dataset that cannot be used as a whole (too few rows, mismatched sizes, ...).
    #[error("dataset error: {0}")]
    Data(String),
    /// The data fetch script failed; nothing was loaded.
    #[error("cannot fetch data into {dir}: {reason}")]
    Fetch {
        /// The data folder the script was filling.
        dir: PathBuf,
        /// The script's error output and what to install or do instead.
        reason: String,
    },
    /// An error inside candle (shape mismatch, dtype, ...).
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// Plot rendering failed.
    #[error("cannot draw plot {path}: {reason}")]
    Plot {
        /// The output file.
        path: PathBuf,
        /// The backend's message.
        reason: String,
    },
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
