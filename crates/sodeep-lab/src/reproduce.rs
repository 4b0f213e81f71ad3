//! `sodeep reproduce`: the paper's tables rebuilt on real data, in one report.
//!
//! In order: the sorter table (paper Table 1, our figures beside the paper's), the Fig. 5
//! sweep, the paper's three experiments, learning to rank on the MSLR sample (skipped, with
//! the reason, when its data cannot be fetched), and the sorter ablation on the Spearman task (paper §4.2.1:
//! each sorter as a loss against L1). Everything lands in `DIR/report.md`, with the PNGs and
//! one `results.json` per experiment beside it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::experiment::spearman::Spearman;
use crate::experiment::{self, registry, DataSource, ExperimentConfig, ExperimentResult, Task};
use crate::report::plot_rank_sweep;
use sodeep::eval::{evaluate, rank_sweep, EvalConfig};
use sodeep::sorter::Sorter;
use sodeep::synthetic::Distribution;

/// What to run: the options of `sodeep reproduce`, which the CLI flattens.
#[derive(Debug, Clone, clap::Args)]
pub struct ReproduceConfig {
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

impl ReproduceConfig {
    /// What plain `sodeep` runs: the short protocol into `report/`.
    pub fn quick() -> Self {
        Self {
            quick: true,
            out: PathBuf::from("report"),
            seeds: None,
            data_dir: None,
        }
    }
}

/// The paper's Table 1 figures at d = 100 (mean L1 on normalised ranks).
const PAPER_L1: [(&str, f64); 3] = [("handcrafted", 0.0350), ("cnn", 0.0120), ("lstm", 0.0033)];

/// The experiment settings of a protocol: the task's own, shortened by the task for the quick
/// one (one learning rate, the grid's usual winner, and shorter runs).
pub fn protocol(task: &'static dyn Task, quick: bool, seeds: usize) -> ExperimentConfig {
    let mut cfg = ExperimentConfig::new(task);
    cfg.seeds = seeds;
    if quick {
        task.quick(&mut cfg);
    }
    cfg
}

/// Runs the whole protocol and returns the path of `report.md`.
pub fn reproduce(cfg: &ReproduceConfig, progress: &(dyn Fn(&str) + Sync)) -> Result<PathBuf> {
    let start = Instant::now();
    // settings first: a refused run leaves no folder behind
    let seeds = cfg.seeds.unwrap_or(if cfg.quick { 2 } else { 5 });
    if seeds == 0 || seeds > crate::experiment::MAX_SEEDS {
        return Err(Error::InvalidArgument(format!(
            "--seeds must be between 1 and {}, got {seeds}",
            crate::experiment::MAX_SEEDS
        )));
    }
    experiment::ensure_writable(&cfg.out)?;
    let mut md = String::new();
    let mode = if cfg.quick { "quick" } else { "full" };
    let caveat = if cfg.quick {
        " The quick protocol's few seeds and short runs cannot separate differences smaller than the seed-to-seed sd; `sodeep reproduce` (5 seeds, full budgets) is the protocol to quote."
    } else {
        ""
    };
    let _ = writeln!(
        md,
        "# SoDeep reproduction ({mode} protocol)\n\nMade by `sodeep reproduce{}` on {} threads; {seeds} seeds per experiment.{caveat}\n",
        if cfg.quick { " --quick" } else { "" },
        rayon::current_num_threads()
    );

    progress("sorter table (paper Table 1)");
    let samples = if cfg.quick { 2000 } else { 10_000 };
    md.push_str(&sorter_table(samples, progress)?);

    progress("Fig. 5 sweep");
    md.push_str("\n## Fig. 5: rank of y₁ as it sweeps [-1, 1]\n\n");
    for spec in ["best-100", "handcrafted"] {
        let sorter = Sorter::load(spec)?;
        let sweep = rank_sweep(&sorter, 100, 0)?;
        let file = format!("fig5-{}.png", spec.replace(':', "-"));
        plot_rank_sweep(
            &sweep,
            &format!("{} (d = 100)", sorter.name()),
            &cfg.out.join(&file),
        )?;
        let _ = writeln!(md, "![{spec}]({file})\n");
    }

    md.push_str("\n## Experiments\n\nEach loss: same model, splits, epochs and learning-rate grid; validation (20% of the training data) picks the learning rate and the epoch that is tested. Mean ± sample sd over seeds.\n");
    let mut sanity = Vec::new();
    let mut goals = Vec::new();
    for task in registry::BUILTIN {
        let mut ecfg = protocol(task, cfg.quick, seeds);
        ecfg.data_dir = cfg.data_dir.clone();
        let result = match run_one(&ecfg, &cfg.out.join(task.name()), progress) {
            Ok(r) => r,
            Err(e @ Error::Fetch { .. }) if task.skippable_without_data() => {
                let name = task.name();
                let _ = writeln!(
                    md,
                    "\n### {name} on {}\n\nSkipped: {e}\n",
                    task.default_data()
                );
                goals.push(format!(
                    "- {name} skipped: its data could not be fetched ({e})\n"
                ));
                continue;
            }
            Err(e) => return Err(e),
        };
        let _ = writeln!(
            md,
            "\n### {} on {} ({:.0} s)\n\n{}\n![curves]({}/curves.png)\n",
            task.name(),
            result.data,
            result.seconds,
            result.table(),
            task.name()
        );
        sanity.push(sanity_line(task, &result));
        goals.push(goal_line(&result));
    }

    progress("sorter ablation (paper §4.2.1) on diabetes");
    let mut ablation = protocol(&Spearman, cfg.quick, seeds);
    ablation.data = DataSource::Builtin("diabetes".into());
    let mut losses = vec!["l1".to_string()];
    losses.extend(ablation.sorters.iter().map(|s| format!("sodeep:{s}")));
    losses.push("handcrafted".into());
    ablation.losses = Some(losses);
    let result = run_one(&ablation, &cfg.out.join("ablation"), progress)?;
    let _ = writeln!(
        md,
        "\n## Sorter ablation (paper §4.2.1): each sorter as the loss vs L1, Spearman task on {} ({:.0} s)\n\n{}\n![curves](ablation/curves.png)\n",
        result.data,
        result.seconds,
        result.table()
    );

    md.push_str("\n## Checks\n\nSanity (the models really train):\n\n");
    for s in sanity.iter().flatten() {
        let _ = writeln!(md, "- {s}");
    }
    md.push_str("\nGoal (a SoDeep loss ≥ the best baseline, mean over seeds):\n\n");
    for g in &goals {
        md.push_str(g);
    }
    let _ = writeln!(md, "\nTotal time: {:.0} s.", start.elapsed().as_secs_f64());
    let path = cfg.out.join("report.md");
    sodeep::files::write_atomic(&path, md.as_bytes())?;
    Ok(path)
}

fn run_one(
    cfg: &ExperimentConfig,
    dir: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<ExperimentResult> {
    progress(&format!("experiment {}", cfg.task.name()));
    let result = experiment::run(cfg, progress)?;
    result.write(dir)?;
    Ok(result)
}

fn sorter_table(samples: usize, progress: &(dyn Fn(&str) + Sync)) -> Result<String> {
    let mut specs: Vec<String> = sodeep::registry::list()
        .into_iter()
        .map(|l| l.name.to_string())
        .collect();
    specs.push("handcrafted".into());
    let mut rows = Vec::new();
    for spec in &specs {
        progress(&format!("evaluating {spec} on {samples} vectors"));
        let sorter = Sorter::load(spec)?;
        let report = evaluate(
            &sorter,
            &EvalConfig {
                samples,
                d: 100,
                seed: 0,
                distribution: Distribution::All,
            },
        )?;
        let arch = sorter.card().config.arch.name().to_string();
        rows.push((spec.clone(), arch, report));
    }
    let mut md = format!(
        "## Sorters (paper Table 1): mean L1 between predicted and exact normalised ranks, d = 100, {samples} test vectors (seed 0)\n\n| sorter | architecture | ours L1 | paper L1 | mean Spearman |\n|---|---|---|---|---|\n"
    );
    for (spec, arch, r) in &rows {
        let paper = PAPER_L1
            .iter()
            .find(|(a, _)| *a == arch.as_str())
            .map_or("—".to_string(), |(_, v)| format!("{v:.4}"));
        let _ = writeln!(
            md,
            "| {spec} | {arch} | {:.4} | {paper} | {:.4} |",
            r.l1, r.spearman
        );
    }
    Ok(md)
}

fn sanity_line(task: &dyn Task, r: &ExperimentResult) -> Option<String> {
    let s = task.sanity()?;
    let res = r.results.get(s.loss)?;
    let v = match s.key {
        Some(k) => *res.extra.get(k)?,
        None => res.mean,
    };
    let ok = if v >= s.floor { "met" } else { "NOT met" };
    Some(format!(
        "{} on {}: the {} baseline's {} is {v:.4} (required ≥ {}): {ok}",
        r.task, r.data, s.loss, s.label, s.floor
    ))
}

fn goal_line(r: &ExperimentResult) -> String {
    r.goal_lines()
        .into_iter()
        .map(|l| format!("{l} ({} on {})\n", r.task, r.data))
        .collect()
}
