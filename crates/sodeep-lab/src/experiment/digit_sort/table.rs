//! What the benchmark measured, per ranker and n, and its table.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::published::{CurvePoint, TimeSplit};

/// The figures of one ranker at one n, over the seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigitSortCell {
    /// Mean exact-match accuracy over the seeds that ran (NaN, written `null`, if none did).
    pub exact_match: f64,
    /// Mean element-wise accuracy.
    pub elementwise: f64,
    /// Sample standard deviation of the exact match (0 for one seed).
    pub exact_match_sd: f64,
    /// Sample standard deviation of the element-wise accuracy.
    pub elementwise_sd: f64,
    /// Exact match of each seed that ran.
    pub exact_match_per_seed: Vec<f64>,
    /// Element-wise accuracy of each seed that ran.
    pub elementwise_per_seed: Vec<f64>,
    /// Mean training loss over the last 50 steps, per seed.
    pub final_loss_per_seed: Vec<f64>,
    /// Training wall-clock seconds per seed (one core).
    pub train_seconds_per_seed: Vec<f64>,
    /// Evaluation wall-clock seconds per seed.
    pub eval_seconds_per_seed: Vec<f64>,
    /// Published protocol: each seed's learning curve (validation figures against sets seen).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curve_per_seed: Vec<Vec<CurvePoint>>,
    /// Published protocol: the step whose weights validation picked, per seed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub best_step_per_seed: Vec<usize>,
    /// Published protocol: where each seed's training time went.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub time_split_per_seed: Vec<TimeSplit>,
    /// Why seeds failed (a ranker that cannot rank, a loss that diverged), one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// Everything the benchmark measured. It serialises as `ranker → {n → cell}`, with n written
/// as a decimal string (`"3"`, `"5"`, ...); the settings, the ranker order and the wall-clock
/// time are kept beside it for [`DigitSortResult::table`].
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct DigitSortResult {
    /// Figures per ranker name, then per n.
    pub rankers: BTreeMap<String, BTreeMap<usize, DigitSortCell>>,
    /// Ranker names in the order they were given.
    #[serde(skip)]
    pub order: Vec<String>,
    /// The settings of the run.
    #[serde(skip)]
    pub settings: serde_json::Value,
    /// Wall-clock seconds of the whole run.
    #[serde(skip)]
    pub seconds: f64,
}

impl DigitSortResult {
    /// A markdown table: one row per ranker, one column per n, each cell
    /// `exact match / element-wise` (± sd over seeds when there are several), then the
    /// training time per job.
    pub fn table(&self) -> String {
        let ns: Vec<usize> = self
            .rankers
            .values()
            .flat_map(|m| m.keys().copied())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut s = String::from("| ranker |");
        for n in &ns {
            s.push_str(&format!(" n = {n} |"));
        }
        s.push_str(" train s/job |\n|---|");
        s.push_str(&"---|".repeat(ns.len() + 1));
        s.push('\n');
        let names = self
            .order
            .iter()
            .filter(|n| self.rankers.contains_key(*n))
            .chain(self.rankers.keys().filter(|k| !self.order.contains(k)));
        for name in names {
            let cells = &self.rankers[name];
            s.push_str(&format!("| {name} |"));
            let mut secs = Vec::new();
            for n in &ns {
                match cells.get(n) {
                    Some(c) if !c.exact_match_per_seed.is_empty() => {
                        let sd = if c.exact_match_per_seed.len() > 1 {
                            format!(" ± {:.3}", c.exact_match_sd)
                        } else {
                            String::new()
                        };
                        s.push_str(&format!(
                            " {:.3}{sd} / {:.3} |",
                            c.exact_match, c.elementwise
                        ));
                        secs.extend(&c.train_seconds_per_seed);
                    }
                    Some(c) if !c.errors.is_empty() => s.push_str(" failed |"),
                    _ => s.push_str(" – |"),
                }
            }
            let mean = secs.iter().sum::<f64>() / secs.len().max(1) as f64;
            s.push_str(&format!(" {mean:.0} |\n"));
        }
        s.push_str(
            "\nEach cell: exact match / element-wise accuracy on the test sets (the CNN's argsort \
             against the true order).\n",
        );
        for (name, cells) in &self.rankers {
            for (n, c) in cells {
                for e in &c.errors {
                    s.push_str(&format!("- {name} at n = {n}: {e}\n"));
                }
            }
        }
        s
    }
}
