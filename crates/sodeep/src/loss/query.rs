//! [`QueryLoss`]: the interface of the learning-to-rank losses, `L(scores, relevance, query ids)`.

use candle_core::Tensor;

use super::inputs::{as_vector, rows_as_lists};
use crate::error::Result;

/// A learning-to-rank loss: scores and relevance labels of documents grouped by query
/// ([`NdcgLoss`], [`LtrLoss`]). Bring it into scope to call `forward`, as with candle-nn's
/// `Module`.
pub trait QueryLoss: Send + Sync {
    /// The loss over the queries given by `lists`, one query id per document (the documents
    /// of a query need not be contiguous); `scores` and `relevance` are `m` or `m × 1`.
    fn forward_lists(&self, scores: &Tensor, relevance: &Tensor, lists: &[u32]) -> Result<Tensor>;

    /// The loss of one query (`scores` and `relevance` both `m` or `m × 1`), or of a `B × n`
    /// batch whose rows are B queries (relevance `B × n` too).
    fn forward(&self, scores: &Tensor, relevance: &Tensor) -> Result<Tensor> {
        match rows_as_lists(scores, relevance)? {
            Some((_, _, lists)) => {
                self.forward_lists(&scores.flatten_all()?, &relevance.flatten_all()?, &lists)
            }
            None => {
                let m = as_vector(scores, "scores")?.dim(0)?;
                self.forward_lists(scores, relevance, &vec![0; m])
            }
        }
    }
}
