//! Side-by-side timing of the Rust sorters and their PyTorch references (`bench/torch_sorters.py`),
//! case by case, alternating the two so that machine noise hits both alike, with the peak memory
//! of one step of each.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use candle_core::{Device, Tensor, Var};
use serde::Serialize;

use super::worker::{median, TorchWorker};
use crate::error::{Error, Result};
use sodeep::card::SorterCard;
use sodeep::optim::{Adam, AdamConfig};
use sodeep::sorter::{init_sorter, Arch, Sorter, SorterConfig};

/// The case names, in report order.
pub const CASES: [&str; 6] = [
    "lstm-h128-train",
    "lstm-h128-forward",
    "lstm-h512-train",
    "gru-train",
    "cnn-train",
    "lstm-h128-loss",
];

/// Options of [`bench_sorters`].
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Vectors per batch.
    pub batch: usize,
    /// Vector length.
    pub d: usize,
    /// Timed repetitions per case (after one warm-up run).
    pub reps: usize,
    /// Threads on both sides.
    pub threads: usize,
    /// Python interpreter, or `None` to bench the Rust side alone.
    pub python: Option<PathBuf>,
    /// The PyTorch reference script.
    pub script: PathBuf,
    /// Cases to run.
    pub cases: Vec<String>,
    /// Also measure each case's peak memory by running `EXE bench memory-probe CASE` and the
    /// script's `--memory-probe CASE` in fresh processes (Linux only).
    pub memory_probe: Option<PathBuf>,
}

/// Medians of one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// Rust median, seconds.
    pub rust_s: f64,
    /// PyTorch median, seconds, when PyTorch ran.
    pub torch_s: Option<f64>,
    /// `rust_s / torch_s`.
    pub ratio: Option<f64>,
}

/// The whole report (`sodeep bench sorters --json`).
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Results by case name.
    pub cases: BTreeMap<String, CaseResult>,
    /// PyTorch's version, or why it did not run.
    pub torch: String,
    /// Batch, d, threads and repetitions.
    pub batch: usize,
    /// Vector length.
    pub d: usize,
    /// Threads on both sides.
    pub threads: usize,
    /// Timed repetitions per case.
    pub reps: usize,
    /// Peak memory of one step of each case, when measured.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub memory: BTreeMap<String, MemoryResult>,
    /// The machine and the kernels it ran (figures from different hosts are not comparable).
    pub host: sodeep::host::Host,
}

/// Growth of the peak resident set size during one step, each side in a fresh process.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryResult {
    /// Rust, MiB.
    pub rust_mb: f64,
    /// PyTorch, MiB, when PyTorch ran.
    pub torch_mb: Option<f64>,
    /// `rust_mb / torch_mb`.
    pub ratio: Option<f64>,
}

type Step = Box<dyn FnMut() -> Result<()>>;

/// The sorter a bench case trains or runs, at vector length `d`.
fn case_config(case: &str, d: usize) -> Result<SorterConfig> {
    let (arch, hidden) = match case {
        "lstm-h128-train" | "lstm-h128-forward" | "lstm-h128-loss" => (Arch::Lstm, 128),
        "lstm-h512-train" => (Arch::Lstm, 512),
        "gru-train" => (Arch::Gru, Arch::Gru.default_hidden()),
        "cnn-train" => (Arch::Cnn, Arch::Cnn.default_hidden()),
        other => {
            return Err(Error::InvalidArgument(format!(
                "unknown bench case '{other}' (known: {})",
                CASES.join(", ")
            )))
        }
    };
    let mut cfg = SorterConfig::new(arch, d);
    cfg.hidden = hidden;
    Ok(cfg)
}

/// Refuses a case whose training memory at `batch` × `d` exceeds the budget.
fn check_case(case: &str, batch: usize, d: usize) -> Result<()> {
    Ok(sodeep::memory::check(
        &format!("bench case {case} at batch {batch}, d = {d}"),
        case_config(case, d)?.training_bytes(batch),
    )?)
}

fn rust_case(case: &str, batch: usize, d: usize) -> Result<Step> {
    check_case(case, batch, d)?;
    let cfg = case_config(case, d)?;
    let x = Tensor::randn(0f32, 1.0, (batch, d), &Device::Cpu)?;
    let target = Tensor::rand(0f32, 1.0, (batch, d), &Device::Cpu)?;
    let (varmap, net) = init_sorter(&cfg, 0)?;
    if case.ends_with("-train") {
        let mut adam = Adam::new(&varmap, AdamConfig::default())?;
        return Ok(Box::new(move || {
            let loss = (net.forward_t(&x, true)? - &target)?.abs()?.mean_all()?;
            Ok(adam.step(&loss.backward()?, 1e-3)?)
        }));
    }
    // a frozen sorter: weights as constants
    let weights = varmap
        .data()
        .lock()
        .expect("var map lock")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().detach()))
        .collect();
    let sorter = Sorter::from_tensors(case, SorterCard::new(cfg, 0), weights, Path::new(case))?;
    if case.ends_with("-forward") {
        return Ok(Box::new(move || {
            sorter
                .net()
                .forward_t(&x, false)
                .map(|_| ())
                .map_err(Into::into)
        }));
    }
    let xv = Var::from_tensor(&x)?;
    Ok(Box::new(move || {
        let y = sorter.net().forward_t(xv.as_tensor(), false)?;
        let loss = (y - &target)?.sqr()?.mean_all()?;
        let grads = loss.backward()?;
        grads
            .get(xv.as_tensor())
            .map(|_| ())
            .ok_or_else(|| Error::InvalidArgument("no input gradient".into()))
    }))
}

/// A field of `/proc/self/status`, in bytes (`None` where there is no such file).
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Builds `case`, runs one step and returns how far the peak resident set size grew during it,
/// in bytes. Meant for a fresh process (`sodeep bench memory-probe`), where no freed memory is
/// waiting to be reused; `None` where `/proc/self/status` does not exist.
pub fn step_peak_bytes(case: &str, batch: usize, d: usize) -> Result<Option<u64>> {
    let mut step = rust_case(case, batch, d)?;
    let Some(before) = status_bytes("VmRSS:") else {
        return Ok(None);
    };
    step()?;
    Ok(status_bytes("VmHWM:").map(|peak| peak.saturating_sub(before)))
}

/// Runs a probe command and reads the number of bytes it prints.
fn probe(cmd: &mut Command) -> Result<f64> {
    let out = cmd
        .stderr(Stdio::null())
        .output()
        .map_err(|e| Error::InvalidArgument(format!("memory probe: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse::<f64>()
        .map(|b| b / (1024.0 * 1024.0))
        .map_err(|_| Error::InvalidArgument(format!("memory probe printed '{}'", text.trim())))
}

/// The peak memory of one step of each case, each side in a fresh process: `EXE bench
/// memory-probe CASE` and, when PyTorch runs, the script's `--memory-probe CASE`.
fn measure_memory(
    cfg: &BenchConfig,
    exe: &Path,
    with_torch: bool,
    log: &mut impl FnMut(&str),
) -> Result<BTreeMap<String, MemoryResult>> {
    let sizes = [
        "--batch".to_string(),
        cfg.batch.to_string(),
        "--len".into(),
        cfg.d.to_string(),
    ];
    let threads = ["--threads".to_string(), cfg.threads.to_string()];
    let mut memory = BTreeMap::new();
    for case in &cfg.cases {
        let rust_mb = probe(
            Command::new(exe)
                .args(&threads)
                .args(["bench", "memory-probe", case])
                .args(&sizes),
        )?;
        let torch_mb = match (with_torch, &cfg.python) {
            (true, Some(py)) => Some(probe(
                Command::new(py)
                    .arg(&cfg.script)
                    .args(&threads)
                    .args(["--memory-probe", case])
                    .args(&sizes),
            )?),
            _ => None,
        };
        log(&format!(
            "{case}: peak memory of one step: rust {rust_mb:.1} MiB, torch {}",
            torch_mb.map_or("-".into(), |t| format!("{t:.1} MiB"))
        ));
        let r = MemoryResult {
            rust_mb,
            torch_mb,
            ratio: torch_mb.map(|t| rust_mb / t),
        };
        memory.insert(case.clone(), r);
    }
    Ok(memory)
}

/// Times every case of `cfg` on both sides, alternating them.
pub fn bench_sorters(cfg: &BenchConfig, mut log: impl FnMut(&str)) -> Result<BenchReport> {
    if cfg.reps == 0 || cfg.batch == 0 || cfg.d == 0 {
        return Err(Error::InvalidArgument(
            "--reps, --batch and --len must be at least 1".into(),
        ));
    }
    // every case is sized before the first runs
    for case in &cfg.cases {
        check_case(case, cfg.batch, cfg.d)?;
    }
    let mut torch = None;
    let torch_note = match &cfg.python {
        None => "not run (--no-torch)".to_string(),
        Some(py) => match start_worker(py, cfg) {
            Ok((w, version)) => {
                torch = Some(w);
                version
            }
            Err(why) => {
                log(&format!("{why}: benching the Rust side alone"));
                format!("not run: {why}")
            }
        },
    };
    let mut cases = BTreeMap::new();
    for case in &cfg.cases {
        let mut step = rust_case(case, cfg.batch, cfg.d)?;
        step()?;
        if let Some(w) = torch.as_mut() {
            w.run(case)?;
        }
        let (mut rs, mut ts) = (Vec::new(), Vec::new());
        for _ in 0..cfg.reps {
            let t0 = Instant::now();
            step()?;
            rs.push(t0.elapsed().as_secs_f64());
            if let Some(w) = torch.as_mut() {
                ts.push(w.run(case)?);
            }
        }
        let rust_s = median(rs);
        let torch_s = (!ts.is_empty()).then(|| median(ts));
        let r = CaseResult {
            rust_s,
            torch_s,
            ratio: torch_s.map(|t| rust_s / t),
        };
        log(&format!(
            "{case}: rust {rust_s:.4} s, torch {}",
            torch_s.map_or("-".into(), |t| format!("{t:.4} s"))
        ));
        cases.insert(case.clone(), r);
    }
    let memory = match &cfg.memory_probe {
        Some(exe) => measure_memory(cfg, exe, torch.is_some(), &mut log)?,
        None => BTreeMap::new(),
    };
    Ok(BenchReport {
        cases,
        memory,
        torch: torch_note,
        batch: cfg.batch,
        d: cfg.d,
        threads: cfg.threads,
        reps: cfg.reps,
        host: sodeep::host::Host::detect(),
    })
}

/// Starts the sorter script; `Err(reason)` if Python or PyTorch is not available.
fn start_worker(
    python: &Path,
    cfg: &BenchConfig,
) -> std::result::Result<(TorchWorker, String), String> {
    let args = [
        "--threads".to_string(),
        cfg.threads.to_string(),
        "--batch".into(),
        cfg.batch.to_string(),
        "--len".into(),
        cfg.d.to_string(),
    ];
    let (w, rest) = TorchWorker::spawn(python, &cfg.script, &args)?;
    match rest.strip_prefix("torch ") {
        Some(v) => Ok((w, v.to_string())),
        None => Err(format!("{} did not report PyTorch", cfg.script.display())),
    }
}
