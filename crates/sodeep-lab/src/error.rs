//! The lab's error type: the library's errors, and those of files, datasets and plots.

use std::path::PathBuf;

/// Errors raised by `sodeep-lab`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error of the `sodeep` library.
    #[error(transparent)]
    Sodeep(#[from] sodeep::Error),
    /// An error inside candle (shape mismatch, dtype, ...).
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// An argument is out of its valid range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An empty dataset, batch or file.
    #[error("empty input: {0}")]
    Empty(String),
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
    /// Malformed JSON in a results or data file.
    #[error("cannot parse {path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// A line of numbers that cannot be read.
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
    /// A line of a LETOR/SVMlight data file, or of its query file, that cannot be read.
    #[error("{path} line {line}: token '{token}': {reason}")]
    Letor {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The offending token, as written (empty when the line as a whole is at fault).
        token: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A LETOR/SVMlight file that cannot be used as a whole (no data row, rows and query file
    /// that disagree, a missing or unwanted query file).
    #[error("{path}: {reason}")]
    LetorFile {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// Input beyond the bounds of [`crate::data::bounded`]: a line longer than its maximum, or
    /// more input than the memory budget allows.
    #[error("{path} line {line}: {reason}")]
    InputBound {
        /// The file (or `stdin`).
        path: PathBuf,
        /// 1-based line being read when the bound was reached.
        line: usize,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A dataset that cannot be used as a whole (too few rows, mismatched sizes, ...).
    #[error("dataset error: {0}")]
    Data(String),
    /// An external reference (LightGBM, PyTorch) could not run; the results say it was skipped.
    #[error("reference skipped: {0}")]
    Reference(String),
    /// The data fetch script failed; nothing was loaded.
    #[error("cannot fetch data into {dir}: {reason}")]
    Fetch {
        /// The data folder the script was filling.
        dir: PathBuf,
        /// The script's error output and what to install or do instead.
        reason: String,
    },
    /// A value that cannot be written as JSON.
    #[error("cannot write JSON: {0}")]
    Serialize(serde_json::Error),
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
