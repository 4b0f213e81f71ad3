//! A fused dilated 1-D convolution with "same" zero padding, as one candle op.
//!
//! candle's CPU `conv1d` runs a direct loop of dot products, and its backward goes through
//! `conv_transpose1d`; together they took most of a CNN sorter's training step. Here each
//! kernel tap is one GEMM per vector: tap `k` shifts the input by `s_k = (k − (K−1)/2)·dilation`
//! positions, so `Y_b[:, l] += W_k · X_b[:, l + s_k]` over the positions where `l + s_k` lies
//! inside the vector (outside it the padding is zero and contributes nothing). The backward
//! pass is the same three GEMMs transposed. The batch is split across the allowed threads.

use candle_core::{CpuStorage, CustomOp3, Device, Layout, Result, Shape, Tensor};

use super::linalg::{gemm, Mat};
use super::storage::{read_f32, slice};

/// Sizes of one convolution.
#[derive(Clone, Copy, Debug)]
struct ConvDims {
    b: usize,
    cin: usize,
    cout: usize,
    len: usize,
    taps: usize,
    dilation: usize,
}

impl ConvDims {
    /// The shift of tap `k` and the output positions `lo..hi` it reaches.
    fn tap(&self, k: usize) -> Option<(isize, usize, usize)> {
        let s = (k as isize - (self.taps as isize - 1) / 2) * self.dilation as isize;
        let lo = (-s).max(0) as usize;
        let hi = (self.len as isize - s).min(self.len as isize).max(0) as usize;
        (lo < hi).then_some((s, lo, hi))
    }
}

/// `(x: B × C_in × L, w: C_out × C_in × K, bias: C_out) → B × C_out × L`.
struct DilatedConv {
    dilation: usize,
    threads: usize,
}

/// Splits `0..n` into at most `parts` contiguous ranges and runs `f` on each, in parallel.
fn split_batch<R: Send>(
    n: usize,
    parts: usize,
    f: impl Fn(std::ops::Range<usize>) -> R + Sync,
) -> Vec<R> {
    let parts = parts.clamp(1, n.max(1));
    let per = n.div_ceil(parts);
    let ranges: Vec<_> = (0..parts)
        .map(|p| (p * per).min(n)..((p + 1) * per).min(n))
        .collect();
    if parts == 1 {
        return vec![f(0..n)];
    }
    std::thread::scope(|sc| {
        let handles: Vec<_> = ranges[1..]
            .iter()
            .map(|r| {
                let f = &f;
                let r = r.clone();
                sc.spawn(move || f(r))
            })
            .collect();
        let mut out = vec![f(ranges[0].clone())];
        out.extend(handles.into_iter().map(|h| h.join().expect("conv thread")));
        out
    })
}

/// A raw pointer that may cross threads; each thread writes a disjoint part.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: used only for disjoint per-vector regions of one buffer, within a thread scope.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The pointer (a method, so that closures capture the whole `SendPtr`, not its field).
    fn get(self) -> *mut f32 {
        self.0
    }
}

impl DilatedConv {
    fn dims(&self, x: &[usize], w: &[usize], b: &[usize]) -> Result<ConvDims> {
        let ([bsz, cin, len], [cout, wcin, taps], [bc]) = (x, w, b) else {
            candle_core::bail!("fused conv: bad shapes x {x:?}, w {w:?}, bias {b:?}")
        };
        if cin != wcin || cout != bc || taps % 2 == 0 {
            candle_core::bail!("fused conv: bad shapes x {x:?}, w {w:?}, bias {b:?}");
        }
        Ok(ConvDims {
            b: *bsz,
            cin: *cin,
            cout: *cout,
            len: *len,
            taps: *taps,
            dilation: self.dilation,
        })
    }
}

/// `W_k` as a `C_out × C_in` view of `w` (`C_out × C_in × K`).
fn tap_weights(w: &[f32], d: ConvDims, k: usize) -> Mat {
    Mat {
        ptr: w.as_ptr(),
        rs: (d.cin * d.taps) as isize,
        cs: d.taps as isize,
    }
    .offset(k)
}

impl CustomOp3 for DilatedConv {
    fn name(&self) -> &'static str {
        "fused-dilated-conv1d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = self.dims(l1.dims(), l2.dims(), l3.dims())?;
        let (x, w, bias) = (
            slice(s1, l1, "x")?,
            slice(s2, l2, "w")?,
            slice(s3, l3, "bias")?,
        );
        let (xs, ys) = (d.cin * d.len, d.cout * d.len);
        let mut y = vec![0f32; d.b * ys];
        for (row, bv) in y.chunks_mut(d.len).zip(bias.iter().cycle()) {
            row.fill(*bv);
        }
        let yp = SendPtr(y.as_mut_ptr());
        split_batch(d.b, self.threads, |range| {
            for bi in range {
                for k in 0..d.taps {
                    let Some((s, lo, hi)) = d.tap(k) else {
                        continue;
                    };
                    let src = (bi * xs) as isize + lo as isize + s;
                    // SAFETY: rows lo..hi of Y_b and the shifted rows of X_b lie inside the
                    // buffers; each thread writes only its own vectors' outputs.
                    unsafe {
                        gemm(
                            d.cout,
                            hi - lo,
                            d.cin,
                            (yp.get().add(bi * ys + lo), d.len),
                            true,
                            tap_weights(w, d, k),
                            Mat {
                                ptr: x.as_ptr().offset(src),
                                rs: d.len as isize,
                                cs: 1,
                            },
                        );
                    }
                }
            }
        });
        Ok((CpuStorage::F32(y), Shape::from((d.b, d.cout, d.len))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = self.dims(x.dims(), w.dims(), b.dims())?;
        let (xt, wt, dyt) = (x.contiguous()?, w.contiguous()?, dy.contiguous()?);
        let (xv, wv, dyv) = (read_f32(&xt)?, read_f32(&wt)?, read_f32(&dyt)?);
        let (xv, wv, dyv) = (xv.get(), wv.get(), dyv.get());
        let (xs, ys) = (d.cin * d.len, d.cout * d.len);
        let wn = d.cout * d.cin * d.taps;
        let mut dx = vec![0f32; d.b * xs];
        let dxp = SendPtr(dx.as_mut_ptr());
        // each thread sums its vectors' weight gradients; the partial sums are added after
        let partial = split_batch(d.b, self.threads, |range| {
            let mut dw = vec![0f32; wn];
            for bi in range {
                for k in 0..d.taps {
                    let Some((s, lo, hi)) = d.tap(k) else {
                        continue;
                    };
                    let src = (bi * xs) as isize + lo as isize + s;
                    let dy_b = Mat {
                        ptr: dyv[bi * ys + lo..].as_ptr(),
                        rs: d.len as isize,
                        cs: 1,
                    };
                    // SAFETY: as in the forward pass; dW_k is a strided view of this
                    // thread's own dw, and dX_b belongs to this thread's vectors only.
                    unsafe {
                        // dX_b[:, l + s] += W_kᵀ · dY_b[:, l]
                        gemm(
                            d.cin,
                            hi - lo,
                            d.cout,
                            (dxp.get().offset(src), d.len),
                            true,
                            tap_weights(wv, d, k).t(),
                            dy_b,
                        );
                        // dW_k += dY_b[:, lo..hi] · X_b[:, lo + s..hi + s]ᵀ
                        ::gemm::gemm(
                            d.cout,
                            d.cin,
                            hi - lo,
                            dw.as_mut_ptr().add(k),
                            d.taps as isize,
                            (d.cin * d.taps) as isize,
                            true,
                            dy_b.ptr,
                            dy_b.cs,
                            dy_b.rs,
                            xv.as_ptr().offset(src),
                            d.len as isize,
                            1,
                            1.0,
                            1.0,
                            false,
                            false,
                            false,
                            ::gemm::Parallelism::None,
                        );
                    }
                }
            }
            dw
        });
        let mut dw = vec![0f32; wn];
        for p in &partial {
            for (a, v) in dw.iter_mut().zip(p) {
                *a += v;
            }
        }
        let mut db = vec![0f32; d.cout];
        for (row, o) in dyv.chunks(d.len).zip((0..d.cout).cycle()) {
            db[o] += row.iter().sum::<f32>();
        }
        let dev = &Device::Cpu;
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), dev)?),
            Some(Tensor::from_vec(dw, w.shape(), dev)?),
            Some(Tensor::from_vec(db, b.shape(), dev)?),
        ))
    }
}

/// Dilated 1-D convolution with zero padding that keeps the length (`dilation·(K−1)/2` on each
/// side): `x` is `B × C_in × L`, `w` is `C_out × C_in × K` with `K` odd, `bias` is `C_out`.
/// The same as padding `x` and calling candle's `conv1d`. f32 on the CPU only.
pub fn dilated_conv1d(x: &Tensor, w: &Tensor, bias: &Tensor, dilation: usize) -> Result<Tensor> {
    if !super::storage::fused_applies(x) {
        candle_core::bail!("fused conv: f32 CPU tensors only");
    }
    let op = DilatedConv {
        dilation,
        threads: candle_core::utils::get_num_threads(),
    };
    x.contiguous()?
        .apply_op3(&w.contiguous()?, &bias.contiguous()?, op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    /// The hand-written gradients against central finite differences of the forward pass
    /// (several channels, a batch, and a dilation whose taps fall partly off the vector).
    #[test]
    fn gradients_match_finite_differences() {
        let dev = Device::Cpu;
        let wave =
            |n: usize, f: f32| -> Vec<f32> { (0..n).map(|i| (i as f32 * f).sin()).collect() };
        let (b, cin, cout, len) = (3, 2, 3, 5);
        let x = Tensor::from_vec(wave(b * cin * len, 1.0), (b, cin, len), &dev).unwrap();
        let w = Tensor::from_vec(wave(cout * cin * 3, 0.7), (cout, cin, 3), &dev).unwrap();
        let bias = Tensor::new(&[0.1f32, -0.2, 0.3], &dev).unwrap();
        let t = Tensor::from_vec(wave(b * cout * len, 1.3), (b, cout, len), &dev).unwrap();
        for dilation in [1, 2, 4] {
            let loss = |x: &Tensor, w: &Tensor, bias: &Tensor| -> f32 {
                let y = dilated_conv1d(x, w, bias, dilation).unwrap();
                (y * &t).unwrap().sum_all().unwrap().to_scalar().unwrap()
            };
            let vars = [x.clone(), w.clone(), bias.clone()].map(|v| Var::from_tensor(&v).unwrap());
            let y = dilated_conv1d(
                vars[0].as_tensor(),
                vars[1].as_tensor(),
                vars[2].as_tensor(),
                dilation,
            )
            .unwrap();
            let grads = (y * &t).unwrap().sum_all().unwrap().backward().unwrap();
            for (which, var) in vars.iter().enumerate() {
                let g: Vec<f32> = grads
                    .get(var.as_tensor())
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1()
                    .unwrap();
                let v: Vec<f32> = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
                for i in 0..v.len() {
                    let at = |delta: f32| {
                        let mut p = v.clone();
                        p[i] += delta;
                        let p = Tensor::from_vec(p, var.shape(), &dev).unwrap();
                        match which {
                            0 => loss(&p, &w, &bias),
                            1 => loss(&x, &p, &bias),
                            _ => loss(&x, &w, &p),
                        }
                    };
                    let fd = (at(1e-2) - at(-1e-2)) / 2e-2;
                    assert!(
                        (fd - g[i]).abs() < 2e-3 * (1.0 + fd.abs()),
                        "input {which} [{i}], dilation {dilation}: {} vs {fd}",
                        g[i]
                    );
                }
            }
        }
    }
}
