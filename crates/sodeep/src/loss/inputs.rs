//! The shapes a loss accepts: vectors of m values (`m` or `m × 1`), `B × n` batches of lists,
//! and the exact tie-averaged ranks of its targets.

use candle_core::{DType, Tensor};

use crate::error::{Error, Result};
use crate::rank::sodeep_rank_average;

/// A 1-D view of `m` predictions given as `m` or `m × 1`.
pub(super) fn as_vector(t: &Tensor, what: &str) -> Result<Tensor> {
    match t.dims() {
        [_] => Ok(t.clone()),
        [m, 1] => Ok(t.reshape(*m)?),
        other => Err(Error::InvalidArgument(format!(
            "{what} must be a vector of m values (or m × 1), got shape {other:?}"
        ))),
    }
}

/// For a `B × n` batch with n > 1 (each row one list): B, n and the row id of every item in
/// row-major order. `None` for a vector of m values (`m` or `m × 1`).
pub(super) fn rows_as_lists(
    pred: &Tensor,
    target: &Tensor,
) -> Result<Option<(usize, usize, Vec<u32>)>> {
    match pred.dims() {
        &[b, n] if n > 1 => {
            if target.dims() != [b, n] {
                return Err(Error::InvalidArgument(format!(
                    "predictions are a {b} × {n} batch of lists, but the targets have shape {:?}",
                    target.dims()
                )));
            }
            let lists = (0..b)
                .flat_map(|r| std::iter::repeat_n(r as u32, n))
                .collect();
            Ok(Some((b, n, lists)))
        }
        _ => Ok(None),
    }
}

/// Exact SoDeep ranks (ties share their mean rank) of every row of a `G × L` tensor.
pub(super) fn exact_ranks(values: &Tensor) -> Result<Tensor> {
    let rows: Vec<Vec<f64>> = values.to_dtype(DType::F64)?.to_vec2()?;
    let flat: Vec<f64> = rows.iter().flat_map(|r| sodeep_rank_average(r)).collect();
    Ok(Tensor::from_vec(flat, values.shape(), values.device())?.to_dtype(values.dtype())?)
}
