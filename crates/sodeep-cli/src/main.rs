//! `sodeep`: the command-line interface. It only parses arguments: each subcommand's options are
//! one type in `sodeep-lab` (`sodeep_lab::commands`), declared once with their help text next to
//! the code that reads them, and each subcommand makes one call there.

mod alloc;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sodeep_lab::commands::{bench, experiments, meta, rank, sorters};
use sodeep_lab::reproduce::ReproduceConfig;

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
    /// Memory limit for one piece of work, e.g. 4G or 512M (default: half of the physical
    /// memory; also SODEEP_MAX_MEMORY). Work estimated to need more is refused up front.
    #[arg(long, global = true)]
    max_memory: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate the shipped sorters and the handcrafted one.
    EvalShipped(sorters::EvalShippedArgs),
    /// Train a sorter on synthetic data.
    TrainSorter(sorters::TrainSorterArgs),
    /// Meta-train a pairwise sorter for its job in a loss: students trained through it on
    /// synthetic tasks, its parameters moved to raise their true Spearman correlation.
    MetaTrainSorter(meta::MetaTrainSorterArgs),
    /// Evaluate a sorter: L1 to the exact ranks, per distribution, and Spearman.
    EvalSorter(sorters::EvalSorterArgs),
    /// List the shipped sorters with their model cards.
    ListSorters(sorters::ListSortersArgs),
    /// Rank score vectors (CSV, one per line, no header) with a sorter.
    Rank(rank::RankArgs),
    /// Make a shippable sorter folder from a training checkpoint, with a measured model card.
    ExportSorter(sorters::ExportSorterArgs),
    /// Benchmarks: `bench sorters` (Rust against PyTorch), `bench rankers` (every ranker),
    /// `bench data` (the generator).
    Bench {
        #[command(subcommand)]
        what: bench::BenchCommand,
    },
    /// Train a model with several losses (baselines and SoDeep rank losses) on real data and
    /// compare them over seeds: `spearman`, `map`, `retrieval` or `ltr` (learning to rank).
    Experiment(Box<experiments::ExperimentArgs>),
    /// Rebuild the paper's tables on real data and write DIR/report.md (the main job; with no
    /// subcommand, `sodeep` runs `reproduce --quick`).
    Reproduce(ReproduceConfig),
    /// Convert a PyTorch checkpoint of the reference implementation into a sorter folder.
    ImportTorch(sorters::ImportTorchArgs),
}

/// `--threads` above this many per core are capped, with a warning.
const MAX_THREADS_PER_CORE: usize = 4;

fn main() -> ExitCode {
    alloc::keep_freed_memory();
    // Like other command-line tools, end quietly when the reader of stdout goes away
    // (`sodeep list-sorters | head`); Rust's default turns that into a panic in `println!`.
    #[cfg(unix)]
    // SAFETY: restores the default action of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    // Errors are one clean message: with RUST_BACKTRACE set (common on developer machines)
    // candle would capture a backtrace into each error and print it after the message.
    // RUST_LIB_BACKTRACE=0 turns that off and leaves panic backtraces as they are.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    if let Some(m) = &cli.max_memory {
        // read by sodeep::memory; set before any other thread starts
        std::env::set_var(sodeep::memory::ENV, m);
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let threads = match cli.threads {
        None => cores,
        // thousands of threads only contend (5,000 took 24 s and 830 MB to start)
        Some(t) if t > MAX_THREADS_PER_CORE * cores => {
            let cap = MAX_THREADS_PER_CORE * cores;
            eprintln!(
                "warning: --threads {t} is more than {MAX_THREADS_PER_CORE} per core on this \
                 {cores}-core machine; using {cap}"
            );
            cap
        }
        Some(t) => t.max(1),
    };
    let command = cli
        .command
        .unwrap_or(Command::Reproduce(ReproduceConfig::quick()));
    let runs_jobs = match &command {
        Command::Experiment(_) | Command::Reproduce(_) => true,
        Command::Bench { what } => what.runs_jobs(),
        _ => false,
    };
    if runs_jobs {
        sodeep_lab::jobs::set_job_threads(threads);
    } else {
        sodeep::set_threads(threads);
    }
    let result = match command {
        Command::EvalShipped(a) => a.run(),
        Command::TrainSorter(a) => a.run(threads),
        Command::MetaTrainSorter(a) => a.run(),
        Command::EvalSorter(a) => a.run(),
        Command::ListSorters(a) => a.run(),
        Command::Rank(a) => a.run(),
        Command::ExportSorter(a) => a.run(),
        Command::Bench { what } => what.run(threads),
        Command::Experiment(a) => experiments::experiment(&a),
        Command::Reproduce(a) => experiments::reproduce(&a),
        Command::ImportTorch(a) => a.run(),
    };
    match result.map_err(anyhow::Error::from) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each cause once: the library errors already put their
/// cause in their own message (`cannot write X: No space left on device`), which anyhow's `{:#}`
/// would repeat.
fn one_line(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}

#[cfg(test)]
mod tests {
    use clap::builder::ValueParser;
    use clap::CommandFactory;

    use super::Cli;

    /// The size table the integration test `tests/sizes.rs` runs: one row per numeric argument.
    const TABLE: &str = include_str!("../tests/sizes.txt");

    /// Every argument that takes a number (or a list of numbers), as `subcommand path --long`.
    fn numeric_args() -> Vec<String> {
        fn numeric(p: &ValueParser) -> bool {
            use std::any::TypeId;
            let t = p.type_id();
            [
                TypeId::of::<usize>(),
                TypeId::of::<u64>(),
                TypeId::of::<u32>(),
                TypeId::of::<i64>(),
                TypeId::of::<f64>(),
                TypeId::of::<f32>(),
            ]
            .iter()
            .any(|id| t == *id)
        }
        fn walk(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                if let Some(long) = arg.get_long() {
                    if numeric(arg.get_value_parser()) {
                        out.push(format!("{path} --{long}").trim().to_string());
                    }
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), out);
            }
        }
        let mut out = Vec::new();
        walk(&Cli::command(), "", &mut out);
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn every_numeric_argument_has_a_row_in_the_size_table() {
        let keys: Vec<&str> = TABLE
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| l.split('|').next().unwrap_or("").trim())
            .collect();
        let missing: Vec<String> = numeric_args()
            .into_iter()
            .filter(|a| !keys.contains(&a.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "numeric arguments without a row in crates/sodeep-cli/tests/sizes.txt: {missing:?}"
        );
    }
}
