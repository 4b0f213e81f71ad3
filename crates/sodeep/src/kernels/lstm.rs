//! A fused bidirectional LSTM layer (PyTorch semantics, gates i, f, g, o) as one candle op.
//!
//! Forward, per direction: one GEMM projects the inputs of all time steps, then each step does
//! one recurrent GEMM for all four gates and one pass of fused gate math. The activations are
//! kept in the op for the backward pass, which runs back-propagation through time with one
//! GEMM per step and three large GEMMs for the weight and input gradients. The two directions
//! run on two threads when more than one is allowed.

use std::mem::MaybeUninit;

use candle_core::{Result, Tensor};

use super::birnn::{apply_birnn, input_and_weight_grads, Cell, Dims, DirectionGrads};
use super::linalg::{column_sums, contiguous, gemm, written_by, Mat};
use super::simd::{sigmoid, tanh, vectorized};

/// Activations of one direction, in step order (step `s` is time `s` forward, `T − 1 − s`
/// backward): post-activation gates (`T·B × 4H`), cells and outputs (`T·B × H`).
pub(crate) struct Trace {
    gates: Vec<f32>,
    cells: Vec<f32>,
    hs: Vec<f32>,
}

/// The LSTM cell for [`super::birnn::BiRnn`].
pub(crate) struct LstmCell;

impl Cell for LstmCell {
    const NAME: &'static str = "fused-bilstm";
    const GATES: usize = 4;
    type Trace = Trace;

    fn bias_len(h: usize) -> usize {
        4 * h
    }

    fn forward(x: &[f32], w: &[f32], bias: &[f32], d: Dims, reverse: bool, keep: bool) -> Trace {
        let (b, t, i, h) = (d.b, d.t, d.i, d.h);
        let g4 = 4 * h;
        let ld = i + h;
        let w_ih_t = contiguous(Mat::rows(w, ld).t(), i, g4); // I × 4H
        let w_hh_t = contiguous(Mat::rows(w, ld).offset(i).t(), h, g4); // H × 4H
        let (w_ih_t, w_hh_t) = (Mat::rows(&w_ih_t, g4), Mat::rows(&w_hh_t, g4));
        // Inference keeps one block of gates and two of cells, reused, instead of all T steps'.
        let block = |s: usize| if keep { s } else { s % 2 };
        let gate_blocks = if keep { t } else { 1 };
        let mut cells = vec![0f32; if keep { t } else { 2.min(t) } * b * h];
        let mut hs = vec![0f32; t * b * h];
        let zeros = vec![0f32; b * h];
        // Each step projects its own inputs (read in place from x, row stride T·I) and adds the
        // recurrent product, so the step's gates are still in cache for the gate pass; one
        // projection of all steps up front left them to be streamed back from memory. The bias is
        // added in the gate pass rather than copied into every row first.
        // SAFETY: step s's two products overwrite its B × 4H block of `gates` before the gate
        // pass reads it, and the blocks of all kept steps make up the buffer.
        let gates = unsafe {
            written_by(gate_blocks * b * g4, |gates| {
                for s in 0..t {
                    let g = gates.add(if keep { s * b * g4 } else { 0 });
                    let x_s = Mat {
                        ptr: x.as_ptr().add(d.time(s, reverse) * i),
                        rs: (t * i) as isize,
                        cs: 1,
                    };
                    gemm(b, g4, i, (g, g4), false, x_s, w_ih_t);
                    let (done_h, rest_h) = hs.split_at_mut(s * b * h);
                    if s > 0 {
                        let h_prev = &done_h[(s - 1) * b * h..];
                        gemm(b, g4, h, (g, g4), true, Mat::rows(h_prev, h), w_hh_t);
                    }
                    let bh = b * h;
                    let (c_prev, c_now): (&[f32], &mut [f32]) = if s == 0 {
                        (&zeros[..], &mut cells[..bh])
                    } else {
                        let (p, n) = (block(s - 1), block(s));
                        if p < n {
                            let (lo, hi) = cells.split_at_mut(n * bh);
                            (&lo[p * bh..][..bh], &mut hi[..bh])
                        } else {
                            let (lo, hi) = cells.split_at_mut(p * bh);
                            (&hi[..bh], &mut lo[n * bh..][..bh])
                        }
                    };
                    forward_gates(
                        std::slice::from_raw_parts_mut(g, b * g4),
                        bias,
                        c_prev,
                        c_now,
                        &mut rest_h[..bh],
                        h,
                    );
                }
            })
        };
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
        let mut dh_next = vec![0f32; b * h];
        let mut dc_next = vec![0f32; b * h];
        let zeros = vec![0f32; b * h];
        let w_hh = contiguous(Mat::rows(w, ld).offset(i), g4, h); // 4H × H
                                                                  // SAFETY: the gate pass of step s writes all of its B × 4H block of `dg` before the
                                                                  // recurrent product reads it, and the blocks of all T steps make up the buffer.
        let dg = unsafe {
            written_by(t * b * g4, |dg| {
                for s in (0..t).rev() {
                    let tt = d.time(s, reverse);
                    let gates = &tr.gates[s * b * g4..][..b * g4];
                    let cells = &tr.cells[s * b * h..][..b * h];
                    let c_prev = if s > 0 {
                        &tr.cells[(s - 1) * b * h..][..b * h]
                    } else {
                        &zeros[..]
                    };
                    let dgs = dg.add(s * b * g4);
                    backward_gates(
                        BackwardStep {
                            gates,
                            cells,
                            c_prev,
                            dy,
                            dy_offset: tt * 2 * h + k * h,
                            dy_stride: t * 2 * h,
                        },
                        std::slice::from_raw_parts_mut(dgs.cast::<MaybeUninit<f32>>(), b * g4),
                        &dh_next,
                        &mut dc_next,
                        h,
                    );
                    if s > 0 {
                        let dgs = std::slice::from_raw_parts(dgs, b * g4);
                        gemm(
                            b,
                            h,
                            g4,
                            (dh_next.as_mut_ptr(), h),
                            false,
                            Mat::rows(dgs, g4),
                            Mat::rows(&w_hh, h),
                        );
                    }
                }
            })
        };
        let (dxs, dw) = input_and_weight_grads((&dg, &dg), xs, &tr.hs, w, d, g4, weights);
        let db = if weights {
            column_sums(&dg, g4)
        } else {
            Vec::new()
        };
        (dxs, dw, db)
    }
}

/// One bidirectional LSTM layer: `x` is `B × T × I`; `w` is `2 × 4H × (I + H)` (per direction
/// `[W_ih | W_hh]`); `b` is `2 × 4H` (per direction `b_ih + b_hh`). Returns `B × T × 2H`, the
/// forward direction's outputs first, as PyTorch does. f32 on the CPU only.
pub fn bilstm_layer(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    apply_birnn::<LstmCell>(x, w, b)
}

vectorized!(
    /// Gate math of one forward step for all `B` rows: `g` holds the pre-activations
    /// `[i | f | g | o]` per row, less the bias, and is overwritten with the activations;
    /// writes `c` and `h`.
    fn forward_gates = forward_gates_body(
        g: &mut [f32],
        bias: &[f32],
        c_prev: &[f32],
        c_now: &mut [f32],
        h_now: &mut [f32],
        h: usize,
    )
);

#[inline(always)]
fn forward_gates_body(
    g: &mut [f32],
    bias: &[f32],
    c_prev: &[f32],
    c_now: &mut [f32],
    h_now: &mut [f32],
    h: usize,
) {
    let rows = g
        .chunks_exact_mut(4 * h)
        .zip(c_prev.chunks_exact(h))
        .zip(c_now.chunks_exact_mut(h).zip(h_now.chunks_exact_mut(h)));
    // Each loop writes through one pointer only: loops that write several slices of the same
    // buffer are not vectorised, since the compiler cannot rule out their overlap.
    for ((gr, cp), (cn, hn)) in rows {
        let (ifg, rest) = gr.split_at_mut(2 * h);
        let (gg, go) = rest.split_at_mut(h);
        let (b_if, rest) = bias.split_at(2 * h);
        let (b_g, b_o) = rest.split_at(h);
        for (v, b) in ifg.iter_mut().zip(b_if) {
            *v = sigmoid(*v + b);
        }
        for (v, b) in go.iter_mut().zip(b_o) {
            *v = sigmoid(*v + b);
        }
        for (v, b) in gg.iter_mut().zip(b_g) {
            *v = tanh(*v + b);
        }
        let (gi, gf, gg, go) = (&ifg[..h], &ifg[h..2 * h], &gg[..h], &go[..h]);
        for j in 0..h {
            cn[j] = gf[j] * cp[j] + gi[j] * gg[j];
        }
        for j in 0..h {
            hn[j] = go[j] * tanh(cn[j]);
        }
    }
}

/// What one backward step reads: the step's activations, the previous cells, and the layer's
/// output gradient (`B × T × 2H`) with this step's offset and the row stride.
struct BackwardStep<'a> {
    gates: &'a [f32],
    cells: &'a [f32],
    c_prev: &'a [f32],
    dy: &'a [f32],
    dy_offset: usize,
    dy_stride: usize,
}

vectorized!(
    /// Gate gradients of one backward step for all `B` rows; `dh_next` (the recurrent
    /// gradient, read) and `dc_next` (read and overwritten) carry the state between steps.
    fn backward_gates = backward_gates_body(
        st: BackwardStep,
        dg: &mut [MaybeUninit<f32>],
        dh_next: &[f32],
        dc_next: &mut [f32],
        h: usize,
    )
);

#[inline(always)]
fn backward_gates_body(
    st: BackwardStep,
    dg: &mut [MaybeUninit<f32>],
    dh_next: &[f32],
    dc_next: &mut [f32],
    h: usize,
) {
    let rows = st
        .gates
        .chunks_exact(4 * h)
        .zip(st.cells.chunks_exact(h).zip(st.c_prev.chunks_exact(h)))
        .zip(dg.chunks_exact_mut(4 * h))
        .zip(dh_next.chunks_exact(h).zip(dc_next.chunks_exact_mut(h)));
    for (bi, (((gr, (cr, cp)), dgr), (dhn, dcn))) in rows.enumerate() {
        let dyr = &st.dy[bi * st.dy_stride + st.dy_offset..][..h];
        let (gi, rest) = gr.split_at(h);
        let (gf, rest) = rest.split_at(h);
        let (gg, go) = rest.split_at(h);
        let (di, rest) = dgr.split_at_mut(h);
        let (df, rest) = rest.split_at_mut(h);
        let (dgg, dog) = rest.split_at_mut(h);
        let (go, dog) = (&go[..h], &mut dog[..h]);
        for j in 0..h {
            let (ig, fg, g, og) = (gi[j], gf[j], gg[j], go[j]);
            let tc = tanh(cr[j]);
            let dh = dyr[j] + dhn[j];
            let dc = dh * og * (1.0 - tc * tc) + dcn[j];
            di[j] = MaybeUninit::new(dc * g * ig * (1.0 - ig));
            df[j] = MaybeUninit::new(dc * cp[j] * fg * (1.0 - fg));
            dgg[j] = MaybeUninit::new(dc * ig * (1.0 - g * g));
            dog[j] = MaybeUninit::new(dh * tc * og * (1.0 - og));
            dcn[j] = dc * fg;
        }
    }
}
