//! The scoring CNN ([`DigitCnn`]) shared by every number of a set.

use std::sync::Arc;

use candle_core::{Device, Tensor, Var};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::data::{check_numbers, Number, DIGITS, SIDE};
use crate::data::Matrix;
use crate::error::{Error, Result};
use sodeep::kernels::dense::{dense, Gather};

/// Sizes of [`DigitCnn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CnnConfig {
    /// Channels of the first convolution (5×5, stride 2).
    pub conv1: usize,
    /// Channels of the second convolution (3×3, stride 2).
    pub conv2: usize,
    /// Features per digit.
    pub feature: usize,
    /// Hidden units of the number head.
    pub hidden: usize,
}

impl Default for CnnConfig {
    fn default() -> Self {
        Self {
            conv1: 16,
            conv2: 32,
            feature: 32,
            hidden: 64,
        }
    }
}

impl CnnConfig {
    pub(super) fn validate(&self) -> Result<()> {
        if [self.conv1, self.conv2, self.feature, self.hidden].contains(&0) {
            return Err(Error::InvalidArgument(format!(
                "digit sort: every CNN size must be at least 1, got {self:?}"
            )));
        }
        Ok(())
    }

    /// Multiply–adds of one number's forward pass.
    pub fn macs_per_number(&self) -> usize {
        let per_digit = C1_OUT * C1_OUT * K1 * K1 * self.conv1
            + C2_OUT * C2_OUT * K2 * K2 * self.conv1 * self.conv2
            + C2_OUT * C2_OUT * self.conv2 * self.feature;
        DIGITS * per_digit + DIGITS * self.feature * self.hidden + self.hidden
    }
}

/// First convolution: kernel side, stride, output side on a 28×28 digit (no padding).
pub(super) const K1: usize = 5;

pub(super) const S1: usize = 2;

pub(super) const C1_OUT: usize = (SIDE - K1) / S1 + 1; // 12

/// Second convolution: kernel side, stride, output side on the 12×12 map.
pub(super) const K2: usize = 3;

pub(super) const S2: usize = 2;

pub(super) const C2_OUT: usize = (C1_OUT - K2) / S2 + 1; // 5

/// MNIST pixel mean and standard deviation, to centre the inputs.
pub(super) const PIXEL_MEAN: f32 = 0.1307;

pub(super) const PIXEL_STD: f32 = 0.3081;

/// The scoring CNN: a digit tower shared by the four slots, then a head on their features.
///
/// ```text
/// digit 28×28 ─ conv 5×5/2, C1 ─ ReLU ─ conv 3×3/2, C2 ─ ReLU ─ linear 5·5·C2 → F ─ ReLU
///   (12×12×C1)                   (5×5×C2)
/// number = 4 digit features (4·F, slot order) ─ linear → H ─ ReLU ─ linear → 1 score
/// ```
///
/// With the default sizes (C1 = 16, C2 = 32, F = 32, H = 64: 39 k weights) a number costs
/// 0.8 M multiply–adds forward ([`CnnConfig::macs_per_number`]). The tower reads each slot of
/// the 28 × 112 image, which is the slot's source image, so it runs on the source images
/// directly. Convolutions are patch matrices times weight matrices (valid padding, strides
/// instead of pooling): the first layer's patches come straight from the pixels, the second's
/// are gathered from the first layer's output inside a fused op with its own backward pass,
/// so every layer is one GEMM forward and two backward.
#[derive(Debug, Clone)]
pub struct DigitCnn {
    cfg: CnnConfig,
    /// `(w, b)` of conv1 (25 × C1), conv2 (9·C1 × C2), the digit linear (25·C2 × F), the
    /// head's hidden (4F × H) and output (H × 1) layers: `w` is in × out.
    layers: Vec<(Var, Var)>,
}

impl DigitCnn {
    /// PyTorch's default initialisation, U(±1/√fan_in) for weights and biases, drawn from `rng`
    /// (candle's CPU generator cannot be seeded).
    pub fn new(cfg: CnnConfig, rng: &mut ChaCha8Rng) -> Result<Self> {
        cfg.validate()?;
        let shapes = [
            (K1 * K1, cfg.conv1),
            (K2 * K2 * cfg.conv1, cfg.conv2),
            (C2_OUT * C2_OUT * cfg.conv2, cfg.feature),
            (DIGITS * cfg.feature, cfg.hidden),
            (cfg.hidden, 1),
        ];
        let mut layers = Vec::with_capacity(shapes.len());
        for (fan_in, fan_out) in shapes {
            let b = 1.0 / (fan_in as f32).sqrt();
            let mut draw =
                |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-b..=b)).collect() };
            let w = Var::from_vec(draw(fan_in * fan_out), (fan_in, fan_out), &Device::Cpu)?;
            let bias = Var::from_vec(draw(fan_out), fan_out, &Device::Cpu)?;
            layers.push((w, bias));
        }
        Ok(Self { cfg, layers })
    }

    /// Its trainable variables.
    pub fn vars(&self) -> Vec<Var> {
        self.layers
            .iter()
            .flat_map(|(w, b)| [w.clone(), b.clone()])
            .collect()
    }

    fn dense(
        &self,
        layer: usize,
        x: &Tensor,
        relu: bool,
        gather: Option<Gather>,
    ) -> Result<Tensor> {
        let (w, b) = &self.layers[layer];
        Ok(dense(x, w.as_tensor(), b.as_tensor(), relu, gather)?)
    }

    /// One score per number; `images` holds the digit images (rows of 784 pixels in [0, 1])
    /// that `numbers` index.
    pub fn scores(&self, images: &Matrix, numbers: &[Number]) -> Result<Tensor> {
        check_numbers(images, numbers)?;
        let count = numbers.len() * DIGITS;
        // conv1 patches, (count·144) × 25, of centred pixels
        let mut patches = Vec::with_capacity(count * C1_OUT * C1_OUT * K1 * K1);
        for &img in numbers.iter().flatten() {
            let px = images.row(img as usize);
            for oy in 0..C1_OUT {
                for ox in 0..C1_OUT {
                    for ky in 0..K1 {
                        let row = (oy * S1 + ky) * SIDE + ox * S1;
                        patches.extend(
                            px[row..row + K1]
                                .iter()
                                .map(|&p| (p - PIXEL_MEAN) / PIXEL_STD),
                        );
                    }
                }
            }
        }
        let patches = Tensor::from_vec(patches, (count * C1_OUT * C1_OUT, K1 * K1), &Device::Cpu)?;
        let h1 = self.dense(0, &patches, true, None)?; // (count·144) × C1
        let conv2 = Gather {
            index: Arc::new(conv2_gather_index(count)),
            taps: K2 * K2,
        };
        let h2 = self.dense(1, &h1, true, Some(conv2))?; // (count·25) × C2
        let h2 = h2.reshape((count, C2_OUT * C2_OUT * self.cfg.conv2))?;
        let feat = self.dense(2, &h2, true, None)?; // count × F
        let feat = feat.reshape((numbers.len(), DIGITS * self.cfg.feature))?;
        let hidden = self.dense(3, &feat, true, None)?;
        Ok(self
            .dense(4, &hidden, false, None)?
            .reshape(numbers.len())?)
    }
}

/// Rows of the conv1 output `(count·144) × C1` that make up each conv2 patch, ordered
/// `[image][output y][output x][kernel y][kernel x]`, so that `count·25` rows of `9·C1`
/// values come out of a reshape.
pub(super) fn conv2_gather_index(count: usize) -> Vec<u32> {
    let mut idx = Vec::with_capacity(count * C2_OUT * C2_OUT * K2 * K2);
    for i in 0..count {
        let base = i * C1_OUT * C1_OUT;
        for oy in 0..C2_OUT {
            for ox in 0..C2_OUT {
                for ky in 0..K2 {
                    for kx in 0..K2 {
                        let (y, x) = (oy * S2 + ky, ox * S2 + kx);
                        idx.push((base + y * C1_OUT + x) as u32);
                    }
                }
            }
        }
    }
    idx
}

// ---------- one job ----------
