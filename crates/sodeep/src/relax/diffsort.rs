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

use std::sync::{Arc, Mutex};

use candle_core::Tensor;

use super::row_op::{apply_rows, positive, RowMap};
use crate::error::{Error, Result};
use crate::ranker::Ranker;

/// Steepness when none is given (diffsort's examples use 10 for n up to a few dozen).
pub const DEFAULT_STEEPNESS: f64 = 10.0;

/// The exponent λ of the `logistic_phi` distribution (diffsort's `art_lambda` default).
pub const ART_LAMBDA: f64 = 0.25;

/// The `|Δ| + ε` guard of `logistic_phi` (diffsort's 1e-10).
const PHI_EPS: f64 = 1e-10;

/// Marks a wire that holds a `+∞` pad while a bitonic network is compiled.
const PAD: u32 = u32::MAX;

/// The sorting network's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    /// Odd-even transposition sort: `n` layers; layer `l` compares `(i, i+1)` for
    /// `i = l mod 2, l mod 2 + 2, …`.
    OddEven,
    /// Batcher's bitonic sort on the next power of two, padded with `+∞` at the end.
    Bitonic,
}

impl Network {
    /// `"oddeven"` or `"bitonic"`, as in the ranker names.
    pub fn name(self) -> &'static str {
        match self {
            Network::OddEven => "oddeven",
            Network::Bitonic => "bitonic",
        }
    }

    /// Number of layers for `n` inputs (a bitonic layer may be empty once pads are resolved).
    pub fn layers(self, n: usize) -> usize {
        match self {
            Network::OddEven => n,
            Network::Bitonic => {
                let k = n.max(1).next_power_of_two().trailing_zeros() as usize;
                k * (k + 1) / 2
            }
        }
    }

    /// An upper bound of the comparator count for `n` inputs: a layer holds at most `⌊n/2⌋`
    /// comparators between real values.
    pub fn max_comparators(self, n: usize) -> u64 {
        self.layers(n) as u64 * (n / 2) as u64
    }

    /// Compiles the network for `n` inputs into slot-form comparators (see the module docs).
    pub fn compile(self, n: usize) -> Result<Comparators> {
        if n == 0 {
            return Err(Error::Empty(
                "diffsort: a network needs at least one input".into(),
            ));
        }
        if n >= PAD as usize {
            return Err(Error::InvalidArgument(format!(
                "diffsort: n = {n} inputs is more than a sorting network here indexes (< {PAD})"
            )));
        }
        let bound = usize::try_from(self.max_comparators(n)).unwrap_or(usize::MAX);
        let mut pairs: Vec<[u32; 2]> = Vec::new();
        pairs
            .try_reserve_exact(bound)
            .map_err(|_| too_big(n, bound, 8))?;
        let mut layer_ends = Vec::with_capacity(self.layers(n));
        let out_slot = match self {
            Network::OddEven => {
                for l in 0..n {
                    // `i + 1 < n`: a value without a partner passes through unchanged
                    for i in (l % 2..n.saturating_sub(1)).step_by(2) {
                        pairs.push([i as u32, i as u32 + 1]);
                    }
                    layer_ends.push(pairs.len());
                }
                (0..n as u32).collect()
            }
            Network::Bitonic => {
                let wires = n.next_power_of_two();
                let k = wires.trailing_zeros() as usize;
                // the slot each wire holds; wires n.. start as +∞ pads
                let mut slot: Vec<u32> = (0..wires as u32)
                    .map(|w| if (w as usize) < n { w } else { PAD })
                    .collect();
                for block in 0..k {
                    for layer in 0..=block {
                        let m = 1usize << (block - layer);
                        for i in (0..wires).step_by(2 * m) {
                            for a in i..i + m {
                                let b = a + m;
                                // the direction alternates between blocks of 2^(block+1) wires
                                let (to_min, to_max) = if (a >> (block + 1)) & 1 == 1 {
                                    (b, a)
                                } else {
                                    (a, b)
                                };
                                match (slot[to_min] == PAD, slot[to_max] == PAD) {
                                    (false, false) => pairs.push([slot[to_min], slot[to_max]]),
                                    // real vs pad: the real value is the min, exactly
                                    (true, false) => {
                                        slot[to_min] = slot[to_max];
                                        slot[to_max] = PAD;
                                    }
                                    (false, true) | (true, true) => {}
                                }
                            }
                        }
                        layer_ends.push(pairs.len());
                    }
                }
                // the pads end on the last wires (the network sorts +∞ last); the real slots
                // in wire order are the ascending output
                slot.into_iter().filter(|&s| s != PAD).collect()
            }
        };
        pairs.shrink_to_fit();
        Ok(Comparators {
            network: self,
            n,
            pairs,
            layer_ends,
            out_slot,
        })
    }
}

fn too_big(n: usize, count: usize, bytes_each: usize) -> Error {
    Error::InvalidArgument(format!(
        "diffsort: n = {n} needs {} MiB of scratch memory ({count} × {bytes_each} bytes), more \
         than can be allocated; use the bitonic network or a smaller n",
        (count as u128 * bytes_each as u128) >> 20
    ))
}

/// A zero-filled buffer, or a typed error instead of an abort when it cannot be allocated.
fn zeros(len: usize, n: usize) -> Result<Vec<f64>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| too_big(n, len, 8))?;
    v.resize(len, 0.0);
    Ok(v)
}

/// A network compiled for one `n`: comparators in slot form, in execution order.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparators {
    network: Network,
    n: usize,
    /// `[lo, hi]`: the soft min goes to slot `lo`, the soft max to slot `hi`.
    pairs: Vec<[u32; 2]>,
    /// `pairs[layer_ends[l-1]..layer_ends[l]]` is layer l (disjoint slots within a layer).
    layer_ends: Vec<usize>,
    /// The slot that holds the k-th smallest value at the end.
    out_slot: Vec<u32>,
}

impl Comparators {
    /// The network this was compiled from.
    pub fn network(&self) -> Network {
        self.network
    }

    /// Number of inputs.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of comparators between real values.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there is no comparator (n = 1).
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Number of layers.
    pub fn layers(&self) -> usize {
        self.layer_ends.len()
    }

    /// The comparators of layer `l` as `[lo, hi]` slot pairs (empty past the last layer).
    pub fn layer(&self, l: usize) -> &[[u32; 2]] {
        let Some(&end) = self.layer_ends.get(l) else {
            return &[];
        };
        let start = if l == 0 { 0 } else { self.layer_ends[l - 1] };
        &self.pairs[start..end]
    }

    /// The slot holding the k-th smallest value after the last layer, for each k.
    pub fn out_slots(&self) -> &[u32] {
        &self.out_slot
    }
}

/// The sigmoid `f` that turns a difference into a mixing weight `α = f(s·Δ)`,
/// `Δ = x_hi − x_lo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Distribution {
    /// `α = σ(s·Δ)` (the 2021 paper).
    Logistic,
    /// `α = σ(s·Δ / (|Δ| + 1e-10)^λ)`, λ = [`ART_LAMBDA`]: logistic with "activation
    /// replacement trick", steeper near Δ = 0.
    LogisticPhi,
    /// `α = atan(s·Δ)/π + ½`: monotonic (2022 paper); diffsort's default.
    Cauchy,
    /// `α = ½·(s·Δ/(2 + |s·Δ|) + 1)`: monotonic (2022 paper).
    Reciprocal,
}

impl Distribution {
    /// The names `parse` accepts, in this order.
    pub const NAMES: [&'static str; 4] = ["logistic", "logistic_phi", "cauchy", "reciprocal"];

    /// The name used in ranker specs.
    pub fn name(self) -> &'static str {
        match self {
            Distribution::Logistic => "logistic",
            Distribution::LogisticPhi => "logistic_phi",
            Distribution::Cauchy => "cauchy",
            Distribution::Reciprocal => "reciprocal",
        }
    }

    /// The distribution called `name` (one of [`Distribution::NAMES`]).
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "logistic" => Ok(Distribution::Logistic),
            "logistic_phi" => Ok(Distribution::LogisticPhi),
            "cauchy" => Ok(Distribution::Cauchy),
            "reciprocal" => Ok(Distribution::Reciprocal),
            _ => Err(Error::InvalidArgument(format!(
                "diffsort: unknown distribution '{name}': use one of {}",
                Distribution::NAMES.join(", ")
            ))),
        }
    }

    /// `(α, dα/dΔ)` at `Δ = x_hi − x_lo` for steepness `s`.
    #[inline]
    pub fn alpha(self, delta: f64, s: f64) -> (f64, f64) {
        let v = s * delta;
        // |Δ| or s·Δ overflowing: the comparator is hard, with no slope (avoids ∞/∞ = NaN)
        if !v.is_finite() {
            return (if v > 0.0 { 1.0 } else { 0.0 }, 0.0);
        }
        match self {
            Distribution::Logistic => {
                let a = sigmoid(v);
                (a, s * a * (1.0 - a))
            }
            Distribution::LogisticPhi => {
                let ad = delta.abs() + PHI_EPS;
                // (|Δ|+ε)^−λ with λ = ART_LAMBDA = ¼: 1/√√ is several times faster than powf
                let scale = 1.0 / ad.sqrt().sqrt();
                let a = sigmoid(v * scale);
                // d/dΔ [s·Δ·(|Δ|+ε)^−λ] = s·(|Δ|+ε)^−λ · (1 − λ·|Δ|/(|Δ|+ε))
                let du = s * scale * (1.0 - ART_LAMBDA * delta.abs() / ad);
                (a, a * (1.0 - a) * du)
            }
            Distribution::Cauchy => (
                v.atan() / std::f64::consts::PI + 0.5,
                s / (std::f64::consts::PI * (1.0 + v * v)),
            ),
            Distribution::Reciprocal => {
                let d = 2.0 + v.abs();
                // d/dv [v/(2+|v|)] = 2/(2+|v|)²
                (0.5 * (v / d + 1.0), s / (d * d))
            }
        }
    }
}

/// The logistic function without overflow for large |v|.
#[inline]
fn sigmoid(v: f64) -> f64 {
    if v >= 0.0 {
        1.0 / (1.0 + (-v).exp())
    } else {
        let e = v.exp();
        e / (1.0 + e)
    }
}

/// Large scratch buffers kept between rows by a [`DiffSort`] and its clones.
///
/// At large n a forward+backward pass needs a few buffers of one f64 per comparator (tens of
/// MiB at n = 10⁴). Fresh allocations that size are mapped by the OS page by page on first
/// touch, which costs more than the arithmetic; reusing them does not. Only buffers of at
/// least [`POOL_MIN_LEN`] values are kept (smaller ones come cheaply from the allocator), at
/// most [`POOL_MAX_BYTES`] in all; they are freed with the last clone of the ranker.
#[derive(Default)]
struct Pool(Mutex<Vec<Vec<f64>>>);

/// Buffers shorter than this (256 KiB) are not pooled.
const POOL_MIN_LEN: usize = 1 << 15;

/// The most a pool keeps.
const POOL_MAX_BYTES: usize = 1 << 29;

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<f64>>> {
        // a poisoned lock only means another thread panicked mid-push: the list is still valid
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A zero-filled scratch buffer of `len` values: a pooled one when `pool` has one large
/// enough, else a fresh one (a typed error instead of an abort when it cannot be allocated).
fn scratch(pool: Option<&Pool>, len: usize, n: usize) -> Result<Vec<f64>> {
    if len >= POOL_MIN_LEN {
        if let Some(pool) = pool {
            let mut free = pool.lock();
            // the smallest buffer that fits
            let best = free
                .iter()
                .enumerate()
                .filter(|(_, v)| v.capacity() >= len)
                .min_by_key(|(_, v)| v.capacity())
                .map(|(i, _)| i);
            if let Some(i) = best {
                let mut v = free.swap_remove(i);
                drop(free);
                v.clear();
                v.resize(len, 0.0);
                return Ok(v);
            }
        }
    }
    zeros(len, n)
}

/// Hands a scratch buffer back to `pool` (or frees it).
fn recycle(pool: Option<&Pool>, v: Vec<f64>) {
    let Some(pool) = pool else { return };
    if v.capacity() < POOL_MIN_LEN {
        return;
    }
    let mut free = pool.lock();
    let kept: usize = free.iter().map(|b| b.capacity() * 8).sum();
    if kept + v.capacity() * 8 <= POOL_MAX_BYTES {
        free.push(v);
    }
}

/// What the backward passes need from one forward pass: per comparator α, dα/dΔ and
/// `x_lo − x_hi` (the values entering it), 24 bytes per comparator.
#[derive(Clone)]
pub struct Tape {
    net: Arc<Comparators>,
    alpha: Vec<f64>,
    dalpha: Vec<f64>,
    diff: Vec<f64>,
    /// Where the buffers go back on drop (tapes made by a [`DiffSort`]).
    pool: Option<Arc<Pool>>,
}

impl std::fmt::Debug for Tape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tape")
            .field("network", &self.net.network)
            .field("n", &self.net.n)
            .field("comparators", &self.alpha.len())
            .finish()
    }
}

impl Drop for Tape {
    fn drop(&mut self) {
        let pool = self.pool.as_deref();
        recycle(pool, std::mem::take(&mut self.alpha));
        recycle(pool, std::mem::take(&mut self.dalpha));
        recycle(pool, std::mem::take(&mut self.diff));
    }
}

/// Checks one row against the network and the steepness.
fn check_row(net: &Comparators, steepness: f64, x: &[f64]) -> Result<()> {
    positive("diffsort", "steepness", steepness)?;
    if x.is_empty() {
        return Err(Error::Empty("diffsort: no score to sort".into()));
    }
    if x.len() != net.n {
        return Err(Error::InvalidArgument(format!(
            "diffsort: {} scores for a network compiled for n = {}",
            x.len(),
            net.n
        )));
    }
    crate::error::check_finite(x, x.len())
}

/// Runs the values `buf` through the comparators, writing each α; with `RECORD`, also
/// dα/dΔ and `x_lo − x_hi` (the slices are then as long as `alpha`, else may be empty).
/// Monomorphised so the rank forward, which needs only α, pays for nothing else.
fn sweep<const RECORD: bool>(
    net: &Comparators,
    dist: Distribution,
    steepness: f64,
    buf: &mut [f64],
    alpha: &mut [f64],
    dalpha: &mut [f64],
    diff: &mut [f64],
) {
    for (c, (&[lo, hi], a_out)) in net.pairs.iter().zip(alpha.iter_mut()).enumerate() {
        let (lo, hi) = (lo as usize, hi as usize);
        let (p, q) = (buf[lo], buf[hi]);
        let (a, da) = dist.alpha(q - p, steepness);
        buf[lo] = a * p + (1.0 - a) * q;
        buf[hi] = (1.0 - a) * p + a * q;
        *a_out = a;
        if RECORD {
            dalpha[c] = da;
            diff[c] = p - q;
        }
    }
}

/// Ascending 0-based soft ranks from the comparators' α (see [`Tape::ascending_ranks`]).
fn ascending_from_alphas(net: &Comparators, alpha: &[f64]) -> Vec<f64> {
    let mut v = position_vector(net);
    for (&[lo, hi], &a) in net.pairs.iter().zip(alpha).rev() {
        mix(&mut v, lo as usize, hi as usize, a);
    }
    v
}

/// SoDeep ranks from 0-based ascending ones: `(n − r)/n`.
fn sodeep_from_ascending(asc: Vec<f64>) -> Vec<f64> {
    let n = asc.len() as f64;
    asc.into_iter().map(|r| (n - r) / n).collect()
}

/// `[0, 1, …, n−1]` placed on the slots that hold the sorted positions: `P_out · c`.
fn position_vector(net: &Comparators) -> Vec<f64> {
    let mut v = vec![0.0; net.n];
    for (k, &s) in net.out_slot.iter().enumerate() {
        v[s as usize] = k as f64;
    }
    v
}

/// Ascending soft sort of `x` through `net`, and the tape for the backward passes.
///
/// Errors: `x` empty, not of `net`'s length or not finite; `steepness` not positive; the
/// tape cannot be allocated.
pub fn soft_sort(
    net: &Arc<Comparators>,
    dist: Distribution,
    steepness: f64,
    x: &[f64],
) -> Result<(Vec<f64>, Tape)> {
    sort_with_pool(net, dist, steepness, x, None)
}

fn sort_with_pool(
    net: &Arc<Comparators>,
    dist: Distribution,
    steepness: f64,
    x: &[f64],
    pool: Option<&Arc<Pool>>,
) -> Result<(Vec<f64>, Tape)> {
    check_row(net, steepness, x)?;
    let m = net.pairs.len();
    let p = pool.map(|p| &**p);
    // the tape owns its buffers from the start, so an error midway still recycles them
    let mut tape = Tape {
        net: Arc::clone(net),
        alpha: scratch(p, m, net.n)?,
        dalpha: Vec::new(),
        diff: Vec::new(),
        pool: pool.cloned(),
    };
    tape.dalpha = scratch(p, m, net.n)?;
    tape.diff = scratch(p, m, net.n)?;
    let mut buf = x.to_vec();
    sweep::<true>(
        net,
        dist,
        steepness,
        &mut buf,
        &mut tape.alpha,
        &mut tape.dalpha,
        &mut tape.diff,
    );
    let sorted = net.out_slot.iter().map(|&s| buf[s as usize]).collect();
    Ok((sorted, tape))
}

/// Mixes `v[lo]` and `v[hi]` with weight α (the action of a comparator's symmetric matrix).
#[inline]
fn mix(v: &mut [f64], lo: usize, hi: usize, a: f64) {
    let (p, q) = (v[lo], v[hi]);
    v[lo] = a * p + (1.0 - a) * q;
    v[hi] = (1.0 - a) * p + a * q;
}

/// `∂L/∂Δ = α'·(g_α + (g_lo − g_hi)·(x_lo − x_hi))`; exactly 0 where α' is (a saturated
/// comparator), even when `x_lo − x_hi` overflowed to ±∞ (0·∞ would be NaN).
#[inline]
fn slope_term(dalpha: f64, galpha: f64, dg: f64, diff: f64) -> f64 {
    if dalpha == 0.0 {
        0.0
    } else {
        dalpha * (galpha + dg * diff)
    }
}

/// Two distinct rows `a` and `b` of a row-major buffer with rows of length `n`.
fn two_rows(buf: &mut [f64], n: usize, a: usize, b: usize) -> (&mut [f64], &mut [f64]) {
    if a < b {
        let (left, right) = buf.split_at_mut(b * n);
        (&mut left[a * n..(a + 1) * n], &mut right[..n])
    } else {
        let (left, right) = buf.split_at_mut(a * n);
        (&mut right[..n], &mut left[b * n..(b + 1) * n])
    }
}

impl Tape {
    /// The compiled network this tape ran through.
    pub fn comparators(&self) -> &Comparators {
        &self.net
    }

    /// The mixing weight α of every comparator, in execution order.
    pub fn alphas(&self) -> &[f64] {
        &self.alpha
    }

    fn check_len(&self, what: &str, g: &[f64], len: usize) -> Result<()> {
        if g.len() == len {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "diffsort: the {what} VJP takes {len} gradient values, got {}",
                g.len()
            )))
        }
    }

    /// The reverse pass through the value trajectory. `gb` holds, per slot, the gradient of
    /// the loss wrt the final values and becomes the gradient wrt the inputs; `galpha`, when
    /// given, adds a direct gradient wrt each comparator's α (from ranks or the permutation).
    ///
    /// Per comparator, with inputs p = x_lo, q = x_hi, Δ = q − p and output gradients g_lo,
    /// g_hi: ∂L/∂α = g_α + (g_lo − g_hi)(p − q), ∂L/∂Δ = α'·∂L/∂α, and
    /// ∂L/∂p = g_hi + (g_lo − g_hi)·α − ∂L/∂Δ, ∂L/∂q = g_lo − (g_lo − g_hi)·α + ∂L/∂Δ.
    fn back_through_values(&self, gb: &mut [f64], galpha: Option<&[f64]>) {
        for (c, &[lo, hi]) in self.net.pairs.iter().enumerate().rev() {
            let (lo, hi) = (lo as usize, hi as usize);
            let (gl, gh) = (gb[lo], gb[hi]);
            let a = self.alpha[c];
            let direct = galpha.map_or(0.0, |ga| ga[c]);
            let gd = slope_term(self.dalpha[c], direct, gl - gh, self.diff[c]);
            let t = (gl - gh) * a;
            gb[lo] = gh + t - gd;
            gb[hi] = gl - t + gd;
        }
    }

    /// `∂(Σ_k g_k · sorted_k) / ∂x` for the ascending soft sort of [`soft_sort`].
    pub fn sort_vjp(&self, g: &[f64]) -> Result<Vec<f64>> {
        let n = self.net.n;
        self.check_len("sort", g, n)?;
        let mut gb = vec![0.0; n];
        for (&s, &gk) in self.net.out_slot.iter().zip(g) {
            gb[s as usize] = gk;
        }
        self.back_through_values(&mut gb, None);
        Ok(gb)
    }

    /// Ascending 0-based soft ranks, `Σ_k k·X[i,k]`, without building X: the comparators'
    /// symmetric mixing matrices applied to `[0, …, n−1]` in reverse order, O(#comparators).
    pub fn ascending_ranks(&self) -> Vec<f64> {
        ascending_from_alphas(&self.net, &self.alpha)
    }

    /// SoDeep ranks (largest → `1/n`, smallest → `1`): `(n − ascending_rank)/n`.
    pub fn ranks(&self) -> Vec<f64> {
        sodeep_from_ascending(self.ascending_ranks())
    }

    /// `∂(Σ_i g_i · ranks_i) / ∂x` for [`Tape::ranks`].
    ///
    /// With `r = M_1 ⋯ M_L c`, `v_L = c`, `v_{l−1} = M_l v_l` and `u = ∂L/∂r = −g/n`, the
    /// gradient wrt the vector entering step l of the recursion is `w_l = M_l ⋯ M_1 u` (the M
    /// are symmetric), so `∂L/∂α_l = (w_lo − w_hi)(v_lo − v_hi)` with w taken before `M_l` in
    /// the forward sweep and v before `M_l` in the reverse one. One forward sweep stores
    /// `w_lo − w_hi` (one f64 per comparator); one reverse sweep rebuilds v and, in the same
    /// loop, back-propagates through the value trajectory.
    pub fn ranks_vjp(&self, g: &[f64]) -> Result<Vec<f64>> {
        let n = self.net.n;
        self.check_len("rank", g, n)?;
        let m = self.net.pairs.len();
        let pool = self.pool.as_deref();
        let mut dw = scratch(pool, m, n)?;
        let mut w: Vec<f64> = g.iter().map(|gi| -gi / n as f64).collect();
        for ((&[lo, hi], &a), d) in self.net.pairs.iter().zip(&self.alpha).zip(dw.iter_mut()) {
            let (lo, hi) = (lo as usize, hi as usize);
            *d = w[lo] - w[hi];
            mix(&mut w, lo, hi, a);
        }
        let mut v = position_vector(&self.net);
        // the ranks do not read the final values: their gradient starts at zero
        let mut gb = vec![0.0; n];
        for (c, &[lo, hi]) in self.net.pairs.iter().enumerate().rev() {
            let (lo, hi) = (lo as usize, hi as usize);
            let a = self.alpha[c];
            let galpha = dw[c] * (v[lo] - v[hi]);
            mix(&mut v, lo, hi, a);
            // the value trajectory, as in back_through_values with a direct α gradient
            let (gl, gh) = (gb[lo], gb[hi]);
            let gd = slope_term(self.dalpha[c], galpha, gl - gh, self.diff[c]);
            let t = (gl - gh) * a;
            gb[lo] = gh + t - gd;
            gb[hi] = gl - t + gd;
        }
        recycle(pool, dw);
        Ok(gb)
    }

    /// The relaxed permutation in diffsort's layout: `X[i·n + k]`, the weight of input i in
    /// ascending position k, so `sorted = x · X`. Rows and columns sum to 1. O(#comparators·n).
    pub fn permutation(&self) -> Result<Vec<f64>> {
        let n = self.net.n;
        let cols = self.columns(None)?;
        let mut x = zeros(n * n, n)?;
        for (k, &s) in self.net.out_slot.iter().enumerate() {
            for (i, &c) in cols[s as usize * n..(s as usize + 1) * n]
                .iter()
                .enumerate()
            {
                x[i * n + k] = c;
            }
        }
        recycle(self.pool.as_deref(), cols);
        Ok(x)
    }

    /// X's columns per slot (`cols[s·n + i]`), built by mixing rows of the identity; when
    /// `diffs` is given, it receives each comparator's pre-mixing `col_lo − col_hi`.
    fn columns(&self, mut diffs: Option<&mut [f64]>) -> Result<Vec<f64>> {
        let n = self.net.n;
        let mut cols = scratch(self.pool.as_deref(), n * n, n)?;
        for s in 0..n {
            cols[s * n + s] = 1.0;
        }
        for (c, (&[lo, hi], &a)) in self.net.pairs.iter().zip(&self.alpha).enumerate() {
            let (cl, ch) = two_rows(&mut cols, n, lo as usize, hi as usize);
            if let Some(d) = diffs.as_deref_mut() {
                for ((di, &p), &q) in d[c * n..(c + 1) * n]
                    .iter_mut()
                    .zip(cl.iter())
                    .zip(ch.iter())
                {
                    *di = p - q;
                }
            }
            for (p, q) in cl.iter_mut().zip(ch.iter_mut()) {
                let (pv, qv) = (*p, *q);
                *p = a * pv + (1.0 - a) * qv;
                *q = (1.0 - a) * pv + a * qv;
            }
        }
        Ok(cols)
    }

    /// `∂(Σ_{i,k} g[i·n+k] · X[i·n+k]) / ∂x` for [`Tape::permutation`] (g in X's layout).
    ///
    /// Stores each comparator's pre-mixing column difference `d = col_lo − col_hi` (`n` f64
    /// per comparator: ≈ n³/2 for odd-even, ≈ n²·log²n/4 for bitonic); then, in reverse,
    /// `∂L/∂α = Σ_i (G_lo − G_hi)_i · d_i` with G the gradient wrt the columns after the
    /// comparator, G mixed back like the columns, and the α gradients sent through the value
    /// trajectory.
    pub fn permutation_vjp(&self, g: &[f64]) -> Result<Vec<f64>> {
        let n = self.net.n;
        self.check_len("permutation", g, n * n)?;
        let m = self.net.pairs.len();
        let len = m.checked_mul(n).ok_or_else(|| too_big(n, usize::MAX, 8))?;
        let pool = self.pool.as_deref();
        let mut diffs = scratch(pool, len, n)?;
        recycle(pool, self.columns(Some(&mut diffs))?);
        // G per slot: the gradient wrt column k of X lands on the slot that holds position k
        let mut gc = scratch(pool, n * n, n)?;
        for (k, &s) in self.net.out_slot.iter().enumerate() {
            for i in 0..n {
                gc[s as usize * n + i] = g[i * n + k];
            }
        }
        let mut galpha = scratch(pool, m, n)?;
        for (c, (&[lo, hi], &a)) in self.net.pairs.iter().zip(&self.alpha).enumerate().rev() {
            let (gl, gh) = two_rows(&mut gc, n, lo as usize, hi as usize);
            let d = &diffs[c * n..(c + 1) * n];
            let mut ga = 0.0;
            for ((p, q), &di) in gl.iter_mut().zip(gh.iter_mut()).zip(d) {
                let (pv, qv) = (*p, *q);
                ga += (pv - qv) * di;
                *p = a * pv + (1.0 - a) * qv;
                *q = (1.0 - a) * pv + a * qv;
            }
            galpha[c] = ga;
        }
        let mut gb = vec![0.0; n];
        self.back_through_values(&mut gb, Some(&galpha));
        recycle(pool, diffs);
        recycle(pool, gc);
        recycle(pool, galpha);
        Ok(gb)
    }
}

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

    fn out_len(&self, n: usize) -> usize {
        n * n
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

    fn sort(&self, scores: &Tensor) -> Result<Option<Tensor>> {
        apply_rows(&SortDesc(self.clone()), scores).map(Some)
    }
}
