//! A learned pairwise-comparison sorter for vectors of any length, permutation-equivariant by
//! construction: the handcrafted sorter with a learned comparator.
//!
//! Each vector is standardised (`z = (x − mean) / std`, which keeps its ranks), then
//!
//! ```text
//! r_i = (1 + Σ_{j≠i} f(z_j − z_i)) / n,     f(t) = Σ_k a_k σ(λ_k t),
//! λ_k = e^u_k / (1 + e^u_k / Λ),            u_k = s_k + (1 + γ) ln n,     a = softmax(m),
//! ```
//!
//! with `K` comparators (log-sharpness `s_k`, mixing logit `m_k`) and one length exponent `γ`,
//! all learned, and a fixed bound `Λ` on the sharpness. Standardised gaps between neighbours
//! shrink as `1/n`, so sharpness may grow with `n`, up to the bound.
//!
//! The bound is what keeps the sorter a loss surrogate. L1 against exact ranks rewards ever
//! sharper comparators: trained without a bound, the comparators become steps (L1 near 0) whose
//! gradient vanishes almost everywhere, useless inside a loss. With the bound the L1 optimum
//! is the sharpest smooth comparator allowed, and `Λ` trades accuracy for gradient reach.
//! `Λ = ∞` is allowed, for experiments. `f(−t) = 1 − f(t)`, so swapping
//! two scores swaps their ranks exactly, and the ranks of a vector always sum to `(n + 1) / 2`.
//! Cost: `O(n² K)` per vector, `O(n K)` memory in the fused op.
//!
//! ```
//! use candle_core::{DType, Device, Module, Tensor};
//! use candle_nn::VarBuilder;
//! use sodeep::sorter::{PairwiseSorter, PairwiseSorterConfig};
//! let vb = VarBuilder::zeros(DType::F32, &Device::Cpu);
//! let cfg = PairwiseSorterConfig { comparators: 2, max_sharpness: 20.0 };
//! let sorter = PairwiseSorter::new(cfg, vb)?;
//! let x = Tensor::new(&[[3f32, 1.0, 2.0], [0.0, 9.0, 4.0]], &Device::Cpu)?;
//! let r = sorter.forward(&x)?.to_vec2::<f32>()?;
//! // the largest score ranks first (near 1/n), and every row's ranks sum to (n + 1) / 2
//! assert!(r[0][0] < r[0][2] && r[0][2] < r[0][1]);
//! assert!((r[1].iter().sum::<f32>() - 2.0).abs() < 1e-5);
//! # Ok::<(), candle_core::Error>(())
//! ```

use candle_core::{Module, Result, Tensor, D};
use candle_nn::ops::{sigmoid, softmax};
use candle_nn::VarBuilder;

use super::standardize::standardize_rows;
use crate::kernels::{fused_applies, pairwise::pairwise_ranks};

/// Configuration of [`PairwiseSorter`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairwiseSorterConfig {
    /// Number of comparators `K`.
    pub comparators: usize,
    /// The bound `Λ` on each comparator's sharpness, in units of the vector's standard
    /// deviation.
    pub max_sharpness: f64,
}

pub use crate::card::DEFAULT_MAX_SHARPNESS;

/// The pairwise sorter (`log_sharpness`, `mix`: `K` each; `len_exponent`: 1).
#[derive(Debug, Clone)]
pub struct PairwiseSorter {
    config: PairwiseSorterConfig,
    log_sharpness: Tensor,
    mix: Tensor,
    len_exponent: Tensor,
}

impl PairwiseSorter {
    /// Loads or creates the weights.
    pub fn new(config: PairwiseSorterConfig, vb: VarBuilder) -> Result<Self> {
        let k = config.comparators;
        Ok(Self {
            config,
            log_sharpness: vb.get(k, "log_sharpness")?,
            mix: vb.get(k, "mix")?,
            len_exponent: vb.get(1, "len_exponent")?,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &PairwiseSorterConfig {
        &self.config
    }

    /// The parameter vector of the fused op: `[s, m, γ]`.
    fn params(&self) -> Result<Tensor> {
        Tensor::cat(&[&self.log_sharpness, &self.mix, &self.len_exponent], 0)
    }

    /// The plain candle implementation, `B × n × n × K` in memory: the reference that the fused
    /// op is tested against, and the path for other devices and dtypes.
    pub fn forward_reference(&self, x: &Tensor) -> Result<Tensor> {
        let z = standardize_rows(x)?;
        let (_, n) = z.dims2()?;
        let k = self.config.comparators;
        let ln_n = (n as f64).ln();
        let e = (&self.log_sharpness + ((&self.len_exponent + 1.0)? * ln_n)?.broadcast_as(k)?)?
            .exp()?;
        let bound = self.config.max_sharpness;
        let lambda = match bound.is_finite() {
            true => (&e / ((&e / bound)? + 1.0)?)?,
            false => e,
        }
        .to_dtype(z.dtype())?;
        let a = softmax(&self.mix, D::Minus1)?.to_dtype(z.dtype())?;
        // t[b, i, j] = z_j − z_i
        let t = z.unsqueeze(1)?.broadcast_sub(&z.unsqueeze(2)?)?;
        let f = sigmoid(
            &t.unsqueeze(3)?
                .broadcast_mul(&lambda.reshape((1, 1, 1, k))?)?,
        )?
        .broadcast_mul(&a.reshape((1, 1, 1, k))?)?
        .sum(3)?;
        // the j = i term is f(0) = 1/2, where the formula has 1 − 1/2
        (f.sum(2)? + 0.5)? / n as f64
    }

    /// The fused path (f32 on the CPU).
    pub fn forward_fused(&self, x: &Tensor) -> Result<Tensor> {
        pairwise_ranks(
            &standardize_rows(x)?,
            &self.params()?,
            self.config.max_sharpness,
        )
    }
}

impl Module for PairwiseSorter {
    /// `x`: `B × n` (any n ≥ 1) → `B × n` ranks.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if fused_applies(x) && self.log_sharpness.dtype() == x.dtype() {
            self.forward_fused(x)
        } else {
            self.forward_reference(x)
        }
    }
}
