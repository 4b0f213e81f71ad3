//! Soft ranks by entropic optimal transport (Cuturi, Teboul, Vert, *Differentiable Ranks and
//! Sorting using Optimal Transport*, NeurIPS 2019).
//!
//! One row of `n` scores is squashed to (0, 1) (standardised, then a sigmoid: `x̃`), and
//! transported onto the sorted targets `y_j = j/(n−1)` (`y_0 = 1/2` when `n = 1`) with uniform
//! weights `a = b = 1/n`, cost `C_ij = (x̃_i − y_j)²` and entropic regularisation ε. The plan
//! comes from `iters` log-domain Sinkhorn iterations started at `f = 0`, each updating `g`,
//! then `f`:
//!
//! ```text
//! g_j = ε·log b − ε·LSE_i((f_i − C_ij)/ε)      f_i = ε·log a − ε·LSE_j((g_j − C_ij)/ε)
//! P_ij = exp((f_i + g_j − C_ij)/ε)
//! ```
//!
//! Ending on an `f` update makes every row of `n·P` sum to 1 exactly, whatever `iters`; the
//! columns do once the iterations have converged. The ascending soft rank of `i` is
//! `n·Σ_j P_ij·(j+1)`, the SoDeep rank `(n + 1 − asc)/n = Σ_j (n − j)·P_ij`, and the relaxed
//! permutation in the crate's convention (row k: the k-th LARGEST) is `P_desc[k,i] =
//! n·P[i, n−1−k]`.
//!
//! The backward pass is reverse-mode through the unrolled iterations: the forward keeps `f`
//! and `g` of every iteration (O(iters·n)), and the softmaxes of each step are recomputed
//! from them on the way back, so no `n × n` matrix is stored. `C` is recomputed from `x̃`
//! wherever it is needed. Cost O(iters·n²) per row both ways.

use candle_core::Tensor;

use super::row_op::{apply_rows, positive, RowMap};
use crate::error::{Error, Result};
use crate::ranker::Ranker;

/// The optimal-transport ranker (`sinkhorn`); knobs `eps` (ε > 0) and `iters` (≥ 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sinkhorn {
    /// Entropic regularisation ε: smaller is closer to the exact ranks, and needs more
    /// iterations to converge.
    pub eps: f64,
    /// Number of Sinkhorn iterations (each one `g` and one `f` update).
    pub iters: usize,
}

/// ε when none is given (see [`DEFAULT_ITERS`] for the measurement behind both).
pub const DEFAULT_EPS: f64 = 3e-3;

/// Iterations when none are given. Measured on 50 N(0,1) vectors of n = 100 (rank spacing
/// 1/n = 0.01), mean |rank − exact rank|: 0.0088 at ε = 3e-3 with 100 iterations, 0.0087 once
/// converged (500 iterations), against 0.0146 at ε = 1e-2 (converged by 100) and 0.0062 at
/// ε = 1e-3, which needs 500. At these defaults the columns of `n·P` sum to 1 within 2%
/// (0.25% with 200 iterations); its rows always do exactly. Smaller ε needs more iterations:
/// at 100 of them ε = 1e-3 is worse (0.0099) than 3e-3.
pub const DEFAULT_ITERS: usize = 100;

/// The largest iteration count accepted: 1,000 times the default. Each iteration costs O(n²)
/// per row, so larger counts run for hours.
pub const MAX_ITERS: usize = 100_000;

/// The floor of the standard deviation in the squashing step, so a constant row (or n = 1)
/// maps to `z = 0` instead of 0/0. Scores spread less than this are treated as tied, and
/// their gradient is scaled by `1/floor`: rank rows of distinct scores.
pub const STD_FLOOR: f64 = 1e-12;

impl Sinkhorn {
    /// A Sinkhorn ranker; ε must be positive and finite, `iters` at least 1.
    pub fn new(eps: f64, iters: usize) -> Result<Self> {
        check_knobs(eps, iters)?;
        Ok(Self { eps, iters })
    }
}

/// The smallest ε accepted. The plan is `exp((f + g − C)/ε)`, and the f64 rounding of the
/// potentials (about 1e-16 relative) is amplified by 1/ε: far enough below 1e-12 the ranks
/// leave [1/n, 1] (`tests/hostile_input.rs` checks the ranks at this bound).
pub const MIN_EPS: f64 = 1e-12;

fn check_knobs(eps: f64, iters: usize) -> Result<()> {
    positive("sinkhorn", "the regularisation eps", eps)?;
    if eps < MIN_EPS {
        return Err(Error::InvalidArgument(format!(
            "sinkhorn: eps={eps} is below {MIN_EPS:e}, where f64 rounding in the transport plan \
             makes the ranks wrong; use a larger eps (and more iters for a sharp plan)"
        )));
    }
    if iters == 0 || iters > MAX_ITERS {
        return Err(Error::InvalidArgument(format!(
            "sinkhorn: iters={iters}: iters must be between 1 and {MAX_ITERS}"
        )));
    }
    Ok(())
}

/// The squashed scores `x̃ = sigmoid((x − mean)/std)` and what their VJP needs.
struct Squashed {
    xt: Vec<f64>,
    z: Vec<f64>,
    sigma: f64,
    floored: bool,
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

fn squash(x: &[f64]) -> Squashed {
    let n = x.len() as f64;
    // the mean as x_0 + mean(x − x_0): a constant row gets exactly zero deviations, where
    // rounding would otherwise leave noise that standardisation blows up to order 1
    let mean = x[0] + x.iter().map(|v| v - x[0]).sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let sd = var.sqrt();
    let floored = sd <= STD_FLOOR;
    let sigma = if floored { STD_FLOOR } else { sd };
    let z: Vec<f64> = x.iter().map(|v| (v - mean) / sigma).collect();
    let xt = z.iter().map(|&v| sigmoid(v)).collect();
    Squashed {
        xt,
        z,
        sigma,
        floored,
    }
}

/// `∂L/∂x` from `∂L/∂x̃`. Above the floor the standard deviation depends on `x`
/// (`x̄ = (z̄ − mean z̄ − z·mean(z̄ ⊙ z))/σ`); at the floor it is a constant.
fn squash_vjp(sq: &Squashed, xt_bar: &[f64]) -> Vec<f64> {
    let n = xt_bar.len() as f64;
    let z_bar: Vec<f64> = xt_bar
        .iter()
        .zip(&sq.xt)
        .map(|(b, s)| b * s * (1.0 - s))
        .collect();
    let mean_bar = z_bar.iter().sum::<f64>() / n;
    let mean_bar_z = if sq.floored {
        0.0
    } else {
        z_bar.iter().zip(&sq.z).map(|(a, b)| a * b).sum::<f64>() / n
    };
    z_bar
        .iter()
        .zip(&sq.z)
        .map(|(b, z)| (b - mean_bar - z * mean_bar_z) / sq.sigma)
        .collect()
}

/// A solved transport problem: the squashed scores, targets, and the dual potentials.
struct Plan {
    sq: Squashed,
    y: Vec<f64>,
    eps: f64,
    /// `f⁰ … f^T` (`(T+1)·n`, `f⁰ = 0`) when kept for the backward pass, else the last `f`.
    f: Vec<f64>,
    /// `g¹ … g^T` (`T·n`) when kept, else the last `g`.
    g: Vec<f64>,
}

impl Plan {
    fn n(&self) -> usize {
        self.y.len()
    }

    /// The final potentials.
    fn last(&self) -> (&[f64], &[f64]) {
        let n = self.n();
        (&self.f[self.f.len() - n..], &self.g[self.g.len() - n..])
    }
}

/// Log-sum-exp of `v`, stable.
fn lse(v: &[f64]) -> f64 {
    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    m + v.iter().map(|a| (a - m).exp()).sum::<f64>().ln()
}

fn targets(n: usize) -> Vec<f64> {
    if n == 1 {
        vec![0.5]
    } else {
        (0..n).map(|j| j as f64 / (n - 1) as f64).collect()
    }
}

/// Runs the iterations; `keep` stores every iteration's potentials for [`plan_vjp`].
fn solve(x: &[f64], eps: f64, iters: usize, keep: bool) -> Result<Plan> {
    check_knobs(eps, iters)?;
    if x.is_empty() {
        return Err(Error::Empty("sinkhorn: no score to rank".into()));
    }
    crate::error::check_finite(x, x.len())?;
    let n = x.len();
    let sq = squash(x);
    let y = targets(n);
    let inv = 1.0 / eps;
    let log_w = -(n as f64).ln();
    let (f_rows, g_rows) = if keep { (iters + 1, iters) } else { (1, 1) };
    let mut f = vec![0.0; f_rows * n];
    let mut g = vec![0.0; g_rows * n];
    let mut buf = vec![0.0; n];
    for t in 1..=iters {
        // without `keep` both updates work in place: g^t reads only f^{t−1}, f^t only g^t
        let (fp, gt) = if keep {
            ((t - 1) * n, (t - 1) * n)
        } else {
            (0, 0)
        };
        for j in 0..n {
            let yj = y[j];
            for ((b, &fi), &xi) in buf.iter_mut().zip(&f[fp..fp + n]).zip(&sq.xt) {
                let d = xi - yj;
                *b = (fi - d * d) * inv;
            }
            g[gt + j] = eps * (log_w - lse(&buf));
        }
        let ft = if keep { t * n } else { 0 };
        for i in 0..n {
            let xi = sq.xt[i];
            for ((b, &gj), &yj) in buf.iter_mut().zip(&g[gt..gt + n]).zip(&y) {
                let d = xi - yj;
                *b = (gj - d * d) * inv;
            }
            f[ft + i] = eps * (log_w - lse(&buf));
        }
    }
    Ok(Plan { sq, y, eps, f, g })
}

/// Row `i` of the plan into `out`.
fn plan_row(plan: &Plan, i: usize, out: &mut [f64]) {
    let (f, g) = plan.last();
    let (xi, fi, inv) = (plan.sq.xt[i], f[i], 1.0 / plan.eps);
    for ((o, &gj), &yj) in out.iter_mut().zip(g).zip(&plan.y) {
        let d = xi - yj;
        *o = ((fi + gj - d * d) * inv).exp();
    }
}

/// `∂L/∂x` for a kept plan, where `cotangent(i, out)` writes `∂L/∂P[i,:]` into `out`.
fn plan_vjp(plan: &Plan, cotangent: impl Fn(usize, &mut [f64])) -> Vec<f64> {
    let n = plan.n();
    let iters = plan.g.len() / n;
    let (xt, y) = (&plan.sq.xt, &plan.y);
    let inv = 1.0 / plan.eps;
    // L and K below are n·exp(…): the softmaxes of the LSEs, rebuilt from the stored
    // potentials, which already hold each LSE's normaliser
    let log_n = (n as f64).ln();
    let mut xt_bar = vec![0.0; n];
    let mut f_bar = vec![0.0; n];
    let mut g_bar = vec![0.0; n];
    let mut buf = vec![0.0; n];

    // P_ij = exp((f_i + g_j − C_ij)/ε): each entry passes Ḡ·P/ε to f_i and g_j, minus it to C_ij
    let (f, g) = plan.last();
    for i in 0..n {
        cotangent(i, &mut buf);
        let (xi, fi) = (xt[i], f[i]);
        let (mut fb, mut xb) = (0.0, 0.0);
        for ((&c, (&gj, &yj)), gb) in buf.iter().zip(g.iter().zip(y)).zip(g_bar.iter_mut()) {
            let d = xi - yj;
            let w = c * ((fi + gj - d * d) * inv).exp() * inv;
            fb += w;
            *gb += w;
            xb -= w * 2.0 * d;
        }
        f_bar[i] = fb;
        xt_bar[i] += xb;
    }

    for t in (1..=iters).rev() {
        let ft = &plan.f[t * n..(t + 1) * n];
        let fp = &plan.f[(t - 1) * n..t * n];
        let gt = &plan.g[(t - 1) * n..t * n];
        // f^t_i = ε log a − ε LSE_j((g_j − C_ij)/ε): ∂f_i/∂g_j = −L_ij, ∂f_i/∂C_ij = L_ij
        for i in 0..n {
            let (xi, fi, fb) = (xt[i], ft[i], f_bar[i]);
            let mut xb = 0.0;
            for ((&gj, &yj), gb) in gt.iter().zip(y).zip(g_bar.iter_mut()) {
                let d = xi - yj;
                let w = fb * ((fi + gj - d * d) * inv + log_n).exp();
                *gb -= w;
                xb += w * 2.0 * d;
            }
            xt_bar[i] += xb;
        }
        // g^t_j = ε log b − ε LSE_i((f_i − C_ij)/ε): ∂g_j/∂f_i = −K_ij, ∂g_j/∂C_ij = K_ij;
        // f^{t−1} feeds only g^t, so its adjoint is this step's alone
        for i in 0..n {
            let (xi, fi) = (xt[i], fp[i]);
            let (mut fb, mut xb) = (0.0, 0.0);
            for ((&gj, &yj), &gb) in gt.iter().zip(y).zip(&g_bar) {
                let d = xi - yj;
                let w = gb * ((fi + gj - d * d) * inv + log_n).exp();
                fb -= w;
                xb += w * 2.0 * d;
            }
            f_bar[i] = fb;
            xt_bar[i] += xb;
        }
        // g^{t−1} feeds only f^{t−1}: its adjoint starts afresh
        g_bar.iter_mut().for_each(|v| *v = 0.0);
    }
    squash_vjp(&plan.sq, &xt_bar)
}

fn check_cotangent(got: usize, want: usize) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "sinkhorn: the cotangent has {got} values, expected {want}"
        )))
    }
}

/// The transport plan of one row: `n × n`, row-major, row i the input, column j the target
/// `y_j` (ascending). Rows of `n·P` sum to 1; columns do once the iterations converge.
pub fn sinkhorn_plan(x: &[f64], eps: f64, iters: usize) -> Result<Vec<f64>> {
    let plan = solve(x, eps, iters, false)?;
    let n = x.len();
    let mut p = vec![0.0; n * n];
    for (i, row) in p.chunks_mut(n).enumerate() {
        plan_row(&plan, i, row);
    }
    Ok(p)
}

/// The relaxed permutation of one row in the crate's convention: `P_desc[k,i] =
/// n·P[i, n−1−k]` (`n × n`, row-major; row k: the k-th largest).
pub fn sinkhorn_permutation(x: &[f64], eps: f64, iters: usize) -> Result<Vec<f64>> {
    let plan = solve(x, eps, iters, false)?;
    let n = x.len();
    let scale = n as f64;
    let mut out = vec![0.0; n * n];
    let mut row = vec![0.0; n];
    for i in 0..n {
        plan_row(&plan, i, &mut row);
        for (j, p) in row.iter().enumerate() {
            out[(n - 1 - j) * n + i] = scale * p;
        }
    }
    Ok(out)
}

/// `∂(Σ g ⊙ sinkhorn_permutation(x, ε, iters))/∂x`, `g` of length `n²`.
pub fn sinkhorn_permutation_vjp(x: &[f64], eps: f64, iters: usize, g: &[f64]) -> Result<Vec<f64>> {
    let n = x.len();
    check_cotangent(g.len(), n * n)?;
    let plan = solve(x, eps, iters, true)?;
    let scale = n as f64;
    Ok(plan_vjp(&plan, |i, out| {
        for (j, o) in out.iter_mut().enumerate() {
            *o = scale * g[(n - 1 - j) * n + i];
        }
    }))
}

/// SoDeep ranks of one row: `(n + 1 − asc_i)/n = Σ_j (n − j)·P_ij`, the same as
/// [`crate::relax::ranks_from_permutation`] of [`sinkhorn_permutation`], in O(n) memory.
pub fn sinkhorn_ranks(x: &[f64], eps: f64, iters: usize) -> Result<Vec<f64>> {
    let plan = solve(x, eps, iters, false)?;
    let mut out = vec![0.0; x.len()];
    plan_ranks(&plan, &mut out);
    Ok(out)
}

/// The ranks of a solved plan into `out`.
fn plan_ranks(plan: &Plan, out: &mut [f64]) {
    let n = plan.n();
    let mut row = vec![0.0; n];
    for (i, o) in out.iter_mut().enumerate() {
        plan_row(plan, i, &mut row);
        *o = row
            .iter()
            .enumerate()
            .map(|(j, p)| (n - j) as f64 * p)
            .sum();
    }
}

/// The VJP of [`plan_ranks`] through a kept plan.
fn plan_ranks_vjp(plan: &Plan, g: &[f64]) -> Vec<f64> {
    let n = plan.n();
    plan_vjp(plan, |i, out| {
        for (j, o) in out.iter_mut().enumerate() {
            *o = g[i] * (n - j) as f64;
        }
    })
}

/// `∂(Σ g ⊙ sinkhorn_ranks(x, ε, iters))/∂x`, without any `n × n` buffer.
pub fn sinkhorn_ranks_vjp(x: &[f64], eps: f64, iters: usize, g: &[f64]) -> Result<Vec<f64>> {
    check_cotangent(g.len(), x.len())?;
    let plan = solve(x, eps, iters, true)?;
    Ok(plan_ranks_vjp(&plan, g))
}

impl RowMap for Sinkhorn {
    fn op_name(&self) -> &'static str {
        "sinkhorn"
    }

    fn matrix_out(&self) -> bool {
        true
    }

    fn forward(&self, x: &[f64]) -> Result<Vec<f64>> {
        sinkhorn_permutation(x, self.eps, self.iters)
    }

    fn vjp(&self, x: &[f64], g: &[f64]) -> Result<Vec<f64>> {
        sinkhorn_permutation_vjp(x, self.eps, self.iters, g)
    }
}

/// The ranks side as a row map: the candle graph holds `B × n` ranks, never `B × n × n`.
#[derive(Debug, Clone, Copy)]
struct RankMap(Sinkhorn);

impl RowMap for RankMap {
    fn op_name(&self) -> &'static str {
        "sinkhorn-ranks"
    }

    fn forward(&self, x: &[f64]) -> Result<Vec<f64>> {
        sinkhorn_ranks(x, self.0.eps, self.0.iters)
    }

    fn vjp(&self, x: &[f64], g: &[f64]) -> Result<Vec<f64>> {
        sinkhorn_ranks_vjp(x, self.0.eps, self.0.iters, g)
    }

    // the forward pass keeps every iteration's potentials (2·iters·n values) so that the
    // backward pass runs the reverse sweep alone instead of solving again: a third less work
    fn forward_into(&self, x: &[f64], out: &mut [f64]) -> Result<Option<super::row_op::Tape>> {
        let plan = solve(x, self.0.eps, self.0.iters, true)?;
        plan_ranks(&plan, out);
        Ok(Some(Box::new(plan)))
    }

    fn vjp_into(
        &self,
        x: &[f64],
        tape: Option<&super::row_op::Tape>,
        g: &[f64],
        grad_x: &mut [f64],
    ) -> Result<()> {
        check_cotangent(g.len(), x.len())?;
        super::row_op::vjp_from_tape(self, x, tape, g, grad_x, |plan: &Plan, out| {
            out.copy_from_slice(&plan_ranks_vjp(plan, g));
            Ok(())
        })
    }
}

impl Ranker for Sinkhorn {
    fn name(&self) -> String {
        format!("sinkhorn:eps={},iters={}", self.eps, self.iters)
    }

    fn fixed_len(&self) -> Option<usize> {
        None
    }

    fn rank(&self, scores: &Tensor) -> Result<Tensor> {
        apply_rows(&RankMap(*self), scores)
    }

    /// The stored potentials, `(2·iters + 1)·n` values, plus thirteen length-n buffers (the
    /// input, cotangent and output copies, squashed scores, z, targets, one row, four
    /// adjoints, the squashing VJP's two); no `n × n` matrix for the ranks.
    /// [`Ranker::permutation`] adds its `8n²`-byte output.
    fn memory_bytes(&self, n: usize) -> u64 {
        8 * n as u64 * (2 * self.iters as u64 + 14)
    }

    fn permutation_bytes(&self, n: usize) -> u64 {
        crate::ranker::permutation_bytes(n, self.memory_bytes(n))
    }

    fn permutation(&self, scores: &Tensor) -> Result<Option<Tensor>> {
        apply_rows(self, scores).map(Some)
    }
}
