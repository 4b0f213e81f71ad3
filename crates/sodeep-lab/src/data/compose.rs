//! Tasks built from single-digit images: multi-label strips of digits, and image halves as two
//! modalities.
//!
//! To keep train and test digits apart, split the source images first and call these functions
//! on each part: an example only ever contains images of the subset it was built from.

use rand::seq::{index, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::dataset::{Matrix, MultiLabel, Paired};
use crate::error::{Error, Result};

/// Slots side by side in a [`digits_multilabel`] example.
pub const SLOTS: usize = 4;
/// Digit classes, and so label columns of [`digits_multilabel`].
pub const CLASSES: usize = 10;

/// `n` examples, each a strip of [`SLOTS`] side×side slots side by side (features: the
/// side × 4·side strip, row-major), 3 or 4 of them holding distinct source images in random
/// slots and the rest zeros; the labels are the digit classes present.
///
/// `images` is one side×side row-major image per row and `labels` their digits 0..9. The same
/// `seed` gives the same examples.
pub fn digits_multilabel(
    images: &Matrix,
    labels: &[u8],
    side: usize,
    n: usize,
    seed: u64,
) -> Result<MultiLabel> {
    if side == 0 || side.checked_mul(side) != Some(images.cols) {
        return Err(Error::InvalidArgument(format!(
            "images have {} pixels per row, but side = {side} needs side × side",
            images.cols
        )));
    }
    if labels.len() != images.rows {
        return Err(Error::InvalidArgument(format!(
            "{} images but {} labels",
            images.rows,
            labels.len()
        )));
    }
    if let Some((i, &l)) = labels
        .iter()
        .enumerate()
        .find(|(_, &l)| usize::from(l) >= CLASSES)
    {
        return Err(Error::InvalidArgument(format!(
            "label {i} is {l}, not a digit 0..9"
        )));
    }
    if images.rows < SLOTS {
        return Err(Error::InvalidArgument(format!(
            "{} source images: at least {SLOTS} are needed to fill {SLOTS} slots with distinct images",
            images.rows
        )));
    }
    if n == 0 {
        return Err(Error::InvalidArgument(
            "n = 0 examples asked for".to_string(),
        ));
    }

    let width = SLOTS * side;
    let features = side * width;
    let total = n.checked_mul(features).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "n = {n} examples of {features} features are too many"
        ))
    })?;
    let mut x = vec![0.0f32; total];
    let mut y = vec![0.0f32; n * CLASSES];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut slots: [usize; SLOTS] = std::array::from_fn(|s| s);
    for e in 0..n {
        let used = rng.random_range(SLOTS - 1..=SLOTS);
        let sources = index::sample(&mut rng, images.rows, used);
        slots.shuffle(&mut rng);
        let strip = &mut x[e * features..(e + 1) * features];
        for (src, &slot) in sources.iter().zip(&slots) {
            let img = images.row(src);
            for r in 0..side {
                let start = r * width + slot * side;
                strip[start..start + side].copy_from_slice(&img[r * side..(r + 1) * side]);
            }
            y[e * CLASSES + usize::from(labels[src])] = 1.0;
        }
    }
    Ok(MultiLabel {
        name: format!("digits-multilabel-{side}x{width}"),
        x: Matrix::new(n, features, x)?,
        labels: Matrix::new(n, CLASSES, y)?,
        label_names: (0..CLASSES).map(|c| c.to_string()).collect(),
    })
}

/// Splits 28×28 MNIST images into two modalities: `a` = the top 14 pixel rows, `b` = the
/// bottom 14 (392 values each).
pub fn mnist_halves(images: &Matrix) -> Result<Paired> {
    let side = super::mnist::SIDE;
    if images.cols != side * side {
        return Err(Error::InvalidArgument(format!(
            "mnist_halves needs 28×28 = 784 pixels per row, got {}",
            images.cols
        )));
    }
    let half = images.cols / 2;
    let mut a = Vec::with_capacity(images.rows * half);
    let mut b = Vec::with_capacity(images.rows * half);
    for r in 0..images.rows {
        let (top, bottom) = images.row(r).split_at(half);
        a.extend_from_slice(top);
        b.extend_from_slice(bottom);
    }
    Ok(Paired {
        name: "mnist-halves".to_string(),
        a: Matrix::new(images.rows, half, a)?,
        b: Matrix::new(images.rows, half, b)?,
    })
}
