//! The experiment commands: `experiment` and `reproduce` (plain `sodeep` is `reproduce --quick`).

use std::path::PathBuf;

use super::output::print_json_line;
use super::progress;
use crate::error::{Error, Result};
use crate::experiment::{DataSource, ExperimentConfig, Task};

/// The options of `sodeep experiment`, as given (see its `--help`).
#[derive(Debug, Clone, Default)]
pub struct ExperimentRequest {
    /// spearman, map, retrieval or ltr.
    pub task: String,
    /// Built-in dataset.
    pub data: Option<String>,
    /// Training CSV.
    pub train: Option<PathBuf>,
    /// Test CSV.
    pub test: Option<PathBuf>,
    /// ltr: group sizes of the training file (LightGBM layout).
    pub train_query: Option<PathBuf>,
    /// ltr: group sizes of the test file (LightGBM layout).
    pub test_query: Option<PathBuf>,
    /// ltr: a Python with lightgbm, to run LightGBM's ranker beside the losses.
    pub python: Option<PathBuf>,
    /// Target column (spearman with --train).
    pub target: Option<String>,
    /// Prefix of the label columns (map with --train).
    pub label_prefix: Option<String>,
    /// First-modality CSV (retrieval).
    pub a: Option<PathBuf>,
    /// Second-modality CSV (retrieval).
    pub b: Option<PathBuf>,
    /// Seeds.
    pub seeds: usize,
    /// Comma-separated losses.
    pub losses: Option<String>,
    /// Extra rankers for `sodeep:` losses.
    pub ranker: Vec<String>,
    /// Comma-separated sorters of the default sodeep losses.
    pub sorters: Option<String>,
    /// Epochs per run.
    pub epochs: Option<usize>,
    /// Examples (ltr: queries) per step; `None`: the task's default.
    pub batch: Option<usize>,
    /// Comma-separated learning rates.
    pub lrs: Option<String>,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// Validation fraction.
    pub val_fraction: f64,
    /// Hidden width of the MLPs.
    pub hidden: Option<usize>,
    /// Weight of the rank loss.
    pub rank_weight: Option<f64>,
    /// Weight of the baseline loss beside a rank loss.
    pub base_weight: Option<f64>,
    /// Margin of the recall loss.
    pub recall_margin: Option<f64>,
    /// Epochs of the L1 warm-up term.
    pub l1_warmup: Option<usize>,
    /// Fine-tune the sorter after every epoch.
    pub finetune: bool,
    /// Standardise each score vector first.
    pub align: bool,
    /// MNIST cache folder.
    pub data_dir: Option<PathBuf>,
    /// Output folder.
    pub out: Option<PathBuf>,
    /// Print JSON instead of the table.
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
pub fn experiment_config(a: &ExperimentRequest) -> Result<ExperimentConfig> {
    let task = Task::from_name(&a.task)?;
    let mut cfg = ExperimentConfig::new(task);
    if task != Task::Ltr && (a.train_query.is_some() || a.test_query.is_some()) {
        return Err(Error::InvalidArgument(
            "--train-query/--test-query give LightGBM-layout group sizes for the ltr task".into(),
        ));
    }
    cfg.data = match (&a.data, &a.train, &a.a, &a.b) {
        (Some(name), None, None, None) => DataSource::Builtin(name.clone()),
        (None, Some(train), None, None) if task == Task::Ltr => DataSource::Letor {
            train: train.clone(),
            train_query: a.train_query.clone(),
            test: a.test.clone(),
            test_query: a.test_query.clone(),
        },
        (None, Some(train), None, None) => {
            let column = match task {
                Task::Spearman => a.target.clone().ok_or_else(|| {
                    Error::InvalidArgument(
                        "--train needs --target COL: the column to predict".into(),
                    )
                })?,
                Task::Map => a.label_prefix.clone().ok_or_else(|| {
                    Error::InvalidArgument(
                        "--train needs --label-prefix P: the prefix of the 0/1 label columns"
                            .into(),
                    )
                })?,
                Task::Ltr => unreachable!("the ltr task's --train is matched above"),
                Task::Retrieval => return Err(Error::InvalidArgument(
                    "the retrieval task takes two CSV files of paired rows: --a A.csv --b B.csv"
                        .into(),
                )),
            };
            DataSource::Csv {
                train: train.clone(),
                test: a.test.clone(),
                column,
            }
        }
        (None, None, Some(x), Some(y)) => {
            if task != Task::Retrieval {
                return Err(Error::InvalidArgument(format!(
                    "--a/--b give paired rows for the retrieval task; use --train for {}",
                    task.name()
                )));
            }
            DataSource::Paired {
                a: x.clone(),
                b: y.clone(),
            }
        }
        (None, None, None, None) => DataSource::Builtin(task.default_data().into()),
        _ => {
            return Err(Error::InvalidArgument(
                "give one data source: --data NAME, --train F.csv, or --a A.csv --b B.csv".into(),
            ))
        }
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
pub fn experiment(a: &ExperimentRequest) -> Result<()> {
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
pub fn reproduce(
    quick: bool,
    out: PathBuf,
    seeds: Option<usize>,
    data_dir: Option<PathBuf>,
) -> Result<()> {
    let cfg = crate::reproduce::ReproduceConfig {
        quick,
        out,
        seeds,
        data_dir,
    };
    let bar = progress::spinner();
    let report = crate::reproduce::reproduce(&cfg, &|line: &str| {
        progress::line(&bar, line);
        bar.set_message(line.to_string());
    });
    bar.finish_and_clear();
    let path = report?;
    println!("report written: {}", path.display());
    Ok(())
}
