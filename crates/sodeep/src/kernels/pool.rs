//! 2×2 max-pooling of channels-last images, as one candle op ([`max_pool_2x2`]).
//!
//! `y[n, Y, X, c] = max over a, b ∈ {0, 1} of x[n, 2Y + a, 2X + b, c]`, and backward
//! `dx[n, 2Y + a, 2X + b, c] = dy[n, Y, X, c] · [x[n, 2Y + a, 2X + b, c] = y[n, Y, X, c]]`:
//! every input equal to the maximum receives the whole gradient, which is what candle's `max`
//! reductions do (so the op's gradients are bit for bit those of the plain composition, a
//! reshape and two `max` reductions, that the tests compare against). Ties are common after a
//! ReLU (four zeros); the ReLU's own backward then zeroes them.
//!
//! The plain composition spends a pass per reduction forward, and backward a broadcast, an
//! equality mask, a dtype conversion, a product and an add per reduction; here each direction is
//! one pass.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use sodeep::kernels::pool::max_pool_2x2;
//! // one 2 × 4 image with one channel: the left and the right 2 × 2 blocks
//! let x = Tensor::new(&[1f32, 5., 2., 0., 3., 4., 7., 6.], &Device::Cpu)?.reshape((1, 2, 4, 1))?;
//! let y = max_pool_2x2(&x)?;
//! assert_eq!(y.flatten_all()?.to_vec1::<f32>()?, [5., 7.]);
//! # Ok::<(), candle_core::Error>(())
//! ```

use candle_core::{CpuStorage, CustomOp1, Device, Layout, Result, Shape, Tensor};

use super::storage::{read_f32, slice};

/// The op; its input is `N × H × W × C` with `H` and `W` even.
struct MaxPool2x2;

/// `(n, h, w, c)` of a pooling input, checked.
fn dims(d: &[usize]) -> Result<(usize, usize, usize, usize)> {
    let &[n, h, w, c] = d else {
        candle_core::bail!("max-pool 2×2: the input must be N × H × W × C, got {d:?}")
    };
    if h % 2 != 0 || w % 2 != 0 {
        candle_core::bail!("max-pool 2×2: height and width must be even, got {h} × {w}")
    }
    Ok((n, h, w, c))
}

impl CustomOp1 for MaxPool2x2 {
    fn name(&self) -> &'static str {
        "fused-max-pool-2x2"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, h, w, c) = dims(l.dims())?;
        let x = slice(s, l, "max-pool input")?;
        let (row, half) = (w * c, (w / 2) * c);
        let mut y = vec![0f32; n * (h / 2) * half];
        // invariant: x holds n·h pixel rows of w·c values; each pair of rows gives one output
        // row. The loops run over whole channel slices so that they vectorise.
        let pairs = x.chunks_exact((2 * row).max(1));
        for (pair, out) in pairs.zip(y.chunks_exact_mut(half.max(1))) {
            let (top, bottom) = pair.split_at(row);
            let windows = top
                .chunks_exact(2 * c.max(1))
                .zip(bottom.chunks_exact(2 * c.max(1)));
            for ((t, b), o) in windows.zip(out.chunks_exact_mut(c.max(1))) {
                let (t0, t1) = t.split_at(c);
                let (b0, b1) = b.split_at(c);
                for ((((o, t0), t1), b0), b1) in o.iter_mut().zip(t0).zip(t1).zip(b0).zip(b1) {
                    *o = t0.max(*t1).max(b0.max(*b1));
                }
            }
        }
        Ok((CpuStorage::F32(y), (n, h / 2, w / 2, c).into()))
    }

    fn bwd(&self, x: &Tensor, y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        let (_, _, w, c) = dims(x.dims())?;
        let (x_c, y_c, dy_c) = (x.contiguous()?, y.contiguous()?, dy.contiguous()?);
        let (xv, yv, gv) = (read_f32(&x_c)?, read_f32(&y_c)?, read_f32(&dy_c)?);
        let (xv, yv, gv) = (xv.get(), yv.get(), gv.get());
        let (row, half) = (w * c, (w / 2) * c);
        let mut dx = vec![0f32; xv.len()];
        let inputs = xv
            .chunks_exact((2 * row).max(1))
            .zip(dx.chunks_exact_mut((2 * row).max(1)));
        let outputs = yv
            .chunks_exact(half.max(1))
            .zip(gv.chunks_exact(half.max(1)));
        for ((xp, dp), (yr, gr)) in inputs.zip(outputs) {
            // the four inputs of each window, as four runs of w/2 channel slices
            let (dtop, dbottom) = dp.split_at_mut(row);
            let (xtop, xbottom) = xp.split_at(row);
            for (xr, dr) in [(xtop, dtop), (xbottom, dbottom)] {
                let cols = xr.chunks_exact(c.max(1)).zip(dr.chunks_exact_mut(c.max(1)));
                for (col, (xs, ds)) in cols.enumerate() {
                    let at = (col / 2) * c;
                    let (ms, gs) = (&yr[at..at + c], &gr[at..at + c]);
                    for (((d, x), m), g) in ds.iter_mut().zip(xs).zip(ms).zip(gs) {
                        *d = if x == m { *g } else { 0.0 };
                    }
                }
            }
        }
        Ok(Some(Tensor::from_vec(dx, x.shape(), &Device::Cpu)?))
    }
}

/// 2×2 max-pooling (stride 2) of `x: N × H × W × C` (channels last, `H` and `W` even) into
/// `N × H/2 × W/2 × C`; see the module docs for the gradient. f32 on the CPU.
pub fn max_pool_2x2(x: &Tensor) -> Result<Tensor> {
    if !super::storage::fused_applies(x) {
        candle_core::bail!("fused max-pool: f32 CPU tensors only");
    }
    x.contiguous()?.apply_op1(MaxPool2x2)
}

#[cfg(test)]
mod tests {
    use candle_core::Var;

    use super::*;

    /// The plain composition the op replaces: a reshape and two `max` reductions.
    fn plain(x: &Tensor) -> Tensor {
        let (n, h, w, c) = x.dims4().unwrap();
        x.reshape((n, h / 2, 2, w / 2, 2, c))
            .unwrap()
            .max(4)
            .unwrap()
            .max(2)
            .unwrap()
    }

    /// Outputs and gradients equal to the plain composition's, bit for bit, on inputs with
    /// ties (ReLU zeros and repeated values) and a non-uniform upstream gradient.
    #[test]
    fn matches_the_plain_composition_bit_for_bit() {
        let (n, h, w, c) = (3, 6, 4, 5);
        let vals: Vec<f32> = (0..n * h * w * c)
            .map(|i| ((((i as u64 * 2_654_435_761) >> 7) % 5) as f32 - 2.0).max(0.0) * 0.5)
            .collect();
        let x = Var::from_vec(vals, (n, h, w, c), &Device::Cpu).unwrap();
        let weights: Vec<f32> = (0..n * h / 2 * w / 2 * c)
            .map(|i| 1.0 + i as f32 * 0.01)
            .collect();
        let weights = Tensor::from_vec(weights, (n, h / 2, w / 2, c), &Device::Cpu).unwrap();
        let run = |y: Tensor| {
            let loss = (y.clone() * &weights).unwrap().sum_all().unwrap();
            let grads = loss.backward().unwrap();
            let dx = grads.get(x.as_tensor()).unwrap();
            (
                y.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                dx.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            )
        };
        let (y_fused, dx_fused) = run(max_pool_2x2(x.as_tensor()).unwrap());
        let (y_plain, dx_plain) = run(plain(x.as_tensor()));
        assert_eq!(y_fused, y_plain);
        assert_eq!(dx_fused, dx_plain);
        // the inputs had ties, and some gradient went to more than one input of a window
        assert!(dx_fused.iter().filter(|g| **g != 0.0).count() > y_fused.len());
    }

    #[test]
    fn refuses_odd_sides_and_other_ranks() {
        let odd = Tensor::zeros((1, 3, 4, 2), candle_core::DType::F32, &Device::Cpu).unwrap();
        let err = max_pool_2x2(&odd).unwrap_err().to_string();
        assert!(err.contains("must be even"), "{err}");
        let flat = Tensor::zeros((4, 2), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(max_pool_2x2(&flat).is_err());
    }
}
