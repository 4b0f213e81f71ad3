//! `sodeep`: the command-line interface. Each subcommand parses its arguments and calls one
//! library entry point; all the work lives in the `sodeep` crate.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use sodeep::checkpoint::write_atomic;
use sodeep::eval::{evaluate, rank_sweep, EvalConfig, EvalReport};
use sodeep::synthetic::Distribution;
use sodeep::train::{train_sorter, TrainConfig};
use sodeep::{Arch, Sorter, SorterConfig};
use sodeep_lab::report::plot_rank_sweep;

#[derive(Parser)]
#[command(
    name = "sodeep",
    version,
    about = "Learned differentiable ranking: SoDeep sorters"
)]
struct Cli {
    /// CPU threads for the tensor kernels (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate the shipped sorters and the handcrafted one.
    EvalShipped {
        /// Test vectors per sorter.
        #[arg(long, default_value_t = 10_000)]
        samples: usize,
        /// Seed of the test vectors.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Train a sorter on synthetic data.
    TrainSorter(TrainArgs),
    /// Evaluate a sorter: L1 to the exact ranks, per distribution, and Spearman.
    EvalSorter {
        /// Sorter: a folder, a shipped name, or handcrafted[:LAMBDA].
        #[arg(long)]
        sorter: String,
        /// Vector length (default: the sorter's d, or 100 for the handcrafted sorter).
        #[arg(long)]
        len: Option<usize>,
        /// Number of test vectors.
        #[arg(long, default_value_t = 10_000)]
        samples: usize,
        /// Seed of the test vectors.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Distribution of the test vectors (all, uniform, normal, linspace-increasing,
        /// linspace-decreasing, linspace-shuffled, split-mixture).
        #[arg(long, default_value = "all")]
        distribution: String,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Also draw the paper's Fig. 5 (rank of y_1 as it sweeps [-1, 1]) to this PNG.
        #[arg(long)]
        plot: Option<PathBuf>,
    },
    /// List the shipped sorters with their model cards.
    ListSorters {
        /// Print the full model cards as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rank score vectors (CSV, one per line, no header) with a sorter.
    Rank {
        /// Ranker: NAME[:knob=value,...] (softrank, neuralsort, sinkhorn, diffsort-*, blackbox,
        /// handcrafted[:LAMBDA], ...), a shipped sorter's name or a sorter folder.
        #[arg(long, visible_alias = "sorter")]
        ranker: String,
        /// What to write per vector: ranks, sort (descending soft sort), argsort (soft, 0-based)
        /// or topk:K (soft membership of the K largest).
        #[arg(long, default_value = "ranks")]
        output_kind: String,
        /// Input CSV (default: stdin).
        #[arg(long)]
        input: Option<PathBuf>,
        /// Output CSV (default: stdout).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Make a shippable sorter folder from a training checkpoint, with a measured model card.
    ExportSorter {
        /// The checkpoint folder (DIR/best or DIR/ckpt).
        #[arg(long)]
        from: PathBuf,
        /// Output folder (e.g. crates/sodeep-weights/weights/NAME).
        #[arg(long)]
        out: PathBuf,
        /// Store the weights in half precision.
        #[arg(long)]
        half: bool,
        /// Test vectors of the card's evaluation.
        #[arg(long, default_value_t = 10_000)]
        samples: usize,
        /// Remarks for the model card.
        #[arg(long)]
        notes: Option<String>,
    },
    /// Benchmarks: `bench sorters` (Rust against PyTorch), `bench data` (the generator).
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// Train a model with several losses (baselines and SoDeep rank losses) on real data and
    /// compare them over seeds: `spearman`, `map` or `retrieval`.
    Experiment(ExperimentArgs),
    /// Rebuild the paper's tables on real data and write DIR/report.md (the main job; with no
    /// subcommand, `sodeep` runs `reproduce --quick`).
    Reproduce {
        /// A short protocol (< 10 minutes on 2 cores) with the shipped sorters.
        #[arg(long)]
        quick: bool,
        /// Output folder.
        #[arg(long, default_value = "report")]
        out: PathBuf,
        /// Seeds per experiment (default: 2 with --quick, 5 otherwise).
        #[arg(long)]
        seeds: Option<usize>,
        /// Where MNIST is cached (default: $SODEEP_DATA_DIR or ~/.cache/sodeep/data).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Convert a PyTorch checkpoint of the reference implementation into a sorter folder.
    ImportTorch {
        /// The .pth file.
        checkpoint: PathBuf,
        /// Architecture.
        #[arg(long)]
        arch: String,
        /// Vector length d.
        #[arg(long)]
        len: usize,
        /// Hidden size (default: the architecture's).
        #[arg(long)]
        hidden: Option<usize>,
        /// Recurrent layers (default: the architecture's).
        #[arg(long)]
        layers: Option<usize>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing sorter folder.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
    /// Time the sorters against the PyTorch references of bench/, alternating the two.
    Sorters {
        /// Python interpreter with PyTorch.
        #[arg(long, default_value = "python3")]
        python: PathBuf,
        /// Bench the Rust side alone.
        #[arg(long)]
        no_torch: bool,
        /// Comma-separated subset of the cases.
        #[arg(long)]
        cases: Option<String>,
        /// Timed repetitions per case.
        #[arg(long, default_value_t = 5)]
        reps: usize,
        /// Vectors per batch.
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// Vector length.
        #[arg(long, default_value_t = 100)]
        len: usize,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Also measure the peak memory of one step of each case, each side in a fresh process.
        #[arg(long)]
        memory: bool,
    },
    /// Every differentiable ranker on the same work: accuracy against the exact ranks, speed
    /// and scaling (torchsort and diffsort as references in the same run), multi-digit MNIST
    /// sorting and the downstream Spearman task. Writes DIR/report.md, DIR/results.json and
    /// DIR/speed.png.
    Rankers {
        /// The quick protocol (about 10 minutes): fewer accuracy vectors, shorter timings, the
        /// quick MNIST protocol, 2 downstream seeds.
        #[arg(long)]
        quick: bool,
        /// Python interpreter with PyTorch (and torchsort 0.1.10, diffsort 0.2.0 if installed).
        #[arg(long, default_value = "python3")]
        python: PathBuf,
        /// Skip the PyTorch references.
        #[arg(long)]
        no_torch: bool,
        /// Output folder.
        #[arg(long, default_value = "bench-rankers")]
        out: PathBuf,
        /// A ranker to compare, NAME[:knob=value,...]; repeat for several (default: every
        /// analytic ranker at its default knobs, lstm-100 and cnn-100).
        #[arg(long = "ranker")]
        rankers: Vec<String>,
        /// Sections to run, comma-separated: accuracy, speed, mnist, downstream (default: all).
        #[arg(long)]
        sections: Option<String>,
        /// Largest n of the batch-1 scaling runs.
        #[arg(long, default_value_t = 100_000)]
        max_len: usize,
        /// Where MNIST is cached (default: $SODEEP_DATA_DIR or ~/.cache/sodeep/data).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Print how far the peak resident set size grows during one step of CASE (bytes); run by
    /// `bench sorters --memory` in a fresh process.
    #[command(hide = true)]
    MemoryProbe {
        /// The case.
        case: String,
        /// Vectors per batch.
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// Vector length.
        #[arg(long, default_value_t = 100)]
        len: usize,
    },
    /// Time the synthetic data generator (vectors per second, with exact ranks, one thread).
    Data {
        /// Vector length.
        #[arg(long, default_value_t = 100)]
        len: usize,
        /// Vectors per batch.
        #[arg(long, default_value_t = 512)]
        batch: usize,
        /// Number of batches.
        #[arg(long, default_value_t = 200)]
        batches: usize,
    },
}

#[derive(clap::Args)]
struct ExperimentArgs {
    /// spearman, map or retrieval.
    task: String,
    /// Built-in dataset: winequality or diabetes (spearman), digits-multilabel (map),
    /// mnist-halves (retrieval). Default: the task's first.
    #[arg(long, conflicts_with_all = ["train", "a"])]
    data: Option<String>,
    /// Training CSV (header row) for spearman or map.
    #[arg(long)]
    train: Option<PathBuf>,
    /// Test CSV; without it a test split is held out of --train.
    #[arg(long, requires = "train")]
    test: Option<PathBuf>,
    /// Target column (spearman with --train).
    #[arg(long)]
    target: Option<String>,
    /// Prefix of the 0/1 label columns (map with --train).
    #[arg(long)]
    label_prefix: Option<String>,
    /// First-modality CSV of paired rows (retrieval).
    #[arg(long, requires = "b")]
    a: Option<PathBuf>,
    /// Second-modality CSV, row i paired with row i of --a.
    #[arg(long, requires = "a")]
    b: Option<PathBuf>,
    /// Seeds.
    #[arg(long, default_value_t = 5)]
    seeds: usize,
    /// Comma-separated losses: mse, l1, bce, hinge, sodeep:<sorter>, handcrafted[:λ].
    #[arg(long)]
    losses: Option<String>,
    /// One more rank loss through this ranker, reported as sodeep:<NAME[:knobs]>: softrank[:eps=E,reg=l2|kl],
    /// handcrafted[:lambda=L], or a sorter (repeatable).
    #[arg(long)]
    ranker: Vec<String>,
    /// Comma-separated sorters for the default sodeep losses (default: every shipped sorter for
    /// spearman, best-100 otherwise).
    #[arg(long)]
    sorters: Option<String>,
    /// Epochs per run (default: the task's).
    #[arg(long)]
    epochs: Option<usize>,
    /// Examples per step.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Comma-separated learning rates searched for every loss (default: the task's).
    #[arg(long)]
    lrs: Option<String>,
    /// Decoupled weight decay (AdamW).
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f64,
    /// Fraction of the training data held out for validation.
    #[arg(long, default_value_t = 0.2)]
    val_fraction: f64,
    /// Hidden width of the MLPs (default: the task's).
    #[arg(long)]
    hidden: Option<usize>,
    /// Weight of the rank loss (map: added to BCE; retrieval: the recall loss).
    #[arg(long)]
    rank_weight: Option<f64>,
    /// Weight of the task's baseline loss kept beside a rank loss (default: 1 for map's BCE,
    /// 0 for retrieval's hinge).
    #[arg(long)]
    base_weight: Option<f64>,
    /// retrieval: margin of the recall loss in normalised-rank units.
    #[arg(long)]
    recall_margin: Option<f64>,
    /// Remedy: an L1 term on the predictions for the first N epochs (spearman; default 1, the
    /// paper's protocol; 0 turns it off).
    #[arg(long)]
    l1_warmup: Option<usize>,
    /// Remedy: fine-tune the sorter on the score vectors it saw after every epoch.
    #[arg(long)]
    finetune: bool,
    /// Remedy: standardise each score vector before the sorter reads it.
    #[arg(long)]
    align: bool,
    /// Where MNIST is cached (default: $SODEEP_DATA_DIR or ~/.cache/sodeep/data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Write DIR/results.json and DIR/curves.png.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// The PyTorch reference script, embedded so that the binary runs it from any directory.
const TORCH_SCRIPT: &str = include_str!("../../../bench/torch_sorters.py");

#[derive(clap::Args)]
struct TrainArgs {
    /// Architecture: lstm, lstm-large, gru, cnn, mlp.
    #[arg(long)]
    arch: Option<String>,
    /// Vector length d.
    #[arg(long)]
    len: Option<usize>,
    /// Hidden size / channels / width (default: the architecture's).
    #[arg(long)]
    hidden: Option<usize>,
    /// Recurrent layers (default: the architecture's).
    #[arg(long)]
    layers: Option<usize>,
    /// Standardise each vector before the network (rank-preserving; not in the paper).
    #[arg(long)]
    standardize: bool,
    /// Device: cpu, or cuda / cuda:N (needs a build with --features cuda; the fused CPU kernels
    /// then fall back to plain candle ops).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Output head of the lstm sorters: mixing (the paper's d×d×2h affine) or position
    /// (one 2h → 1 affine shared by all positions).
    #[arg(long)]
    head: Option<String>,
    /// Total steps; a resumed run continues up to this count.
    #[arg(long, default_value_t = 1000)]
    steps: usize,
    /// Vectors per step.
    #[arg(long)]
    batch: Option<usize>,
    /// Base learning rate of Adam.
    #[arg(long)]
    lr: Option<f64>,
    /// Halve the learning rate every K steps (0: never).
    #[arg(long)]
    lr_halve_every: Option<usize>,
    /// Validate and write checkpoints every S steps.
    #[arg(long)]
    save_every: Option<usize>,
    /// Seed of the initial weights and the batches.
    #[arg(long)]
    seed: Option<u64>,
    /// Validation vectors.
    #[arg(long)]
    val_samples: Option<usize>,
    /// Training distribution (default: all).
    #[arg(long)]
    distribution: Option<String>,
    /// Output folder (ckpt/ and best/ are written there).
    #[arg(long)]
    out: PathBuf,
    /// Continue from OUT/ckpt: step, weights, optimiser state, schedule.
    #[arg(long)]
    resume: bool,
}

// The kernels allocate tens of megabytes per call; glibc maps and unmaps blocks that large on
// every call, and the page faults cost a fifth of a forward pass. mimalloc keeps them, once told
// not to hand freed memory back to the OS (see `keep_freed_memory`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tells mimalloc to keep freed memory committed: by default it returns it to the OS after
/// 10 ms, and the next step's buffers fault it back in page by page (a third of a CNN step).
fn keep_freed_memory() {
    // option numbers of mimalloc 2's `mi_option_e`, which libmimalloc-sys does not name
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: plain setters of mimalloc's global options, called before any thread starts.
    unsafe {
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 1);
        libmimalloc_sys::mi_option_set(PURGE_DELAY, -1);
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    // Like other command-line tools, end quietly when the reader of stdout goes away
    // (`sodeep list-sorters | head`); Rust's default turns that into a panic in `println!`.
    #[cfg(unix)]
    // SAFETY: restores the default action of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let threads = cli.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    match cli.command {
        None
        | Some(Command::Experiment(_))
        | Some(Command::Reproduce { .. })
        | Some(Command::Bench {
            what: BenchWhat::Rankers { .. },
        }) => sodeep_lab::jobs::set_job_threads(threads),
        _ => sodeep::set_threads(threads),
    }
    let result = match cli.command {
        None => reproduce(true, PathBuf::from("report"), None, None),
        Some(Command::EvalShipped {
            samples,
            seed,
            json,
        }) => eval_shipped(samples, seed, json),
        Some(Command::TrainSorter(a)) => train(a, threads),
        Some(Command::Experiment(a)) => experiment(a),
        Some(Command::Reproduce {
            quick,
            out,
            seeds,
            data_dir,
        }) => reproduce(quick, out, seeds, data_dir),
        Some(Command::EvalSorter {
            sorter,
            len,
            samples,
            seed,
            distribution,
            json,
            plot,
        }) => eval_sorter(
            &sorter,
            len,
            samples,
            seed,
            &distribution,
            json,
            plot.as_deref(),
        ),
        Some(Command::ListSorters { json }) => list_sorters(json),
        Some(Command::ExportSorter {
            from,
            out,
            half,
            samples,
            notes,
        }) => export_sorter(&from, &out, half, samples, notes),
        Some(Command::Bench {
            what:
                BenchWhat::Data {
                    len,
                    batch,
                    batches,
                },
        }) => bench_data(len, batch, batches),
        Some(Command::Bench {
            what:
                BenchWhat::Sorters {
                    python,
                    no_torch,
                    cases,
                    reps,
                    batch,
                    len,
                    json,
                    memory,
                },
        }) => bench_sorters(
            (!no_torch).then_some(python),
            cases.as_deref(),
            (reps, batch, len, threads),
            json,
            memory,
        ),
        Some(Command::Bench {
            what: BenchWhat::MemoryProbe { case, batch, len },
        }) => memory_probe(&case, batch, len),
        Some(Command::Bench {
            what:
                BenchWhat::Rankers {
                    quick,
                    python,
                    no_torch,
                    out,
                    rankers,
                    sections,
                    max_len,
                    data_dir,
                },
        }) => bench_rankers(
            quick,
            (!no_torch).then_some(python),
            &out,
            rankers,
            sections.as_deref(),
            (max_len, threads),
            data_dir,
        ),
        Some(Command::Rank {
            ranker,
            output_kind,
            input,
            output,
        }) => rank(&ranker, &output_kind, input.as_deref(), output.as_deref()),
        Some(Command::ImportTorch {
            checkpoint,
            arch,
            len,
            hidden,
            layers,
            out,
            force,
        }) => import_torch(&checkpoint, &arch, len, hidden, layers, &out, force),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_report_table(r: &EvalReport) {
    println!(
        "sorter: {}   d = {}   {} vectors (seed {}, {})",
        r.sorter, r.d, r.samples, r.seed, r.distribution
    );
    println!("  {:<22} {:>10}", "distribution", "L1");
    for (k, v) in &r.l1_by_distribution {
        println!("  {k:<22} {v:>10.5}");
    }
    println!("  {:<22} {:>10.5}", "all", r.l1);
    println!("  mean Spearman          {:>10.5}", r.spearman);
    println!("  time                   {:>9.2}s", r.seconds);
}

fn eval_sorter(
    spec: &str,
    len: Option<usize>,
    samples: usize,
    seed: u64,
    distribution: &str,
    json: bool,
    plot: Option<&Path>,
) -> Result<()> {
    let sorter = Sorter::load(spec)?;
    let d = len.or(sorter.d()).unwrap_or(100);
    let cfg = EvalConfig {
        samples,
        d,
        seed,
        distribution: Distribution::from_name(distribution)?,
    };
    let report = evaluate(&sorter, &cfg)?;
    if let Some(p) = plot {
        let sweep = rank_sweep(&sorter, d, seed)?;
        plot_rank_sweep(&sweep, &format!("{} (d = {d})", sorter.name()), p)?;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report_table(&report);
        if let Some(p) = plot {
            println!("  plot                   {}", p.display());
        }
    }
    Ok(())
}

fn eval_shipped(samples: usize, seed: u64, json: bool) -> Result<()> {
    let mut specs = vec!["handcrafted".to_string()];
    specs.extend(sodeep::registry::list().iter().map(|l| l.name.to_string()));
    let mut reports = Vec::new();
    for spec in &specs {
        let sorter = Sorter::load(spec)?;
        let d = sorter.d().unwrap_or(100);
        let cfg = EvalConfig {
            samples,
            d,
            seed,
            distribution: Distribution::All,
        };
        reports.push(evaluate(&sorter, &cfg)?);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
        return Ok(());
    }
    println!("Shipped sorters on {samples} synthetic vectors (seed {seed}); L1 = mean |predicted − exact SoDeep rank|");
    println!(
        "{:<16} {:>5} {:>9} {:>10} {:>8}",
        "sorter", "d", "L1", "Spearman", "time"
    );
    for r in &reports {
        println!(
            "{:<16} {:>5} {:>9.5} {:>10.5} {:>7.2}s",
            r.sorter, r.d, r.l1, r.spearman, r.seconds
        );
    }
    Ok(())
}

fn export_sorter(
    from: &Path,
    out: &Path,
    half: bool,
    samples: usize,
    notes: Option<String>,
) -> Result<()> {
    let cfg = sodeep::export::ExportConfig {
        half,
        samples,
        notes,
    };
    let r = sodeep::export::export_sorter(from, out, &cfg)?;
    println!(
        "exported {} to {}: L1 {:.5} stored ({}), {:.5} with f32 weights, on {samples} vectors",
        from.display(),
        out.display(),
        r.stored.l1,
        r.card.dtype,
        r.f32.l1
    );
    Ok(())
}

fn bench_sorters(
    python: Option<PathBuf>,
    cases: Option<&str>,
    (reps, batch, len, threads): (usize, usize, usize, usize),
    json: bool,
    memory: bool,
) -> Result<()> {
    let cases: Vec<String> = match cases {
        Some(c) => c.split(',').map(|s| s.trim().to_string()).collect(),
        None => sodeep_lab::bench::CASES
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    let script = std::env::temp_dir().join(format!("sodeep-torch-{}.py", std::process::id()));
    std::fs::write(&script, TORCH_SCRIPT).context("cannot write the PyTorch script")?;
    let cfg = sodeep_lab::bench::BenchConfig {
        batch,
        d: len,
        reps,
        threads,
        python,
        script: script.clone(),
        cases,
        memory_probe: if memory {
            Some(std::env::current_exe().context("cannot find this executable for the probes")?)
        } else {
            None
        },
    };
    let report = sodeep_lab::bench::bench_sorters(&cfg, |m| eprintln!("{m}"));
    let _ = std::fs::remove_file(&script);
    let report = report?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
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

/// The PyTorch reference script of `bench rankers`.
const TORCH_RANKERS_SCRIPT: &str = include_str!("../../../bench/torch_rankers.py");

fn bench_rankers(
    quick: bool,
    python: Option<PathBuf>,
    out: &Path,
    rankers: Vec<String>,
    sections: Option<&str>,
    (max_len, threads): (usize, usize),
    data_dir: Option<PathBuf>,
) -> Result<()> {
    use sodeep_lab::bench::rankers::{bench_rankers, RankerBenchConfig, Section};
    sodeep_lab::experiment::ensure_writable(out)?;
    let script = std::env::temp_dir().join(format!("sodeep-rankers-{}.py", std::process::id()));
    std::fs::write(&script, TORCH_RANKERS_SCRIPT).context("cannot write the PyTorch script")?;
    let mut cfg = if quick {
        RankerBenchConfig::quick(script.clone())
    } else {
        RankerBenchConfig::full(script.clone())
    };
    cfg.python = python;
    cfg.threads = threads;
    cfg.data_dir = data_dir;
    cfg.sizes.retain(|&n| n <= max_len);
    if !rankers.is_empty() {
        cfg.rankers = rankers;
        cfg.grid.clear();
    }
    if let Some(list) = sections {
        cfg.sections = list
            .split(',')
            .map(|s| Section::from_name(s.trim()))
            .collect::<sodeep_lab::Result<_>>()?;
    }
    let command: Vec<String> = std::env::args().collect();
    let started = std::time::Instant::now();
    let result = bench_rankers(&cfg, |m| eprintln!("{m}"));
    let _ = std::fs::remove_file(&script);
    let result = result?;
    result.write(out, &format!("sodeep {}", command[1..].join(" ")))?;
    println!(
        "{}\nwrote {}/report.md, results.json, speed.png in {:.0} s",
        result.report(&format!("sodeep {}", command[1..].join(" "))),
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `cpu`, `cuda` or `cuda:N`.
fn parse_device(spec: &str) -> Result<candle_core::Device> {
    let ordinal = match spec {
        "cpu" => return Ok(candle_core::Device::Cpu),
        "cuda" => 0,
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(n)) => n,
            _ => bail!("unknown device '{spec}' (known: cpu, cuda, cuda:N)"),
        },
    };
    candle_core::Device::new_cuda(ordinal).with_context(|| {
        format!("cannot use {spec}: this build needs --features cuda and a CUDA GPU")
    })
}

fn memory_probe(case: &str, batch: usize, len: usize) -> Result<()> {
    match sodeep_lab::bench::step_peak_bytes(case, batch, len)? {
        Some(bytes) => {
            println!("{bytes}");
            Ok(())
        }
        None => bail!("peak memory is read from /proc/self/status, which this OS lacks"),
    }
}

fn bench_data(len: usize, batch: usize, batches: usize) -> Result<()> {
    if len == 0 || batch == 0 || batches == 0 {
        bail!("--len, --batch and --batches must be at least 1");
    }
    println!("synthetic generation, d = {len}, batch {batch}, {batches} batches, one thread:");
    let all = std::iter::once(Distribution::All).chain(Distribution::CONCRETE);
    for dist in all {
        let vps = sodeep::synthetic::generation_throughput(dist, len, batch, batches);
        println!("  {:<22} {:>12.0} vectors/s", dist.name(), vps);
    }
    Ok(())
}

fn list_sorters(json: bool) -> Result<()> {
    let list = sodeep::registry::list();
    if json {
        let cards: Vec<serde_json::Value> = list
            .iter()
            .map(|l| {
                serde_json::json!({
                    "name": l.name,
                    "aliases": l.aliases,
                    "bytes": l.weight_bytes,
                    "card": serde_json::from_str::<serde_json::Value>(l.card_json).unwrap_or(serde_json::Value::Null),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&cards)?);
        return Ok(());
    }
    if list.is_empty() {
        println!("no shipped sorters in this build (handcrafted[:LAMBDA] is always available)");
    }
    for l in &list {
        let alias = if l.aliases.is_empty() {
            String::new()
        } else {
            format!(" (alias: {})", l.aliases.join(", "))
        };
        println!("{}{alias}", l.name);
        match &l.card {
            Some(c) => {
                println!(
                    "  arch {}  d {}  hidden {}  layers {}  parameters {}  stored {} ({:.1} MB)",
                    c.config.arch.name(),
                    c.config.d,
                    c.config.hidden,
                    c.config.layers,
                    c.parameters,
                    c.dtype,
                    l.weight_bytes as f64 / 1e6
                );
                if let Some(t) = &c.training {
                    println!(
                        "  trained {} steps, batch {}, lr {} (halved every {}), {:.0} s on {}, {:.0} vectors/s",
                        t.step, t.batch, t.lr, t.lr_halve_every, t.wall_seconds, t.machine, t.vectors_per_second
                    );
                    println!("  validation L1 {:.5}", t.val_l1);
                    for (k, v) in &t.val_l1_by_distribution {
                        println!("    {k:<22} {v:.5}");
                    }
                }
                if let Some(e) = &c.evaluation {
                    println!("  evaluation {e}");
                }
                if let Some(n) = &c.notes {
                    println!("  notes: {n}");
                }
            }
            None => println!("  (model card unreadable)"),
        }
    }
    println!(
        "handcrafted[:LAMBDA]\n  pairwise sigmoids, no weights, any length (λ = 10 by default)"
    );
    Ok(())
}

fn parse_rows(text: impl BufRead) -> Result<Vec<Vec<f32>>> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.context("cannot read input")?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let row = line
            .split(',')
            .map(|f| f.trim().parse::<f32>())
            .collect::<std::result::Result<Vec<f32>, _>>()
            .map_err(|e| sodeep_lab::Error::Parse {
                line: i + 1,
                reason: format!("'{line}' is not a comma-separated list of numbers ({e})"),
            })?;
        rows.push(row);
    }
    Ok(rows)
}

fn rank(spec: &str, kind: &str, input: Option<&Path>, output: Option<&Path>) -> Result<()> {
    let what: sodeep::ranker::RowOutput = kind.parse()?;
    let ranker = sodeep::spec::parse(spec)?;
    let rows = match input {
        Some(p) => {
            let f =
                std::fs::File::open(p).with_context(|| format!("cannot read {}", p.display()))?;
            parse_rows(std::io::BufReader::new(f))?
        }
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read stdin")?;
            parse_rows(s.as_bytes())?
        }
    };
    if rows.is_empty() {
        bail!("empty input: no score vector to rank");
    }
    let ranks = sodeep::ranker::apply_to_rows(ranker.as_ref(), &rows, what)?;
    let mut out = String::new();
    for r in &ranks {
        let line: Vec<String> = r.iter().map(|v| v.to_string()).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    match output {
        Some(p) => write_atomic(p, out.as_bytes())?,
        None => std::io::stdout().write_all(out.as_bytes())?,
    }
    Ok(())
}

fn sorter_config(
    arch: &str,
    len: usize,
    hidden: Option<usize>,
    layers: Option<usize>,
) -> Result<SorterConfig> {
    let arch = Arch::from_name(arch)?;
    let mut cfg = SorterConfig::new(arch, len);
    if let Some(h) = hidden {
        cfg.hidden = h;
    }
    if let Some(l) = layers {
        cfg.layers = l;
    }
    cfg.validate()?;
    Ok(cfg)
}

fn import_torch(
    pth: &Path,
    arch: &str,
    len: usize,
    hidden: Option<usize>,
    layers: Option<usize>,
    out: &Path,
    force: bool,
) -> Result<()> {
    let cfg = sorter_config(arch, len, hidden, layers)?;
    if out.join(sodeep::checkpoint::CARD_FILE).exists() && !force {
        bail!(
            "{} already holds a sorter; pass --force to replace it",
            out.display()
        );
    }
    let sorter = sodeep::torch_import::import_torch(pth, cfg, out)?;
    println!(
        "imported {} ({} sorter, d = {}, {} parameters) into {}",
        pth.display(),
        sorter.card().config.arch.name(),
        sorter.card().config.d,
        sodeep::checkpoint::read_card(&out.join(sodeep::checkpoint::CARD_FILE))?.parameters,
        out.display()
    );
    Ok(())
}

fn train(a: TrainArgs, threads: usize) -> Result<()> {
    let mut cfg = if a.resume {
        let cfg = TrainConfig::from_checkpoint(&a.out)?;
        if let Some(arch) = &a.arch {
            if Arch::from_name(arch)? != cfg.sorter.arch {
                bail!(
                    "--arch {arch} differs from the checkpoint's {}",
                    cfg.sorter.arch.name()
                );
            }
        }
        if let Some(len) = a.len {
            if len != cfg.sorter.d {
                bail!(
                    "--len {len} differs from the checkpoint's d = {}",
                    cfg.sorter.d
                );
            }
        }
        cfg
    } else {
        let arch = a
            .arch
            .as_deref()
            .context("--arch is required (lstm, lstm-large, gru, cnn, mlp)")?;
        let len = a.len.context("--len is required")?;
        let mut sorter = sorter_config(arch, len, a.hidden, a.layers)?;
        sorter.standardize = a.standardize;
        if let Some(h) = &a.head {
            sorter.head = sodeep::sorter::Head::from_name(h)?;
            sorter.validate()?;
        }
        TrainConfig::new(sorter, &a.out)
    };
    cfg.steps = a.steps;
    cfg.threads = threads;
    cfg.device = parse_device(&a.device)?;
    if let Some(v) = a.batch {
        cfg.batch = v;
    }
    if let Some(v) = a.lr {
        cfg.lr = v;
    }
    if let Some(v) = a.lr_halve_every {
        cfg.lr_halve_every = v;
    }
    if let Some(v) = a.save_every {
        cfg.save_every = v;
    }
    if let Some(v) = a.seed {
        cfg.seed = v;
    }
    if let Some(v) = a.val_samples {
        cfg.val_samples = v;
    }
    if let Some(v) = &a.distribution {
        cfg.distribution = Distribution::from_name(v)?;
    }
    let pb = ProgressBar::new(cfg.steps as u64);
    pb.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} {msg} [{elapsed_precise} < {eta_precise}]",
        )
        .expect("valid template"),
    );
    let mut last_logged_val = None;
    let summary = train_sorter(&cfg, a.resume, |p| {
        pb.set_position(p.step as u64);
        let val = p
            .val_l1
            .map(|v| format!("{v:.5}"))
            .unwrap_or_else(|| "-".into());
        pb.set_message(format!(
            "loss {:.5} val L1 {val} lr {:.2e} {:.0} vec/s",
            p.loss, p.lr, p.vectors_per_second
        ));
        if p.val_l1 != last_logged_val {
            last_logged_val = p.val_l1;
            let line = format!(
                "step {} loss {:.5} val L1 {val} best {} lr {:.3e} {:.0} vec/s",
                p.step,
                p.loss,
                p.best_val_l1
                    .map(|v| format!("{v:.5}"))
                    .unwrap_or_else(|| "-".into()),
                p.lr,
                p.vectors_per_second
            );
            if pb.is_hidden() {
                eprintln!("{line}");
            } else {
                pb.println(line);
            }
        }
    })?;
    pb.finish_and_clear();
    println!(
        "trained to step {}: validation L1 {:.5}, best {:.5} at step {} ({:.1} s, {:.0} vectors/s)\n  latest: {}\n  best:   {}",
        summary.step,
        summary.val_l1,
        summary.best_val_l1,
        summary.best_step,
        summary.seconds,
        summary.vectors_per_second,
        summary.ckpt.display(),
        summary.best.display()
    );
    Ok(())
}

fn comma_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

fn experiment_config(a: &ExperimentArgs) -> Result<sodeep_lab::experiment::ExperimentConfig> {
    use sodeep_lab::experiment::{DataSource, ExperimentConfig, Task};
    let task = Task::from_name(&a.task)?;
    let mut cfg = ExperimentConfig::new(task);
    cfg.data = match (&a.data, &a.train, &a.a, &a.b) {
        (Some(name), None, None, None) => DataSource::Builtin(name.clone()),
        (None, Some(train), None, None) => {
            let column = match task {
                sodeep_lab::experiment::Task::Spearman => a
                    .target
                    .clone()
                    .context("--train needs --target COL: the column to predict")?,
                sodeep_lab::experiment::Task::Map => a.label_prefix.clone().context(
                    "--train needs --label-prefix P: the prefix of the 0/1 label columns",
                )?,
                sodeep_lab::experiment::Task::Retrieval => {
                    bail!("the retrieval task takes two CSV files of paired rows: --a A.csv --b B.csv")
                }
            };
            DataSource::Csv {
                train: train.clone(),
                test: a.test.clone(),
                column,
            }
        }
        (None, None, Some(x), Some(y)) => {
            if task != Task::Retrieval {
                bail!(
                    "--a/--b give paired rows for the retrieval task; use --train for {}",
                    task.name()
                );
            }
            DataSource::Paired {
                a: x.clone(),
                b: y.clone(),
            }
        }
        (None, None, None, None) => DataSource::Builtin(task.default_data().into()),
        _ => bail!("give one data source: --data NAME, --train F.csv, or --a A.csv --b B.csv"),
    };
    cfg.seeds = a.seeds;
    cfg.losses = a.losses.as_deref().map(comma_list);
    if let Some(s) = &a.sorters {
        cfg.sorters = comma_list(s);
    }
    if !a.ranker.is_empty() {
        let mut names = cfg.loss_names();
        names.extend(a.ranker.iter().map(|r| format!("sodeep:{r}")));
        cfg.losses = Some(names);
    }
    if let Some(e) = a.epochs {
        cfg.epochs = e;
    }
    cfg.batch = a.batch;
    if let Some(l) = &a.lrs {
        cfg.lrs = comma_list(l)
            .iter()
            .map(|v| {
                v.parse::<f64>()
                    .with_context(|| format!("--lrs: '{v}' is not a number"))
            })
            .collect::<Result<_>>()?;
    }
    cfg.weight_decay = a.weight_decay;
    cfg.val_fraction = a.val_fraction;
    if let Some(h) = a.hidden {
        cfg.hidden = h;
    }
    if let Some(w) = a.rank_weight {
        cfg.rank_weight = w;
    }
    if let Some(w) = a.base_weight {
        cfg.base_weight = w;
    }
    if let Some(m) = a.recall_margin {
        cfg.recall_margin = m;
    }
    if let Some(n) = a.l1_warmup {
        cfg.remedies.l1_warmup_epochs = n;
    }
    cfg.remedies.finetune = a.finetune;
    cfg.remedies.align = a.align;
    cfg.data_dir = a.data_dir.clone();
    Ok(cfg)
}

fn experiment(a: ExperimentArgs) -> Result<()> {
    let cfg = experiment_config(&a)?;
    if let Some(out) = &a.out {
        sodeep_lab::experiment::ensure_writable(out)?;
    }
    let bar = spinner();
    let result = sodeep_lab::experiment::run(&cfg, &|line: &str| report_progress(&bar, line));
    bar.finish_and_clear();
    let result = result?;
    sodeep_lab::experiment::maybe_write(&result, a.out.as_ref())?;
    if a.json {
        println!("{}", serde_json::to_string(&result)?);
    } else {
        println!(
            "{} on {} ({} seeds, {:.0} s):\n",
            result.task, result.data, cfg.seeds, result.seconds
        );
        print!("{}", result.table());
        if let Some(out) = &a.out {
            println!(
                "\nwritten: {}/results.json, {}/curves.png",
                out.display(),
                out.display()
            );
        }
    }
    Ok(())
}

/// A spinner with the elapsed time, drawn only on a terminal.
fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed}] {msg}").expect("valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Progress lines go above the spinner on a terminal, and plainly to stderr otherwise (a log
/// file), where indicatif draws nothing.
fn report_progress(bar: &ProgressBar, line: &str) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

fn reproduce(
    quick: bool,
    out: PathBuf,
    seeds: Option<usize>,
    data_dir: Option<PathBuf>,
) -> Result<()> {
    let cfg = sodeep_lab::reproduce::ReproduceConfig {
        quick,
        out,
        seeds,
        data_dir,
    };
    let bar = spinner();
    let report = sodeep_lab::reproduce::reproduce(&cfg, &|line: &str| {
        report_progress(&bar, line);
        bar.set_message(line.to_string());
    });
    bar.finish_and_clear();
    let path = report?;
    println!("report written: {}", path.display());
    Ok(())
}
