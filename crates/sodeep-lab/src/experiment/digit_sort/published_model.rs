//! The scoring CNN of NeuralSort's published protocol ([`PublishedCnn`]), on whole numbers: four
//! MNIST digits stacked top to bottom, most significant first (112 × 28 pixels).
//!
//! ```text
//! 112×28 ─ conv 5×5 SAME, 32 ─ ReLU ─ max-pool 2×2 ─ conv 5×5 SAME, 64 ─ ReLU ─ max-pool 2×2
//!   ─ flatten 28·7·64 = 12,544 ─ linear → 64 ─ ReLU ─ linear → 1 score
//! ```
//!
//! Weights start from a normal of sd 0.1 truncated at 2 sd, biases at 0.1, as in the published
//! code; pixels are read in [0, 1] without centring. Forward, a number costs 45 M multiply–adds
//! ([`MACS_PER_NUMBER`]), almost all in the second convolution.
//!
//! The convolutions are [`sodeep::kernels::dense`] calls on patch matrices: the first layer's
//! patches come from the pixels (zero outside the image), the second's are gathered from the
//! pooled first layer plus one zero row that stands for the padding, so each layer is one GEMM
//! forward and two backward; candle's own `conv2d` is many times slower on the CPU, most of all
//! in the input gradient of the second convolution (see `docs/NOTES.md`).
//! Max-pooling is [`sodeep::kernels::pool::max_pool_2x2`] on the row layout (pixel rows, channel
//! columns). The test compares every output and gradient with candle's `conv2d` and a
//! reshape-and-`max` pooling on the same weights.

use std::sync::Arc;

use candle_core::{Device, Tensor, Var};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::data::{check_numbers, Number, DIGITS, SIDE};
use crate::data::Matrix;
use crate::error::Result;
use sodeep::kernels::dense::{dense, Gather};
use sodeep::kernels::pool::max_pool_2x2;

/// Height of a number image: the digits stacked top to bottom.
pub const HEIGHT: usize = DIGITS * SIDE;

/// Kernel side of both convolutions, and the SAME padding on each side.
const K: usize = 5;
const PAD: usize = K / 2;

/// Channels of the two convolutions, and the hidden units of the head.
const C1: usize = 32;
const C2: usize = 64;
const HIDDEN: usize = 64;

/// Sides after the first and the second pooling.
const H1: usize = HEIGHT / 2;
const W1: usize = SIDE / 2;
const H2: usize = H1 / 2;
const W2: usize = W1 / 2;

/// Multiply–adds of one number's forward pass.
pub const MACS_PER_NUMBER: usize =
    HEIGHT * SIDE * K * K * C1 + H1 * W1 * K * K * C1 * C2 + H2 * W2 * C2 * HIDDEN + HIDDEN;

/// Peak memory of a training step per number scored: the second convolution's patches (2.5 MB
/// a number) twice over, forward and backward, with the activations and their gradients. The
/// peak resident set of a one-thread job at 500 numbers a step, divided by 500, rounded up.
pub const BYTES_PER_NUMBER: u64 = 12 << 20;

/// The published CNN's shape, as results record it.
pub fn shape() -> serde_json::Value {
    serde_json::json!({
        "name": "published",
        "kernel": K,
        "conv1": C1,
        "conv2": C2,
        "hidden": HIDDEN,
    })
}

/// The published scoring CNN; see the module docs.
#[derive(Debug, Clone)]
pub struct PublishedCnn {
    /// `(w, b)` of conv1 (25 × 32), conv2 (25·32 × 64), the hidden layer (12,544 × 64) and the
    /// output (64 × 1); `w` is in × out, a patch's columns ordered tap by tap (row-major over
    /// the kernel), channels within a tap.
    layers: Vec<(Var, Var)>,
}

impl PublishedCnn {
    /// The published initialisation, drawn from `rng`.
    pub fn new(rng: &mut ChaCha8Rng) -> Result<Self> {
        let shapes = [
            (K * K, C1),
            (K * K * C1, C2),
            (H2 * W2 * C2, HIDDEN),
            (HIDDEN, 1),
        ];
        let mut layers = Vec::with_capacity(shapes.len());
        for (fan_in, fan_out) in shapes {
            let w: Vec<f32> = (0..fan_in * fan_out)
                .map(|_| truncated_normal(rng) * 0.1)
                .collect();
            let w = Var::from_vec(w, (fan_in, fan_out), &Device::Cpu)?;
            let b = Var::from_vec(vec![0.1f32; fan_out], fan_out, &Device::Cpu)?;
            layers.push((w, b));
        }
        Ok(Self { layers })
    }

    /// Its trainable variables.
    pub fn vars(&self) -> Vec<Var> {
        self.layers
            .iter()
            .flat_map(|(w, b)| [w.clone(), b.clone()])
            .collect()
    }

    /// One score per number; `images` holds the digit images (rows of 784 pixels in [0, 1])
    /// that `numbers` index, most significant digit first.
    pub fn scores(&self, images: &Matrix, numbers: &[Number]) -> Result<Tensor> {
        let count = numbers.len();
        check_numbers(images, numbers)?;
        let patches = pixel_patches(images, numbers);
        let patches = Tensor::from_vec(patches, (count * HEIGHT * SIDE, K * K), &Device::Cpu)?;
        let h1 = self.dense(0, &patches, true, None)?; // (count·112·28) × 32
        let p1 = pool(&h1, count, HEIGHT, SIDE, C1)?; // (count·56·14) × 32
        let zero = Tensor::zeros((1, C1), candle_core::DType::F32, &Device::Cpu)?;
        let p1 = Tensor::cat(&[&p1, &zero], 0)?;
        let conv2 = Gather {
            index: Arc::new(conv2_index(count)),
            taps: K * K,
        };
        let h2 = self.dense(1, &p1, true, Some(conv2))?; // (count·56·14) × 64
        let p2 = pool(&h2, count, H1, W1, C2)?.reshape((count, H2 * W2 * C2))?;
        let hidden = self.dense(2, &p2, true, None)?;
        Ok(self.dense(3, &hidden, false, None)?.reshape(count)?)
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
}

/// A standard normal draw, redrawn until it lies within 2 (TensorFlow's truncated normal).
fn truncated_normal(rng: &mut ChaCha8Rng) -> f32 {
    loop {
        let z: f64 = StandardNormal.sample(rng);
        if z.abs() <= 2.0 {
            return z as f32;
        }
    }
}

/// The first convolution's patches: one row of 25 pixels per output pixel, image after image,
/// row-major, zero outside the image. Each image is first copied into a zero border of `PAD`
/// pixels, so that every patch row is a run of `K` pixels of the bordered image.
fn pixel_patches(images: &Matrix, numbers: &[Number]) -> Vec<f32> {
    const WIDE: usize = SIDE + 2 * PAD;
    let mut out = Vec::with_capacity(numbers.len() * HEIGHT * SIDE * K * K);
    let mut bordered = vec![0f32; (HEIGHT + 2 * PAD) * WIDE];
    for digits in numbers {
        for y in 0..HEIGHT {
            let src = &images.row(digits[y / SIDE] as usize)[(y % SIDE) * SIDE..][..SIDE];
            bordered[(y + PAD) * WIDE + PAD..][..SIDE].copy_from_slice(src);
        }
        for y in 0..HEIGHT {
            for x in 0..SIDE {
                for ky in 0..K {
                    out.extend_from_slice(&bordered[(y + ky) * WIDE + x..][..K]);
                }
            }
        }
    }
    out
}

/// Rows of the pooled first layer, `count·56·14` of them plus a zero row last, that make up
/// each second-layer patch (the zero row stands for the padding), tap by tap.
fn conv2_index(count: usize) -> Vec<u32> {
    let zero = (count * H1 * W1) as u32;
    let mut idx = Vec::with_capacity(count * H1 * W1 * K * K);
    for i in 0..count {
        for y in 0..H1 as isize {
            for x in 0..W1 as isize {
                for ky in 0..K as isize {
                    for kx in 0..K as isize {
                        let (py, px) = (y + ky - PAD as isize, x + kx - PAD as isize);
                        let inside = py >= 0 && px >= 0 && py < H1 as isize && px < W1 as isize;
                        idx.push(if inside {
                            (i * H1 * W1 + py as usize * W1 + px as usize) as u32
                        } else {
                            zero
                        });
                    }
                }
            }
        }
    }
    idx
}

/// 2×2 max-pooling of `(count·h·w) × c` rows (pixel rows, row-major per image) into
/// `(count·h/2·w/2) × c`, the rows being a channels-last image batch.
fn pool(x: &Tensor, count: usize, h: usize, w: usize, c: usize) -> Result<Tensor> {
    Ok(max_pool_2x2(&x.reshape((count, h, w, c))?)?.reshape((count * (h / 2) * (w / 2), c))?)
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::*;

    /// The pixel of number `digits` at row `y` (0..112) and column `x`, or 0 outside the image.
    fn pixel(images: &Matrix, digits: &Number, y: isize, x: isize) -> f32 {
        if y < 0 || x < 0 || y >= HEIGHT as isize || x >= SIDE as isize {
            return 0.0;
        }
        let (y, x) = (y as usize, x as usize);
        images.row(digits[y / SIDE] as usize)[(y % SIDE) * SIDE + x]
    }

    /// 2×2 max-pooling of `n × c × h × w` by reshapes and `max`: candle's `max_pool2d` has a
    /// backward pass that scales the gradient down (by 4 per layer here, checked against finite
    /// differences), so the reference does not use it.
    fn pool_nchw(x: &Tensor) -> Tensor {
        let (n, c, h, w) = x.dims4().unwrap();
        x.reshape((n, c, h / 2, 2, w / 2, 2))
            .unwrap()
            .max(5)
            .unwrap()
            .max(3)
            .unwrap()
    }

    /// The same network from candle's `conv2d` and plain reductions, on the same weights.
    fn reference(cnn: &PublishedCnn, images: &Matrix, numbers: &[Number]) -> Tensor {
        let n = numbers.len();
        let mut px = Vec::with_capacity(n * HEIGHT * SIDE);
        for d in numbers {
            for y in 0..HEIGHT as isize {
                for x in 0..SIDE as isize {
                    px.push(pixel(images, d, y, x));
                }
            }
        }
        let x = Tensor::from_vec(px, (n, 1, HEIGHT, SIDE), &Device::Cpu).unwrap();
        let l = &cnn.layers;
        // (taps·in) × out → out × in × ky × kx
        let conv_w = |w: &Var, cin: usize, cout: usize| {
            w.as_tensor()
                .t()
                .unwrap()
                .reshape((cout, K, K, cin))
                .unwrap()
                .permute((0, 3, 1, 2))
                .unwrap()
                .contiguous()
                .unwrap()
        };
        let bias = |b: &Var, c: usize| b.as_tensor().reshape((1, c, 1, 1)).unwrap();
        let h = x
            .conv2d(&conv_w(&l[0].0, 1, C1), PAD, 1, 1, 1)
            .unwrap()
            .broadcast_add(&bias(&l[0].1, C1))
            .unwrap()
            .relu()
            .unwrap();
        let h = pool_nchw(&h)
            .conv2d(&conv_w(&l[1].0, C1, C2), PAD, 1, 1, 1)
            .unwrap()
            .broadcast_add(&bias(&l[1].1, C2))
            .unwrap()
            .relu()
            .unwrap();
        let h = pool_nchw(&h);
        // channels last, as the row layout flattens them
        let h = h
            .permute((0, 2, 3, 1))
            .unwrap()
            .reshape((n, H2 * W2 * C2))
            .unwrap();
        let h = h
            .matmul(l[2].0.as_tensor())
            .unwrap()
            .broadcast_add(l[2].1.as_tensor())
            .unwrap()
            .relu()
            .unwrap();
        h.matmul(l[3].0.as_tensor())
            .unwrap()
            .broadcast_add(l[3].1.as_tensor())
            .unwrap()
            .reshape(n)
            .unwrap()
    }

    #[test]
    fn the_fused_network_equals_candles_convolutions_forward_and_backward() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let pixels: Vec<f32> = (0..10 * SIDE * SIDE).map(|_| rng.random::<f32>()).collect();
        let images = Matrix::new(10, SIDE * SIDE, pixels).unwrap();
        let numbers: Vec<Number> = vec![[0, 1, 2, 3], [9, 8, 7, 6], [4, 4, 5, 0]];
        let cnn = PublishedCnn::new(&mut rng).unwrap();
        let ours = cnn.scores(&images, &numbers).unwrap();
        let theirs = reference(&cnn, &images, &numbers);
        let (a, b) = (
            ours.to_vec1::<f32>().unwrap(),
            theirs.to_vec1::<f32>().unwrap(),
        );
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-4 * y.abs().max(1.0), "{a:?} vs {b:?}");
        }
        // a weighted sum, so that every score's gradient differs
        let weights = Tensor::new(&[1f32, -2.0, 0.5], &Device::Cpu).unwrap();
        let ga = (ours * &weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let gb = (theirs * &weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for v in cnn.vars() {
            let (x, y) = (ga.get(&v).unwrap(), gb.get(&v).unwrap());
            let diff = (x - y).unwrap().abs().unwrap().max_all().unwrap();
            let scale = x.abs().unwrap().max_all().unwrap();
            let (diff, scale) = (
                diff.to_scalar::<f32>().unwrap(),
                scale.to_scalar::<f32>().unwrap(),
            );
            assert!(
                diff <= 1e-4 * scale.max(1e-3),
                "{:?}: {diff} of {scale}",
                v.dims()
            );
        }
    }

    #[test]
    fn weights_start_truncated_and_biases_at_a_tenth() {
        let cnn = PublishedCnn::new(&mut ChaCha8Rng::seed_from_u64(0)).unwrap();
        let w = cnn.layers[2].0.as_tensor().flatten_all().unwrap();
        let w = w.to_vec1::<f32>().unwrap();
        assert_eq!(w.len(), 12_544 * 64);
        assert!(w.iter().all(|v| v.abs() <= 0.2));
        let sd = (w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32).sqrt();
        // a standard normal truncated at 2 has sd 0.880
        assert!((sd - 0.088).abs() < 0.002, "{sd}");
        let b = cnn.layers[0].1.as_tensor().to_vec1::<f32>().unwrap();
        assert!(b.iter().all(|&v| v == 0.1));
        assert_eq!(MACS_PER_NUMBER, 2_508_800 + 40_140_800 + 802_816 + 64);
    }
}
