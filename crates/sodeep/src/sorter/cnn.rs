//! A 1-D CNN sorter: 8 blocks of dilated Conv1d + BatchNorm + ReLU over the d positions, the last
//! block with d channels, then an affine map over the channels at each position.
//!
//! The paper gives no layer sizes, so this design is ours: the dilations double at each block
//! (scaled up for long vectors) so that every position sees the whole vector, which ranking
//! needs; the middle blocks are residual; the last block has one channel per possible rank.
//! (An unpadded variant whose blocks shrink the length, read by one affine layer over the whole
//! last feature map, trained slower in a 150-step trial: loss 0.28 against 0.17.)

use candle_core::{Module, ModuleT, Result, Tensor};
use candle_nn::{batch_norm, conv1d, BatchNorm, BatchNormConfig, Conv1d, Conv1dConfig, VarBuilder};

/// Number of conv blocks.
pub const CNN_BLOCKS: usize = 8;

/// Configuration of [`CnnSorter`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CnnSorterConfig {
    /// Vector length (also the channel count of the last block).
    pub d: usize,
    /// Channels of the first seven blocks.
    pub channels: usize,
}

impl CnnSorterConfig {
    /// Dilation of each block: `s·2^k` for the first seven (with `s` large enough that the
    /// receptive field spans `2d − 1` positions), 1 for the last.
    pub fn dilations(&self) -> [usize; CNN_BLOCKS] {
        let reach_unit = 2 * ((1 << (CNN_BLOCKS - 1)) - 1) + 2; // receptive field - 1 at s = 1
        let s = (2 * self.d.saturating_sub(1)).div_ceil(reach_unit).max(1);
        let mut out = [1; CNN_BLOCKS];
        for (k, o) in out.iter_mut().take(CNN_BLOCKS - 1).enumerate() {
            *o = s << k;
        }
        out
    }
}

/// A dilated-CNN sorter.
#[derive(Debug, Clone)]
pub struct CnnSorter {
    config: CnnSorterConfig,
    blocks: Vec<(usize, Conv1d, BatchNorm)>,
    head: Conv1d,
}

impl CnnSorter {
    /// Loads or creates the weights (`blocks.K.conv`, `blocks.K.bn`, `head`).
    pub fn new(config: CnnSorterConfig, vb: VarBuilder) -> Result<Self> {
        let dil = config.dilations();
        let mut blocks = Vec::with_capacity(CNN_BLOCKS);
        for (k, &dilation) in dil.iter().enumerate() {
            let cin = if k == 0 { 1 } else { config.channels };
            let cout = if k + 1 == CNN_BLOCKS {
                config.d
            } else {
                config.channels
            };
            // Padding is applied to the input rather than by the convolution: candle's
            // conv1d backward underflows when the padding exceeds half the length.
            let cfg = Conv1dConfig {
                dilation,
                ..Default::default()
            };
            let bvb = vb.pp(format!("blocks.{k}"));
            let conv = conv1d(cin, cout, 3, cfg, bvb.pp("conv"))?;
            let bn = batch_norm(cout, BatchNormConfig::default(), bvb.pp("bn"))?;
            blocks.push((dilation, conv, bn));
        }
        let head = conv1d(config.d, 1, 1, Conv1dConfig::default(), vb.pp("head"))?;
        Ok(Self {
            config,
            blocks,
            head,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &CnnSorterConfig {
        &self.config
    }
}

impl CnnSorter {
    /// The plain candle implementation (one matmul per kernel tap on the shifted, zero-padded
    /// input): the reference the fused convolution is tested against, and the path for other
    /// devices and dtypes.
    pub fn forward_reference_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.run(x, train, false)
    }

    /// The fused path: each dilated convolution is one custom op with GEMMs per tap, and in
    /// training mode BatchNorm + ReLU is another.
    pub fn forward_fused_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.run(x, train, true)
    }

    /// Whether `bn`'s affine weights are constants (a frozen sorter): the evaluation-mode
    /// fused op gives no gradient to them.
    fn frozen_bn(&self, bn: &BatchNorm) -> bool {
        bn.weight_and_bias()
            .is_some_and(|(g, b)| !g.is_variable() && !b.is_variable())
    }

    fn run(&self, x: &Tensor, train: bool, fused: bool) -> Result<Tensor> {
        let mut h = x.unsqueeze(1)?;
        for (dilation, conv, bn) in &self.blocks {
            let z = match (fused, conv.bias()) {
                (true, Some(bias)) => {
                    crate::kernels::conv::dilated_conv1d(&h, conv.weight(), bias, *dilation)?
                }
                _ => conv_reference(&h, conv, *dilation)?,
            };
            let y = if fused && train {
                crate::kernels::batchnorm::batch_norm_relu_train(&z, bn)?
            } else if fused && self.frozen_bn(bn) {
                crate::kernels::batchnorm::batch_norm_relu_eval(&z, bn)?
            } else {
                bn.forward_t(&z, train)?.relu()?
            };
            // residual connections between the equally wide middle blocks keep the scores'
            // own values within reach of the head, and the deep stack trainable
            h = if y.dims() == h.dims() { (y + h)? } else { y };
        }
        self.head.forward(&h)?.squeeze(1)
    }
}

/// `conv` with "same" zero padding, as `Σ_k W_k · shift_k(x)` in plain candle ops.
///
/// Not candle's `conv1d`: in candle 0.11 its input and kernel gradients disagree with finite
/// differences once there are several channels (for example a 3 × 2 × 5 input with a
/// 3 × 2 × 3 kernel: input gradient 0.649 where finite differences give −1.659), and the first
/// CNN sorters were trained with those gradients.
fn conv_reference(x: &Tensor, conv: &Conv1d, dilation: usize) -> Result<Tensor> {
    let (cout, _, taps) = conv.weight().dims3()?;
    let len = x.dim(2)?;
    let half = (taps - 1) / 2 * dilation;
    let padded = x.pad_with_zeros(2, half, half)?;
    let mut y: Option<Tensor> = None;
    for k in 0..taps {
        // both slices are strided: candle's CUDA matmul takes only contiguous operands (or
        // plain transposes), so they are copied first
        let shifted = padded.narrow(2, k * dilation, len)?.contiguous()?;
        let w_k = conv.weight().narrow(2, k, 1)?.squeeze(2)?.contiguous()?;
        let term = w_k.broadcast_matmul(&shifted)?;
        y = Some(match y {
            None => term,
            Some(acc) => (acc + term)?,
        });
    }
    let y = y.expect("at least one tap");
    match conv.bias() {
        Some(b) => y.broadcast_add(&b.reshape((1, cout, 1))?),
        None => Ok(y),
    }
}

impl ModuleT for CnnSorter {
    /// `x`: `B × d` → `B × d`. `train` selects batch statistics (and updates the running ones).
    /// Uses the fused convolution for f32 on the CPU, the reference otherwise.
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.run(x, train, crate::kernels::fused_applies(x))
    }
}
