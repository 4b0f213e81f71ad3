//! One job of the benchmark: train a fresh CNN through one ranker at one n and seed, then test it.

use std::sync::Arc;
use std::time::Instant;

use candle_core::{Device, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::config::DigitSortConfig;
use super::data::{accuracy, sample_numbers, values_of, DigitPools};
use super::model::DigitCnn;
use super::published::{CurvePoint, PublishedOutcome, TimeSplit};
use super::table::DigitSortCell;
use crate::data::Matrix;
use crate::error::Result;
use crate::experiment::model::Trainer;
use crate::experiment::results::mean_sd;
use sodeep::loss::{SpearmanConfig, SpearmanLoss};
use sodeep::optim::LrSchedule;
use sodeep::ranker::Ranker;

/// The data every job shares.
pub(super) struct Shared {
    pub(super) images: Matrix,
    pub(super) labels: Vec<u8>,
    /// One pool split per seed.
    pub(super) pools: Vec<DigitPools>,
}

/// What one (ranker, n, seed) job measured.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct JobOutcome {
    pub(super) exact: f64,
    pub(super) elementwise: f64,
    pub(super) final_loss: f64,
    pub(super) train_seconds: f64,
    pub(super) eval_seconds: f64,
    /// Published protocol: the learning curve, the step validation picked and the time split.
    #[serde(default)]
    pub(super) published: Option<(Vec<CurvePoint>, usize, TimeSplit)>,
}

impl From<PublishedOutcome> for JobOutcome {
    fn from(o: PublishedOutcome) -> Self {
        Self {
            exact: o.exact,
            elementwise: o.elementwise,
            final_loss: o.final_loss,
            train_seconds: o.train_seconds,
            eval_seconds: o.eval_seconds,
            published: Some((o.curve, o.best_step, o.split)),
        }
    }
}

/// Seeds of the streams a job reads, all derived from the seed and n alone so that every
/// ranker sees the same weights and sets.
pub(super) fn init_seed(seed: usize) -> u64 {
    0xD161_7000 + seed as u64
}

pub(super) fn pool_seed(seed: usize) -> u64 {
    0xD161_5000 + seed as u64
}

pub(super) fn train_seed(seed: usize, n: usize) -> u64 {
    ((seed as u64) << 32) ^ (0x7A41 + n as u64)
}

pub(super) fn test_seed(seed: usize, n: usize) -> u64 {
    ((seed as u64) << 32) ^ (0x7E57_0000 + n as u64)
}

/// Test sets per forward pass, to bound the memory of the evaluation.
pub(super) const EVAL_CHUNK_NUMBERS: usize = 500;

pub(super) fn run_job(
    cfg: &DigitSortConfig,
    data: &Shared,
    ranker: &Arc<dyn Ranker>,
    n: usize,
    seed: usize,
) -> Result<JobOutcome> {
    let pools = &data.pools[seed];
    let model = DigitCnn::new(cfg.cnn, &mut ChaCha8Rng::seed_from_u64(init_seed(seed)))?;
    // The experiments' epoch loop (`model::fit`) cannot serve here: the protocol draws fresh
    // sets every step instead of passing over a fixed training split, follows a cosine
    // schedule over steps, and tests the last weights rather than a validation-picked epoch.
    // The optimiser step and its checks are the experiments' own (`Trainer`).
    let mut trainer = Trainer::new(&model.vars(), cfg.lr, cfg.weight_decay)?;
    let loss_fn = SpearmanLoss::new(
        ranker.clone(),
        SpearmanConfig {
            seed: train_seed(seed, n),
            ..Default::default()
        },
    );
    let mut rng = ChaCha8Rng::seed_from_u64(train_seed(seed, n));
    let m = cfg.sets_per_step * n;
    // one list id per set: ranks are only compared within a set
    let lists: Vec<u32> = (0..m).map(|i| (i / n) as u32).collect();
    let start = Instant::now();
    let mut recent = Vec::with_capacity(50);
    for step in 0..cfg.steps {
        let numbers = sample_numbers(&pools.train, m, &mut rng)?;
        let values: Vec<f32> = values_of(&numbers, &data.labels)
            .into_iter()
            .map(|v| v as f32)
            .collect();
        let scores = model.scores(&data.images, &numbers)?;
        let target = Tensor::from_vec(values, m, &Device::Cpu)?;
        let loss = loss_fn.forward_lists(&scores, &target, &lists)?;
        let schedule = LrSchedule::Cosine {
            lr: cfg.lr,
            steps: cfg.steps,
            last: cfg.lr / 20.0,
        };
        trainer.set_lr(schedule.at(step));
        let value = trainer.step(&loss, || {
            format!("in digit sort, {} at n = {n}, step {step}", ranker.name())
        })?;
        if recent.len() == 50 {
            recent.remove(0);
        }
        recent.push(value);
    }
    let train_seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let (exact, elementwise) = evaluate(&model, data, &pools.test, n, cfg.test_sets, seed)?;
    Ok(JobOutcome {
        exact,
        elementwise,
        final_loss: recent.iter().sum::<f64>() / recent.len().max(1) as f64,
        train_seconds,
        eval_seconds: start.elapsed().as_secs_f64(),
        published: None,
    })
}

/// Exact-match and element-wise accuracy of `model` on `sets` test sets of n (the same sets for
/// every ranker).
pub(super) fn evaluate(
    model: &DigitCnn,
    data: &Shared,
    pool: &[u32],
    n: usize,
    sets: usize,
    seed: usize,
) -> Result<(f64, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(test_seed(seed, n));
    let numbers = sample_numbers(pool, sets * n, &mut rng)?;
    let values = values_of(&numbers, &data.labels);
    let chunk = (EVAL_CHUNK_NUMBERS / n).max(1) * n;
    let mut scores = Vec::with_capacity(numbers.len());
    for part in numbers.chunks(chunk) {
        let s = model.scores(&data.images, part)?.detach();
        scores.extend(s.to_vec1::<f32>()?);
    }
    accuracy(&scores, &values, n)
}

// ---------- the benchmark ----------

/// Seconds of one CNN forward and backward pass per number, timed on a small batch.
pub(super) fn cnn_seconds_per_number(cfg: &DigitSortConfig, data: &Shared) -> Result<f64> {
    let model = DigitCnn::new(cfg.cnn, &mut ChaCha8Rng::seed_from_u64(0))?;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let numbers = sample_numbers(&data.pools[0].train, 50, &mut rng)?;
    let mut best = f64::INFINITY;
    // the best of three: the first call also pays for warming up
    for _ in 0..3 {
        let start = Instant::now();
        model
            .scores(&data.images, &numbers)?
            .sum_all()?
            .backward()?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(best / numbers.len() as f64)
}

/// Seconds of one forward and backward rank call on a step's sets of n, as the grouping lays
/// them out (one group of d per set for a sorter of fixed length d ≥ n); 0 when the ranker
/// cannot rank them (the job then fails and says why).
pub(super) fn rank_seconds(ranker: &dyn Ranker, n: usize, sets: usize) -> f64 {
    let len = ranker.fixed_len().unwrap_or(n).max(1);
    let groups = sets * n.div_ceil(len);
    let time = || -> Result<f64> {
        let values: Vec<f32> = (0..groups * len)
            .map(|i| (i * 7919 % 1009) as f32)
            .collect();
        let x = Var::from_vec(values, (groups, len), &Device::Cpu)?;
        let start = Instant::now();
        ranker.rank(x.as_tensor())?.sum_all()?.backward()?;
        Ok(start.elapsed().as_secs_f64())
    };
    let _ = time();
    time().unwrap_or(0.0)
}

pub(super) fn cell(runs: &[&Result<JobOutcome>]) -> DigitSortCell {
    let ok: Vec<&JobOutcome> = runs.iter().filter_map(|r| r.as_ref().ok()).collect();
    let pick = |f: fn(&JobOutcome) -> f64| ok.iter().map(|o| f(o)).collect::<Vec<f64>>();
    let exact = pick(|o| o.exact);
    let elem = pick(|o| o.elementwise);
    let stats = |v: &[f64]| {
        if v.is_empty() {
            (f64::NAN, f64::NAN)
        } else {
            mean_sd(v)
        }
    };
    let (exact_match, exact_match_sd) = stats(&exact);
    let (elementwise, elementwise_sd) = stats(&elem);
    DigitSortCell {
        exact_match,
        elementwise,
        exact_match_sd,
        elementwise_sd,
        exact_match_per_seed: exact,
        elementwise_per_seed: elem,
        final_loss_per_seed: pick(|o| o.final_loss),
        train_seconds_per_seed: pick(|o| o.train_seconds),
        eval_seconds_per_seed: pick(|o| o.eval_seconds),
        curve_per_seed: ok
            .iter()
            .filter_map(|o| o.published.as_ref().map(|p| p.0.clone()))
            .collect(),
        best_step_per_seed: ok
            .iter()
            .filter_map(|o| o.published.as_ref().map(|p| p.1))
            .collect(),
        time_split_per_seed: ok
            .iter()
            .filter_map(|o| o.published.as_ref().map(|p| p.2.clone()))
            .collect(),
        errors: runs
            .iter()
            .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
            .collect(),
    }
}
