//! A fused bidirectional GRU layer (PyTorch semantics, gates r, z, n, with `r` gating
//! `W_hn h + b_hn`) as one candle op, built like the fused LSTM layer.

use candle_core::{Result, Tensor};

use super::{apply_birnn, gather_steps, gemm, sigmoid, Cell, Dims, DirectionGrads, Mat};

/// Activations of one direction in step order: per row `[r | z | n | W_hn h + b_hn]`
/// (`T·B × 4H`) and the outputs (`T·B × H`).
pub(crate) struct Trace {
    acts: Vec<f32>,
    hs: Vec<f32>,
}

/// The GRU cell for [`super::BiRnn`].
pub(crate) struct GruCell;

impl Cell for GruCell {
    const NAME: &'static str = "fused-bigru";
    const GATES: usize = 3;
    type Trace = Trace;

    fn bias_len(h: usize) -> usize {
        6 * h
    }

    fn forward(x: &[f32], w: &[f32], bias: &[f32], d: Dims, reverse: bool) -> Trace {
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

    fn outputs(tr: &Trace) -> &[f32] {
        &tr.hs
    }

    /// Gradients of one direction: `(dx in step order, dW 3H × (I + H), [db_ih, db_hh] 6H)`.
    fn backward(
        tr: &Trace,
        xs: &[f32],
        dy: &[f32],
        w: &[f32],
        d: Dims,
        k: usize,
        weights: bool,
    ) -> DirectionGrads {
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
        let (dw, db) = if weights {
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
            (dw, db)
        } else {
            (Vec::new(), Vec::new())
        };
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
}

/// One bidirectional GRU layer: `x` is `B × T × I`; `w` is `2 × 3H × (I + H)` (per direction
/// `[W_ih | W_hh]`); `b` is `2 × 2 × 3H` (per direction `[b_ih, b_hh]`). Returns `B × T × 2H`.
/// f32 on the CPU only.
pub fn bigru_layer(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    apply_birnn::<GruCell>(x, w, b)
}
