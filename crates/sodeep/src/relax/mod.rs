//! Analytic differentiable rankers, one file each, forward and backward side by side.
//!
//! | module | method | cost per row |
//! |---|---|---|
//! | [`softrank`] | soft ranks and soft sort by projection onto the permutahedron (Blondel et al. 2020) | O(n log n) |
//! | [`blackbox`] | exact ranks forward, perturbed re-ranking backward (Rolínek et al. 2020) | O(n log n) |
//! | [`neuralsort`] | relaxed permutations as row softmaxes: NeuralSort (Grover et al. 2019) and SoftSort (Prillo & Eisenschlos 2020) | O(n²) |
//! | [`sinkhorn`] | soft ranks by entropic optimal transport, unrolled Sinkhorn iterations (Cuturi et al. 2019) | O(iters·n²) |
//!
//! Every method here is a pure per-row map `x ∈ ℝⁿ → y` with a hand-written vector–Jacobian
//! product, written as a [`RowMap`]. [`apply_rows`] turns one into a candle op on a `B × n`
//! tensor (f32 or f64, any B and n): it checks the input (2-D, non-empty, finite), runs the rows
//! in parallel on rayon's pool, and wires the VJP into candle's autograd.

use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Shape, Tensor};
use rayon::prelude::*;

use crate::error::{Error, Result};

pub mod blackbox;
pub mod neuralsort;
pub mod sinkhorn;
pub mod softrank;

/// A per-row map with its vector–Jacobian product: the contract every analytic ranker fills.
pub trait RowMap: Send + Sync + Clone + 'static {
    /// Name for candle's op registry and error messages.
    fn op_name(&self) -> &'static str;
    /// Output values per row of `n` inputs: `n` for ranks and sorts, `n·n` for permutations.
    fn out_len(&self, n: usize) -> usize {
        n
    }
    /// The forward map of one row.
    fn forward(&self, x: &[f64]) -> Result<Vec<f64>>;
    /// `∂(Σ_k g_k · forward(x)_k) / ∂x` for one row.
    fn vjp(&self, x: &[f64], g: &[f64]) -> Result<Vec<f64>>;
}

/// Checks that `scores` is a non-empty, finite `B × n` tensor and returns it on the CPU,
/// contiguous.
pub fn check_scores(name: &str, scores: &Tensor) -> Result<Tensor> {
    let dims = scores.dims();
    if dims.len() != 2 {
        return Err(Error::InvalidArgument(format!(
            "{name} takes a B × n tensor of scores, got shape {dims:?}"
        )));
    }
    if dims.contains(&0) {
        return Err(Error::Empty(format!(
            "{name}: a {}×{} batch has no score to rank",
            dims[0], dims[1]
        )));
    }
    let on_cpu = scores.to_device(&Device::Cpu)?.contiguous()?;
    let flat: Vec<f64> = on_cpu.to_dtype(DType::F64)?.flatten_all()?.to_vec1()?;
    crate::error::check_finite(&flat, dims[1])?;
    Ok(on_cpu)
}

/// Applies `map` to every row of `scores` (`B × n`) as a differentiable candle op: the output
/// is `B × n`, or `B × n × n` when the map yields `n²` values per row.
pub fn apply_rows<M: RowMap>(map: &M, scores: &Tensor) -> Result<Tensor> {
    let on_cpu = check_scores(map.op_name(), scores)?;
    let out = on_cpu.apply_op1(RowWise(map.clone()))?;
    Ok(out.to_device(scores.device())?)
}

/// The candle op behind [`apply_rows`].
#[derive(Clone)]
struct RowWise<M>(M);

fn host(storage: &CpuStorage, layout: &Layout) -> candle_core::Result<Vec<f64>> {
    let (start, end) = layout
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg("relaxed ranker: contiguous input only".into()))?;
    Ok(match storage {
        CpuStorage::F32(v) => v[start..end].iter().map(|&a| a as f64).collect(),
        CpuStorage::F64(v) => v[start..end].to_vec(),
        _ => candle_core::bail!("relaxed ranker: f32 or f64 scores only"),
    })
}

fn host_tensor(t: &Tensor) -> candle_core::Result<Vec<f64>> {
    t.to_dtype(DType::F64)?.flatten_all()?.to_vec1()
}

fn msg(e: Error) -> candle_core::Error {
    candle_core::Error::Msg(e.to_string())
}

/// Runs `f` over the rows in parallel and concatenates the results.
fn par_rows(
    x: &[f64],
    n: usize,
    f: impl Fn(usize, &[f64]) -> Result<Vec<f64>> + Sync,
) -> candle_core::Result<Vec<f64>> {
    let rows: Vec<Vec<f64>> = x
        .par_chunks(n)
        .enumerate()
        .map(|(i, row)| f(i, row))
        .collect::<Result<_>>()
        .map_err(msg)?;
    Ok(rows.concat())
}

impl<M: RowMap> CustomOp1 for RowWise<M> {
    fn name(&self) -> &'static str {
        self.0.op_name()
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = host(storage, layout)?;
        let dims = layout.dims();
        let (b, n) = (dims[0], dims[1]);
        let out = par_rows(&x, n, |_, row| self.0.forward(row))?;
        let len = self.0.out_len(n);
        let shape: Shape = if len == n {
            (b, n).into()
        } else {
            (b, n, len / n).into()
        };
        let storage = match storage {
            CpuStorage::F32(_) => CpuStorage::F32(out.into_iter().map(|v| v as f32).collect()),
            _ => CpuStorage::F64(out),
        };
        Ok((storage, shape))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let x = host_tensor(arg)?;
        let g = host_tensor(grad_res)?;
        let n = arg.dim(1)?;
        let len = self.0.out_len(n);
        let grad = par_rows(&x, n, |i, row| self.0.vjp(row, &g[i * len..(i + 1) * len]))?;
        Tensor::from_vec(grad, arg.shape(), arg.device())?
            .to_dtype(arg.dtype())
            .map(Some)
    }
}

/// Checks a knob that must be a positive, finite number.
pub fn positive(ranker: &str, knob: &str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(Error::InvalidArgument(format!(
            "{ranker}: {knob} must be a positive number, got {value}"
        )))
    }
}

/// Indices that sort `x` descending (ties: lower index first, so the order is deterministic).
pub fn argsort_desc(x: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[b].total_cmp(&x[a]).then(a.cmp(&b)));
    order
}

/// Exact SoDeep ranks of one row: the largest gets `1/n`, the smallest `1` (ties by index).
pub fn exact_ranks(x: &[f64]) -> Vec<f64> {
    let n = x.len() as f64;
    let mut r = vec![0.0; x.len()];
    for (k, &i) in argsort_desc(x).iter().enumerate() {
        r[i] = (k + 1) as f64 / n;
    }
    r
}

/// SoDeep ranks from a relaxed permutation `p` (`n × n`, row k: the weights of the input
/// positions for the k-th largest score): `r_i = Σ_k (k+1)·p[k,i] / n`.
pub fn ranks_from_permutation(p: &[f64], n: usize) -> Vec<f64> {
    let mut r = vec![0.0; n];
    for (k, row) in p.chunks(n).enumerate() {
        let w = (k + 1) as f64 / n as f64;
        for (ri, pi) in r.iter_mut().zip(row) {
            *ri += w * pi;
        }
    }
    r
}

/// The VJP of [`ranks_from_permutation`]: `∂(Σ_i g_i r_i)/∂p[k,i] = g_i·(k+1)/n`.
pub fn ranks_from_permutation_vjp(g: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for (k, row) in out.chunks_mut(n).enumerate() {
        let w = (k + 1) as f64 / n as f64;
        for (o, gi) in row.iter_mut().zip(g) {
            *o = w * gi;
        }
    }
    out
}
