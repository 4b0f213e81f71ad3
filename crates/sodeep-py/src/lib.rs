//! `sodeep._native`: the Rust core of the `sodeep` Python package.
//!
//! The Python modules `sodeep.numpy` and `sodeep.torch` are thin layers over [`op::Op`]: each
//! ranker or loss is built once from its options (a ranker spec such as `softrank:eps=0.1`, a
//! shipped sorter's name, a reduction), then called with arrays for values and for
//! vector-Jacobian products. Bad input raises `ValueError` with the library's message.

mod convert;
mod for_torch;
mod op;
mod rows;

use pyo3::prelude::*;

/// Sets the number of threads of the Rust kernels (candle and rayon). Call it before the
/// first computation: the thread pool is built once per process.
#[pyfunction]
fn set_num_threads(n: usize) -> PyResult<()> {
    if n == 0 {
        return Err(convert::value_error(
            "the number of threads must be at least 1",
        ));
    }
    sodeep::set_threads(n);
    Ok(())
}

/// The analytic ranker specs with their knobs, then the shipped sorters' names and aliases.
#[pyfunction]
fn rankers() -> Vec<String> {
    let mut out: Vec<String> = sodeep::spec::ANALYTIC
        .iter()
        .map(|s| s.to_string())
        .collect();
    out.extend(sodeep::registry::names().into_iter().map(str::to_string));
    out
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<op::Op>()?;
    m.add_class::<op::Tape>()?;
    m.add_class::<for_torch::Groupings>()?;
    m.add_function(wrap_pyfunction!(for_torch::describe, m)?)?;
    m.add_function(wrap_pyfunction!(for_torch::sorter_state, m)?)?;
    m.add_function(wrap_pyfunction!(for_torch::isotonic, m)?)?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(rankers, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
