//! Running whole jobs (training runs of the experiments and benchmarks) side by side, one per
//! core, with everything inside a job single-threaded.
//!
//! candle 0.11 serialises its elementwise kernels through one global pool behind a lock, with
//! spinning workers; jobs that share it wait on each other (retrieval, 2 seeds on 2 cores:
//! 70 s in one process, against 34 s as two processes). So [`set_job_threads`] gives rayon's
//! pool one thread per job and tells candle and the fused kernels to use one thread each, and
//! [`run_jobs`] hands the jobs to that many plain threads.
//!
//! ```
//! let squares = sodeep_lab::jobs::run_jobs(&[1, 2, 3], |&x| Ok(x * x)).unwrap();
//! assert_eq!(squares, vec![1, 4, 9]);
//! ```

use crate::error::Result;

/// Sets up `n` threads for running whole jobs side by side: rayon's pool gets `n` threads, one
/// job each, while everything inside a job (candle's matrix products and elementwise pool, the
/// fused kernels) runs on that job's thread alone. Call it before any tensor work.
pub fn set_job_threads(n: usize) {
    let n = n.max(1);
    // candle and the fused kernels read these; rayon's pool below is sized explicitly
    std::env::set_var("RAYON_NUM_THREADS", "1");
    std::env::set_var("CANDLE_NUM_THREADS", "1");
    // an error means the pool was built already (by an earlier call): it keeps its size
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global();
}

/// Runs `f` with candle and the fused kernels allowed `n` threads (rayon's pool must have
/// them: [`set_job_threads`] sized it), then gives them one thread each again. For the parts
/// of a job-running command that time one call at a time, such as the speed section of
/// `bench rankers`: timed with one thread, our rankers would be compared single-threaded with
/// references that use all of theirs. Call it when no job is running.
pub fn with_kernel_threads<R>(n: usize, f: impl FnOnce() -> R) -> R {
    let n = n.max(1).to_string();
    std::env::set_var("RAYON_NUM_THREADS", &n);
    std::env::set_var("CANDLE_NUM_THREADS", &n);
    let out = f();
    std::env::set_var("RAYON_NUM_THREADS", "1");
    std::env::set_var("CANDLE_NUM_THREADS", "1");
    out
}

/// Runs `f` on every job, on as many plain threads as rayon's pool has, and returns the
/// results in job order (the first error wins).
///
/// Not rayon's `par_iter`: a whole training run is far too coarse for work stealing, and a
/// worker that waits inside one of candle's parallel kernels would steal and run another
/// whole training run (retrieval, 2 seeds on 2 cores: 67 s in one process against 34 s as two
/// processes).
pub fn run_jobs<J: Sync, R: Send>(
    jobs: &[J],
    f: impl Fn(&J) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let workers = rayon::current_num_threads().clamp(1, jobs.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<Result<R>>>> =
        jobs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= jobs.len() {
                    break;
                }
                let r = f(&jobs[i]);
                *slots[i].lock().expect("job slot") = Some(r);
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .expect("job slot")
                .expect("every job ran (the workers exhaust the queue)")
        })
        .collect()
}
