//! The benchmark's settings: full and quick runs, and their checks.

use std::path::PathBuf;

use serde::Serialize;

use super::model::CnnConfig;
use crate::error::{Error, Result};

/// Steps of a published-protocol job when `--steps` is not given: about an hour for a job at
/// n = 15 on one core, less at smaller n (see `docs/NOTES.md`).
pub const PUBLISHED_DEFAULT_STEPS: usize = 300;

/// The largest set size n: every step holds `sets_per_step · n` numbers.
pub const MAX_N: usize = 1000;

/// The most training steps of one job (the published run takes 27,400).
pub const MAX_STEPS: usize = 1_000_000;

/// Which protocol a run follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// The project's short protocol: n = 3 and 5, 2,000 steps (see [`DigitSortConfig::quick`]).
    Quick,
    /// The project's own full protocol (see [`DigitSortConfig::full`]).
    Full,
    /// NeuralSort's published protocol with a step cap (see
    /// [`DigitSortConfig::published`]).
    Published,
}

impl Protocol {
    /// Parses `quick`, `full` or `published`.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "quick" => Ok(Protocol::Quick),
            "full" => Ok(Protocol::Full),
            "published" => Ok(Protocol::Published),
            other => Err(Error::InvalidArgument(format!(
                "unknown MNIST protocol '{other}': use quick, full or published"
            ))),
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Quick => "quick",
            Protocol::Full => "full",
            Protocol::Published => "published",
        }
    }
}

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
    /// Where each finished job is kept (`None`: nowhere). A rerun with the same settings reads
    /// a kept job instead of training it again, so an interrupted run loses only the jobs in
    /// flight; see `kept.rs` for what must match.
    pub job_dir: Option<PathBuf>,
    /// The protocol these settings follow (recorded in the result).
    pub protocol: Protocol,
    /// Published protocol: validate every this many steps (and at the last).
    pub eval_every: usize,
    /// Published protocol: validation sets per n.
    pub val_sets: usize,
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
            job_dir: None,
            protocol: Protocol::Full,
            eval_every: 0,
            val_sets: 0,
        }
    }

    /// The quick protocol: the full one without n ∈ {7, 9, 15}, with half the steps (2000) and
    /// 500 test sets per n; about 10 rankers finish within 10 minutes on 2 cores.
    pub fn quick() -> Self {
        Self {
            ns: vec![3, 5],
            steps: 2000,
            test_sets: 500,
            protocol: Protocol::Quick,
            ..Self::full()
        }
    }

    /// NeuralSort's published protocol (Grover et al. 2019 and its public code) with a step
    /// cap: the full MNIST split (55,000 / 5,000 / 10,000 digits), numbers drawn by value, the
    /// published CNN, Adam at 1e-4, 100 sets per step, validation every 137 steps (one
    /// published epoch) on 1,200 sets picking the weights tested on 2,500 sets; n ∈ {3, 5, 7,
    /// 9, 15}, 3 seeds. The published run takes 27,400 steps; the default cap,
    /// [`PUBLISHED_DEFAULT_STEPS`], fits about an hour per job on one core.
    pub fn published() -> Self {
        Self {
            ns: vec![3, 5, 7, 9, 15],
            steps: PUBLISHED_DEFAULT_STEPS,
            sets_per_step: 100,
            test_sets: 2500,
            seeds: 3,
            lr: 1e-4,
            weight_decay: 0.0,
            test_fraction: 0.2,
            cnn: CnnConfig::default(),
            data_dir: None,
            job_dir: None,
            protocol: Protocol::Published,
            eval_every: 137,
            val_sets: 1200,
        }
    }

    /// The settings of `protocol`.
    pub fn of(protocol: Protocol) -> Self {
        match protocol {
            Protocol::Quick => Self::quick(),
            Protocol::Full => Self::full(),
            Protocol::Published => Self::published(),
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
        if let Some(n) = self.ns.iter().find(|&&n| n > MAX_N) {
            return bad(format!(
                "digit sort: set size n = {n} is more than {MAX_N}, the largest this benchmark runs"
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
        if self.seeds > crate::experiment::config::MAX_SEEDS {
            return bad(format!(
                "digit sort: seeds must be between 1 and {}, got {}",
                crate::experiment::config::MAX_SEEDS,
                self.seeds
            ));
        }
        if self.steps > MAX_STEPS {
            return bad(format!(
                "digit sort: steps must be between 1 and {MAX_STEPS}, got {}",
                self.steps
            ));
        }
        if self.protocol == Protocol::Published {
            for (name, v) in [("eval_every", self.eval_every), ("val_sets", self.val_sets)] {
                if v == 0 {
                    return bad(format!("digit sort: {name} must be at least 1, got 0"));
                }
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
            "cnn": match self.protocol {
                Protocol::Published => super::published_model::shape(),
                _ => serde_json::json!({
                    "conv1": self.cnn.conv1,
                    "conv2": self.cnn.conv2,
                    "feature": self.cnn.feature,
                    "hidden": self.cnn.hidden,
                }),
            },
            "protocol": self.protocol,
            "eval_every": self.eval_every,
            "val_sets": self.val_sets,
            "threads": rayon::current_num_threads(),
        })
    }
}

// ---------- numbers ----------
