//! A fused bidirectional GRU layer (PyTorch semantics, gates r, z, n, with `r` gating
//! `W_hn h + b_hn`) as one candle op, built like the fused LSTM layer.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, DType, Device, Layout, Result, Shape, Tensor};

use super::{
    both, gather_steps, gemm, rnn_dims, scatter_input_grads, scatter_outputs, sigmoid, slice, Dims,
    Mat,
};

/// Activations of one direction in step order: per row `[r | z | n | W_hn h + b_hn]`
/// (`T·B × 4H`) and the outputs (`T·B × H`).
struct Trace {
    acts: Vec<f32>,
    hs: Vec<f32>,
}

/// `(x: B × T × I, w: 2 × 3H × (I + H), b: 2 × 2 × 3H) → y: B × T × 2H`; `w[k]` is
/// `[W_ih | W_hh]` of direction `k`, `b[k]` is `[b_ih, b_hh]`.
struct BiGru {
    threads: usize,
    /// Whether a backward pass can follow; inference keeps no activations.
    keep_trace: bool,
    trace: Mutex<Option<[Trace; 2]>>,
}

fn forward_direction(x: &[f32], w: &[f32], bias: &[f32], d: Dims, reverse: bool) -> Trace {
    let (b, t, i, h) = (d.b, d.t, d.i, d.h);
    let g3 = 3 * h;
    let ld = i + h;
    let (b_ih, b_hh) = bias.split_at(g3);
    let xs = gather_steps(x, d, reverse);
    let mut gi = vec![0f32; t * b * g3];
    for row in gi.chunks_mut(g3) {
        row.copy_from_slice(b_ih);
    }
    let w_ih_t = Mat::rows(w, ld).t();
    let w_hh_t = Mat::rows(w, ld).offset(i).t();
    // SAFETY: sizes match the buffers.
    unsafe {
        gemm(
            t * b,
            g3,
            i,
            (gi.as_mut_ptr(), g3),
            true,
            Mat::rows(&xs, i),
            w_ih_t,
        )
    };
    let mut acts = vec![0f32; t * b * 4 * h];
    let mut hs = vec![0f32; t * b * h];
    let mut gh = vec![0f32; b * g3];
    for s in 0..t {
        for row in gh.chunks_mut(g3) {
            row.copy_from_slice(b_hh);
        }
        let (done, rest) = hs.split_at_mut(s * b * h);
        let h_prev = (s > 0).then(|| &done[(s - 1) * b * h..][..b * h]);
        if let Some(hp) = h_prev {
            // SAFETY: gh is B × 3H, hp is B × H.
            unsafe {
                gemm(
                    b,
                    g3,
                    h,
                    (gh.as_mut_ptr(), g3),
                    true,
                    Mat::rows(hp, h),
                    w_hh_t,
                )
            };
        }
        let h_now = &mut rest[..b * h];
        let a = &mut acts[s * b * 4 * h..][..b * 4 * h];
        for bi in 0..b {
            let gir = &gi[(s * b + bi) * g3..][..g3];
            let ghr = &gh[bi * g3..][..g3];
            let ar = &mut a[bi * 4 * h..][..4 * h];
            for j in 0..h {
                let r = sigmoid(gir[j] + ghr[j]);
                let z = sigmoid(gir[h + j] + ghr[h + j]);
                let ghn = ghr[2 * h + j];
                let n = (gir[2 * h + j] + r * ghn).tanh();
                let hp = h_prev.map_or(0.0, |hp| hp[bi * h + j]);
                h_now[bi * h + j] = n + z * (hp - n);
                ar[j] = r;
                ar[h + j] = z;
                ar[2 * h + j] = n;
                ar[3 * h + j] = ghn;
            }
        }
    }
    Trace { acts, hs }
}

/// Gradients of one direction: `(dx in step order, dW 3H × (I + H), [db_ih, db_hh] 6H)`.
fn backward_direction(
    tr: &Trace,
    xs: &[f32],
    dy: &[f32],
    w: &[f32],
    d: Dims,
    k: usize,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (b, t, i, h) = (d.b, d.t, d.i, d.h);
    let g3 = 3 * h;
    let ld = i + h;
    let mut dgi = vec![0f32; t * b * g3];
    let mut dgh = vec![0f32; t * b * g3];
    let mut dh_next = vec![0f32; b * h];
    let w_hh = Mat::rows(w, ld).offset(i);
    for s in (0..t).rev() {
        let tt = d.time(s, k == 1);
        let a = &tr.acts[s * b * 4 * h..][..b * 4 * h];
        let h_prev = (s > 0).then(|| &tr.hs[(s - 1) * b * h..][..b * h]);
        for bi in 0..b {
            let ar = &a[bi * 4 * h..][..4 * h];
            let dyr = &dy[(bi * t + tt) * 2 * h + k * h..][..h];
            let row = (s * b + bi) * g3;
            for j in 0..h {
                let (r, z, n, ghn) = (ar[j], ar[h + j], ar[2 * h + j], ar[3 * h + j]);
                let hp = h_prev.map_or(0.0, |hp| hp[bi * h + j]);
                let dh = dyr[j] + dh_next[bi * h + j];
                let dpn = dh * (1.0 - z) * (1.0 - n * n);
                let dpr = dpn * ghn * r * (1.0 - r);
                let dpz = dh * (hp - n) * z * (1.0 - z);
                dgi[row + j] = dpr;
                dgi[row + h + j] = dpz;
                dgi[row + 2 * h + j] = dpn;
                dgh[row + j] = dpr;
                dgh[row + h + j] = dpz;
                dgh[row + 2 * h + j] = dpn * r;
                dh_next[bi * h + j] = dh * z;
            }
        }
        if s > 0 {
            let dghs = &dgh[s * b * g3..][..b * g3];
            // SAFETY: dghs is B × 3H, W_hh is 3H × H.
            unsafe {
                gemm(
                    b,
                    h,
                    g3,
                    (dh_next.as_mut_ptr(), h),
                    true,
                    Mat::rows(dghs, g3),
                    w_hh,
                );
            }
        }
    }
    let mut dw = vec![0f32; g3 * ld];
    // SAFETY: sizes follow from the buffers.
    unsafe {
        let dgi_t = Mat::rows(&dgi, g3).t();
        gemm(
            g3,
            i,
            t * b,
            (dw.as_mut_ptr(), ld),
            false,
            dgi_t,
            Mat::rows(xs, i),
        );
        let dgh_t = Mat::rows(&dgh, g3).t().offset(b * g3);
        let hs = Mat::rows(&tr.hs, h);
        gemm(
            g3,
            h,
            (t - 1) * b,
            (dw.as_mut_ptr().add(i), ld),
            false,
            dgh_t,
            hs,
        );
    }
    let mut db = vec![0f32; 2 * g3];
    for (row_i, row_h) in dgi.chunks(g3).zip(dgh.chunks(g3)) {
        for j in 0..g3 {
            db[j] += row_i[j];
            db[g3 + j] += row_h[j];
        }
    }
    let mut dxs = vec![0f32; t * b * i];
    // SAFETY: dgi is T·B × 3H, W_ih is 3H × I.
    unsafe {
        gemm(
            t * b,
            i,
            g3,
            (dxs.as_mut_ptr(), i),
            false,
            Mat::rows(&dgi, g3),
            Mat::rows(w, ld),
        );
    }
    (dxs, dw, db)
}

impl CustomOp3 for BiGru {
    fn name(&self) -> &'static str {
        "fused-bigru"
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
        let d = rnn_dims(l1.dims(), l2.dims(), 3)?;
        if l3.dims() != [2, 2, 3 * d.h] {
            candle_core::bail!("fused GRU: bias shape {:?}", l3.dims());
        }
        let (x, w, bias) = (
            slice(s1, l1, "x")?,
            slice(s2, l2, "w")?,
            slice(s3, l3, "b")?,
        );
        let wsz = 3 * d.h * (d.i + d.h);
        let traces = both(self.threads, |k| {
            let wk = &w[k * wsz..][..wsz];
            let bk = &bias[k * 6 * d.h..][..6 * d.h];
            forward_direction(x, wk, bk, d, k == 1)
        });
        let y = scatter_outputs([&traces[0].hs, &traces[1].hs], d);
        if self.keep_trace {
            *self.trace.lock().expect("trace lock") = Some(traces);
        }
        Ok((CpuStorage::F32(y), Shape::from((d.b, d.t, 2 * d.h))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = rnn_dims(x.dims(), w.dims(), 3)?;
        let guard = self.trace.lock().expect("trace lock");
        let Some(traces) = guard.as_ref() else {
            candle_core::bail!("fused GRU: backward without a forward pass")
        };
        let xv: Vec<f32> = x.flatten_all()?.to_vec1()?;
        let wv: Vec<f32> = w.flatten_all()?.to_vec1()?;
        let dyv: Vec<f32> = dy.flatten_all()?.to_vec1()?;
        let wsz = 3 * d.h * (d.i + d.h);
        let [(dx0, dw0, db0), (dx1, dw1, db1)] = both(self.threads, |k| {
            let xs = gather_steps(&xv, d, k == 1);
            backward_direction(&traces[k], &xs, &dyv, &wv[k * wsz..][..wsz], d, k)
        });
        let dx = scatter_input_grads([&dx0, &dx1], d);
        let dev = &Device::Cpu;
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), dev)?),
            Some(Tensor::from_vec([dw0, dw1].concat(), w.shape(), dev)?),
            Some(Tensor::from_vec([db0, db1].concat(), b.shape(), dev)?),
        ))
    }
}

/// One bidirectional GRU layer: `x` is `B × T × I`; `w` is `2 × 3H × (I + H)` (per direction
/// `[W_ih | W_hh]`); `b` is `2 × 2 × 3H` (per direction `[b_ih, b_hh]`). Returns `B × T × 2H`.
/// f32 on the CPU only.
pub fn bigru_layer(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    if x.dtype() != DType::F32 || !x.device().is_cpu() {
        candle_core::bail!("fused GRU: f32 CPU tensors only");
    }
    let op = BiGru {
        threads: candle_core::utils::get_num_threads(),
        keep_trace: x.track_op() || w.track_op() || b.track_op(),
        trace: Mutex::new(None),
    };
    x.contiguous()?
        .apply_op3(&w.contiguous()?, &b.contiguous()?, op)
}
