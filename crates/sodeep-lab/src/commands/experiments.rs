//! The experiment commands: `experiment` and `reproduce` (plain `sodeep` is `reproduce --quick`).

use std::path::PathBuf;

use super::output::print_json_line;
use super::progress;
use crate::error::{Error, Result};
use crate::experiment::{registry, DataFiles, DataSource, ExperimentConfig};
use crate::reproduce::ReproduceConfig;

/// Train a model with several losses (baselines and SoDeep rank losses) on real data and
/// compare them over seeds: `spearman`, `map`, `retrieval` or `ltr` (learning to rank).
#[derive(Debug, Clone, clap::Args)]
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

/// The items of a comma-separated list, trimmed, empty ones dropped.
pub fn comma_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

/// The experiment's configuration from the options as given.
pub fn experiment_config(a: &ExperimentArgs) -> Result<ExperimentConfig> {
    let task = registry::find(&a.task)?;
    let mut cfg = ExperimentConfig::new(task);
    let files = DataFiles {
        train: a.train.clone(),
        test: a.test.clone(),
        train_query: a.train_query.clone(),
        test_query: a.test_query.clone(),
        target: a.target.clone(),
        label_prefix: a.label_prefix.clone(),
        a: a.a.clone(),
        b: a.b.clone(),
    };
    cfg.data = match &a.data {
        _ if a.train.is_some() && (a.a.is_some() || a.b.is_some()) => {
            return Err(Error::InvalidArgument(
                "give one data source: --data NAME, --train F.csv, or --a A.csv --b B.csv".into(),
            ))
        }
        Some(name) => DataSource::Builtin(name.clone()),
        None if files.is_empty() => {
            files.refuse_queries()?;
            DataSource::Builtin(task.default_data().into())
        }
        None => task.data_from_files(&files)?,
    };
    cfg.seeds = a.seeds;
    cfg.losses = a.losses.as_deref().map(comma_list);
    if let Some(s) = &a.sorters {
        cfg.sorters = comma_list(s);
    }
    if !a.ranker.is_empty() {
        let mut names = cfg.loss_names();
        names.extend(a.ranker.iter().map(|r| task.rank_loss_name(r)));
        cfg.losses = Some(names);
    }
    if let Some(e) = a.epochs {
        cfg.epochs = e;
    }
    if let Some(b) = a.batch {
        cfg.batch = b;
    }
    if let Some(l) = &a.lrs {
        cfg.lrs = comma_list(l)
            .iter()
            .map(|v| {
                v.parse::<f64>()
                    .map_err(|_| Error::InvalidArgument(format!("--lrs: '{v}' is not a number")))
            })
            .collect::<Result<_>>()?;
    }
    cfg.weight_decay = a.weight_decay;
    cfg.val_fraction = a.val_fraction;
    if let Some(h) = a.hidden {
        cfg.hidden = h;
    }
    if let Some(w) = a.rank_weight {
        cfg.rank_weight = w;
    }
    if let Some(w) = a.base_weight {
        cfg.base_weight = w;
    }
    if let Some(m) = a.recall_margin {
        cfg.recall_margin = m;
    }
    if let Some(n) = a.l1_warmup {
        cfg.remedies.l1_warmup_epochs = n;
    }
    cfg.remedies.finetune = a.finetune;
    cfg.remedies.align = a.align;
    cfg.data_dir = a.data_dir.clone();
    cfg.python = a.python.clone();
    Ok(cfg)
}

/// `sodeep experiment`: runs the experiment with a spinner and prints its table or JSON, writing
/// `out/results.json` and `out/curves.png` when asked.
pub fn experiment(a: &ExperimentArgs) -> Result<()> {
    let cfg = experiment_config(a)?;
    if let Some(out) = &a.out {
        crate::experiment::ensure_writable(out)?;
    }
    let bar = progress::spinner();
    let result = crate::experiment::run(&cfg, &|line: &str| progress::line(&bar, line));
    bar.finish_and_clear();
    let result = result?;
    crate::experiment::maybe_write(&result, a.out.as_ref())?;
    if a.json {
        print_json_line(&result)?;
    } else {
        println!(
            "{} on {} ({} seeds, {:.0} s):\n",
            result.task, result.data, cfg.seeds, result.seconds
        );
        print!("{}", result.table());
        if let Some(out) = &a.out {
            println!(
                "\nwritten: {}/results.json, {}/curves.png",
                out.display(),
                out.display()
            );
        }
    }
    Ok(())
}

/// `sodeep reproduce`: the paper's tables and figures into `out/report.md`.
pub fn reproduce(cfg: &ReproduceConfig) -> Result<()> {
    let bar = progress::spinner();
    let report = crate::reproduce::reproduce(cfg, &|line: &str| {
        progress::line(&bar, line);
        bar.set_message(line.to_string());
    });
    bar.finish_and_clear();
    let path = report?;
    println!("report written: {}", path.display());
    Ok(())
}
