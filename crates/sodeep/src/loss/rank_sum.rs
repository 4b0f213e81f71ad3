//! [`RankSumLoss`]: `Σ_i r(S_i·)_i`, rows and optionally columns.

use std::sync::{Arc, Mutex};

use candle_core::Tensor;
use rand_chacha::ChaCha8Rng;

use super::diagonal::{columns_as_rows, diagonal_ranks};
use super::grouping::stream;
use super::reduction::Reduction;
use crate::error::Result;
use crate::ranker::Ranker;

/// Settings of [`RankSumLoss`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankSumConfig {
    /// Also rank each column (default true).
    pub both_directions: bool,
    /// Mean (default), sum or none.
    pub reduction: Reduction,
    /// Seed of the grouping's shuffles and pads.
    pub seed: u64,
}

impl Default for RankSumConfig {
    fn default() -> Self {
        Self {
            both_directions: true,
            reduction: Reduction::Mean,
            seed: 0,
        }
    }
}

/// `Σ_i r(S_i·)_i`: the ranker's ranks of the diagonal (positive) similarities, rows and
/// optionally columns. It pulls every positive towards rank 1/n, without a margin.
pub struct RankSumLoss {
    ranker: Arc<dyn Ranker>,
    config: RankSumConfig,
    rng: Mutex<ChaCha8Rng>,
}

impl RankSumLoss {
    /// A rank-sum loss through `ranker`.
    pub fn new(ranker: Arc<dyn Ranker>, config: RankSumConfig) -> Self {
        Self {
            ranker,
            rng: stream(config.seed),
            config,
        }
    }

    /// The loss of an `n × n` similarity matrix.
    pub fn forward(&self, sim: &Tensor) -> Result<Tensor> {
        let mut terms = vec![diagonal_ranks(self.ranker.as_ref(), sim, &self.rng)?.positive];
        if self.config.both_directions {
            let t = columns_as_rows(sim)?;
            terms.push(diagonal_ranks(self.ranker.as_ref(), &t, &self.rng)?.positive);
        }
        let all = Tensor::cat(&terms, 0)?;
        let ones = all.ones_like()?;
        self.config.reduction.apply(&all, &ones)
    }
}
