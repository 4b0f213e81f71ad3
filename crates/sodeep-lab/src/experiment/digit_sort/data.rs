//! The numbers of the benchmark: four MNIST digit images side by side, the disjoint train and
//! test pools they are drawn from, and the metrics of a predicted order.

use rand::Rng;

use crate::data::{mnist, Matrix};
use crate::error::{Error, Result};

/// Digits per number.
pub const DIGITS: usize = 4;

/// Side of one digit image (MNIST).
pub const SIDE: usize = mnist::SIDE;

/// Width of a composed number image: four digits side by side.
pub const WIDTH: usize = DIGITS * SIDE;

/// The value of four digits read left to right: `1000·d₀ + 100·d₁ + 10·d₂ + d₃`.
pub fn number_value(digits: [u8; DIGITS]) -> u32 {
    digits.iter().fold(0, |acc, &d| acc * 10 + u32::from(d))
}

/// The 28 × 112 image (row-major) of the number made of the MNIST images `rows` of `images`,
/// left to right: slot k covers columns `28k .. 28k + 27` of every pixel row.
pub fn compose_number(images: &Matrix, rows: [usize; DIGITS]) -> Result<Vec<f32>> {
    if images.cols != SIDE * SIDE {
        return Err(Error::InvalidArgument(format!(
            "digit images must be {SIDE}×{SIDE} = {} pixels per row, got {}",
            SIDE * SIDE,
            images.cols
        )));
    }
    let mut out = vec![0f32; SIDE * WIDTH];
    for (slot, &r) in rows.iter().enumerate() {
        let img = images.get_row(r).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "digit image {r} out of range for {} images",
                images.rows
            ))
        })?;
        for y in 0..SIDE {
            let at = y * WIDTH + slot * SIDE;
            out[at..at + SIDE].copy_from_slice(&img[y * SIDE..(y + 1) * SIDE]);
        }
    }
    Ok(out)
}

/// Disjoint train and test pools of MNIST image indices.
#[derive(Debug, Clone, PartialEq)]
pub struct DigitPools {
    /// Images that training numbers are made of.
    pub train: Vec<u32>,
    /// Images that test numbers are made of; none is in `train`.
    pub test: Vec<u32>,
}

/// Splits `images` image indices into disjoint pools after a seeded shuffle, `test_fraction`
/// of them in the test pool. Each pool keeps at least one image.
pub fn split_pools(images: usize, test_fraction: f64, seed: u64) -> Result<DigitPools> {
    if images < 2 {
        return Err(Error::Data(format!(
            "digit sort needs at least 2 digit images to split into train and test pools, got {images}"
        )));
    }
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(Error::InvalidArgument(format!(
            "the test fraction must lie in (0, 1), got {test_fraction}"
        )));
    }
    let (train, test) = crate::experiment::parts::split(images, test_fraction, seed);
    let to_u32 = |v: Vec<usize>| v.into_iter().map(|i| i as u32).collect();
    Ok(DigitPools {
        train: to_u32(train),
        test: to_u32(test),
    })
}

/// One number: the indices of its four digit images, left to right.
pub type Number = [u32; DIGITS];

/// `count` numbers whose slots are images drawn uniformly, with replacement, from `pool`.
/// Sets of n are consecutive runs of n numbers.
pub fn sample_numbers(pool: &[u32], count: usize, rng: &mut impl Rng) -> Result<Vec<Number>> {
    if pool.is_empty() {
        return Err(Error::Empty("digit sort: an empty digit pool".into()));
    }
    Ok((0..count)
        .map(|_| std::array::from_fn(|_| pool[rng.random_range(0..pool.len())]))
        .collect())
}

/// Refuses an empty list of numbers, images that are not MNIST's 784 pixels, and numbers whose
/// digits index past the images: what a scoring CNN checks before it reads them.
pub(super) fn check_numbers(images: &Matrix, numbers: &[Number]) -> Result<()> {
    if numbers.is_empty() {
        return Err(Error::Empty("digit sort: no number to score".into()));
    }
    if images.cols != SIDE * SIDE {
        return Err(Error::InvalidArgument(format!(
            "digit images must have {} pixels, got {}",
            SIDE * SIDE,
            images.cols
        )));
    }
    if let Some(bad) = numbers
        .iter()
        .flatten()
        .find(|&&i| i as usize >= images.rows)
    {
        return Err(Error::InvalidArgument(format!(
            "digit image {bad} out of range for {} images",
            images.rows
        )));
    }
    Ok(())
}

/// The values of `numbers` given each image's digit.
pub(super) fn values_of(numbers: &[Number], labels: &[u8]) -> Vec<u32> {
    numbers
        .iter()
        .map(|n| number_value(n.map(|i| labels[i as usize])))
        .collect()
}

// ---------- metrics ----------

/// Exact match and correct positions of one set: `scores` and true `values` of its n numbers.
///
/// The predicted order is the argsort of the scores, descending (equal scores keep their
/// index order). The set is an exact match when the true values read along that order never
/// increase; tied true values therefore accept either order. A number is at its correct
/// position when its predicted position lies within the positions its value spans in the
/// true order (`#greater ..= #greater + #equal − 1`). Returns (exact match, number of
/// numbers at a correct position).
pub fn set_metrics(scores: &[f32], values: &[u32]) -> (bool, usize) {
    let n = scores.len().min(values.len());
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let exact = order.windows(2).all(|w| values[w[0]] >= values[w[1]]);
    let correct = order
        .iter()
        .enumerate()
        .filter(|&(pos, &i)| {
            let v = values[i];
            let greater = values[..n].iter().filter(|&&u| u > v).count();
            let equal = values[..n].iter().filter(|&&u| u == v).count();
            (greater..greater + equal).contains(&pos)
        })
        .count();
    (exact, correct)
}

/// Exact-match and element-wise accuracy over consecutive sets of `n` (the last partial set,
/// if any, is ignored).
pub fn accuracy(scores: &[f32], values: &[u32], n: usize) -> Result<(f64, f64)> {
    if n < 2 || scores.len() != values.len() || scores.len() < n {
        return Err(Error::InvalidArgument(format!(
            "accuracy over sets of n = {n} needs n ≥ 2 and as many scores ({}) as values ({}), at least n",
            scores.len(),
            values.len()
        )));
    }
    let sets = scores.len() / n;
    let (mut exact, mut correct) = (0usize, 0usize);
    for s in 0..sets {
        let r = s * n..(s + 1) * n;
        let (e, c) = set_metrics(&scores[r.clone()], &values[r]);
        exact += usize::from(e);
        correct += c;
    }
    Ok((
        exact as f64 / sets as f64,
        correct as f64 / (sets * n) as f64,
    ))
}

// ---------- model ----------
