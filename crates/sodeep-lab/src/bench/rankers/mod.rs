//! `sodeep bench rankers`: every differentiable ranker on the same work — accuracy against the
//! exact ranks, speed and scaling (with torchsort and diffsort as PyTorch references in the
//! same run), multi-digit MNIST sorting, and the downstream Spearman task.

mod config;
mod references;
mod report;
mod sections;
mod threads;
mod timing;

pub use config::{RankerBenchConfig, Section, DEFAULT_RANKERS, KNOB_GRID};
pub use references::Reference;
pub use report::RankerBenchResult;
pub use sections::accuracy;
pub use threads::{parse_counts, ThreadSweep};
pub use timing::{time_ranker, Scaling, Timing};

use std::collections::BTreeMap;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::experiment::digit_sort::{reference, run_digit_sort, Protocol};
use sections::{build_all, downstream_section, speed_section};

/// Runs the sections of `cfg`; `log` receives one line per measurement.
pub fn bench_rankers(
    cfg: &RankerBenchConfig,
    mut log: impl FnMut(&str) + Send,
) -> Result<RankerBenchResult> {
    if cfg.rankers.is_empty() {
        return Err(Error::InvalidArgument("no ranker to benchmark".into()));
    }
    if cfg.accuracy_samples == 0 || cfg.d == 0 {
        return Err(Error::InvalidArgument(
            "accuracy needs at least one vector of length at least 1".into(),
        ));
    }
    let rankers = build_all(&cfg.rankers)?;
    let grid = build_all(&cfg.grid)?;
    let mut out = RankerBenchResult {
        quick: cfg.quick,
        threads: cfg.threads,
        accuracy: BTreeMap::new(),
        accuracy_grid: BTreeMap::new(),
        accuracy_samples: cfg.accuracy_samples,
        speed: BTreeMap::new(),
        speed_b256: BTreeMap::new(),
        speed_b256_vs_softrank: BTreeMap::new(),
        torchsort_ratio: None,
        torchsort_ratio_fwd: None,
        references: BTreeMap::new(),
        reference_versions: "not run".into(),
        softrank_scaling: None,
        skipped: BTreeMap::new(),
        mnist: BTreeMap::new(),
        mnist_settings: None,
        mnist_table: None,
        downstream: BTreeMap::new(),
        downstream_sd: BTreeMap::new(),
        downstream_baseline: None,
        downstream_seeds: cfg.downstream_seeds,
        seconds: BTreeMap::new(),
        notes: Vec::new(),
        thread_sweep: None,
    };
    for section in &cfg.sections {
        let start = Instant::now();
        match section {
            Section::Accuracy => {
                for (is_grid, list) in [(false, &rankers), (true, &grid)] {
                    for (name, r) in list {
                        if r.fixed_len().is_some_and(|d| d != cfg.d) {
                            continue;
                        }
                        let l1 = accuracy(r.as_ref(), cfg.accuracy_samples, cfg.d)?;
                        log(&format!("accuracy {name}: L1 {l1:.5}"));
                        if is_grid {
                            out.accuracy_grid.insert(name.clone(), l1);
                        } else {
                            out.accuracy.insert(name.clone(), l1);
                        }
                    }
                }
            }
            Section::Speed => crate::jobs::with_kernel_threads(cfg.threads, || {
                speed_section(cfg, &rankers, &mut out, &mut log)
            })?,
            Section::Mnist => {
                let mut mcfg = cfg.mnist.clone();
                mcfg.data_dir = cfg.data_dir.clone();
                let log_m = std::sync::Mutex::new(&mut log);
                let result = run_digit_sort(&mcfg, &rankers, &|m: &str| {
                    if let Ok(mut l) = log_m.lock() {
                        l(&format!("mnist: {m}"))
                    }
                })?;
                let mut rows = result.rankers.clone();
                if let (Protocol::Published, Some(python)) = (mcfg.protocol, &cfg.python) {
                    let folder = crate::data::mnist::data_dir(mcfg.data_dir.as_deref())?
                        .join(crate::data::mnist_full::FOLDER);
                    let reference =
                        reference::run_reference(&mcfg, python, &folder, &|m: &str| {
                            if let Ok(mut l) = log_m.lock() {
                                l(&format!("mnist: {m}"))
                            }
                        })?;
                    rows.insert(reference::NAME.to_string(), reference);
                }
                for (name, by_n) in &rows {
                    out.mnist.insert(
                        name.clone(),
                        by_n.iter()
                            .map(|(n, c)| (n.to_string(), c.clone()))
                            .collect(),
                    );
                }
                let m = &cfg.mnist;
                out.mnist_settings = Some(result.settings.clone());
                out.mnist_table = Some(format!(
                    "Protocol: {} ({} training steps of {} sets each, {} seed(s), {} test sets per n).\n\n{}",
                    m.protocol.name(),
                    m.steps,
                    m.sets_per_step,
                    m.seeds,
                    m.test_sets,
                    result.table()
                ));
            }
            Section::Downstream => downstream_section(cfg, &mut out, &mut log)?,
            Section::Threads => {
                out.thread_sweep = Some(threads::thread_sweep(
                    &cfg.thread_sweep,
                    cfg.min_time_s,
                    &mut log,
                )?)
            }
        }
        let name = serde_json::to_value(section)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out.seconds.insert(name, start.elapsed().as_secs_f64());
    }
    Ok(out)
}
