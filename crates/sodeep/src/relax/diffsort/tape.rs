//! Running a network on one row: the relaxed swaps layer by layer, the tape they leave for the
//! backward pass, and the VJPs of the ranks, the sort and the permutation read from it.

use std::sync::{Arc, Mutex};

use super::distribution::Distribution;
use super::network::{too_big, zeros, Comparators};
use crate::error::{Error, Result};
use crate::relax::row_op::positive;

/// Large scratch buffers kept between rows by a [`DiffSort`] and its clones.
///
/// At large n a forward+backward pass needs a few buffers of one f64 per comparator (tens of
/// MiB at n = 10⁴). Fresh allocations that size are mapped by the OS page by page on first
/// touch, which costs more than the arithmetic; reusing them does not. Only buffers of at
/// least [`POOL_MIN_LEN`] values are kept (smaller ones come cheaply from the allocator), at
/// most [`POOL_MAX_BYTES`] in all; they are freed with the last clone of the ranker.
#[derive(Default)]
pub(super) struct Pool(Mutex<Vec<Vec<f64>>>);

/// Buffers shorter than this (256 KiB) are not pooled.
pub(super) const POOL_MIN_LEN: usize = 1 << 15;

/// The most a pool keeps.
pub(super) const POOL_MAX_BYTES: usize = 1 << 29;

impl Pool {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<f64>>> {
        // a poisoned lock only means another thread panicked mid-push: the list is still valid
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A zero-filled scratch buffer of `len` values: a pooled one when `pool` has one large
/// enough, else a fresh one (a typed error instead of an abort when it cannot be allocated).
pub(super) fn scratch(pool: Option<&Pool>, len: usize, n: usize) -> Result<Vec<f64>> {
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
pub(super) fn recycle(pool: Option<&Pool>, v: Vec<f64>) {
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
pub(super) fn check_row(net: &Comparators, steepness: f64, x: &[f64]) -> Result<()> {
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
pub(super) fn sweep<const RECORD: bool>(
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
pub(super) fn ascending_from_alphas(net: &Comparators, alpha: &[f64]) -> Vec<f64> {
    let mut v = position_vector(net);
    for (&[lo, hi], &a) in net.pairs.iter().zip(alpha).rev() {
        mix(&mut v, lo as usize, hi as usize, a);
    }
    v
}

/// SoDeep ranks from 0-based ascending ones: `(n − r)/n`.
pub(super) fn sodeep_from_ascending(asc: Vec<f64>) -> Vec<f64> {
    let n = asc.len() as f64;
    asc.into_iter().map(|r| (n - r) / n).collect()
}

/// `[0, 1, …, n−1]` placed on the slots that hold the sorted positions: `P_out · c`.
pub(super) fn position_vector(net: &Comparators) -> Vec<f64> {
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

pub(super) fn sort_with_pool(
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
pub(super) fn mix(v: &mut [f64], lo: usize, hi: usize, a: f64) {
    let (p, q) = (v[lo], v[hi]);
    v[lo] = a * p + (1.0 - a) * q;
    v[hi] = (1.0 - a) * p + a * q;
}

/// `∂L/∂Δ = α'·(g_α + (g_lo − g_hi)·(x_lo − x_hi))`; exactly 0 where α' is (a saturated
/// comparator), even when `x_lo − x_hi` overflowed to ±∞ (0·∞ would be NaN).
#[inline]
pub(super) fn slope_term(dalpha: f64, galpha: f64, dg: f64, diff: f64) -> f64 {
    if dalpha == 0.0 {
        0.0
    } else {
        dalpha * (galpha + dg * diff)
    }
}

/// Two distinct rows `a` and `b` of a row-major buffer with rows of length `n`.
pub(super) fn two_rows(buf: &mut [f64], n: usize, a: usize, b: usize) -> (&mut [f64], &mut [f64]) {
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

    pub(super) fn check_len(&self, what: &str, g: &[f64], len: usize) -> Result<()> {
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
    pub(super) fn back_through_values(&self, gb: &mut [f64], galpha: Option<&[f64]>) {
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
    pub(super) fn columns(&self, mut diffs: Option<&mut [f64]>) -> Result<Vec<f64>> {
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
