//! The candle op behind every analytic ranker: a per-row map with its vector–Jacobian product
//! ([`RowMap`]) applied to a `B × n` tensor ([`apply_rows`]), rows in parallel, with the tapes of
//! the forward pass kept for the backward pass.

use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp1, Device, Layout, Shape, Tensor};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// What a [`RowMap`] may keep from a row's forward pass for its backward pass.
pub type Tape = Box<dyn std::any::Any + Send + Sync>;

/// A per-row map with its vector–Jacobian product: the contract every analytic ranker fills.
///
/// [`RowMap::forward`] and [`RowMap::vjp`] are all a map needs. Maps where the backward pass
/// can reuse work of the forward pass (a sort, a PAV partition) also override
/// [`RowMap::forward_into`] and [`RowMap::vjp_into`]: the candle op keeps the tapes when the
/// input needs a gradient, so the backward pass does not redo the forward one.
pub trait RowMap: Send + Sync + Clone + 'static {
    /// Name for candle's op registry and error messages.
    fn op_name(&self) -> &'static str;
    /// Whether a row's output is an `n × n` matrix (a relaxed permutation) rather than `n`
    /// values (ranks, a sort). Said outright: at n = 1 the two have the same length.
    fn matrix_out(&self) -> bool {
        false
    }
    /// Output values per row of `n` inputs: `n` for ranks and sorts, `n·n` for permutations.
    fn out_len(&self, n: usize) -> usize {
        if self.matrix_out() {
            n * n
        } else {
            n
        }
    }
    /// The forward map of one row.
    fn forward(&self, x: &[f64]) -> Result<Vec<f64>>;
    /// `∂(Σ_k g_k · forward(x)_k) / ∂x` for one row.
    fn vjp(&self, x: &[f64], g: &[f64]) -> Result<Vec<f64>>;
    /// The forward map written into `out`, with an optional tape for [`RowMap::vjp_into`].
    /// The op calls it only when the input needs a gradient ([`RowMap::forward`] otherwise).
    fn forward_into(&self, x: &[f64], out: &mut [f64]) -> Result<Option<Tape>> {
        out.copy_from_slice(&self.forward(x)?);
        Ok(None)
    }
    /// The VJP written into `grad_x`, from the tape of [`RowMap::forward_into`] when there is
    /// one.
    fn vjp_into(
        &self,
        x: &[f64],
        _tape: Option<&Tape>,
        g: &[f64],
        grad_x: &mut [f64],
    ) -> Result<()> {
        grad_x.copy_from_slice(&self.vjp(x, g)?);
        Ok(())
    }
}

/// The body of [`RowMap::vjp_into`] for maps whose tape is a `T`: `from_tape` writes the VJP
/// from the row's tape when there is one; otherwise the map's plain [`RowMap::vjp`] runs (it
/// redoes the forward pass).
pub(crate) fn vjp_from_tape<T: 'static, M: RowMap>(
    map: &M,
    x: &[f64],
    tape: Option<&Tape>,
    g: &[f64],
    grad_x: &mut [f64],
    from_tape: impl FnOnce(&T, &mut [f64]) -> Result<()>,
) -> Result<()> {
    match tape.and_then(|t| t.downcast_ref::<T>()) {
        Some(t) => from_tape(t, grad_x),
        None => {
            grad_x.copy_from_slice(&map.vjp(x, g)?);
            Ok(())
        }
    }
}

/// Checks that `scores` is a non-empty `B × n` tensor and returns it on the CPU, contiguous.
/// (Finiteness is checked by the op itself, while it reads the scores.)
pub(crate) fn check_scores(name: &str, scores: &Tensor) -> Result<Tensor> {
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
    Ok(scores.to_device(&Device::Cpu)?.contiguous()?)
}

/// Applies `map` to every row of `scores` (`B × n`) as a differentiable candle op: the output
/// is `B × n`, or `B × n × n` when the map yields `n²` values per row. NaN or infinite scores
/// are an [`Error::NonFinite`].
pub fn apply_rows<M: RowMap>(map: &M, scores: &Tensor) -> Result<Tensor> {
    let on_cpu = check_scores(map.op_name(), scores)?;
    let state = Arc::new(OpState::default());
    let op = RowWise {
        map: map.clone(),
        keep_tapes: on_cpu.track_op(),
        state: state.clone(),
    };
    match on_cpu.apply_op1(op) {
        Ok(out) => Ok(out.to_device(scores.device())?),
        Err(e) => Err(state
            .error
            .lock()
            .ok()
            .and_then(|mut g| g.take())
            .unwrap_or(Error::Candle(e))),
    }
}

/// What the op shares between its forward and backward passes.
#[derive(Default)]
struct OpState {
    /// One tape per row, kept when the input needs a gradient.
    tapes: Mutex<Vec<Option<Tape>>>,
    /// The typed error of a failed forward pass (candle's own error type is a string).
    error: Mutex<Option<Error>>,
}

/// The candle op behind [`apply_rows`].
struct RowWise<M> {
    map: M,
    keep_tapes: bool,
    state: Arc<OpState>,
}

/// The element types the ops read and write (candle's f32 and f64).
trait Elem: Copy + Send + Sync + Into<f64> + 'static {
    fn narrow(v: f64) -> Self;
}

impl Elem for f32 {
    fn narrow(v: f64) -> Self {
        v as f32
    }
}

impl Elem for f64 {
    fn narrow(v: f64) -> Self {
        v
    }
}

/// The contiguous values of a CPU tensor's storage.
fn contiguous<'a, T>(values: &'a [T], layout: &Layout) -> candle_core::Result<&'a [T]> {
    let (start, end) = layout
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg("relaxed ranker: contiguous input only".into()))?;
    Ok(&values[start..end])
}

/// The fewest scores a parallel task of [`par_rows`] handles.
const ROW_TASK_ELEMS: usize = 2048;

/// Runs `f(row index, input row, output row)` on every row of `x` (rows of `n`, outputs of
/// `len`) in parallel and returns the outputs in `x`'s type with what each call returned.
/// Rows are widened to f64 one at a time into per-thread buffers: the batch is never copied
/// as a whole, which at batch 256, n = 100 cost more than the ranking itself (page faults
/// of the large temporaries).
fn par_rows<T: Elem, R: Send>(
    x: &[T],
    n: usize,
    len: usize,
    f: impl Fn(usize, &[f64], &mut [f64]) -> Result<R> + Sync + Send,
) -> Result<(Vec<T>, Vec<R>)> {
    let mut out = vec![T::narrow(0.0); x.len() / n * len];
    // tasks of at least ROW_TASK_ELEMS scores: at many threads and short rows, one task per
    // row costs more in scheduling than the row's work
    let per_task = ROW_TASK_ELEMS.div_ceil(n.max(1));
    let results = out
        .par_chunks_mut(len)
        .zip(x.par_chunks(n))
        .enumerate()
        .with_min_len(per_task)
        .map_init(
            || (Vec::with_capacity(n), vec![0.0; len]),
            |(row, res), (i, (o, xs))| {
                row.clear();
                row.extend(xs.iter().map(|&v| v.into()));
                let r = f(i, row, res)?;
                for (a, &b) in o.iter_mut().zip(res.iter()) {
                    *a = T::narrow(b);
                }
                Ok(r)
            },
        )
        .collect::<Result<Vec<R>>>()?;
    Ok((out, results))
}

/// [`par_rows`] on scores, after checking that all are finite.
fn finite_rows<T: Elem, R: Send>(
    x: &[T],
    n: usize,
    len: usize,
    f: impl Fn(usize, &[f64], &mut [f64]) -> Result<R> + Sync + Send,
) -> Result<(Vec<T>, Vec<R>)> {
    crate::error::check_finite(x, n)?;
    par_rows(x, n, len, f)
}

impl<M: RowMap> RowWise<M> {
    /// Records a typed error for [`apply_rows`] and turns it into candle's.
    fn fail(&self, e: Error) -> candle_core::Error {
        let text = e.to_string();
        if let Ok(mut slot) = self.state.error.lock() {
            *slot = Some(e);
        }
        candle_core::Error::Msg(text)
    }
}

impl<M: RowMap> CustomOp1 for RowWise<M> {
    fn name(&self) -> &'static str {
        self.map.op_name()
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let dims = layout.dims();
        let (b, n) = (dims[0], dims[1]);
        let len = self.map.out_len(n);
        // a tape is only worth recording when a backward pass will read it
        let row = |_: usize, x: &[f64], out: &mut [f64]| {
            if self.keep_tapes {
                self.map.forward_into(x, out)
            } else {
                out.copy_from_slice(&self.map.forward(x)?);
                Ok(None)
            }
        };
        // the whole batch is checked once here, so the row kernels need not check again
        let (storage, tapes) = match storage {
            CpuStorage::F32(v) => {
                let x = contiguous(v, layout)?;
                let (out, tapes) = finite_rows(x, n, len, row).map_err(|e| self.fail(e))?;
                (CpuStorage::F32(out), tapes)
            }
            CpuStorage::F64(v) => {
                let x = contiguous(v, layout)?;
                let (out, tapes) = finite_rows(x, n, len, row).map_err(|e| self.fail(e))?;
                (CpuStorage::F64(out), tapes)
            }
            _ => candle_core::bail!("relaxed ranker: f32 or f64 scores only"),
        };
        if self.keep_tapes && tapes.iter().any(Option::is_some) {
            if let Ok(mut slot) = self.state.tapes.lock() {
                *slot = tapes;
            }
        }
        let shape: Shape = if self.map.matrix_out() {
            (b, n, n).into()
        } else {
            (b, n).into()
        };
        Ok((storage, shape))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let n = arg.dim(1)?;
        let len = self.map.out_len(n);
        let g = grad_res.to_dtype(arg.dtype())?.contiguous()?;
        let tapes =
            self.state.tapes.lock().map_err(|_| {
                candle_core::Error::Msg("relaxed ranker: tape lock poisoned".into())
            })?;
        let (xs, x_layout) = arg.storage_and_layout();
        let (gs, g_layout) = g.storage_and_layout();
        // the rows of g drive the iteration; row i of x is read beside it
        let grad = match (&*xs, &*gs) {
            (
                candle_core::Storage::Cpu(CpuStorage::F32(x)),
                candle_core::Storage::Cpu(CpuStorage::F32(gv)),
            ) => {
                let x = contiguous(x, x_layout)?;
                let (grad, _) = par_rows(contiguous(gv, g_layout)?, len, n, |i, g, gx| {
                    ROW_F64.with(|buf| {
                        let mut row = buf.borrow_mut();
                        row.clear();
                        row.extend(x[i * n..(i + 1) * n].iter().map(|&v| v as f64));
                        let tape = tapes.get(i).and_then(Option::as_ref);
                        self.map.vjp_into(&row, tape, g, gx)
                    })
                })
                .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
                Tensor::from_vec(grad, arg.shape(), arg.device())?
            }
            (
                candle_core::Storage::Cpu(CpuStorage::F64(x)),
                candle_core::Storage::Cpu(CpuStorage::F64(gv)),
            ) => {
                let x = contiguous(x, x_layout)?;
                let (grad, _) = par_rows(contiguous(gv, g_layout)?, len, n, |i, g, gx| {
                    let tape = tapes.get(i).and_then(Option::as_ref);
                    self.map.vjp_into(&x[i * n..(i + 1) * n], tape, g, gx)
                })
                .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
                Tensor::from_vec(grad, arg.shape(), arg.device())?
            }
            _ => candle_core::bail!("relaxed ranker: f32 or f64 CPU tensors only"),
        };
        Ok(Some(grad))
    }
}

thread_local! {
    /// A thread's f64 copy of one f32 input row for the backward pass (no allocation per row).
    static ROW_F64: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
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
