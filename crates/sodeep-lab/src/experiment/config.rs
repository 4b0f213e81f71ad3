//! What an experiment runs: the task, its data, the losses and rankers, and the settings.

use std::path::PathBuf;
use std::sync::Arc;

use super::model;
use crate::error::{Error, Result};
use sodeep::loss::LtrKind;
use sodeep::ranker::Ranker;
use sodeep::sorter::Sorter;
use sodeep::sorter::Standardized;
use sodeep::train::FineTuned;

/// The most seeds an experiment runs: each is a whole training run per loss.
pub const MAX_SEEDS: usize = 1000;

/// The most epochs of one training run (each is a pass over the training data per loss and
/// learning rate; the validation curve keeps one figure per epoch).
pub const MAX_EPOCHS: usize = 100_000;

/// The experiments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Regression scored by Spearman's correlation (the paper's memorability experiment).
    Spearman,
    /// Multi-label classification scored by mAP (the paper's VOC experiment).
    Map,
    /// Cross-modal retrieval scored by Recall@K (the paper's COCO experiment).
    Retrieval,
    /// Learning to rank: documents scored per query, judged by NDCG@10.
    Ltr,
}

impl Task {
    /// All tasks, in report order.
    pub const ALL: [Task; 4] = [Task::Spearman, Task::Map, Task::Retrieval, Task::Ltr];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Task::Spearman => "spearman",
            Task::Map => "map",
            Task::Retrieval => "retrieval",
            Task::Ltr => "ltr",
        }
    }

    /// Parses a CLI name.
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown task '{name}': use spearman, map, retrieval or ltr"
                ))
            })
    }

    /// The metric reported as `mean`.
    pub fn metric(self) -> &'static str {
        match self {
            Task::Spearman => "spearman",
            Task::Map => "map",
            Task::Retrieval => "r1",
            Task::Ltr => "ndcg10",
        }
    }

    /// The built-in dataset used when none is named.
    pub fn default_data(self) -> &'static str {
        match self {
            Task::Spearman => "winequality",
            Task::Map => "digits-multilabel",
            Task::Retrieval => "mnist-halves",
            Task::Ltr => "mslr-sample",
        }
    }

    /// The losses run when `--losses` is not given.
    pub fn default_losses(self, sorters: &[String]) -> Vec<String> {
        let mut out: Vec<String> = self.baselines().iter().map(|s| s.to_string()).collect();
        if self == Task::Ltr {
            out.extend(LTR_ANALYTIC_RANKERS.iter().map(|s| format!("ndcg:{s}")));
        }
        out.extend(sorters.iter().map(|s| self.rank_loss_name(s)));
        if self == Task::Spearman {
            out.push("handcrafted".into());
        }
        out
    }

    /// The name of the rank loss through `ranker`: `ndcg:<spec>` for ltr, `sodeep:<spec>`
    /// for the others.
    pub fn rank_loss_name(self, ranker: &str) -> String {
        match self {
            Task::Ltr => format!("ndcg:{ranker}"),
            _ => format!("sodeep:{ranker}"),
        }
    }

    /// The baseline loss names of this task.
    pub fn baselines(self) -> &'static [&'static str] {
        match self {
            Task::Spearman => &["mse", "l1"],
            Task::Map => &["bce"],
            Task::Retrieval => &["hinge"],
            Task::Ltr => &[
                "mse",
                "ranknet",
                "lambdarank",
                "listnet",
                "listmle",
                "approxndcg",
            ],
        }
    }
}

/// The analytic rankers whose NDCG losses the ltr task runs by default, beside the sorters.
pub const LTR_ANALYTIC_RANKERS: [&str; 3] = ["softrank", "neuralsort", "diffsort-bitonic"];

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
    /// Learning-to-rank files in SVMlight/LETOR format (`label qid:Q idx:val ...`), or in
    /// LightGBM's layout (no `qid`, group sizes in a `.query` file).
    Letor {
        /// Training file.
        train: PathBuf,
        /// Its group sizes (LightGBM layout).
        train_query: Option<PathBuf>,
        /// Test file; without it a fifth of the training queries is held out.
        test: Option<PathBuf>,
        /// Its group sizes (LightGBM layout).
        test_query: Option<PathBuf>,
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
            // a lone example has no rank, but a lone ltr query is a whole list
            min_batch: if self.task == Task::Ltr { 1 } else { 2 },
        }
    }

    /// The defaults for `task` on its built-in data: 5 seeds, every shipped sorter.
    pub fn new(task: Task) -> Self {
        let (epochs, lrs, hidden) = match task {
            Task::Spearman => (40, vec![1e-3, 3e-3], 64),
            Task::Map => (25, vec![1e-3, 3e-3], 128),
            Task::Retrieval => (10, vec![3e-3], 256),
            Task::Ltr => (60, vec![1e-3, 3e-3, 1e-2], 64),
        };
        let sorters = match task {
            Task::Spearman => sodeep::registry::list()
                .into_iter()
                .map(|l| l.name.to_string())
                .collect(),
            Task::Map => vec!["best-100".to_string()],
            // the recall loss ranks 200 vectors per step; cnn-100 does it 2.2× faster than
            // best-100 at the same retrieval figures (docs/experiments-and-reproduction.md),
            // which keeps 5 seeds under 15 minutes on 2 cores
            Task::Retrieval => vec!["cnn-100".to_string()],
            Task::Ltr => vec!["best-100".to_string()],
        };
        Self {
            task,
            data: DataSource::Builtin(task.default_data().into()),
            seeds: 5,
            losses: None,
            sorters,
            epochs,
            // ltr batches are whole queries: one query per step
            batch: if task == Task::Ltr { 1 } else { 100 },
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
            python: None,
        }
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
        let least = if self.task == Task::Ltr { 1 } else { 2 };
        if self.batch < least {
            let unit = if self.task == Task::Ltr {
                "queries"
            } else {
                "examples"
            };
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
        if self.python.is_some() && self.task != Task::Ltr {
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
    /// ltr: a learning-to-rank baseline (`mse`, `ranknet`, `lambdarank`, `listnet`,
    /// `listmle`, `approxndcg`).
    Ltr(LtrKind),
    /// ltr: `1 − NDCG` through a ranker spec (`ndcg:<spec>`).
    Ndcg(String),
}

/// Parses a loss name for `task`.
pub fn parse_loss(task: Task, name: &str) -> Result<LossKind> {
    if task == Task::Ltr {
        return parse_ltr_loss(name);
    }
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

/// Parses a loss name of the ltr task.
fn parse_ltr_loss(name: &str) -> Result<LossKind> {
    if let Some(spec) = name.strip_prefix("ndcg:") {
        if !spec.trim().is_empty() {
            return Ok(LossKind::Ndcg(spec.trim().into()));
        }
    }
    LtrKind::from_name(name).map(LossKind::Ltr).map_err(|_| {
        Error::InvalidArgument(format!(
            "unknown loss '{name}' for the ltr task: use {} or ndcg:<ranker spec> (ndcg:softrank, ndcg:best-100, ...)",
            Task::Ltr.baselines().join(", ")
        ))
    })
}

/// Whether a loss of this kind trains a model of `task`.
pub(crate) fn check_applies(task: Task, kind: &LossKind, name: &str) -> Result<()> {
    let fits = matches!(
        (kind, task),
        (
            LossKind::Rank(_),
            Task::Spearman | Task::Map | Task::Retrieval
        ) | (LossKind::Ltr(_) | LossKind::Ndcg(_), Task::Ltr)
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
            LossKind::Rank(spec) | LossKind::Ndcg(spec) => {
                Ok(Some(Self::build(spec, remedies, seed)?))
            }
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
