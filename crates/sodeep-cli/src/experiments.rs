//! The experiment commands: `experiment` and `reproduce`.

use std::path::PathBuf;

use anyhow::Result;
use sodeep_lab::commands::experiments;

/// Train a model with several losses (baselines and SoDeep rank losses) on real data and
/// compare them over seeds: `spearman`, `map`, `retrieval` or `ltr` (learning to rank).
#[derive(clap::Args)]
pub struct ExperimentArgs {
    /// spearman, map, retrieval or ltr.
    pub task: String,
    /// Built-in dataset: winequality or diabetes (spearman), digits-multilabel (map),
    /// mnist-halves (retrieval), mslr-sample (ltr). Default: the task's first.
    #[arg(long, conflicts_with_all = ["train", "a"])]
    pub data: Option<String>,
    /// Training CSV (header row) for spearman or map; for ltr, an SVMlight/LETOR file
    /// (`label qid:Q idx:val ...`) or LightGBM's layout (no qid, with --train-query).
    #[arg(long)]
    pub train: Option<PathBuf>,
    /// Test file in the same format; without it a test split is held out of --train.
    #[arg(long, requires = "train")]
    pub test: Option<PathBuf>,
    /// ltr, LightGBM layout: group sizes of --train, one per line.
    #[arg(long, requires = "train")]
    pub train_query: Option<PathBuf>,
    /// ltr, LightGBM layout: group sizes of --test, one per line.
    #[arg(long, requires = "test")]
    pub test_query: Option<PathBuf>,
    /// ltr: a Python with lightgbm; LightGBM's LGBMRanker then runs on the same splits and
    /// seeds (skipped with a warning when Python or lightgbm is missing).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Target column (spearman with --train).
    #[arg(long)]
    pub target: Option<String>,
    /// Prefix of the 0/1 label columns (map with --train).
    #[arg(long)]
    pub label_prefix: Option<String>,
    /// First-modality CSV of paired rows (retrieval).
    #[arg(long, requires = "b")]
    pub a: Option<PathBuf>,
    /// Second-modality CSV, row i paired with row i of --a.
    #[arg(long, requires = "a")]
    pub b: Option<PathBuf>,
    /// Seeds.
    #[arg(long, default_value_t = 5)]
    pub seeds: usize,
    /// Comma-separated losses: mse, l1, bce, hinge, sodeep:<sorter>, handcrafted[:λ]; for
    /// ltr: mse, ranknet, lambdarank, listnet, listmle, approxndcg, ndcg:<ranker spec>.
    #[arg(long)]
    pub losses: Option<String>,
    /// One more rank loss through this ranker, reported as sodeep:<SPEC> (ltr: ndcg:<SPEC>):
    /// softrank[:eps=E,reg=l2|kl], neuralsort, handcrafted[:lambda=L], a sorter, ... (repeatable).
    #[arg(long)]
    pub ranker: Vec<String>,
    /// Comma-separated sorters for the default sodeep losses (default: every shipped sorter for
    /// spearman, best-100 otherwise).
    #[arg(long)]
    pub sorters: Option<String>,
    /// Epochs per run (default: the task's).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Examples per step (default 100; ltr: queries per step, default 1).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Comma-separated learning rates searched for every loss (default: the task's).
    #[arg(long)]
    pub lrs: Option<String>,
    /// Decoupled weight decay (AdamW).
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// Fraction of the training data held out for validation.
    #[arg(long, default_value_t = 0.2)]
    pub val_fraction: f64,
    /// Hidden width of the MLPs (default: the task's).
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Weight of the rank loss (map: added to BCE; retrieval: the recall loss).
    #[arg(long)]
    pub rank_weight: Option<f64>,
    /// Weight of the task's baseline loss kept beside a rank loss (default: 1 for map's BCE,
    /// 0 for retrieval's hinge).
    #[arg(long)]
    pub base_weight: Option<f64>,
    /// retrieval: margin of the recall loss in normalised-rank units.
    #[arg(long)]
    pub recall_margin: Option<f64>,
    /// Remedy: an L1 term on the predictions for the first N epochs (spearman; default 1, the
    /// paper's protocol; 0 turns it off).
    #[arg(long)]
    pub l1_warmup: Option<usize>,
    /// Remedy: fine-tune the sorter on the score vectors it saw after every epoch.
    #[arg(long)]
    pub finetune: bool,
    /// Remedy: standardise each score vector before the sorter reads it.
    #[arg(long)]
    pub align: bool,
    /// Where fetched datasets (MNIST, mslr-sample) are cached (default: $SODEEP_DATA_DIR or
    /// ~/.cache/sodeep/data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Write DIR/results.json and DIR/curves.png.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

impl ExperimentArgs {
    pub fn run(self) -> Result<()> {
        let request = experiments::ExperimentRequest {
            task: self.task,
            data: self.data,
            train: self.train,
            test: self.test,
            train_query: self.train_query,
            test_query: self.test_query,
            python: self.python,
            target: self.target,
            label_prefix: self.label_prefix,
            a: self.a,
            b: self.b,
            seeds: self.seeds,
            losses: self.losses,
            ranker: self.ranker,
            sorters: self.sorters,
            epochs: self.epochs,
            batch: self.batch,
            lrs: self.lrs,
            weight_decay: self.weight_decay,
            val_fraction: self.val_fraction,
            hidden: self.hidden,
            rank_weight: self.rank_weight,
            base_weight: self.base_weight,
            recall_margin: self.recall_margin,
            l1_warmup: self.l1_warmup,
            finetune: self.finetune,
            align: self.align,
            data_dir: self.data_dir,
            out: self.out,
            json: self.json,
        };
        Ok(experiments::experiment(&request)?)
    }
}

/// Rebuild the paper's tables on real data and write DIR/report.md (the main job; with no
/// subcommand, `sodeep` runs `reproduce --quick`).
#[derive(clap::Args)]
pub struct ReproduceArgs {
    /// A short protocol (< 10 minutes on 2 cores) with the shipped sorters.
    #[arg(long)]
    pub quick: bool,
    /// Output folder.
    #[arg(long, default_value = "report")]
    pub out: PathBuf,
    /// Seeds per experiment (default: 2 with --quick, 5 otherwise).
    #[arg(long)]
    pub seeds: Option<usize>,
    /// Where MNIST is cached (default: $SODEEP_DATA_DIR or ~/.cache/sodeep/data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl ReproduceArgs {
    /// What plain `sodeep` runs.
    pub fn quick() -> Self {
        Self {
            quick: true,
            out: PathBuf::from("report"),
            seeds: None,
            data_dir: None,
        }
    }

    pub fn run(self) -> Result<()> {
        Ok(experiments::reproduce(
            self.quick,
            self.out,
            self.seeds,
            self.data_dir,
        )?)
    }
}
