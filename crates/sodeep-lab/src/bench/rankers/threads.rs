//! The thread sweep of `bench rankers --thread-sweep 1,2,4,8,16`: soft rank and the fused
//! sorter ops, forward and forward+backward, at each thread count in one process, and the
//! speedup of each count over one thread.
//!
//! Each count gets a rayon pool of its own (`ThreadPoolBuilder::install`), so the rows of soft
//! rank and the fused kernels' batches spread over exactly that many threads; candle's kernels
//! read the same count from `RAYON_NUM_THREADS` / `CANDLE_NUM_THREADS`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::timing::{time_ranker, Timing};
use crate::error::{Error, Result};
use sodeep::spec::parse;

/// The cases of the sweep: (ranker spec, batch, n). Soft rank at the sizes of the Python
/// speed tables; the fused sorter kernels (LSTM, GRU, CNN, pairwise) at the paper's d = 100.
pub const CASES: &[(&str, usize, usize)] = &[
    ("softrank", 256, 100),
    ("softrank", 256, 1_000),
    ("softrank", 256, 10_000),
    ("softrank", 16, 100_000),
    ("lstm-100", 256, 100),
    ("gru-100", 256, 100),
    ("cnn-100", 256, 100),
    ("any", 256, 100),
];

/// One case at every thread count.
#[derive(Debug, Clone, Serialize)]
pub struct SweepRow {
    /// The ranker spec.
    pub ranker: String,
    /// Batch size.
    pub batch: usize,
    /// Vector length.
    pub n: usize,
    /// Thread count → timing.
    pub by_threads: BTreeMap<usize, Timing>,
}

impl SweepRow {
    /// Forward+backward speedup of `threads` over the smallest count measured.
    pub fn speedup(&self, threads: usize) -> Option<f64> {
        let (_, base) = self.by_threads.iter().next()?;
        let t = self.by_threads.get(&threads)?;
        Some(base.fwdbwd_s / t.fwdbwd_s)
    }
}

/// The whole sweep.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadSweep {
    /// Thread counts, ascending.
    pub threads: Vec<usize>,
    /// One row per case.
    pub rows: Vec<SweepRow>,
    /// Logical CPUs of the machine (counts above it oversubscribe the cores).
    pub cpus: usize,
}

/// Parses `1,2,4,8,16`: positive counts, ascending after sorting, no repeats.
pub fn parse_counts(list: &str) -> Result<Vec<usize>> {
    let mut counts: Vec<usize> = list
        .split(',')
        .map(|s| match s.trim().parse::<usize>() {
            Ok(c) if (1..=1024).contains(&c) => Ok(c),
            _ => Err(Error::InvalidArgument(format!(
                "--thread-sweep: '{}' is not a thread count between 1 and 1024 (write e.g. 1,2,4,8,16)",
                s.trim()
            ))),
        })
        .collect::<Result<_>>()?;
    counts.sort_unstable();
    counts.dedup();
    if counts.is_empty() {
        return Err(Error::InvalidArgument(
            "--thread-sweep needs at least one thread count".into(),
        ));
    }
    Ok(counts)
}

/// Times every case of [`CASES`] at every count of `threads`; `min_time` seconds per timing.
pub fn thread_sweep(
    threads: &[usize],
    min_time: f64,
    log: &mut impl FnMut(&str),
) -> Result<ThreadSweep> {
    let mut rows: Vec<SweepRow> = CASES
        .iter()
        .map(|&(r, batch, n)| SweepRow {
            ranker: r.into(),
            batch,
            n,
            by_threads: BTreeMap::new(),
        })
        .collect();
    let rankers: Vec<_> = CASES
        .iter()
        .map(|(spec, _, _)| parse(spec))
        .collect::<sodeep::Result<_>>()?;
    for &t in threads {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .map_err(|e| Error::InvalidArgument(format!("a pool of {t} threads: {e}")))?;
        for (row, ranker) in rows.iter_mut().zip(&rankers) {
            let timing = pool.install(|| {
                crate::jobs::with_kernel_threads(t, || {
                    time_ranker(ranker.as_ref(), row.batch, row.n, min_time)
                })
            })?;
            log(&format!(
                "threads {t}: {} batch {} n {}: fwd {:.3} ms, fwd+bwd {:.3} ms",
                row.ranker,
                row.batch,
                row.n,
                timing.fwd_s * 1e3,
                timing.fwdbwd_s * 1e3
            ));
            row.by_threads.insert(t, timing);
        }
    }
    Ok(ThreadSweep {
        threads: threads.to_vec(),
        rows,
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
    })
}

impl ThreadSweep {
    /// The report's section: milliseconds (fwd+bwd) and speedup over the first count.
    pub fn report(&self) -> String {
        let first = self.threads[0];
        let mut s = format!(
            "## Thread sweep\n\nMedian milliseconds per forward+backward call (the backward of \
             Σ w·ranks), and in brackets the speedup over {first} thread(s), one rayon pool per \
             count in one process. This machine has {} logical CPUs.\n\n| ranker | batch | n |",
            self.cpus
        );
        for t in &self.threads {
            s.push_str(&format!(" {t} thr |"));
        }
        s.push_str("\n|---|---|---|");
        s.push_str(&"---|".repeat(self.threads.len()));
        s.push('\n');
        for row in &self.rows {
            s.push_str(&format!("| `{}` | {} | {} |", row.ranker, row.batch, row.n));
            for t in &self.threads {
                match (row.by_threads.get(t), row.speedup(*t)) {
                    (Some(tm), Some(x)) => {
                        s.push_str(&format!(" {:.2} (×{x:.2}) |", tm.fwdbwd_s * 1e3))
                    }
                    _ => s.push_str(" — |"),
                }
            }
            s.push('\n');
        }
        s.push_str(&self.targets());
        s
    }

    /// The two targets for soft rank, stated as met or not (or not measurable with
    /// these counts).
    fn targets(&self) -> String {
        let mut s = String::from("\n");
        let soft: Vec<&SweepRow> = self
            .rows
            .iter()
            .filter(|r| r.ranker == "softrank")
            .collect();
        let has = |t: usize| self.threads.contains(&t);
        if has(8) && has(16) {
            let worse: Vec<String> = soft
                .iter()
                .filter(|r| r.by_threads[&16].fwdbwd_s > r.by_threads[&8].fwdbwd_s)
                .map(|r| format!("n = {}", r.n))
                .collect();
            s.push_str(&format!(
                "- soft rank at 16 threads never slower than at 8: {}\n",
                if worse.is_empty() {
                    "met".to_string()
                } else {
                    format!("not met ({})", worse.join(", "))
                }
            ));
        } else {
            s.push_str("- soft rank at 16 threads against 8: not measured (sweep lacks 8 or 16)\n");
        }
        if has(1) && has(16) {
            let short: Vec<String> = soft
                .iter()
                .filter(|r| r.n >= 10_000)
                .filter_map(|r| {
                    let x = r.speedup(16)?;
                    (x < 8.0).then(|| format!("n = {}: ×{x:.2}", r.n))
                })
                .collect();
            s.push_str(&format!(
                "- soft rank at 16 threads at least 8× its 1-thread speed at n ≥ 10,000: {}\n",
                if short.is_empty() {
                    "met".to_string()
                } else {
                    format!("not met ({})", short.join(", "))
                }
            ));
        } else {
            s.push_str(
                "- soft rank's 16-thread speedup at n ≥ 10,000: not measured (sweep lacks 1 or 16)\n",
            );
        }
        s
    }
}
