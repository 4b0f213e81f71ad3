//! torchsort's soft rank and soft sort straight from the library's pure row functions
//! (`relax::softrank::{soft_rank_to, soft_sort_to}` and their VJPs), from NumPy array to NumPy
//! array: no candle graph and no intermediate tensor. For these O(n log n) maps, building a
//! graph or converting whole batches between layouts costs more than the ranking itself, so
//! each row is read in place, computed in f64 (the precision of the library's row functions),
//! and written straight into the result array. The candle path (`sodeep::torchsort`) stays the
//! reference the tests compare with, through torchsort's own values.
//!
//! Rows run in parallel on rayon's pool, in tasks of at least [`TASK_ELEMS`] scores so that a
//! task's work outweighs its scheduling at every n; a thread converts f32 rows in a scratch
//! buffer of its own, so the only allocations per row are the tapes the backward pass needs.

use std::cell::RefCell;

use numpy::{Element, PyArray2, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use rayon::prelude::*;
use sodeep::relax::softrank::{
    soft_rank_to, soft_rank_vjp_to, soft_sort_to, soft_sort_vjp_to, Regularization, SoftRankTape,
    SoftSortTape,
};

use crate::convert::value_error;

/// The fewest scores one parallel task handles: rows are grouped up to it.
const TASK_ELEMS: usize = 2048;

/// Below these many scores a batch runs on the calling thread: waking rayon's sleeping
/// workers (the caller waits meanwhile) costs tens to hundreds of µs on a virtual machine,
/// more than it saves on less than about half a millisecond of work (a forward pass costs
/// about 17 ns per score, a VJP about 2).
const PARALLEL_FORWARD: usize = 32768;
const PARALLEL_VJP: usize = 262144;

/// Whether a batch of `elems` scores is worth spreading over the pool.
fn parallel(elems: usize, threshold: usize) -> bool {
    elems >= threshold && rayon::current_num_threads() > 1
}

/// The per-row tapes of one forward pass, with the batch's shape.
pub struct RowTapes {
    b: usize,
    n: usize,
    tapes: Tapes,
}

enum Tapes {
    Rank(Vec<SoftRankTape>),
    Sort(Vec<SoftSortTape>),
}

/// The float types the rows come in.
trait Float: Element + Copy + Send + Sync + 'static {
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
}

impl Float for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}

impl Float for f32 {
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

thread_local! {
    /// A thread's f64 copies of one row's input and output (f32 batches only).
    static SCRATCH: RefCell<(Vec<f64>, Vec<f64>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Runs `f(input, output)` on one row in f64: in place for f64 rows, through the thread's
/// scratch buffers for f32 rows.
fn in_f64<T: Float, R>(row: &[T], out: &mut [T], f: impl FnOnce(&[f64], &mut [f64]) -> R) -> R {
    if let (Some(x), Some(o)) = (as_f64(row), as_f64_mut(out)) {
        return f(x, o);
    }
    SCRATCH.with(|s| {
        let (x, o) = &mut *s.borrow_mut();
        x.clear();
        x.extend(row.iter().map(|v| v.to_f64()));
        o.clear();
        o.resize(row.len(), 0.0);
        let r = f(x, o);
        for (dst, &v) in out.iter_mut().zip(o.iter()) {
            *dst = T::from_f64(v);
        }
        r
    })
}

fn as_f64<T: Float>(s: &[T]) -> Option<&[f64]> {
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<f64>())
        // SAFETY: T is f64 (checked above), so the slice's layout is that of [f64].
        .then(|| unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<f64>(), s.len()) })
}

fn as_f64_mut<T: Float>(s: &mut [T]) -> Option<&mut [f64]> {
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<f64>())
        // SAFETY: T is f64 (checked above), so the slice's layout is that of [f64].
        .then(|| unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<f64>(), s.len()) })
}

/// Rows per parallel task for rows of `n` scores.
fn rows_per_task(n: usize) -> usize {
    TASK_ELEMS.div_ceil(n.max(1))
}

/// Soft rank (or sort, with `sort`) of every row of the `B × n` float32 or float64 array `x`,
/// as a new array of its dtype, with the tapes for [`vjp`] when `keep`. Computed without the
/// GIL; `x` must be C-contiguous.
pub fn forward(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    strength: f64,
    reg: Regularization,
    sort: bool,
    keep: bool,
) -> PyResult<(PyObject, Option<RowTapes>)> {
    if let Ok(a) = x.downcast::<PyArray2<f64>>() {
        return forward_typed(py, a, strength, reg, sort, keep);
    }
    if let Ok(a) = x.downcast::<PyArray2<f32>>() {
        return forward_typed(py, a, strength, reg, sort, keep);
    }
    Err(value_error(
        "x must be a (batch, n) float32 or float64 array",
    ))
}

fn forward_typed<T: Float>(
    py: Python<'_>,
    a: &Bound<'_, PyArray2<T>>,
    strength: f64,
    reg: Regularization,
    sort: bool,
    keep: bool,
) -> PyResult<(PyObject, Option<RowTapes>)> {
    let ro = a.try_readonly().map_err(value_error)?;
    let (b, n) = (ro.shape()[0], ro.shape()[1]);
    let xs = ro
        .as_slice()
        .map_err(|_| value_error("x must be C-contiguous"))?;
    let out = PyArray2::<T>::zeros(py, [b, n], false);
    if n == 0 {
        // the library's own message for a row without scores
        let msg = if sort {
            "softsort: no score to sort"
        } else {
            "softrank: no score to rank"
        };
        return Err(value_error(sodeep::Error::Empty(msg.into())));
    }
    // SAFETY: `out` was just created here and no other reference to its data exists.
    let ys = unsafe { out.as_slice_mut() }.map_err(value_error)?;
    let per = rows_per_task(n);
    let par = parallel(b * n, PARALLEL_FORWARD);
    // one row: its output, its input → its tape
    fn each<T: Float, P: Send>(
        ys: &mut [T],
        xs: &[T],
        n: usize,
        per: usize,
        par: bool,
        f: impl Fn(&[f64], &mut [f64]) -> sodeep::Result<P> + Sync,
    ) -> sodeep::Result<Vec<P>> {
        let row = |(o, x): (&mut [T], &[T])| in_f64(x, o, &f);
        if par {
            ys.par_chunks_mut(n)
                .zip(xs.par_chunks(n))
                .with_min_len(per)
                .map(row)
                .collect()
        } else {
            ys.chunks_mut(n).zip(xs.chunks(n)).map(row).collect()
        }
    }
    let tapes = py.allow_threads(|| -> sodeep::Result<Tapes> {
        Ok(if sort {
            Tapes::Sort(each(ys, xs, n, per, par, |x, o| {
                soft_sort_to(x, strength, reg, o)
            })?)
        } else {
            Tapes::Rank(each(ys, xs, n, per, par, |x, o| {
                soft_rank_to(x, strength, reg, o)
            })?)
        })
    });
    let tapes = tapes.map_err(value_error)?;
    Ok((
        out.into_any().unbind(),
        keep.then_some(RowTapes { b, n, tapes }),
    ))
}

/// `∂ Σ(f(x) · g) / ∂x` from the tapes of [`forward`], as a new array of `g`'s dtype (float32
/// or float64, `B × n` like the output). O(n) per row: block sums over the blocks the forward
/// pass found. Computed without the GIL.
pub fn vjp(
    py: Python<'_>,
    tapes: &RowTapes,
    g: &Bound<'_, PyAny>,
    name: &str,
) -> PyResult<PyObject> {
    if let Ok(a) = g.downcast::<PyArray2<f64>>() {
        return vjp_typed(py, tapes, a, name);
    }
    if let Ok(a) = g.downcast::<PyArray2<f32>>() {
        return vjp_typed(py, tapes, a, name);
    }
    Err(value_error(format!(
        "{name}: the gradient must be a ({}, {}) float32 or float64 array",
        tapes.b, tapes.n
    )))
}

fn vjp_typed<T: Float>(
    py: Python<'_>,
    tapes: &RowTapes,
    a: &Bound<'_, PyArray2<T>>,
    name: &str,
) -> PyResult<PyObject> {
    let ro = a.try_readonly().map_err(value_error)?;
    let (b, n) = (tapes.b, tapes.n);
    if ro.shape() != [b, n] {
        return Err(value_error(format!(
            "{name}: the gradient has shape {:?}, the output [{b}, {n}]",
            ro.shape()
        )));
    }
    let gs = ro
        .as_slice()
        .map_err(|_| value_error("the gradient must be C-contiguous"))?;
    let out = PyArray2::<T>::zeros(py, [b, n], false);
    // SAFETY: `out` was just created here and no other reference to its data exists.
    let dx = unsafe { out.as_slice_mut() }.map_err(value_error)?;
    let per = rows_per_task(n);
    let par = parallel(b * n, PARALLEL_VJP);
    // one row: its gradient, its upstream gradient and its tape
    fn each<T: Float, P: Sync>(
        dx: &mut [T],
        gs: &[T],
        tapes: &[P],
        n: usize,
        per: usize,
        par: bool,
        f: impl Fn(&P, &[f64], &mut [f64]) + Sync,
    ) {
        let row = |((o, u), tape): ((&mut [T], &[T]), &P)| in_f64(u, o, |u, o| f(tape, u, o));
        if par {
            dx.par_chunks_mut(n)
                .zip(gs.par_chunks(n))
                .zip(tapes.par_iter())
                .with_min_len(per)
                .for_each(row);
        } else {
            dx.chunks_mut(n).zip(gs.chunks(n)).zip(tapes).for_each(row);
        }
    }
    py.allow_threads(|| match &tapes.tapes {
        Tapes::Rank(t) => each(dx, gs, t, n, per, par, soft_rank_vjp_to),
        Tapes::Sort(t) => each(dx, gs, t, n, per, par, soft_sort_vjp_to),
    });
    Ok(out.into_any().unbind())
}
