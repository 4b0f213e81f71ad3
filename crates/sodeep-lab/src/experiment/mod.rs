//! `sodeep experiment <task>`: several losses trained on the same model, split and budget, over
//! several seeds, with a linear baseline beside them.
//!
//! Every run is fair to every loss: the same seeds give the same splits, initial weights and
//! batch order; each loss gets the same epochs and the same learning-rate grid; a validation
//! split held out of the training data picks both the learning rate and the epoch whose
//! weights are tested.
//!
//! Each experiment is a [`Task`] in a file of its own, listed in [`registry`]:
//!
//! | task | model | losses | metric |
//! |---|---|---|---|
//! | [`spearman::Spearman`] | 2-layer MLP | `mse`, `l1`, `sodeep:<sorter>`, `handcrafted` | test Spearman |
//! | [`map::Map`] | 2-layer MLP | `bce`, `bce` + `sodeep:<sorter>` mAP loss | test macro mAP |
//! | [`retrieval::Retrieval`] | two MLP towers, cosine | `hinge` (VSE++), `sodeep:<sorter>` recall loss | R@1 |
//! | [`ltr::Ltr`] | 2-layer MLP per document | `mse`, `ranknet`, `lambdarank`, `listnet`, `listmle`, `approxndcg`, `ndcg:<ranker>` | NDCG@10 |
//!
//! [`digit_sort`] is a benchmark of its own: the multi-digit MNIST sorting task of NeuralSort,
//! run for any set of rankers.

pub mod config;
pub mod digit_sort;
pub mod lightgbm;
pub mod ltr;
pub mod map;
pub mod model;
pub mod parts;
pub mod registry;
pub mod render;
pub mod results;
pub mod retrieval;
pub mod ridge;
pub mod spearman;
pub mod task;

pub use config::*;
pub use parts::*;
pub use render::*;
pub use results::*;
pub use task::*;

use std::collections::BTreeMap;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::jobs::run_jobs;

/// One (loss, seed) job: its indices, the learning rate chosen with its outcome, and the
/// seconds its training runs took.
type TimedRun = ((usize, usize), (f64, RunOutcome), f64);

/// Runs an experiment. `progress` receives one line per finished run.
pub fn run(cfg: &ExperimentConfig, progress: &(dyn Fn(&str) + Sync)) -> Result<ExperimentResult> {
    cfg.validate()?;
    let names = cfg.loss_names();
    if names.is_empty() {
        return Err(Error::InvalidArgument("--losses names no loss".into()));
    }
    let kinds: Vec<LossKind> = names
        .iter()
        .map(|n| cfg.task.parse_loss(n))
        .collect::<Result<_>>()?;
    // fail on a bad sorter name now, not after the first runs
    for k in &kinds {
        if let LossKind::Rank(spec) | LossKind::Ndcg(spec) = k {
            RunRanker::build(spec, cfg.remedies, 0)?;
        }
    }
    let start = Instant::now();
    let prepared = cfg.task.prepare(cfg)?;
    // the baseline's form was chosen (and its cost checked) with the data: say it up front
    let mut forms: Vec<&str> = prepared
        .seeds
        .iter()
        .filter_map(|s| s.linear_plan())
        .map(|p| p.form.name())
        .collect();
    forms.sort_unstable();
    forms.dedup();
    let solver = (!forms.is_empty()).then(|| forms.join("/"));
    if let Some(plan) = prepared.seeds.first().and_then(|s| s.linear_plan()) {
        progress(&format!(
            "{} {}: ridge baseline in the {}",
            cfg.task.name(),
            prepared.name,
            plan.describe()
        ));
    }
    let total = kinds.len() * cfg.seeds;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let jobs: Vec<(usize, usize)> = (0..kinds.len())
        .flat_map(|l| (0..cfg.seeds).map(move |s| (l, s)))
        .collect();
    let outcomes: Vec<TimedRun> = run_jobs(&jobs, |&(l, s)| {
        let started = Instant::now();
        let best = best_over_lrs(&cfg.lrs, |lr| {
            prepared.seeds[s].run(&kinds[l], lr, cfg, s as u64)
        })?;
        let seconds = started.elapsed().as_secs_f64();
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
        Ok(((l, s), best, seconds))
    })?;
    let mut results = BTreeMap::new();
    for (l, name) in names.iter().enumerate() {
        let mine = || outcomes.iter().filter(|((ll, _), ..)| *ll == l);
        let runs: Vec<(f64, RunOutcome)> = mine().map(|(_, r, _)| r.clone()).collect();
        let seconds = mine().map(|(.., t)| t).sum();
        results.insert(
            name.clone(),
            aggregate(&runs, seconds, runs.len() * cfg.lrs.len()),
        );
    }
    let seeds: Vec<usize> = (0..cfg.seeds).collect();
    let linear: Vec<(String, (f64, RunOutcome), f64)> = run_jobs(&seeds, |&s| {
        let started = Instant::now();
        let (name, lr, r) = prepared.seeds[s].linear(cfg, s as u64)?;
        Ok((name, (lr, r), started.elapsed().as_secs_f64()))
    })?;
    let linear_name = linear.first().map(|(n, ..)| n.clone()).unwrap_or_default();
    let linear_seconds: f64 = linear.iter().map(|(.., t)| t).sum();
    let linear_runs: Vec<(f64, RunOutcome)> = linear.into_iter().map(|(_, r, _)| r).collect();
    let mut warnings = prepared.warnings.clone();
    if let Some(python) = &cfg.python {
        match reference_runs(&prepared, cfg, python, progress) {
            Ok(Some((name, result))) => {
                results.insert(name, result);
            }
            Ok(None) => {}
            // a reference error already says that the reference was skipped
            Err(e @ Error::Reference(_)) => warnings.push(e.to_string()),
            Err(e) => warnings.push(format!("reference skipped: {e}")),
        }
    }
    progress(&format!(
        "{} {}: linear baseline ({linear_name}{}) done",
        cfg.task.name(),
        prepared.name,
        solver
            .as_ref()
            .map_or(String::new(), |s| format!(", {s} form"))
    ));
    let mut result = ExperimentResult {
        task: cfg.task.name().into(),
        data: prepared.name.clone(),
        metric: cfg.task.metric().into(),
        results,
        linear_baseline: Baseline {
            name: linear_name,
            solver,
            result: aggregate(&linear_runs, linear_seconds, linear_runs.len()),
        },
        warnings,
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
            "python": cfg.python,
        }),
        seconds: start.elapsed().as_secs_f64(),
        layout: Layout {
            metric_head: cfg.task.metric_head(),
            columns: cfg.task.columns(),
            goals: Vec::new(),
        },
    };
    result.layout.goals = cfg.task.goal_lines(&result);
    Ok(result)
}

/// The task's external reference (LightGBM for ltr) on every seed's split, run one seed at a
/// time so that it has the machine's threads, as the other runs do.
fn reference_runs(
    prepared: &Prepared,
    cfg: &ExperimentConfig,
    python: &std::path::Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Option<(String, LossResult)>> {
    let mut name = None;
    let mut runs = Vec::new();
    let started = Instant::now();
    for (s, seed) in prepared.seeds.iter().enumerate() {
        let Some((n, outcome)) = seed.reference(python, s as u64)? else {
            return Ok(None);
        };
        progress(&format!(
            "{} {}: {n} seed {s}: test {:.4}",
            cfg.task.name(),
            prepared.name,
            outcome.test
        ));
        name = Some(n);
        runs.push((0.0, outcome));
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut result = aggregate(&runs, seconds, runs.len());
    // a reference keeps its own fixed settings: no learning rate was chosen
    result.lr.clear();
    Ok(name.map(|n| (n, result)))
}
