//! The PyTorch reference of the published protocol: `bench/mnist_published.py` (the project's
//! own code, with NeuralSort as its ranker), run at the same cap, n and seeds as the Rust jobs,
//! one process per job. Its figures land beside ours as `reference:neuralsort`, so a reader can
//! tell whether the Rust harness is faithful whatever the cap does to the absolute figures.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde::Deserialize;

use super::config::DigitSortConfig;
use super::jobs::{cell, JobOutcome};
use super::published::{CurvePoint, TimeSplit};
use super::table::DigitSortCell;
use crate::error::{Error, Result};
use crate::jobs::run_jobs;

/// The script, embedded so that the binary runs it from any directory.
pub const SCRIPT: &str = include_str!("../../../../../bench/mnist_published.py");

/// The name of the reference's rows.
pub const NAME: &str = "reference:neuralsort";

/// What the script prints (the fields this side reads).
#[derive(Debug, Deserialize)]
struct ScriptOutcome {
    exact_match: f64,
    elementwise: f64,
    best_step: usize,
    curve: Vec<CurvePoint>,
    train_seconds: f64,
    eval_seconds: f64,
    time_split: TimeSplit,
}

/// Runs the reference for every n and seed of `cfg` with `python` (which needs torch), the
/// MNIST files in `mnist_folder`; `progress` receives a line per job. A job that fails is
/// recorded in its cell's `errors`; a script that cannot be written is an error.
pub fn run_reference(
    cfg: &DigitSortConfig,
    python: &Path,
    mnist_folder: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<BTreeMap<usize, DigitSortCell>> {
    let dir = tempfile::tempdir().map_err(|e| Error::io("cannot make", "a temporary folder", e))?;
    let script = dir.path().join("mnist_published.py");
    std::fs::write(&script, SCRIPT).map_err(|e| Error::io("cannot write", &script, e))?;
    let jobs: Vec<(usize, usize)> = cfg
        .ns
        .iter()
        .flat_map(|&n| (0..cfg.seeds).map(move |s| (n, s)))
        .collect();
    let outcomes = run_jobs(&jobs, |&(n, seed)| {
        let out = run_one(cfg, python, &script, mnist_folder, n, seed, dir.path());
        progress(&match &out {
            Ok(o) => format!(
                "{NAME} n={n} seed {seed}: exact {:.3}, element-wise {:.3} (train {:.0} s)",
                o.exact, o.elementwise, o.train_seconds
            ),
            Err(e) => format!("{NAME} n={n} seed {seed}: failed: {e}"),
        });
        Ok(out)
    })?;
    Ok(cfg
        .ns
        .iter()
        .map(|&n| {
            let runs: Vec<&Result<JobOutcome>> = jobs
                .iter()
                .zip(&outcomes)
                .filter(|((jn, _), _)| *jn == n)
                .map(|(_, o)| o)
                .collect();
            (n, cell(&runs))
        })
        .collect())
}

fn run_one(
    cfg: &DigitSortConfig,
    python: &Path,
    script: &Path,
    mnist_folder: &Path,
    n: usize,
    seed: usize,
    tmp: &Path,
) -> Result<JobOutcome> {
    let fail =
        |reason: String| Error::Reference(format!("{NAME} via {}: {reason}", python.display()));
    let out = tmp.join(format!("n{n}-seed{seed}.json"));
    let arg = |v: &dyn ToString| v.to_string();
    let status = Command::new(python)
        .arg(script)
        .args(["--data", &mnist_folder.display().to_string()])
        .args([
            "--n",
            &arg(&n),
            "--seed",
            &arg(&seed),
            "--steps",
            &arg(&cfg.steps),
        ])
        .args([
            "--sets-per-step",
            &arg(&cfg.sets_per_step),
            "--lr",
            &arg(&cfg.lr),
        ])
        .args([
            "--eval-every",
            &arg(&cfg.eval_every),
            "--val-sets",
            &arg(&cfg.val_sets),
        ])
        .args(["--test-sets", &arg(&cfg.test_sets), "--threads", "1"])
        .args(["--out", &out.display().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(|e| {
            fail(format!(
                "cannot start it ({e}); pass --python with a Python that has torch"
            ))
        })?;
    if !status.status.success() {
        let stderr = String::from_utf8_lossy(&status.stderr);
        let last = stderr.lines().last().unwrap_or("no message");
        return Err(fail(format!("exit status {}: {last}", status.status)));
    }
    let text = std::fs::read_to_string(&out).map_err(|e| Error::io("cannot read", &out, e))?;
    let o: ScriptOutcome = serde_json::from_str(&text).map_err(|e| Error::Json {
        path: out.clone(),
        source: e,
    })?;
    Ok(JobOutcome {
        exact: o.exact_match,
        elementwise: o.elementwise,
        final_loss: o.curve.last().map_or(f64::NAN, |c| c.train_loss),
        train_seconds: o.train_seconds,
        eval_seconds: o.eval_seconds,
        published: Some((o.curve, o.best_step, o.time_split)),
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A stand-in for Python: a shell script that ignores the script it is given, finds the
    /// `--out` and `--seed` arguments and writes what the reference would, or fails.
    fn fake_python(dir: &Path, fail: bool) -> std::path::PathBuf {
        let body = if fail {
            "echo 'error: no torch here' >&2; exit 2".to_string()
        } else {
            r#"while [ $# -gt 0 ]; do case $1 in --out) out=$2;; --seed) seed=$2;; esac; shift; done
cat > "$out" <<JSON
{"exact_match": 0.$seed, "elementwise": 0.5, "best_step": 2, "train_seconds": 1.5,
 "eval_seconds": 0.5, "time_split": {"data": 0.1, "cnn_forward": 0.4},
 "curve": [{"step": 2, "sets_seen": 200, "val_exact_match": 0.25, "val_elementwise": 0.5,
            "train_loss": 1.25}]}
JSON"#
                .to_string()
        };
        let path = dir.join(if fail { "bad-python" } else { "python" });
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn the_references_figures_become_cells_and_its_failures_errors() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = DigitSortConfig {
            ns: vec![3, 5],
            seeds: 2,
            steps: 2,
            ..DigitSortConfig::published()
        };
        let cells =
            run_reference(&cfg, &fake_python(dir.path(), false), dir.path(), &|_| {}).unwrap();
        assert_eq!(cells.keys().copied().collect::<Vec<_>>(), vec![3, 5]);
        let c = &cells[&5];
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        assert_eq!(c.exact_match_per_seed, vec![0.0, 0.1]);
        assert_eq!(c.best_step_per_seed, vec![2, 2]);
        assert_eq!(c.curve_per_seed[1][0].sets_seen, 200);
        assert_eq!(c.time_split_per_seed[0].cnn_forward, 0.4);
        assert_eq!(c.final_loss_per_seed, vec![1.25, 1.25]);
        let cells =
            run_reference(&cfg, &fake_python(dir.path(), true), dir.path(), &|_| {}).unwrap();
        let errors = &cells[&3].errors;
        assert_eq!(errors.len(), 2);
        assert!(errors[0].contains("no torch here"), "{errors:?}");
        assert!(cells[&3].exact_match.is_nan());
    }
}
