//! Synthetic score vectors, the only training data a sorter ever sees.
//!
//! Each [`Distribution`] has a stable name used by the CLI and by the evaluation output.
//! Generation is seeded and deterministic: the same RNG state gives the same batch.
//!
//! A batch holds `B` vectors of `d` scores and their exact SoDeep ranks
//! (`rank_i = (#{j : s_j > s_i} + 1) / d`).
//!
//! ```
//! use rand::SeedableRng;
//! use sodeep::synthetic::{generate, Distribution};
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
//! let batch = generate(Distribution::Uniform, &mut rng, 3, 5);
//! assert_eq!((batch.scores.len(), batch.ranks.len()), (15, 15));
//! // each vector's ranks are a permutation of 1/5, 2/5, …, 1
//! let mut first: Vec<f32> = batch.ranks[..5].to_vec();
//! first.sort_by(f32::total_cmp);
//! assert_eq!(first, vec![0.2, 0.4, 0.6, 0.8, 1.0]);
//! ```

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::error::{Error, Result};
use crate::rank::sodeep_rank_rows;

/// A distribution of score vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Distribution {
    /// Independent uniform[-1, 1] scores.
    Uniform,
    /// Independent N(0, 1) scores.
    Normal,
    /// Evenly spaced in a random sub-range of [-1, 1], increasing.
    LinspaceIncreasing,
    /// Evenly spaced in a random sub-range of [-1, 1], decreasing.
    LinspaceDecreasing,
    /// Evenly spaced in a random sub-range of [-1, 1], shuffled.
    LinspaceShuffled,
    /// A random split point; each part drawn from uniform, normal or evenly spaced (any order).
    SplitMixture,
    /// The default mixture. Each vector comes from one of four families with equal
    /// probability: uniform, normal, evenly spaced (its order — increasing, decreasing or
    /// shuffled — picked uniformly) and split mixtures.
    All,
}

impl Distribution {
    /// The six concrete distributions that [`Distribution::All`] mixes, in a fixed order.
    pub const CONCRETE: [Distribution; 6] = [
        Distribution::Uniform,
        Distribution::Normal,
        Distribution::LinspaceIncreasing,
        Distribution::LinspaceDecreasing,
        Distribution::LinspaceShuffled,
        Distribution::SplitMixture,
    ];

    /// The stable name of the distribution.
    pub fn name(self) -> &'static str {
        match self {
            Distribution::Uniform => "uniform",
            Distribution::Normal => "normal",
            Distribution::LinspaceIncreasing => "linspace-increasing",
            Distribution::LinspaceDecreasing => "linspace-decreasing",
            Distribution::LinspaceShuffled => "linspace-shuffled",
            Distribution::SplitMixture => "split-mixture",
            Distribution::All => "all",
        }
    }

    /// Parses a stable name.
    pub fn from_name(name: &str) -> Result<Self> {
        Self::CONCRETE
            .iter()
            .chain(std::iter::once(&Distribution::All))
            .find(|d| d.name() == name)
            .copied()
            .ok_or_else(|| {
                let known: Vec<_> = Self::CONCRETE.iter().map(|d| d.name()).collect();
                Error::InvalidArgument(format!(
                    "unknown distribution '{name}' (known: {}, all)",
                    known.join(", ")
                ))
            })
    }

    /// One of the three evenly spaced orders, picked uniformly.
    fn random_linspace(rng: &mut ChaCha8Rng) -> Distribution {
        [
            Distribution::LinspaceIncreasing,
            Distribution::LinspaceDecreasing,
            Distribution::LinspaceShuffled,
        ][rng.random_range(0..3)]
    }

    /// Fills `out` with one vector of this distribution and returns the concrete distribution
    /// it was drawn from (for [`Distribution::All`], the one picked).
    pub fn sample_into(self, rng: &mut ChaCha8Rng, out: &mut [f32]) -> Distribution {
        match self {
            Distribution::All => {
                let pick = match rng.random_range(0..4) {
                    0 => Distribution::Uniform,
                    1 => Distribution::Normal,
                    2 => Self::random_linspace(rng),
                    _ => Distribution::SplitMixture,
                };
                pick.sample_into(rng, out);
                pick
            }
            Distribution::Uniform => {
                out.iter_mut()
                    .for_each(|v| *v = rng.random_range(-1.0f32..=1.0));
                self
            }
            Distribution::Normal => {
                out.iter_mut().for_each(|v| *v = rng.sample(StandardNormal));
                self
            }
            Distribution::LinspaceIncreasing
            | Distribution::LinspaceDecreasing
            | Distribution::LinspaceShuffled => {
                let a: f32 = rng.random_range(-1.0..=1.0);
                let b: f32 = rng.random_range(-1.0..=1.0);
                let (lo, hi) = (a.min(b), a.max(b));
                let n = out.len();
                let step = if n > 1 {
                    (hi - lo) / (n - 1) as f32
                } else {
                    0.0
                };
                for (i, v) in out.iter_mut().enumerate() {
                    *v = lo + step * i as f32;
                }
                match self {
                    Distribution::LinspaceDecreasing => out.reverse(),
                    Distribution::LinspaceShuffled => out.shuffle(rng),
                    _ => {}
                }
                self
            }
            Distribution::SplitMixture => {
                let n = out.len();
                let split = if n > 1 { rng.random_range(1..n) } else { n };
                let (left, right) = out.split_at_mut(split);
                for part in [left, right] {
                    let base = match rng.random_range(0..3) {
                        0 => Distribution::Uniform,
                        1 => Distribution::Normal,
                        _ => Self::random_linspace(rng),
                    };
                    base.sample_into(rng, part);
                }
                self
            }
        }
    }
}

/// A batch of synthetic vectors with their exact SoDeep ranks.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Row-major `batch × d` scores.
    pub scores: Vec<f32>,
    /// Row-major `batch × d` SoDeep ranks of `scores`.
    pub ranks: Vec<f32>,
    /// The concrete distribution of each row.
    pub kinds: Vec<Distribution>,
    /// Vector length.
    pub d: usize,
}

impl Batch {
    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    /// Whether the batch holds no vector.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }
}

/// Draws `batch` vectors of length `d` from `dist`, with their exact ranks.
pub fn generate(dist: Distribution, rng: &mut ChaCha8Rng, batch: usize, d: usize) -> Batch {
    let mut scores = vec![0f32; batch * d];
    let mut kinds = Vec::with_capacity(batch);
    for row in scores.chunks_mut(d.max(1)).take(batch) {
        kinds.push(dist.sample_into(rng, row));
    }
    let ranks = sodeep_rank_rows(&scores, d);
    Batch {
        scores,
        ranks,
        kinds,
        d,
    }
}

/// Generation throughput in vectors per second (one thread): `batches` batches of
/// `batch × d` vectors from `dist`, with their exact ranks.
pub fn generation_throughput(dist: Distribution, d: usize, batch: usize, batches: usize) -> f64 {
    use rand::SeedableRng;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let start = std::time::Instant::now();
    let mut sink = 0.0f32;
    for _ in 0..batches {
        let b = generate(dist, &mut rng, batch, d);
        sink += b.ranks[0];
    }
    std::hint::black_box(sink);
    (batches * batch) as f64 / start.elapsed().as_secs_f64().max(1e-12)
}
