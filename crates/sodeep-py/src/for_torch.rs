//! The pieces of the core that the device-side torch ops (`sodeep._torch`) reuse, so that each
//! rule keeps one home in Rust: what a ranker spec resolves to, a learned sorter's card and
//! weights, the grouping rule of the losses (seeded shuffles and pads), and the isotonic step of
//! soft rank and soft sort (the CPU kernel of the `sodeep::isotonic` torch op).
//!
//! None of these read a score: specs, group ids and seeds are host-side settings, so the torch
//! ops on a GPU never copy a tensor to the host.

use std::sync::Mutex;

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sodeep::loss::Grouping;
use sodeep::relax::softrank::Regularization;

use crate::convert::{to_numpy, value_error};

/// A ranker spec's family, its knobs as `(name, value)` strings, and its fixed length.
type Described = (String, Vec<(String, String)>, Option<usize>);

/// Each position's block value and the block's first position, row by row.
type Blocks<'py> = (Bound<'py, PyArray2<f64>>, Bound<'py, PyArray2<i64>>);

/// `(family, knobs, fixed_len)` of a ranker spec: the family (`softrank`, `neuralsort`, …, or
/// `sorter` for a learned sorter), every knob's value as a string (defaults included), and the
/// length the ranker is limited to (`None` for any length). Bad specs raise `ValueError`.
#[pyfunction]
pub fn describe(spec: &str) -> PyResult<Described> {
    let (ranker, d) = sodeep::spec::parse_described(spec).map_err(value_error)?;
    Ok((d.family, d.knobs, ranker.fixed_len()))
}

/// `(card_json, weights)` of a learned sorter (a shipped name or a folder): its model card as
/// JSON and its weights by name as float32 arrays. The handcrafted sorter has no weights.
#[pyfunction]
pub fn sorter_state<'py>(py: Python<'py>, spec: &str) -> PyResult<(String, Bound<'py, PyDict>)> {
    let sorter = sodeep::Sorter::load(spec).map_err(value_error)?;
    let card = serde_json::to_string(sorter.card()).map_err(value_error)?;
    let weights = PyDict::new(py);
    let mut names: Vec<&String> = sorter.weights().keys().collect();
    names.sort();
    for name in names {
        let t = &sorter.weights()[name];
        weights.set_item(name, to_numpy(py, t)?)?;
    }
    Ok((card, weights))
}

/// The grouping rule of the rank losses (`sodeep::loss::Grouping`) on one seeded random
/// stream, as a loss draws it: each call to `next` lays out one batch and advances the stream,
/// so a loss that groups twice (rows, then columns) draws the same pads as the core.
#[pyclass(module = "sodeep._native")]
pub struct Groupings {
    rng: Mutex<ChaCha8Rng>,
}

#[pymethods]
impl Groupings {
    #[new]
    fn new(seed: u64) -> Self {
        Self {
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }

    /// Lays out `m` items (`lists`: one group id per item, or `None` for one list) in
    /// `groups × len` slots: `(groups, len, index, mask, slot)`, with `index` the item in each
    /// slot, `mask` 1 for an item's own copy and 0 for a pad, and `slot` each item's own slot.
    #[pyo3(signature = (m, lists=None, fixed_len=None))]
    #[allow(clippy::type_complexity)]
    fn next<'py>(
        &self,
        py: Python<'py>,
        m: usize,
        lists: Option<Vec<u32>>,
        fixed_len: Option<usize>,
    ) -> PyResult<(
        usize,
        usize,
        Bound<'py, PyArray1<i64>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<i64>>,
    )> {
        let mut rng = self.rng.lock().expect("grouping rng lock");
        let g = Grouping::new(m, lists.as_deref(), fixed_len, &mut *rng).map_err(value_error)?;
        let index: Vec<i64> = g.index.iter().map(|&i| i64::from(i)).collect();
        let mask: Vec<f64> = g.mask.iter().map(|&w| f64::from(w)).collect();
        let slot: Vec<i64> = g.slot.iter().map(|&i| i64::from(i)).collect();
        Ok((
            g.groups,
            g.len,
            PyArray1::from_vec(py, index),
            PyArray1::from_vec(py, mask),
            PyArray1::from_vec(py, slot),
        ))
    }

    /// `[0, n)` shuffled as a loss's `slice.shuffle` leaves it at this point of the stream
    /// (ListMLE's tie order), advancing the stream.
    fn shuffle<'py>(&self, py: Python<'py>, n: usize) -> Bound<'py, PyArray1<i64>> {
        use rand::seq::SliceRandom;
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut *self.rng.lock().expect("grouping rng lock"));
        PyArray1::from_vec(py, order.into_iter().map(|i| i as i64).collect())
    }
}

/// The isotonic step of soft rank and soft sort on every row of `s` and `w` (`B × n`, float64):
/// `(value, start)`, each position's block value and the block's first position
/// (`sodeep::relax::softrank::isotonic`). Rows run in parallel, without the GIL.
#[pyfunction]
pub fn isotonic<'py>(
    py: Python<'py>,
    s: PyReadonlyArray2<'py, f64>,
    w: PyReadonlyArray2<'py, f64>,
    regularization: &str,
) -> PyResult<Blocks<'py>> {
    use rayon::prelude::*;
    let reg = Regularization::from_name(regularization).map_err(value_error)?;
    if s.shape() != w.shape() {
        return Err(value_error(format!(
            "isotonic: s has shape {:?} but w {:?}",
            s.shape(),
            w.shape()
        )));
    }
    let (b, n) = (s.shape()[0], s.shape()[1]);
    let s = s.as_slice().map_err(value_error)?;
    let w = w.as_slice().map_err(value_error)?;
    let mut value = vec![0.0; b * n];
    let mut start = vec![0i64; b * n];
    if n > 0 {
        py.allow_threads(|| {
            value
                .par_chunks_mut(n)
                .zip(start.par_chunks_mut(n))
                .enumerate()
                .for_each(|(r, (v_out, s_out))| {
                    let (v, st) =
                        sodeep::relax::softrank::isotonic(&s[r * n..][..n], &w[r * n..][..n], reg);
                    v_out.copy_from_slice(&v);
                    for (o, x) in s_out.iter_mut().zip(st) {
                        *o = i64::from(x);
                    }
                });
        });
    }
    let value = PyArray1::from_vec(py, value).reshape([b, n])?;
    let start = PyArray1::from_vec(py, start).reshape([b, n])?;
    Ok((value, start))
}
