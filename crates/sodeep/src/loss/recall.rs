//! [`RecallLoss`]: `Σ_i max(0, α + r(S_i·)_i − min_{j≠i} r(S_i·)_j)`, rows and columns (the paper's eq. 10).

use std::sync::{Arc, Mutex};

use candle_core::Tensor;
use rand_chacha::ChaCha8Rng;

use super::diagonal::{columns_as_rows, diagonal_ranks};
use super::grouping::stream;
use super::reduction::Reduction;
use crate::error::Result;
use crate::ranker::Ranker;

/// Settings of [`RecallLoss`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecallConfig {
    /// Margin α in normalised-rank units (`k/n` asks for a gap of k places).
    pub margin: f64,
    /// Also rank each column (both retrieval directions; default true).
    pub both_directions: bool,
    /// Mean (default), sum or none (one value per row, then per column).
    pub reduction: Reduction,
    /// Seed of the grouping's shuffles and pads.
    pub seed: u64,
}

impl Default for RecallConfig {
    fn default() -> Self {
        Self {
            margin: 0.02,
            both_directions: true,
            reduction: Reduction::Mean,
            seed: 0,
        }
    }
}

/// The paper's eq. (10): for a square similarity matrix `S` whose positives lie on the
/// diagonal, `Σ_i max(0, α + r(S_i·)_i − min_{j≠i} r(S_i·)_j)`: the positive must rank ahead of
/// the hardest (best-ranked) negative by α. With `both_directions`, columns are ranked too.
pub struct RecallLoss {
    ranker: Arc<dyn Ranker>,
    config: RecallConfig,
    rng: Mutex<ChaCha8Rng>,
}

impl RecallLoss {
    /// A recall loss through `ranker`.
    pub fn new(ranker: Arc<dyn Ranker>, config: RecallConfig) -> Self {
        Self {
            ranker,
            rng: stream(config.seed),
            config,
        }
    }

    /// The loss of an `n × n` similarity matrix.
    pub fn forward(&self, sim: &Tensor) -> Result<Tensor> {
        let mut terms = Vec::new();
        let mut directions = vec![sim.clone()];
        if self.config.both_directions {
            directions.push(columns_as_rows(sim)?);
        }
        for s in &directions {
            let d = diagonal_ranks(self.ranker.as_ref(), s, &self.rng)?;
            let hinge = ((d.positive - d.hardest_negative)? + self.config.margin)?.relu()?;
            terms.push(hinge);
        }
        let all = Tensor::cat(&terms, 0)?;
        let ones = all.ones_like()?;
        self.config.reduction.apply(&all, &ones)
    }
}
