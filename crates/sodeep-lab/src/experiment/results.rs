//! What an experiment measured: each run's outcome, and the means and spreads over seeds.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::config::{ExperimentConfig, LossKind};
use super::model;
use super::ridge::RidgePlan;
use crate::error::{Error, Result};

/// One training run's outcome.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Best validation metric.
    pub val: f64,
    /// Epoch of the best validation metric (0-based).
    pub best_epoch: usize,
    /// Validation metric per epoch.
    pub curve: Vec<f64>,
    /// Test metric at the best validation epoch.
    pub test: f64,
    /// Secondary test figures (retrieval: r5, r10, median_rank).
    pub extra: BTreeMap<String, f64>,
}

/// One seed's data, ready to train any loss on.
pub trait SeedData: Sync {
    /// Trains the task's model with `loss` at `lr` and tests the best validation epoch.
    fn run(
        &self,
        loss: &LossKind,
        lr: f64,
        cfg: &ExperimentConfig,
        seed: u64,
    ) -> Result<RunOutcome>;
    /// The linear baseline: its name, the learning rate (or ridge λ) validation chose, and
    /// its outcome.
    fn linear(&self, cfg: &ExperimentConfig, seed: u64) -> Result<(String, f64, RunOutcome)>;
    /// How the linear baseline will be solved, for a ridge baseline (checked when the data was
    /// prepared); `None` for the others.
    fn linear_plan(&self) -> Option<RidgePlan> {
        None
    }
    /// An external reference trained on the same split by `python` (ltr: LightGBM), with its
    /// name; `None` for tasks without one.
    fn reference(&self, _python: &Path, _seed: u64) -> Result<Option<(String, RunOutcome)>> {
        Ok(None)
    }
}

impl RunOutcome {
    /// The outcome of a fit whose restored best epoch scored `test` (and `extra`).
    pub fn tested(fitted: model::Fit, test: f64, extra: BTreeMap<String, f64>) -> Self {
        Self {
            val: fitted.best_val,
            best_epoch: fitted.best_epoch,
            curve: fitted.curve,
            test,
            extra,
        }
    }

    /// The outcome of a model that is solved or trained elsewhere, not fitted epoch by epoch
    /// (ridge, LightGBM): no curve, no epoch.
    pub fn untrained(val: f64, test: f64, extra: BTreeMap<String, f64>) -> Self {
        Self {
            val,
            best_epoch: 0,
            curve: Vec::new(),
            test,
            extra,
        }
    }
}

/// Aggregated figures of one loss over the seeds.
#[derive(Debug, Clone, Serialize)]
pub struct LossResult {
    /// Mean test metric over the seeds.
    pub mean: f64,
    /// Its sample standard deviation (0 for one seed).
    pub sd: f64,
    /// The test metric of each seed.
    pub per_seed: Vec<f64>,
    /// The learning rate validation chose for each seed (ridge: its λ).
    pub lr: Vec<f64>,
    /// The epoch (1-based) validation chose for each seed.
    pub best_epoch: Vec<usize>,
    /// Wall-clock seconds of all of this loss's training runs (every seed and learning
    /// rate), summed; runs share the threads with the runs beside them.
    pub seconds: f64,
    /// Mean wall-clock seconds of one training run (one seed at one learning rate).
    pub seconds_per_run: f64,
    /// Secondary figures, each the mean over seeds (retrieval: r5, r10, median_rank).
    #[serde(flatten)]
    pub extra: BTreeMap<String, f64>,
    /// Mean validation metric per epoch over the seeds, at each seed's chosen learning rate.
    #[serde(skip)]
    pub curve: Vec<f64>,
}

/// The linear baseline's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    /// `ridge` or `logistic` or `linear-towers`.
    pub name: String,
    /// ridge: the form solved (`primal` or `dual`; both, as `primal/dual`, when the seeds'
    /// training parts straddle the switch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solver: Option<String>,
    /// Its figures.
    #[serde(flatten)]
    pub result: LossResult,
}

/// Everything an experiment measured.
#[derive(Debug, Clone, Serialize)]
pub struct ExperimentResult {
    /// Task name.
    pub task: String,
    /// Dataset name.
    pub data: String,
    /// Metric name (`spearman`, `map`, `r1`).
    pub metric: String,
    /// Figures per loss name.
    pub results: BTreeMap<String, LossResult>,
    /// The linear model beside the MLP.
    pub linear_baseline: Baseline,
    /// Things the reader should know (skipped label columns, ...).
    pub warnings: Vec<String>,
    /// Settings, for the record.
    pub settings: serde_json::Value,
    /// Wall-clock seconds.
    pub seconds: f64,
}

pub(crate) fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 {
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (mean, sd)
}

/// The figures over seeds of `runs` (each the learning rate chosen and its outcome), which
/// took `seconds` of training in `fits` training runs.
pub(crate) fn aggregate(runs: &[(f64, RunOutcome)], seconds: f64, fits: usize) -> LossResult {
    let per_seed: Vec<f64> = runs.iter().map(|(_, r)| r.test).collect();
    let (mean, sd) = mean_sd(&per_seed);
    let mut extra = BTreeMap::new();
    for (_, r) in runs {
        for (k, v) in &r.extra {
            *extra.entry(k.clone()).or_insert(0.0) += v / runs.len() as f64;
        }
    }
    let epochs = runs.iter().map(|(_, r)| r.curve.len()).max().unwrap_or(0);
    let curve = (0..epochs)
        .map(|e| {
            let vals: Vec<f64> = runs
                .iter()
                .filter_map(|(_, r)| r.curve.get(e).copied())
                .collect();
            mean_sd(&vals).0
        })
        .collect();
    LossResult {
        mean,
        sd,
        per_seed,
        lr: runs.iter().map(|(lr, _)| *lr).collect(),
        best_epoch: runs.iter().map(|(_, r)| r.best_epoch + 1).collect(),
        seconds,
        seconds_per_run: seconds / fits.max(1) as f64,
        extra,
        curve,
    }
}

/// Runs `train(lr)` for every learning rate and keeps the run with the best validation
/// metric, with its learning rate.
pub fn best_over_lrs(
    lrs: &[f64],
    mut train: impl FnMut(f64) -> Result<RunOutcome>,
) -> Result<(f64, RunOutcome)> {
    let mut best: Option<(f64, RunOutcome)> = None;
    for &lr in lrs {
        let r = train(lr)?;
        if best.as_ref().is_none_or(|(_, b)| r.val > b.val) {
            best = Some((lr, r));
        }
    }
    best.ok_or_else(|| Error::InvalidArgument("no learning rate to try".into()))
}

/// A task's data, split per seed.
pub struct Prepared {
    /// Dataset name.
    pub name: String,
    /// One entry per seed.
    pub seeds: Vec<Box<dyn SeedData>>,
    /// Warnings for the report.
    pub warnings: Vec<String>,
}

/// Fewest rows in a training, validation or test part: below it, a learning rate or epoch
/// picked on validation, or a test figure, is noise (3 rows give Spearman 0 or ±1).
pub const MIN_PART_ROWS: usize = 10;

/// Refuses splits whose parts are too small to measure anything, saying which part and what
/// to change.
pub fn check_parts(data: &str, train: usize, val: usize, test: usize) -> Result<()> {
    for (part, rows, fix) in [
        ("training", train, "use more data"),
        (
            "validation",
            val,
            "use more data or a larger --val-fraction",
        ),
        ("test", test, "use more data or a larger --test file"),
    ] {
        if rows < MIN_PART_ROWS {
            return Err(crate::error::Error::Data(format!(
                "{data}: the {part} part has {rows} rows, fewer than {MIN_PART_ROWS}: the figures \
                 would be noise ({fix})"
            )));
        }
    }
    Ok(())
}

/// Refuses a feature matrix whose every column is constant: no model can order its rows, and
/// every loss would tie at 0.
pub fn check_features(data: &str, x: &crate::data::Matrix) -> Result<()> {
    let varies = (0..x.cols).any(|c| {
        let first = x.row(0)[c];
        (1..x.rows).any(|r| x.row(r)[c] != first)
    });
    if x.rows > 0 && !varies {
        return Err(crate::error::Error::Data(format!(
            "{data}: every feature column is constant, so no model can rank the rows"
        )));
    }
    Ok(())
}

/// Splits `0..n` into (first, second) with `fraction` of the items in the second part, after
/// a seeded shuffle.
pub fn split(n: usize, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    let second = ((n as f64 * fraction).round() as usize).clamp(1, n.saturating_sub(1).max(1));
    let rest = idx.split_off(n - second);
    (idx, rest)
}
