//! A bidirectional recurrent layer as one candle op ([`BiRnn`]): the two directions on two
//! threads, the layout changes between the layer's `B × T × I` tensors and the step-order
//! buffers of the cells, and the input and weight gradients every cell ends with. The cells
//! ([`super::lstm`], [`super::gru`]) supply the per-step math through [`Cell`].

use std::marker::PhantomData;
use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, Device, Layout, Result, Shape, Tensor};

use super::linalg::{gemm, written_by, Mat};
use super::storage::{fused_applies, read_f32, slice};

/// Sizes of a bidirectional recurrent layer: batch, time, input width, hidden size.
#[derive(Clone, Copy)]
pub(crate) struct Dims {
    pub b: usize,
    pub t: usize,
    pub i: usize,
    pub h: usize,
}

impl Dims {
    /// The time index of step `s` in the given direction.
    pub fn time(&self, s: usize, reverse: bool) -> usize {
        if reverse {
            self.t - 1 - s
        } else {
            s
        }
    }
}

/// Checks `x: B × T × I` and `w: 2 × gates·H × (I + H)` and returns the sizes.
pub(crate) fn rnn_dims(x: &[usize], w: &[usize], gates: usize) -> Result<Dims> {
    let ([b, t, i], [2, gh, ld]) = (x, w) else {
        candle_core::bail!("fused RNN: bad shapes x {x:?}, w {w:?}")
    };
    let h = gh / gates;
    if gh % gates != 0 || *ld != i + h || *t == 0 || h == 0 {
        candle_core::bail!("fused RNN: bad shapes x {x:?}, w {w:?}");
    }
    Ok(Dims {
        b: *b,
        t: *t,
        i: *i,
        h,
    })
}

/// Inputs of one direction gathered in step order: `T·B × I`.
pub(crate) fn gather_steps(x: &[f32], d: Dims, reverse: bool) -> Vec<f32> {
    let mut xs = Vec::with_capacity(d.t * d.b * d.i);
    for s in 0..d.t {
        let t = d.time(s, reverse);
        for bi in 0..d.b {
            xs.extend_from_slice(&x[(bi * d.t + t) * d.i..][..d.i]);
        }
    }
    xs
}

/// The layer output `B × T × 2H` from both directions' outputs in step order.
pub(crate) fn scatter_outputs(hs: [&[f32]; 2], d: Dims) -> Vec<f32> {
    let mut y = Vec::with_capacity(d.b * d.t * 2 * d.h);
    for bi in 0..d.b {
        for t in 0..d.t {
            for (k, h) in hs.iter().enumerate() {
                let s = d.time(t, k == 1);
                y.extend_from_slice(&h[(s * d.b + bi) * d.h..][..d.h]);
            }
        }
    }
    y
}

/// The input gradient `B × T × I`: the sum of both directions' step-order gradients.
pub(crate) fn scatter_input_grads([fwd, bwd]: [&[f32]; 2], d: Dims) -> Vec<f32> {
    let mut dx = Vec::with_capacity(d.b * d.t * d.i);
    for bi in 0..d.b {
        for t in 0..d.t {
            let a = &fwd[(t * d.b + bi) * d.i..][..d.i];
            let b = &bwd[(d.time(t, true) * d.b + bi) * d.i..][..d.i];
            dx.extend(a.iter().zip(b).map(|(u, v)| u + v));
        }
    }
    dx
}

/// The input and weight gradients every cell's backward pass ends with, given the gradients of
/// the pre-activations in step order: `dg_in` (`T·B × G·H`, through the input projection) and
/// `dg_h` (the same shape, through the recurrent product). Returns `dx = dg_in · W_ih` (step
/// order, `T·B × I`) and, when `weights` is set, `dW = [dg_inᵀ · x | dg_h,s≥1ᵀ · h_{s−1}]`
/// (`G·H × (I + H)`; empty otherwise). `xs` and `hs` are the inputs and outputs in step order.
pub(crate) fn input_and_weight_grads(
    (dg_in, dg_h): (&[f32], &[f32]),
    xs: &[f32],
    hs: &[f32],
    w: &[f32],
    d: Dims,
    gh: usize,
    weights: bool,
) -> (Vec<f32>, Vec<f32>) {
    let (b, t, i, h) = (d.b, d.t, d.i, d.h);
    let ld = i + h;
    let mut dw = Vec::new();
    if weights {
        // SAFETY: all sizes follow from the buffers' shapes above; the two products overwrite
        // the column blocks [0, I) and [I, I + H) of every row of dW, so all of it.
        dw = unsafe {
            written_by(gh * ld, |dw| {
                gemm(
                    gh,
                    i,
                    t * b,
                    (dw, ld),
                    false,
                    Mat::rows(dg_in, gh).t(),
                    Mat::rows(xs, i),
                );
                // h_{s−1} pairs with the gates of step s ≥ 1
                gemm(
                    gh,
                    h,
                    (t - 1) * b,
                    (dw.add(i), ld),
                    false,
                    Mat::rows(dg_h, gh).t().offset(b * gh),
                    Mat::rows(hs, h),
                );
            })
        };
    }
    // SAFETY: dg_in is T·B × G·H, W_ih is G·H × I; the product overwrites all of dxs.
    let dxs = unsafe {
        written_by(t * b * i, |dxs| {
            gemm(
                t * b,
                i,
                gh,
                (dxs, i),
                false,
                Mat::rows(dg_in, gh),
                Mat::rows(w, ld),
            )
        })
    };
    (dxs, dw)
}

/// Runs `f(0)` and `f(1)` (the two directions) on two threads when allowed, else in turn.
pub(crate) fn both<R: Send>(threads: usize, f: impl Fn(usize) -> R + Sync) -> [R; 2] {
    if threads >= 2 {
        std::thread::scope(|sc| {
            let back = sc.spawn(|| f(1));
            let fwd = f(0);
            [fwd, back.join().expect("RNN direction thread")]
        })
    } else {
        [f(0), f(1)]
    }
}

/// Gradients of one direction: input (step order, `T·B × I`), weights, biases.
pub(crate) type DirectionGrads = (Vec<f32>, Vec<f32>, Vec<f32>);

/// The per-direction math of a recurrent cell; [`BiRnn`] does the rest.
pub(crate) trait Cell: Send + Sync + 'static {
    /// Op name.
    const NAME: &'static str;
    /// Gates per hidden unit (4 for the LSTM, 3 for the GRU).
    const GATES: usize;
    /// Bias values per direction, for hidden size `h`.
    fn bias_len(h: usize) -> usize;
    /// Activations kept for the backward pass.
    type Trace: Send + Sync;
    /// Runs one direction over `x` (`B × T × I`); `w` is `[W_ih | W_hh]`. Unless `keep` is set
    /// (a backward pass can follow), the trace need only hold the outputs.
    fn forward(
        x: &[f32],
        w: &[f32],
        bias: &[f32],
        d: Dims,
        reverse: bool,
        keep: bool,
    ) -> Self::Trace;
    /// The outputs `h` in step order (`T·B × H`).
    fn outputs(tr: &Self::Trace) -> &[f32];
    /// Back-propagates one direction `k` given the layer's output gradient `dy`; the weight and
    /// bias gradients are left empty, and `xs` (the inputs in step order) is empty, unless
    /// `weights` is set.
    fn backward(
        tr: &Self::Trace,
        xs: &[f32],
        dy: &[f32],
        w: &[f32],
        d: Dims,
        k: usize,
        weights: bool,
    ) -> DirectionGrads;
}

/// A bidirectional recurrent layer as one custom op:
/// `(x: B × T × I, w: 2 × G·H × (I + H), b: 2 × …) → y: B × T × 2H`.
pub(crate) struct BiRnn<C: Cell> {
    threads: usize,
    /// Whether a backward pass can follow; inference keeps no activations.
    keep_trace: bool,
    /// Whether the weights need gradients; a frozen sorter inside a loss needs only the
    /// input's, which saves the two weight-gradient GEMMs.
    weight_grads: bool,
    trace: Mutex<Option<[C::Trace; 2]>>,
    cell: PhantomData<C>,
}

impl<C: Cell> BiRnn<C> {
    fn dims(x: &[usize], w: &[usize], b: &[usize]) -> Result<Dims> {
        let d = rnn_dims(x, w, C::GATES)?;
        if b.iter().product::<usize>() != 2 * C::bias_len(d.h) || b.first() != Some(&2) {
            candle_core::bail!("{}: bias shape {b:?}", C::NAME);
        }
        Ok(d)
    }
}

impl<C: Cell> CustomOp3 for BiRnn<C> {
    fn name(&self) -> &'static str {
        C::NAME
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
        let d = Self::dims(l1.dims(), l2.dims(), l3.dims())?;
        let (x, w, bias) = (
            slice(s1, l1, "x")?,
            slice(s2, l2, "w")?,
            slice(s3, l3, "b")?,
        );
        let (wsz, bsz) = (C::GATES * d.h * (d.i + d.h), C::bias_len(d.h));
        let traces = both(self.threads, |k| {
            let (wk, bk) = (&w[k * wsz..][..wsz], &bias[k * bsz..][..bsz]);
            C::forward(x, wk, bk, d, k == 1, self.keep_trace)
        });
        let y = scatter_outputs([C::outputs(&traces[0]), C::outputs(&traces[1])], d);
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
        let d = Self::dims(x.dims(), w.dims(), b.dims())?;
        let guard = self.trace.lock().expect("trace lock");
        let Some(traces) = guard.as_ref() else {
            candle_core::bail!("{}: backward without a forward pass", C::NAME)
        };
        let (x, w, dy) = (x.contiguous()?, w.contiguous()?, dy.contiguous()?);
        let (xv, wv, dyv) = (read_f32(&x)?, read_f32(&w)?, read_f32(&dy)?);
        let (xv, wv, dyv) = (xv.get(), wv.get(), dyv.get());
        let wsz = C::GATES * d.h * (d.i + d.h);
        let [(dx0, dw0, db0), (dx1, dw1, db1)] = both(self.threads, |k| {
            // the inputs only serve the weight gradients: a frozen layer skips gathering them
            let xs = if self.weight_grads {
                gather_steps(xv, d, k == 1)
            } else {
                Vec::new()
            };
            let wk = &wv[k * wsz..][..wsz];
            C::backward(&traces[k], &xs, dyv, wk, d, k, self.weight_grads)
        });
        let dx = scatter_input_grads([&dx0, &dx1], d);
        let dev = &Device::Cpu;
        let (dw, db) = if self.weight_grads {
            (
                Some(Tensor::from_vec([dw0, dw1].concat(), w.shape(), dev)?),
                Some(Tensor::from_vec([db0, db1].concat(), b.shape(), dev)?),
            )
        } else {
            (None, None)
        };
        Ok((Some(Tensor::from_vec(dx, x.shape(), dev)?), dw, db))
    }
}

/// Applies the fused layer of cell `C` (f32 on the CPU only).
pub(crate) fn apply_birnn<C: Cell>(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    if !fused_applies(x) {
        candle_core::bail!("{}: f32 CPU tensors only", C::NAME);
    }
    let op = BiRnn::<C> {
        threads: candle_core::utils::get_num_threads(),
        keep_trace: x.track_op() || w.track_op() || b.track_op(),
        weight_grads: w.track_op() || b.track_op(),
        trace: Mutex::new(None),
        cell: PhantomData,
    };
    x.contiguous()?
        .apply_op3(&w.contiguous()?, &b.contiguous()?, op)
}
