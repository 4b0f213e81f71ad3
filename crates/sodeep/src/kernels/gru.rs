//! A fused bidirectional GRU layer (PyTorch semantics, gates r, z, n, with `r` gating
//! `W_hn h + b_hn`) as one candle op, built like the fused LSTM layer.

use candle_core::{Result, Tensor};

use super::birnn::{apply_birnn, gather_steps, input_and_weight_grads, Cell, Dims, DirectionGrads};
use super::linalg::{column_sums, contiguous, gemm, written_by, Mat};
use super::simd::{sigmoid, tanh, vectorized};

/// Activations of one direction in step order: per row `[r | z | n | W_hn h + b_hn]`
/// (`T·B × 4H`) and the outputs (`T·B × H`).
pub(crate) struct Trace {
    acts: Vec<f32>,
    hs: Vec<f32>,
}

/// The GRU cell for [`super::birnn::BiRnn`].
pub(crate) struct GruCell;

impl Cell for GruCell {
    const NAME: &'static str = "fused-bigru";
    const GATES: usize = 3;
    type Trace = Trace;

    fn bias_len(h: usize) -> usize {
        6 * h
    }

    fn forward(x: &[f32], w: &[f32], bias: &[f32], d: Dims, reverse: bool, _keep: bool) -> Trace {
        let (b, t, i, h) = (d.b, d.t, d.i, d.h);
        let g3 = 3 * h;
        let ld = i + h;
        let (b_ih, b_hh) = bias.split_at(g3);
        let xs = gather_steps(x, d, reverse);
        // b_ih is added in the gate pass rather than copied into every row first
        let w_ih_t = contiguous(Mat::rows(w, ld).t(), i, g3); // I × 3H
        let w_hh_t = contiguous(Mat::rows(w, ld).offset(i).t(), h, g3); // H × 3H
        let (w_ih_t, w_hh_t) = (Mat::rows(&w_ih_t, g3), Mat::rows(&w_hh_t, g3));
        // SAFETY: sizes match the buffers; the projection overwrites all of `gi`.
        let gi = unsafe {
            written_by(t * b * g3, |g| {
                gemm(t * b, g3, i, (g, g3), false, Mat::rows(&xs, i), w_ih_t)
            })
        };
        let mut acts = vec![0f32; t * b * 4 * h];
        let mut hs = vec![0f32; t * b * h];
        let mut gh = vec![0f32; b * g3];
        let zeros = vec![0f32; b * h];
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
            let h_prev = h_prev.unwrap_or(&zeros);
            let gis = &gi[s * b * g3..][..b * g3];
            let a = &mut acts[s * b * 4 * h..][..b * 4 * h];
            forward_gates(gis, b_ih, &gh, h_prev, a, &mut rest[..b * h], h);
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
        let zeros = vec![0f32; b * h];
        let w_hh = Mat::rows(w, ld).offset(i);
        for s in (0..t).rev() {
            let tt = d.time(s, k == 1);
            let a = &tr.acts[s * b * 4 * h..][..b * 4 * h];
            let h_prev = if s > 0 {
                &tr.hs[(s - 1) * b * h..][..b * h]
            } else {
                &zeros[..]
            };
            let rows = s * b * g3..(s + 1) * b * g3;
            backward_gates(
                a,
                h_prev,
                (dy, tt * 2 * h + k * h, t * 2 * h),
                (&mut dgi[rows.clone()], &mut dgh[rows]),
                &mut dh_next,
                h,
            );
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
        let (dxs, dw) = input_and_weight_grads((&dgi, &dgh), xs, &tr.hs, w, d, g3, weights);
        let db = if weights {
            [column_sums(&dgi, g3), column_sums(&dgh, g3)].concat()
        } else {
            Vec::new()
        };
        (dxs, dw, db)
    }
}

/// One bidirectional GRU layer: `x` is `B × T × I`; `w` is `2 × 3H × (I + H)` (per direction
/// `[W_ih | W_hh]`); `b` is `2 × 2 × 3H` (per direction `[b_ih, b_hh]`). Returns `B × T × 2H`.
/// f32 on the CPU only.
pub fn bigru_layer(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    apply_birnn::<GruCell>(x, w, b)
}

vectorized!(
    /// Gate math of one forward step for all `B` rows: `gi` (`B × 3H`, this step's input
    /// projections less `b_ih`) and `gh` (`B × 3H`, `W_hh h + b_hh`) give the new outputs `h_now`; `acts`
    /// gets `[r | z | n | W_hn h + b_hn]` per row for the backward pass.
    fn forward_gates = forward_gates_body(
        gi: &[f32],
        b_ih: &[f32],
        gh: &[f32],
        h_prev: &[f32],
        acts: &mut [f32],
        h_now: &mut [f32],
        h: usize,
    )
);

#[inline(always)]
fn forward_gates_body(
    gi: &[f32],
    b_ih: &[f32],
    gh: &[f32],
    h_prev: &[f32],
    acts: &mut [f32],
    h_now: &mut [f32],
    h: usize,
) {
    let rows = gi
        .chunks_exact(3 * h)
        .zip(gh.chunks_exact(3 * h))
        .zip(h_prev.chunks_exact(h))
        .zip(acts.chunks_exact_mut(4 * h).zip(h_now.chunks_exact_mut(h)));
    for (((gir, ghr), hp), (ar, hn)) in rows {
        let (gir, ghr) = (&gir[..3 * h], &ghr[..3 * h]);
        // one output slice per loop, so that each loop is vectorised (see the LSTM's gate pass)
        let (rz, rest) = ar.split_at_mut(2 * h);
        let (ar_n, ar_g) = rest.split_at_mut(h);
        for (j, v) in rz.iter_mut().enumerate() {
            *v = sigmoid(gir[j] + b_ih[j] + ghr[j]);
        }
        ar_g[..h].copy_from_slice(&ghr[2 * h..]);
        let (r, z) = rz.split_at(h);
        for (j, v) in ar_n.iter_mut().enumerate() {
            *v = tanh(gir[2 * h + j] + b_ih[2 * h + j] + r[j] * ghr[2 * h + j]);
        }
        for j in 0..h {
            hn[j] = ar_n[j] + z[j] * (hp[j] - ar_n[j]);
        }
    }
}

vectorized!(
    /// Gate gradients of one backward step for all `B` rows. `dy` is the layer's output
    /// gradient with this step's offset and row stride; `dh_next` enters as the gradient from
    /// later steps and leaves as its part through `z` (the recurrent GEMM adds the rest).
    fn backward_gates = backward_gates_body(
        acts: &[f32],
        h_prev: &[f32],
        dy: (&[f32], usize, usize),
        dg: (&mut [f32], &mut [f32]),
        dh_next: &mut [f32],
        h: usize,
    )
);

#[inline(always)]
fn backward_gates_body(
    acts: &[f32],
    h_prev: &[f32],
    (dy, dy_offset, dy_stride): (&[f32], usize, usize),
    (dgi, dgh): (&mut [f32], &mut [f32]),
    dh_next: &mut [f32],
    h: usize,
) {
    let rows = acts
        .chunks_exact(4 * h)
        .zip(h_prev.chunks_exact(h))
        .zip(dgi.chunks_exact_mut(3 * h).zip(dgh.chunks_exact_mut(3 * h)))
        .zip(dh_next.chunks_exact_mut(h));
    for (bi, (((ar, hp), (dgir, dghr)), dhn)) in rows.enumerate() {
        let dyr = &dy[bi * dy_stride + dy_offset..][..h];
        let (ar, dgir, dghr) = (&ar[..4 * h], &mut dgir[..3 * h], &mut dghr[..3 * h]);
        for j in 0..h {
            let (r, z, n, ghn) = (ar[j], ar[h + j], ar[2 * h + j], ar[3 * h + j]);
            let dh = dyr[j] + dhn[j];
            let dpn = dh * (1.0 - z) * (1.0 - n * n);
            let dpr = dpn * ghn * r * (1.0 - r);
            let dpz = dh * (hp[j] - n) * z * (1.0 - z);
            dgir[j] = dpr;
            dgir[h + j] = dpz;
            dgir[2 * h + j] = dpn;
            dghr[j] = dpr;
            dghr[h + j] = dpz;
            dghr[2 * h + j] = dpn * r;
            dhn[j] = dh * z;
        }
    }
}
