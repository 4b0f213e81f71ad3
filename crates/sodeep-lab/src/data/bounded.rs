//! Bounded reading of input text: no line longer than [`MAX_LINE_BYTES`], and no more input
//! than the memory budget of [`sodeep::memory`] allows for what it becomes once parsed.
//!
//! A reader says what its input costs once parsed ([`Cost`]): bytes of memory per byte read
//! (4-byte values from cells of at least 2 bytes give 2) and per line (the row's own
//! bookkeeping). A regular file's size times the first is checked before its first byte is
//! read; every input is checked again as it streams, each time its estimate has grown by a
//! quarter (at least 1 MiB, at most [`CHECK_EVERY`]), so that neither a pipe, nor a device such
//! as `/dev/zero`, nor a file of many tiny lines outgrows the budget by more than that step.
//! A line beyond [`MAX_LINE_BYTES`] stops the read. Errors name the file and the line
//! ([`Error::InputBound`]).
//!
//! ```
//! use std::io::Read;
//! use sodeep_lab::data::bounded::{read_error, Bounded, Cost, MAX_LINE_BYTES};
//!
//! let cost = Cost { per_byte: 2, per_line: 8 };
//! let mut text = String::new();
//! Bounded::new(&b"1,2\n3,4\n"[..], "small.csv", cost).read_to_string(&mut text).unwrap();
//! assert_eq!(text, "1,2\n3,4\n");
//!
//! // an endless line (here: one byte past the bound, after a first short line)
//! let long = [b"ok\n".to_vec(), vec![b'0'; MAX_LINE_BYTES + 1]].concat();
//! let e = Bounded::new(&long[..], "zero", cost).read_to_end(&mut Vec::new()).unwrap_err();
//! let e = read_error("zero".as_ref(), e).to_string();
//! assert!(e.starts_with("zero line 2:") && e.contains("16 MiB"), "{e}");
//! ```

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The longest line any reader accepts, in bytes (without its line break). Real rows are far
/// shorter (a LETOR row of 136 features is about 2 KB; a CSV header of a million names about
/// 8 MB); a longer line is a binary or foreign file, or a stream without line breaks.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// The largest growth of the estimated memory between two checks against the budget.
pub const CHECK_EVERY: u64 = 64 << 20;

/// The smallest growth of the estimated memory between two checks against the budget.
const MIN_STEP: u64 = 1 << 20;

/// What a reader's input costs in memory once parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    /// Bytes of memory per byte read.
    pub per_byte: u64,
    /// Bytes of memory per line read, beside its bytes' share (a row's own vector, a query
    /// name).
    pub per_line: u64,
}

impl Cost {
    fn of(self, bytes: u64, lines: u64) -> u64 {
        bytes
            .saturating_mul(self.per_byte)
            .saturating_add(lines.saturating_mul(self.per_line))
    }
}

/// Why a [`Bounded`] reader stopped: carried inside the [`io::Error`] it returns, and turned
/// into [`Error::InputBound`] by [`read_error`].
#[derive(Debug, Clone)]
pub struct Exceeded {
    /// The 1-based line being read.
    pub line: usize,
    /// What is wrong and what to do.
    pub reason: String,
}

impl std::fmt::Display for Exceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for Exceeded {}

/// A reader that counts lines and bytes as they pass, and fails once a line exceeds
/// [`MAX_LINE_BYTES`] or the bytes read exceed the memory budget. After a failure every read
/// fails the same way.
pub struct Bounded<R> {
    inner: R,
    source: PathBuf,
    cost: Cost,
    /// The 1-based line that the next byte belongs to.
    line: usize,
    /// Bytes of that line seen so far.
    line_len: usize,
    total: u64,
    /// The estimate at which the budget is checked next.
    next_check: u64,
    failed: Option<Exceeded>,
}

impl<R: Read> Bounded<R> {
    /// Wraps `inner`, read from `source` (a path, or a name such as `stdin` for errors), whose
    /// input costs `cost` once parsed.
    pub fn new(inner: R, source: impl Into<PathBuf>, cost: Cost) -> Self {
        Self {
            inner,
            source: source.into(),
            cost,
            line: 1,
            line_len: 0,
            total: 0,
            next_check: MIN_STEP,
            failed: None,
        }
    }

    fn fail(&mut self, reason: String) -> io::Error {
        let e = Exceeded {
            line: self.line,
            reason,
        };
        self.failed = Some(e.clone());
        io::Error::other(e)
    }

    fn line_too_long(&mut self) -> io::Error {
        self.fail(format!(
            "the line is longer than {} MiB, the most a line may hold; a text file of rows, \
             one per line, is expected (a binary file, or a stream without line breaks such \
             as /dev/zero, never ends its line)",
            MAX_LINE_BYTES >> 20
        ))
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = &self.failed {
            return Err(io::Error::other(e.clone()));
        }
        let n = self.inner.read(buf)?;
        let mut start = 0;
        for (i, _) in buf[..n].iter().enumerate().filter(|(_, &b)| b == b'\n') {
            self.line_len = self.line_len.saturating_add(i - start);
            if self.line_len > MAX_LINE_BYTES {
                return Err(self.line_too_long());
            }
            self.line += 1;
            self.line_len = 0;
            start = i + 1;
        }
        self.line_len = self.line_len.saturating_add(n - start);
        if self.line_len > MAX_LINE_BYTES {
            return Err(self.line_too_long());
        }
        self.total = self.total.saturating_add(n as u64);
        let estimate = self.cost.of(self.total, self.line as u64 - 1);
        if estimate >= self.next_check {
            // steps of a quarter keep the overshoot small; the bounds keep checks rare
            let step = (estimate / 4).clamp(MIN_STEP, CHECK_EVERY);
            self.next_check = estimate.saturating_add(step);
            let what = format!(
                "reading {} ({} bytes in {} lines so far)",
                self.source.display(),
                self.total,
                self.line - 1
            );
            if let Err(e) = sodeep::memory::check(&what, estimate) {
                return Err(self.fail(e.to_string()));
            }
        }
        Ok(n)
    }
}

/// Opens `path` for bounded reading; a regular file's size is checked against the memory
/// budget first, at `cost.per_byte` bytes of memory per byte of file (its lines are counted as
/// it streams).
pub fn open(path: &Path, cost: Cost) -> Result<Bounded<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("cannot read", path, e))?;
    let meta = file
        .metadata()
        .map_err(|e| Error::io("cannot read", path, e))?;
    if meta.is_file() {
        sodeep::memory::check(
            &format!(
                "reading {} ({} bytes, about {} bytes in memory per byte of file)",
                path.display(),
                meta.len(),
                cost.per_byte
            ),
            cost.of(meta.len(), 0),
        )?;
    }
    Ok(Bounded::new(file, path, cost))
}

/// The error of a failed read of `path`: [`Error::InputBound`] when a [`Bounded`] reader
/// stopped it, else the I/O error.
pub fn read_error(path: &Path, e: io::Error) -> Error {
    match exceeded(&e) {
        Some(x) => Error::InputBound {
            path: path.to_path_buf(),
            line: x.line,
            reason: x.reason.clone(),
        },
        None => Error::io("cannot read", path, e),
    }
}

/// The bound that `e` reports, if a [`Bounded`] reader raised it.
pub fn exceeded(e: &io::Error) -> Option<&Exceeded> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Exceeded>())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: Cost = Cost {
        per_byte: 1,
        per_line: 0,
    };

    #[test]
    fn lines_are_counted_across_reads_and_bounded_exactly() {
        // a line of exactly the bound passes; one byte more fails on its own line
        let ok = [vec![b'1'; MAX_LINE_BYTES], b"\n2\n".to_vec()].concat();
        let mut out = Vec::new();
        Bounded::new(&ok[..], "f", ONE)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len(), ok.len());
        let bad = [b"a\nb\n".to_vec(), vec![b'1'; MAX_LINE_BYTES + 1]].concat();
        let mut r = Bounded::new(&bad[..], "f", ONE);
        let e = r.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(exceeded(&e).map(|x| x.line), Some(3));
        // and it stays failed
        assert!(r.read(&mut [0; 8]).is_err());
    }
}
