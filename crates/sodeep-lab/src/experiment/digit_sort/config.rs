//! The benchmark's settings: full and quick runs, and their checks.

use std::path::PathBuf;

use super::model::CnnConfig;
use crate::error::{Error, Result};

/// Settings of the benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct DigitSortConfig {
    /// Set sizes n to train and test on (each at least 2).
    pub ns: Vec<usize>,
    /// Optimiser steps per job.
    pub steps: usize,
    /// Sets of n numbers per step (the same for every n, as in NeuralSort).
    pub sets_per_step: usize,
    /// Test sets per n.
    pub test_sets: usize,
    /// Seeds 0..seeds; each gets its own pool split, initial weights and sets.
    pub seeds: usize,
    /// Peak AdamW learning rate (decayed by a cosine to `lr / 20` over the steps).
    pub lr: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// Fraction of the MNIST images in the test pool.
    pub test_fraction: f64,
    /// The CNN's sizes.
    pub cnn: CnnConfig,
    /// Where MNIST is cached (`None`: `SODEEP_DATA_DIR` or `~/.cache/sodeep/data`).
    pub data_dir: Option<PathBuf>,
    /// Whether these are the quick settings (recorded in the result).
    pub quick: bool,
}

impl DigitSortConfig {
    /// The full protocol: n ∈ {3, 5, 7, 9, 15}, 4000 steps of 10 sets, one seed, 1000 test sets
    /// per n. Sized so that about 10 rankers finish within an hour on 2 cores (see the module
    /// docs for the measurements).
    pub fn full() -> Self {
        Self {
            ns: vec![3, 5, 7, 9, 15],
            steps: 4000,
            sets_per_step: 10,
            test_sets: 1000,
            seeds: 1,
            lr: 3e-3,
            weight_decay: 1e-4,
            test_fraction: 0.2,
            cnn: CnnConfig::default(),
            data_dir: None,
            quick: false,
        }
    }

    /// The quick protocol: the full one without n ∈ {7, 9, 15}, with half the steps (2000) and
    /// 500 test sets per n; about 10 rankers finish within 10 minutes on 2 cores.
    pub fn quick() -> Self {
        Self {
            ns: vec![3, 5],
            steps: 2000,
            test_sets: 500,
            quick: true,
            ..Self::full()
        }
    }

    /// Checks every setting, with a message that says what to change.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if self.ns.is_empty() {
            return bad("digit sort: no set size n given (ns is empty)".into());
        }
        if let Some(n) = self.ns.iter().find(|&&n| n < 2) {
            return bad(format!(
                "digit sort: set size n = {n}: a set needs at least 2 numbers to have an order"
            ));
        }
        let mut seen = self.ns.clone();
        seen.sort_unstable();
        seen.dedup();
        if seen.len() != self.ns.len() {
            return bad(format!(
                "digit sort: the set sizes {:?} repeat a value",
                self.ns
            ));
        }
        for (name, v) in [
            ("steps", self.steps),
            ("sets_per_step", self.sets_per_step),
            ("test_sets", self.test_sets),
            ("seeds", self.seeds),
        ] {
            if v == 0 {
                return bad(format!("digit sort: {name} must be at least 1, got 0"));
            }
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(format!(
                "digit sort: the learning rate must be a positive number, got {}",
                self.lr
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad(format!(
                "digit sort: the weight decay must be 0 or more, got {}",
                self.weight_decay
            ));
        }
        if !(self.test_fraction > 0.0 && self.test_fraction < 1.0) {
            return bad(format!(
                "digit sort: the test fraction must lie in (0, 1), got {}",
                self.test_fraction
            ));
        }
        self.cnn.validate()
    }

    pub(super) fn settings(&self) -> serde_json::Value {
        serde_json::json!({
            "ns": self.ns,
            "steps": self.steps,
            "sets_per_step": self.sets_per_step,
            "test_sets": self.test_sets,
            "seeds": self.seeds,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "test_fraction": self.test_fraction,
            "cnn": {
                "conv1": self.cnn.conv1,
                "conv2": self.cnn.conv2,
                "feature": self.cnn.feature,
                "hidden": self.cnn.hidden,
            },
            "quick": self.quick,
            "threads": rayon::current_num_threads(),
        })
    }
}

// ---------- numbers ----------
