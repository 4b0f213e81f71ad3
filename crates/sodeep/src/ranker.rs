//! The [`Ranker`] interface: anything that maps score vectors to differentiable ranks.
//!
//! Every ranker speaks the SoDeep convention: a `B × n` batch of scores becomes a `B × n`
//! batch of ranks where the largest score of a row gets `1/n` and the smallest `1`. Losses in
//! [`crate::loss`] take any ranker, so a learned sorter, the handcrafted sorter and the
//! analytic relaxations are interchangeable.
//!
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use sodeep::ranker::{rank_with, Order, RankOptions, Scale};
//! let ranker = sodeep::spec::parse("softrank:eps=0.001")?;
//! let x = Tensor::new(&[[0.3f32, -1.0, 2.0]], &Device::Cpu)?;
//! // SoDeep ranks: the largest gets 1/n
//! let r = ranker.rank(&x)?.to_vec2::<f32>()?;
//! assert!((r[0][2] - 1.0 / 3.0).abs() < 1e-5 && (r[0][1] - 1.0).abs() < 1e-5);
//! // the same ranker in torchsort's convention: ascending, raw 1..n
//! let up = RankOptions { order: Order::Ascending, scale: Scale::Raw };
//! let r = rank_with(ranker.as_ref(), &x, up)?.to_vec2::<f32>()?;
//! assert!((r[0][2] - 3.0).abs() < 1e-4 && (r[0][1] - 1.0).abs() < 1e-4);
//! # Ok::<(), sodeep::Error>(())
//! ```
use candle_core::{DType, Device, Tensor};

use crate::error::{Error, Result};

/// Maps a batch of score vectors to differentiable ranks in the SoDeep convention.
///
/// Implementations must accept `f32` input (others may be accepted) and return ranks of the
/// input's dtype, differentiable with respect to the scores. Learned sorters keep their weights
/// frozen: no gradient reaches them.
pub trait Ranker: Send + Sync {
    /// A name for tables and errors (`lstm-100`, `handcrafted:10`, ...).
    fn name(&self) -> String;
    /// The vector length the ranker is limited to, or `None` when any length works.
    fn fixed_len(&self) -> Option<usize>;
    /// `B × n` scores → `B × n` ranks: largest → `1/n`, smallest → `1`.
    fn rank(&self, scores: &Tensor) -> Result<Tensor>;
    /// A warning when vectors of length `n` lie outside what the ranker was made for (a learned
    /// sorter of any length outside its training lengths): its ranks are then extrapolated.
    /// `None` by default.
    fn length_warning(&self, _n: usize) -> Option<String> {
        None
    }
    /// Peak scratch memory, in bytes, of one forward+backward pass on one row of `n` scores:
    /// benchmarks skip the sizes where it exceeds their budget. The default suits O(n)
    /// methods; O(n²) and O(n³) methods override it.
    fn memory_bytes(&self, n: usize) -> u64 {
        64 * n as u64
    }
    /// Peak memory, in bytes, of one row's relaxed permutation ([`Ranker::permutation`]), what
    /// [`soft_argsort`] and [`soft_top_k`] cost per row. Rankers that build one override it
    /// with [`permutation_bytes`]; the others have no permutation to pay for.
    fn permutation_bytes(&self, n: usize) -> u64 {
        self.memory_bytes(n)
    }
    /// Peak memory, in bytes, of one row of [`Ranker::sort`]: through the permutation unless
    /// the ranker sorts without one.
    fn sort_bytes(&self, n: usize) -> u64 {
        self.permutation_bytes(n)
    }
    /// `B × n` scores → `B × n × n` relaxed permutation matrices, for rankers that build one:
    /// row k holds the weights of the input positions for the k-th largest score (NeuralSort's
    /// convention), so `P · x` is the descending soft sort. `None` for the others.
    fn permutation(&self, _scores: &Tensor) -> Result<Option<Tensor>> {
        Ok(None)
    }
    /// `B × n` scores → `B × n` differentiable sort, descending. The default goes through
    /// [`Ranker::permutation`]; `None` when the ranker has neither.
    fn sort(&self, scores: &Tensor) -> Result<Option<Tensor>> {
        match self.permutation(scores)? {
            Some(p) => Ok(Some(
                p.matmul(&scores.to_dtype(p.dtype())?.unsqueeze(2)?)?
                    .squeeze(2)?,
            )),
            None => Ok(None),
        }
    }
}

/// The peak memory of one row's relaxed permutation beside a ranker's own `scratch`: the
/// `n × n` output, the f64 row buffer it is computed in and its gradient.
pub fn permutation_bytes(n: usize, scratch: u64) -> u64 {
    let square = (n as u64).saturating_mul(n as u64);
    square.saturating_mul(24).saturating_add(scratch)
}

/// Differentiable argsort from a relaxed permutation: `B × n` soft positions, entry k the
/// expected input index (0-based) of the k-th largest score.
pub fn soft_argsort(ranker: &dyn Ranker, scores: &Tensor) -> Result<Option<Tensor>> {
    let Some(p) = ranker.permutation(scores)? else {
        return Ok(None);
    };
    let n = scores.dim(1)?;
    let idx = Tensor::arange(0u32, n as u32, p.device())?
        .to_dtype(p.dtype())?
        .reshape((1, n, 1))?;
    Ok(Some(p.broadcast_matmul(&idx)?.squeeze(2)?))
}

/// Differentiable top-k membership from a relaxed permutation: `B × n` weights in [0, 1],
/// the mass each input position puts in the first `k` rows (the k largest scores).
pub fn soft_top_k(ranker: &dyn Ranker, scores: &Tensor, k: usize) -> Result<Option<Tensor>> {
    let n = scores.dim(1)?;
    if k == 0 || k > n {
        return Err(Error::InvalidArgument(format!(
            "top-k: k must be between 1 and n = {n}, got {k}"
        )));
    }
    let Some(p) = ranker.permutation(scores)? else {
        return Ok(None);
    };
    Ok(Some(p.narrow(1, 0, k)?.sum(1)?))
}

/// Which end of the order gets the first rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Largest score first (the SoDeep convention).
    #[default]
    Descending,
    /// Smallest score first (`scipy.stats.rankdata`, torchsort's default).
    Ascending,
}

/// How ranks are scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scale {
    /// Ranks in (0, 1]: the first rank is `1/n`.
    #[default]
    Normalized,
    /// Ranks 1..n.
    Raw,
}

/// Options that convert SoDeep ranks to the convention a caller wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RankOptions {
    /// Descending (default) or ascending.
    pub order: Order,
    /// Normalised (default) or raw.
    pub scale: Scale,
}

/// What [`apply_to_rows`] computes for each vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOutput {
    /// SoDeep ranks (largest → `1/n`).
    Ranks,
    /// The descending soft sort ([`Ranker::sort`]).
    Sort,
    /// The soft argsort ([`soft_argsort`]): 0-based expected input positions, largest first.
    Argsort,
    /// Soft top-k membership ([`soft_top_k`]).
    TopK(usize),
}

impl std::str::FromStr for RowOutput {
    type Err = Error;

    /// `ranks`, `sort`, `argsort` or `topk:K`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::InvalidArgument(format!(
                "unknown output '{s}': use ranks, sort, argsort or topk:K (K ≥ 1)"
            ))
        };
        match s {
            "ranks" => Ok(Self::Ranks),
            "sort" => Ok(Self::Sort),
            "argsort" => Ok(Self::Argsort),
            _ => match s.strip_prefix("topk:").map(str::parse::<usize>) {
                Some(Ok(k)) if k >= 1 => Ok(Self::TopK(k)),
                _ => Err(bad()),
            },
        }
    }
}

/// Applies `ranker` to every vector of `rows`: ranks, soft sort, soft argsort or soft top-k.
/// Vectors may differ in length for rankers that take any n; consecutive vectors of one length
/// run as one batch (up to 1024 rows). Empty, non-finite and (for fixed-size sorters) wrong-length vectors are
/// errors that name the vector; asking a ranker without a relaxed sort or permutation for one
/// says which rankers have it.
///
/// The vectors go to the ranker in f64, so scores closer than f32's spacing stay apart (the
/// analytic rankers compute in f64; the learned sorters standardise in f64 before their f32
/// network).
pub fn apply_to_rows(
    ranker: &dyn Ranker,
    rows: &[Vec<f64>],
    what: RowOutput,
) -> Result<Vec<Vec<f64>>> {
    if rows.is_empty() {
        return Err(Error::Empty("no vector to rank".into()));
    }
    for (i, r) in rows.iter().enumerate() {
        if r.is_empty() {
            return Err(Error::Empty(format!("vector {i} has no score")));
        }
        if let Some(expected) = ranker.fixed_len() {
            if r.len() != expected {
                return Err(Error::LengthMismatch {
                    row: i,
                    got: r.len(),
                    expected,
                });
            }
        }
        // checked one vector at a time, so the error's row is the vector's
        crate::error::check_finite(r, r.len()).map_err(|e| match e {
            Error::NonFinite { index, value, .. } => Error::NonFinite {
                row: i,
                index,
                value,
            },
            other => other,
        })?;
        if let RowOutput::TopK(k) = what {
            if k > r.len() {
                return Err(Error::InvalidArgument(format!(
                    "top-k: k = {k} exceeds the length {} of vector {i}",
                    r.len()
                )));
            }
        }
    }
    let missing = || {
        Error::InvalidArgument(match what {
            RowOutput::Sort => format!(
                "{} has no relaxed sort; use softrank, neuralsort, softsort-perm, sinkhorn, \
                 diffsort-oddeven or diffsort-bitonic",
                ranker.name()
            ),
            _ => format!(
                "{} builds no relaxed permutation, which argsort and top-k need; use \
                 neuralsort, softsort-perm, sinkhorn, diffsort-oddeven or diffsort-bitonic",
                ranker.name()
            ),
        })
    };
    let mut out = Vec::with_capacity(rows.len());
    let mut start = 0;
    while start < rows.len() {
        let d = rows[start].len();
        // at most 1024 rows per batch bounds the memory of the quadratic rankers
        let end = start
            + rows[start..]
                .iter()
                .take(1024)
                .take_while(|r| r.len() == d)
                .count();
        let per_row = match what {
            RowOutput::Ranks => ranker.memory_bytes(d),
            RowOutput::Sort => ranker.sort_bytes(d),
            RowOutput::Argsort | RowOutput::TopK(_) => ranker.permutation_bytes(d),
        };
        let bytes = per_row.saturating_mul((end - start) as u64);
        crate::memory::check(
            &format!(
                "ranking {} vector(s) of {d} scores with {}",
                end - start,
                ranker.name()
            ),
            bytes,
        )?;
        let flat: Vec<f64> = rows[start..end].iter().flatten().copied().collect();
        let x = Tensor::from_vec(flat, (end - start, d), &Device::Cpu)?;
        let y = match what {
            RowOutput::Ranks => ranker.rank(&x)?,
            RowOutput::Sort => ranker.sort(&x)?.ok_or_else(missing)?,
            RowOutput::Argsort => soft_argsort(ranker, &x)?.ok_or_else(missing)?,
            RowOutput::TopK(k) => soft_top_k(ranker, &x, k)?.ok_or_else(missing)?,
        };
        out.extend(y.to_dtype(DType::F64)?.to_vec2::<f64>()?);
        start = end;
    }
    Ok(out)
}

/// Ranks `scores` (`B × n`) through `ranker` with the given order and scale.
///
/// Ascending ranks are the descending ranks of `−scores`; raw ranks are normalised ranks × n.
pub fn rank_with(ranker: &dyn Ranker, scores: &Tensor, options: RankOptions) -> Result<Tensor> {
    let input = match options.order {
        Order::Descending => scores.clone(),
        Order::Ascending => scores.neg()?,
    };
    let ranks = ranker.rank(&input)?;
    match options.scale {
        Scale::Normalized => Ok(ranks),
        Scale::Raw => Ok((ranks * input.dim(1)? as f64)?),
    }
}
