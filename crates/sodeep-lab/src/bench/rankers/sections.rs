//! The sections of `bench rankers`: accuracy, speed and the downstream Spearman task (the MNIST
//! section is [`crate::experiment::digit_sort`]).

use std::sync::Arc;

use super::config::RankerBenchConfig;
use super::references::{reference_memory_bytes, References};
use super::report::RankerBenchResult;
use super::timing::{scaling, time_ranker};
use crate::bench::worker::median;
use crate::error::Result;
use sodeep::ranker::Ranker;
use sodeep::spec::parse;
use sodeep::synthetic::Distribution;

pub(super) fn build_all(specs: &[String]) -> Result<Vec<(String, Arc<dyn Ranker>)>> {
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

pub(super) fn speed_section(
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
    if let Some(soft) = out.speed_b256.get("softrank").map(|t| t.fwdbwd_s) {
        out.speed_b256_vs_softrank = out
            .speed_b256
            .iter()
            .map(|(k, t)| (k.clone(), t.fwdbwd_s / soft))
            .collect();
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

pub(super) fn downstream_section(
    cfg: &RankerBenchConfig,
    out: &mut RankerBenchResult,
    log: &mut (impl FnMut(&str) + Send),
) -> Result<()> {
    use crate::experiment::{run, spearman::Spearman, ExperimentConfig};
    let mut ecfg = ExperimentConfig::new(&Spearman);
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
