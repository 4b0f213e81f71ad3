//! What `bench rankers` runs: its sections, rankers and knob grid.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::experiment::digit_sort::DigitSortConfig;

/// The parts of the benchmark, in run order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    /// L1 against the exact ranks on synthetic vectors.
    Accuracy,
    /// Forward and forward+backward time, batch 256 and batch 1 across n.
    Speed,
    /// Multi-digit MNIST sorting.
    Mnist,
    /// Test Spearman on winequality through `SpearmanLoss`.
    Downstream,
    /// Soft rank and the fused sorter ops at each thread count of `thread_sweep`.
    Threads,
}

impl Section {
    /// The default sections (the thread sweep runs only when asked for).
    pub const ALL: [Section; 4] = [
        Section::Accuracy,
        Section::Speed,
        Section::Mnist,
        Section::Downstream,
    ];

    /// Parses `accuracy`, `speed`, `mnist`, `downstream` or `threads`.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "accuracy" => Ok(Section::Accuracy),
            "speed" => Ok(Section::Speed),
            "mnist" => Ok(Section::Mnist),
            "downstream" => Ok(Section::Downstream),
            "threads" => Ok(Section::Threads),
            other => Err(Error::InvalidArgument(format!(
                "unknown section '{other}': use accuracy, speed, mnist, downstream or threads"
            ))),
        }
    }
}

/// The rankers every section compares, each at its default knobs.
pub const DEFAULT_RANKERS: &[&str] = &[
    "softrank",
    "softrank:reg=kl",
    "neuralsort",
    "softsort-perm",
    "sinkhorn",
    "diffsort-oddeven",
    "diffsort-bitonic",
    "blackbox",
    "handcrafted",
    "any",
    "lstm-100",
    "cnn-100",
];

/// Knob values tried in the accuracy section beside the defaults.
pub const KNOB_GRID: &[&str] = &[
    "softrank:eps=0.001",
    "softrank:eps=0.01",
    "softrank:eps=0.1",
    "softrank:reg=kl,eps=0.01",
    "softrank:reg=kl,eps=0.1",
    "neuralsort:tau=0.01",
    "neuralsort:tau=0.1",
    "softsort-perm:tau=0.01",
    "softsort-perm:tau=0.1",
    "sinkhorn:eps=0.001",
    "sinkhorn:eps=0.01",
    "sinkhorn:eps=0.1",
    "diffsort-oddeven:steepness=100",
    "diffsort-oddeven:steepness=1000",
    "diffsort-bitonic:steepness=100",
    "diffsort-bitonic:steepness=1000",
    "diffsort-bitonic:dist=logistic",
    "diffsort-bitonic:dist=logistic_phi",
    "diffsort-bitonic:dist=reciprocal",
    "handcrafted:lambda=100",
    "handcrafted:lambda=1000",
    "gru-100",
];

/// Options of [`super::bench_rankers`].
#[derive(Debug, Clone)]
pub struct RankerBenchConfig {
    /// The quick protocol (recorded in the report).
    pub quick: bool,
    /// Sections to run.
    pub sections: Vec<Section>,
    /// Ranker specs compared in every section.
    pub rankers: Vec<String>,
    /// Extra specs for the accuracy section's knob grid.
    pub grid: Vec<String>,
    /// Synthetic test vectors for accuracy.
    pub accuracy_samples: usize,
    /// Their length (the paper's d = 100).
    pub d: usize,
    /// Vector lengths of the batch-1 scaling runs.
    pub sizes: Vec<usize>,
    /// A ranker stops growing n where [`sodeep::Ranker::memory_bytes`] exceeds this.
    pub memory_limit: u64,
    /// A ranker stops growing n where one forward+backward would exceed this many seconds
    /// (extrapolated from the sizes measured so far).
    pub time_limit_s: f64,
    /// Each timing repeats calls until this much time has passed (at least 3 calls).
    pub min_time_s: f64,
    /// Python for the torchsort/diffsort references; `None` skips them.
    pub python: Option<PathBuf>,
    /// The reference script.
    pub script: PathBuf,
    /// Threads on both sides.
    pub threads: usize,
    /// The MNIST sorting protocol.
    pub mnist: DigitSortConfig,
    /// Seeds of the downstream Spearman runs.
    pub downstream_seeds: usize,
    /// Where MNIST is cached.
    pub data_dir: Option<PathBuf>,
    /// Thread counts of the [`Section::Threads`] sweep.
    pub thread_sweep: Vec<usize>,
}

impl RankerBenchConfig {
    /// The full protocol: 10,000 accuracy vectors, n up to 100,000, the full MNIST protocol,
    /// 5 downstream seeds.
    pub fn full(script: PathBuf) -> Self {
        Self {
            quick: false,
            sections: Section::ALL.to_vec(),
            rankers: DEFAULT_RANKERS.iter().map(|s| s.to_string()).collect(),
            grid: KNOB_GRID.iter().map(|s| s.to_string()).collect(),
            accuracy_samples: 10_000,
            d: 100,
            sizes: vec![10, 100, 1_000, 10_000, 100_000],
            memory_limit: 2 << 30,
            time_limit_s: 20.0,
            min_time_s: 0.5,
            python: Some(PathBuf::from("python3")),
            script,
            threads: 1,
            mnist: DigitSortConfig::full(),
            downstream_seeds: 5,
            data_dir: None,
            thread_sweep: vec![1, 2, 4, 8, 16],
        }
    }

    /// The quick protocol: 1,000 accuracy vectors, shorter timings (n still up to 100,000 for
    /// the methods fast enough), the quick MNIST protocol, 2 downstream seeds.
    pub fn quick(script: PathBuf) -> Self {
        Self {
            quick: true,
            accuracy_samples: 1_000,
            time_limit_s: 3.0,
            min_time_s: 0.1,
            mnist: DigitSortConfig::quick(),
            downstream_seeds: 2,
            ..Self::full(script)
        }
    }
}
