//! One Adam step over a whole parameter tensor in a single pass, computing in f32 exactly what
//! the candle expression of [`crate::optim::Adam::step`] computes op by op (each product and sum
//! rounded to f32 in the same order), so that both give the same bits and training resumes
//! identically on either path.
//!
//! `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, `θ ← θ − lr · (m/c₁) / (√(v/c₂) + ε)` with the bias
//! corrections `cᵢ = 1 − βᵢᵗ`.

use super::simd::vectorized;

/// The step's constants, as candle rounds them to f32 (`affine` takes `mul as f32`).
#[derive(Clone, Copy)]
pub(crate) struct AdamCoefs {
    pub b1: f32,
    pub one_minus_b1: f32,
    pub b2: f32,
    pub one_minus_b2: f32,
    pub inv_bc1: f32,
    pub inv_bc2: f32,
    pub eps: f32,
    pub lr: f32,
}

impl AdamCoefs {
    /// The constants of step `t` (1-based).
    pub fn new(beta1: f64, beta2: f64, eps: f64, lr: f64, t: i32) -> Self {
        let (bc1, bc2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
        Self {
            b1: beta1 as f32,
            one_minus_b1: (1.0 - beta1) as f32,
            b2: beta2 as f32,
            one_minus_b2: (1.0 - beta2) as f32,
            inv_bc1: (1.0 / bc1) as f32,
            inv_bc2: (1.0 / bc2) as f32,
            eps: eps as f32,
            lr: lr as f32,
        }
    }
}

#[inline(always)]
fn adam_body(theta: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], c: AdamCoefs) {
    let n = theta.len();
    let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
    for j in 0..n {
        // `+ 0.0` where candle's affine adds its zero offset: it turns −0 into +0
        let mj = (m[j] * c.b1 + 0.0) + (g[j] * c.one_minus_b1 + 0.0);
        let vj = (v[j] * c.b2 + 0.0) + ((g[j] * g[j]) * c.one_minus_b2 + 0.0);
        let denom = (vj * c.inv_bc2 + 0.0).sqrt() * 1.0 + c.eps;
        let update = (mj * c.inv_bc1 + 0.0) / denom;
        theta[j] -= update * c.lr + 0.0;
        m[j] = mj;
        v[j] = vj;
    }
}

vectorized!(
    /// Updates `theta`, `m` and `v` in place from the gradient `g` (all of one length).
    fn adam_update = adam_body(theta: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], c: AdamCoefs)
);

/// Updates in place, the work split over up to `threads` threads.
pub(crate) fn adam(
    theta: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    c: AdamCoefs,
    threads: usize,
) {
    // below this many values a second thread costs more than it saves
    const PER_THREAD: usize = 1 << 16;
    let parts = threads.clamp(1, theta.len().div_ceil(PER_THREAD).max(1));
    if parts == 1 {
        adam_update(theta, g, m, v, c);
        return;
    }
    let chunk = theta.len().div_ceil(parts);
    std::thread::scope(|sc| {
        let work = theta
            .chunks_mut(chunk)
            .zip(g.chunks(chunk))
            .zip(m.chunks_mut(chunk).zip(v.chunks_mut(chunk)));
        for ((t, g), (m, v)) in work {
            sc.spawn(move || adam_update(t, g, m, v, c));
        }
    });
}
