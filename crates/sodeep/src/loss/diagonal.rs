//! The ranks a retrieval loss reads from a square similarity matrix: the positive `S_ii` and
//! the hardest negative of each row, `min_{j≠i} r(S_i·)_j`.

use std::sync::Mutex;

use candle_core::{Tensor, D};
use rand_chacha::ChaCha8Rng;

use super::grouping::grouping;
use crate::error::{Error, Result};
use crate::ranker::Ranker;

/// The positive's rank in each row of a square similarity matrix, and the hardest negative's.
pub(super) struct DiagonalRanks {
    /// `n`: rank of `S_ii` within its row's group.
    pub(super) positive: Tensor,
    /// `n`: smallest rank among the row's real negatives (a large value when it has none).
    pub(super) hardest_negative: Tensor,
}

/// Ranks each row of the square `sim` with the grouping rule applied to its columns.
pub(super) fn diagonal_ranks(
    ranker: &dyn Ranker,
    sim: &Tensor,
    rng: &Mutex<ChaCha8Rng>,
) -> Result<DiagonalRanks> {
    let n = match sim.dims() {
        [a, b] if a == b => *a,
        other => {
            return Err(Error::InvalidArgument(format!(
                "a similarity matrix must be square (n × n, positives on the diagonal), got shape {other:?}"
            )))
        }
    };
    let g = grouping(rng, n, None, ranker.fixed_len())?;
    let (groups, len) = (g.groups, g.len);
    let dev = sim.device();
    let idx = Tensor::from_slice(&g.index, g.index.len(), dev)?;
    let laid_out = sim.index_select(&idx, 1)?.reshape((n * groups, len))?;
    let ranks = ranker.rank(&laid_out)?;
    // row i keeps only the group holding its own positive column
    let own: Vec<u32> = (0..n)
        .map(|i| (i * groups) as u32 + g.slot[i] / len as u32)
        .collect();
    let own_ranks = ranks.index_select(&Tensor::from_slice(&own, n, dev)?, 0)?;
    let pos_at: Vec<u32> = (0..n).map(|i| g.slot[i] % len as u32).collect();
    let positive = own_ranks
        .gather(&Tensor::from_slice(&pos_at, (n, 1), dev)?, 1)?
        .reshape(n)?;
    let mut neg = vec![0f32; n * len];
    for i in 0..n {
        let group = (g.slot[i] as usize) / len;
        for j in 0..len {
            if g.mask[group * len + j] > 0.0 && j != pos_at[i] as usize {
                neg[i * len + j] = 1.0;
            }
        }
    }
    let neg = Tensor::from_vec(neg, (n, len), dev)?.to_dtype(sim.dtype())?;
    // non-negatives are lifted past every rank (ranks are at most 1) before the min
    let lifted = (own_ranks + ((1.0 - neg)? * 4.0)?)?;
    Ok(DiagonalRanks {
        positive,
        hardest_negative: lifted.min(D::Minus1)?,
    })
}

/// Transposes a square matrix so that its columns can be ranked as rows.
pub(super) fn columns_as_rows(sim: &Tensor) -> Result<Tensor> {
    Ok(sim.t()?.contiguous()?)
}
