//! A fused bidirectional LSTM layer (PyTorch semantics, gates i, f, g, o) as one candle op.
//!
//! Forward, per direction: one GEMM projects the inputs of all time steps, then each step does
//! one recurrent GEMM for all four gates and one pass of fused gate math. The activations are
//! kept in the op for the backward pass, which runs back-propagation through time with one
//! GEMM per step and three large GEMMs for the weight and input gradients. The two directions
//! run on two threads when more than one is allowed.

use candle_core::{Result, Tensor};

use super::{apply_birnn, gather_steps, gemm, sigmoid, Cell, Dims, DirectionGrads, Mat};

/// Activations of one direction, in step order (step `s` is time `s` forward, `T − 1 − s`
/// backward): post-activation gates (`T·B × 4H`), cells and outputs (`T·B × H`).
pub(crate) struct Trace {
    gates: Vec<f32>,
    cells: Vec<f32>,
    hs: Vec<f32>,
}

/// The LSTM cell for [`super::BiRnn`].
pub(crate) struct LstmCell;

impl Cell for LstmCell {
    const NAME: &'static str = "fused-bilstm";
    const GATES: usize = 4;
    type Trace = Trace;

    fn bias_len(h: usize) -> usize {
        4 * h
    }

    fn forward(x: &[f32], w: &[f32], bias: &[f32], d: Dims, reverse: bool) -> Trace {
        let (b, t, i, h) = (d.b, d.t, d.i, d.h);
        let g4 = 4 * h;
        let ld = i + h;
        let xs = gather_steps(x, d, reverse);
        let mut gates = vec![0f32; t * b * g4];
        for row in gates.chunks_mut(g4) {
            row.copy_from_slice(bias);
        }
        let w_ih_t = Mat::rows(w, ld).t(); // I × 4H
        let w_hh_t = Mat::rows(w, ld).offset(i).t(); // H × 4H
                                                     // SAFETY: sizes match the buffers above.
        unsafe {
            gemm(
                t * b,
                g4,
                i,
                (gates.as_mut_ptr(), g4),
                true,
                Mat::rows(&xs, i),
                w_ih_t,
            );
        }
        let mut cells = vec![0f32; t * b * h];
        let mut hs = vec![0f32; t * b * h];
        for s in 0..t {
            let (done_h, rest_h) = hs.split_at_mut(s * b * h);
            let g = &mut gates[s * b * g4..][..b * g4];
            if s > 0 {
                let h_prev = &done_h[(s - 1) * b * h..];
                // SAFETY: g is B × 4H, h_prev is B × H.
                unsafe {
                    gemm(
                        b,
                        g4,
                        h,
                        (g.as_mut_ptr(), g4),
                        true,
                        Mat::rows(h_prev, h),
                        w_hh_t,
                    )
                };
            }
            let (done_c, rest_c) = cells.split_at_mut(s * b * h);
            let c_prev = (s > 0).then(|| &done_c[(s - 1) * b * h..][..b * h]);
            let c_now = &mut rest_c[..b * h];
            let h_now = &mut rest_h[..b * h];
            for bi in 0..b {
                let gr = &mut g[bi * g4..][..g4];
                for j in 0..h {
                    let ig = sigmoid(gr[j]);
                    let fg = sigmoid(gr[h + j]);
                    let gg = gr[2 * h + j].tanh();
                    let og = sigmoid(gr[3 * h + j]);
                    let cp = c_prev.map_or(0.0, |c| c[bi * h + j]);
                    let c = fg * cp + ig * gg;
                    gr[j] = ig;
                    gr[h + j] = fg;
                    gr[2 * h + j] = gg;
                    gr[3 * h + j] = og;
                    c_now[bi * h + j] = c;
                    h_now[bi * h + j] = og * c.tanh();
                }
            }
        }
        Trace { gates, cells, hs }
    }

    fn outputs(tr: &Trace) -> &[f32] {
        &tr.hs
    }

    /// Gradients of one direction: `(dx in step order T·B × I, dW 4H × (I + H), db 4H)`.
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
        let g4 = 4 * h;
        let ld = i + h;
        let reverse = k == 1;
        let mut dg = vec![0f32; t * b * g4];
        let mut dh_next = vec![0f32; b * h];
        let mut dc_next = vec![0f32; b * h];
        let w_hh = Mat::rows(w, ld).offset(i); // 4H × H
        for s in (0..t).rev() {
            let tt = d.time(s, reverse);
            let gates = &tr.gates[s * b * g4..][..b * g4];
            let cells = &tr.cells[s * b * h..][..b * h];
            let c_prev = (s > 0).then(|| &tr.cells[(s - 1) * b * h..][..b * h]);
            let dgs = &mut dg[s * b * g4..][..b * g4];
            for bi in 0..b {
                let gr = &gates[bi * g4..][..g4];
                let dyr = &dy[(bi * t + tt) * 2 * h + k * h..][..h];
                let dgr = &mut dgs[bi * g4..][..g4];
                for j in 0..h {
                    let (ig, fg, gg, og) = (gr[j], gr[h + j], gr[2 * h + j], gr[3 * h + j]);
                    let c = cells[bi * h + j];
                    let tc = c.tanh();
                    let dh = dyr[j] + dh_next[bi * h + j];
                    let dc = dh * og * (1.0 - tc * tc) + dc_next[bi * h + j];
                    let cp = c_prev.map_or(0.0, |cp| cp[bi * h + j]);
                    dgr[j] = dc * gg * ig * (1.0 - ig);
                    dgr[h + j] = dc * cp * fg * (1.0 - fg);
                    dgr[2 * h + j] = dc * ig * (1.0 - gg * gg);
                    dgr[3 * h + j] = dh * tc * og * (1.0 - og);
                    dc_next[bi * h + j] = dc * fg;
                }
            }
            if s > 0 {
                // SAFETY: dgs is B × 4H, w_hh is 4H × H, dh_next is B × H.
                unsafe {
                    gemm(
                        b,
                        h,
                        g4,
                        (dh_next.as_mut_ptr(), h),
                        false,
                        Mat::rows(dgs, g4),
                        w_hh,
                    );
                }
            }
        }
        let (dw, db) = if weights {
            let mut dw = vec![0f32; g4 * ld];
            let dg_t = Mat::rows(&dg, g4).t(); // 4H × T·B
                                               // SAFETY: all sizes follow from the buffers above.
            unsafe {
                gemm(
                    g4,
                    i,
                    t * b,
                    (dw.as_mut_ptr(), ld),
                    false,
                    dg_t,
                    Mat::rows(xs, i),
                );
                // h_{s−1} pairs with the gates of step s ≥ 1
                gemm(
                    g4,
                    h,
                    (t - 1) * b,
                    (dw.as_mut_ptr().add(i), ld),
                    false,
                    dg_t.offset(b * g4),
                    Mat::rows(&tr.hs, h),
                );
            }
            let mut db = vec![0f32; g4];
            for row in dg.chunks(g4) {
                for (a, v) in db.iter_mut().zip(row) {
                    *a += v;
                }
            }
            (dw, db)
        } else {
            (Vec::new(), Vec::new())
        };
        let mut dxs = vec![0f32; t * b * i];
        // SAFETY: dg is T·B × 4H, W_ih is 4H × I.
        unsafe {
            gemm(
                t * b,
                i,
                g4,
                (dxs.as_mut_ptr(), i),
                false,
                Mat::rows(&dg, g4),
                Mat::rows(w, ld),
            );
        }
        (dxs, dw, db)
    }
}

/// One bidirectional LSTM layer: `x` is `B × T × I`; `w` is `2 × 4H × (I + H)` (per direction
/// `[W_ih | W_hh]`); `b` is `2 × 4H` (per direction `b_ih + b_hh`). Returns `B × T × 2H`, the
/// forward direction's outputs first, as PyTorch does. f32 on the CPU only.
pub fn bilstm_layer(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    apply_birnn::<LstmCell>(x, w, b)
}
