//! Meta-training: a pairwise sorter trained for the job it does in a loss, not for L1 against
//! exact ranks.
//!
//! The fitness of the sorter's parameters `θ = (s_1..s_K, m_1..m_K, γ, ln Λ)` (see
//! [`crate::sorter::PairwiseSorter`]) is what a student reaches through it:
//!
//! ```text
//! F(θ) = mean over tasks t of  spearman( x_test·w_t(θ), y_test ),
//! w_t(θ) = T Adam steps from w₀ on  L(w) = SpearmanLoss_{sorter θ}( sets of n rows of x_train·w, y ),
//! ```
//!
//! on synthetic tasks ([`DownstreamTask`]). `F` is estimated by antithetic evolution strategies
//! (the sorter has few parameters): `2P` candidates `θ ± σ ε_i` meet the same tasks, their
//! fitnesses become centred ranks `u`, and
//!
//! ```text
//! g = Σ_i (u(θ + σε_i) − u(θ − σε_i)) ε_i / (2Pσ),     θ ← θ + Adam(g).
//! ```
//!
//! A fixed set of validation tasks, seeded apart, picks the iteration whose parameters are
//! kept. No evaluation data is used anywhere: the tasks are synthetic, as the paper's
//! training vectors are.
//!
//! ```
//! use sodeep::train::meta::centred_ranks;
//! assert_eq!(centred_ranks(&[0.3, 0.1, 0.2]), vec![0.5, -0.5, 0.0]);
//! ```

mod student;
mod task;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

pub use student::{student_spearman, StudentConfig};
pub use task::{DownstreamTask, TaskRanges};

use crate::card::{MetaRecord, Objective, SorterCard, TrainingRecord};
use crate::checkpoint::{save_sorter_dir, SorterFiles};
use crate::error::{Error, Result};
use crate::eval::{evaluate_lengths, EvalConfig};
use crate::optim::AdamConfig;
use crate::ranker::Ranker;
use crate::sorter::{parameter_count, Arch, Sorter};
use crate::synthetic::Distribution;

/// The method, as cards name it.
pub const METHOD: &str =
    "antithetic evolution strategies (centred ranks, Adam ascent) on synthetic Spearman tasks";

/// Seed offset of the validation tasks, apart from every training task's seed.
const VAL_SALT: u64 = 0x5eed_0000_0000_7a11;

/// The most iterations (and student steps, rows per step, validation period) a run may ask for.
pub const MAX_ITERATIONS: usize = 1_000_000;
/// The most candidates pairs, tasks or validation tasks a run may ask for.
pub const MAX_COUNT: usize = 100_000;

/// The most comparators a meta-trained sorter may have.
pub const MAX_COMPARATORS: usize = 64;

/// Seed of the vectors on which the saved sorter's L1 is recorded: `eval-sorter`'s default.
const CARD_EVAL_SEED: u64 = 0;

/// Lengths at which the saved sorter's L1 is recorded in its card.
const CARD_LENS: [usize; 5] = [3, 5, 10, 32, 100];

/// A meta-training run.
#[derive(Clone)]
pub struct MetaConfig {
    /// The pairwise sorter to start from (its comparators and bound `Λ`).
    pub init: Sorter,
    /// Comparators `K` of the trained sorter (`None`: the initial sorter's). More than the
    /// initial sorter's start as copies of its comparators at spread sharpness.
    pub comparators: Option<usize>,
    /// Iterations of the outer loop.
    pub iterations: usize,
    /// Antithetic pairs of candidates per iteration.
    pub population: usize,
    /// Tasks per candidate and iteration.
    pub tasks: usize,
    /// Validation tasks.
    pub val_tasks: usize,
    /// Validate every this many iterations (and after the last).
    pub validate_every: usize,
    /// Perturbation scale `σ`.
    pub sigma: f64,
    /// Adam step on `θ`.
    pub lr: f64,
    /// How students train.
    pub student: StudentConfig,
    /// Where tasks are drawn from.
    pub ranges: TaskRanges,
    /// Seed of the perturbations and the tasks.
    pub seed: u64,
    /// Rankers whose validation fitness is recorded beside the sorter's, for reference.
    pub references: Vec<(String, Arc<dyn Ranker>)>,
    /// The sorter folder written at the end.
    pub out: PathBuf,
}

impl MetaConfig {
    /// Defaults around `init`, writing to `out`.
    pub fn new(init: Sorter, out: impl Into<PathBuf>) -> Self {
        Self {
            init,
            comparators: None,
            iterations: 40,
            population: 8,
            tasks: 16,
            val_tasks: 64,
            validate_every: 5,
            sigma: 0.25,
            lr: 0.05,
            student: StudentConfig::default(),
            ranges: TaskRanges::default(),
            seed: 0,
            references: Vec::new(),
            out: out.into(),
        }
    }

    fn validate(&self) -> Result<()> {
        let cfg = &self.init.card().config;
        if cfg.arch != Arch::Pairwise {
            return Err(Error::InvalidArgument(format!(
                "meta-training needs a pairwise sorter to start from; {} is {}",
                self.init.name(),
                cfg.arch.name()
            )));
        }
        if cfg.lambda.is_none() {
            return Err(Error::InvalidArgument(format!(
                "{} has no bound on its sharpness (Λ = ∞); meta-training learns ln Λ and needs \
                 a finite start",
                self.init.name()
            )));
        }
        let counts = [
            ("--iterations", self.iterations, MAX_ITERATIONS),
            ("--population", self.population, MAX_COUNT),
            ("--tasks", self.tasks, MAX_COUNT),
            ("--val-tasks", self.val_tasks, MAX_COUNT),
            ("--validate-every", self.validate_every, MAX_ITERATIONS),
            ("--inner-steps", self.student.steps, MAX_ITERATIONS),
            (
                "--rows-per-step",
                self.student.rows_per_step,
                MAX_ITERATIONS,
            ),
            ("--checkpoints", self.student.checkpoints, MAX_ITERATIONS),
            (
                "--comparators",
                self.comparators.unwrap_or(1),
                MAX_COMPARATORS,
            ),
        ];
        for (flag, v, max) in counts {
            if !(1..=max).contains(&v) {
                return Err(Error::InvalidArgument(format!(
                    "{flag} must be between 1 and {max}, got {v}"
                )));
            }
        }
        for (flag, v) in [
            ("--sigma", self.sigma),
            ("--lr", self.lr),
            ("--student-lr", self.student.lr),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::InvalidArgument(format!(
                    "{flag} must be a positive number, got {v}"
                )));
            }
        }
        let k0 = self.init.card().config.hidden;
        if let Some(k) = self.comparators.filter(|&k| k < k0) {
            return Err(Error::InvalidArgument(format!(
                "--comparators {k} is below the {k0} comparators of {}: a run may add \
                 comparators, not remove them",
                self.init.name()
            )));
        }
        let r = &self.ranges;
        if r.set_len[0] < 2
            || r.set_len[0] > r.set_len[1]
            || r.features[0] == 0
            || r.features[0] > r.features[1]
        {
            return Err(Error::InvalidArgument(
                "task ranges: set lengths need 2 ≤ lo ≤ hi, features at least 1".into(),
            ));
        }
        if r.set_len[1] > r.train_rows {
            return Err(Error::InvalidArgument(format!(
                "sets of {} items do not fit in {} training rows",
                r.set_len[1], r.train_rows
            )));
        }
        crate::memory::check("meta-training", self.memory_bytes())
    }

    /// Peak memory: the tasks of one iteration and the validation tasks (inputs and targets,
    /// f32), and each parallel candidate's student batch with the sorter's `n × n × K`
    /// reference scratch (the upper bound of the fused op's).
    pub fn memory_bytes(&self) -> u64 {
        let r = &self.ranges;
        let per_task = (r.train_rows + r.test_rows) as u64 * (r.features[1] as u64 + 1) * 4;
        let tasks = (self.tasks as u64).saturating_add(self.val_tasks as u64);
        let n = r.set_len[1] as u64;
        let k0 = self.init.card().config.hidden;
        let k = self.comparators.unwrap_or(k0).max(k0) as u64;
        let rows = (self.student.rows_per_step as u64).max(n);
        let width = r.features[1] as u64 + 1 + self.student.hidden as u64;
        let student = rows
            .saturating_mul(width)
            .saturating_mul(8)
            .saturating_add(rows.saturating_mul(n).saturating_mul(k).saturating_mul(16));
        let parallel = (rayon::current_num_threads() as u64).min(2 * self.population as u64);
        per_task
            .saturating_mul(tasks)
            .saturating_add(student.saturating_mul(parallel))
    }
}

/// Progress after each iteration.
#[derive(Debug, Clone)]
pub struct MetaProgress {
    /// Iterations done.
    pub iteration: usize,
    /// Mean fitness of this iteration's candidates.
    pub fitness: f64,
    /// Validation fitness, when measured at this iteration.
    pub val_fitness: Option<f64>,
    /// Best validation fitness so far.
    pub best_val_fitness: f64,
    /// Wall seconds so far.
    pub seconds: f64,
}

/// What [`meta_train`] did.
#[derive(Debug, Clone)]
pub struct MetaSummary {
    /// The saved sorter's card.
    pub card: SorterCard,
    /// Where it was saved.
    pub out: PathBuf,
}

/// The ranks of `f` (ascending) mapped to `[−½, ½]`, ties in order of appearance: the fitness
/// shaping of evolution strategies, which makes the update blind to the fitness's scale.
pub fn centred_ranks(f: &[f64]) -> Vec<f64> {
    let n = f.len();
    if n < 2 {
        return vec![0.0; n];
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| f[a].total_cmp(&f[b]));
    let mut u = vec![0.0; n];
    for (r, &i) in idx.iter().enumerate() {
        u[i] = r as f64 / (n - 1) as f64 - 0.5;
    }
    u
}

/// The antithetic estimate `Σ_i (u⁺_i − u⁻_i) ε_i / (2Pσ)` from the fitnesses of `θ + σε_i`
/// (`plus`) and `θ − σε_i` (`minus`), shaped together by [`centred_ranks`].
pub fn es_gradient(plus: &[f64], minus: &[f64], eps: &[Vec<f64>], sigma: f64) -> Vec<f64> {
    let p = eps.len();
    let all: Vec<f64> = plus.iter().chain(minus).copied().collect();
    let u = centred_ranks(&all);
    let dim = eps.first().map_or(0, Vec::len);
    let mut g = vec![0.0; dim];
    for (i, e) in eps.iter().enumerate() {
        let w = (u[i] - u[p + i]) / (2.0 * p as f64 * sigma);
        for (gj, ej) in g.iter_mut().zip(e) {
            *gj += w * ej;
        }
    }
    g
}

/// `θ` of a pairwise sorter: its weights and `ln Λ`.
fn theta_of(sorter: &Sorter) -> Result<Vec<f64>> {
    let w = sorter.weights();
    let get = |name: &str| -> Result<Vec<f64>> {
        let t = w.get(name).ok_or_else(|| Error::BadWeights {
            path: sorter.name().into(),
            reason: format!("no tensor {name}"),
        })?;
        Ok(t.to_dtype(candle_core::DType::F64)?.to_vec1::<f64>()?)
    };
    let mut theta = get("log_sharpness")?;
    theta.extend(get("mix")?);
    theta.extend(get("len_exponent")?);
    let bound = sorter.card().config.lambda.unwrap_or(f64::INFINITY);
    theta.push(bound.ln());
    Ok(theta)
}

/// `θ` with `k` comparators: the first `K₀` are `θ`'s, each further one a copy of comparator
/// `j mod K₀` with its log-sharpness moved by ±1, ±2, … (alternating), so that the mixture
/// starts spread over sharpness; all mixing logits start equal.
fn with_comparators(theta: &[f64], k: usize) -> Vec<f64> {
    let k0 = (theta.len() - 2) / 2;
    if k <= k0 {
        return theta.to_vec();
    }
    let mut out: Vec<f64> = (0..k)
        .map(|j| match j.checked_sub(k0) {
            None => theta[j],
            // the i-th added comparator: +1, −1, +2, −2, …
            Some(i) => {
                let shift = (i / 2 + 1) as f64;
                theta[j % k0] + if i.is_multiple_of(2) { shift } else { -shift }
            }
        })
        .collect();
    out.extend(std::iter::repeat_n(0.0, k));
    out.extend_from_slice(&theta[2 * k0..]);
    out
}

/// The sorter at `θ`, with `base`'s configuration and `K` comparators.
fn sorter_at(base: &SorterCard, theta: &[f64], name: &str) -> Result<Sorter> {
    let k = (theta.len() - 2) / 2;
    let vec = |v: &[f64]| -> Result<Tensor> {
        let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
        Ok(Tensor::new(v.as_slice(), &Device::Cpu)?)
    };
    let tensors = HashMap::from([
        ("log_sharpness".to_string(), vec(&theta[..k])?),
        ("mix".to_string(), vec(&theta[k..2 * k])?),
        ("len_exponent".to_string(), vec(&theta[2 * k..2 * k + 1])?),
    ]);
    let mut card = base.clone();
    card.config.hidden = k;
    // Λ stays within f32 (the card's rule), and above the sharpest start the kernels accept
    card.config.lambda = Some(theta[2 * k + 1].clamp(-10.0, 80.0).exp());
    Sorter::from_tensors(name, card, tensors, std::path::Path::new(name))
}

/// Task seed `j` of iteration `it` (training) or of the validation set (`it = None`).
fn task_seed(seed: u64, it: Option<usize>, j: usize) -> u64 {
    let base = match it {
        Some(it) => seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ ((it as u64) << 20),
        None => seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ VAL_SALT,
    };
    base.wrapping_add(j as u64)
}

/// Mean student Spearman of `ranker` over `tasks`.
fn fitness(ranker: Arc<dyn Ranker>, tasks: &[DownstreamTask], cfg: &MetaConfig) -> Result<f64> {
    let mut sum = 0.0;
    for t in tasks {
        sum += student_spearman(ranker.clone(), t, &cfg.student)?;
    }
    Ok(sum / tasks.len() as f64)
}

/// Runs meta-training and writes the best sorter (by validation fitness) to `cfg.out`, with a
/// card whose `training.objective` is `downstream-spearman`.
pub fn meta_train(
    cfg: &MetaConfig,
    mut progress: impl FnMut(&MetaProgress),
) -> Result<MetaSummary> {
    cfg.validate()?;
    let start = Instant::now();
    let base = cfg.init.card().clone();
    let theta0 = theta_of(&cfg.init)?;
    let mut theta = with_comparators(&theta0, cfg.comparators.unwrap_or(1));
    let dim = theta.len();
    let val_tasks: Vec<DownstreamTask> = (0..cfg.val_tasks)
        .map(|j| DownstreamTask::generate(&cfg.ranges, task_seed(cfg.seed, None, j)))
        .collect();
    let candidate = |theta: &[f64]| -> Result<Arc<dyn Ranker>> {
        Ok(Arc::new(sorter_at(&base, theta, "meta-candidate")?))
    };
    let init_val = fitness(candidate(&theta)?, &val_tasks, cfg)?;
    let references = cfg
        .references
        .par_iter()
        .map(|(name, r)| Ok((name.clone(), fitness(r.clone(), &val_tasks, cfg)?)))
        .collect::<Result<BTreeMap<_, _>>>()?;
    let (mut best, mut best_val, mut best_it) = (theta.clone(), init_val, 0);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let (mut m, mut v) = (vec![0.0; dim], vec![0.0; dim]);
    let mut curve = Vec::new();
    for it in 1..=cfg.iterations {
        let tasks: Vec<DownstreamTask> = (0..cfg.tasks)
            .map(|j| DownstreamTask::generate(&cfg.ranges, task_seed(cfg.seed, Some(it), j)))
            .collect();
        let eps: Vec<Vec<f64>> = (0..cfg.population)
            .map(|_| (0..dim).map(|_| rng.sample(StandardNormal)).collect())
            .collect();
        let mut jobs: Vec<Vec<f64>> = Vec::with_capacity(2 * cfg.population);
        for sign in [1.0, -1.0] {
            for e in &eps {
                jobs.push(
                    theta
                        .iter()
                        .zip(e)
                        .map(|(t, e)| t + sign * cfg.sigma * e)
                        .collect(),
                );
            }
        }
        let f = jobs
            .par_iter()
            .map(|th| fitness(candidate(th)?, &tasks, cfg))
            .collect::<Result<Vec<f64>>>()?;
        let (plus, minus) = f.split_at(cfg.population);
        let g = es_gradient(plus, minus, &eps, cfg.sigma);
        // Adam, ascending, in f64 on a plain vector: `optim::Adam` updates candle variables from
        // a backward pass's gradients, and this gradient comes from the ES estimate instead
        let AdamConfig { beta1, beta2, eps } = AdamConfig::default();
        let (bc1, bc2) = (1.0 - beta1.powi(it as i32), 1.0 - beta2.powi(it as i32));
        for j in 0..dim {
            m[j] = beta1 * m[j] + (1.0 - beta1) * g[j];
            v[j] = beta2 * v[j] + (1.0 - beta2) * g[j] * g[j];
            theta[j] += cfg.lr * (m[j] / bc1) / ((v[j] / bc2).sqrt() + eps);
        }
        let mean = f.iter().sum::<f64>() / f.len() as f64;
        let val = (it.is_multiple_of(cfg.validate_every) || it == cfg.iterations)
            .then(|| fitness(candidate(&theta)?, &val_tasks, cfg))
            .transpose()?;
        if let Some(val) = val {
            if val > best_val {
                (best, best_val, best_it) = (theta.clone(), val, it);
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        curve.push((it, seconds, mean, val));
        progress(&MetaProgress {
            iteration: it,
            fitness: mean,
            val_fitness: val,
            best_val_fitness: best_val,
            seconds,
        });
    }
    let out_name = cfg.out.display().to_string();
    let sorter = sorter_at(&base, &best, &out_name)?;
    let lens = evaluate_lengths(
        &sorter,
        &CARD_LENS,
        &EvalConfig {
            samples: 300,
            d: 0,
            seed: CARD_EVAL_SEED,
            distribution: Distribution::All,
        },
    )?;
    let val_l1_by_len: BTreeMap<usize, f64> = lens.by_len.iter().map(|(&n, f)| (n, f.l1)).collect();
    let val_l1 = val_l1_by_len.values().sum::<f64>() / val_l1_by_len.len() as f64;
    let host = crate::host::Host::detect();
    let record = TrainingRecord {
        objective: Objective::DownstreamSpearman,
        meta: Some(MetaRecord {
            method: METHOD.into(),
            init: cfg.init.name().into(),
            iterations: cfg.iterations,
            population: cfg.population,
            tasks: cfg.tasks,
            val_tasks: cfg.val_tasks,
            sigma: cfg.sigma,
            lr: cfg.lr,
            inner_steps: cfg.student.steps,
            student_lr: cfg.student.lr,
            rows_per_step: cfg.student.rows_per_step,
            student_hidden: cfg.student.hidden,
            features: cfg.ranges.features,
            set_len: cfg.ranges.set_len,
            curve,
            init_val_fitness: init_val,
            best_val_fitness: best_val,
            best_iteration: best_it,
            references,
        }),
        step: cfg.iterations,
        val_l1,
        val_l1_by_len,
        best_val_l1: val_l1,
        best_step: best_it,
        seed: cfg.seed,
        batch: cfg.population * 2 * cfg.tasks,
        lr: cfg.lr,
        val_samples: 300,
        val_seed: CARD_EVAL_SEED,
        distribution: "downstream".into(),
        threads: rayon::current_num_threads(),
        wall_seconds: start.elapsed().as_secs_f64(),
        machine: host.summary(),
        ..Default::default()
    };
    let mut card = sorter.card().clone();
    card.parameters = parameter_count(sorter.weights());
    card.crate_version = env!("CARGO_PKG_VERSION").into();
    card.training = Some(record);
    card.source = None;
    let weights = sorter.weights().clone();
    save_sorter_dir(
        &cfg.out,
        &SorterFiles {
            card: &card,
            weights: &weights,
            optimizer: None,
        },
    )?;
    Ok(MetaSummary {
        card,
        out: cfg.out.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn es_gradient_points_up_a_linear_fitness() {
        // F(θ) = 3θ₀ − θ₁: the estimate must have the signs of (3, −1)
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let eps: Vec<Vec<f64>> = (0..32)
            .map(|_| (0..2).map(|_| rng.sample(StandardNormal)).collect())
            .collect();
        let f = |s: f64, e: &[f64]| 3.0 * s * e[0] - s * e[1];
        let plus: Vec<f64> = eps.iter().map(|e| f(0.1, e)).collect();
        let minus: Vec<f64> = eps.iter().map(|e| f(-0.1, e)).collect();
        let g = es_gradient(&plus, &minus, &eps, 0.1);
        assert!(g[0] > 0.0 && g[1] < 0.0 && g[0] > g[1].abs(), "{g:?}");
    }

    #[test]
    fn more_comparators_start_as_spread_copies() {
        // θ = (s, m, γ, ln Λ) with one comparator → three
        let t = with_comparators(&[1.0, 0.3, -0.5, 2.0], 3);
        assert_eq!(t, vec![1.0, 2.0, 0.0, 0.0, 0.0, 0.0, -0.5, 2.0]);
        assert_eq!(
            with_comparators(&[1.0, 0.3, -0.5, 2.0], 1),
            vec![1.0, 0.3, -0.5, 2.0]
        );
    }

    #[test]
    fn theta_round_trips_through_a_sorter() {
        let s = Sorter::load("any").unwrap();
        let theta = theta_of(&s).unwrap();
        assert_eq!(theta.len(), 4);
        let back = sorter_at(s.card(), &theta, "x").unwrap();
        let again = theta_of(&back).unwrap();
        for (a, b) in theta.iter().zip(&again) {
            assert!((a - b).abs() < 1e-5, "{theta:?} vs {again:?}");
        }
    }
}
