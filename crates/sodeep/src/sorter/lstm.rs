//! The paper's best sorter: a bidirectional LSTM over the d scores, then an affine map from the
//! whole `d × 2h` output to `d` ranks.
//!
//! Weight names and layouts are PyTorch's (`lstm.weight_ih_l0`, `..._reverse`, gates i, f, g, o;
//! `conv1` is PyTorch's `Conv1d(d, d, 2h)` applied with positions as channels), so checkpoints of
//! the reference implementation load unchanged.

use candle_core::{Module, Result, Tensor};
use candle_nn::{ops::sigmoid, VarBuilder};

use crate::card::Head;

/// Configuration of [`LstmSorter`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LstmSorterConfig {
    /// Vector length.
    pub d: usize,
    /// Hidden size of each direction (128 for `lstm`, 512 for `lstm-large`).
    pub hidden: usize,
    /// Number of stacked bidirectional layers (2 in the paper).
    pub layers: usize,
    /// Output head (the paper's is [`Head::Mixing`]).
    pub head: Head,
}

/// Weights of one direction of one layer.
#[derive(Debug, Clone)]
pub(crate) struct RnnDirection {
    pub w_ih: Tensor,
    pub w_hh: Tensor,
    pub b_ih: Tensor,
    pub b_hh: Tensor,
}

impl RnnDirection {
    /// Loads `weight_ih_l{layer}{suffix}` etc.; `gates` is 4 for the LSTM and 3 for the GRU.
    pub(crate) fn new(
        vb: &VarBuilder,
        layer: usize,
        reverse: bool,
        input: usize,
        hidden: usize,
        gates: usize,
    ) -> Result<Self> {
        let sfx = if reverse { "_reverse" } else { "" };
        Ok(Self {
            w_ih: vb.get((gates * hidden, input), &format!("weight_ih_l{layer}{sfx}"))?,
            w_hh: vb.get(
                (gates * hidden, hidden),
                &format!("weight_hh_l{layer}{sfx}"),
            )?,
            b_ih: vb.get(gates * hidden, &format!("bias_ih_l{layer}{sfx}"))?,
            b_hh: vb.get(gates * hidden, &format!("bias_hh_l{layer}{sfx}"))?,
        })
    }

    /// `x_t · W_ihᵀ + b_ih` for an input given as per-time pieces whose widths add up to the
    /// input size (the previous layer's forward and backward halves): slicing the weight instead
    /// of concatenating the input keeps the backward pass free of large zero-padded gradients.
    pub(crate) fn input_projection(&self, pieces: &[&Tensor]) -> Result<Tensor> {
        let mut offset = 0;
        let mut acc: Option<Tensor> = None;
        for p in pieces {
            let w = p.dim(1)?;
            // a column slice of w_ih, transposed, has strides no GPU matmul takes: candle's
            // CUDA backend needs each operand contiguous or a plain transpose of one
            let part = if w == 1 {
                p.broadcast_mul(&self.w_ih.narrow(1, offset, 1)?.t()?)?
            } else {
                p.matmul(&self.w_ih.narrow(1, offset, w)?.contiguous()?.t()?)?
            };
            acc = Some(match acc {
                None => part,
                Some(a) => (a + part)?,
            });
            offset += w;
        }
        acc.expect("at least one input piece")
            .broadcast_add(&self.b_ih)
    }
}

/// Runs one bidirectional layer. `inputs[t]` lists the pieces of the input at time `t`;
/// `cell(dir, x_proj, state)` advances one step and returns the new state, whose first tensor is
/// the output `h`. Returns the forward and backward outputs, each indexed by time.
pub(crate) fn run_bidirectional<S: Clone>(
    dirs: &[RnnDirection; 2],
    inputs: &[Vec<Tensor>],
    mut step: impl FnMut(&RnnDirection, &Tensor, Option<&S>) -> Result<S>,
    h_of: impl Fn(&S) -> Tensor,
) -> Result<[Vec<Tensor>; 2]> {
    let t_len = inputs.len();
    let mut outs: [Vec<Tensor>; 2] = [Vec::with_capacity(t_len), Vec::with_capacity(t_len)];
    for (k, dir) in dirs.iter().enumerate() {
        let mut state: Option<S> = None;
        let mut hs = vec![None; t_len];
        for s in 0..t_len {
            let t = if k == 0 { s } else { t_len - 1 - s };
            let pieces: Vec<&Tensor> = inputs[t].iter().collect();
            let xp = dir.input_projection(&pieces)?;
            let new = step(dir, &xp, state.as_ref())?;
            hs[t] = Some(h_of(&new));
            state = Some(new);
        }
        outs[k] = hs.into_iter().map(|h| h.expect("every step ran")).collect();
    }
    Ok(outs)
}

/// Splits a `B × T` tensor into `T` column tensors of shape `B × 1`.
pub(crate) fn columns(x: &Tensor) -> Result<Vec<Vec<Tensor>>> {
    let t_len = x.dim(1)?;
    (0..t_len).map(|t| Ok(vec![x.narrow(1, t, 1)?])).collect()
}

/// A bidirectional LSTM sorter.
#[derive(Debug, Clone)]
pub struct LstmSorter {
    config: LstmSorterConfig,
    layers: Vec<[RnnDirection; 2]>,
    conv_w: Tensor,
    conv_b: Tensor,
}

impl LstmSorter {
    /// Loads (or, with a `VarMap`-backed builder, creates) the weights.
    pub fn new(config: LstmSorterConfig, vb: VarBuilder) -> Result<Self> {
        let (d, h) = (config.d, config.hidden);
        let lvb = vb.pp("lstm");
        let mut layers = Vec::with_capacity(config.layers);
        for l in 0..config.layers {
            let input = if l == 0 { 1 } else { 2 * h };
            layers.push([
                RnnDirection::new(&lvb, l, false, input, h, 4)?,
                RnnDirection::new(&lvb, l, true, input, h, 4)?,
            ]);
        }
        let (conv_w, conv_b) = match config.head {
            Head::Mixing => (
                vb.get((d, d, 2 * h), "conv1.weight")?,
                vb.get(d, "conv1.bias")?,
            ),
            Head::Position => (vb.get((1, 2 * h), "head.weight")?, vb.get(1, "head.bias")?),
        };
        Ok(Self {
            config,
            layers,
            conv_w,
            conv_b,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &LstmSorterConfig {
        &self.config
    }

    /// One LSTM step: returns `(h, c)`.
    fn cell(
        dir: &RnnDirection,
        xp: &Tensor,
        state: Option<&(Tensor, Tensor)>,
    ) -> Result<(Tensor, Tensor)> {
        let hsz = dir.w_hh.dim(1)?;
        let gates = match state {
            Some((h, _)) => (xp + h.matmul(&dir.w_hh.t()?)?)?.broadcast_add(&dir.b_hh)?,
            None => xp.broadcast_add(&dir.b_hh)?,
        };
        let sig = sigmoid(&gates)?;
        let i = sig.narrow(1, 0, hsz)?;
        let f = sig.narrow(1, hsz, hsz)?;
        let g = gates.narrow(1, 2 * hsz, hsz)?.tanh()?;
        let o = sig.narrow(1, 3 * hsz, hsz)?;
        let c = match state {
            Some((_, c)) => ((f * c)? + (i * g)?)?,
            None => (i * g)?,
        };
        let h = (o * c.tanh()?)?;
        Ok((h, c))
    }

    /// The per-time outputs `[forward, backward]` of the stacked bidirectional LSTM.
    pub(crate) fn encode(&self, x: &Tensor) -> Result<[Vec<Tensor>; 2]> {
        let mut inputs = columns(x)?;
        let mut outs = None;
        for dirs in &self.layers {
            let o = run_bidirectional(dirs, &inputs, Self::cell, |s| s.0.clone())?;
            inputs = (0..o[0].len())
                .map(|t| vec![o[0][t].clone(), o[1][t].clone()])
                .collect();
            outs = Some(o);
        }
        Ok(outs.expect("at least one layer"))
    }
}

impl LstmSorter {
    /// The plain candle implementation, step by step: the reference the fused kernel is
    /// tested against, and the path for devices and dtypes the kernel does not cover.
    pub fn forward_reference(&self, x: &Tensor) -> Result<Tensor> {
        let [fwd, bwd] = self.encode(x)?;
        let per_t: Vec<Tensor> = fwd
            .iter()
            .zip(&bwd)
            .map(|(f, r)| Tensor::cat(&[f, r], 1))
            .collect::<Result<_>>()?;
        self.head(&Tensor::stack(&per_t, 1)?)
    }

    /// The fused path: one custom op per bidirectional layer.
    pub fn forward_fused(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.unsqueeze(2)?;
        for dirs in &self.layers {
            let w = Tensor::stack(
                &[
                    Tensor::cat(&[&dirs[0].w_ih, &dirs[0].w_hh], 1)?,
                    Tensor::cat(&[&dirs[1].w_ih, &dirs[1].w_hh], 1)?,
                ],
                0,
            )?;
            let b = Tensor::stack(
                &[
                    (&dirs[0].b_ih + &dirs[0].b_hh)?,
                    (&dirs[1].b_ih + &dirs[1].b_hh)?,
                ],
                0,
            )?;
            h = crate::kernels::lstm::bilstm_layer(&h, &w, &b)?;
        }
        self.head(&h)
    }

    /// The affine output layer on the `B × d × 2h` encoder output.
    fn head(&self, h: &Tensor) -> Result<Tensor> {
        let (b, d) = (h.dim(0)?, self.config.d);
        match self.config.head {
            Head::Mixing => {
                let w = self.conv_w.reshape((d, ()))?;
                h.reshape((b, ()))?
                    .matmul(&w.t()?)?
                    .broadcast_add(&self.conv_b)
            }
            Head::Position => h
                .reshape((b * d, ()))?
                .matmul(&self.conv_w.t()?)?
                .reshape((b, d))?
                .broadcast_add(&self.conv_b),
        }
    }
}

impl Module for LstmSorter {
    /// `x`: `B × d` scores → `B × d` predicted SoDeep ranks. Uses the fused kernel for f32 on
    /// the CPU, the reference implementation otherwise.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if crate::kernels::fused_applies(x) {
            self.forward_fused(x)
        } else {
            self.forward_reference(x)
        }
    }
}
