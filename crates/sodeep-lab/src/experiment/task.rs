//! What an experiment is: a [`Task`] that the runner ([`super::run`]) trains every loss on.
//!
//! This is the interface an experiment implements, and its parts refer to each other: a task
//! sets up an [`ExperimentConfig`], which names its task, and prepares its data as
//! [`Prepared`] seeds, each of which trains a model under that configuration.
//!
//! A task brings its name and metric, its data (built-in sets and files), its default losses
//! and settings, the model trained on each seed ([`Prepared`]), and its report section (the
//! table's columns, the sanity floor and the goal lines). The runner owns everything that is
//! the same for every task: the seeds, the learning-rate search, the jobs side by side, the
//! aggregation and the files. Adding an experiment is one file that implements [`Task`] and
//! one line in [`super::registry`].

use std::path::{Path, PathBuf};

use super::config::{DataSource, LossKind, Remedies, MAX_EPOCHS, MAX_SEEDS};
use super::model;
use super::results::{ExperimentResult, RunOutcome};
use super::ridge::RidgePlan;
use crate::error::{Error, Result};

/// An experiment that `sodeep experiment NAME` runs.
pub trait Task: Send + Sync + std::fmt::Debug {
    /// The CLI name.
    fn name(&self) -> &'static str;

    /// The test metric reported as `mean` (its name in `results.json`).
    fn metric(&self) -> &'static str;

    /// The built-in dataset used when none is named.
    fn default_data(&self) -> &'static str;

    /// The baseline losses: what the rank losses are compared with.
    fn baselines(&self) -> &'static [&'static str];

    /// Sets this task's defaults on a fresh configuration (epochs, learning rates, width,
    /// sorters, batch, loss weights, remedies).
    fn configure(&self, cfg: &mut ExperimentConfig);

    /// Shortens `cfg` for `reproduce --quick`.
    fn quick(&self, cfg: &mut ExperimentConfig);

    /// Loads the data and splits it for every seed, each ready to train any loss on.
    fn prepare(&self, cfg: &ExperimentConfig) -> Result<Prepared>;

    /// The data source named by files (`--train`, `--test`, ...; `--data` and no data at all
    /// are handled by the caller). By default a task takes built-in data only.
    fn data_from_files(&self, files: &DataFiles) -> Result<DataSource> {
        files.refuse_queries()?;
        Err(Error::InvalidArgument(format!(
            "the {} task takes built-in data only: --data NAME",
            self.name()
        )))
    }

    /// The losses run when `--losses` is not given: the baselines, then a rank loss through
    /// each sorter.
    fn default_losses(&self, sorters: &[String]) -> Vec<String> {
        let mut out: Vec<String> = self.baselines().iter().map(|s| s.to_string()).collect();
        out.extend(sorters.iter().map(|s| self.rank_loss_name(s)));
        out
    }

    /// The name of the rank loss through `ranker`.
    fn rank_loss_name(&self, ranker: &str) -> String {
        format!("sodeep:{ranker}")
    }

    /// Parses a loss name: a baseline of this task, `sodeep:<ranker>` or `handcrafted[:λ]`.
    fn parse_loss(&self, name: &str) -> Result<LossKind> {
        let kind = match name {
            h if h == "handcrafted" || h.starts_with("handcrafted:") => {
                Some(LossKind::Rank(h.into()))
            }
            s if s.starts_with("sodeep:") && s.len() > 7 => Some(LossKind::Rank(s[7..].into())),
            b if self.baselines().contains(&b) => LossKind::baseline(b),
            _ => None,
        };
        let use_instead = format!(
            "use {}, sodeep:<sorter> or handcrafted",
            self.baselines().join(", ")
        );
        match kind.or_else(|| LossKind::baseline(name)) {
            Some(k) if self.accepts(&k) => Ok(k),
            Some(_) => Err(Error::InvalidArgument(format!(
                "loss '{name}' does not apply to the {} task: {use_instead}",
                self.name()
            ))),
            None => Err(Error::InvalidArgument(format!(
                "unknown loss '{name}' for the {} task: {use_instead}",
                self.name()
            ))),
        }
    }

    /// Whether a loss of this kind trains this task's model: a rank loss, or one of its
    /// baselines.
    fn accepts(&self, kind: &LossKind) -> bool {
        match kind {
            LossKind::Rank(_) => true,
            LossKind::Ltr(_) | LossKind::Ndcg(_) => false,
            other => self
                .baselines()
                .iter()
                .any(|b| LossKind::baseline(b).as_ref() == Some(other)),
        }
    }

    /// The fewest examples in a training step (a lone example has no rank).
    fn min_batch(&self) -> usize {
        2
    }

    /// What a training step's batch counts, for messages.
    fn batch_unit(&self) -> &'static str {
        "examples"
    }

    /// Whether `--python` runs an external reference beside this task (ltr: LightGBM).
    fn has_reference(&self) -> bool {
        false
    }

    /// Whether `reproduce` may skip this task, with the reason, when its data cannot be
    /// fetched (its data come from outside the build).
    fn skippable_without_data(&self) -> bool {
        false
    }

    /// The header of the metric's column in the table.
    fn metric_head(&self) -> String {
        format!("test {}", self.metric())
    }

    /// Secondary figures shown beside the metric, from each result's `extra`.
    fn columns(&self) -> &'static [super::results::Column] {
        &[]
    }

    /// The floor that shows that the models really train, for `reproduce`'s checks.
    fn sanity(&self) -> Option<Sanity> {
        None
    }

    /// One line per rank loss: does it reach the best baseline?
    fn goal_lines(&self, result: &ExperimentResult) -> Vec<String> {
        result.baseline_goal_lines()
    }
}

/// An experiment.
#[derive(Debug, Clone)]
pub struct ExperimentConfig {
    /// The task.
    pub task: &'static dyn Task,
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
    /// Where fetched datasets are cached (`None`: `SODEEP_DATA_DIR` or `~/.cache/sodeep/data`).
    pub data_dir: Option<PathBuf>,
    /// ltr: a Python interpreter with `lightgbm`, to run LightGBM's ranker on the same splits.
    pub python: Option<PathBuf>,
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
            min_batch: self.task.min_batch(),
        }
    }

    /// The defaults for `task` on its built-in data: 5 seeds, then the task's own settings
    /// ([`Task::configure`]).
    pub fn new(task: &'static dyn Task) -> Self {
        let mut cfg = Self {
            task,
            data: DataSource::Builtin(task.default_data().into()),
            seeds: 5,
            losses: None,
            sorters: vec!["best-100".to_string()],
            epochs: 40,
            batch: 100,
            lrs: vec![1e-3, 3e-3],
            weight_decay: 0.0,
            val_fraction: 0.2,
            hidden: 64,
            rank_weight: 1.0,
            base_weight: 0.0,
            recall_margin: 0.02,
            remedies: Remedies::default(),
            data_dir: None,
            python: None,
        };
        task.configure(&mut cfg);
        cfg
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if self.seeds == 0 || self.seeds > MAX_SEEDS {
            return bad(format!(
                "--seeds must be between 1 and {MAX_SEEDS}, got {}",
                self.seeds
            ));
        }
        if self.epochs == 0 || self.epochs > MAX_EPOCHS {
            return bad(format!(
                "--epochs must be between 1 and {MAX_EPOCHS}, got {}",
                self.epochs
            ));
        }
        let least = self.task.min_batch();
        if self.batch < least {
            let unit = self.task.batch_unit();
            return bad(format!(
                "--batch must be at least {least} ({unit} per step), got {}",
                self.batch
            ));
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
        if self.python.is_some() && !self.task.has_reference() {
            return bad(format!(
                "--python runs LightGBM beside the ltr task only, not the {} task",
                self.task.name()
            ));
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

/// A task's data, split per seed.
pub struct Prepared {
    /// Dataset name.
    pub name: String,
    /// One entry per seed.
    pub seeds: Vec<Box<dyn SeedData>>,
    /// Warnings for the report.
    pub warnings: Vec<String>,
}

/// A sanity floor: `loss`'s figure (the metric, or `extra[key]`) must reach `floor`.
#[derive(Debug, Clone, Copy)]
pub struct Sanity {
    /// The baseline loss checked.
    pub loss: &'static str,
    /// `None`: the metric; `Some(k)`: `extra[k]`.
    pub key: Option<&'static str>,
    /// The least value that shows training works.
    pub floor: f64,
    /// What the figure is called in the report.
    pub label: &'static str,
}

/// The data files given on the command line, for [`Task::data_from_files`].
#[derive(Debug, Clone, Default)]
pub struct DataFiles {
    /// `--train`.
    pub train: Option<PathBuf>,
    /// `--test`.
    pub test: Option<PathBuf>,
    /// `--train-query`: group sizes of `train` (LightGBM layout).
    pub train_query: Option<PathBuf>,
    /// `--test-query`.
    pub test_query: Option<PathBuf>,
    /// `--target`: the column to predict.
    pub target: Option<String>,
    /// `--label-prefix`: the prefix of the 0/1 label columns.
    pub label_prefix: Option<String>,
    /// `--a`: the first modality of paired rows.
    pub a: Option<PathBuf>,
    /// `--b`: the second modality.
    pub b: Option<PathBuf>,
}

impl DataFiles {
    /// Whether no file was given.
    pub fn is_empty(&self) -> bool {
        self.train.is_none() && self.a.is_none() && self.b.is_none()
    }

    /// Refuses the LightGBM-layout group files, which only the ltr task reads.
    pub fn refuse_queries(&self) -> Result<()> {
        if self.train_query.is_some() || self.test_query.is_some() {
            return Err(Error::InvalidArgument(
                "--train-query/--test-query give LightGBM-layout group sizes for the ltr task"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The CSV tables of a task that reads `--train` (and `--test`) with the column option
    /// `column` (`--target`, `--label-prefix`), which `missing` explains when absent.
    pub fn csv_tables(
        &self,
        task: &str,
        column: Option<&String>,
        missing: &str,
    ) -> Result<DataSource> {
        self.refuse_queries()?;
        let Some(train) = &self.train else {
            return Err(Error::InvalidArgument(format!(
                "--a/--b give paired rows for the retrieval task; use --train for {task}"
            )));
        };
        let column = column
            .cloned()
            .ok_or_else(|| Error::InvalidArgument(missing.into()))?;
        Ok(DataSource::Csv {
            train: train.clone(),
            test: self.test.clone(),
            column,
        })
    }
}
