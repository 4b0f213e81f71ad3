//! Helpers shared by the tests of the lab's commands: options parsed from argv strings into the
//! commands' own `clap::Args` types, errors as the user reads them, and a command run in a
//! process of its own when what it prints (stdout, stderr) or how it dies is under test.

// each test file uses its own subset of these helpers
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use clap::{Args, Parser};
use sodeep_lab::commands::bench::BenchCommand;
use sodeep_lab::commands::experiments::{experiment_config, ExperimentArgs};
use sodeep_lab::commands::rank::RankArgs;
use sodeep_lab::commands::sorters::{
    EvalSorterArgs, ExportSorterArgs, ImportTorchArgs, ListSortersArgs, TrainSorterArgs,
};
use sodeep_lab::experiment::{self, ExperimentResult};

/// One command's options, parsed as the CLI parses them (it flattens the same types).
#[derive(Parser)]
struct One<T: Args> {
    #[command(flatten)]
    args: T,
}

/// The whitespace-separated options `argv` (test paths have no spaces) as `T`; a parse error
/// is clap's message.
pub fn try_parse<T: Args>(argv: &str) -> Result<T, String> {
    One::<T>::try_parse_from(std::iter::once("lab").chain(argv.split_whitespace()))
        .map(|o| o.args)
        .map_err(|e| e.to_string())
}

/// [`try_parse`] for options that must parse.
pub fn parse<T: Args>(argv: &str) -> T {
    try_parse(argv).unwrap_or_else(|e| panic!("{argv}: {e}"))
}

/// An error with its causes on one line, each once, as the `sodeep` binary prints it.
pub fn message(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !msg.contains(&c_text) {
            msg.push_str(": ");
            msg.push_str(&c_text);
        }
        cause = c.source();
    }
    msg
}

/// Asserts that `r` failed with a message containing every `needle`, and returns the message.
#[track_caller]
pub fn fails_with<T: std::fmt::Debug>(r: sodeep_lab::Result<T>, needles: &[&str]) -> String {
    let e = r.expect_err("an error");
    let msg = message(&e);
    for n in needles {
        assert!(msg.contains(n), "expected '{n}' in: {msg}");
    }
    msg
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The `sodeep` crate's test fixtures.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sodeep/tests/fixtures")
}

/// Runs the experiment of the options `argv` (those of `sodeep experiment`) through the
/// command's configuration, writing `--out` when given, and returns what it measured.
pub fn experiment(argv: &str) -> sodeep_lab::Result<ExperimentResult> {
    let a: ExperimentArgs = parse(argv);
    let cfg = experiment_config(&a)?;
    let r = experiment::run(&cfg, &|_| {})?;
    experiment::maybe_write(&r, a.out.as_ref())?;
    Ok(r)
}

/// What `sodeep experiment` does with the options `argv`, output folder checks included.
pub fn experiment_command(argv: &str) -> sodeep_lab::Result<()> {
    sodeep_lab::commands::experiments::experiment(&parse(argv))
}

/// Trains the sorter of the `sodeep train-sorter` options `argv` on one thread.
pub fn train_sorter(argv: &str) -> sodeep_lab::Result<()> {
    parse::<TrainSorterArgs>(argv).run(1)
}

/// `sodeep eval-sorter` with the options `argv` (its output is not read).
pub fn eval_sorter(argv: &str) -> sodeep_lab::Result<()> {
    parse::<EvalSorterArgs>(argv).run()
}

/// `sodeep import-torch` with the options `argv`.
pub fn import_torch(argv: &str) -> sodeep_lab::Result<()> {
    parse::<ImportTorchArgs>(argv).run()
}

/// `sodeep export-sorter` with the options `argv`.
pub fn export_sorter(argv: &str) -> sodeep_lab::Result<()> {
    parse::<ExportSorterArgs>(argv).run()
}

/// `sodeep rank` with the options `argv` on the score vectors `input` (written to a file in
/// `dir`); returns the rows of its `--output` file, one vector per line.
pub fn rank(dir: &Path, argv: &str, input: &str) -> sodeep_lab::Result<Vec<Vec<f64>>> {
    let inp = write_file(dir, "scores.csv", input);
    let out = dir.join("ranks.csv");
    let _ = std::fs::remove_file(&out);
    let a: RankArgs = parse(&format!(
        "{argv} --input {} --output {}",
        inp.display(),
        out.display()
    ));
    a.run()?;
    Ok(std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect())
}

/// Asserts that `got` holds the rows of `want`, each value within 1e-3.
#[track_caller]
pub fn assert_close(got: &[Vec<f64>], want: &[Vec<f64>]) {
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.len(), w.len(), "{got:?}");
        for (a, b) in g.iter().zip(w) {
            assert!((a - b).abs() < 1e-3, "{got:?} vs {want:?}");
        }
    }
}

/// The lab's commands whose printed output the tests read, as the CLI names them.
#[derive(Parser)]
#[command(name = "lab")]
enum LabCommand {
    EvalSorter(EvalSorterArgs),
    ListSorters(ListSortersArgs),
    Rank(RankArgs),
    TrainSorter(TrainSorterArgs),
    Experiment(Box<ExperimentArgs>),
    #[command(subcommand)]
    Bench(BenchCommand),
}

impl LabCommand {
    /// Runs the command on one thread, set up as the CLI sets it up for `--threads 1`.
    fn run(self) -> sodeep_lab::Result<()> {
        let jobs = matches!(&self, LabCommand::Experiment(_))
            || matches!(&self, LabCommand::Bench(b) if b.runs_jobs());
        if jobs {
            sodeep_lab::jobs::set_job_threads(1);
        } else {
            sodeep::set_threads(1);
        }
        match self {
            LabCommand::EvalSorter(a) => a.run(),
            LabCommand::ListSorters(a) => a.run(),
            LabCommand::Rank(a) => a.run(),
            LabCommand::TrainSorter(a) => a.run(1),
            LabCommand::Experiment(a) => sodeep_lab::commands::experiments::experiment(&a),
            LabCommand::Bench(b) => b.run(1),
        }
    }
}

/// The variable that makes [`lab_child`] run a command: its argv, separated by spaces.
const CHILD_ARGV: &str = "SODEEP_LAB_TEST_ARGV";

/// Marks the start and end of what the command printed, among the test harness's lines.
const BEGIN: &str = "\u{1}begin\u{1}\n";
const END: &str = "\u{1}end\u{1}\n";

/// The entry point of the processes of [`printed`] and [`spawn`]: this test binary, re-run on
/// this test alone, runs the command of `SODEEP_LAB_TEST_ARGV` and exits with its status
/// (1 on an error, printed as `error: ...`). Without the variable there is nothing to run.
#[test]
#[ignore = "the entry point of the lab commands run in processes of their own"]
fn lab_child() {
    let Ok(argv) = std::env::var(CHILD_ARGV) else {
        return;
    };
    let cmd = LabCommand::try_parse_from(std::iter::once("lab").chain(argv.split_whitespace()))
        .unwrap_or_else(|e| panic!("{argv}: {e}"));
    print!("{BEGIN}");
    eprint!("{BEGIN}");
    let _ = std::io::stdout().flush();
    let code = match cmd.run() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            1
        }
    };
    print!("{END}");
    eprint!("{END}");
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

/// The command `argv` (`eval-sorter --sorter any ...`) as a process of its own, with piped
/// stdout and stderr and no stdin.
fn child(argv: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["common::lab_child", "--exact", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(CHILD_ARGV, argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// What a command printed, and how it ended.
#[derive(Debug)]
pub struct Printed {
    /// Exit status: 0, or 1 for an error.
    pub code: Option<i32>,
    /// What it wrote to stdout.
    pub stdout: String,
    /// What it wrote to stderr (its error message last).
    pub stderr: String,
}

impl Printed {
    /// Asserts that the command succeeded, and returns itself.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, Some(0), "{self:?}");
        self
    }

    /// Its stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

/// The part of `text` between the markers of [`lab_child`] (to its end when the command did
/// not finish), or `None` when the command never started.
fn between_markers(text: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(text);
    let from = text.find(BEGIN)? + BEGIN.len();
    let to = text[from..].find(END).map_or(text.len(), |i| from + i);
    Some(text[from..to].to_string())
}

/// Runs the command `argv` (`eval-sorter --sorter any ...`) in a process of its own and returns
/// what it printed.
pub fn printed(argv: &str) -> Printed {
    let o = child(argv).output().unwrap();
    let started = |text: &[u8]| {
        between_markers(text).unwrap_or_else(|| {
            panic!(
                "{argv}: the child process did not run the command: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
    };
    Printed {
        code: o.status.code(),
        stdout: started(&o.stdout),
        stderr: started(&o.stderr),
    }
}

/// Starts the command `argv` in a process of its own, printing nowhere, for a test that stops
/// it midway.
pub fn spawn(argv: &str) -> Child {
    child(argv)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}
