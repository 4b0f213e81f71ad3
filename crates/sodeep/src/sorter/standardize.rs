//! Per-row standardisation `z = (x − mean(x)) / std(x)`: what the standardising sorters read.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! let x = Tensor::new(&[[0.5000003f64, 0.5000001, 0.5000002, 0.4999999]], &Device::Cpu)?;
//! let z: Vec<f64> = sodeep::sorter::standardize_rows(&x)?.squeeze(0)?.to_vec1()?;
//! let spread = Tensor::new(&[[3.0f64, 1.0, 2.0, -1.0]], &Device::Cpu)?;
//! let want: Vec<f64> = sodeep::sorter::standardize_rows(&spread)?.squeeze(0)?.to_vec1()?;
//! for (a, b) in z.iter().zip(&want) {
//!     assert!((a - b).abs() < 1e-6);
//! }
//! # Ok::<(), candle_core::Error>(())
//! ```

use candle_core::{DType, Tensor};

/// `(x − mean) / std` per row, in the input's dtype: a strictly increasing map of each row, so
/// ranks are unchanged, and one that ignores the row's offset and scale down to the spacings
/// the dtype can tell apart (`0.5 + 1e-12 · v` and `1e-30 · v` give `v`'s values). There is no
/// variance floor: only an exactly constant row has no spread, and it becomes all zeros, with
/// the gradient of `x − mean` (finite).
///
/// Each step keeps the scale invariance in floating point:
/// - rows whose largest magnitude exceeds 1e18 are first divided by a power of two (exactly),
///   so that the mean cannot overflow (`3e38, −3e38, 0` would give ∞ and NaN);
/// - the row is centred twice, `c = x − mean(x)` then `c − mean(c)`: the rounding error of the
///   first mean is a shift as large as the spacing of scores packed near a large offset, and
///   the second mean, taken over the small exact differences, removes it;
/// - `c` is divided by its largest magnitude (a constant: the result does not depend on it),
///   so that its squares neither underflow nor overflow, whatever the scale; their mean then
///   lies in `[1/n, 1]`, and the standard deviation needs no floor.
pub fn standardize_rows(x: &Tensor) -> candle_core::Result<Tensor> {
    let x = &safe_scale(x)?;
    let c = x.broadcast_sub(&x.mean_keepdim(1)?)?;
    let c = c.broadcast_sub(&c.mean_keepdim(1)?)?;
    // an exactly constant row is centred to exact zeros (c − c), keeping c's gradient
    let constant = x
        .max_keepdim(1)?
        .eq(&x.min_keepdim(1)?)?
        .to_dtype(x.dtype())?;
    let c = (&c - c.detach().broadcast_mul(&constant)?)?;
    let top = c.abs()?.max_keepdim(1)?.detach();
    let u = c.broadcast_div(&one_if_zero(&top)?)?;
    let var = u.sqr()?.mean_keepdim(1)?;
    u.broadcast_div(&one_if_zero(&var)?.sqrt()?)
}

/// `v`, with its zeros replaced by ones (the zeros of a constant row's scale and variance).
fn one_if_zero(v: &Tensor) -> candle_core::Result<Tensor> {
    v + v.eq(0.0)?.to_dtype(v.dtype())?
}

/// `x / 2^k` per row with the smallest `k ≥ 0` that brings the row's largest magnitude to at
/// most 1e18 (treated as a constant: the scale carries no gradient).
fn safe_scale(x: &Tensor) -> candle_core::Result<Tensor> {
    let top = x.abs()?.max_keepdim(1)?.to_dtype(DType::F64)?;
    let tops: Vec<f64> = top.flatten_all()?.to_vec1()?;
    if tops.iter().all(|&t| t <= 1e18) {
        return Ok(x.clone());
    }
    let scales: Vec<f64> = tops
        .iter()
        .map(|&t| {
            if t > 1e18 && t.is_finite() {
                (t / 1e18).log2().ceil().exp2()
            } else {
                1.0
            }
        })
        .collect();
    let s = Tensor::from_vec(scales, top.shape(), x.device())?.to_dtype(x.dtype())?;
    x.broadcast_div(&s)
}
