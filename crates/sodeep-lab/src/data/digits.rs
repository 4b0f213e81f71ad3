//! The UCI optical-recognition digits (8×8, 1797 images) shipped inside the `smartcore` crate.

use super::dataset::Matrix;
use crate::error::{Error, Result};

/// Side of a smartcore digit image, in pixels.
pub const SIDE: usize = 8;

/// The 1797 8×8 digits: a 1797 × 64 matrix of pixels in [0, 1] (row-major images) and each
/// image's digit 0..9.
pub fn smartcore_digits() -> Result<(Matrix, Vec<u8>)> {
    let ds = smartcore::dataset::digits::load_dataset();
    if ds.num_features != SIDE * SIDE {
        return Err(Error::Data(format!(
            "smartcore digits have {} pixels per image, expected {}",
            ds.num_features,
            SIDE * SIDE
        )));
    }
    // The UCI pixels are counts of set cells in a 4×4 block, so 16 is the largest value.
    let pixels = ds.data.iter().map(|&v| v / 16.0).collect();
    let x = Matrix::new(ds.num_samples, ds.num_features, pixels)?;
    let labels = ds
        .target
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            if (0.0..=9.0).contains(&t) && t.fract() == 0.0 {
                Ok(t as u8)
            } else {
                Err(Error::Data(format!(
                    "smartcore digit {i} has label {t}, expected an integer 0..9"
                )))
            }
        })
        .collect::<Result<Vec<u8>>>()?;
    if labels.len() != x.rows {
        return Err(Error::Data(format!(
            "smartcore digits: {} images but {} labels",
            x.rows,
            labels.len()
        )));
    }
    Ok((x, labels))
}
