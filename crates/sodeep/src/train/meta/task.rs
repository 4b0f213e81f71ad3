//! Synthetic downstream tasks for meta-training: a random teacher makes the targets, and a
//! linear student learns them through a rank loss.
//!
//! ```text
//! x ~ N(0, diag(c)²) in R^p,   u = x·w* / sd(x·w*),   y = q( g(u) + σ·ε ),
//! ```
//!
//! with `p` features of random scales `c`, a random monotone link `g` (identity, exp, cube,
//! tanh), noise `ε` Gaussian or heavy-tailed (Student-t, 2 degrees of freedom), and, for one
//! task in three, `q` quantising `y` into 3 to 10 ordinal levels (tied targets, as in graded
//! ratings). Every task is a pure function of its seed, so the candidates of one
//! evolution-strategies iteration meet the same tasks (common random numbers).
//!
//! ```
//! use sodeep::train::meta::{DownstreamTask, TaskRanges};
//! let t = DownstreamTask::generate(&TaskRanges::default(), 7);
//! assert_eq!(t, DownstreamTask::generate(&TaskRanges::default(), 7));
//! assert_eq!(t.x_train.len(), t.y_train.len() * t.features);
//! assert!((3..=128).contains(&t.set_len));
//! ```

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// The ranges that tasks are drawn from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaskRanges {
    /// Features `p`, drawn uniformly from `[lo, hi]`.
    pub features: [usize; 2],
    /// Items per ranked set `n` (the length the sorter reads), drawn log-uniformly from
    /// `[lo, hi]`: small sets as in permutation learning, large ones as a training batch.
    pub set_len: [usize; 2],
    /// Training rows of each task.
    pub train_rows: usize,
    /// Test rows of each task, on which the student's true Spearman is measured.
    pub test_rows: usize,
}

impl Default for TaskRanges {
    fn default() -> Self {
        Self {
            features: [2, 16],
            set_len: [3, 128],
            train_rows: 512,
            test_rows: 512,
        }
    }
}

/// One synthetic regression task; matrices are row-major, `rows × features`.
#[derive(Debug, Clone, PartialEq)]
pub struct DownstreamTask {
    /// Feature count `p`.
    pub features: usize,
    /// Items per ranked set in the student's loss.
    pub set_len: usize,
    /// Training inputs.
    pub x_train: Vec<f32>,
    /// Training targets.
    pub y_train: Vec<f32>,
    /// Test inputs.
    pub x_test: Vec<f32>,
    /// Test targets.
    pub y_test: Vec<f32>,
    /// Seed of the student's initial weights and of its sets.
    pub student_seed: u64,
}

impl DownstreamTask {
    /// The task of `seed`.
    pub fn generate(ranges: &TaskRanges, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let p = rng.random_range(ranges.features[0]..=ranges.features[1].max(ranges.features[0]));
        let (lo, hi) = (
            ranges.set_len[0] as f64,
            ranges.set_len[1].max(ranges.set_len[0]) as f64,
        );
        let set_len = (lo.ln() + rng.random::<f64>() * (hi.ln() - lo.ln()))
            .exp()
            .round()
            .clamp(lo, hi) as usize;
        // feature scales spread over two decades, as real features' are (students standardise)
        let scales: Vec<f64> = (0..p)
            .map(|_| 10f64.powf(rng.random_range(-1.0..1.0)))
            .collect();
        // the teacher reads standardised inputs z = x / c: linear (u = w*·z / |w*|) in half of
        // the tasks, a tanh layer of 8 units (u = Σ_k a_k tanh(2 v_k·z / |v_k|) / √8) in the
        // other half, which no linear student fits exactly
        let units = if rng.random_bool(0.5) { 1 } else { 8 };
        let teacher: Vec<Vec<f64>> = (0..units)
            .map(|_| {
                let v: Vec<f64> = (0..p).map(|_| rng.sample(StandardNormal)).collect();
                let norm = v
                    .iter()
                    .map(|a| a * a)
                    .sum::<f64>()
                    .sqrt()
                    .max(f64::MIN_POSITIVE);
                v.into_iter().map(|a| a / norm).collect()
            })
            .collect();
        let out: Vec<f64> = (0..units).map(|_| rng.sample(StandardNormal)).collect();
        let link = rng.random_range(0..4u8);
        let noise = rng.random_range(0.1..1.0);
        let heavy = rng.random_bool(0.5);
        let levels = rng
            .random_bool(1.0 / 3.0)
            .then(|| rng.random_range(3..=10usize));
        let draw = |rows: usize, rng: &mut ChaCha8Rng| {
            let mut x = Vec::with_capacity(rows * p);
            let mut y = Vec::with_capacity(rows);
            let mut z = vec![0.0; p];
            for _ in 0..rows {
                for (zj, c) in z.iter_mut().zip(&scales) {
                    *zj = rng.sample(StandardNormal);
                    x.push((c * *zj) as f32);
                }
                let dot = |v: &[f64]| v.iter().zip(&z).map(|(a, b)| a * b).sum::<f64>();
                let u = match units {
                    1 => dot(&teacher[0]),
                    k => {
                        teacher
                            .iter()
                            .zip(&out)
                            .map(|(v, a)| a * (2.0 * dot(v)).tanh())
                            .sum::<f64>()
                            / (k as f64).sqrt()
                    }
                };
                let g = match link {
                    0 => u,
                    1 => u.exp(),
                    2 => u.powi(3),
                    _ => (2.0 * u).tanh(),
                };
                let e: f64 = rng.sample(StandardNormal);
                let e = if heavy {
                    // Student-t with 2 degrees of freedom: N / sqrt(χ²₂ / 2), χ²₂ = −2 ln U
                    let chi2 = -2.0 * (1.0 - rng.random::<f64>()).ln();
                    e / (chi2 / 2.0).sqrt().max(1e-6)
                } else {
                    e
                };
                y.push(g + noise * e);
            }
            (x, y)
        };
        let (x_train, y_train) = draw(ranges.train_rows, &mut rng);
        let (x_test, y_test) = draw(ranges.test_rows, &mut rng);
        let (y_train, y_test) = match levels {
            Some(k) => {
                let cuts = quantile_cuts(&y_train, k);
                (quantise(&y_train, &cuts), quantise(&y_test, &cuts))
            }
            None => (to_f32(&y_train), to_f32(&y_test)),
        };
        Self {
            features: p,
            set_len,
            x_train,
            y_train,
            x_test,
            y_test,
            student_seed: rng.random(),
        }
    }
}

fn to_f32(v: &[f64]) -> Vec<f32> {
    // heavy-tailed noise may exceed f32; clamping keeps the order of every representable value
    v.iter().map(|&y| y.clamp(-1e30, 1e30) as f32).collect()
}

/// The `k − 1` inner quantiles of `y`: the cuts between `k` equally filled levels.
fn quantile_cuts(y: &[f64], k: usize) -> Vec<f64> {
    let mut s = y.to_vec();
    s.sort_by(f64::total_cmp);
    (1..k).map(|i| s[i * s.len() / k]).collect()
}

/// The level of each value: how many cuts lie at or below it.
fn quantise(y: &[f64], cuts: &[f64]) -> Vec<f32> {
    y.iter()
        .map(|v| cuts.iter().filter(|c| *c <= v).count() as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantised_tasks_have_levels_and_others_do_not() {
        let ranges = TaskRanges::default();
        let mut quantised = 0;
        for seed in 0..30 {
            let t = DownstreamTask::generate(&ranges, seed);
            let mut distinct = t.y_train.clone();
            distinct.sort_by(f32::total_cmp);
            distinct.dedup();
            if distinct.len() <= 10 {
                quantised += 1;
                assert!(distinct.len() >= 3, "seed {seed}: {distinct:?}");
            }
            assert!(t.y_test.iter().all(|y| y.is_finite()));
        }
        // one task in three on average
        assert!((4..=18).contains(&quantised), "{quantised} of 30");
    }
}
