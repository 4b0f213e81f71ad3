//! A bidirectional multi-layer GRU sorter: the scores pass through `sigmoid(x/2 + 1)`, and each
//! position's rank is the sigmoid of the sum of its `2h` output features.
//!
//! Weight names and layouts are PyTorch's `nn.GRU` (`rnn.weight_ih_l0`, gates r, z, n).

use candle_core::{Module, Result, Tensor};
use candle_nn::{ops::sigmoid, VarBuilder};

use super::lstm::{columns, run_bidirectional, RnnDirection};

/// Configuration of [`GruSorter`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GruSorterConfig {
    /// Vector length.
    pub d: usize,
    /// Hidden size of each direction.
    pub hidden: usize,
    /// Number of stacked bidirectional layers.
    pub layers: usize,
}

/// A bidirectional GRU sorter.
#[derive(Debug, Clone)]
pub struct GruSorter {
    config: GruSorterConfig,
    layers: Vec<[RnnDirection; 2]>,
}

impl GruSorter {
    /// Loads or creates the weights under `rnn.`.
    pub fn new(config: GruSorterConfig, vb: VarBuilder) -> Result<Self> {
        let h = config.hidden;
        let rvb = vb.pp("rnn");
        let mut layers = Vec::with_capacity(config.layers);
        for l in 0..config.layers {
            let input = if l == 0 { 1 } else { 2 * h };
            layers.push([
                RnnDirection::new(&rvb, l, false, input, h, 3)?,
                RnnDirection::new(&rvb, l, true, input, h, 3)?,
            ]);
        }
        Ok(Self { config, layers })
    }

    /// The configuration.
    pub fn config(&self) -> &GruSorterConfig {
        &self.config
    }

    /// One GRU step (PyTorch's formulation, where `r` gates `W_hn h + b_hn`).
    fn cell(dir: &RnnDirection, xp: &Tensor, state: Option<&Tensor>) -> Result<Tensor> {
        let hsz = dir.w_hh.dim(1)?;
        let gh = match state {
            Some(h) => h.matmul(&dir.w_hh.t()?)?.broadcast_add(&dir.b_hh)?,
            None => dir.b_hh.unsqueeze(0)?.broadcast_as(xp.shape())?,
        };
        let rz = sigmoid(&(xp.narrow(1, 0, 2 * hsz)? + gh.narrow(1, 0, 2 * hsz)?)?)?;
        let r = rz.narrow(1, 0, hsz)?;
        let z = rz.narrow(1, hsz, hsz)?;
        let n = (xp.narrow(1, 2 * hsz, hsz)? + (r * gh.narrow(1, 2 * hsz, hsz)?)?)?.tanh()?;
        match state {
            // h' = (1 - z) n + z h = n + z (h - n)
            Some(h) => &n + (z * (h - &n)?)?,
            None => &n - (z * &n)?,
        }
    }
}

impl GruSorter {
    /// The plain candle implementation, step by step: the reference the fused kernel is
    /// tested against, and the path for devices and dtypes the kernel does not cover.
    pub fn forward_reference(&self, x: &Tensor) -> Result<Tensor> {
        let squashed = sigmoid(&((x * 0.5)? + 1.0)?)?;
        let mut inputs = columns(&squashed)?;
        let mut last = None;
        for dirs in &self.layers {
            let o = run_bidirectional(dirs, &inputs, Self::cell, |h| h.clone())?;
            inputs = (0..o[0].len())
                .map(|t| vec![o[0][t].clone(), o[1][t].clone()])
                .collect();
            last = Some(o);
        }
        let [fwd, bwd] = last.expect("at least one layer");
        let per_t: Vec<Tensor> = fwd
            .iter()
            .zip(&bwd)
            .map(|(f, r)| f.sum_keepdim(1)? + r.sum_keepdim(1)?)
            .collect::<Result<_>>()?;
        sigmoid(&Tensor::cat(&per_t, 1)?)
    }

    /// The fused path: one custom op per bidirectional layer.
    pub fn forward_fused(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = sigmoid(&((x * 0.5)? + 1.0)?)?.unsqueeze(2)?;
        for dirs in &self.layers {
            let cat = |k: usize| Tensor::cat(&[&dirs[k].w_ih, &dirs[k].w_hh], 1);
            let w = Tensor::stack(&[cat(0)?, cat(1)?], 0)?;
            let bias = |k: usize| Tensor::stack(&[&dirs[k].b_ih, &dirs[k].b_hh], 0);
            let b = Tensor::stack(&[bias(0)?, bias(1)?], 0)?;
            h = crate::kernels::gru::bigru_layer(&h, &w, &b)?;
        }
        sigmoid(&h.sum(2)?)
    }
}

impl Module for GruSorter {
    /// `x`: `B × d` scores → `B × d` predicted ranks in (0, 1). Uses the fused kernel for f32
    /// on the CPU, the reference implementation otherwise.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if crate::kernels::fused_applies(x) {
            self.forward_fused(x)
        } else {
            self.forward_reference(x)
        }
    }
}
