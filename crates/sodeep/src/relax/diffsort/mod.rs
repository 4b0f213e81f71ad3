//! Differentiable sorting networks (Petersen, Borgelt, Kuehne, Deussen, *Differentiable
//! Sorting Networks for Scalable Sorting and Ranking Supervision*, ICML 2021, and
//! *Monotonic Differentiable Sorting Networks*, ICLR 2022), with diffsort 0.2.0's semantics.
//!
//! A sorting network is a fixed list of comparators `(a, b)`; each one writes the smaller of
//! its two values to `a` and the larger to `b`. The relaxation replaces the hard choice by a
//! mixing weight `α = f(s·(x_b − x_a)) ∈ [0, 1]`, `f` a sigmoid-shaped [`Distribution`] and `s`
//! the steepness:
//!
//! ```text
//! x_a ← α·x_a + (1 − α)·x_b        (soft min)
//! x_b ← (1 − α)·x_a + α·x_b        (soft max)
//! ```
//!
//! The relaxed permutation `X` (`n × n`, `sorted = x · X`, diffsort's layout: row i an input,
//! column k a sorted position, ascending) starts as the identity and mixes its columns a and b
//! with the same weights. Every comparator's mixing matrix `M_c` is doubly stochastic and
//! symmetric, so `X = M_1 M_2 ⋯ M_L` and the ascending 0-based soft rank of input i is
//! `Σ_k k·X[i,k] = (M_1 ⋯ M_L · [0, 1, …, n−1])_i`: applying the comparators to the vector
//! `[0, …, n−1]` in reverse order gives the ranks in O(#comparators) without building `X`.
//!
//! Two networks ([`Network`]): odd-even transposition (n layers, ≈ n²/2 comparators, so O(n²)
//! per row) and bitonic (`k(k+1)/2` layers on `2^k ≥ n` wires, ≈ n·log²n/4 comparators).
//!
//! # Conventions
//! * The comparators are stored in *slot* form `(lo, hi)`: the comparator writes the soft min
//!   to storage slot `lo` and the soft max to `hi`, and `α = f(s·(x_hi − x_lo))`. A reversed
//!   bitonic comparator is simply a pair with `lo > hi`. Because every `f` here satisfies
//!   `f(−v) = 1 − f(v)`, this equals diffsort's "α from the lower wire, swap the outputs".
//! * Bitonic networks on `n` that is not a power of two pad the input with `+∞` at the end (up
//!   to the next power of two). A comparator between a real value and a pad is then an exact
//!   identity for the real value (the pad is the max), so it is resolved once, when the network
//!   is compiled: the real value's slot is moved to the wire of the min and the comparator
//!   disappears. Pads never reach the arithmetic. In the hard limit this is exactly the
//!   bitonic network on the padded input, so it sorts every n. (diffsort 0.2.0 instead
//!   discards the *top* wires and skips the comparators that touch them: the soft values
//!   differ for such n, and that scheme does not sort in the hard limit for some n, e.g. 22,
//!   38 or 54.)
//!
//! # Memory (one row, `m` comparators)
//! * forward ([`soft_sort`]): a [`Tape`] of 3 f64 per comparator (α, dα/dΔ, x_lo − x_hi);
//!   the rank forward alone ([`DiffSort::ranks`]) keeps only α, 1 f64 per comparator;
//! * [`Tape::ranks_vjp`]: the tape plus one f64 per comparator (`w_lo − w_hi`, below);
//! * [`Tape::permutation`]: `n²` f64; [`Tape::permutation_vjp`]: `n` f64 per comparator
//!   (the pre-mixing difference of the two mixed columns), i.e. ≈ n³/2 for odd-even and
//!   ≈ n²·log²n/4 for bitonic — use it at small n.
//!
//! The compiled comparator list itself takes 8 bytes per comparator; [`DiffSort`] caches it
//! per n, and keeps the large scratch buffers of finished rows for the next ones (at most
//! 512 MiB, freed with the ranker): at n ≥ 10⁴ mapping fresh memory costs more than sorting.

mod distribution;
mod network;
mod tape;

pub use distribution::{Distribution, ART_LAMBDA};
pub use network::{Comparators, Network};
pub use tape::{soft_sort, Tape};

use std::sync::{Arc, Mutex};

use candle_core::Tensor;

use crate::error::{Error, Result};
use crate::ranker::Ranker;
use crate::relax::row_op::{apply_rows, positive, RowMap};
use network::zeros;
use tape::{
    ascending_from_alphas, check_row, recycle, scratch, sodeep_from_ascending, sort_with_pool,
    sweep, Pool,
};

/// Steepness when none is given (diffsort's examples use 10 for n up to a few dozen).
pub const DEFAULT_STEEPNESS: f64 = 10.0;

/// Compiled networks kept by a [`DiffSort`] (and its clones), most recent last.
type Cache = Arc<Mutex<Vec<Arc<Comparators>>>>;

/// How many compiled sizes a [`DiffSort`] keeps.
const CACHE_SIZES: usize = 4;

/// A differentiable sorting network as a [`Ranker`] (`diffsort-oddeven`, `diffsort-bitonic`):
/// SoDeep ranks through [`Tape::ranks`] with the hand-written [`Tape::ranks_vjp`], any batch
/// size and any n, f32 or f64; [`Ranker::permutation`] gives the relaxed permutation matrix and
/// [`Ranker::sort`] the descending soft sort, both differentiable.
///
/// Knobs: `steepness` (s > 0, default 10; larger is closer to hard sorting), `dist`
/// (`logistic`, `logistic_phi`, `cauchy` default, `reciprocal`). Cost per row: O(n²) for
/// odd-even, O(n log²n) for bitonic, forward and backward.
#[derive(Clone)]
pub struct DiffSort {
    network: Network,
    steepness: f64,
    dist: Distribution,
    cache: Cache,
    pool: Arc<Pool>,
}

impl std::fmt::Debug for DiffSort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiffSort")
            .field("network", &self.network)
            .field("steepness", &self.steepness)
            .field("dist", &self.dist)
            .finish()
    }
}

impl DiffSort {
    /// A sorting-network ranker; the steepness must be positive and finite.
    pub fn new(network: Network, steepness: f64, dist: Distribution) -> Result<Self> {
        positive("diffsort", "steepness", steepness)?;
        Ok(Self {
            network,
            steepness,
            dist,
            cache: Arc::default(),
            pool: Arc::default(),
        })
    }

    /// The network layout.
    pub fn network(&self) -> Network {
        self.network
    }

    /// The steepness s.
    pub fn steepness(&self) -> f64 {
        self.steepness
    }

    /// The distribution f.
    pub fn dist(&self) -> Distribution {
        self.dist
    }

    /// The network compiled for `n`, from the cache when this ranker (or a clone) saw n
    /// before.
    pub fn comparators(&self, n: usize) -> Result<Arc<Comparators>> {
        // a poisoned lock only means another thread panicked mid-push: the list is still valid
        let lookup = |cache: &Cache| {
            let guard = cache.lock().unwrap_or_else(|e| e.into_inner());
            guard.iter().find(|c| c.n == n).cloned()
        };
        if let Some(found) = lookup(&self.cache) {
            return Ok(found);
        }
        let built = Arc::new(self.network.compile(n)?);
        let mut guard = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = guard.iter().find(|c| c.n == n) {
            return Ok(Arc::clone(found));
        }
        if guard.len() >= CACHE_SIZES {
            guard.remove(0);
        }
        guard.push(Arc::clone(&built));
        Ok(built)
    }

    /// Ascending soft sort of one row and its tape (whose buffers this ranker reuses once
    /// the tape is dropped).
    pub fn forward(&self, x: &[f64]) -> Result<(Vec<f64>, Tape)> {
        if x.is_empty() {
            return Err(Error::Empty("diffsort: no score to sort".into()));
        }
        let net = self.comparators(x.len())?;
        sort_with_pool(&net, self.dist, self.steepness, x, Some(&self.pool))
    }

    /// SoDeep ranks of one row, forward only: the same values as `forward(x).1.ranks()`,
    /// but the sweep keeps only α (8 bytes per comparator instead of the tape's 24).
    pub fn ranks(&self, x: &[f64]) -> Result<Vec<f64>> {
        if x.is_empty() {
            return Err(Error::Empty("diffsort: no score to rank".into()));
        }
        let net = self.comparators(x.len())?;
        check_row(&net, self.steepness, x)?;
        let mut alpha = scratch(Some(&self.pool), net.pairs.len(), net.n)?;
        let mut buf = x.to_vec();
        sweep::<false>(
            &net,
            self.dist,
            self.steepness,
            &mut buf,
            &mut alpha,
            &mut [],
            &mut [],
        );
        let ranks = sodeep_from_ascending(ascending_from_alphas(&net, &alpha));
        recycle(Some(&self.pool), alpha);
        Ok(ranks)
    }
}

impl RowMap for DiffSort {
    fn op_name(&self) -> &'static str {
        "diffsort"
    }

    fn forward(&self, x: &[f64]) -> Result<Vec<f64>> {
        DiffSort::ranks(self, x)
    }

    fn vjp(&self, x: &[f64], g: &[f64]) -> Result<Vec<f64>> {
        DiffSort::forward(self, x)?.1.ranks_vjp(g)
    }

    // with a gradient to come, the sweep records its tape once and the backward pass reads it
    // instead of sorting the row again
    fn forward_into(&self, x: &[f64], out: &mut [f64]) -> Result<Option<super::row_op::Tape>> {
        let (_, tape) = DiffSort::forward(self, x)?;
        out.copy_from_slice(&tape.ranks());
        Ok(Some(Box::new(tape)))
    }

    fn vjp_into(
        &self,
        x: &[f64],
        tape: Option<&super::row_op::Tape>,
        g: &[f64],
        grad_x: &mut [f64],
    ) -> Result<()> {
        super::row_op::vjp_from_tape(self, x, tape, g, grad_x, |t: &Tape, out| {
            out.copy_from_slice(&t.ranks_vjp(g)?);
            Ok(())
        })
    }
}

/// The relaxed permutation as a row map, in the SoDeep/NeuralSort layout: row k holds the
/// weights of the inputs for the k-th largest score, `P[k·n + i] = X[i·n + (n−1−k)]`.
#[derive(Debug, Clone)]
struct PermutationDesc(DiffSort);

impl RowMap for PermutationDesc {
    fn op_name(&self) -> &'static str {
        "diffsort-permutation"
    }

    fn matrix_out(&self) -> bool {
        true
    }

    fn forward(&self, x: &[f64]) -> Result<Vec<f64>> {
        let n = x.len();
        let xm = self.0.forward(x)?.1.permutation()?;
        let mut p = zeros(n * n, n)?;
        for k in 0..n {
            for i in 0..n {
                p[k * n + i] = xm[i * n + (n - 1 - k)];
            }
        }
        Ok(p)
    }

    fn vjp(&self, x: &[f64], g: &[f64]) -> Result<Vec<f64>> {
        let n = x.len();
        if g.len() != n * n {
            return Err(Error::InvalidArgument(format!(
                "diffsort: the permutation VJP takes {} gradient values, got {}",
                n * n,
                g.len()
            )));
        }
        let mut gx = zeros(n * n, n)?;
        for k in 0..n {
            for i in 0..n {
                gx[i * n + (n - 1 - k)] = g[k * n + i];
            }
        }
        self.0.forward(x)?.1.permutation_vjp(&gx)
    }
}

/// The descending soft sort as a row map: `sorted` reversed, O(#comparators) per row rather
/// than the default `P · x`.
#[derive(Debug, Clone)]
struct SortDesc(DiffSort);

impl RowMap for SortDesc {
    fn op_name(&self) -> &'static str {
        "diffsort-sort"
    }

    fn forward(&self, x: &[f64]) -> Result<Vec<f64>> {
        let (mut y, _) = self.0.forward(x)?;
        y.reverse();
        Ok(y)
    }

    fn vjp(&self, x: &[f64], g: &[f64]) -> Result<Vec<f64>> {
        let (_, tape) = self.0.forward(x)?;
        let rev: Vec<f64> = g.iter().rev().copied().collect();
        tape.sort_vjp(&rev)
    }
}

impl Ranker for DiffSort {
    fn name(&self) -> String {
        format!(
            "diffsort-{}:steepness={},dist={}",
            self.network.name(),
            self.steepness,
            self.dist.name()
        )
    }

    fn fixed_len(&self) -> Option<usize> {
        None
    }

    fn rank(&self, scores: &Tensor) -> Result<Tensor> {
        apply_rows(self, scores)
    }

    /// Forward + backward of the ranks on one row: the compiled comparators (8 bytes each),
    /// the tape (24 bytes each) and the rank VJP's `w_lo − w_hi` (8 bytes each), plus a few
    /// length-n vectors (and the bitonic compile's wire map of up to 2n entries). The ranker
    /// keeps these buffers for its next rows (see the module docs).
    fn memory_bytes(&self, n: usize) -> u64 {
        let per_comparator = 8 + 24 + 8;
        self.network
            .max_comparators(n)
            .saturating_mul(per_comparator)
            .saturating_add(16 * 8 * n as u64)
    }

    fn permutation(&self, scores: &Tensor) -> Result<Option<Tensor>> {
        apply_rows(&PermutationDesc(self.clone()), scores).map(Some)
    }

    fn permutation_bytes(&self, n: usize) -> u64 {
        crate::ranker::permutation_bytes(n, self.memory_bytes(n))
    }

    fn sort_bytes(&self, n: usize) -> u64 {
        self.memory_bytes(n)
    }

    fn sort(&self, scores: &Tensor) -> Result<Option<Tensor>> {
        apply_rows(&SortDesc(self.clone()), scores).map(Some)
    }
}
