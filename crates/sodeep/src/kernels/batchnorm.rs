//! BatchNorm followed by ReLU, as one candle op: in training mode ([`batch_norm_relu_train`]),
//! and in evaluation mode for frozen layers ([`batch_norm_relu_eval`]).
//!
//! candle's `BatchNorm::forward_t` in training mode transposes and copies its input, then runs
//! about ten elementwise passes; with the ReLU after it, that was a third of a CNN sorter's
//! training step once the convolutions were fused. Here the forward pass is one pass for the
//! per-channel statistics and one for the output, and the backward pass two more:
//!
//! `y = relu(γ·x̂ + β)`, `x̂ = (x − μ) / √(σ² + ε)`, with μ and the biased σ² over batch and
//! positions. With `g = dy·[y > 0]`: `dβ = Σ g`, `dγ = Σ g·x̂`, and
//! `dx = γ/√(σ² + ε) · (g − dβ/n − x̂·dγ/n)` (n values per channel).

use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp1, CustomOp3, Device, Layout, Result, Shape, Tensor, Var};
use candle_nn::BatchNorm;

use super::simd::vectorized;
use super::storage::{read_f32, slice};

/// Per-channel batch statistics: means and biased variances.
type Stats = (Vec<f64>, Vec<f64>);

/// `(x: B × C × L, γ: C, β: C) → relu(γ·x̂ + β)`.
struct BnRelu {
    eps: f64,
    /// The batch statistics of the last forward pass, for the running averages.
    stats: Arc<Mutex<Option<Stats>>>,
}

/// Per channel, over all vectors: `Σ (x − m)` and `Σ (x − m)²`, `m` being the channel's entry
/// of `centres`. The buffer is walked in memory order with per-channel accumulators; per-row
/// sums are f32, added across rows in f64.
fn channel_sums(x: &[f32], chans: usize, len: usize, centres: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (mut s1, mut s2) = (vec![0f64; chans], vec![0f64; chans]);
    for (r, c) in x.chunks_exact(len).zip((0..chans).cycle()) {
        let (a, b) = centered_sums(r, centres[c] as f32);
        s1[c] += a as f64;
        s2[c] += b as f64;
    }
    (s1, s2)
}

fn dims(x: &[usize], g: &[usize], b: &[usize]) -> Result<(usize, usize, usize)> {
    match (x, g, b) {
        ([bs, c, l], [gc], [bc]) if c == gc && c == bc && bs * l > 0 => Ok((*bs, *c, *l)),
        _ => candle_core::bail!("fused batch-norm: bad shapes x {x:?}, γ {g:?}, β {b:?}"),
    }
}

impl CustomOp3 for BnRelu {
    fn name(&self) -> &'static str {
        "fused-batchnorm-relu"
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
        let (b, chans, len) = dims(l1.dims(), l2.dims(), l3.dims())?;
        let (x, gamma, beta) = (
            slice(s1, l1, "x")?,
            slice(s2, l2, "γ")?,
            slice(s3, l3, "β")?,
        );
        let n = (b * len) as f64;
        let mut y = vec![0f32; x.len()];
        // the mean first, then the variance around it (one pass would lose precision)
        let means: Vec<f64> = channel_sums(x, chans, len, &vec![0.0; chans])
            .0
            .iter()
            .map(|v| v / n)
            .collect();
        let vars: Vec<f64> = channel_sums(x, chans, len, &means)
            .1
            .iter()
            .map(|v| v / n)
            .collect();
        let (scale, shift): (Vec<f32>, Vec<f32>) = (0..chans)
            .map(|c| {
                let scale = gamma[c] / ((vars[c] + self.eps).sqrt() as f32);
                (scale, beta[c] - means[c] as f32 * scale)
            })
            .unzip();
        let rows = x.chunks_exact(len).zip((0..chans).cycle());
        for ((src, c), dst) in rows.zip(y.chunks_exact_mut(len)) {
            affine_relu(src, dst, scale[c], shift[c]);
        }
        *self.stats.lock().expect("stats lock") = Some((means, vars));
        Ok((CpuStorage::F32(y), Shape::from((b, chans, len))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (b, chans, len) = dims(x.dims(), gamma.dims(), beta.dims())?;
        let Some((means, vars)) = self.stats.lock().expect("stats lock").clone() else {
            candle_core::bail!("fused batch-norm: backward without a forward pass")
        };
        let (xt, yt, dyt) = (x.contiguous()?, y.contiguous()?, dy.contiguous()?);
        let (xv, yv, dyv) = (read_f32(&xt)?, read_f32(&yt)?, read_f32(&dyt)?);
        let (xv, yv, dyv) = (xv.get(), yv.get(), dyv.get());
        let gv: Vec<f32> = gamma.to_vec1()?;
        let n = (b * len) as f64;
        let (mut dgamma, mut dbeta) = (vec![0f32; chans], vec![0f32; chans]);
        let mut dx = vec![0f32; xv.len()];
        let (mut sum_g, mut sum_gx) = (vec![0f64; chans], vec![0f64; chans]);
        let row_sets = || {
            xv.chunks_exact(len)
                .zip(yv.chunks_exact(len))
                .zip(dyv.chunks_exact(len))
                .zip((0..chans).cycle())
        };
        for (((xr, yr), dyr), c) in row_sets() {
            let (g, gx) = masked_sums(xr, yr, dyr, means[c] as f32);
            sum_g[c] += g as f64;
            sum_gx[c] += gx as f64;
        }
        let coefs: Vec<InputGrad> = (0..chans)
            .map(|c| {
                let inv_std = 1.0 / (vars[c] + self.eps).sqrt();
                let sgx = sum_gx[c] * inv_std;
                dbeta[c] = sum_g[c] as f32;
                dgamma[c] = sgx as f32;
                InputGrad {
                    mean: means[c] as f32,
                    inv_std: inv_std as f32,
                    k: (gv[c] as f64 * inv_std) as f32,
                    mg: (sum_g[c] / n) as f32,
                    mgx: (sgx / n) as f32,
                }
            })
            .collect();
        for ((((xr, yr), dyr), c), dr) in row_sets().zip(dx.chunks_exact_mut(len)) {
            input_grad(xr, yr, dyr, dr, coefs[c]);
        }
        let dev = &Device::Cpu;
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), dev)?),
            Some(Tensor::from_vec(dgamma, gamma.shape(), dev)?),
            Some(Tensor::from_vec(dbeta, beta.shape(), dev)?),
        ))
    }
}

/// `relu(bn(x))` for `x: B × C × L` in training mode, updating `bn`'s running statistics as
/// candle's `BatchNorm::forward_t(x, true)` does (momentum-weighted means; the variance with
/// the unbiased factor `n / (n − 1)`). f32 on the CPU; `bn` must have an affine weight and bias.
pub fn batch_norm_relu_train(x: &Tensor, bn: &BatchNorm) -> Result<Tensor> {
    let (eps, momentum) = (bn.eps(), bn.momentum());
    if !super::storage::fused_applies(x) {
        candle_core::bail!("fused batch-norm: f32 CPU tensors only");
    }
    let Some((gamma, beta)) = bn.weight_and_bias() else {
        candle_core::bail!("fused batch-norm: the layer has no affine weight and bias")
    };
    let stats = Arc::new(Mutex::new(None));
    let op = BnRelu {
        eps,
        stats: stats.clone(),
    };
    let y = x
        .contiguous()?
        .apply_op3(&gamma.contiguous()?, &beta.contiguous()?, op)?;
    let Some((means, vars)) = stats.lock().expect("stats lock").clone() else {
        candle_core::bail!("fused batch-norm: the forward pass left no statistics")
    };
    let n = (x.dim(0)? * x.dim(2)?) as f64;
    let to_f32 = |v: Vec<f64>| v.into_iter().map(|s| s as f32).collect::<Vec<f32>>();
    let dev = x.device();
    let mean = Tensor::from_vec(to_f32(means), gamma.shape(), dev)?;
    let var = Tensor::from_vec(to_f32(vars), gamma.shape(), dev)?;
    let (rm, rv) = (bn.running_mean(), bn.running_var());
    let new_mean = ((rm * (1.0 - momentum))? + (mean * momentum)?)?;
    let new_var = ((rv * (1.0 - momentum))? + (var * (momentum * n / (n - 1.0)))?)?;
    // The running statistics are variables (candle's BatchNorm keeps them as `Var`s); a `Var`
    // made from a variable shares its storage, so `set` writes the BatchNorm's own values, as
    // candle's training pass does.
    Var::from_tensor(rm)?.set(&new_mean)?;
    Var::from_tensor(rv)?.set(&new_var)?;
    Ok(y)
}

/// `relu(bn(x))` in evaluation mode: `y = relu(a_c·x + b_c)` with `a = γ/√(σ²_run + ε)`,
/// `b = β − μ_run·a`, and `dx = dy·a_c·[y > 0]`.
struct BnReluEval {
    scale: Vec<f32>,
    shift: Vec<f32>,
}

impl CustomOp1 for BnReluEval {
    fn name(&self) -> &'static str {
        "fused-batchnorm-relu-eval"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let [_, c, len] = l.dims() else {
            candle_core::bail!("fused batch-norm: x must be B × C × L, got {:?}", l.dims())
        };
        if *c != self.scale.len() || *len == 0 {
            candle_core::bail!(
                "fused batch-norm: {c} channels, expected {}",
                self.scale.len()
            )
        }
        let x = slice(s, l, "batch-norm input")?;
        let mut y = vec![0f32; x.len()];
        for ((src, dst), ch) in x
            .chunks_exact(*len)
            .zip(y.chunks_exact_mut(*len))
            .zip((0..*c).cycle())
        {
            affine_relu(src, dst, self.scale[ch], self.shift[ch]);
        }
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        let (c, len) = (y.dim(1)?, y.dim(2)?);
        let (y_c, dy_c) = (y.contiguous()?, dy.contiguous()?);
        let (yv, gv) = (read_f32(&y_c)?, read_f32(&dy_c)?);
        let mut dx = vec![0f32; yv.get().len()];
        let rows = yv.get().chunks_exact(len).zip(gv.get().chunks_exact(len));
        for ((yr, gr), (dr, ch)) in rows.zip(dx.chunks_exact_mut(len).zip((0..c).cycle())) {
            let a = self.scale[ch];
            for ((d, &yi), &gi) in dr.iter_mut().zip(yr).zip(gr) {
                *d = if yi > 0.0 { gi * a } else { 0.0 };
            }
        }
        Ok(Some(Tensor::from_vec(dx, y.shape(), &Device::Cpu)?))
    }
}

/// `relu(bn(x))` for `x: B × C × L` in evaluation mode (running statistics), as candle's
/// `BatchNorm::forward_t(x, false)` followed by ReLU, for layers whose weights are constants:
/// the gradient flows to `x` only. f32 on the CPU; `bn` must have an affine weight and bias.
pub fn batch_norm_relu_eval(x: &Tensor, bn: &BatchNorm) -> Result<Tensor> {
    if !super::storage::fused_applies(x) {
        candle_core::bail!("fused batch-norm: f32 CPU tensors only");
    }
    let Some((gamma, beta)) = bn.weight_and_bias() else {
        candle_core::bail!("fused batch-norm: the layer has no affine weight and bias")
    };
    let v = |t: &Tensor| t.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>();
    let (g, b, m, var) = (
        v(gamma)?,
        v(beta)?,
        v(bn.running_mean())?,
        v(bn.running_var())?,
    );
    let eps = bn.eps();
    let scale: Vec<f32> = g
        .iter()
        .zip(&var)
        .map(|(g, v)| (*g as f64 / (*v as f64 + eps).sqrt()) as f32)
        .collect();
    let shift = b
        .iter()
        .zip(&m)
        .zip(&scale)
        .map(|((b, m), a)| b - m * a)
        .collect();
    x.contiguous()?.apply_op1(BnReluEval { scale, shift })
}

#[inline(always)]
fn affine_relu_body(src: &[f32], dst: &mut [f32], scale: f32, shift: f32) {
    for (o, &v) in dst.iter_mut().zip(src) {
        *o = (v * scale + shift).max(0.0);
    }
}

vectorized!(
    /// `dst = relu(src·scale + shift)`.
    fn affine_relu = affine_relu_body(src: &[f32], dst: &mut [f32], scale: f32, shift: f32)
);

/// Partial sums kept per lane: sixteen fill one 512-bit register (two 256-bit ones), so that
/// the compiler keeps them in registers at every [`super::simd::SimdLevel`].
const LANES: usize = 16;

/// A slice of `chunks_exact(LANES)` as an array, so that its length is known to the compiler.
#[inline(always)]
fn lanes(v: &[f32]) -> &[f32; LANES] {
    v.try_into().expect("chunks of LANES")
}

#[inline(always)]
fn masked_sums_body(x: &[f32], y: &[f32], dy: &[f32], mean: f32) -> (f32, f32) {
    let (mut sg, mut sgx) = ([0f32; LANES], [0f32; LANES]);
    let chunks = x
        .chunks_exact(LANES)
        .zip(y.chunks_exact(LANES))
        .zip(dy.chunks_exact(LANES));
    for ((xc, yc), dc) in chunks {
        let (xc, yc, dc) = (lanes(xc), lanes(yc), lanes(dc));
        for l in 0..LANES {
            // g = dy where the ReLU passed, else 0 (a multiply, not a branch)
            let g = dc[l] * ((yc[l] > 0.0) as u32 as f32);
            sg[l] += g;
            sgx[l] += g * (xc[l] - mean);
        }
    }
    let tail = x.len() / LANES * LANES;
    for ((&xi, &yi), &di) in x[tail..].iter().zip(&y[tail..]).zip(&dy[tail..]) {
        let g = if yi > 0.0 { di } else { 0.0 };
        sg[0] += g;
        sgx[0] += g * (xi - mean);
    }
    (sg.iter().sum(), sgx.iter().sum())
}

#[inline(always)]
fn centered_sums_body(x: &[f32], mean: f32) -> (f32, f32) {
    let (mut s1, mut s2) = ([0f32; LANES], [0f32; LANES]);
    for xc in x.chunks_exact(LANES) {
        let xc = lanes(xc);
        for l in 0..LANES {
            let v = xc[l] - mean;
            s1[l] += v;
            s2[l] += v * v;
        }
    }
    for &xi in &x[x.len() / LANES * LANES..] {
        let v = xi - mean;
        s1[0] += v;
        s2[0] += v * v;
    }
    (s1.iter().sum(), s2.iter().sum())
}

vectorized!(
    /// `(Σ (x − c), Σ (x − c)²)` over one row.
    fn centered_sums = centered_sums_body(x: &[f32], c: f32) -> (f32, f32)
);

vectorized!(
    /// `(Σ g, Σ g·(x − μ))` over one row, with `g = dy·[y > 0]`.
    fn masked_sums = masked_sums_body(x: &[f32], y: &[f32], dy: &[f32], mean: f32) -> (f32, f32)
);

/// Per-channel constants of the input gradient.
#[derive(Clone, Copy)]
struct InputGrad {
    mean: f32,
    inv_std: f32,
    /// `γ / √(σ² + ε)`.
    k: f32,
    /// `Σ g / n`.
    mg: f32,
    /// `Σ g·x̂ / n`.
    mgx: f32,
}

#[inline(always)]
fn input_grad_body(x: &[f32], y: &[f32], dy: &[f32], dx: &mut [f32], c: InputGrad) {
    for (((&xi, &yi), &di), o) in x.iter().zip(y).zip(dy).zip(dx.iter_mut()) {
        let g = if yi > 0.0 { di } else { 0.0 };
        let xh = (xi - c.mean) * c.inv_std;
        *o = c.k * (g - c.mg - xh * c.mgx);
    }
}

vectorized!(
    /// One row of `dx = γ/√(σ² + ε) · (g − Σg/n − x̂·Σg·x̂/n)`.
    fn input_grad = input_grad_body(x: &[f32], y: &[f32], dy: &[f32], dx: &mut [f32], c: InputGrad)
);
