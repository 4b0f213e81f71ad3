//! An experiment's results as a table, goal lines and files (results.json, curves.png).

use std::fs;
use std::path::{Path, PathBuf};

use super::results::{ExperimentResult, LossResult};
use crate::error::{Error, Result};

/// Checks that `dir` can be created and written before any time is spent.
pub fn ensure_writable(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io("cannot create output folder", dir, e))?;
    let probe = dir.join(".sodeep-write-test");
    fs::write(&probe, b"ok").map_err(|e| Error::io("cannot write into output folder", dir, e))?;
    let _ = fs::remove_file(probe);
    Ok(())
}

/// Whether a result row is a loss through a ranker (SoDeep's side of the comparison).
pub(crate) fn is_rank_loss(name: &str) -> bool {
    name.starts_with("sodeep:") || name.starts_with("handcrafted") || name.starts_with("ndcg:")
}

impl ExperimentResult {
    /// The best baseline loss (by mean) and its mean.
    pub fn best_baseline(&self) -> Option<(&str, f64)> {
        self.results
            .iter()
            .filter(|(n, _)| !is_rank_loss(n) && n.as_str() != "lightgbm")
            .map(|(n, r)| (n.as_str(), r.mean))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// A markdown table: one row per loss, then the linear baseline, then the verdict.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let layout = &self.layout;
        let mut head = format!("| loss | {} (mean ± sd) |", layout.metric_head);
        for c in layout.columns {
            head.push_str(&format!(" {} |", c.head));
        }
        let cells = |r: &LossResult| {
            let mut s = format!(" {:.4} ± {:.4} |", r.mean, r.sd);
            for c in layout.columns {
                let v = r.extra.get(c.key).copied().unwrap_or(f64::NAN);
                s.push_str(&format!(" {v:.prec$} |", prec = c.decimals));
            }
            s
        };
        let columns = head.matches('|').count() + 3;
        s.push_str(&head);
        s.push_str(" s/run | s in all | per seed | chosen lr |\n");
        s.push_str(&"|---".repeat(columns));
        s.push_str("|\n");
        let row = |name: &str, r: &LossResult| {
            let per: Vec<String> = r.per_seed.iter().map(|v| format!("{v:.3}")).collect();
            let lrs: Vec<String> = r.lr.iter().map(|v| format!("{v}")).collect();
            format!(
                "| {name} |{} {:.1} | {:.0} | {} | {} |\n",
                cells(r),
                r.seconds_per_run,
                r.seconds,
                per.join(" "),
                lrs.join(" ")
            )
        };
        for (name, r) in &self.results {
            s.push_str(&row(name, r));
        }
        s.push_str(&row(
            &format!("linear baseline ({})", self.linear_baseline.name),
            &self.linear_baseline.result,
        ));
        s.push('\n');
        s.push_str(&self.verdict());
        s
    }

    /// The task's goal lines (see [`super::Task::goal_lines`]).
    pub fn goal_lines(&self) -> Vec<String> {
        self.layout.goals.clone()
    }

    /// One line per rank loss: does it reach the best baseline?
    pub fn baseline_goal_lines(&self) -> Vec<String> {
        let Some((base, base_mean)) = self.best_baseline() else {
            return Vec::new();
        };
        self.results
            .iter()
            .filter(|(name, _)| is_rank_loss(name))
            .map(|(name, r)| {
                let verdict = if r.mean >= base_mean { "reaches" } else { "does NOT reach" };
                format!(
                    "- {name}: {:.4} {verdict} the best baseline ({base}: {base_mean:.4}); difference {:+.4}",
                    r.mean,
                    r.mean - base_mean
                )
            })
            .collect()
    }

    /// The goal lines, then the warnings, one per line.
    pub fn verdict(&self) -> String {
        self.goal_lines()
            .into_iter()
            .chain(self.warnings.iter().map(|w| format!("- warning: {w}")))
            .map(|l| l + "\n")
            .collect()
    }

    /// Writes `results.json` and `curves.png` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        ensure_writable(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(|e| Error::Json {
            path: dir.join("results.json"),
            source: e,
        })?;
        sodeep::files::write_atomic(&dir.join("results.json"), json.as_bytes())?;
        let series: Vec<(String, Vec<f64>)> = self
            .results
            .iter()
            .map(|(n, r)| (n.clone(), r.curve.clone()))
            .chain(std::iter::once((
                format!("linear ({})", self.linear_baseline.name),
                self.linear_baseline.result.curve.clone(),
            )))
            // ridge is solved, not trained: it has no curve to draw
            .filter(|(_, curve)| !curve.is_empty())
            .collect();
        crate::report::plot_curves(
            &series,
            &format!(
                "{} on {}: validation {} per epoch",
                self.task, self.data, self.metric
            ),
            &format!("validation {}", self.metric),
            &dir.join("curves.png"),
        )
    }
}

/// Output folder convenience: `Some(dir)` → write; `None` → nothing.
pub fn maybe_write(result: &ExperimentResult, out: Option<&PathBuf>) -> Result<()> {
    match out {
        Some(dir) => result.write(dir),
        None => Ok(()),
    }
}
