//! Exact ranks: the SoDeep convention and the ascending tie methods of `scipy.stats.rankdata`.
//!
//! These are pure functions on slices (any of `f32`/`f64`) plus a tensor form for batches.
//! Non-finite values are ordered by `total_cmp` so these never panic; callers that need to
//! reject NaN use [`crate::error::check_finite`] at their boundary.
//!
//! SoDeep rank of score `i` in a vector of `d`: `r_i = (#{j : s_j > s_i} + 1) / d` (ties by
//! index), so the largest score gets `1/d` and the smallest `1`.
//!
//! ```
//! use sodeep::rank::{rank_ascending, sodeep_rank, TieMethod};
//! assert_eq!(sodeep_rank(&[0.3f32, -1.0, 2.0, 0.5]), vec![0.75, 1.0, 0.25, 0.5]);
//! assert_eq!(rank_ascending(&[2.0f64, 1.0, 2.0], TieMethod::Average), vec![2.5, 1.0, 2.5]);
//! ```

use candle_core::{DType, Device, Tensor};

use crate::error::{Error, Result};

/// How ascending ranks treat ties (names follow `scipy.stats.rankdata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TieMethod {
    /// Distinct ranks 1..n; ties are ordered by index (earlier first).
    Ordinal,
    /// Tied values share the mean of the ranks they span.
    Average,
    /// Tied values share the lowest rank they span.
    Min,
}

/// Indices that order `scores` descending; equal scores keep their index order. Values order
/// as `f64::total_cmp` does (a NaN of either sign at its end).
fn order_descending<T: Copy + Into<f64>>(scores: &[T]) -> Vec<usize> {
    let x: Vec<f64> = scores.iter().map(|&v| v.into()).collect();
    argsort_desc(&x)
}

/// Indices that sort `x` descending (ties: lower index first, so the order is deterministic).
pub fn argsort_desc(x: &[f64]) -> Vec<usize> {
    argsort_desc_signed(x, 1.0)
        .into_iter()
        .map(|i| i as usize)
        .collect()
}

/// From this many scores on, [`argsort_desc_signed`] sorts f32 keys by radix.
const RADIX_FROM: usize = 256;

/// Sorts `keys` by their high 32 bits, stably (LSD radix sort: three passes of 11, 11 and 10
/// bits; a pass whose digit is the same for every key is skipped).
fn radix_sort_high32(keys: &mut Vec<u64>) {
    const SHIFTS: [u32; 3] = [32, 43, 54];
    const WIDTHS: [u32; 3] = [11, 11, 10];
    let mut counts = [[0usize; 2048]; 3];
    for &k in keys.iter() {
        for p in 0..3 {
            counts[p][((k >> SHIFTS[p]) & ((1 << WIDTHS[p]) - 1)) as usize] += 1;
        }
    }
    let n = keys.len();
    let mut from = std::mem::take(keys);
    let mut to = vec![0u64; n];
    for p in 0..3 {
        let count = &mut counts[p];
        if count.contains(&n) {
            continue; // every key has the same digit here
        }
        let mut at = 0;
        for c in count.iter_mut() {
            let k = *c;
            *c = at;
            at += k;
        }
        for &k in &from {
            let d = ((k >> SHIFTS[p]) & ((1 << WIDTHS[p]) - 1)) as usize;
            to[count[d]] = k;
            count[d] += 1;
        }
        std::mem::swap(&mut from, &mut to);
    }
    *keys = from;
}

/// The indices that sort `sign · x` in descending order (ties by index), as `u32`: the
/// argsort of the row kernels, which reads `x` in place instead of negating a copy.
pub(crate) fn argsort_desc_signed(x: &[f64], sign: f64) -> Vec<u32> {
    // scores that came from f32 tensors (the usual case) order exactly as their f32 values:
    // key and index then pack into one u64, whose sort is about twice as fast again
    if x.iter().all(|&v| f64::from(v as f32) == v) {
        let mut keyed: Vec<u64> = x
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let b = (-(sign * v) as f32).to_bits();
                let key = if b >> 31 == 1 { !b } else { b | (1 << 31) };
                (u64::from(key) << 32) | i as u64
            })
            .collect();
        // indices ascend in `keyed`, so a stable sort on the key alone breaks ties by index:
        // a radix sort on the key's 32 bits from a few hundred scores on, a comparison sort
        // below (where its histograms would cost more than they save)
        if keyed.len() >= RADIX_FROM {
            radix_sort_high32(&mut keyed);
        } else {
            keyed.sort_unstable();
        }
        return keyed.into_iter().map(|k| k as u32).collect();
    }
    // one integer per element, ordering like −sign·x (IEEE total order) above the index: the
    // sort then compares plain u128s, several times faster than comparing floats (or key,
    // index pairs) through closures
    let mut keyed: Vec<u128> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let b = (-(sign * v)).to_bits();
            let key = if b >> 63 == 1 { !b } else { b | (1 << 63) };
            (u128::from(key) << 32) | i as u128
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|k| k as u32).collect()
}

/// Indices that order `scores` ascending, stable.
fn order_ascending<T: Copy + Into<f64>>(scores: &[T]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| {
        let (x, y): (f64, f64) = (scores[a].into(), scores[b].into());
        x.total_cmp(&y)
    });
    idx
}

/// The SoDeep rank: `(position in descending order + 1) / d`, so the largest score gets `1/d`
/// and the smallest `1`. Ties are broken by index: the earlier of two equal scores ranks first.
pub fn sodeep_rank<T: Copy + Into<f64>>(scores: &[T]) -> Vec<f64> {
    let d = scores.len() as f64;
    let mut out = vec![0.0; scores.len()];
    for (pos, &i) in order_descending(scores).iter().enumerate() {
        out[i] = (pos + 1) as f64 / d;
    }
    out
}

/// SoDeep ranks (largest → `1/d`, smallest → `1`) where tied scores share the mean of the
/// ranks they span, so that tied targets ask for the same rank.
pub fn sodeep_rank_average<T: Copy + Into<f64>>(scores: &[T]) -> Vec<f64> {
    let d = scores.len() as f64;
    rank_ascending(scores, TieMethod::Average)
        .into_iter()
        .map(|r| (d + 1.0 - r) / d)
        .collect()
}

/// Ascending ranks starting at 1 (1 = smallest), with the given tie method.
pub fn rank_ascending<T: Copy + Into<f64>>(scores: &[T], ties: TieMethod) -> Vec<f64> {
    let n = scores.len();
    let order = order_ascending(scores);
    let mut out = vec![0.0; n];
    let mut start = 0;
    while start < n {
        let v: f64 = scores[order[start]].into();
        let mut end = start + 1;
        while end < n && scores[order[end]].into() == v {
            end += 1;
        }
        // positions start..end (0-based) share the value v
        for (k, &i) in order[start..end].iter().enumerate() {
            out[i] = match ties {
                TieMethod::Ordinal => (start + k + 1) as f64,
                TieMethod::Average => (start + 1 + end) as f64 / 2.0,
                TieMethod::Min => (start + 1) as f64,
            };
        }
        start = end;
    }
    out
}

/// SoDeep ranks of each row of a `B × d` tensor, returned as a `B × d` tensor of the same dtype
/// and device. A 1-D tensor is treated as one row.
pub fn sodeep_rank_tensor(scores: &Tensor) -> Result<Tensor> {
    let (b, d) = match scores.dims() {
        [d] => (1, *d),
        [b, d] => (*b, *d),
        other => {
            return Err(Error::InvalidArgument(format!(
                "expected a B × d tensor of scores, got shape {other:?}"
            )))
        }
    };
    let flat: Vec<f64> = scores.to_dtype(DType::F64)?.flatten_all()?.to_vec1()?;
    let mut ranks = Vec::with_capacity(flat.len());
    for row in flat.chunks(d.max(1)).take(b) {
        ranks.extend(sodeep_rank(row));
    }
    let out = Tensor::from_vec(ranks, scores.shape(), &Device::Cpu)?;
    Ok(out.to_dtype(scores.dtype())?.to_device(scores.device())?)
}

/// SoDeep ranks of every row of a row-major `rows × d` buffer, in `f32`.
#[cfg(feature = "train")]
pub(crate) fn sodeep_rank_rows(data: &[f32], d: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(data.len());
    for row in data.chunks(d.max(1)) {
        out.extend(sodeep_rank(row).into_iter().map(|r| r as f32));
    }
    out
}

#[cfg(test)]
mod argsort_tests {
    use super::*;

    #[test]
    fn both_argsort_paths_order_alike_with_ties_by_index_and_signed_zeros() {
        // f32-representable values take the packed-u64 path, others the u128 one
        let fast = [0.5, -0.0, 0.0, 2.0, 0.5];
        let wide = [0.1, -0.0, 0.0, 2.1, 0.1];
        for x in [fast, wide] {
            assert_eq!(argsort_desc(&x), vec![3, 0, 4, 2, 1], "{x:?}");
            assert_eq!(argsort_desc_signed(&x, -1.0), vec![1, 2, 0, 4, 3], "{x:?}");
        }
    }
}
