//! torchsort's soft rank and soft sort straight from the library's pure row functions
//! (`relax::softrank::{soft_rank, soft_sort}` and their VJPs), without a candle graph: for
//! these O(n log n) maps, building and walking the graph (a product, a sum and broadcasts)
//! cost more than the ranking itself. The candle path (`sodeep::torchsort`) stays the
//! reference the tests compare with, through torchsort's own values.

use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;
use sodeep::relax::softrank::{
    soft_rank, soft_rank_vjp, soft_sort, soft_sort_vjp, Regularization, SoftRankTape, SoftSortTape,
};

/// The per-row tapes of one forward pass.
pub enum RowTapes {
    /// Soft rank tapes.
    Rank(Vec<SoftRankTape>),
    /// Soft sort tapes.
    Sort(Vec<SoftSortTape>),
}

/// Soft rank (or sort, with `sort`) of every row of the `B × n` tensor `x`, in `x`'s dtype,
/// with the tapes for [`vjp`].
pub fn forward(
    x: &Tensor,
    strength: f64,
    reg: Regularization,
    sort: bool,
) -> sodeep::Result<(Tensor, RowTapes)> {
    let (b, n) = x.dims2()?;
    let values = x.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    let mut out = vec![0f64; b * n];
    let tapes = if sort {
        RowTapes::Sort(each_row(&values, &mut out, n, |r| {
            soft_sort(r, strength, reg)
        })?)
    } else {
        RowTapes::Rank(each_row(&values, &mut out, n, |r| {
            soft_rank(r, strength, reg)
        })?)
    };
    let y = Tensor::from_vec(out, (b, n), &Device::Cpu)?.to_dtype(x.dtype())?;
    Ok((y, tapes))
}

/// Runs `f` on every row of `n` values in parallel, writes its outputs into `out` and
/// returns its tapes in row order.
fn each_row<T: Send>(
    values: &[f64],
    out: &mut [f64],
    n: usize,
    f: impl Fn(&[f64]) -> sodeep::Result<(Vec<f64>, T)> + Sync,
) -> sodeep::Result<Vec<T>> {
    out.par_chunks_mut(n.max(1))
        .zip(values.par_chunks(n.max(1)))
        .map(|(o, row)| {
            let (y, tape) = f(row)?;
            o.copy_from_slice(&y);
            Ok(tape)
        })
        .collect()
}

/// `∂ Σ(f(x) · g) / ∂x` from the tapes of [`forward`], in `dtype`.
/// `g` has the output's shape: the caller checks it (a row of another length would not match
/// its tape).
pub fn vjp(tapes: &RowTapes, g: &Tensor, dtype: DType) -> sodeep::Result<Tensor> {
    let (b, n) = g.dims2()?;
    let g = g.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    let mut grad = vec![0f64; b * n];
    let chunks = grad.par_chunks_mut(n.max(1)).zip(g.par_chunks(n.max(1)));
    match tapes {
        RowTapes::Rank(t) => chunks
            .zip(t.par_iter())
            .for_each(|((o, u), tape)| o.copy_from_slice(&soft_rank_vjp(tape, u))),
        RowTapes::Sort(t) => chunks
            .zip(t.par_iter())
            .for_each(|((o, u), tape)| o.copy_from_slice(&soft_sort_vjp(tape, u))),
    }
    Ok(Tensor::from_vec(grad, (b, n), &Device::Cpu)?.to_dtype(dtype)?)
}
