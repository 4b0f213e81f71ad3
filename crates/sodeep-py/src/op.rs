//! One differentiable function of one array, built once from its options and called many
//! times: `forward(x, aux, lists, seed)` and its vector-Jacobian product
//! `vjp(x, grad, aux, lists, seed)` = `∂ Σ(f(x) · grad) / ∂x`.
//!
//! `x` is the differentiable input (scores, predictions, a similarity matrix); `aux` is the
//! constant one a loss compares it with (targets, labels, relevance); `lists` gives one group
//! id per item for losses that rank within groups; `seed` drives the grouping's pads, so that a
//! forward and its VJP with the same seed see the same groups. A forward pass can be kept as a
//! [`Tape`] (`forward_tape`), whose VJP walks candle's autograd graph (every ranker's and
//! loss's own backward pass) or, for torchsort's soft rank and sort, the rows' own tapes.

use std::sync::Arc;

use candle_core::{Tensor, Var};
use pyo3::prelude::*;
use sodeep::loss::{
    LtrConfig, LtrKind, LtrLoss, MapConfig, MapLoss, NdcgConfig, NdcgLoss, QueryLoss,
    RankSumConfig, RankSumLoss, RecallConfig, RecallLoss, Reduction, SpearmanConfig, SpearmanLoss,
};
use sodeep::metrics::Gain;
use sodeep::ranker::{rank_with, soft_argsort, soft_top_k, Order, RankOptions, Ranker, Scale};
use sodeep::relax::softrank::Regularization;

use crate::convert::{to_numpy, to_tensor, value_error};
use crate::rows;

/// What an [`Op`] computes.
enum Kind {
    Rank(Arc<dyn Ranker>, RankOptions),
    /// torchsort's soft rank (`sort: false`) or soft sort, ascending.
    SoftRank {
        strength: f64,
        reg: Regularization,
        sort: bool,
    },
    Permutation(Arc<dyn Ranker>),
    Sort(Arc<dyn Ranker>),
    Argsort(Arc<dyn Ranker>),
    TopK(Arc<dyn Ranker>, usize),
    Spearman(Arc<dyn Ranker>, Reduction),
    Map(Arc<dyn Ranker>, bool, Reduction),
    Recall(Arc<dyn Ranker>, f64, bool, Reduction),
    RankSum(Arc<dyn Ranker>, bool, Reduction),
    Ndcg(Arc<dyn Ranker>, NdcgConfig),
    Ltr(LtrKind, LtrConfig),
}

/// A differentiable function of one array (see the module docs).
#[pyclass(frozen, module = "sodeep._native")]
pub struct Op {
    kind: Kind,
    name: String,
}

fn ranker(spec: &str) -> PyResult<Arc<dyn Ranker>> {
    sodeep::spec::parse(spec).map_err(value_error)
}

fn reduction(name: &str) -> PyResult<Reduction> {
    Reduction::from_name(name).map_err(value_error)
}

fn gain(name: &str) -> PyResult<Gain> {
    Gain::from_name(name).map_err(value_error)
}

#[pymethods]
impl Op {
    /// Ranks of every row through the ranker `spec`.
    #[staticmethod]
    fn rank(spec: &str, descending: bool, normalized: bool) -> PyResult<Self> {
        let options = RankOptions {
            order: if descending {
                Order::Descending
            } else {
                Order::Ascending
            },
            scale: if normalized {
                Scale::Normalized
            } else {
                Scale::Raw
            },
        };
        Ok(Self::new(Kind::Rank(ranker(spec)?, options), spec))
    }

    /// torchsort's `soft_rank` (`sort = False`) or `soft_sort`.
    #[staticmethod]
    fn soft_rank(regularization_strength: f64, regularization: &str, sort: bool) -> PyResult<Self> {
        let reg = Regularization::from_name(regularization).map_err(value_error)?;
        // SoftRank::new validates the strength; build one now so a bad value fails here
        sodeep::relax::softrank::SoftRank::new(regularization_strength, reg)
            .map_err(value_error)?;
        Ok(Self::new(
            Kind::SoftRank {
                strength: regularization_strength,
                reg,
                sort,
            },
            if sort { "soft_sort" } else { "soft_rank" },
        ))
    }

    /// `B × n × n` relaxed permutation matrices (descending).
    #[staticmethod]
    fn permutation(spec: &str) -> PyResult<Self> {
        Ok(Self::new(Kind::Permutation(ranker(spec)?), spec))
    }

    /// The descending differentiable sort.
    #[staticmethod]
    fn sort(spec: &str) -> PyResult<Self> {
        Ok(Self::new(Kind::Sort(ranker(spec)?), spec))
    }

    /// Soft argsort: the expected input index of the k-th largest score.
    #[staticmethod]
    fn argsort(spec: &str) -> PyResult<Self> {
        Ok(Self::new(Kind::Argsort(ranker(spec)?), spec))
    }

    /// Soft top-k membership weights.
    #[staticmethod]
    fn topk(spec: &str, k: usize) -> PyResult<Self> {
        Ok(Self::new(Kind::TopK(ranker(spec)?, k), spec))
    }

    /// [`SpearmanLoss`] of predictions `x` against targets `aux`.
    #[staticmethod]
    fn spearman_loss(spec: &str, reduction_name: &str) -> PyResult<Self> {
        Ok(Self::new(
            Kind::Spearman(ranker(spec)?, reduction(reduction_name)?),
            spec,
        ))
    }

    /// [`MapLoss`] of `m × C` scores `x` against 0/1 labels `aux`.
    #[staticmethod]
    fn map_loss(spec: &str, normalized: bool, reduction_name: &str) -> PyResult<Self> {
        Ok(Self::new(
            Kind::Map(ranker(spec)?, normalized, reduction(reduction_name)?),
            spec,
        ))
    }

    /// [`RecallLoss`] of a square similarity matrix `x`.
    #[staticmethod]
    fn recall_loss(
        spec: &str,
        margin: f64,
        both_directions: bool,
        reduction_name: &str,
    ) -> PyResult<Self> {
        if !margin.is_finite() {
            return Err(value_error(format!("margin must be finite, got {margin}")));
        }
        Ok(Self::new(
            Kind::Recall(
                ranker(spec)?,
                margin,
                both_directions,
                reduction(reduction_name)?,
            ),
            spec,
        ))
    }

    /// [`RankSumLoss`] of a square similarity matrix `x`.
    #[staticmethod]
    fn rank_sum_loss(spec: &str, both_directions: bool, reduction_name: &str) -> PyResult<Self> {
        Ok(Self::new(
            Kind::RankSum(ranker(spec)?, both_directions, reduction(reduction_name)?),
            spec,
        ))
    }

    /// [`NdcgLoss`] of scores `x` against relevance `aux`.
    #[staticmethod]
    #[pyo3(signature = (spec, k, gain_name, reduction_name))]
    fn ndcg_loss(
        spec: &str,
        k: Option<usize>,
        gain_name: &str,
        reduction_name: &str,
    ) -> PyResult<Self> {
        let config = NdcgConfig {
            gain: gain(gain_name)?,
            k,
            reduction: reduction(reduction_name)?,
            seed: 0,
        };
        Ok(Self::new(Kind::Ndcg(ranker(spec)?, config), spec))
    }

    /// [`LtrLoss`] `kind` of scores `x` against relevance `aux`.
    #[staticmethod]
    #[pyo3(signature = (kind, k, gain_name, sigma, temperature, reduction_name))]
    fn ltr_loss(
        kind: &str,
        k: Option<usize>,
        gain_name: &str,
        sigma: f64,
        temperature: f64,
        reduction_name: &str,
    ) -> PyResult<Self> {
        let kind = LtrKind::from_name(kind).map_err(value_error)?;
        let config = LtrConfig {
            gain: gain(gain_name)?,
            k,
            sigma,
            temperature,
            reduction: reduction(reduction_name)?,
            seed: 0,
        };
        Ok(Self::new(Kind::Ltr(kind, config), kind.name()))
    }

    /// The op's name, for messages.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// `f(x)` (see the module docs), computed without the GIL.
    #[pyo3(signature = (x, aux=None, lists=None, seed=0))]
    fn forward(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        aux: Option<&Bound<'_, PyAny>>,
        lists: Option<Vec<u32>>,
        seed: u64,
    ) -> PyResult<PyObject> {
        if let Some((y, _)) = self.soft_rank_rows(py, x, false)? {
            return Ok(y);
        }
        let (x, aux) = inputs(x, aux)?;
        let (y, _) = py
            .allow_threads(|| self.run(&x, aux.as_ref(), lists.as_deref(), seed, false))
            .map_err(value_error)?;
        to_numpy(py, &y)
    }

    /// `f(x)` and the tape of what its VJP needs, so that the VJP does not compute `f`
    /// again (the tape lives until it is dropped).
    #[pyo3(signature = (x, aux=None, lists=None, seed=0))]
    fn forward_tape(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        aux: Option<&Bound<'_, PyAny>>,
        lists: Option<Vec<u32>>,
        seed: u64,
    ) -> PyResult<(PyObject, Tape)> {
        if let Some((y, tapes)) = self.soft_rank_rows(py, x, true)? {
            let tapes = tapes.expect("kept when asked");
            return Ok((y, self.tape(Graph::Rows(tapes))));
        }
        let (x, aux) = inputs(x, aux)?;
        let tape = py
            .allow_threads(|| self.record(&x, aux.as_ref(), lists.as_deref(), seed))
            .map_err(value_error)?;
        let y = match &tape.graph {
            Graph::Candle { y, .. } => to_numpy(py, y)?,
            Graph::Rows(_) => unreachable!("record keeps a candle graph"),
        };
        Ok((y, tape))
    }

    /// `∂ Σ(f(x) · grad) / ∂x`, computed without the GIL (`f` runs again;
    /// [`Op::forward_tape`] avoids that).
    #[pyo3(signature = (x, grad, aux=None, lists=None, seed=0))]
    fn vjp(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        grad: &Bound<'_, PyAny>,
        aux: Option<&Bound<'_, PyAny>>,
        lists: Option<Vec<u32>>,
        seed: u64,
    ) -> PyResult<PyObject> {
        if let Some((_, tapes)) = self.soft_rank_rows(py, x, true)? {
            let tapes = tapes.expect("kept when asked");
            return rows::vjp(py, &tapes, grad, &self.name);
        }
        let (x, aux) = inputs(x, aux)?;
        let g = to_tensor(grad, "grad")?;
        let dx = py
            .allow_threads(|| {
                self.record(&x, aux.as_ref(), lists.as_deref(), seed)?
                    .backward(&g)
            })
            .map_err(value_error)?;
        to_numpy(py, &dx)
    }
}

/// What a VJP needs from one forward pass.
enum Graph {
    /// candle's autograd graph from this input variable to the output `y`.
    Candle { y: Tensor, var: Var },
    /// The per-row tapes of torchsort's soft rank or sort.
    Rows(rows::RowTapes),
}

/// One forward pass of an [`Op`], kept for its VJP.
#[pyclass(frozen, module = "sodeep._native")]
pub struct Tape {
    graph: Graph,
    name: String,
}

#[pymethods]
impl Tape {
    /// `∂ Σ(f(x) · grad) / ∂x` through the recorded pass, computed without the GIL.
    fn vjp(&self, py: Python<'_>, grad: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        if let Graph::Rows(tapes) = &self.graph {
            return rows::vjp(py, tapes, grad, &self.name);
        }
        let g = to_tensor(grad, "grad")?;
        let dx = py
            .allow_threads(|| self.backward(&g))
            .map_err(value_error)?;
        to_numpy(py, &dx)
    }
}

impl Tape {
    /// `∂ Σ(y · g) / ∂x` through candle's graph; zeros when `y` does not depend on `x` (a
    /// loss with no signal).
    fn backward(&self, g: &Tensor) -> sodeep::Result<Tensor> {
        let Graph::Candle { y, var } = &self.graph else {
            unreachable!("soft rank's tapes take the NumPy path of Tape::vjp")
        };
        if g.dims() != y.dims() {
            return Err(sodeep::Error::InvalidArgument(format!(
                "{}: the gradient has shape {:?}, the output {:?}",
                self.name,
                g.dims(),
                y.dims()
            )));
        }
        let total = (y * g.to_dtype(y.dtype())?)?.sum_all()?;
        Ok(match total.backward()?.get(var.as_tensor()) {
            Some(d) => d.clone(),
            None => var.as_tensor().zeros_like()?,
        })
    }
}

/// The differentiable input and the constant one, in the differentiable input's dtype.
fn inputs(
    x: &Bound<'_, PyAny>,
    aux: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Tensor, Option<Tensor>)> {
    let x = to_tensor(x, "x")?;
    let aux = match aux {
        Some(a) => Some(
            to_tensor(a, "the second input")?
                .to_dtype(x.dtype())
                .map_err(value_error)?,
        ),
        None => None,
    };
    Ok((x, aux))
}

impl Op {
    fn new(kind: Kind, name: &str) -> Self {
        Self {
            kind,
            name: name.to_string(),
        }
    }

    /// A conservative estimate of the peak memory of `f(x)` and its VJP, in bytes: checked
    /// against the budget of [`sodeep::memory`] before anything is allocated, so that an
    /// oversized input is a `ValueError` and not an abort in the allocator.
    fn estimate_bytes(&self, dims: &[usize]) -> u64 {
        let elems = dims.iter().map(|&d| d as u64).product::<u64>();
        let (b, n) = match dims {
            [b, n] => (*b as u64, *n as u64),
            [m] => (1, *m as u64),
            _ => (1, elems),
        };
        // per-element scratch of a ranker on lists of `len`
        let per_elem = |r: &Arc<dyn Ranker>, len: u64| {
            let len = r.fixed_len().map_or(len, |d| d as u64).max(1);
            r.memory_bytes(len as usize) / len
        };
        let square = |k: u64| k.saturating_mul(k).saturating_mul(16);
        match &self.kind {
            Kind::Rank(r, _) => b.saturating_mul(r.memory_bytes(n as usize)),
            Kind::SoftRank { .. } => elems.saturating_mul(64),
            Kind::Permutation(r) | Kind::Sort(r) | Kind::Argsort(r) | Kind::TopK(r, _) => b
                .saturating_mul(r.memory_bytes(n as usize))
                .saturating_add(b.saturating_mul(square(n)).saturating_mul(3)),
            Kind::Spearman(r, _) | Kind::Map(r, ..) | Kind::Ndcg(r, _) => {
                let len = if dims.len() == 2 && !matches!(self.kind, Kind::Map(..)) {
                    n
                } else {
                    dims[0] as u64
                };
                elems.saturating_mul(per_elem(r, len)).saturating_mul(2)
            }
            Kind::Recall(r, ..) | Kind::RankSum(r, ..) => {
                elems.saturating_mul(per_elem(r, n)).saturating_mul(4)
            }
            // the pairwise terms build G × L × L tensors; one list of every item is the worst case
            Kind::Ltr(..) => square(elems).saturating_mul(4),
        }
    }

    /// `f(x)`, with what its VJP needs when `keep`. The memory budget is checked first.
    fn run(
        &self,
        x: &Tensor,
        aux: Option<&Tensor>,
        lists: Option<&[u32]>,
        seed: u64,
        keep: bool,
    ) -> sodeep::Result<(Tensor, Option<Graph>)> {
        self.check_memory(x.dims())?;
        if !keep {
            return Ok((self.eval(x, aux, lists, seed)?, None));
        }
        let var = Var::from_tensor(x)?;
        let y = self.eval(var.as_tensor(), aux, lists, seed)?;
        Ok((y.clone(), Some(Graph::Candle { y, var })))
    }

    /// The memory budget of [`sodeep::memory`] against [`Op::estimate_bytes`].
    fn check_memory(&self, dims: &[usize]) -> sodeep::Result<()> {
        sodeep::memory::check(
            &format!("{} on an input of shape {dims:?}", self.name),
            self.estimate_bytes(dims),
        )
    }

    /// torchsort's soft rank or sort of the NumPy array `x` straight through the row
    /// functions ([`rows`]), with its tapes when `keep`; `None` for the other ops.
    #[allow(clippy::type_complexity)]
    fn soft_rank_rows(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        keep: bool,
    ) -> PyResult<Option<(PyObject, Option<rows::RowTapes>)>> {
        let Kind::SoftRank {
            strength,
            reg,
            sort,
        } = self.kind
        else {
            return Ok(None);
        };
        let shape: Vec<usize> = x.getattr("shape")?.extract()?;
        if shape.len() != 2 {
            return Err(value_error(format!(
                "expected a (batch, n) array, got shape {shape:?}"
            )));
        }
        self.check_memory(&shape).map_err(value_error)?;
        rows::forward(py, x, strength, reg, sort, keep).map(Some)
    }

    fn tape(&self, graph: Graph) -> Tape {
        Tape {
            graph,
            name: self.name.clone(),
        }
    }

    /// [`Op::run`] kept as a [`Tape`].
    fn record(
        &self,
        x: &Tensor,
        aux: Option<&Tensor>,
        lists: Option<&[u32]>,
        seed: u64,
    ) -> sodeep::Result<Tape> {
        let (_, graph) = self.run(x, aux, lists, seed, true)?;
        Ok(self.tape(graph.expect("run keeps the graph when asked")))
    }

    fn eval(
        &self,
        x: &Tensor,
        aux: Option<&Tensor>,
        lists: Option<&[u32]>,
        seed: u64,
    ) -> sodeep::Result<Tensor> {
        let need_aux = || {
            aux.ok_or_else(|| {
                sodeep::Error::InvalidArgument(format!("{}: a second input is needed", self.name))
            })
        };
        let need = |t: Option<Tensor>, what: &str| {
            t.ok_or_else(|| {
                sodeep::Error::InvalidArgument(format!(
                    "ranker '{}' has no {what}: use neuralsort, softsort-perm, sinkhorn or a diffsort network",
                    self.name
                ))
            })
        };
        match &self.kind {
            Kind::Rank(r, options) => rank_with(r.as_ref(), &rows(x)?, *options),
            Kind::SoftRank { .. } => {
                unreachable!("soft rank and sort take the row path (Op::soft_rank_rows)")
            }
            Kind::Permutation(r) => need(r.permutation(&rows(x)?)?, "relaxed permutation"),
            Kind::Sort(r) => need(r.sort(&rows(x)?)?, "differentiable sort"),
            Kind::Argsort(r) => need(soft_argsort(r.as_ref(), &rows(x)?)?, "relaxed permutation"),
            Kind::TopK(r, k) => need(
                soft_top_k(r.as_ref(), &rows(x)?, *k)?,
                "relaxed permutation",
            ),
            Kind::Spearman(r, reduction) => {
                let loss = SpearmanLoss::new(
                    Arc::clone(r),
                    SpearmanConfig {
                        reduction: *reduction,
                        aux: None,
                        seed,
                    },
                );
                match lists {
                    Some(l) => loss.forward_lists(x, need_aux()?, l),
                    None => loss.forward(x, need_aux()?),
                }
            }
            Kind::Map(r, normalized, reduction) => {
                let loss = MapLoss::new(
                    Arc::clone(r),
                    MapConfig {
                        normalized: *normalized,
                        reduction: *reduction,
                        seed,
                    },
                );
                match lists {
                    Some(l) => loss.forward_lists(x, need_aux()?, l),
                    None => loss.forward(x, need_aux()?),
                }
            }
            Kind::Recall(r, margin, both, reduction) => RecallLoss::new(
                Arc::clone(r),
                RecallConfig {
                    margin: *margin,
                    both_directions: *both,
                    reduction: *reduction,
                    seed,
                },
            )
            .forward(x),
            Kind::RankSum(r, both, reduction) => RankSumLoss::new(
                Arc::clone(r),
                RankSumConfig {
                    both_directions: *both,
                    reduction: *reduction,
                    seed,
                },
            )
            .forward(x),
            Kind::Ndcg(r, config) => {
                let loss = NdcgLoss::new(Arc::clone(r), NdcgConfig { seed, ..*config });
                query_loss(&loss, x, need_aux()?, lists)
            }
            Kind::Ltr(kind, config) => {
                let loss = LtrLoss::new(*kind, LtrConfig { seed, ..*config });
                query_loss(&loss, x, need_aux()?, lists)
            }
        }
    }
}

fn query_loss(
    loss: &dyn QueryLoss,
    x: &Tensor,
    relevance: &Tensor,
    lists: Option<&[u32]>,
) -> sodeep::Result<Tensor> {
    match lists {
        Some(l) => loss.forward_lists(x, relevance, l),
        None => loss.forward(x, relevance),
    }
}

/// Ranking functions take `B × n`; the Python side reshapes any other layout first.
fn rows(x: &Tensor) -> sodeep::Result<Tensor> {
    match x.dims() {
        [_, _] => Ok(x.clone()),
        other => Err(sodeep::Error::InvalidArgument(format!(
            "expected a (batch, n) array, got shape {other:?}"
        ))),
    }
}
