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

/// What the backward pass needs from one forward pass.
#[derive(Debug, Clone)]
pub struct SoftRankTape {
    eps: f64,
    reg: Regularization,
    /// Indices that sort the scaled scores descending.
    order: Vec<usize>,
    /// PAV blocks over the sorted positions: (start, end) half-open.
    blocks: Vec<(usize, usize)>,
    /// Sorted scaled scores (for the KL block weights).
    sorted: Vec<f64>,
    /// The output (for the KL chain rule through `exp`).
    output: Vec<f64>,
}

/// Ascending soft ranks of `x` with strength `eps` (> 0), and the tape for [`soft_rank_vjp`].
pub fn soft_rank(x: &[f64], eps: f64, reg: Regularization) -> Result<(Vec<f64>, SoftRankTape)> {
    crate::relax::positive("softrank", "the strength ε", eps)?;
    if x.is_empty() {
        return Err(Error::Empty("softrank: no score to rank".into()));
    }
    crate::error::check_finite(x, x.len())?;
    let n = x.len();
    let order = crate::relax::argsort_desc(x);
    let sorted: Vec<f64> = order.iter().map(|&i| x[i] / eps).collect();
    // ρ = (n, …, 1), or log ρ for KL
    let rho: Vec<f64> = match reg {
        Regularization::L2 => (0..n).map(|k| (n - k) as f64).collect(),
        Regularization::Kl => (0..n).map(|k| ((n - k) as f64).ln()).collect(),
    };
    let (dual, blocks) = match reg {
        Regularization::L2 => isotonic_l2(&sorted, &rho),
        Regularization::Kl => isotonic_kl(&sorted, &rho),
    };
    let mut output = vec![0.0; n];
    for (k, &i) in order.iter().enumerate() {
        let primal = sorted[k] - dual[k];
        output[i] = match reg {
            Regularization::L2 => primal,
            Regularization::Kl => primal.exp(),
        };
    }
    Ok((
        output.clone(),
        SoftRankTape {
            eps,
            reg,
            order,
            blocks,
            sorted,
            output,
        },
    ))
}

/// `∂(Σ_i u_i · soft_rank(x)_i) / ∂x`.
pub fn soft_rank_vjp(tape: &SoftRankTape, u: &[f64]) -> Vec<f64> {
    let n = tape.order.len();
    // through exp for KL
    let v: Vec<f64> = match tape.reg {
        Regularization::L2 => u.to_vec(),
        Regularization::Kl => u.iter().zip(&tape.output).map(|(a, y)| a * y).collect(),
    };
    // projection VJP: v − Jᵀ_iso v, with the isotonic Jacobian block-wise in sorted order
    let sorted_v: Vec<f64> = tape.order.iter().map(|&i| v[i]).collect();
    let mut iso = vec![0.0; n];
    for &(s, e) in &tape.blocks {
        let total: f64 = sorted_v[s..e].iter().sum();
        match tape.reg {
            Regularization::L2 => {
                let mean = total / (e - s) as f64;
                iso[s..e].iter_mut().for_each(|g| *g = mean);
            }
            Regularization::Kl => {
                // the block's dual is log Σ e^{s_j} − log Σ ρ_j: its gradient is softmax(s_B)
                let m = tape.sorted[s..e]
                    .iter()
                    .cloned()
                    .fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = tape.sorted[s..e].iter().map(|t| (t - m).exp()).sum();
                for (g, t) in iso[s..e].iter_mut().zip(&tape.sorted[s..e]) {
                    *g = (t - m).exp() / z * total;
                }
            }
        }
    }
    let mut grad = vec![0.0; n];
    for (k, &i) in tape.order.iter().enumerate() {
        grad[i] = (v[i] - iso[k]) / tape.eps;
    }
    grad
}

/// Pool-adjacent-violators for `min ½‖v − (s − w)‖²` with `v` non-increasing. Returns `v` and
/// its blocks.
fn isotonic_l2(s: &[f64], w: &[f64]) -> (Vec<f64>, Vec<(usize, usize)>) {
    let y: Vec<f64> = s.iter().zip(w).map(|(a, b)| a - b).collect();
    // each block: (start, end, sum)
    let mut blocks: Vec<(usize, usize, f64)> = Vec::with_capacity(y.len());
    for (i, &yi) in y.iter().enumerate() {
        blocks.push((i, i + 1, yi));
        while blocks.len() > 1 {
            let (s2, e2, t2) = blocks[blocks.len() - 1];
            let (s1, e1, t1) = blocks[blocks.len() - 2];
            // non-increasing: merge while the later block's mean exceeds the earlier one's
            // (compared without dividing: both lengths are positive)
            if t2 * (e1 - s1) as f64 > t1 * (e2 - s2) as f64 {
                blocks.pop();
                let last = blocks.len() - 1;
                blocks[last] = (s1, e2, t1 + t2);
            } else {
                break;
            }
        }
    }
    let mut v = vec![0.0; y.len()];
    for &(st, en, t) in &blocks {
        let mean = t / (en - st) as f64;
        v[st..en].iter_mut().for_each(|x| *x = mean);
    }
    (v, blocks.into_iter().map(|(a, b, _)| (a, b)).collect())
}

/// Pool-adjacent-violators for the KL problem `min Σ e^{s_i − v_i} + e^{w_i} v_i` with `v`
/// non-increasing: a block's value is `log Σ e^{s_j} − log Σ e^{w_j}`.
fn isotonic_kl(s: &[f64], w: &[f64]) -> (Vec<f64>, Vec<(usize, usize)>) {
    // each block: (start, end, log Σ e^s, log Σ e^w)
    let lse = |a: f64, b: f64| {
        let m = a.max(b);
        m + ((a - m).exp() + (b - m).exp()).ln()
    };
    let mut blocks: Vec<(usize, usize, f64, f64)> = Vec::with_capacity(s.len());
    for i in 0..s.len() {
        blocks.push((i, i + 1, s[i], w[i]));
        while blocks.len() > 1 {
            let (_, e2, ls2, lw2) = blocks[blocks.len() - 1];
            let (s1, _, ls1, lw1) = blocks[blocks.len() - 2];
            if ls2 - lw2 > ls1 - lw1 {
                blocks.pop();
                let last = blocks.len() - 1;
                blocks[last] = (s1, e2, lse(ls1, ls2), lse(lw1, lw2));
            } else {
                break;
            }
        }
    }
    let mut v = vec![0.0; s.len()];
    for &(st, en, ls, lw) in &blocks {
        v[st..en].iter_mut().for_each(|x| *x = ls - lw);
    }
    (v, blocks.into_iter().map(|(a, b, _, _)| (a, b)).collect())
}

/// What [`soft_sort_vjp`] needs from one forward pass.
#[derive(Debug, Clone)]
pub struct SoftSortTape {
    reg: Regularization,
    /// Input positions in the order of the output (ascending scores).
    order: Vec<usize>,
    /// PAV blocks over the output positions.
    blocks: Vec<(usize, usize)>,
    /// The negated scores in output order (for the KL block weights).
    sorted: Vec<f64>,
}

/// Ascending soft sort of `x` with strength `eps` (> 0), and the tape for [`soft_sort_vjp`].
pub fn soft_sort(x: &[f64], eps: f64, reg: Regularization) -> Result<(Vec<f64>, SoftSortTape)> {
    crate::relax::positive("softsort", "the strength ε", eps)?;
    if x.is_empty() {
        return Err(Error::Empty("softsort: no score to sort".into()));
    }
    crate::error::check_finite(x, x.len())?;
    let n = x.len();
    // ascending sort of x = descending sort of −x, negated
    let neg: Vec<f64> = x.iter().map(|v| -v).collect();
    let order = crate::relax::argsort_desc(&neg);
    let sorted: Vec<f64> = order.iter().map(|&i| neg[i]).collect();
    let w: Vec<f64> = (0..n).map(|k| (n - k) as f64 / eps).collect();
    let (dual, blocks) = match reg {
        Regularization::L2 => isotonic_l2(&w, &sorted),
        Regularization::Kl => isotonic_kl(&w, &sorted),
    };
    let out = w.iter().zip(&dual).map(|(a, v)| -(a - v)).collect();
    Ok((
        out,
        SoftSortTape {
            reg,
            order,
            blocks,
            sorted,
        },
    ))
}

/// `∂(Σ_k u_k · soft_sort(x)_k) / ∂x`.
pub fn soft_sort_vjp(tape: &SoftSortTape, u: &[f64]) -> Vec<f64> {
    let mut grad = vec![0.0; u.len()];
    for &(s, e) in &tape.blocks {
        let total: f64 = u[s..e].iter().sum();
        match tape.reg {
            Regularization::L2 => {
                let mean = total / (e - s) as f64;
                for &i in &tape.order[s..e] {
                    grad[i] = mean;
                }
            }
            Regularization::Kl => {
                let block = &tape.sorted[s..e];
                let m = block.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = block.iter().map(|t| (t - m).exp()).sum();
                for (&i, t) in tape.order[s..e].iter().zip(block) {
                    grad[i] = (t - m).exp() / z * total;
                }
            }
        }
    }
    grad
}

/// The soft-rank ranker (`softrank`, and `softsort` for the same projection pair): SoDeep
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
        crate::relax::positive("softrank", "the strength ε", eps)?;
        Ok(Self { eps, reg })
    }
}

impl SoftRank {
    /// SoDeep ranks of one row into `out`, and the tape of the projection.
    fn row(&self, x: &[f64], out: &mut [f64]) -> Result<SoftRankTape> {
        let neg: Vec<f64> = x.iter().map(|v| -v).collect();
        let (y, tape) = soft_rank(&neg, self.eps, self.reg)?;
        let n = x.len() as f64;
        for (o, v) in out.iter_mut().zip(y) {
            *o = v / n;
        }
        Ok(tape)
    }

    /// The VJP of [`SoftRank::row`] from its tape.
    fn row_vjp(tape: &SoftRankTape, g: &[f64], grad_x: &mut [f64]) {
        // y = soft_rank(−x)/n: the chain rule brings −1/n
        let n = g.len() as f64;
        let scaled: Vec<f64> = g.iter().map(|v| v / n).collect();
        for (o, v) in grad_x.iter_mut().zip(soft_rank_vjp(tape, &scaled)) {
            *o = -v;
        }
    }
}

impl crate::relax::RowMap for SoftRank {
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

    fn forward_into(&self, x: &[f64], out: &mut [f64]) -> Result<Option<crate::relax::Tape>> {
        Ok(Some(Box::new(self.row(x, out)?)))
    }

    fn vjp_into(
        &self,
        x: &[f64],
        tape: Option<&crate::relax::Tape>,
        g: &[f64],
        grad_x: &mut [f64],
    ) -> Result<()> {
        match tape.and_then(|t| t.downcast_ref::<SoftRankTape>()) {
            Some(t) => Self::row_vjp(t, g, grad_x),
            None => grad_x.copy_from_slice(&crate::relax::RowMap::vjp(self, x, g)?),
        }
        Ok(())
    }
}

/// The descending soft sort as a row map (the `sort` side of [`SoftRank`]).
#[derive(Debug, Clone, Copy)]
struct SoftSortDesc(SoftRank);

impl crate::relax::RowMap for SoftSortDesc {
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
        crate::relax::apply_rows(self, scores)
    }

    fn sort(&self, scores: &candle_core::Tensor) -> Result<Option<candle_core::Tensor>> {
        crate::relax::apply_rows(&SoftSortDesc(*self), scores).map(Some)
    }
}
