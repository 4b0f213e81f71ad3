//! The [`Ranker`] interface: anything that maps score vectors to differentiable ranks.
//!
//! Every ranker speaks the SoDeep convention: a `B × n` batch of scores becomes a `B × n`
//! batch of ranks where the largest score of a row gets `1/n` and the smallest `1`. Losses in
//! [`crate::loss`] take any ranker, so a learned sorter, the handcrafted sorter and the
//! analytic relaxations are interchangeable.
//!
//! # Ranking a batch of any size
//! Learned sorters read vectors of a fixed length d, while a user's batch holds m scores (or m
//! rows of a list). [`Grouping`] is the rule that reconciles the two; the losses apply it for
//! every ranker:
//! 1. The m items form lists: one list of all m, or one list per distinct group id (one query,
//!    one user, ...). Ranks are only ever compared within a list.
//! 2. The group length L is the ranker's fixed length d, or, for rankers that take any length,
//!    the length of the longest list.
//! 3. A list longer than L is shuffled (seeded) and cut into chunks of L; the last chunk and
//!    every shorter list are padded to L with copies of members drawn at random from the same
//!    list.
//! 4. Predictions and targets go through the same grouping, so both sides see the same padded
//!    groups; pads are masked out of every loss, and each real item counts exactly once.
//!
//! With an any-length ranker and no group ids this is the identity: one group of all m items.

use std::sync::{Mutex, RwLock};

use candle_core::{DType, Device, Tensor};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::optim::{Adam, AdamConfig};
use crate::rank::sodeep_rank_rows;
use crate::sorter::Sorter;

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
    /// Peak scratch memory, in bytes, of one forward+backward pass on one row of `n` scores:
    /// benchmarks skip the sizes where it exceeds their budget. The default suits O(n)
    /// methods; O(n²) and O(n³) methods override it.
    fn memory_bytes(&self, n: usize) -> u64 {
        64 * n as u64
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

impl Ranker for Sorter {
    fn name(&self) -> String {
        Sorter::name(self).to_string()
    }

    fn fixed_len(&self) -> Option<usize> {
        self.d()
    }

    fn rank(&self, scores: &Tensor) -> Result<Tensor> {
        self.forward(scores)
    }

    fn memory_bytes(&self, n: usize) -> u64 {
        match self.d() {
            // fixed-size nets: activations linear in n
            Some(_) => 64 * n as u64,
            // the handcrafted sorter keeps about eight n × n f32 matrices through autodiff
            // (differences, scaled, sigmoid, and their gradients)
            None => 32u64.saturating_mul((n as u64).saturating_mul(n as u64)),
        }
    }
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
pub fn apply_to_rows(
    ranker: &dyn Ranker,
    rows: &[Vec<f32>],
    what: RowOutput,
) -> Result<Vec<Vec<f32>>> {
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
        Error::InvalidArgument(format!(
            "{} has no relaxed sort or permutation; use softrank, softsort, neuralsort, \
             softsort-perm, sinkhorn, diffsort-oddeven or diffsort-bitonic",
            ranker.name()
        ))
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
        let flat: Vec<f32> = rows[start..end].iter().flatten().copied().collect();
        let x = Tensor::from_vec(flat, (end - start, d), &Device::Cpu)?;
        let y = match what {
            RowOutput::Ranks => ranker.rank(&x)?,
            RowOutput::Sort => ranker.sort(&x)?.ok_or_else(missing)?,
            RowOutput::Argsort => soft_argsort(ranker, &x)?.ok_or_else(missing)?,
            RowOutput::TopK(k) => soft_top_k(ranker, &x, k)?.ok_or_else(missing)?,
        };
        out.extend(y.to_dtype(DType::F32)?.to_vec2::<f32>()?);
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

/// How m items are laid out in `groups × len` slots for ranking (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Grouping {
    /// Number of groups G.
    pub groups: usize,
    /// Slots per group L.
    pub len: usize,
    /// `G·L` item indices, row-major: which item fills each slot.
    pub index: Vec<u32>,
    /// `G·L` weights: 1 for the slot that holds an item's own copy, 0 for a pad.
    pub mask: Vec<f32>,
    /// For each of the m items, the slot (`g·L + position`) of its own copy.
    pub slot: Vec<u32>,
}

impl Grouping {
    /// Lays out `m` items. `lists` gives one id per item (or `None` for a single list),
    /// `fixed_len` is the ranker's fixed length (or `None` for any length), and `rng` drives
    /// the shuffle and the pads.
    pub fn new(
        m: usize,
        lists: Option<&[u32]>,
        fixed_len: Option<usize>,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        if m == 0 {
            return Err(Error::Empty("no item to rank".into()));
        }
        let members: Vec<Vec<u32>> = match lists {
            None => vec![(0..m as u32).collect()],
            Some(ids) => {
                if ids.len() != m {
                    return Err(Error::InvalidArgument(format!(
                        "{} group ids for {m} items: give one id per item",
                        ids.len()
                    )));
                }
                let mut by_id: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
                for (i, &id) in ids.iter().enumerate() {
                    by_id.entry(id).or_default().push(i as u32);
                }
                by_id.into_values().collect()
            }
        };
        let longest = members.iter().map(Vec::len).max().unwrap_or(1);
        let len = match fixed_len {
            Some(0) => {
                return Err(Error::InvalidArgument(
                    "a ranker with a fixed length of 0".into(),
                ))
            }
            Some(d) => d,
            None => longest,
        };
        let mut index = Vec::new();
        let mut mask = Vec::new();
        let mut slot = vec![0u32; m];
        for mut list in members {
            if list.len() > len {
                list.shuffle(rng);
            }
            for chunk in list.chunks(len) {
                let base = index.len() as u32;
                for (k, &item) in chunk.iter().enumerate() {
                    slot[item as usize] = base + k as u32;
                    index.push(item);
                    mask.push(1.0);
                }
                for _ in chunk.len()..len {
                    index.push(list[rng.random_range(0..list.len())]);
                    mask.push(0.0);
                }
            }
        }
        Ok(Self {
            groups: index.len() / len,
            len,
            index,
            mask,
            slot,
        })
    }

    /// Lays out `values` (`m` or `m × k`) as `G × L` (or `G × L × k`).
    pub fn gather(&self, values: &Tensor) -> Result<Tensor> {
        let idx = Tensor::from_slice(&self.index, self.index.len(), values.device())?;
        let picked = values.index_select(&idx, 0)?;
        let mut shape = vec![self.groups, self.len];
        shape.extend_from_slice(&values.dims()[1..]);
        Ok(picked.reshape(shape)?)
    }

    /// The pad mask as a `G × L` tensor.
    pub fn mask_tensor(&self, dtype: DType, device: &Device) -> Result<Tensor> {
        Ok(Tensor::from_slice(&self.mask, (self.groups, self.len), device)?.to_dtype(dtype)?)
    }

    /// Takes a `G × L` per-slot tensor back to the m items, in their original order.
    pub fn scatter_back(&self, per_slot: &Tensor) -> Result<Tensor> {
        let idx = Tensor::from_slice(&self.slot, self.slot.len(), per_slot.device())?;
        Ok(per_slot.flatten_all()?.index_select(&idx, 0)?)
    }
}

/// A learned sorter that can be fine-tuned while it serves as a ranker (the paper's optional
/// step): it keeps the score vectors it is asked to rank and, on request, trains on them with
/// an L1 loss against their exact ranks.
///
/// Ranking itself stays frozen: gradients reach the scores, never the sorter's weights, so a
/// model's optimiser never moves the sorter. Only [`FineTuned::fine_tune`] does.
pub struct FineTuned {
    current: RwLock<Sorter>,
    state: Mutex<TuneState>,
    capacity: usize,
}

struct TuneState {
    varmap: candle_nn::VarMap,
    net: crate::sorter::SorterNet,
    adam: Adam,
    seen: Vec<Vec<f32>>,
    next: usize,
    rng: ChaCha8Rng,
}

impl FineTuned {
    /// Wraps `sorter`, keeping at most `capacity` of the vectors it ranks.
    pub fn new(sorter: Sorter, capacity: usize, seed: u64) -> Result<Self> {
        use rand::SeedableRng;
        if sorter.d().is_none() {
            return Err(Error::InvalidArgument(
                "the handcrafted sorter has no weights to fine-tune".into(),
            ));
        }
        let varmap = candle_nn::VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let net = crate::sorter::SorterNet::new(&sorter.card().config, vb)?;
        {
            let vars = varmap.data().lock().expect("var map lock");
            for (name, var) in vars.iter() {
                let w = sorter
                    .weights()
                    .get(name)
                    .ok_or_else(|| Error::BadWeights {
                        path: sorter.name().into(),
                        reason: format!("no tensor {name} to fine-tune"),
                    })?;
                var.set(w)?;
            }
        }
        let adam = Adam::new(&varmap, AdamConfig::default())?;
        Ok(Self {
            current: RwLock::new(sorter),
            state: Mutex::new(TuneState {
                varmap,
                net,
                adam,
                seen: Vec::new(),
                next: 0,
                rng: ChaCha8Rng::seed_from_u64(seed),
            }),
            capacity: capacity.max(1),
        })
    }

    /// Number of score vectors kept so far.
    pub fn seen(&self) -> usize {
        self.state.lock().expect("fine-tune lock").seen.len()
    }

    /// Trains the sorter for `steps` steps of `batch` kept vectors at learning rate `lr`
    /// (L1 against the exact ranks), then serves the new weights. Returns the mean L1 of the
    /// last step, or `None` when no vector has been kept yet.
    pub fn fine_tune(&self, steps: usize, batch: usize, lr: f64) -> Result<Option<f64>> {
        let mut st = self.state.lock().expect("fine-tune lock");
        if st.seen.is_empty() || steps == 0 {
            return Ok(None);
        }
        let d = st.seen[0].len();
        let mut last = None;
        for _ in 0..steps {
            let kept = st.seen.len();
            let rows: Vec<usize> = (0..batch.max(1))
                .map(|_| st.rng.random_range(0..kept))
                .collect();
            let flat: Vec<f32> = rows.iter().flat_map(|&r| st.seen[r].clone()).collect();
            let target = sodeep_rank_rows(&flat, d);
            let x = Tensor::from_vec(flat, (rows.len(), d), &Device::Cpu)?;
            let y = Tensor::from_vec(target, (rows.len(), d), &Device::Cpu)?;
            let loss = (st.net.forward_t(&x, false)? - y)?.abs()?.mean_all()?;
            last = Some(loss.to_scalar::<f32>()? as f64);
            let grads = loss.backward()?;
            st.adam.step(&grads, lr)?;
        }
        let tensors = st
            .varmap
            .data()
            .lock()
            .expect("var map lock")
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.as_tensor().copy()?)))
            .collect::<candle_core::Result<_>>()?;
        let mut current = self.current.write().expect("sorter lock");
        let updated = Sorter::from_tensors(
            current.name(),
            current.card().clone(),
            tensors,
            std::path::Path::new(current.name()),
        )?;
        *current = updated;
        Ok(last)
    }
}

impl Ranker for FineTuned {
    fn name(&self) -> String {
        format!(
            "{}+finetune",
            self.current.read().expect("sorter lock").name()
        )
    }

    fn fixed_len(&self) -> Option<usize> {
        self.current.read().expect("sorter lock").d()
    }

    fn rank(&self, scores: &Tensor) -> Result<Tensor> {
        let sorter = self.current.read().expect("sorter lock").clone();
        let ranks = sorter.forward(scores)?;
        let rows: Vec<Vec<f32>> = scores.to_dtype(DType::F32)?.to_vec2()?;
        let mut st = self.state.lock().expect("fine-tune lock");
        for row in rows {
            // a ring buffer: the newest vectors replace the oldest once full
            if st.seen.len() < self.capacity {
                st.seen.push(row);
            } else {
                let at = st.next;
                st.seen[at] = row;
                st.next = (at + 1) % self.capacity;
            }
        }
        Ok(ranks)
    }
}

/// Standardises each row (zero mean, unit variance) before ranking with the inner ranker: the
/// paper's score-range alignment, which puts a model's predictions on the scale the sorter saw
/// in training. Ranks are unchanged by the map, only the sorter's view of them.
pub struct Standardized(pub std::sync::Arc<dyn Ranker>);

impl Ranker for Standardized {
    fn name(&self) -> String {
        format!("{}+align", self.0.name())
    }

    fn fixed_len(&self) -> Option<usize> {
        self.0.fixed_len()
    }

    fn rank(&self, scores: &Tensor) -> Result<Tensor> {
        self.0.rank(&crate::sorter::standardize_rows(scores)?)
    }
}

/// The analytic rankers [`parse`] knows, with their knobs, for docs and error messages.
pub const ANALYTIC: &[&str] = &[
    "softrank[:eps=E,reg=l2|kl]",
    "softsort[:eps=E,reg=l2|kl]",
    "neuralsort[:tau=T]",
    "softsort-perm[:tau=T]",
    "sinkhorn[:eps=E,iters=N]",
    "diffsort-oddeven[:steepness=S,dist=logistic|logistic_phi|cauchy|reciprocal]",
    "diffsort-bitonic[:steepness=S,dist=logistic|logistic_phi|cauchy|reciprocal]",
    "blackbox[:lambda=L]",
    "handcrafted[:lambda=L]",
];

/// The knobs of one ranker spec (`NAME:k=v,k=v`), consumed one by one; whatever is left at
/// [`Knobs::finish`] is an unknown knob.
struct Knobs<'a> {
    spec: &'a str,
    kv: Vec<(&'a str, &'a str)>,
    known: Vec<&'static str>,
}

impl<'a> Knobs<'a> {
    fn parse(spec: &'a str) -> Result<(&'a str, Self)> {
        let (name, rest) = spec.split_once(':').unwrap_or((spec, ""));
        let mut kv = Vec::new();
        for item in rest.split(',').filter(|s| !s.is_empty()) {
            let (k, v) = item.split_once('=').ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "ranker '{spec}': knobs are written key=value, got '{item}'"
                ))
            })?;
            kv.push((k.trim(), v.trim()));
        }
        Ok((
            name,
            Self {
                spec,
                kv,
                known: Vec::new(),
            },
        ))
    }

    fn take(&mut self, key: &'static str) -> Option<&'a str> {
        self.known.push(key);
        let at = self.kv.iter().position(|(k, _)| *k == key)?;
        Some(self.kv.remove(at).1)
    }

    /// A numeric knob, or `default` when absent.
    fn num(&mut self, key: &'static str, default: f64) -> Result<f64> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => v.parse::<f64>().map_err(|_| {
                Error::InvalidArgument(format!("ranker '{}': {key}={v} is not a number", self.spec))
            }),
        }
    }

    /// A knob that must be a positive integer, or `default` when absent.
    fn count(&mut self, key: &'static str, default: usize) -> Result<usize> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(c) if c > 0 => Ok(c),
                _ => Err(Error::InvalidArgument(format!(
                    "ranker '{}': {key}={v}: {key} must be a positive integer (1, 2, 3, ...)",
                    self.spec
                ))),
            },
        }
    }

    /// A knob with a fixed set of values, or `default` when absent.
    fn choice(
        &mut self,
        key: &'static str,
        default: &'static str,
        allowed: &[&'static str],
    ) -> Result<&'a str> {
        let v = self.take(key).unwrap_or(default);
        if allowed.contains(&v) {
            Ok(v)
        } else {
            Err(Error::InvalidArgument(format!(
                "ranker '{}': {key}={v}: use one of {}",
                self.spec,
                allowed.join(", ")
            )))
        }
    }

    fn finish(self) -> Result<()> {
        match self.kv.first() {
            None => Ok(()),
            Some((k, _)) => Err(Error::InvalidArgument(format!(
                "ranker '{}': unknown knob '{k}' (known: {})",
                self.spec,
                if self.known.is_empty() {
                    "none".to_string()
                } else {
                    self.known.join(", ")
                }
            ))),
        }
    }
}

/// Builds a ranker from its spec `NAME[:knob=value,...]`: one of [`ANALYTIC`] (softrank,
/// softsort, neuralsort, softsort-perm, sinkhorn, diffsort-oddeven, diffsort-bitonic,
/// blackbox, handcrafted; `handcrafted:LAMBDA` is also accepted), a shipped sorter's name, or
/// a sorter folder. Unknown names and knobs, and knobs out of range, are errors that say what
/// is allowed.
pub fn parse(spec: &str) -> Result<std::sync::Arc<dyn Ranker>> {
    use crate::relax;
    use std::sync::Arc;
    // the sorter's own short form, handcrafted:LAMBDA, has no key
    if spec.starts_with("handcrafted:") && !spec.contains('=') {
        return Ok(Arc::new(Sorter::load(spec)?));
    }
    let (name, mut k) = Knobs::parse(spec)?;
    let ranker: Arc<dyn Ranker> = match name {
        "softrank" | "softsort" => {
            use relax::softrank::{Regularization, SoftRank};
            let eps = k.num("eps", 1.0)?;
            let reg = match k.choice("reg", "l2", &["l2", "kl"])? {
                "kl" => Regularization::Kl,
                _ => Regularization::L2,
            };
            Arc::new(SoftRank::new(eps, reg)?)
        }
        "diffsort-oddeven" | "diffsort-bitonic" => {
            use relax::diffsort::{DiffSort, Distribution, Network, DEFAULT_STEEPNESS};
            let network = if name == "diffsort-oddeven" {
                Network::OddEven
            } else {
                Network::Bitonic
            };
            let steepness = k.num("steepness", DEFAULT_STEEPNESS)?;
            let dist = k.choice("dist", "cauchy", &Distribution::NAMES)?;
            Arc::new(DiffSort::new(
                network,
                steepness,
                Distribution::from_name(dist)?,
            )?)
        }
        "neuralsort" => {
            let tau = k.num("tau", relax::neuralsort::DEFAULT_TAU)?;
            Arc::new(relax::neuralsort::NeuralSort::new(tau)?)
        }
        "softsort-perm" => {
            let tau = k.num("tau", relax::neuralsort::DEFAULT_TAU)?;
            Arc::new(relax::neuralsort::SoftSortPerm::new(tau)?)
        }
        "sinkhorn" => {
            use relax::sinkhorn::{Sinkhorn, DEFAULT_EPS, DEFAULT_ITERS};
            let eps = k.num("eps", DEFAULT_EPS)?;
            let iters = k.count("iters", DEFAULT_ITERS)?;
            Arc::new(Sinkhorn::new(eps, iters)?)
        }
        "blackbox" => {
            let lambda = k.num("lambda", relax::blackbox::DEFAULT_LAMBDA)?;
            Arc::new(relax::blackbox::Blackbox::new(lambda)?)
        }
        "handcrafted" => {
            let lambda = k.num("lambda", crate::sorter::DEFAULT_LAMBDA)?;
            Arc::new(Sorter::handcrafted(lambda)?)
        }
        _ => {
            return match Sorter::load(spec) {
                Ok(s) => Ok(Arc::new(s)),
                Err(Error::UnknownSorter { name, known }) => Err(Error::InvalidArgument(format!(
                    "unknown ranker '{name}': known rankers are {}, and the sorters {known}",
                    ANALYTIC.join(", ")
                ))),
                Err(e) => Err(e),
            }
        }
    };
    k.finish()?;
    Ok(ranker)
}
