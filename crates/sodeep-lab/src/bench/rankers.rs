//! `sodeep bench rankers`: every differentiable ranker on the same work — accuracy against the
//! exact ranks, speed and scaling (with torchsort and diffsort as PyTorch references in the
//! same run), multi-digit MNIST sorting, and the downstream Spearman task.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use candle_core::{Device, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::worker::{median, TorchWorker};
use crate::error::{Error, Result};
use crate::experiment::digit_sort::{run_digit_sort, DigitSortCell, DigitSortConfig};
use sodeep::ranker::Ranker;
use sodeep::spec::parse;
use sodeep::synthetic::{generate, Distribution};

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
}

impl Section {
    /// Every section.
    pub const ALL: [Section; 4] = [
        Section::Accuracy,
        Section::Speed,
        Section::Mnist,
        Section::Downstream,
    ];

    /// Parses `accuracy`, `speed`, `mnist` or `downstream`.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "accuracy" => Ok(Section::Accuracy),
            "speed" => Ok(Section::Speed),
            "mnist" => Ok(Section::Mnist),
            "downstream" => Ok(Section::Downstream),
            other => Err(Error::InvalidArgument(format!(
                "unknown section '{other}': use accuracy, speed, mnist or downstream"
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

/// Options of [`bench_rankers`].
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
    /// A ranker stops growing n where [`Ranker::memory_bytes`] exceeds this.
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

/// Forward and forward+backward seconds of one call (medians).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Timing {
    /// Forward only.
    pub fwd_s: f64,
    /// Forward, then the backward of `Σ w·ranks`.
    pub fwdbwd_s: f64,
}

/// How softrank's batch-1 time grows with n.
#[derive(Debug, Clone, Serialize)]
pub struct Scaling {
    /// Sizes used in the fit (n ≥ 1,000, where fixed costs no longer dominate).
    pub sizes: Vec<usize>,
    /// Least-squares slope of log t against log n (1 for linear, about 1.1 for n log n here).
    pub slope_log_n: f64,
    /// Least-squares slope of log t against log(n log n): 1 when time grows as n log n.
    pub slope_log_nlogn: f64,
}

/// A reference library's timings.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Reference {
    /// At batch 256, n = 100.
    pub b256: Option<Timing>,
    /// At batch 1 by n.
    pub by_n: BTreeMap<String, Timing>,
}

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
}

fn build_all(specs: &[String]) -> Result<Vec<(String, Arc<dyn Ranker>)>> {
    specs.iter().map(|s| Ok((s.clone(), parse(s)?))).collect()
}

/// Mean L1 between `ranker`'s ranks and the exact SoDeep ranks on `samples` synthetic vectors
/// of length `d` (all families mixed, seed 0: the sorters' test protocol).
pub fn accuracy(ranker: &dyn Ranker, samples: usize, d: usize) -> Result<f64> {
    let cfg = sodeep::eval::EvalConfig {
        samples,
        d,
        seed: 0,
        distribution: Distribution::All,
    };
    Ok(sodeep::eval::evaluate(ranker, &cfg)?.l1)
}

/// Calls `f`, which times one call itself and returns its seconds (`None`: the method is not
/// available), until `min_time` seconds were measured and at least 3 calls made, after one
/// warm-up call; returns the median. A warm-up call longer than `min_time` is the measurement
/// itself (one call of a large problem is long enough to time, and repeating it would take
/// minutes).
fn time_calls(min_time: f64, mut f: impl FnMut() -> Result<Option<f64>>) -> Result<Option<f64>> {
    let Some(first) = f()? else {
        return Ok(None);
    };
    if first > min_time {
        return Ok(Some(first));
    }
    let mut times = Vec::new();
    let mut total = 0.0;
    while times.len() < 50 && (times.len() < 3 || total < min_time) {
        let Some(t) = f()? else {
            return Ok(None);
        };
        total += t;
        times.push(t);
    }
    Ok(Some(median(times)))
}

/// Times one call of `f`.
fn timed(f: impl FnOnce() -> Result<()>) -> Result<Option<f64>> {
    let t0 = Instant::now();
    f()?;
    Ok(Some(t0.elapsed().as_secs_f64()))
}

/// Forward and forward+backward timings of `ranker` on a `batch × n` input.
pub fn time_ranker(ranker: &dyn Ranker, batch: usize, n: usize, min_time: f64) -> Result<Timing> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let x = generate(Distribution::Normal, &mut rng, batch, n).scores;
    let x = Tensor::from_vec(x, (batch, n), &Device::Cpu)?;
    let w = Tensor::randn(0f32, 1.0, (batch, n), &Device::Cpu)?;
    let fwd_s = time_calls(min_time, || timed(|| Ok(ranker.rank(&x).map(|_| ())?)))?;
    let xv = Var::from_tensor(&x)?;
    let fwdbwd_s = time_calls(min_time, || {
        timed(|| {
            let loss = (ranker.rank(xv.as_tensor())? * &w)?.sum_all()?;
            let grads = loss.backward()?;
            grads
                .get(xv.as_tensor())
                .map(|_| ())
                .ok_or_else(|| Error::InvalidArgument(format!("{}: no gradient", ranker.name())))
        })
    })?;
    // a ranker's own timings are never missing
    Ok(Timing {
        fwd_s: fwd_s.unwrap_or(f64::NAN),
        fwdbwd_s: fwdbwd_s.unwrap_or(f64::NAN),
    })
}

/// The reference worker and what it reported.
struct References {
    worker: Option<TorchWorker>,
    versions: String,
    torchsort: bool,
    diffsort: bool,
    /// Why the worker stopped answering (killed for memory, crashed), once it did.
    failure: Option<String>,
}

/// Peak memory of one PyTorch reference call at batch 1, so that the references stop growing n
/// under the same 2 GiB rule as ours. diffsort multiplies one dense n × n matrix per network
/// layer and autograd keeps them all; the factor 5 is what the process measured (18.5 GB
/// resident for odd-even at n = 1,000 before it was killed).
fn reference_memory_bytes(method: &str, n: usize) -> u64 {
    let n = n as u64;
    let dense = |size: u64, layers: u64| 5 * 4 * layers.saturating_mul(size.saturating_mul(size));
    match method {
        "diffsort-oddeven" => dense(n, n),
        "diffsort-bitonic" => {
            let p = n.max(2).next_power_of_two();
            let k = p.trailing_zeros() as u64;
            dense(p, k * (k + 1) / 2)
        }
        _ => 64 * n,
    }
}

impl References {
    fn start(cfg: &RankerBenchConfig, log: &mut impl FnMut(&str)) -> Self {
        let Some(py) = &cfg.python else {
            return Self {
                worker: None,
                versions: "not run (--no-torch)".into(),
                torchsort: false,
                diffsort: false,
                failure: None,
            };
        };
        let args = ["--threads".to_string(), cfg.threads.to_string()];
        match TorchWorker::spawn(py, &cfg.script, &args) {
            Ok((w, versions)) => {
                let torchsort = !versions.contains("torchsort absent");
                let diffsort = !versions.contains("diffsort absent");
                log(&format!("references: {versions}"));
                Self {
                    worker: Some(w),
                    versions,
                    torchsort,
                    diffsort,
                    failure: None,
                }
            }
            Err(why) => {
                log(&format!("{why}: no PyTorch references"));
                Self {
                    worker: None,
                    versions: format!("not run: {why}"),
                    torchsort: false,
                    diffsort: false,
                    failure: None,
                }
            }
        }
    }

    /// One timed call of `method`, or `None` when it is not installed or the worker has died
    /// (the reason is kept in `failure`: a lost reference must not lose our own measurements).
    fn call(&mut self, method: &str, mode: &str, batch: usize, n: usize) -> Result<Option<f64>> {
        let Some(w) = self.worker.as_mut() else {
            return Ok(None);
        };
        let reply = match w.ask(&format!("{method} {mode} {batch} {n}")) {
            Ok(reply) => reply,
            Err(why) => {
                self.worker = None;
                self.failure = Some(format!("{method} at batch {batch}, n = {n}: {why}"));
                return Ok(None);
            }
        };
        if reply == "absent" {
            return Ok(None);
        }
        reply.parse().map(Some).map_err(|_| {
            Error::InvalidArgument(format!(
                "reference {method}: '{reply}' is not a time in seconds"
            ))
        })
    }

    fn time(
        &mut self,
        method: &str,
        batch: usize,
        n: usize,
        min_time: f64,
    ) -> Result<Option<Timing>> {
        let fwd_s = time_calls(min_time, || self.call(method, "fwd", batch, n))?;
        let fwdbwd_s = time_calls(min_time, || self.call(method, "fwdbwd", batch, n))?;
        Ok(fwd_s
            .zip(fwdbwd_s)
            .map(|(fwd_s, fwdbwd_s)| Timing { fwd_s, fwdbwd_s }))
    }
}

/// Least-squares slope of `ys` against `xs`.
fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let cov: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let var: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    cov / var
}

/// Fits softrank's growth from its batch-1 timings at n ≥ 1,000.
fn scaling(by_n: &BTreeMap<String, Timing>) -> Option<Scaling> {
    let mut pts: Vec<(usize, f64)> = by_n
        .iter()
        .filter_map(|(n, t)| Some((n.parse::<usize>().ok()?, t.fwdbwd_s)))
        .filter(|(n, _)| *n >= 1_000)
        .collect();
    pts.sort_by_key(|p| p.0);
    if pts.len() < 2 {
        return None;
    }
    let lt: Vec<f64> = pts.iter().map(|p| p.1.ln()).collect();
    let ln: Vec<f64> = pts.iter().map(|p| (p.0 as f64).ln()).collect();
    let lnl: Vec<f64> = pts
        .iter()
        .map(|p| (p.0 as f64 * (p.0 as f64).ln()).ln())
        .collect();
    Some(Scaling {
        sizes: pts.iter().map(|p| p.0).collect(),
        slope_log_n: slope(&ln, &lt),
        slope_log_nlogn: slope(&lnl, &lt),
    })
}

fn speed_section(
    cfg: &RankerBenchConfig,
    rankers: &[(String, Arc<dyn Ranker>)],
    out: &mut RankerBenchResult,
    log: &mut impl FnMut(&str),
) -> Result<()> {
    let mut refs = References::start(cfg, log);
    out.reference_versions = refs.versions.clone();
    // batch 256, n = 100, ours and torchsort alternated case by case
    for (name, r) in rankers {
        if r.fixed_len().is_some_and(|d| d != 100) {
            continue;
        }
        let t = time_ranker(r.as_ref(), 256, 100, cfg.min_time_s)?;
        log(&format!(
            "speed b256 n100 {name}: fwd {:.3} ms, fwd+bwd {:.3} ms",
            t.fwd_s * 1e3,
            t.fwdbwd_s * 1e3
        ));
        out.speed_b256.insert(name.clone(), t);
    }
    let methods = [
        ("torchsort-softrank", refs.torchsort),
        ("diffsort-oddeven", refs.diffsort),
        ("diffsort-bitonic", refs.diffsort),
    ];
    for (method, present) in methods {
        if !present {
            continue;
        }
        // diffsort builds n × n matrices per layer: seconds per call at batch 256, so the
        // quick protocol times it at batch 1 only
        if cfg.quick && method.starts_with("diffsort") {
            continue;
        }
        if let Some(t) = refs.time(method, 256, 100, cfg.min_time_s)? {
            log(&format!(
                "speed b256 n100 {method} (PyTorch): fwd {:.3} ms, fwd+bwd {:.3} ms",
                t.fwd_s * 1e3,
                t.fwdbwd_s * 1e3
            ));
            out.references.entry(method.into()).or_default().b256 = Some(t);
        }
    }
    // the headline ratio, measured again back to back so that both see the same machine state
    if refs.torchsort {
        if let Some((_, soft)) = rankers.iter().find(|(n, _)| n == "softrank") {
            let (mut ours, mut theirs, mut ours_f, mut theirs_f) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for _ in 0..7 {
                let a = time_ranker(soft.as_ref(), 256, 100, cfg.min_time_s / 2.0)?;
                if let Some(b) = refs.time("torchsort-softrank", 256, 100, cfg.min_time_s / 2.0)? {
                    ours.push(a.fwdbwd_s);
                    theirs.push(b.fwdbwd_s);
                    ours_f.push(a.fwd_s);
                    theirs_f.push(b.fwd_s);
                }
            }
            if !ours.is_empty() {
                out.torchsort_ratio = Some(median(ours) / median(theirs));
                out.torchsort_ratio_fwd = Some(median(ours_f) / median(theirs_f));
            }
        }
    }
    // batch 1 across n
    let mut lines: Vec<(String, Option<Arc<dyn Ranker>>)> = rankers
        .iter()
        .map(|(n, r)| (n.clone(), Some(r.clone())))
        .collect();
    for (method, present) in methods {
        if present {
            lines.push((method.to_string(), None));
        }
    }
    for (name, ranker) in lines {
        // references share names with our rankers; their skips are listed apart
        let label = match ranker {
            Some(_) => name.clone(),
            None => format!("{name} (PyTorch)"),
        };
        let mut last: Vec<(usize, f64)> = Vec::new();
        for &n in &cfg.sizes {
            if ranker
                .as_ref()
                .is_some_and(|r| r.fixed_len().is_some_and(|d| d != n))
            {
                continue;
            }
            let bytes = match &ranker {
                Some(r) => r.memory_bytes(n),
                None => reference_memory_bytes(&name, n),
            };
            if bytes > cfg.memory_limit {
                out.skipped.entry(label.clone()).or_default().push(format!(
                    "n = {n}: needs {:.1} GiB (> {:.0} GiB)",
                    bytes as f64 / (1u64 << 30) as f64,
                    cfg.memory_limit as f64 / (1u64 << 30) as f64
                ));
                break;
            }
            // extrapolate from what was measured: the exponent of the last two sizes, or 2
            if let Some(&(n0, t0)) = last.last() {
                let p = match last.len() {
                    1 => 2.0,
                    k => {
                        let (n1, t1) = last[k - 2];
                        ((t0 / t1).ln() / (n0 as f64 / n1 as f64).ln()).max(1.0)
                    }
                };
                let predicted = t0 * (n as f64 / n0 as f64).powf(p);
                if predicted > cfg.time_limit_s {
                    out.skipped.entry(label.clone()).or_default().push(format!(
                        "n = {n}: about {predicted:.0} s per call predicted (> {} s)",
                        cfg.time_limit_s
                    ));
                    break;
                }
            }
            let t = match &ranker {
                Some(r) => time_ranker(r.as_ref(), 1, n, cfg.min_time_s)?,
                None => match refs.time(&name, 1, n, cfg.min_time_s)? {
                    Some(t) => t,
                    None => break,
                },
            };
            log(&format!(
                "speed b1 n{n} {label}: fwd {:.3} ms, fwd+bwd {:.3} ms",
                t.fwd_s * 1e3,
                t.fwdbwd_s * 1e3
            ));
            last.push((n, t.fwdbwd_s));
            match &ranker {
                Some(_) => out.speed.entry(name.clone()).or_default(),
                None => &mut out.references.entry(name.clone()).or_default().by_n,
            }
            .insert(n.to_string(), t);
        }
    }
    if let Some(why) = refs.failure.take() {
        log(&format!("the PyTorch references stopped: {why}"));
        out.skipped
            .entry("PyTorch references".into())
            .or_default()
            .push(format!("stopped: {why}"));
    }
    out.softrank_scaling = out.speed.get("softrank").and_then(scaling);
    Ok(())
}

fn downstream_section(
    cfg: &RankerBenchConfig,
    out: &mut RankerBenchResult,
    log: &mut (impl FnMut(&str) + Send),
) -> Result<()> {
    use crate::experiment::{run, ExperimentConfig, Task};
    let mut ecfg = ExperimentConfig::new(Task::Spearman);
    ecfg.seeds = cfg.downstream_seeds;
    let mut losses: Vec<String> = cfg.rankers.iter().map(|r| format!("sodeep:{r}")).collect();
    losses.push("mse".into());
    ecfg.losses = Some(losses);
    ecfg.data_dir = cfg.data_dir.clone();
    let log = std::sync::Mutex::new(log);
    let result = run(&ecfg, &|m: &str| {
        if let Ok(mut l) = log.lock() {
            l(&format!("downstream: {m}"))
        }
    })?;
    for (loss, r) in &result.results {
        match loss.strip_prefix("sodeep:") {
            Some(spec) => {
                out.downstream.insert(spec.to_string(), r.mean);
                out.downstream_sd.insert(spec.to_string(), r.sd);
            }
            None => out.downstream_baseline = Some((loss.clone(), r.mean)),
        }
    }
    Ok(())
}

/// Runs the sections of `cfg`; `log` receives one line per measurement.
pub fn bench_rankers(
    cfg: &RankerBenchConfig,
    mut log: impl FnMut(&str) + Send,
) -> Result<RankerBenchResult> {
    if cfg.rankers.is_empty() {
        return Err(Error::InvalidArgument("no ranker to benchmark".into()));
    }
    if cfg.accuracy_samples == 0 || cfg.d == 0 {
        return Err(Error::InvalidArgument(
            "accuracy needs at least one vector of length at least 1".into(),
        ));
    }
    let rankers = build_all(&cfg.rankers)?;
    let grid = build_all(&cfg.grid)?;
    let mut out = RankerBenchResult {
        quick: cfg.quick,
        threads: cfg.threads,
        accuracy: BTreeMap::new(),
        accuracy_grid: BTreeMap::new(),
        accuracy_samples: cfg.accuracy_samples,
        speed: BTreeMap::new(),
        speed_b256: BTreeMap::new(),
        torchsort_ratio: None,
        torchsort_ratio_fwd: None,
        references: BTreeMap::new(),
        reference_versions: "not run".into(),
        softrank_scaling: None,
        skipped: BTreeMap::new(),
        mnist: BTreeMap::new(),
        mnist_table: None,
        downstream: BTreeMap::new(),
        downstream_sd: BTreeMap::new(),
        downstream_baseline: None,
        downstream_seeds: cfg.downstream_seeds,
        seconds: BTreeMap::new(),
        notes: Vec::new(),
    };
    for section in &cfg.sections {
        let start = Instant::now();
        match section {
            Section::Accuracy => {
                for (is_grid, list) in [(false, &rankers), (true, &grid)] {
                    for (name, r) in list {
                        if r.fixed_len().is_some_and(|d| d != cfg.d) {
                            continue;
                        }
                        let l1 = accuracy(r.as_ref(), cfg.accuracy_samples, cfg.d)?;
                        log(&format!("accuracy {name}: L1 {l1:.5}"));
                        if is_grid {
                            out.accuracy_grid.insert(name.clone(), l1);
                        } else {
                            out.accuracy.insert(name.clone(), l1);
                        }
                    }
                }
            }
            Section::Speed => speed_section(cfg, &rankers, &mut out, &mut log)?,
            Section::Mnist => {
                let mut mcfg = cfg.mnist.clone();
                mcfg.data_dir = cfg.data_dir.clone();
                let log_m = std::sync::Mutex::new(&mut log);
                let result = run_digit_sort(&mcfg, &rankers, &|m: &str| {
                    if let Ok(mut l) = log_m.lock() {
                        l(&format!("mnist: {m}"))
                    }
                })?;
                for (name, by_n) in &result.rankers {
                    out.mnist.insert(
                        name.clone(),
                        by_n.iter()
                            .map(|(n, c)| (n.to_string(), c.clone()))
                            .collect(),
                    );
                }
                let m = &cfg.mnist;
                out.mnist_table = Some(format!(
                    "Protocol: {} training steps of {} sets each, {} seed(s), {} test sets per n.\n\n{}",
                    m.steps,
                    m.sets_per_step,
                    m.seeds,
                    m.test_sets,
                    result.table()
                ));
            }
            Section::Downstream => downstream_section(cfg, &mut out, &mut log)?,
        }
        let name = serde_json::to_value(section)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out.seconds.insert(name, start.elapsed().as_secs_f64());
    }
    Ok(out)
}

fn fmt_ms(t: Option<f64>) -> String {
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
                 backward of Σ w·ranks).\n\n| ranker | fwd ms | fwd+bwd ms |\n|---|---|---|\n",
            );
            for (k, t) in &self.speed_b256 {
                s.push_str(&format!(
                    "| `{k}` | {} | {} |\n",
                    fmt_ms(Some(t.fwd_s)),
                    fmt_ms(Some(t.fwdbwd_s))
                ));
            }
            for (k, r) in &self.references {
                if let Some(t) = r.b256 {
                    s.push_str(&format!(
                        "| {k} (PyTorch) | {} | {} |\n",
                        fmt_ms(Some(t.fwd_s)),
                        fmt_ms(Some(t.fwdbwd_s))
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
            s.push_str(
                "## Multi-digit MNIST sorting\n\nSets of n four-digit numbers made of real MNIST digits \
                 (disjoint train and test digit images); a small CNN scores each number and is trained \
                 through each ranker with a rank loss against the true order (same CNN, steps and seeds \
                 for every ranker).\n\n",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_stop_where_their_dense_matrices_pass_two_gib() {
        let limit = 2u64 << 30;
        assert!(reference_memory_bytes("diffsort-oddeven", 100) < limit);
        assert!(reference_memory_bytes("diffsort-oddeven", 1_000) > limit);
        assert!(reference_memory_bytes("diffsort-bitonic", 1_000) < limit);
        assert!(reference_memory_bytes("diffsort-bitonic", 10_000) > limit);
        assert!(reference_memory_bytes("torchsort-softrank", 100_000) < limit);
    }
}
