//! The multi-digit MNIST sorting benchmark for the rankers named on the command line.
//!
//! ```text
//! cargo run --release -p sodeep-lab --example digit_sort -- [RANKER ...]
//!     [--protocol quick|full|published] [--ns 3,5] [--steps N] [--sets N] [--test-sets N]
//!     [--val-sets N] [--eval-every N] [--seeds N] [--lr X] [--json FILE]
//! ```
//!
//! Rankers are specs of `sodeep::spec::parse` (default `softrank:eps=0.1`); the quick
//! protocol runs unless `--protocol` names another (`--full` is `--protocol full`), and the
//! other flags override its settings. MNIST
//! must be in `~/.cache/sodeep/data` (or `$SODEEP_DATA_DIR`), or is fetched once.

use std::process::ExitCode;
use std::sync::Arc;

use sodeep::Ranker;
use sodeep_lab::experiment::digit_sort::{run_digit_sort, DigitSortConfig, Protocol};

/// Keeps freed memory in glibc's heap: by default every large tensor buffer is a fresh mmap,
/// and faulting its pages back in costs a third of a training step (the `sodeep` CLI gets the
/// same effect from mimalloc).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    // glibc's M_TRIM_THRESHOLD, M_TOP_PAD and M_MMAP_THRESHOLD (32 MiB is its largest)
    const TRIM_THRESHOLD: i32 = -1;
    const TOP_PAD: i32 = -2;
    const MMAP_THRESHOLD: i32 = -3;
    // SAFETY: plain setters of glibc's malloc options, called before any thread starts.
    unsafe {
        mallopt(TRIM_THRESHOLD, i32::MAX);
        mallopt(TOP_PAD, 256 << 20);
        mallopt(MMAP_THRESHOLD, 32 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}

fn main() -> ExitCode {
    keep_freed_memory();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut specs = Vec::new();
    let mut cfg = DigitSortConfig::quick();
    let mut json = None;
    let mut overrides = Vec::new();
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--full" => cfg = DigitSortConfig::full(),
            "--protocol" => cfg = DigitSortConfig::of(Protocol::from_name(&value()?)?),
            "--ns" | "--steps" | "--sets" | "--test-sets" | "--val-sets" | "--eval-every"
            | "--seeds" | "--lr" => overrides.push((a.clone(), value()?)),
            "--json" => json = Some(value()?),
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}").into()),
            spec => specs.push(spec.to_string()),
        }
    }
    // overrides apply after --full or --protocol, wherever they stand
    for (flag, v) in overrides {
        let bad = |_| format!("{flag}: cannot read '{v}'");
        match flag.as_str() {
            "--ns" => {
                cfg.ns = v
                    .split(',')
                    .map(|s| s.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .map_err(bad)?
            }
            "--steps" => cfg.steps = v.parse().map_err(bad)?,
            "--sets" => cfg.sets_per_step = v.parse().map_err(bad)?,
            "--test-sets" => cfg.test_sets = v.parse().map_err(bad)?,
            "--seeds" => cfg.seeds = v.parse().map_err(bad)?,
            "--val-sets" => cfg.val_sets = v.parse().map_err(bad)?,
            "--eval-every" => cfg.eval_every = v.parse().map_err(bad)?,
            _ => {
                cfg.lr = v
                    .parse()
                    .map_err(|_| format!("{flag}: cannot read '{v}'"))?
            }
        }
    }
    if specs.is_empty() {
        specs.push("softrank:eps=0.1".to_string());
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    // one job per core, each single-threaded inside
    sodeep_lab::jobs::set_job_threads(threads);
    let rankers: Vec<(String, Arc<dyn Ranker>)> = specs
        .iter()
        .map(|s| Ok((s.clone(), sodeep::spec::parse(s)?)))
        .collect::<sodeep::Result<_>>()?;
    let result = run_digit_sort(&cfg, &rankers, &|line| eprintln!("{line}"))?;
    println!("{}", result.table());
    println!(
        "{} protocol, {:.0} s wall-clock on {threads} threads; settings {}",
        cfg.protocol.name(),
        result.seconds,
        result.settings
    );
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_string_pretty(&result)?)?;
    }
    Ok(())
}
