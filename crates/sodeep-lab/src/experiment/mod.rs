//! `sodeep experiment <task>`: several losses trained on the same model, split and budget, over
//! several seeds, with a linear baseline beside them.
//!
//! Every run is fair to every loss: the same seeds give the same splits, initial weights and
//! batch order; each loss gets the same epochs and the same learning-rate grid; a validation
//! split held out of the training data picks both the learning rate and the epoch whose
//! weights are tested.
//!
//! | task | model | losses | metric |
//! |---|---|---|---|
//! | [`Task::Spearman`] | 2-layer MLP | `mse`, `l1`, `sodeep:<sorter>`, `handcrafted` | test Spearman |
//! | [`Task::Map`] | 2-layer MLP | `bce`, `bce` + `sodeep:<sorter>` mAP loss | test macro mAP |
//! | [`Task::Retrieval`] | two MLP towers, cosine | `hinge` (VSE++), `sodeep:<sorter>` recall loss | R@1 |
//!
//! [`digit_sort`] is a benchmark of its own: the multi-digit MNIST sorting task of NeuralSort,
//! run for any set of rankers.

pub mod digit_sort;
pub mod map;
pub mod model;
pub mod retrieval;
pub mod spearman;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::jobs::run_jobs;
use sodeep::ranker::Ranker;
use sodeep::sorter::Sorter;
use sodeep::sorter::{FineTuned, Standardized};

/// The experiments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Regression scored by Spearman's correlation (the paper's memorability experiment).
    Spearman,
    /// Multi-label classification scored by mAP (the paper's VOC experiment).
    Map,
    /// Cross-modal retrieval scored by Recall@K (the paper's COCO experiment).
    Retrieval,
}

impl Task {
    /// All tasks, in report order.
    pub const ALL: [Task; 3] = [Task::Spearman, Task::Map, Task::Retrieval];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Task::Spearman => "spearman",
            Task::Map => "map",
            Task::Retrieval => "retrieval",
        }
    }

    /// Parses a CLI name.
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown task '{name}': use spearman, map or retrieval"
                ))
            })
    }

    /// The metric reported as `mean`.
    pub fn metric(self) -> &'static str {
        match self {
            Task::Spearman => "spearman",
            Task::Map => "map",
            Task::Retrieval => "r1",
        }
    }

    /// The built-in dataset used when none is named.
    pub fn default_data(self) -> &'static str {
        match self {
            Task::Spearman => "winequality",
            Task::Map => "digits-multilabel",
            Task::Retrieval => "mnist-halves",
        }
    }

    /// The losses run when `--losses` is not given.
    pub fn default_losses(self, sorters: &[String]) -> Vec<String> {
        let mut out: Vec<String> = self.baselines().iter().map(|s| s.to_string()).collect();
        out.extend(sorters.iter().map(|s| format!("sodeep:{s}")));
        if self == Task::Spearman {
            out.push("handcrafted".into());
        }
        out
    }

    /// The baseline loss names of this task.
    pub fn baselines(self) -> &'static [&'static str] {
        match self {
            Task::Spearman => &["mse", "l1"],
            Task::Map => &["bce"],
            Task::Retrieval => &["hinge"],
        }
    }
}

/// Where an experiment's data come from.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    /// A built-in dataset: `winequality`, `diabetes`, `digits-multilabel`, `mnist-halves`.
    Builtin(String),
    /// CSV tables (header row): the training file, an optional test file, and the target
    /// column (spearman) or the label-column prefix (map).
    Csv {
        /// Training table.
        train: PathBuf,
        /// Test table; without it a test split is held out of `train`.
        test: Option<PathBuf>,
        /// Target column or label prefix.
        column: String,
    },
    /// Two CSV tables of paired rows (retrieval).
    Paired {
        /// First modality.
        a: PathBuf,
        /// Second modality.
        b: PathBuf,
    },
}

/// The paper's remedies for a rank loss that lags behind.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Remedies {
    /// Spearman task: add an L1 term on the predictions for this many first epochs (default 1
    /// for the Spearman task, as in the paper).
    pub l1_warmup_epochs: usize,
    /// Fine-tune the sorter on the score vectors it saw, after every epoch.
    pub finetune: bool,
    /// Standardise each score vector before the sorter reads it (score-range alignment).
    pub align: bool,
}

/// An experiment.
#[derive(Debug, Clone)]
pub struct ExperimentConfig {
    /// The task.
    pub task: Task,
    /// Its data.
    pub data: DataSource,
    /// Seeds 0..seeds.
    pub seeds: usize,
    /// Loss names (`None`: the task's defaults).
    pub losses: Option<Vec<String>>,
    /// Sorters that the default loss list turns into `sodeep:<sorter>` losses.
    pub sorters: Vec<String>,
    /// Epochs per run.
    pub epochs: usize,
    /// Examples per step (100 = the shipped sorters' d, so one batch is one sorter input).
    pub batch: usize,
    /// Learning rates tried for every loss; validation picks one per seed.
    pub lrs: Vec<f64>,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// Fraction of the training data held out for validation.
    pub val_fraction: f64,
    /// Hidden width of the MLPs.
    pub hidden: usize,
    /// Weight of the rank term added to BCE in the map task.
    pub rank_weight: f64,
    /// Weight of the task's baseline loss (BCE, hinge) kept beside a rank loss: 1 for map
    /// (the issue's `bce + sodeep`), 0 for retrieval (the recall loss alone).
    pub base_weight: f64,
    /// Margin of the recall loss, in normalised-rank units.
    pub recall_margin: f64,
    /// Remedies for the rank losses.
    pub remedies: Remedies,
    /// Where MNIST is cached (`None`: `SODEEP_DATA_DIR` or `~/.cache/sodeep/data`).
    pub data_dir: Option<PathBuf>,
}

impl ExperimentConfig {
    /// The training settings of one run at `lr`.
    pub fn fit_config(&self, lr: f64, seed: u64) -> model::FitConfig {
        model::FitConfig {
            epochs: self.epochs,
            batch: self.batch,
            lr,
            weight_decay: self.weight_decay,
            seed,
        }
    }

    /// The defaults for `task` on its built-in data: 5 seeds, every shipped sorter.
    pub fn new(task: Task) -> Self {
        let (epochs, lrs, hidden) = match task {
            Task::Spearman => (40, vec![1e-3, 3e-3], 64),
            Task::Map => (25, vec![1e-3, 3e-3], 128),
            Task::Retrieval => (10, vec![3e-3], 256),
        };
        let sorters = match task {
            Task::Spearman => sodeep::registry::list()
                .into_iter()
                .map(|l| l.name.to_string())
                .collect(),
            Task::Map => vec!["best-100".to_string()],
            // the recall loss ranks 200 vectors per step; cnn-100 does it 2.2× faster than
            // best-100 at the same retrieval figures (see the README), which keeps 5 seeds
            // under 15 minutes on 2 cores
            Task::Retrieval => vec!["cnn-100".to_string()],
        };
        Self {
            task,
            data: DataSource::Builtin(task.default_data().into()),
            seeds: 5,
            losses: None,
            sorters,
            epochs,
            batch: 100,
            lrs,
            weight_decay: 0.0,
            val_fraction: 0.2,
            hidden,
            rank_weight: 1.0,
            base_weight: if task == Task::Map { 1.0 } else { 0.0 },
            recall_margin: 0.02,
            // the paper's protocol: L1 on the predictions during the first epoch
            remedies: Remedies {
                l1_warmup_epochs: usize::from(task == Task::Spearman),
                ..Default::default()
            },
            data_dir: None,
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if self.seeds == 0 {
            return bad("--seeds must be at least 1".into());
        }
        if self.epochs == 0 {
            return bad("--epochs must be at least 1".into());
        }
        if self.batch < 2 {
            return bad(format!("--batch must be at least 2, got {}", self.batch));
        }
        if self.hidden == 0 {
            return bad("--hidden must be at least 1".into());
        }
        if self.lrs.is_empty() || self.lrs.iter().any(|&lr| !(lr.is_finite() && lr > 0.0)) {
            return bad(format!(
                "learning rates must be positive numbers, got {:?}",
                self.lrs
            ));
        }
        for (name, w) in [
            ("--rank-weight", self.rank_weight),
            ("--base-weight", self.base_weight),
        ] {
            if !(w.is_finite() && w >= 0.0) {
                return bad(format!("{name} must be 0 or more, got {w}"));
            }
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad(format!(
                "--weight-decay must be 0 or more, got {}",
                self.weight_decay
            ));
        }
        if !(self.val_fraction > 0.0 && self.val_fraction < 0.9) {
            return bad(format!(
                "--val-fraction must lie in (0, 0.9), got {}",
                self.val_fraction
            ));
        }
        Ok(())
    }

    /// The loss names this run compares.
    pub fn loss_names(&self) -> Vec<String> {
        self.losses
            .clone()
            .unwrap_or_else(|| self.task.default_losses(&self.sorters))
    }
}

/// A loss as the experiments understand it.
#[derive(Debug, Clone, PartialEq)]
pub enum LossKind {
    /// Mean squared error on the (standardised) target.
    Mse,
    /// Mean absolute error on the (standardised) target.
    L1,
    /// Binary cross-entropy on logits.
    Bce,
    /// VSE++ hinge with the hardest negative.
    Hinge,
    /// A rank loss through a ranker spec (`handcrafted[:λ]`, a sorter name or folder).
    Rank(String),
}

/// Parses a loss name for `task`.
pub fn parse_loss(task: Task, name: &str) -> Result<LossKind> {
    let kind = match name {
        "mse" => LossKind::Mse,
        "l1" => LossKind::L1,
        "bce" => LossKind::Bce,
        "hinge" => LossKind::Hinge,
        h if h == "handcrafted" || h.starts_with("handcrafted:") => LossKind::Rank(h.into()),
        s if s.starts_with("sodeep:") && s.len() > 7 => LossKind::Rank(s[7..].into()),
        other => {
            return Err(Error::InvalidArgument(format!(
                "unknown loss '{other}' for the {} task: use {}, sodeep:<sorter> or handcrafted",
                task.name(),
                task.baselines().join(", ")
            )))
        }
    };
    check_applies(task, &kind, name)?;
    Ok(kind)
}

/// Whether a loss of this kind trains a model of `task`.
fn check_applies(task: Task, kind: &LossKind, name: &str) -> Result<()> {
    let fits = matches!(
        (kind, task),
        (LossKind::Rank(_), _)
            | (LossKind::Mse | LossKind::L1, Task::Spearman)
            | (LossKind::Bce, Task::Map)
            | (LossKind::Hinge, Task::Retrieval)
    );
    if !fits {
        return Err(Error::InvalidArgument(format!(
            "loss '{name}' does not apply to the {} task: use {}, sodeep:<sorter> or handcrafted",
            task.name(),
            task.baselines().join(", ")
        )));
    }
    Ok(())
}

/// A ranker built for one run, with the fine-tuning handle when that remedy is on.
pub struct RunRanker {
    /// What the loss ranks with.
    pub ranker: Arc<dyn Ranker>,
    /// The same sorter, for fine-tuning after each epoch.
    pub tuned: Option<Arc<FineTuned>>,
}

impl RunRanker {
    /// Builds `spec` (a sorter or an analytic ranker, see [`sodeep::spec::parse`]) with the
    /// remedies applied; each run gets its own copy.
    pub fn build(spec: &str, remedies: Remedies, seed: u64) -> Result<Self> {
        let learned = Sorter::load(spec).ok().filter(|s| s.d().is_some());
        let (base, tuned): (Arc<dyn Ranker>, _) = match learned {
            Some(sorter) if remedies.finetune => {
                let t = Arc::new(FineTuned::new(sorter, 20_000, seed)?);
                (t.clone(), Some(t))
            }
            Some(sorter) => (Arc::new(sorter), None),
            None => (sodeep::spec::parse(spec)?, None),
        };
        let ranker: Arc<dyn Ranker> = if remedies.align {
            Arc::new(Standardized(base))
        } else {
            base
        };
        Ok(Self { ranker, tuned })
    }

    /// The ranker a run of `loss` needs on `task`: `None` for a baseline loss, an error for a
    /// loss that does not apply to the task.
    pub fn for_loss(
        task: Task,
        loss: &LossKind,
        remedies: Remedies,
        seed: u64,
    ) -> Result<Option<Self>> {
        check_applies(task, loss, &format!("{loss:?}"))?;
        match loss {
            LossKind::Rank(spec) => Ok(Some(Self::build(spec, remedies, seed)?)),
            _ => Ok(None),
        }
    }

    /// The end-of-epoch hook: a short fine-tuning of the sorter when that remedy is on.
    pub fn end_epoch(&self) -> Result<()> {
        if let Some(t) = &self.tuned {
            t.fine_tune(20, 64, 1e-4)?;
        }
        Ok(())
    }
}

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

fn aggregate(runs: &[(f64, RunOutcome)]) -> LossResult {
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
        extra,
        curve,
    }
}

/// Checks that `dir` can be created and written before any time is spent.
pub fn ensure_writable(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io("cannot create output folder", dir, e))?;
    let probe = dir.join(".sodeep-write-test");
    fs::write(&probe, b"ok").map_err(|e| Error::io("cannot write into output folder", dir, e))?;
    let _ = fs::remove_file(probe);
    Ok(())
}

/// Runs an experiment. `progress` receives one line per finished run.
pub fn run(cfg: &ExperimentConfig, progress: &(dyn Fn(&str) + Sync)) -> Result<ExperimentResult> {
    cfg.validate()?;
    let names = cfg.loss_names();
    if names.is_empty() {
        return Err(Error::InvalidArgument("--losses names no loss".into()));
    }
    let kinds: Vec<LossKind> = names
        .iter()
        .map(|n| parse_loss(cfg.task, n))
        .collect::<Result<_>>()?;
    // fail on a bad sorter name now, not after the first runs
    for k in &kinds {
        if let LossKind::Rank(spec) = k {
            RunRanker::build(spec, cfg.remedies, 0)?;
        }
    }
    let start = Instant::now();
    let prepared = match cfg.task {
        Task::Spearman => spearman::prepare(cfg)?,
        Task::Map => map::prepare(cfg)?,
        Task::Retrieval => retrieval::prepare(cfg)?,
    };
    let total = kinds.len() * cfg.seeds;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let jobs: Vec<(usize, usize)> = (0..kinds.len())
        .flat_map(|l| (0..cfg.seeds).map(move |s| (l, s)))
        .collect();
    let outcomes: Vec<((usize, usize), (f64, RunOutcome))> = run_jobs(&jobs, |&(l, s)| {
        let best = best_over_lrs(&cfg.lrs, |lr| {
            prepared.seeds[s].run(&kinds[l], lr, cfg, s as u64)
        })?;
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        progress(&format!(
            "[{n}/{total}] {} {}: {} seed {s}: lr {} → val {:.4}, test {:.4}",
            cfg.task.name(),
            prepared.name,
            names[l],
            best.0,
            best.1.val,
            best.1.test
        ));
        Ok(((l, s), best))
    })?;
    let mut results = BTreeMap::new();
    for (l, name) in names.iter().enumerate() {
        let runs: Vec<(f64, RunOutcome)> = outcomes
            .iter()
            .filter(|((ll, _), _)| *ll == l)
            .map(|(_, r)| r.clone())
            .collect();
        results.insert(name.clone(), aggregate(&runs));
    }
    let seeds: Vec<usize> = (0..cfg.seeds).collect();
    let linear: Vec<(String, (f64, RunOutcome))> = run_jobs(&seeds, |&s| {
        let (name, lr, r) = prepared.seeds[s].linear(cfg, s as u64)?;
        Ok((name, (lr, r)))
    })?;
    let linear_name = linear.first().map(|(n, _)| n.clone()).unwrap_or_default();
    let linear_runs: Vec<(f64, RunOutcome)> = linear.into_iter().map(|(_, r)| r).collect();
    progress(&format!(
        "{} {}: linear baseline ({linear_name}) done",
        cfg.task.name(),
        prepared.name
    ));
    Ok(ExperimentResult {
        task: cfg.task.name().into(),
        data: prepared.name.clone(),
        metric: cfg.task.metric().into(),
        results,
        linear_baseline: Baseline {
            name: linear_name,
            result: aggregate(&linear_runs),
        },
        warnings: prepared.warnings.clone(),
        settings: serde_json::json!({
            "seeds": cfg.seeds,
            "epochs": cfg.epochs,
            "batch": cfg.batch,
            "lrs": cfg.lrs,
            "weight_decay": cfg.weight_decay,
            "val_fraction": cfg.val_fraction,
            "hidden": cfg.hidden,
            "rank_weight": cfg.rank_weight,
            "base_weight": cfg.base_weight,
            "recall_margin": cfg.recall_margin,
            "l1_warmup_epochs": cfg.remedies.l1_warmup_epochs,
            "finetune": cfg.remedies.finetune,
            "align": cfg.remedies.align,
            "threads": rayon::current_num_threads(),
        }),
        seconds: start.elapsed().as_secs_f64(),
    })
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

impl ExperimentResult {
    /// The best baseline loss (by mean) and its mean.
    pub fn best_baseline(&self) -> Option<(&str, f64)> {
        self.results
            .iter()
            .filter(|(n, _)| !n.starts_with("sodeep:") && !n.starts_with("handcrafted"))
            .map(|(n, r)| (n.as_str(), r.mean))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// A markdown table: one row per loss, then the linear baseline, then the verdict.
    pub fn table(&self) -> String {
        let retrieval = self.task == "retrieval";
        let mut s = String::new();
        if retrieval {
            s.push_str("| loss | R@1 (mean ± sd) | R@5 | R@10 | median rank | per seed R@1 |\n|---|---|---|---|---|---|\n");
        } else {
            s.push_str(&format!(
                "| loss | test {} (mean ± sd) | per seed | chosen lr |\n|---|---|---|---|\n",
                self.metric
            ));
        }
        let row = |name: &str, r: &LossResult| {
            let per: Vec<String> = r.per_seed.iter().map(|v| format!("{v:.3}")).collect();
            if retrieval {
                let g = |k: &str| r.extra.get(k).copied().unwrap_or(f64::NAN);
                format!(
                    "| {name} | {:.4} ± {:.4} | {:.4} | {:.4} | {:.1} | {} |\n",
                    r.mean,
                    r.sd,
                    g("r5"),
                    g("r10"),
                    g("median_rank"),
                    per.join(" ")
                )
            } else {
                let lrs: Vec<String> = r.lr.iter().map(|v| format!("{v}")).collect();
                format!(
                    "| {name} | {:.4} ± {:.4} | {} | {} |\n",
                    r.mean,
                    r.sd,
                    per.join(" "),
                    lrs.join(" ")
                )
            }
        };
        for (name, r) in &self.results {
            s.push_str(&row(name, r));
        }
        s.push_str(&row(
            &format!("linear baseline ({})", self.linear_baseline.name),
            &self.linear_baseline.result,
        ));
        s.push('\n');
        s.push_str(&self.verdict());
        s
    }

    /// One line per rank loss: does it reach the best baseline?
    pub fn goal_lines(&self) -> Vec<String> {
        let Some((base, base_mean)) = self.best_baseline() else {
            return Vec::new();
        };
        self.results
            .iter()
            .filter(|(name, _)| name.starts_with("sodeep:") || name.starts_with("handcrafted"))
            .map(|(name, r)| {
                let verdict = if r.mean >= base_mean { "reaches" } else { "does NOT reach" };
                format!(
                    "- {name}: {:.4} {verdict} the best baseline ({base}: {base_mean:.4}); difference {:+.4}",
                    r.mean,
                    r.mean - base_mean
                )
            })
            .collect()
    }

    /// The goal lines, then the warnings, one per line.
    pub fn verdict(&self) -> String {
        self.goal_lines()
            .into_iter()
            .chain(self.warnings.iter().map(|w| format!("- warning: {w}")))
            .map(|l| l + "\n")
            .collect()
    }

    /// Writes `results.json` and `curves.png` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        ensure_writable(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(|e| Error::Json {
            path: dir.join("results.json"),
            source: e,
        })?;
        sodeep::checkpoint::write_atomic(&dir.join("results.json"), json.as_bytes())?;
        let series: Vec<(String, Vec<f64>)> = self
            .results
            .iter()
            .map(|(n, r)| (n.clone(), r.curve.clone()))
            .chain(std::iter::once((
                format!("linear ({})", self.linear_baseline.name),
                self.linear_baseline.result.curve.clone(),
            )))
            // ridge is solved, not trained: it has no curve to draw
            .filter(|(_, curve)| !curve.is_empty())
            .collect();
        crate::report::plot_curves(
            &series,
            &format!(
                "{} on {}: validation {} per epoch",
                self.task, self.data, self.metric
            ),
            &format!("validation {}", self.metric),
            &dir.join("curves.png"),
        )
    }
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

/// Output folder convenience: `Some(dir)` → write; `None` → nothing.
pub fn maybe_write(result: &ExperimentResult, out: Option<&PathBuf>) -> Result<()> {
    match out {
        Some(dir) => result.write(dir),
        None => Ok(()),
    }
}
