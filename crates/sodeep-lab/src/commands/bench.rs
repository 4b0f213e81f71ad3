//! The benchmark commands: `bench sorters`, `bench rankers`, `bench data` and the hidden
//! `bench memory-probe`.

use std::path::PathBuf;

use sodeep::synthetic::Distribution;

use super::output::print_json;
use crate::error::{Error, Result};

/// The PyTorch reference script of `bench sorters`, embedded so that the binary runs it from any
/// directory.
const TORCH_SCRIPT: &str = include_str!("../../../../bench/torch_sorters.py");

/// The PyTorch reference script of `bench rankers`.
const TORCH_RANKERS_SCRIPT: &str = include_str!("../../../../bench/torch_rankers.py");

/// `sodeep bench sorters`: the Rust sorters against their PyTorch references, as a table or JSON.
pub fn bench_sorters(
    python: Option<PathBuf>,
    cases: Option<&str>,
    (reps, batch, len, threads): (usize, usize, usize, usize),
    json: bool,
    memory: bool,
) -> Result<()> {
    let cases: Vec<String> = match cases {
        Some(c) => c.split(',').map(|s| s.trim().to_string()).collect(),
        None => crate::bench::CASES.iter().map(|s| s.to_string()).collect(),
    };
    let script = std::env::temp_dir().join(format!("sodeep-torch-{}.py", std::process::id()));
    std::fs::write(&script, TORCH_SCRIPT).map_err(|e| Error::io("cannot write", &script, e))?;
    let cfg = crate::bench::BenchConfig {
        batch,
        d: len,
        reps,
        threads,
        python,
        script: script.clone(),
        cases,
        memory_probe: if memory {
            Some(
                std::env::current_exe()
                    .map_err(|e| Error::io("cannot find", "this executable (for the probes)", e))?,
            )
        } else {
            None
        },
    };
    let report = crate::bench::bench_sorters(&cfg, |m| eprintln!("{m}"));
    let _ = std::fs::remove_file(&script);
    let report = report?;
    if json {
        print_json(&report)?;
        return Ok(());
    }
    println!(
        "batch {batch}, d {len}, {threads} thread(s), median of {reps}; PyTorch: {}",
        report.torch
    );
    println!("host: {}", report.host.summary());
    println!(
        "{:<20} {:>10} {:>10} {:>8}",
        "case", "rust s", "torch s", "ratio"
    );
    for (case, r) in &report.cases {
        let t = r.torch_s.map_or("-".into(), |t| format!("{t:.4}"));
        let ratio = r.ratio.map_or("-".into(), |v| format!("{v:.2}"));
        println!("{case:<20} {:>10.4} {t:>10} {ratio:>8}", r.rust_s);
    }
    if !report.memory.is_empty() {
        println!("peak memory of one step (MiB, fresh processes)");
        println!(
            "{:<20} {:>10} {:>10} {:>8}",
            "case", "rust", "torch", "ratio"
        );
        for (case, m) in &report.memory {
            let t = m.torch_mb.map_or("-".into(), |t| format!("{t:.1}"));
            let ratio = m.ratio.map_or("-".into(), |v| format!("{v:.2}"));
            println!("{case:<20} {:>10.1} {t:>10} {ratio:>8}", m.rust_mb);
        }
    }
    Ok(())
}

/// The folder under `--out` where `bench rankers` keeps each finished MNIST job.
const MNIST_JOBS: &str = "mnist-jobs";

/// `sodeep bench rankers`: every ranker on the same work → `out/report.md`, `results.json`,
/// `speed.png`.
pub fn bench_rankers(a: &BenchRankersArgs, threads: usize) -> Result<()> {
    use crate::bench::rankers::{bench_rankers, RankerBenchConfig, Section};
    use crate::experiment::digit_sort::{DigitSortConfig, Protocol};
    let (out, sections, thread_sweep) = (&a.out, a.sections.as_deref(), a.thread_sweep.as_deref());
    let script = std::env::temp_dir().join(format!("sodeep-rankers-{}.py", std::process::id()));
    let mut cfg = if a.quick {
        RankerBenchConfig::quick(script.clone())
    } else {
        RankerBenchConfig::full(script.clone())
    };
    cfg.python = (!a.no_torch).then(|| a.python.clone());
    cfg.threads = threads;
    cfg.data_dir = a.data_dir.clone();
    cfg.sizes.retain(|&n| n <= a.max_len);
    if !a.rankers.is_empty() {
        cfg.rankers = a.rankers.clone();
        cfg.grid.clear();
    }
    if let Some(p) = &a.protocol {
        cfg.mnist = DigitSortConfig::of(Protocol::from_name(p)?);
    }
    if let Some(steps) = a.steps {
        cfg.mnist.steps = steps;
    }
    if let Some(seeds) = a.seeds {
        cfg.mnist.seeds = seeds;
    }
    if let Some(list) = &a.ns {
        cfg.mnist.ns = list
            .split(',')
            .map(|v| {
                v.trim().parse::<usize>().map_err(|_| {
                    Error::InvalidArgument(format!(
                        "--ns: '{}' is not a set size (write e.g. 3,5,15)",
                        v.trim()
                    ))
                })
            })
            .collect::<Result<_>>()?;
    }
    cfg.mnist.validate()?;
    // each finished MNIST job is kept, so that a rerun into the same folder resumes
    cfg.mnist.job_dir = Some(out.join(MNIST_JOBS));
    if let Some(list) = sections {
        cfg.sections = list
            .split(',')
            .map(|s| Section::from_name(s.trim()))
            .collect::<Result<_>>()?;
    }
    // a sweep runs on its own unless --sections asks for more
    if let Some(list) = thread_sweep {
        cfg.thread_sweep = crate::bench::rankers::parse_counts(list)?;
        if sections.is_none() {
            cfg.sections = vec![Section::Threads];
        } else if !cfg.sections.contains(&Section::Threads) {
            cfg.sections.push(Section::Threads);
        }
    }
    // settings first: a refused run leaves no folder behind
    crate::experiment::ensure_writable(out)?;
    std::fs::write(&script, TORCH_RANKERS_SCRIPT)
        .map_err(|e| Error::io("cannot write", &script, e))?;
    let command: Vec<String> = std::env::args().collect();
    let command = format!("sodeep {}", command[1..].join(" "));
    let started = std::time::Instant::now();
    let result = bench_rankers(&cfg, |m| eprintln!("{m}"));
    let _ = std::fs::remove_file(&script);
    let result = result?;
    result.write(out, &command)?;
    println!(
        "{}\nwrote {}/report.md, results.json, speed.png in {:.0} s",
        result.report(&command),
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `sodeep bench memory-probe` (run by `bench sorters --memory`): prints the growth of the peak
/// resident set during one step of `case`, in bytes.
pub fn memory_probe(case: &str, batch: usize, len: usize) -> Result<()> {
    match crate::bench::step_peak_bytes(case, batch, len)? {
        Some(bytes) => {
            println!("{bytes}");
            Ok(())
        }
        None => Err(Error::InvalidArgument(
            "peak memory is read from /proc/self/status, which this OS lacks".into(),
        )),
    }
}

/// `sodeep bench data`: vectors per second of the synthetic generator, per distribution.
pub fn bench_data(len: usize, batch: usize, batches: usize) -> Result<()> {
    if len == 0 || batch == 0 || batches == 0 {
        return Err(Error::InvalidArgument(
            "--len, --batch and --batches must be at least 1".into(),
        ));
    }
    // a batch's scores and exact ranks (f32), with the f64 scratch of the ranking
    sodeep::memory::check(
        &format!("bench data: a batch of {batch} vectors of length {len}"),
        (batch as f64 * len as f64 * 24.0) as u64,
    )?;
    println!("synthetic generation, d = {len}, batch {batch}, {batches} batches, one thread:");
    let all = std::iter::once(Distribution::All).chain(Distribution::CONCRETE);
    for dist in all {
        let vps = sodeep::synthetic::generation_throughput(dist, len, batch, batches);
        println!("  {:<22} {:>12.0} vectors/s", dist.name(), vps);
    }
    Ok(())
}

/// Benchmarks: `bench sorters` (Rust against PyTorch), `bench rankers` (every ranker), `bench
/// data` (the generator).
#[derive(Debug, Clone, clap::Subcommand)]
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

    /// Runs the command.
    pub fn run(self, threads: usize) -> Result<()> {
        match self {
            BenchCommand::Sorters(a) => a.run(threads),
            BenchCommand::Rankers(a) => a.run(threads),
            BenchCommand::MemoryProbe(a) => a.run(),
            BenchCommand::Data(a) => a.run(),
        }
    }
}

/// The options of `bench sorters`.
#[derive(Debug, Clone, clap::Args)]
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
    /// Runs the command.
    pub fn run(self, threads: usize) -> Result<()> {
        bench_sorters(
            (!self.no_torch).then_some(self.python),
            self.cases.as_deref(),
            (self.reps, self.batch, self.len, threads),
            self.json,
            self.memory,
        )
    }
}

/// The options of `bench rankers`.
#[derive(Debug, Clone, clap::Args)]
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
    /// Protocol of the mnist section: quick (n = 3, 5; 2,000 steps), full (n = 3 to 15;
    /// 4,000 steps) or published (NeuralSort's data split, CNN, optimiser and evaluation, 3
    /// seeds, capped by --steps). Default: quick with --quick, full otherwise.
    #[arg(long)]
    pub protocol: Option<String>,
    /// Training steps of each mnist job (default: the protocol's; published: 300 of the
    /// 27,400 published).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Set sizes n of the mnist section, comma-separated (default: the protocol's).
    #[arg(long, value_name = "LIST")]
    pub ns: Option<String>,
    /// Seeds of each mnist job (default: the protocol's; published: 3).
    #[arg(long)]
    pub seeds: Option<usize>,
}

impl BenchRankersArgs {
    /// Runs the command.
    pub fn run(self, threads: usize) -> Result<()> {
        bench_rankers(&self, threads)
    }
}

/// The options of the hidden `bench memory-probe`.
#[derive(Debug, Clone, clap::Args)]
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
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        memory_probe(&self.case, self.batch, self.len)
    }
}

/// The options of `bench data`.
#[derive(Debug, Clone, clap::Args)]
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
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        bench_data(self.len, self.batch, self.batches)
    }
}
