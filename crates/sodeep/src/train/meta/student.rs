//! The student of a synthetic task: a linear model `s = x·w` (or one ReLU layer) trained through a rank loss,
//! scored by its true Spearman correlation on the task's test rows.
//!
//! ```text
//! w ← Adam(w, ∇_w SpearmanLoss_ranker(sets of n rows of x_train·w, y)),  T steps from w₀ ~ N(0, 0.1²)
//! fitness = spearman(x_test·w, y_test)    (0 when the scores are constant)
//! ```
//!
//! ```
//! use std::sync::Arc;
//! use sodeep::relax::softrank::{Regularization, SoftRank};
//! use sodeep::train::meta::{student_spearman, DownstreamTask, StudentConfig, TaskRanges};
//! let task = DownstreamTask::generate(&TaskRanges::default(), 1);
//! let ranker = Arc::new(SoftRank::new(1.0, Regularization::L2)?);
//! let cfg = StudentConfig { steps: 40, ..Default::default() };
//! let trained = student_spearman(ranker.clone(), &task, &cfg)?;
//! let untrained = student_spearman(ranker, &task, &StudentConfig { steps: 0, ..cfg })?;
//! assert!(trained > untrained + 0.3, "{untrained} → {trained}");
//! # Ok::<(), sodeep::Error>(())
//! ```

use std::sync::Arc;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::task::DownstreamTask;
use crate::error::Result;
use crate::loss::{SpearmanConfig, SpearmanLoss};
use crate::metrics::spearman;
use crate::optim::{Adam, AdamConfig};
use crate::ranker::Ranker;

/// How students train.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StudentConfig {
    /// Adam steps `T`.
    pub steps: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Rows per step: `max(1, rows / n)` sets of the task's length `n`.
    pub rows_per_step: usize,
    /// Hidden ReLU units (0: a linear student).
    pub hidden: usize,
    /// Evaluations along the training (evenly spaced, the last at step `T`). With more than
    /// one, a fifth of the training rows is held out, and the fitness is the test Spearman at
    /// the evaluation with the best held-out Spearman: early stopping, as the experiments pick
    /// their epoch.
    pub checkpoints: usize,
}

impl Default for StudentConfig {
    fn default() -> Self {
        Self {
            steps: 30,
            lr: 0.05,
            rows_per_step: 128,
            hidden: 0,
            checkpoints: 1,
        }
    }
}

/// Trains the task's student (features standardised on the training rows, as the experiments
/// do) through `ranker`'s Spearman loss, and returns its Spearman correlation on the test rows.
pub fn student_spearman(
    ranker: Arc<dyn Ranker>,
    task: &DownstreamTask,
    cfg: &StudentConfig,
) -> Result<f64> {
    let p = task.features;
    let (x_train, x_test) = standardised(task);
    // with checkpoints, the last fifth of the training rows picks one (rows are i.i.d.)
    let held = match cfg.checkpoints {
        0 | 1 => 0,
        _ => task.y_train.len() / 5,
    };
    let rows = task.y_train.len() - held;
    let n = task.set_len.clamp(1, rows.max(1));
    let sets = (cfg.rows_per_step / n).clamp(1, (rows / n).max(1));
    let mut rng = ChaCha8Rng::seed_from_u64(task.student_seed);
    let mut normal = |count: usize, sd: f64| -> Result<Var> {
        let v: Vec<f32> = (0..count)
            .map(|_| (sd * rng.sample::<f64, _>(StandardNormal)) as f32)
            .collect();
        Ok(Var::from_vec(v, count, &Device::Cpu)?)
    };
    let varmap = VarMap::new();
    let layers: Vec<Var> = match cfg.hidden {
        0 => vec![normal(p, 0.1)?],
        h => vec![
            normal(p * h, (1.0 / p as f64).sqrt())?,
            Var::from_vec(vec![0f32; h], h, &Device::Cpu)?,
            normal(h, (1.0 / h as f64).sqrt())?,
        ],
    };
    {
        let mut vars = varmap.data().lock().expect("a fresh var map");
        for (i, v) in layers.iter().enumerate() {
            vars.insert(format!("w{i}"), v.clone());
        }
    }
    let forward = |x: &Tensor| -> Result<Tensor> {
        Ok(match cfg.hidden {
            0 => x.matmul(&layers[0].as_tensor().reshape((p, 1))?)?,
            h => x
                .matmul(&layers[0].as_tensor().reshape((p, h))?)?
                .broadcast_add(layers[1].as_tensor())?
                .relu()?
                .matmul(&layers[2].as_tensor().reshape((h, 1))?)?,
        })
    };
    let mut adam = Adam::new(&varmap, AdamConfig::default())?;
    let loss = SpearmanLoss::new(
        ranker,
        SpearmanConfig {
            seed: task.student_seed,
            ..Default::default()
        },
    );
    let spearman_on = |x: &[f32], y: &[f32]| -> Result<f64> {
        let m = y.len();
        let scores = forward(&Tensor::from_slice(x, (m, p), &Device::Cpu)?)?
            .to_dtype(DType::F64)?
            .flatten_all()?
            .to_vec1::<f64>()?;
        let targets: Vec<f64> = y.iter().map(|&v| v as f64).collect();
        let rho = spearman(&scores, &targets);
        Ok(if rho.is_finite() { rho } else { 0.0 })
    };
    let every = cfg.steps.div_ceil(cfg.checkpoints.max(1)).max(1);
    let mut best: Option<(f64, f64)> = None;
    let mut order: Vec<usize> = (0..rows).collect();
    let mut xb = vec![0f32; sets * n * p];
    let mut yb = vec![0f32; sets * n];
    for step in 1..=cfg.steps {
        order.shuffle(&mut rng);
        for (k, &r) in order[..sets * n].iter().enumerate() {
            xb[k * p..(k + 1) * p].copy_from_slice(&x_train[r * p..(r + 1) * p]);
            yb[k] = task.y_train[r];
        }
        let x = Tensor::from_slice(&xb, (sets * n, p), &Device::Cpu)?;
        let y = Tensor::from_slice(&yb, (sets, n), &Device::Cpu)?;
        let s = forward(&x)?.reshape((sets, n))?;
        let l = loss.forward(&s, &y)?;
        adam.step(&l.backward()?, cfg.lr)?;
        if held > 0 && (step.is_multiple_of(every) || step == cfg.steps) {
            let val = spearman_on(&x_train[rows * p..], &task.y_train[rows..])?;
            if best.is_none_or(|(v, _)| val > v) {
                best = Some((val, spearman_on(&x_test, &task.y_test)?));
            }
        }
    }
    match best {
        Some((_, test)) => Ok(test),
        None => spearman_on(&x_test, &task.y_test),
    }
}

/// The training and test inputs, each feature standardised by the training rows' mean and
/// standard deviation.
fn standardised(task: &DownstreamTask) -> (Vec<f32>, Vec<f32>) {
    let p = task.features;
    let rows = (task.x_train.len() / p).max(1) as f64;
    let mut mean = vec![0f64; p];
    let mut sq = vec![0f64; p];
    for x in task.x_train.chunks(p) {
        for j in 0..p {
            mean[j] += x[j] as f64 / rows;
            sq[j] += (x[j] as f64).powi(2) / rows;
        }
    }
    let sd: Vec<f64> = (0..p)
        .map(|j| (sq[j] - mean[j] * mean[j]).max(0.0).sqrt().max(1e-12))
        .collect();
    let apply = |x: &[f32]| -> Vec<f32> {
        x.iter()
            .enumerate()
            .map(|(i, &v)| ((v as f64 - mean[i % p]) / sd[i % p]) as f32)
            .collect()
    };
    (apply(&task.x_train), apply(&task.x_test))
}
