//! The benchmark commands: `bench sorters`, `bench rankers`, `bench data` and the hidden
//! `bench memory-probe`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use sodeep_lab::commands::bench;

/// Benchmarks: `bench sorters` (Rust against PyTorch), `bench rankers` (every ranker), `bench
/// data` (the generator).
#[derive(Subcommand)]
pub enum BenchCommand {
    /// Time the sorters against the PyTorch references of bench/, alternating the two.
    Sorters(BenchSortersArgs),
    /// Every differentiable ranker on the same work: accuracy against the exact ranks, speed
    /// and scaling (torchsort and diffsort as references in the same run), multi-digit MNIST
    /// sorting and the downstream Spearman task. Writes DIR/report.md, DIR/results.json and
    /// DIR/speed.png.
    Rankers(BenchRankersArgs),
    /// Print how far the peak resident set size grows during one step of CASE (bytes); run by
    /// `bench sorters --memory` in a fresh process.
    #[command(hide = true)]
    MemoryProbe(MemoryProbeArgs),
    /// Time the synthetic data generator (vectors per second, with exact ranks, one thread).
    Data(BenchDataArgs),
}

impl BenchCommand {
    /// Whether the command runs whole jobs side by side (see `sodeep_lab::jobs`).
    pub fn runs_jobs(&self) -> bool {
        matches!(self, BenchCommand::Rankers(_))
    }

    pub fn run(self, threads: usize) -> Result<()> {
        match self {
            BenchCommand::Sorters(a) => a.run(threads),
            BenchCommand::Rankers(a) => a.run(threads),
            BenchCommand::MemoryProbe(a) => a.run(),
            BenchCommand::Data(a) => a.run(),
        }
    }
}

#[derive(clap::Args)]
pub struct BenchSortersArgs {
    /// Python interpreter with PyTorch.
    #[arg(long, default_value = "python3")]
    pub python: PathBuf,
    /// Bench the Rust side alone.
    #[arg(long)]
    pub no_torch: bool,
    /// Comma-separated subset of the cases.
    #[arg(long)]
    pub cases: Option<String>,
    /// Timed repetitions per case (1 to 10,000).
    #[arg(long, default_value_t = 5,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000))]
    pub reps: usize,
    /// Vectors per batch.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Vector length.
    #[arg(long, default_value_t = 100)]
    pub len: usize,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Also measure the peak memory of one step of each case, each side in a fresh process.
    #[arg(long)]
    pub memory: bool,
}

impl BenchSortersArgs {
    pub fn run(self, threads: usize) -> Result<()> {
        Ok(bench::bench_sorters(
            (!self.no_torch).then_some(self.python),
            self.cases.as_deref(),
            (self.reps, self.batch, self.len, threads),
            self.json,
            self.memory,
        )?)
    }
}

#[derive(clap::Args)]
pub struct BenchRankersArgs {
    /// The quick protocol (about 10 minutes): fewer accuracy vectors, shorter timings, the
    /// quick MNIST protocol, 2 downstream seeds.
    #[arg(long)]
    pub quick: bool,
    /// Python interpreter with PyTorch (and torchsort 0.1.10, diffsort 0.2.0 if installed).
    #[arg(long, default_value = "python3")]
    pub python: PathBuf,
    /// Skip the PyTorch references.
    #[arg(long)]
    pub no_torch: bool,
    /// Output folder.
    #[arg(long, default_value = "bench-rankers")]
    pub out: PathBuf,
    /// A ranker to compare, NAME[:knob=value,...]; repeat for several (default: every
    /// analytic ranker at its default knobs, lstm-100 and cnn-100).
    #[arg(long = "ranker")]
    pub rankers: Vec<String>,
    /// Sections to run, comma-separated: accuracy, speed, mnist, downstream, threads
    /// (default: all but threads).
    #[arg(long)]
    pub sections: Option<String>,
    /// Thread counts, comma-separated (e.g. 1,2,4,8,16): times soft rank and the fused sorter
    /// ops at each count in one process (the threads section; alone unless --sections names
    /// others).
    #[arg(long, value_name = "LIST")]
    pub thread_sweep: Option<String>,
    /// Largest n of the batch-1 scaling runs.
    #[arg(long, default_value_t = 100_000)]
    pub max_len: usize,
    /// Where MNIST is cached (default: $SODEEP_DATA_DIR or ~/.cache/sodeep/data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl BenchRankersArgs {
    pub fn run(self, threads: usize) -> Result<()> {
        Ok(bench::bench_rankers(
            self.quick,
            (!self.no_torch).then_some(self.python),
            &self.out,
            self.rankers,
            (self.sections.as_deref(), self.thread_sweep.as_deref()),
            (self.max_len, threads),
            self.data_dir,
        )?)
    }
}

#[derive(clap::Args)]
pub struct MemoryProbeArgs {
    /// The case.
    pub case: String,
    /// Vectors per batch.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Vector length.
    #[arg(long, default_value_t = 100)]
    pub len: usize,
}

impl MemoryProbeArgs {
    pub fn run(self) -> Result<()> {
        Ok(bench::memory_probe(&self.case, self.batch, self.len)?)
    }
}

#[derive(clap::Args)]
pub struct BenchDataArgs {
    /// Vector length.
    #[arg(long, default_value_t = 100)]
    pub len: usize,
    /// Vectors per batch.
    #[arg(long, default_value_t = 512)]
    pub batch: usize,
    /// Number of batches (1 to 1,000,000).
    #[arg(long, default_value_t = 200,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub batches: usize,
}

impl BenchDataArgs {
    pub fn run(self) -> Result<()> {
        Ok(bench::bench_data(self.len, self.batch, self.batches)?)
    }
}
