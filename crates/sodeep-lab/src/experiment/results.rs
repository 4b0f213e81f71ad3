//! What an experiment measured: each run's outcome, and the means and spreads over seeds.

use std::collections::BTreeMap;

use serde::Serialize;

use super::model;
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
    /// How the task lays out its table, with its goal lines.
    #[serde(skip)]
    pub layout: Layout,
}

/// How a task lays out its results: the metric's header, the secondary columns, and the goal
/// lines it drew from the figures.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// The header of the metric's column (`test spearman`, `R@1`).
    pub metric_head: String,
    /// Secondary figures beside the metric.
    pub columns: &'static [Column],
    /// One line per target: reached or not.
    pub goals: Vec<String>,
}

/// A secondary figure of the table: `extra[key]` under `head`, with `decimals`.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Its key in a result's `extra`.
    pub key: &'static str,
    /// Its header.
    pub head: &'static str,
    /// Digits after the point.
    pub decimals: usize,
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
