//! LightGBM's `LGBMRanker` beside the ltr task's losses, run by the user's Python through
//! `bench/ltr_lightgbm.py` (embedded here, so an installed binary can run it too).
//!
//! The split travels as CSV files in a private temporary folder: the training part with its
//! group sizes, and the test part; the script writes one score per test row. LightGBM is a
//! reference only: nothing in the library or the tests needs it.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::data::Matrix;
use crate::error::{Error, Result};

/// The reference script, as shipped in `bench/ltr_lightgbm.py`.
pub const SCRIPT: &str = include_str!("../../../../bench/ltr_lightgbm.py");

/// The script's exit status when lightgbm (or numpy) is not importable.
const MISSING_PACKAGE: i32 = 3;

/// One part of a split: features, labels and the rows of each query.
#[derive(Debug, Clone, Copy)]
pub struct Split<'a> {
    /// `rows × features`.
    pub x: &'a Matrix,
    /// The label of every row.
    pub relevance: &'a [f32],
    /// The rows of each query.
    pub queries: &'a [Vec<usize>],
}

/// Writes `part` as CSV rows `label,query,features...`, query after query, and returns the
/// order its rows were written in.
fn write_part(path: &Path, part: Split<'_>) -> Result<Vec<usize>> {
    let mut text = String::new();
    let mut order = Vec::with_capacity(part.x.rows);
    for (q, rows) in part.queries.iter().enumerate() {
        for &r in rows {
            let _ = write!(text, "{},{q}", part.relevance[r]);
            for v in part.x.row(r) {
                let _ = write!(text, ",{v}");
            }
            text.push('\n');
            order.push(r);
        }
    }
    fs::write(path, text).map_err(|e| Error::io("cannot write", path, e))?;
    Ok(order)
}

/// Trains LightGBM's ranker on `train` with `seed` and returns its scores of every `test` row
/// (in `test`'s row order). An error says what to install when Python or lightgbm is missing.
pub fn rank(python: &Path, train: Split<'_>, test: Split<'_>, seed: u64) -> Result<Vec<f32>> {
    // a private folder, removed when `folder` is dropped
    let folder = tempfile::Builder::new()
        .prefix("sodeep-lightgbm-")
        .tempdir()
        .map_err(|e| {
            Error::io(
                "cannot create a temporary folder in",
                std::env::temp_dir(),
                e,
            )
        })?;
    let dir = folder.path();
    write_part(&dir.join("train.csv"), train)?;
    let sizes: String = train
        .queries
        .iter()
        .map(|rows| format!("{}\n", rows.len()))
        .collect();
    let query_file = dir.join("train.query");
    fs::write(&query_file, sizes).map_err(|e| Error::io("cannot write", &query_file, e))?;
    let order = write_part(&dir.join("test.csv"), test)?;

    let fail =
        |reason: String| Error::Reference(format!("LightGBM via {}: {reason}", python.display()));
    let mut child = Command::new(python)
        .arg("-")
        .arg(dir)
        .arg(seed.to_string())
        .arg(rayon::current_num_threads().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            fail(format!(
                "cannot start it ({e}); pass --python with a Python 3 that has lightgbm"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin
            .write_all(SCRIPT.as_bytes())
            .map_err(|e| fail(format!("cannot pass the script: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("did not finish: {e}")))?;
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if out.status.code() == Some(MISSING_PACKAGE) {
        return Err(fail(format!("lightgbm is not installed ({stderr})")));
    }
    if !out.status.success() {
        return Err(fail(format!("failed ({}): {stderr}", out.status)));
    }
    let pred_path = dir.join("pred.txt");
    let text =
        fs::read_to_string(&pred_path).map_err(|e| Error::io("cannot read", &pred_path, e))?;
    let written: Vec<f32> = text
        .lines()
        .map(|l| l.trim().parse::<f32>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| fail(format!("wrote a score that is not a number: {e}")))?;
    if written.len() != order.len() || written.iter().any(|v| !v.is_finite()) {
        return Err(fail(format!(
            "wrote {} scores for {} test rows, or a score that is not finite",
            written.len(),
            order.len()
        )));
    }
    let mut scores = vec![0f32; test.x.rows];
    for (&row, &s) in order.iter().zip(&written) {
        scores[row] = s;
    }
    Ok(scores)
}
