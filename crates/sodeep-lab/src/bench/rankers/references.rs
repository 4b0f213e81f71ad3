//! The PyTorch references of `bench rankers` (torchsort, diffsort), in a worker process.

use std::collections::BTreeMap;

use serde::Serialize;

use super::config::RankerBenchConfig;
use super::timing::{time_pair, Timing};
use crate::bench::worker::TorchWorker;
use crate::error::{Error, Result};

/// A reference library's timings.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Reference {
    /// At batch 256, n = 100.
    pub b256: Option<Timing>,
    /// At batch 1 by n.
    pub by_n: BTreeMap<String, Timing>,
}

/// The reference worker and what it reported.
pub(super) struct References {
    pub(super) worker: Option<TorchWorker>,
    pub(super) versions: String,
    pub(super) torchsort: bool,
    pub(super) diffsort: bool,
    /// Why the worker stopped answering (killed for memory, crashed), once it did.
    pub(super) failure: Option<String>,
}

/// Peak memory of one PyTorch reference call at batch 1, so that the references stop growing n
/// under the same 2 GiB rule as ours. diffsort multiplies one dense n × n matrix per network
/// layer and autograd keeps them all; the factor 5 is what the process measured (18.5 GB
/// resident for odd-even at n = 1,000 before it was killed).
pub(super) fn reference_memory_bytes(method: &str, n: usize) -> u64 {
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
    pub(super) fn start(cfg: &RankerBenchConfig, log: &mut impl FnMut(&str)) -> Self {
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
    pub(super) fn call(
        &mut self,
        method: &str,
        mode: &str,
        batch: usize,
        n: usize,
    ) -> Result<Option<f64>> {
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

    pub(super) fn time(
        &mut self,
        method: &str,
        batch: usize,
        n: usize,
        min_time: f64,
    ) -> Result<Option<Timing>> {
        time_pair(min_time, |backward| {
            let mode = if backward { "fwdbwd" } else { "fwd" };
            self.call(method, mode, batch, n)
        })
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
