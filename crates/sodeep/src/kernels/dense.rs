//! A dense layer `relu(P·w + b)` as one candle op with a hand-written backward pass, where the
//! rows of `P` are the input's rows or patches gathered from them (an im2col without copying the
//! input first), so that a convolution is one GEMM forward and two backward.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! let x = Tensor::new(&[[1f32, 2.0], [-3.0, 1.0]], &Device::Cpu)?;
//! let w = Tensor::new(&[[1f32], [1.0]], &Device::Cpu)?;
//! let b = Tensor::new(&[0.5f32], &Device::Cpu)?;
//! let y = sodeep::kernels::dense::dense(&x, &w, &b, true, None)?;
//! assert_eq!(y.to_vec2::<f32>()?, vec![vec![3.5], vec![0.0]]); // relu(3 + 0.5), relu(−2 + 0.5)
//! # Ok::<(), candle_core::Error>(())
//! ```

use std::sync::Arc;

use candle_core::{Device, Result, Tensor};

use super::linalg::{column_sums, gemm, written_by, Mat};
use super::storage::{read_f32, slice};

/// Patches gathered from the rows of a layer's input: patch `r` is the concatenation of input
/// rows `index[r·taps .. (r+1)·taps]` (an im2col without copying the input first).
#[derive(Debug, Clone)]
pub struct Gather {
    /// Input rows of each patch, `taps` per patch, patch after patch.
    pub index: Arc<Vec<u32>>,
    /// Input rows per patch.
    pub taps: usize,
}

/// `relu(P·w + b)` (or without the ReLU), where `P` is `x` itself or, with a [`Gather`], the
/// patches gathered from the rows of `x`; `w` is `K × C` with `K` the patch width, `b` is `C`.
///
/// One candle op with a hand-written backward pass. candle's own composition (index_select,
/// matmul, broadcast add, ReLU) spent more time in elementwise passes than in the matrix
/// products: the bias gradient is a strided reduction, the ReLU gradient four passes, and every
/// intermediate gradient a zero-filled buffer plus an add. Here the forward pass is one gather,
/// one GEMM and one pass; the backward pass one pass, two GEMMs and a scatter-add, and skips
/// the input gradient when the input needs none (the pixel patches). Same results as the
/// composition up to float rounding; half the time of a training step.
pub fn dense(
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
    relu: bool,
    gather: Option<Gather>,
) -> Result<Tensor> {
    x.contiguous()?
        .apply_op3(&w.contiguous()?, &b.contiguous()?, Dense { relu, gather })
}

struct Dense {
    relu: bool,
    gather: Option<Gather>,
}

/// Sizes of one [`Dense`] call: patches, patch width, outputs, input rows and width.
#[derive(Debug, Clone, Copy)]
struct DenseDims {
    n: usize,
    k: usize,
    c: usize,
    rows: usize,
    width: usize,
}

impl Dense {
    fn dims(&self, x: &[usize], w: &[usize], b: &[usize]) -> candle_core::Result<DenseDims> {
        let ([rows, width], [k, c], [bc]) = (x, w, b) else {
            candle_core::bail!("dense layer: bad shapes x {x:?}, w {w:?}, b {b:?}")
        };
        let n = match &self.gather {
            None => *rows,
            Some(g) => g.index.len() / g.taps.max(1),
        };
        let k_expected = self.gather.as_ref().map_or(*width, |g| g.taps * width);
        if *k != k_expected || c != bc {
            candle_core::bail!("dense layer: bad shapes x {x:?}, w {w:?}, b {b:?}");
        }
        if let Some(g) = &self.gather {
            if g.index.iter().any(|&i| i as usize >= *rows) {
                candle_core::bail!("dense layer: a gather index is out of range");
            }
        }
        Ok(DenseDims {
            n,
            k: *k,
            c: *c,
            rows: *rows,
            width: *width,
        })
    }

    /// The patch matrix `N × K`: `x` itself, or gathered.
    fn patches<'a>(&self, x: &'a [f32], d: DenseDims) -> std::borrow::Cow<'a, [f32]> {
        match &self.gather {
            None => std::borrow::Cow::Borrowed(x),
            Some(g) => {
                let mut p = Vec::with_capacity(d.n * d.k);
                for &i in g.index.iter() {
                    p.extend_from_slice(&x[i as usize * d.width..][..d.width]);
                }
                std::borrow::Cow::Owned(p)
            }
        }
    }
}

impl candle_core::CustomOp3 for Dense {
    fn name(&self) -> &'static str {
        "fused-dense"
    }

    fn cpu_fwd(
        &self,
        s1: &candle_core::CpuStorage,
        l1: &candle_core::Layout,
        s2: &candle_core::CpuStorage,
        l2: &candle_core::Layout,
        s3: &candle_core::CpuStorage,
        l3: &candle_core::Layout,
    ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
        let d = self.dims(l1.dims(), l2.dims(), l3.dims())?;
        let x = slice(s1, l1, "dense input")?;
        let w = slice(s2, l2, "dense weights")?;
        let b = slice(s3, l3, "dense bias")?;
        let p = self.patches(x, d);
        let mut y = vec![0f32; d.n * d.c];
        // SAFETY: p is N × K, w is K × C and y is N × C, all row-major and distinct.
        unsafe {
            gemm(
                d.n,
                d.c,
                d.k,
                (y.as_mut_ptr(), d.c),
                false,
                Mat::rows(&p, d.k),
                Mat::rows(w, d.c),
            );
        }
        for row in y.chunks_exact_mut(d.c.max(1)) {
            for (v, bias) in row.iter_mut().zip(b) {
                *v += bias;
                if self.relu && *v < 0.0 {
                    *v = 0.0;
                }
            }
        }
        Ok((candle_core::CpuStorage::F32(y), (d.n, d.c).into()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = self.dims(x.dims(), w.dims(), b.dims())?;
        let dev = &Device::Cpu;
        let (x_c, w_c, y_c) = (x.contiguous()?, w.contiguous()?, y.contiguous()?);
        let (xv, wv, yv) = (read_f32(&x_c)?, read_f32(&w_c)?, read_f32(&y_c)?);
        let (xv, wv, yv) = (xv.get(), wv.get(), yv.get());
        // the gradient of the pre-activation: dy where the ReLU passed, else 0
        let mut g: Vec<f32> = dy.flatten_all()?.to_vec1()?;
        if self.relu {
            for (gi, yi) in g.iter_mut().zip(yv) {
                if *yi <= 0.0 {
                    *gi = 0.0;
                }
            }
        }
        let db = column_sums(&g, d.c.max(1));
        let p = self.patches(xv, d);
        // SAFETY: dW = Pᵀ·g is K × C from P (N × K) and g (N × C); the product overwrites dW.
        let dw = unsafe {
            written_by(d.k * d.c, |dw| {
                gemm(
                    d.k,
                    d.c,
                    d.n,
                    (dw, d.c),
                    false,
                    Mat::rows(&p, d.k).t(),
                    Mat::rows(&g, d.c),
                )
            })
        };
        let dx = if x.track_op() {
            // SAFETY: dP = g·wᵀ is N × K from g (N × C) and w (K × C); the product overwrites dP.
            let dp = unsafe {
                written_by(d.n * d.k, |dp| {
                    gemm(
                        d.n,
                        d.k,
                        d.c,
                        (dp, d.k),
                        false,
                        Mat::rows(&g, d.c),
                        Mat::rows(wv, d.c).t(),
                    )
                })
            };
            let dx = match &self.gather {
                None => dp,
                Some(gather) => {
                    // each patch slot adds its gradient back to the input row it came from
                    let mut dx = vec![0f32; d.rows * d.width];
                    for (&i, src) in gather.index.iter().zip(dp.chunks_exact(d.width)) {
                        let dst = &mut dx[i as usize * d.width..][..d.width];
                        for (a, v) in dst.iter_mut().zip(src) {
                            *a += v;
                        }
                    }
                    dx
                }
            };
            Some(Tensor::from_vec(dx, (d.rows, d.width), dev)?)
        } else {
            None
        };
        Ok((
            dx,
            Some(Tensor::from_vec(dw, (d.k, d.c), dev)?),
            Some(Tensor::from_vec(db, d.c, dev)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    /// The fused layer against candle's own ops, forward and gradients, with and without a
    /// gather (patches of 3 rows, rows reused by several patches).
    #[test]
    fn fused_dense_matches_candle() {
        let dev = Device::Cpu;
        let wave =
            |n: usize, f: f32| -> Vec<f32> { (0..n).map(|i| (i as f32 * f).sin()).collect() };
        let (rows, width, c, taps, patches) = (20, 3, 4, 3, 8);
        let x = Var::from_vec(wave(rows * width, 0.37), (rows, width), &dev).unwrap();
        for gathered in [false, true] {
            let k = if gathered { taps * width } else { width };
            let n = if gathered { patches } else { rows };
            let w = Var::from_vec(wave(k * c, 0.91), (k, c), &dev).unwrap();
            let b = Var::from_vec(wave(c, 1.7), c, &dev).unwrap();
            let t = Tensor::from_vec(wave(n * c, 1.3), (n, c), &dev).unwrap();
            let index: Vec<u32> = (0..patches * taps).map(|i| (i * 7 % rows) as u32).collect();
            let gather = gathered.then(|| Gather {
                index: Arc::new(index.clone()),
                taps,
            });
            let fused = dense(x.as_tensor(), w.as_tensor(), b.as_tensor(), true, gather).unwrap();
            let p = if gathered {
                let idx = Tensor::from_vec(index, n * taps, &dev).unwrap();
                x.as_tensor()
                    .index_select(&idx, 0)
                    .unwrap()
                    .reshape((n, k))
                    .unwrap()
            } else {
                x.as_tensor().clone()
            };
            let plain = p
                .matmul(w.as_tensor())
                .unwrap()
                .broadcast_add(b.as_tensor())
                .unwrap()
                .relu()
                .unwrap();
            let close = |a: &Tensor, b: &Tensor, what: &str| {
                let d: f32 = (a - b)
                    .unwrap()
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar()
                    .unwrap();
                assert!(d < 1e-4, "gather {gathered}, {what}: max difference {d}");
            };
            close(&fused, &plain, "forward");
            let gf = (fused * &t).unwrap().sum_all().unwrap().backward().unwrap();
            let gp = (plain * &t).unwrap().sum_all().unwrap().backward().unwrap();
            for (v, what) in [(&x, "dx"), (&w, "dw"), (&b, "db")] {
                close(gf.get(v).unwrap(), gp.get(v).unwrap(), what);
            }
        }
    }
}
