//! Relaxed permutation matrices built row by row as a softmax: NeuralSort (Grover, Wang,
//! Zweig, Ermon, *Stochastic Optimization of Sorting Networks via Continuous Relaxations*,
//! ICLR 2019, deterministic variant) and SoftSort (Prillo, Eisenschlos, *SoftSort: A
//! Continuous Relaxation for the argsort Operator*, ICML 2020, power 1).
//!
//! Row k (0-based) of the `n × n` matrix is a distribution over the input positions for the
//! k-th LARGEST score:
//!
//! - NeuralSort: `P[k,:] = softmax(((n − 1 − 2k)·s − A_s·1) / τ)`, `A_s[j,l] = |s_j − s_l|`
//!   (the paper's `n + 1 − 2i` with 1-based `i = k + 1`);
//! - SoftSort: `P[k,:] = softmax(−|sort_desc(s)_k − s| / τ)`.
//!
//! Both cost O(n²) time per row. Only the permutation itself needs `n²` memory: the ranks
//! `r_i = Σ_k (k+1)·P[k,i]/n` and every VJP are computed one row of `P` at a time, recomputing
//! the row's softmax on the way back, so ranking keeps O(n) scratch per row.
//!
//! Derivatives at ties use `d|u|/du = 0` at `u = 0` (PyTorch's convention, which the
//! reference fixtures follow), and the sort passes its gradient to the position it picked
//! (`d sort(s)_k / d s_{order_k} = 1`; ties pick the lower index).

use candle_core::Tensor;

use super::row_op::{apply_rows, positive, RowMap};
use crate::error::{Error, Result};
use crate::rank::argsort_desc;
use crate::ranker::Ranker;

/// The NeuralSort ranker (`neuralsort`); knob `tau` (τ > 0, default 1: smaller is closer to
/// the exact permutation). [`Ranker::permutation`] gives the relaxed permutation,
/// [`Ranker::rank`] the SoDeep ranks read from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NeuralSort {
    /// Temperature τ of the row softmaxes.
    pub tau: f64,
}

/// The SoftSort ranker (`softsort-perm`); knob `tau` (τ > 0, default 1). Named apart from
/// torchsort's soft sort, which is the sort side of [`crate::relax::softrank`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoftSortPerm {
    /// Temperature τ of the row softmaxes.
    pub tau: f64,
}

/// τ when none is given, for both rankers.
pub const DEFAULT_TAU: f64 = 1.0;

impl NeuralSort {
    /// A NeuralSort ranker; τ must be positive and finite.
    pub fn new(tau: f64) -> Result<Self> {
        positive("neuralsort", "the temperature tau", tau)?;
        Ok(Self { tau })
    }
}

impl SoftSortPerm {
    /// A SoftSort ranker; τ must be positive and finite.
    pub fn new(tau: f64) -> Result<Self> {
        positive("softsort-perm", "the temperature tau", tau)?;
        Ok(Self { tau })
    }
}

/// Which of the two relaxations a computation is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    NeuralSort,
    SoftSort,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::NeuralSort => "neuralsort",
            Kind::SoftSort => "softsort-perm",
        }
    }
}

/// One row of scores prepared for its relaxation: what every row of `P` needs, computed once.
struct Rows<'a> {
    kind: Kind,
    x: &'a [f64],
    inv_tau: f64,
    /// Positions in descending order of the scores (SoftSort), or ascending (NeuralSort).
    order: Vec<usize>,
}

impl<'a> Rows<'a> {
    fn new(kind: Kind, x: &'a [f64], tau: f64) -> Result<Self> {
        positive(kind.name(), "the temperature tau", tau)?;
        if x.is_empty() {
            return Err(Error::Empty(format!("{}: no score to sort", kind.name())));
        }
        crate::error::check_finite(x, x.len())?;
        let order = match kind {
            Kind::NeuralSort => argsort_asc(x),
            Kind::SoftSort => argsort_desc(x),
        };
        Ok(Self {
            kind,
            x,
            inv_tau: 1.0 / tau,
            order,
        })
    }

    fn n(&self) -> usize {
        self.x.len()
    }

    /// Row `k` of `P` into `out`.
    fn row(&self, k: usize, out: &mut [f64]) {
        match self.kind {
            Kind::NeuralSort => {
                // The logits `(n − 1 − 2k)·s_j − Σ_l |s_j − s_l|`, relative to their peak (the
                // k-th largest score). Along the ascending order the logit changes by
                // `(v_{p+1} − v_p)·(2n − 3 − 2p − 2k)` from position p to p + 1, positive
                // below the peak and negative above it, so summing these steps outward from the
                // peak never cancels: computed directly, `Σ_l |s_j − s_l|` swamps the gaps
                // between small scores when one score is far larger (1e20 beside hundreds), and
                // the relaxed permutation puts uneven mass on the columns (ranks outside
                // [1/n, 1]).
                let (n, asc, x) = (self.n(), &self.order, self.x);
                let step = |p: usize| {
                    (x[asc[p + 1]] - x[asc[p]])
                        * (2.0 * n as f64 - 3.0 - 2.0 * p as f64 - 2.0 * k as f64)
                };
                let peak = n - 1 - k;
                out[asc[peak]] = 0.0;
                let mut acc = 0.0;
                for p in (0..peak).rev() {
                    acc -= step(p);
                    out[asc[p]] = acc * self.inv_tau;
                }
                acc = 0.0;
                for p in peak..n - 1 {
                    acc += step(p);
                    out[asc[p + 1]] = acc * self.inv_tau;
                }
            }
            Kind::SoftSort => {
                let top = self.x[self.order[k]];
                for (o, &s) in out.iter_mut().zip(self.x) {
                    *o = -(top - s).abs() * self.inv_tau;
                }
            }
        }
        softmax_in_place(out);
    }

    /// Adds `∂(Σ_j u_j·logits_k[j])/∂x` to `grad`; NeuralSort defers its `A_s·1` part by
    /// summing `u / τ` into `aux` (one O(n log n) pass in [`Rows::finish`] instead of O(n) per
    /// row).
    fn logits_vjp(&self, k: usize, u: &[f64], grad: &mut [f64], aux: &mut [f64]) {
        match self.kind {
            Kind::NeuralSort => {
                let c = ((self.n() - 1) as f64 - 2.0 * k as f64) * self.inv_tau;
                for ((gr, a), &uj) in grad.iter_mut().zip(aux.iter_mut()).zip(u) {
                    *gr += c * uj;
                    *a += uj * self.inv_tau;
                }
            }
            Kind::SoftSort => {
                let at = self.order[k];
                let top = self.x[at];
                // logit_j = −|top − s_j|/τ: s_j gets +sign·u_j/τ, the sorted value −Σ of those
                let mut to_top = 0.0;
                for ((gr, &s), &uj) in grad.iter_mut().zip(self.x).zip(u) {
                    let d = sign(top - s) * uj * self.inv_tau;
                    *gr += d;
                    to_top += d;
                }
                grad[at] -= to_top;
            }
        }
    }

    /// The gradient from the accumulators of [`Rows::logits_vjp`].
    fn finish(&self, mut grad: Vec<f64>, aux: &[f64]) -> Vec<f64> {
        if self.kind == Kind::NeuralSort {
            // logits hold −A_s·1/τ, so A_s·1 receives −aux
            let beta: Vec<f64> = aux.iter().map(|a| -a).collect();
            abs_row_sums_vjp(self.x, &beta, &mut grad);
        }
        grad
    }
}

/// `sign(u)` with `sign(0) = 0`, the subgradient PyTorch uses for `|u|`.
fn sign(u: f64) -> f64 {
    if u > 0.0 {
        1.0
    } else if u < 0.0 {
        -1.0
    } else {
        0.0
    }
}

fn softmax_in_place(v: &mut [f64]) {
    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mut z = 0.0;
    for a in v.iter_mut() {
        *a = (*a - m).exp();
        z += *a;
    }
    let inv = 1.0 / z;
    v.iter_mut().for_each(|a| *a *= inv);
}

/// Ascending order of `x` (ties by index).
fn argsort_asc(x: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]).then(a.cmp(&b)));
    order
}

/// Adds `∂(Σ_j β_j b_j)/∂x` for `b_j = Σ_l |x_j − x_l|` to `grad`:
/// `∂/∂x_m = Σ_l (β_m + β_l)·sign(x_m − x_l)`, with tied scores in one group (sign 0).
fn abs_row_sums_vjp(x: &[f64], beta: &[f64], grad: &mut [f64]) {
    let n = x.len();
    let order = argsort_asc(x);
    let total: f64 = beta.iter().sum();
    let mut below = 0.0; // Σ β over the scores strictly below the current group
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && x[order[end]] == x[order[start]] {
            end += 1;
        }
        let group: f64 = order[start..end].iter().map(|&j| beta[j]).sum();
        let above = total - below - group;
        let (less, more) = (start as f64, (n - end) as f64);
        for &m in &order[start..end] {
            grad[m] += beta[m] * (less - more) + below - above;
        }
        below += group;
        start = end;
    }
}

/// The whole `n × n` relaxed permutation, row-major.
fn permutation_of(rows: &Rows) -> Vec<f64> {
    let n = rows.n();
    let mut p = vec![0.0; n * n];
    for (k, row) in p.chunks_mut(n).enumerate() {
        rows.row(k, row);
    }
    p
}

/// `r_i = Σ_k (k+1)·P[k,i]/n`, one row of `P` at a time.
fn ranks_of(rows: &Rows) -> Vec<f64> {
    let n = rows.n();
    let mut buf = vec![0.0; n];
    let mut r = vec![0.0; n];
    for k in 0..n {
        rows.row(k, &mut buf);
        let w = (k + 1) as f64 / n as f64;
        for (ri, p) in r.iter_mut().zip(&buf) {
            *ri += w * p;
        }
    }
    r
}

/// The VJP through `P`, where `cotangent(k, out)` writes `∂L/∂P[k,:]` into `out`: each row's
/// softmax is recomputed, pulled back through the softmax, then through the logits.
fn vjp_of(rows: &Rows, cotangent: impl Fn(usize, &mut [f64])) -> Vec<f64> {
    let n = rows.n();
    let mut p = vec![0.0; n];
    let mut u = vec![0.0; n];
    let mut grad = vec![0.0; n];
    let mut aux = vec![0.0; n];
    for k in 0..n {
        rows.row(k, &mut p);
        cotangent(k, &mut u);
        let dot: f64 = p.iter().zip(&u).map(|(a, b)| a * b).sum();
        for (uj, &pj) in u.iter_mut().zip(&p) {
            *uj = pj * (*uj - dot);
        }
        rows.logits_vjp(k, &u, &mut grad, &mut aux);
    }
    rows.finish(grad, &aux)
}

fn check_cotangent(kind: Kind, got: usize, want: usize) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "{}: the cotangent has {got} values, expected {want}",
            kind.name()
        )))
    }
}

fn permutation(kind: Kind, x: &[f64], tau: f64) -> Result<Vec<f64>> {
    Ok(permutation_of(&Rows::new(kind, x, tau)?))
}

fn permutation_vjp(kind: Kind, x: &[f64], tau: f64, g: &[f64]) -> Result<Vec<f64>> {
    let rows = Rows::new(kind, x, tau)?;
    let n = x.len();
    check_cotangent(kind, g.len(), n * n)?;
    Ok(vjp_of(&rows, |k, out| {
        out.copy_from_slice(&g[k * n..(k + 1) * n])
    }))
}

fn ranks(kind: Kind, x: &[f64], tau: f64) -> Result<Vec<f64>> {
    Ok(ranks_of(&Rows::new(kind, x, tau)?))
}

fn ranks_vjp(kind: Kind, x: &[f64], tau: f64, g: &[f64]) -> Result<Vec<f64>> {
    let rows = Rows::new(kind, x, tau)?;
    let n = x.len();
    check_cotangent(kind, g.len(), n)?;
    // row k of crate::relax::ranks_from_permutation_vjp(g), made on the fly so no n × n
    // cotangent is ever held
    Ok(vjp_of(&rows, |k, out| {
        let w = (k + 1) as f64 / n as f64;
        for (o, gi) in out.iter_mut().zip(g) {
            *o = w * gi;
        }
    }))
}

/// NeuralSort's relaxed permutation of one row (`n × n`, row-major; row k: the k-th largest).
pub fn neuralsort(x: &[f64], tau: f64) -> Result<Vec<f64>> {
    permutation(Kind::NeuralSort, x, tau)
}

/// `∂(Σ g ⊙ neuralsort(x, τ))/∂x`, `g` of length `n²`.
pub fn neuralsort_vjp(x: &[f64], tau: f64, g: &[f64]) -> Result<Vec<f64>> {
    permutation_vjp(Kind::NeuralSort, x, tau, g)
}

/// SoDeep ranks from NeuralSort's permutation (`ranks_from_permutation ∘ neuralsort`), in O(n)
/// memory.
pub fn neuralsort_ranks(x: &[f64], tau: f64) -> Result<Vec<f64>> {
    ranks(Kind::NeuralSort, x, tau)
}

/// `∂(Σ g ⊙ neuralsort_ranks(x, τ))/∂x`, in O(n) memory.
pub fn neuralsort_ranks_vjp(x: &[f64], tau: f64, g: &[f64]) -> Result<Vec<f64>> {
    ranks_vjp(Kind::NeuralSort, x, tau, g)
}

/// SoftSort's relaxed permutation of one row (`n × n`, row-major; row k: the k-th largest).
pub fn softsort_perm(x: &[f64], tau: f64) -> Result<Vec<f64>> {
    permutation(Kind::SoftSort, x, tau)
}

/// `∂(Σ g ⊙ softsort_perm(x, τ))/∂x`, `g` of length `n²`.
pub fn softsort_perm_vjp(x: &[f64], tau: f64, g: &[f64]) -> Result<Vec<f64>> {
    permutation_vjp(Kind::SoftSort, x, tau, g)
}

/// SoDeep ranks from SoftSort's permutation, in O(n) memory.
pub fn softsort_perm_ranks(x: &[f64], tau: f64) -> Result<Vec<f64>> {
    ranks(Kind::SoftSort, x, tau)
}

/// `∂(Σ g ⊙ softsort_perm_ranks(x, τ))/∂x`, in O(n) memory.
pub fn softsort_perm_ranks_vjp(x: &[f64], tau: f64, g: &[f64]) -> Result<Vec<f64>> {
    ranks_vjp(Kind::SoftSort, x, tau, g)
}

/// The ranks side of either ranker as a row map, so the candle graph holds `B × n` ranks and
/// never the `B × n × n` permutation.
#[derive(Debug, Clone, Copy)]
struct RankMap {
    kind: Kind,
    tau: f64,
}

impl RowMap for RankMap {
    fn op_name(&self) -> &'static str {
        match self.kind {
            Kind::NeuralSort => "neuralsort-ranks",
            Kind::SoftSort => "softsort-perm-ranks",
        }
    }

    fn forward(&self, x: &[f64]) -> Result<Vec<f64>> {
        ranks(self.kind, x, self.tau)
    }

    fn vjp(&self, x: &[f64], g: &[f64]) -> Result<Vec<f64>> {
        ranks_vjp(self.kind, x, self.tau, g)
    }
}

/// Scratch of one ranks forward+backward, in length-n buffers of 8 bytes: the input,
/// cotangent and output copies, `A_s·1` or the order, the sort's order, the VJP's row, its
/// cotangent row and two accumulators, and β.
fn rank_scratch_bytes(n: usize) -> u64 {
    8 * 10 * n as u64
}

/// The row-map and ranker impls of the two relaxations, which differ only in their [`Kind`]:
/// the row map is the `n × n` permutation, the ranker's ranks go through [`RankMap`].
macro_rules! permutation_ranker {
    ($ty:ty, $kind:expr) => {
        impl RowMap for $ty {
            fn op_name(&self) -> &'static str {
                $kind.name()
            }

            fn matrix_out(&self) -> bool {
                true
            }

            fn forward(&self, x: &[f64]) -> Result<Vec<f64>> {
                permutation($kind, x, self.tau)
            }

            fn vjp(&self, x: &[f64], g: &[f64]) -> Result<Vec<f64>> {
                permutation_vjp($kind, x, self.tau, g)
            }
        }

        impl Ranker for $ty {
            fn name(&self) -> String {
                format!("{}:tau={}", $kind.name(), self.tau)
            }

            fn fixed_len(&self) -> Option<usize> {
                None
            }

            fn rank(&self, scores: &Tensor) -> Result<Tensor> {
                let map = RankMap {
                    kind: $kind,
                    tau: self.tau,
                };
                apply_rows(&map, scores)
            }

            /// O(n) for the ranks, which stream the rows of `P`; [`Ranker::permutation`] adds
            /// its `8n²`-byte output.
            fn memory_bytes(&self, n: usize) -> u64 {
                rank_scratch_bytes(n)
            }

            fn permutation_bytes(&self, n: usize) -> u64 {
                crate::ranker::permutation_bytes(n, rank_scratch_bytes(n))
            }

            fn permutation(&self, scores: &Tensor) -> Result<Option<Tensor>> {
                apply_rows(self, scores).map(Some)
            }
        }
    };
}

permutation_ranker!(NeuralSort, Kind::NeuralSort);
permutation_ranker!(SoftSortPerm, Kind::SoftSort);
