//! Timing one ranker: warm-up, forward and forward+backward calls alternated up to a time
//! budget, their medians, and the
//! log-log slope of time against n.

use std::collections::BTreeMap;
use std::time::Instant;

use candle_core::{Device, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::bench::worker::median;
use crate::error::{Error, Result};
use sodeep::ranker::Ranker;
use sodeep::synthetic::{generate, Distribution};

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

/// Times a forward and a forward+backward call alternately: one warm-up call of each, then
/// rounds of one call of each until `min_time` seconds were measured and at least 3 rounds made
/// (50 at most; 1 when a round takes over ten times `min_time`), and returns the medians.
/// `call(backward)` times one call itself (forward only, or forward and backward) and returns
/// its seconds (`None`: the method is not available). Alternating puts both modes in the same
/// machine state, and the warm-up keeps first-call costs (allocation, lazy initialisation) out
/// of both.
pub(super) fn time_pair(
    min_time: f64,
    mut call: impl FnMut(bool) -> Result<Option<f64>>,
) -> Result<Option<Timing>> {
    let (Some(_), Some(warm)) = (call(false)?, call(true)?) else {
        return Ok(None);
    };
    let rounds_min = if warm > 10.0 * min_time { 1 } else { 3 };
    let (mut f_times, mut b_times) = (Vec::new(), Vec::new());
    let mut total = 0.0;
    while f_times.len() < 50 && (f_times.len() < rounds_min || total < min_time) {
        let (Some(f), Some(b)) = (call(false)?, call(true)?) else {
            return Ok(None);
        };
        total += f + b;
        f_times.push(f);
        b_times.push(b);
    }
    Ok(Some(Timing {
        fwd_s: median(f_times),
        fwdbwd_s: median(b_times),
    }))
}

/// Times one call of `f`.
pub(super) fn timed(f: impl FnOnce() -> Result<()>) -> Result<Option<f64>> {
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
    let xv = Var::from_tensor(&x)?;
    let timing = time_pair(min_time, |backward| {
        if !backward {
            return timed(|| Ok(ranker.rank(&x).map(|_| ())?));
        }
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
    Ok(timing.unwrap_or(Timing {
        fwd_s: f64::NAN,
        fwdbwd_s: f64::NAN,
    }))
}

/// Least-squares slope of `ys` against `xs`.
pub(super) fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let cov: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let var: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    cov / var
}

/// Fits softrank's growth from its batch-1 timings at n ≥ 1,000.
pub(super) fn scaling(by_n: &BTreeMap<String, Timing>) -> Option<Scaling> {
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
