//! The results of `bench rankers` and their report (report.md, results.json, speed.png).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::references::Reference;
use super::timing::{Scaling, Timing};
use crate::error::{Error, Result};
use crate::experiment::digit_sort::DigitSortCell;

/// Everything `bench rankers` measured (`results.json`).
#[derive(Debug, Clone, Serialize)]
pub struct RankerBenchResult {
    /// Quick or full protocol.
    pub quick: bool,
    /// Threads on both sides.
    pub threads: usize,
    /// Ranker → mean L1 against the exact SoDeep ranks (default knobs), d = 100.
    pub accuracy: BTreeMap<String, f64>,
    /// Knob grid → mean L1.
    pub accuracy_grid: BTreeMap<String, f64>,
    /// Accuracy vectors and their length.
    pub accuracy_samples: usize,
    /// Ranker → n → timing at batch 1.
    pub speed: BTreeMap<String, BTreeMap<String, Timing>>,
    /// Ranker → timing at batch 256, n = 100.
    pub speed_b256: BTreeMap<String, Timing>,
    /// Ranker → its batch-256 forward+backward time over softrank's in the same run.
    pub speed_b256_vs_softrank: BTreeMap<String, f64>,
    /// softrank forward+backward time / torchsort's at batch 256, n = 100; `None` when
    /// torchsort is not installed.
    pub torchsort_ratio: Option<f64>,
    /// The same ratio for forward only.
    pub torchsort_ratio_fwd: Option<f64>,
    /// Reference library → timings.
    pub references: BTreeMap<String, Reference>,
    /// Versions of the references, or why they did not run.
    pub reference_versions: String,
    /// softrank's scaling at batch 1.
    pub softrank_scaling: Option<Scaling>,
    /// Ranker → sizes not run, and why.
    pub skipped: BTreeMap<String, Vec<String>>,
    /// Ranker → n → MNIST sorting accuracies (`exact_match`, `elementwise`, their sd and
    /// per-seed values).
    pub mnist: BTreeMap<String, BTreeMap<String, DigitSortCell>>,
    /// The settings of the mnist section (its `protocol`, `steps` cap, sets per step, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mnist_settings: Option<serde_json::Value>,
    /// The MNIST table, for the report.
    #[serde(skip)]
    pub mnist_table: Option<String>,
    /// Ranker → mean test Spearman on winequality.
    pub downstream: BTreeMap<String, f64>,
    /// Ranker → its standard deviation over the seeds.
    pub downstream_sd: BTreeMap<String, f64>,
    /// The best baseline of the downstream task (name, mean).
    pub downstream_baseline: Option<(String, f64)>,
    /// Downstream seeds.
    pub downstream_seeds: usize,
    /// Wall seconds per section.
    pub seconds: BTreeMap<String, f64>,
    /// Things the reader should know.
    pub notes: Vec<String>,
    /// The thread sweep, when it ran.
    pub thread_sweep: Option<super::threads::ThreadSweep>,
}

pub(super) fn fmt_ms(t: Option<f64>) -> String {
    t.map_or("—".into(), |s| format!("{:.3}", s * 1e3))
}

impl RankerBenchResult {
    /// The markdown report.
    pub fn report(&self, command: &str) -> String {
        let mut s = String::new();
        s.push_str("# Differentiable rankers side by side\n\n");
        s.push_str(&format!(
            "Command: `{command}` ({} protocol, {} thread(s)). References: {}.\n\n",
            if self.quick { "quick" } else { "full" },
            self.threads,
            self.reference_versions
        ));
        if !self.accuracy.is_empty() {
            s.push_str(&format!(
                "## Accuracy\n\nMean L1 between each ranker's ranks and the exact SoDeep ranks \
                 (normalised, largest = 1/n), {} synthetic vectors of d = 100 (all families, seed 0).\n\n\
                 | ranker (default knobs) | L1 |\n|---|---|\n",
                self.accuracy_samples
            ));
            for (k, v) in &self.accuracy {
                s.push_str(&format!("| `{k}` | {v:.5} |\n"));
            }
            if !self.accuracy_grid.is_empty() {
                s.push_str("\n| knob grid | L1 |\n|---|---|\n");
                for (k, v) in &self.accuracy_grid {
                    s.push_str(&format!("| `{k}` | {v:.5} |\n"));
                }
            }
            s.push('\n');
        }
        if !self.speed_b256.is_empty() {
            s.push_str(
                "## Speed\n\nMedian milliseconds per call at batch 256, n = 100 (fwd+bwd: the \
                 backward of Σ w·ranks), forward and forward+backward alternated after a warm-up \
                 call of each; × softrank: fwd+bwd time over softrank's in this run.\n\n\
                 | ranker | fwd ms | fwd+bwd ms | × softrank |\n|---|---|---|---|\n",
            );
            let soft = self.speed_b256.get("softrank").map(|t| t.fwdbwd_s);
            let ratio = |t: f64| match soft {
                Some(s) if s > 0.0 => format!("{:.1}", t / s),
                _ => "—".into(),
            };
            for (k, t) in &self.speed_b256 {
                s.push_str(&format!(
                    "| `{k}` | {} | {} | {} |\n",
                    fmt_ms(Some(t.fwd_s)),
                    fmt_ms(Some(t.fwdbwd_s)),
                    ratio(t.fwdbwd_s)
                ));
            }
            for (k, r) in &self.references {
                if let Some(t) = r.b256 {
                    s.push_str(&format!(
                        "| {k} (PyTorch) | {} | {} | {} |\n",
                        fmt_ms(Some(t.fwd_s)),
                        fmt_ms(Some(t.fwdbwd_s)),
                        ratio(t.fwdbwd_s)
                    ));
                }
            }
            match self.torchsort_ratio {
                Some(r) => s.push_str(&format!(
                    "\nsoftrank / torchsort time, batch 256, n = 100, measured back to back: \
                     fwd+bwd **{r:.3}** ({:.2}× faster), fwd {:.3}. Target: ≤ 0.5 (≥ 2× faster): **{}**.\n",
                    1.0 / r,
                    self.torchsort_ratio_fwd.unwrap_or(f64::NAN),
                    if r <= 0.5 { "met" } else { "not met" }
                )),
                None => s.push_str(&format!(
                    "\nNo softrank/torchsort ratio: torchsort did not run here (references: {}). \
                     Install it with `pip install --no-build-isolation torchsort==0.1.10`.\n",
                    self.reference_versions
                )),
            }
            let sizes: std::collections::BTreeSet<usize> = self
                .speed
                .values()
                .chain(self.references.values().map(|r| &r.by_n))
                .flat_map(|m| m.keys().filter_map(|k| k.parse().ok()))
                .collect();
            s.push_str(
                "\nBatch 1, forward+backward ms by n (— : not run; see below):\n\n| ranker |",
            );
            for n in &sizes {
                s.push_str(&format!(" {n} |"));
            }
            s.push_str("\n|---|");
            s.push_str(&"---|".repeat(sizes.len()));
            s.push('\n');
            let rows = self.speed.iter().map(|(k, m)| (format!("`{k}`"), m)).chain(
                self.references
                    .iter()
                    .map(|(k, r)| (format!("{k} (PyTorch)"), &r.by_n)),
            );
            for (k, m) in rows {
                s.push_str(&format!("| {k} |"));
                for n in &sizes {
                    s.push_str(&format!(
                        " {} |",
                        fmt_ms(m.get(&n.to_string()).map(|t| t.fwdbwd_s))
                    ));
                }
                s.push('\n');
            }
            if let Some(sc) = &self.softrank_scaling {
                let at_max = self
                    .speed
                    .get("softrank")
                    .and_then(|m| m.get("100000"))
                    .map(|t| t.fwdbwd_s);
                s.push_str(&format!(
                    "\nsoftrank scaling over n = {:?}: slope of log t on log n = {:.3}; on log(n log n) = {:.3} \
                     (1 = n log n). At n = 100,000: {} ms fwd+bwd (target ≤ 50 ms: {}).\n",
                    sc.sizes,
                    sc.slope_log_n,
                    sc.slope_log_nlogn,
                    fmt_ms(at_max),
                    match at_max {
                        Some(t) if t <= 0.05 => "met",
                        Some(_) => "not met",
                        None => "not measured",
                    }
                ));
            }
            if !self.skipped.is_empty() {
                s.push_str("\nSizes not run:\n");
                for (k, v) in &self.skipped {
                    s.push_str(&format!("- `{k}`: {}\n", v.join("; ")));
                }
            }
            s.push_str("\n![scaling](speed.png)\n\n");
        }
        if let Some(t) = &self.mnist_table {
            let published = self
                .mnist_settings
                .as_ref()
                .is_some_and(|m| m["protocol"] == "published");
            s.push_str(if published {
                "## Multi-digit MNIST sorting\n\nNeuralSort's published protocol: sets of n four-digit \
                 numbers drawn by value from MNIST's training, validation and test digits; the published \
                 CNN scores each number and is trained through each ranker (the permutation \
                 cross-entropy where the ranker has a permutation, else the Spearman loss), and \
                 validation picks the weights tested (same CNN, steps and seeds for every ranker).\n\n"
            } else {
                "## Multi-digit MNIST sorting\n\nSets of n four-digit numbers made of real MNIST digits \
                 (disjoint train and test digit images); a small CNN scores each number and is trained \
                 through each ranker with a rank loss against the true order (same CNN, steps and seeds \
                 for every ranker).\n\n"
            },
            );
            s.push_str(t);
            s.push('\n');
        }
        if !self.downstream.is_empty() {
            s.push_str(&format!(
                "## Downstream: Spearman loss on winequality\n\nMean test Spearman over {} seeds \
                 (`sodeep experiment spearman` protocol, one rank loss per ranker).\n\n\
                 | ranker | test Spearman | sd |\n|---|---|---|\n",
                self.downstream_seeds
            ));
            for (k, v) in &self.downstream {
                s.push_str(&format!(
                    "| `{k}` | {v:.4} | {:.4} |\n",
                    self.downstream_sd.get(k).copied().unwrap_or(f64::NAN)
                ));
            }
            if let Some((b, v)) = &self.downstream_baseline {
                s.push_str(&format!("| {b} (baseline) | {v:.4} | |\n"));
            }
            s.push('\n');
        }
        if let Some(sweep) = &self.thread_sweep {
            s.push_str(&sweep.report());
            s.push('\n');
        }
        if !self.seconds.is_empty() {
            s.push_str("## Wall time\n\n");
            for (k, v) in &self.seconds {
                s.push_str(&format!("- {k}: {v:.0} s\n"));
            }
        }
        for n in &self.notes {
            s.push_str(&format!("\n{n}\n"));
        }
        s
    }

    /// Writes `DIR/report.md`, `DIR/results.json` and `DIR/speed.png`.
    pub fn write(&self, dir: &Path, command: &str) -> Result<()> {
        crate::experiment::ensure_writable(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(|e| Error::Json {
            path: dir.join("results.json"),
            source: e,
        })?;
        let put = |name: &str, text: &str| {
            std::fs::write(dir.join(name), text)
                .map_err(|e| Error::io("cannot write", dir.join(name), e))
        };
        put("results.json", &json)?;
        put("report.md", &self.report(command))?;
        if !self.speed.is_empty() {
            let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
            let pts = |m: &BTreeMap<String, Timing>| -> Vec<(f64, f64)> {
                let mut v: Vec<(f64, f64)> = m
                    .iter()
                    .filter_map(|(n, t)| Some((n.parse::<f64>().ok()?, t.fwdbwd_s)))
                    .collect();
                v.sort_by(|a, b| a.0.total_cmp(&b.0));
                v
            };
            for (k, m) in &self.speed {
                if m.len() > 1 {
                    series.push((k.clone(), pts(m)));
                }
            }
            for (k, r) in &self.references {
                if r.by_n.len() > 1 {
                    series.push((format!("{k} (PyTorch)"), pts(&r.by_n)));
                }
            }
            crate::report::plot_loglog(
                &series,
                "batch 1, forward + backward",
                "n",
                "seconds",
                &dir.join("speed.png"),
            )?;
        }
        Ok(())
    }
}
