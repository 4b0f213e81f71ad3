//! The pairwise sorter's comparison layer as one candle op with a hand-written backward pass.
//!
//! For a row `z` of length `n` and `K` comparators with log-sharpness `s_k`, mixing logits
//! `m_k`, the length exponent `γ` and the sharpness bound `Λ`:
//!
//! ```text
//! u_k = s_k + (1 + γ) ln n             λ_k = e^u_k / (1 + e^u_k / Λ)     a = softmax(m)
//! f(t) = Σ_k a_k σ(λ_k t)              (f(−t) = 1 − f(t): one comparison per pair)
//! r_i = (1 + Σ_{j≠i} f(z_j − z_i)) / n
//! ```
//!
//! and, for the backward pass, with `c_ij = (∂L/∂r_i − ∂L/∂r_j) / n` over the pairs `i < j`,
//! `t = z_j − z_i`, `σ_k = σ(λ_k t)` and `f'(t) = Σ_k a_k λ_k σ_k (1 − σ_k)`:
//!
//! ```text
//! ∂L/∂z_j += c_ij f'(t)      ∂L/∂z_i −= c_ij f'(t)
//! ∂L/∂s_k += c_ij a_k λ_k (1 − λ_k / Λ) σ_k (1 − σ_k) t
//! ∂L/∂m_k += c_ij a_k (σ_k − f(t))
//! ∂L/∂γ    = ln n · Σ_k ∂L/∂s_k
//! ```
//!
//! `λ_k` approaches `Λ` smoothly from below: a comparator can never become a step, whose
//! gradient would vanish everywhere (see [`crate::sorter::PairwiseSorter`]).
//!
//! The parameters travel as one vector `[s_0 … s_{K−1}, m_0 … m_{K−1}, γ]`. Rows run in
//! parallel; the pairs of a row are swept one `i` at a time over `j > i`, which the compiler
//! vectorises at each [`super::SimdLevel`].
//!
//! ```
//! use candle_core::{Device, Tensor};
//! // one comparator of sharpness e^0 · n^(1 + 0), unbounded: the handcrafted sorter, λ = n
//! let z = Tensor::new(&[[0.5f32, -0.5]], &Device::Cpu)?;
//! let p = Tensor::new(&[0f32, 0.0, 0.0], &Device::Cpu)?;
//! let r = sodeep::kernels::pairwise::pairwise_ranks(&z, &p, f64::INFINITY)?.to_vec2::<f32>()?;
//! let s = 1.0 / (1.0 + 2f32.exp()); // σ(2 · (−1))
//! assert!((r[0][0] - (1.0 + s) / 2.0).abs() < 1e-6);
//! assert!((r[0][1] - (2.0 - s) / 2.0).abs() < 1e-6);
//! # Ok::<(), candle_core::Error>(())
//! ```

use candle_core::{CpuStorage, Device, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::simd::{sigmoid, vectorized};
use super::storage::{read_f32, slice};

/// `B × n` standardised scores and the `2K + 1` parameters → `B × n` ranks, with comparator
/// sharpness below `bound` (`f64::INFINITY`: unbounded). See the module.
pub fn pairwise_ranks(z: &Tensor, params: &Tensor, bound: f64) -> Result<Tensor> {
    if bound.is_nan() || bound <= 0.0 {
        candle_core::bail!("pairwise ranks: the sharpness bound must be positive, got {bound}")
    }
    z.contiguous()?
        .apply_op2(&params.contiguous()?, PairwiseRanks { bound })
}

/// The comparators of one row length, derived from the parameter vector.
struct Comparators {
    /// `λ_k`.
    lambda: Vec<f32>,
    /// `∂λ_k/∂s_k = λ_k (1 − λ_k / Λ)`.
    dlambda: Vec<f32>,
    /// `a_k`.
    mix: Vec<f32>,
    /// `ln n`.
    ln_n: f32,
}

impl Comparators {
    /// `params` has `2K + 1` entries ([`dims`] checked it).
    fn new(params: &[f32], n: usize, bound: f64) -> Self {
        let k = params.len() / 2;
        let ln_n = (n as f64).ln();
        let gamma = params[2 * k] as f64;
        let lambda: Vec<f64> = params[..k]
            .iter()
            .map(|&s| {
                let e = (s as f64 + (1.0 + gamma) * ln_n).exp().min(f32::MAX as f64);
                e / (1.0 + e / bound)
            })
            .collect();
        let dlambda = lambda
            .iter()
            .map(|l| (l * (1.0 - l / bound)) as f32)
            .collect();
        let lambda = lambda.iter().map(|&l| l as f32).collect();
        let m = &params[k..2 * k];
        let top = m.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
        let e: Vec<f64> = m.iter().map(|&v| (v as f64 - top).exp()).collect();
        let total: f64 = e.iter().sum();
        let mix = e.iter().map(|v| (v / total) as f32).collect();
        Self {
            lambda,
            dlambda,
            mix,
            ln_n: ln_n as f32,
        }
    }
}

/// Sum of a slice in 16 lanes (a plain fold would not vectorise: it fixes the order).
#[inline(always)]
fn lane_sum(v: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let chunks = v.chunks_exact(16);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    acc.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

/// `Σ_j u_j v_j` in 16 lanes.
#[inline(always)]
fn lane_dot(u: &[f32], v: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (cu, cv) = (u.chunks_exact(16), v.chunks_exact(16));
    let rest: f32 = cu
        .remainder()
        .iter()
        .zip(cv.remainder())
        .map(|(a, b)| a * b)
        .sum();
    for (a16, b16) in cu.zip(cv) {
        for ((a, x), y) in acc.iter_mut().zip(a16).zip(b16) {
            *a += x * y;
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// Forward of one row: `r` receives the ranks; `f` is scratch of length `n`.
#[inline(always)]
fn row_forward_body(z: &[f32], lambda: &[f32], mix: &[f32], r: &mut [f32], f: &mut [f32]) {
    let n = z.len();
    r.fill(1.0);
    for i in 0..n {
        let zi = z[i];
        let rest = &z[i + 1..];
        let fi = &mut f[..rest.len()];
        fi.fill(0.0);
        for (&l, &a) in lambda.iter().zip(mix) {
            for (fj, &zj) in fi.iter_mut().zip(rest) {
                *fj += a * sigmoid(l * (zj - zi));
            }
        }
        let (head, tail) = r.split_at_mut(i + 1);
        head[i] += lane_sum(fi);
        for (rj, fj) in tail.iter_mut().zip(fi.iter()) {
            *rj += 1.0 - fj;
        }
    }
    let inv = 1.0 / n as f32;
    for v in r.iter_mut() {
        *v *= inv;
    }
}
vectorized!(fn row_forward = row_forward_body(z: &[f32], lambda: &[f32], mix: &[f32], r: &mut [f32], f: &mut [f32]));

/// Scratch of one row's backward pass.
struct Scratch {
    t: Vec<f32>,
    c: Vec<f32>,
    f: Vec<f32>,
    fp: Vec<f32>,
    u: Vec<f32>,
    sig: Vec<f32>,
}

impl Scratch {
    fn new(n: usize, k: usize) -> Self {
        Self {
            t: vec![0.0; n],
            c: vec![0.0; n],
            f: vec![0.0; n],
            fp: vec![0.0; n],
            u: vec![0.0; n],
            sig: vec![0.0; n * k],
        }
    }
}

/// Backward of one row: adds to `gz` (length `n`, zeroed by the caller) and, when wanted, to
/// `gp` (the parameter gradient, length `2K + 1`; a frozen sorter needs none).
#[inline(always)]
fn row_backward_body(
    z: &[f32],
    g: &[f32],
    cmp: &Comparators,
    gz: &mut [f32],
    gp: Option<&mut [f32]>,
    s: &mut Scratch,
) {
    let mut gp = gp;
    let (lambda, mix) = (&cmp.lambda[..], &cmp.mix[..]);
    let n = z.len();
    let k = lambda.len();
    let inv = 1.0 / n as f32;
    for i in 0..n {
        let m = n - i - 1;
        if m == 0 {
            break;
        }
        let (zi, gi) = (z[i], g[i]);
        let (t, c, f, fp, u) = (
            &mut s.t[..m],
            &mut s.c[..m],
            &mut s.f[..m],
            &mut s.fp[..m],
            &mut s.u[..m],
        );
        for (((tj, cj), &zj), &gj) in t
            .iter_mut()
            .zip(c.iter_mut())
            .zip(&z[i + 1..])
            .zip(&g[i + 1..])
        {
            *tj = zj - zi;
            *cj = (gi - gj) * inv;
        }
        f.fill(0.0);
        fp.fill(0.0);
        for kk in 0..k {
            let (l, a) = (lambda[kk], mix[kk]);
            let sig = &mut s.sig[kk * n..kk * n + m];
            for ((sj, fj), &tj) in sig.iter_mut().zip(f.iter_mut()).zip(t.iter()) {
                *sj = sigmoid(l * tj);
                *fj += a * *sj;
            }
        }
        for kk in 0..k {
            let (l, a) = (lambda[kk], mix[kk]);
            let sig = &s.sig[kk * n..kk * n + m];
            // u_j = σ_k (1 − σ_k) t_j: the sharpness gradient's per-pair factor
            for (((uj, fpj), &sj), &tj) in u.iter_mut().zip(fp.iter_mut()).zip(sig).zip(t.iter()) {
                let d = sj * (1.0 - sj);
                *fpj += a * l * d;
                *uj = d * tj;
            }
            if let Some(gp) = gp.as_deref_mut() {
                let gs = a * cmp.dlambda[kk] * lane_dot(c, u);
                gp[kk] += gs;
                gp[2 * k] += cmp.ln_n * gs;
                // ∂f/∂m_k = a_k (σ_k − f)
                for ((uj, &sj), &fj) in u.iter_mut().zip(sig).zip(f.iter()) {
                    *uj = sj - fj;
                }
                gp[k + kk] += a * lane_dot(c, u);
            }
        }
        // from here on u_j = c_j f'(t_j)
        for ((uj, &cj), &fpj) in u.iter_mut().zip(c.iter()).zip(fp.iter()) {
            *uj = cj * fpj;
        }
        let (head, tail) = gz.split_at_mut(i + 1);
        head[i] -= lane_sum(u);
        for (gj, &uj) in tail.iter_mut().zip(u.iter()) {
            *gj += uj;
        }
    }
}
vectorized!(
    fn row_backward = row_backward_body(
        z: &[f32],
        g: &[f32],
        cmp: &Comparators,
        gz: &mut [f32],
        gp: Option<&mut [f32]>,
        s: &mut Scratch,
    )
);

/// Whether to spread rows over rayon's pool: only when candle may use several threads (the
/// experiments run one job per thread, each single-threaded inside).
fn parallel() -> bool {
    candle_core::utils::get_num_threads() > 1
}

/// One row's inputs (scores, output gradient) and outputs (score and parameter gradients).
type RowPair<'a> = ((&'a [f32], &'a [f32]), (&'a mut [f32], &'a mut [f32]));

struct PairwiseRanks {
    bound: f64,
}

fn dims(z: &Layout, p: &Layout) -> Result<(usize, usize, usize)> {
    let (b, n) = match z.dims() {
        [b, n] => (*b, *n),
        d => candle_core::bail!("pairwise ranks: scores must be B × n, got {d:?}"),
    };
    match p.dims() {
        [len] if *len >= 3 && len % 2 == 1 => Ok((b, n, len / 2)),
        d => candle_core::bail!("pairwise ranks: parameters must be a (2K + 1) vector, got {d:?}"),
    }
}

impl candle_core::CustomOp2 for PairwiseRanks {
    fn name(&self) -> &'static str {
        "pairwise-ranks"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, n, _) = dims(l1, l2)?;
        let z = slice(s1, l1, "pairwise scores")?;
        let cmp = Comparators::new(slice(s2, l2, "pairwise parameters")?, n, self.bound);
        let mut r = vec![0f32; b * n];
        if n > 0 {
            // one scratch row per worker, not per row
            let scratch = || vec![0f32; n];
            let one = |f: &mut Vec<f32>, (zr, rr): (&[f32], &mut [f32])| {
                row_forward(zr, &cmp.lambda, &cmp.mix, rr, f);
            };
            if parallel() {
                z.par_chunks(n)
                    .zip(r.par_chunks_mut(n))
                    .for_each_init(scratch, one);
            } else {
                let mut f = scratch();
                z.chunks(n)
                    .zip(r.chunks_mut(n))
                    .for_each(|row| one(&mut f, row));
            }
        }
        Ok((CpuStorage::F32(r), (b, n).into()))
    }

    fn bwd(
        &self,
        z: &Tensor,
        p: &Tensor,
        _r: &Tensor,
        dr: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (b, n, k) = dims(z.layout(), p.layout())?;
        let (z_c, p_c, g_c) = (z.contiguous()?, p.contiguous()?, dr.contiguous()?);
        let (zv, pv, gv) = (read_f32(&z_c)?, read_f32(&p_c)?, read_f32(&g_c)?);
        let (zv, pv, gv) = (zv.get(), pv.get(), gv.get());
        let cmp = Comparators::new(pv, n, self.bound);
        let np = 2 * k + 1;
        let want_params = p.track_op();
        let mut gz = vec![0f32; b * n];
        let mut gp_rows = vec![0f32; b * np];
        if n > 0 {
            // one scratch per worker, not per row
            let scratch = || Scratch::new(n, k);
            let one = |s: &mut Scratch, ((zr, gr), (gzr, gpr)): RowPair| {
                let gpr = want_params.then_some(gpr);
                row_backward(zr, gr, &cmp, gzr, gpr, s);
            };
            if parallel() {
                zv.par_chunks(n)
                    .zip(gv.par_chunks(n))
                    .zip(gz.par_chunks_mut(n).zip(gp_rows.par_chunks_mut(np)))
                    .for_each_init(scratch, one);
            } else {
                let mut s = scratch();
                zv.chunks(n)
                    .zip(gv.chunks(n))
                    .zip(gz.chunks_mut(n).zip(gp_rows.chunks_mut(np)))
                    .for_each(|row| one(&mut s, row));
            }
        }
        let mut gp = vec![0f32; np];
        for row in gp_rows.chunks_exact(np) {
            for (a, v) in gp.iter_mut().zip(row) {
                *a += v;
            }
        }
        let dev = &Device::Cpu;
        let gp = match want_params {
            true => Some(Tensor::from_vec(gp, np, dev)?),
            false => None,
        };
        Ok((Some(Tensor::from_vec(gz, (b, n), dev)?), gp))
    }
}
