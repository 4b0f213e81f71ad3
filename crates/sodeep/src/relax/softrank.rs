//! Soft ranks by projection onto the permutahedron (Blondel, Teboul, Berthet, Djolonga,
//! *Fast Differentiable Sorting and Ranking*, ICML 2020), in O(n log n).
//!
//! `soft_rank(x) = P(x / ε)`: the projection of the scaled scores onto the convex hull of the
//! permutations of `ρ = (n, n−1, …, 1)`, in the L2 sense, or its KL counterpart. As `ε → 0` it
//! tends to the exact ascending ranks (1 = smallest); as `ε` grows, every rank tends to the mean
//! `(n + 1)/2`. The projection reduces to isotonic regression of the sorted scores against `ρ`,
//! solved by pool-adjacent-violators; its Jacobian is block-wise, so the VJP costs O(n).
//!
//! `soft_sort(x)` is the other projection of the same pair: `ρ/ε` onto the permutahedron of
//! the scores, which tends to the sorted scores as `ε → 0`.

use crate::error::{Error, Result};
use crate::ranker::Ranker;

/// The regulariser of the projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regularization {
    /// Euclidean projection.
    L2,
    /// Kullback–Leibler projection (ranks are strictly positive).
    Kl,
}

impl Regularization {
    /// Parses `l2` or `kl` (torchsort's names).
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "l2" => Ok(Self::L2),
            "kl" => Ok(Self::Kl),
            other => Err(Error::InvalidArgument(format!(
                "regularization must be 'l2' or 'kl', got '{other}'"
            ))),
        }
    }
}

/// What the backward pass needs from one forward pass.
#[derive(Debug, Clone)]
pub struct SoftRankTape {
    eps: f64,
    reg: Regularization,
    /// Indices that sort the scaled scores descending.
    order: Vec<u32>,
    /// PAV blocks over the sorted positions: (start, end) half-open, and the block's value
    /// (kept as PAV returns it, to save a copy; the VJP reads the bounds only).
    blocks: Vec<(u32, u32, f64)>,
    /// Sorted scaled scores (for the KL block weights; empty for L2).
    sorted: Vec<f64>,
    /// The output in input order (for the KL chain rule through `exp`; empty for L2).
    output: Vec<f64>,
}

/// Ascending soft ranks of `x` with strength `eps` (> 0), and the tape for [`soft_rank_vjp`].
pub fn soft_rank(x: &[f64], eps: f64, reg: Regularization) -> Result<(Vec<f64>, SoftRankTape)> {
    let mut out = vec![0.0; x.len()];
    let tape = soft_rank_to(x, eps, reg, &mut out)?;
    Ok((out, tape))
}

/// [`soft_rank`] written into `out` (`x.len()` values): for callers that own the output
/// buffer, such as the Python package writing straight into a NumPy array.
pub fn soft_rank_to(
    x: &[f64],
    eps: f64,
    reg: Regularization,
    out: &mut [f64],
) -> Result<SoftRankTape> {
    if x.is_empty() {
        return Err(Error::Empty("softrank: no score to rank".into()));
    }
    crate::error::check_finite(x, x.len())?;
    soft_rank_into(x, 1.0, eps, reg, 1.0, out)
}

/// `scale · soft_rank(sign · x)` into `out`. The row kernel of the ranker: one sort, one
/// pass of pool-adjacent-violators with ρ computed on the fly, and the output written in
/// place, so a row costs four allocations whatever its length. `x` is non-empty and finite:
/// [`soft_rank`] checks it, and the candle op checks the whole batch before any row.
fn soft_rank_into(
    x: &[f64],
    sign: f64,
    eps: f64,
    reg: Regularization,
    scale: f64,
    out: &mut [f64],
) -> Result<SoftRankTape> {
    super::row_op::positive("softrank", "the strength ε", eps)?;
    let n = x.len();
    let order = crate::rank::argsort_desc_signed(x, sign);
    // Soft ranks do not change when every score moves by the same amount, so the scores are
    // centred on their median first: an offset such as 1.7e18 would otherwise swamp ρ's units
    // (the difference of two f32 values is exact in f64 over 29 binades, so this loses nothing).
    let centre = sign * x[order[n / 2] as usize];
    let sorted: Vec<f64> = order
        .iter()
        .map(|&i| (sign * x[i as usize] - centre) / eps)
        .collect();
    // ρ = (n, …, 1), or log ρ for KL
    let rho = |k: usize| match reg {
        Regularization::L2 => (n - k) as f64,
        Regularization::Kl => ((n - k) as f64).ln(),
    };
    let blocks = match reg {
        Regularization::L2 => pav_l2(n, |k| sorted[k] - rho(k)),
        Regularization::Kl => pav_kl(&sorted, rho),
    };
    // primal_k = s_k − dual, with dual = (block mean of s) − (block mean of ρ) for L2 and
    // log Σ e^s − log Σ e^ρ for KL, written so that s never cancels against itself; a block of
    // one gives ρ_k exactly, however large s_k is. The two regularisations loop separately,
    // so that the L2 loop holds no exp for the compiler to evaluate speculatively.
    match reg {
        Regularization::L2 => {
            for &(st, en, _) in &blocks {
                let (st, en) = (st as usize, en as usize);
                if en - st == 1 {
                    out[order[st] as usize] = scale * rho(st);
                    continue;
                }
                let block_s = sorted[st..en].iter().sum::<f64>() / (en - st) as f64;
                // the mean of n − k over k in st..en, exactly (a half-integer)
                let block_rho = n as f64 - (st + en - 1) as f64 / 2.0;
                for k in st..en {
                    out[order[k] as usize] = scale * ((sorted[k] - block_s) + block_rho);
                }
            }
        }
        Regularization::Kl => {
            for &(st, en, _) in &blocks {
                let (st, en) = (st as usize, en as usize);
                if en - st == 1 {
                    out[order[st] as usize] = scale * rho(st).exp();
                    continue;
                }
                let block_s = log_sum_exp(sorted[st..en].iter().copied());
                let block_rho = log_sum_exp((st..en).map(rho));
                for k in st..en {
                    out[order[k] as usize] = scale * ((sorted[k] - block_s) + block_rho).exp();
                }
            }
        }
    }
    let (sorted, output) = match reg {
        Regularization::L2 => (Vec::new(), Vec::new()),
        Regularization::Kl => (sorted, out.iter().map(|o| o / scale).collect()),
    };
    Ok(SoftRankTape {
        eps,
        reg,
        order,
        blocks,
        sorted,
        output,
    })
}

/// `log Σ e^v`, stably.
fn log_sum_exp(v: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = v.clone().fold(f64::NEG_INFINITY, f64::max);
    m + v.map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// The isotonic step of both projections on one row, for re-implementations that do the rest
/// elsewhere (the Python package's torch ops): the non-increasing fit of `s` against `w`, as
/// the value of each position's block and the block's first position.
///
/// - L2: `v = argmin Σ (v_k − (s_k − w_k))²` with `v` non-increasing; a block's value is the
///   mean of `s − w` over it.
/// - KL: a block's value is `log Σ e^{s_j} − log Σ e^{w_j}` over it.
///
/// Soft rank is `s − v` (L2) or `e^{s − v}` (KL) with `s` the sorted scaled scores and `w = ρ`
/// (or `log ρ`); soft sort is `v − s` with `s = ρ/ε` and `w` the sorted negated scores.
///
/// ```
/// use sodeep::relax::softrank::{isotonic, Regularization};
/// // s − w = (1, 3, 2): the first two positions violate and pool to 2, which ties the third
/// let (v, start) = isotonic(&[1.0, 3.0, 2.0], &[0.0; 3], Regularization::L2);
/// assert_eq!(v, vec![2.0, 2.0, 2.0]);
/// assert_eq!(start, vec![0, 0, 2]);
/// ```
pub fn isotonic(s: &[f64], w: &[f64], reg: Regularization) -> (Vec<f64>, Vec<u32>) {
    let n = s.len().min(w.len());
    let blocks = match reg {
        Regularization::L2 => pav_l2(n, |k| s[k] - w[k]),
        Regularization::Kl => pav_kl(&s[..n], |k| w[k]),
    };
    let mut value = vec![0.0; n];
    let mut start = vec![0u32; n];
    for (st, en, v) in blocks {
        for k in st as usize..en as usize {
            value[k] = v;
            start[k] = st;
        }
    }
    (value, start)
}

/// Pool-adjacent-violators for the L2 problem on `y(0), …, y(n−1)` (non-increasing fit):
/// blocks as (start, end, mean).
fn pav_l2(n: usize, y: impl Fn(usize) -> f64) -> Vec<(u32, u32, f64)> {
    // (start, end, sum) while merging
    let mut blocks: Vec<(u32, u32, f64)> = Vec::with_capacity(n);
    for i in 0..n {
        let mut cur = (i as u32, i as u32 + 1, y(i));
        // merge while the later block's mean exceeds the earlier one's (compared without
        // dividing: both lengths are positive)
        while let Some(&(s1, e1, t1)) = blocks.last() {
            if cur.2 * (e1 - s1) as f64 > t1 * (cur.1 - cur.0) as f64 {
                blocks.pop();
                cur = (s1, cur.1, t1 + cur.2);
            } else {
                break;
            }
        }
        blocks.push(cur);
    }
    for b in &mut blocks {
        b.2 /= (b.1 - b.0) as f64;
    }
    blocks
}

/// Pool-adjacent-violators for the KL problem `min Σ e^{s_i − v_i} + e^{w_i} v_i` with `v`
/// non-increasing: blocks as (start, end, value), a block's value being
/// `log Σ e^{s_j} − log Σ e^{w_j}`.
fn pav_kl(s: &[f64], w: impl Fn(usize) -> f64) -> Vec<(u32, u32, f64)> {
    let lse = |a: f64, b: f64| {
        let m = a.max(b);
        m + ((a - m).exp() + (b - m).exp()).ln()
    };
    // (start, end, log Σ e^s, log Σ e^w) while merging
    let mut blocks: Vec<(u32, u32, f64, f64)> = Vec::with_capacity(s.len());
    for (i, &si) in s.iter().enumerate() {
        let mut cur = (i as u32, i as u32 + 1, si, w(i));
        while let Some(&(s1, _, ls1, lw1)) = blocks.last() {
            if cur.2 - cur.3 > ls1 - lw1 {
                blocks.pop();
                cur = (s1, cur.1, lse(ls1, cur.2), lse(lw1, cur.3));
            } else {
                break;
            }
        }
        blocks.push(cur);
    }
    blocks
        .into_iter()
        .map(|(a, b, ls, lw)| (a, b, ls - lw))
        .collect()
}

/// `∂(Σ_i u_i · soft_rank(x)_i) / ∂x`.
pub fn soft_rank_vjp(tape: &SoftRankTape, u: &[f64]) -> Vec<f64> {
    let mut grad = vec![0.0; u.len()];
    soft_rank_vjp_to(tape, u, &mut grad);
    grad
}

/// [`soft_rank_vjp`] written into `grad` (`u.len()` values). O(n): one pass over the blocks
/// the forward pass found.
pub fn soft_rank_vjp_to(tape: &SoftRankTape, u: &[f64], grad: &mut [f64]) {
    soft_rank_vjp_into(tape, u, 1.0, grad);
}

/// `scale · ∂(Σ_i u_i · soft_rank(x)_i) / ∂x` into `grad`. The projection's Jacobian is
/// block-wise in sorted order: `v − J_iso v` with `v = u` (L2) or `u ⊙ output` (KL).
fn soft_rank_vjp_into(tape: &SoftRankTape, u: &[f64], scale: f64, grad: &mut [f64]) {
    let k = scale / tape.eps;
    let v = |i: usize| match tape.reg {
        Regularization::L2 => u[i],
        Regularization::Kl => u[i] * tape.output[i],
    };
    for &(s, e, _) in &tape.blocks {
        let idx = &tape.order[s as usize..e as usize];
        let total: f64 = idx.iter().map(|&i| v(i as usize)).sum();
        match tape.reg {
            Regularization::L2 => {
                let mean = total / idx.len() as f64;
                for &i in idx {
                    grad[i as usize] = k * (v(i as usize) - mean);
                }
            }
            Regularization::Kl => {
                // the block's dual is log Σ e^{s_j} − log Σ ρ_j: its gradient is softmax(s_B)
                let block = &tape.sorted[s as usize..e as usize];
                let m = block.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = block.iter().map(|t| (t - m).exp()).sum();
                for (&i, t) in idx.iter().zip(block) {
                    grad[i as usize] = k * (v(i as usize) - (t - m).exp() / z * total);
                }
            }
        }
    }
}

/// What [`soft_sort_vjp`] needs from one forward pass.
#[derive(Debug, Clone)]
pub struct SoftSortTape {
    reg: Regularization,
    /// Input positions in the order of the output (ascending scores).
    order: Vec<u32>,
    /// PAV blocks over the output positions: (start, end) half-open.
    blocks: Vec<(u32, u32)>,
    /// The negated scores in output order (for the KL block weights; empty for L2).
    sorted: Vec<f64>,
}

/// Ascending soft sort of `x` with strength `eps` (> 0), and the tape for [`soft_sort_vjp`].
pub fn soft_sort(x: &[f64], eps: f64, reg: Regularization) -> Result<(Vec<f64>, SoftSortTape)> {
    let mut out = vec![0.0; x.len()];
    let tape = soft_sort_to(x, eps, reg, &mut out)?;
    Ok((out, tape))
}

/// [`soft_sort`] written into `out` (`x.len()` values).
pub fn soft_sort_to(
    x: &[f64],
    eps: f64,
    reg: Regularization,
    out: &mut [f64],
) -> Result<SoftSortTape> {
    super::row_op::positive("softsort", "the strength ε", eps)?;
    if x.is_empty() {
        return Err(Error::Empty("softsort: no score to sort".into()));
    }
    crate::error::check_finite(x, x.len())?;
    let n = x.len();
    // ascending sort of x = descending sort of −x, negated
    let order = crate::rank::argsort_desc_signed(x, -1.0);
    let sorted: Vec<f64> = order.iter().map(|&i| -x[i as usize]).collect();
    let w = |k: usize| (n - k) as f64 / eps;
    let blocks = match reg {
        Regularization::L2 => pav_l2(n, |k| w(k) - sorted[k]),
        Regularization::Kl => pav_kl(&(0..n).map(w).collect::<Vec<_>>(), |k| sorted[k]),
    };
    for &(st, en, dual) in &blocks {
        let (st, en) = (st as usize, en as usize);
        for (k, o) in out[st..en].iter_mut().enumerate() {
            *o = dual - w(st + k);
        }
    }
    Ok(SoftSortTape {
        reg,
        order,
        blocks: blocks.into_iter().map(|(a, b, _)| (a, b)).collect(),
        sorted: match reg {
            Regularization::L2 => Vec::new(),
            Regularization::Kl => sorted,
        },
    })
}

/// `∂(Σ_k u_k · soft_sort(x)_k) / ∂x`.
pub fn soft_sort_vjp(tape: &SoftSortTape, u: &[f64]) -> Vec<f64> {
    let mut grad = vec![0.0; u.len()];
    soft_sort_vjp_to(tape, u, &mut grad);
    grad
}

/// [`soft_sort_vjp`] written into `grad` (`u.len()` values): each block's share of `u`,
/// sent back to the block's input positions.
pub fn soft_sort_vjp_to(tape: &SoftSortTape, u: &[f64], grad: &mut [f64]) {
    for &(s, e) in &tape.blocks {
        let (s, e) = (s as usize, e as usize);
        let total: f64 = u[s..e].iter().sum();
        match tape.reg {
            Regularization::L2 => {
                let mean = total / (e - s) as f64;
                for &i in &tape.order[s..e] {
                    grad[i as usize] = mean;
                }
            }
            Regularization::Kl => {
                let block = &tape.sorted[s..e];
                let m = block.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = block.iter().map(|t| (t - m).exp()).sum();
                for (&i, t) in tape.order[s..e].iter().zip(block) {
                    grad[i as usize] = (t - m).exp() / z * total;
                }
            }
        }
    }
}

/// The soft-rank ranker (`softrank`; its sort side is torchsort's soft sort): SoDeep
/// ranks (largest → `1/n`) as `soft_rank(−x) / n`, any batch size and any n, f32 or f64, with
/// the exact VJP as its backward pass; [`Ranker::sort`] gives the descending soft sort.
///
/// Knobs: `eps` (ε > 0, default 1; smaller is closer to the exact ranks), `reg` (`l2`
/// default, or `kl`). O(n log n) forward and O(n) backward per row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoftRank {
    /// Strength ε (> 0): smaller is closer to the exact ranks.
    pub eps: f64,
    /// L2 (default) or KL.
    pub reg: Regularization,
}

impl SoftRank {
    /// A soft-rank ranker; ε must be positive.
    pub fn new(eps: f64, reg: Regularization) -> Result<Self> {
        super::row_op::positive("softrank", "the strength ε", eps)?;
        Ok(Self { eps, reg })
    }
}

impl SoftRank {
    /// SoDeep ranks of one row into `out` (`soft_rank(−x) / n`), and the tape of the projection.
    fn row(&self, x: &[f64], out: &mut [f64]) -> Result<SoftRankTape> {
        soft_rank_into(x, -1.0, self.eps, self.reg, 1.0 / x.len() as f64, out)
    }

    /// The VJP of [`SoftRank::row`] from its tape: the chain rule brings `−1/n`.
    fn row_vjp(tape: &SoftRankTape, g: &[f64], grad_x: &mut [f64]) {
        soft_rank_vjp_into(tape, g, -1.0 / g.len() as f64, grad_x);
    }
}

impl super::row_op::RowMap for SoftRank {
    fn op_name(&self) -> &'static str {
        "softrank"
    }

    fn forward(&self, x: &[f64]) -> Result<Vec<f64>> {
        let mut out = vec![0.0; x.len()];
        self.row(x, &mut out)?;
        Ok(out)
    }

    fn vjp(&self, x: &[f64], g: &[f64]) -> Result<Vec<f64>> {
        let tape = self.row(x, &mut vec![0.0; x.len()])?;
        let mut grad = vec![0.0; x.len()];
        Self::row_vjp(&tape, g, &mut grad);
        Ok(grad)
    }

    fn forward_into(&self, x: &[f64], out: &mut [f64]) -> Result<Option<super::row_op::Tape>> {
        Ok(Some(Box::new(self.row(x, out)?)))
    }

    fn vjp_into(
        &self,
        x: &[f64],
        tape: Option<&super::row_op::Tape>,
        g: &[f64],
        grad_x: &mut [f64],
    ) -> Result<()> {
        super::row_op::vjp_from_tape(self, x, tape, g, grad_x, |t: &SoftRankTape, out| {
            Self::row_vjp(t, g, out);
            Ok(())
        })
    }
}

/// torchsort's conventions as row maps: `soft_rank(x)` (ascending, raw ranks 1..n) and
/// `soft_sort(x)` (ascending values), for [`crate::torchsort`].
#[derive(Debug, Clone, Copy)]
pub struct Ascending {
    /// The projection's strength and regularisation.
    pub of: SoftRank,
    /// Sort (`true`) or rank (`false`).
    pub sort: bool,
}

impl super::row_op::RowMap for Ascending {
    fn op_name(&self) -> &'static str {
        if self.sort {
            "soft_sort"
        } else {
            "soft_rank"
        }
    }

    fn forward(&self, x: &[f64]) -> Result<Vec<f64>> {
        let mut out = vec![0.0; x.len()];
        self.forward_into(x, &mut out)?;
        Ok(out)
    }

    fn vjp(&self, x: &[f64], g: &[f64]) -> Result<Vec<f64>> {
        let mut out = vec![0.0; x.len()];
        let tape = self.forward_into(x, &mut vec![0.0; x.len()])?;
        self.vjp_into(x, tape.as_ref(), g, &mut out)?;
        Ok(out)
    }

    fn forward_into(&self, x: &[f64], out: &mut [f64]) -> Result<Option<super::row_op::Tape>> {
        let SoftRank { eps, reg } = self.of;
        if self.sort {
            let (y, tape) = soft_sort(x, eps, reg)?;
            out.copy_from_slice(&y);
            Ok(Some(Box::new(tape)))
        } else {
            Ok(Some(Box::new(soft_rank_into(x, 1.0, eps, reg, 1.0, out)?)))
        }
    }

    fn vjp_into(
        &self,
        x: &[f64],
        tape: Option<&super::row_op::Tape>,
        g: &[f64],
        grad_x: &mut [f64],
    ) -> Result<()> {
        if self.sort {
            super::row_op::vjp_from_tape(self, x, tape, g, grad_x, |t: &SoftSortTape, out| {
                out.copy_from_slice(&soft_sort_vjp(t, g));
                Ok(())
            })
        } else {
            super::row_op::vjp_from_tape(self, x, tape, g, grad_x, |t: &SoftRankTape, out| {
                soft_rank_vjp_into(t, g, 1.0, out);
                Ok(())
            })
        }
    }
}

/// The descending soft sort as a row map (the `sort` side of [`SoftRank`]).
#[derive(Debug, Clone, Copy)]
struct SoftSortDesc(SoftRank);

impl super::row_op::RowMap for SoftSortDesc {
    fn op_name(&self) -> &'static str {
        "softsort"
    }

    fn forward(&self, x: &[f64]) -> Result<Vec<f64>> {
        let (mut y, _) = soft_sort(x, self.0.eps, self.0.reg)?;
        y.reverse();
        Ok(y)
    }

    fn vjp(&self, x: &[f64], g: &[f64]) -> Result<Vec<f64>> {
        let (_, tape) = soft_sort(x, self.0.eps, self.0.reg)?;
        let rev: Vec<f64> = g.iter().rev().cloned().collect();
        Ok(soft_sort_vjp(&tape, &rev))
    }
}

impl Ranker for SoftRank {
    fn name(&self) -> String {
        match self.reg {
            Regularization::L2 => format!("softrank:eps={}", self.eps),
            Regularization::Kl => format!("softrank:eps={},reg=kl", self.eps),
        }
    }

    fn fixed_len(&self) -> Option<usize> {
        None
    }

    fn rank(&self, scores: &candle_core::Tensor) -> Result<candle_core::Tensor> {
        super::row_op::apply_rows(self, scores)
    }

    fn sort_bytes(&self, n: usize) -> u64 {
        self.memory_bytes(n)
    }

    fn sort(&self, scores: &candle_core::Tensor) -> Result<Option<candle_core::Tensor>> {
        super::row_op::apply_rows(&SoftSortDesc(*self), scores).map(Some)
    }
}
