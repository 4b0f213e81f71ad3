//! Evaluating a sorter the way the paper does: mean L1 between predicted and exact SoDeep ranks
//! on synthetic vectors (Table 1), per distribution, plus the rank sweep of the paper's Fig. 5.
//!
//! `L1 = mean over vectors and positions of |predicted rank − exact SoDeep rank|`.
//!
//! ```
//! use sodeep::eval::{evaluate, EvalConfig};
//! use sodeep::synthetic::Distribution;
//! let exact = sodeep::spec::parse("blackbox")?; // exact ranks forward
//! let cfg = EvalConfig { samples: 50, d: 10, seed: 0, distribution: Distribution::All };
//! let report = evaluate(exact.as_ref(), &cfg)?;
//! assert_eq!(report.l1, 0.0);
//! assert!((report.spearman - 1.0).abs() < 1e-12);
//! # Ok::<(), sodeep::Error>(())
//! ```

use std::collections::BTreeMap;
use std::time::Instant;

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::metrics::spearman;
use crate::rank::sodeep_rank;
use crate::ranker::Ranker;
use crate::synthetic::{generate, Batch, Distribution};

/// Mean L1 of row-major predictions against a batch's exact ranks, overall and per distribution.
pub fn l1_by_distribution(preds: &[f32], batch: &Batch) -> (f64, BTreeMap<String, f64>) {
    let d = batch.d.max(1);
    let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    let mut total = 0.0;
    for (i, (p, t)) in preds.chunks(d).zip(batch.ranks.chunks(d)).enumerate() {
        let err: f64 = p
            .iter()
            .zip(t)
            .map(|(&a, &b)| (a as f64 - b as f64).abs())
            .sum::<f64>()
            / d as f64;
        total += err;
        let e = sums.entry(batch.kinds[i].name().to_string()).or_default();
        e.0 += err;
        e.1 += 1;
    }
    let n = batch.len().max(1) as f64;
    let by = sums
        .into_iter()
        .map(|(k, (s, c))| (k, s / c as f64))
        .collect();
    (total / n, by)
}

/// Options of [`evaluate`].
#[derive(Debug, Clone)]
pub struct EvalConfig {
    /// Number of test vectors.
    pub samples: usize,
    /// Vector length (must be the sorter's d for learned sorters).
    pub d: usize,
    /// Seed of the test vectors.
    pub seed: u64,
    /// Distribution of the test vectors.
    pub distribution: Distribution,
}

/// The evaluation figures (serialised as `eval-sorter --json`).
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// The sorter's name or path.
    pub sorter: String,
    /// Vector length.
    pub d: usize,
    /// Number of test vectors.
    pub samples: usize,
    /// Seed of the test vectors.
    pub seed: u64,
    /// Distribution of the test vectors.
    pub distribution: String,
    /// Mean absolute error between predicted and exact SoDeep ranks.
    pub l1: f64,
    /// The same per distribution.
    pub l1_by_distribution: BTreeMap<String, f64>,
    /// Mean Spearman correlation between predicted and exact ranks.
    pub spearman: f64,
    /// Wall time of the evaluation.
    pub seconds: f64,
}

/// Vectors ranked per call by [`evaluate`].
const CHUNK: usize = 500;

/// Peak memory of [`evaluate`] on `samples` vectors of length `d`: the vectors, their exact
/// ranks and the predictions (f32 each, with f64 scratch for the exact ranks), and the ranker's
/// scratch for one chunk of vectors.
pub fn eval_bytes(ranker: &dyn Ranker, samples: usize, d: usize) -> u64 {
    let elems = samples as f64 * d as f64;
    let scratch = CHUNK.min(samples) as f64 * ranker.memory_bytes(d) as f64;
    (elems * 20.0 + scratch) as u64
}

/// Refuses an evaluation whose [`eval_bytes`] exceed the memory budget.
fn check_eval_memory(ranker: &dyn Ranker, samples: usize, d: usize) -> Result<()> {
    crate::memory::check(
        &format!(
            "evaluating {} on {samples} vectors of length {d}",
            ranker.name()
        ),
        eval_bytes(ranker, samples, d),
    )
}

/// Evaluates any ranker on `cfg.samples` synthetic vectors (`cfg.seed`): the L1 of `eval-sorter`
/// and of `bench rankers`.
pub fn evaluate(ranker: &dyn Ranker, cfg: &EvalConfig) -> Result<EvalReport> {
    if cfg.samples == 0 {
        return Err(Error::Empty("--samples 0: nothing to evaluate".into()));
    }
    if cfg.d == 0 {
        return Err(Error::InvalidArgument("--len must be at least 1".into()));
    }
    if let Some(sd) = ranker.fixed_len() {
        if sd != cfg.d {
            return Err(Error::LengthMismatch {
                row: 0,
                got: cfg.d,
                expected: sd,
            });
        }
    }
    check_eval_memory(ranker, cfg.samples, cfg.d)?;
    let start = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let batch = generate(cfg.distribution, &mut rng, cfg.samples, cfg.d);
    let d = cfg.d;
    let mut preds = Vec::with_capacity(batch.scores.len());
    for chunk in batch.scores.chunks(CHUNK * d) {
        let x = Tensor::from_slice(chunk, (chunk.len() / d, d), &Device::Cpu)?;
        preds.extend(ranker.rank(&x)?.flatten_all()?.to_vec1::<f32>()?);
    }
    let (l1, l1_by_distribution) = l1_by_distribution(&preds, &batch);
    let rho: f64 = preds
        .chunks(d)
        .zip(batch.ranks.chunks(d))
        .map(|(p, t)| {
            let r = spearman(p, t);
            if r.is_nan() {
                // d = 1, or a constant prediction: no order information
                0.0
            } else {
                r
            }
        })
        .sum::<f64>()
        / cfg.samples as f64;
    Ok(EvalReport {
        sorter: ranker.name(),
        d,
        samples: cfg.samples,
        seed: cfg.seed,
        distribution: cfg.distribution.name().into(),
        l1,
        l1_by_distribution,
        spearman: rho,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The lengths of `eval-sorter --lens` when a sorter of any length is evaluated by default.
pub const DEFAULT_LENS: [usize; 7] = [3, 5, 10, 32, 100, 256, 1000];

/// One length's figures in a [`LengthsReport`].
#[derive(Debug, Clone, Serialize)]
pub struct LengthFigures {
    /// Mean absolute error between predicted and exact SoDeep ranks.
    pub l1: f64,
    /// The same per distribution.
    pub l1_by_distribution: BTreeMap<String, f64>,
    /// Mean Spearman correlation between predicted and exact ranks.
    pub spearman: f64,
    /// Wall time at this length.
    pub seconds: f64,
}

/// The figures of `eval-sorter --lens` (serialised as its `--json`).
#[derive(Debug, Clone, Serialize)]
pub struct LengthsReport {
    /// The sorter's name or path.
    pub sorter: String,
    /// Test vectors per length.
    pub samples: usize,
    /// Seed of the test vectors (the same at every length).
    pub seed: u64,
    /// Distribution of the test vectors.
    pub distribution: String,
    /// Mean of the per-length L1 over the lengths evaluated.
    pub l1: f64,
    /// Figures per length, keyed by the length.
    pub by_len: BTreeMap<usize, LengthFigures>,
    /// Lengths asked for but not evaluated, with the reason (a fixed-length sorter reports
    /// only its own d).
    pub skipped: BTreeMap<usize, String>,
}

/// Evaluates `ranker` at each of `lens` ([`evaluate`] with `base.d` replaced by each length).
/// A ranker of fixed length is evaluated at its own length only; the others are listed in
/// `skipped`.
pub fn evaluate_lengths(
    ranker: &dyn Ranker,
    lens: &[usize],
    base: &EvalConfig,
) -> Result<LengthsReport> {
    if lens.is_empty() {
        return Err(Error::Empty("--lens: no length given".into()));
    }
    // every length is checked before the first one runs
    for &n in lens {
        if ranker.fixed_len().is_none_or(|d| d == n) && n > 0 {
            check_eval_memory(ranker, base.samples, n)?;
        }
    }
    let mut by_len = BTreeMap::new();
    let mut skipped = BTreeMap::new();
    for &n in lens {
        if let Some(d) = ranker.fixed_len() {
            if n != d {
                skipped.insert(n, format!("{} takes only length {d}", ranker.name()));
                continue;
            }
        }
        let r = evaluate(
            ranker,
            &EvalConfig {
                d: n,
                ..base.clone()
            },
        )?;
        by_len.insert(
            n,
            LengthFigures {
                l1: r.l1,
                l1_by_distribution: r.l1_by_distribution,
                spearman: r.spearman,
                seconds: r.seconds,
            },
        );
    }
    if by_len.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{} takes only length {}: add it to --lens",
            ranker.name(),
            ranker.fixed_len().unwrap_or(0)
        )));
    }
    let l1 = by_len.values().map(|f| f.l1).sum::<f64>() / by_len.len() as f64;
    Ok(LengthsReport {
        sorter: ranker.name(),
        samples: base.samples,
        seed: base.seed,
        distribution: base.distribution.name().into(),
        l1,
        by_len,
        skipped,
    })
}

/// The paper's Fig. 5: one uniform vector, whose first score sweeps [-1, 1] in steps of 0.001.
#[derive(Debug, Clone)]
pub struct RankSweep {
    /// Values taken by `y_1`.
    pub y1: Vec<f64>,
    /// Exact SoDeep rank of `y_1` (a staircase).
    pub true_rank: Vec<f64>,
    /// The sorter's predicted rank of `y_1`.
    pub predicted: Vec<f64>,
}

/// Computes the rank sweep of [`RankSweep`] for vectors of length `d`.
pub fn rank_sweep(ranker: &dyn Ranker, d: usize, seed: u64) -> Result<RankSweep> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let base = generate(Distribution::Uniform, &mut rng, 1, d).scores;
    let y1: Vec<f64> = (0..=2000).map(|i| -1.0 + i as f64 * 0.001).collect();
    let mut rows = Vec::with_capacity(y1.len() * d);
    let mut true_rank = Vec::with_capacity(y1.len());
    for &v in &y1 {
        let mut row = base.clone();
        row[0] = v as f32;
        true_rank.push(sodeep_rank(&row)[0]);
        rows.extend(row);
    }
    let x = Tensor::from_vec(rows, (y1.len(), d), &Device::Cpu)?;
    let pred: Vec<Vec<f32>> = ranker.rank(&x)?.to_vec2()?;
    Ok(RankSweep {
        y1,
        true_rank,
        predicted: pred.iter().map(|r| r[0] as f64).collect(),
    })
}
