//! [`Standardized`]: a ranker that standardises each row before its inner ranker,
//! `r(x) = inner((x − mean(x)) / std(x))` (the paper's score-range alignment).

use candle_core::Tensor;

use super::standardize::standardize_rows;
use crate::error::Result;
use crate::ranker::Ranker;

/// Standardises each row (zero mean, unit variance) before ranking with the inner ranker: the
/// paper's score-range alignment, which puts a model's predictions on the scale the sorter saw
/// in training. Ranks are unchanged by the map, only the sorter's view of them.
pub struct Standardized(pub std::sync::Arc<dyn Ranker>);

impl Ranker for Standardized {
    fn name(&self) -> String {
        format!("{}+align", self.0.name())
    }

    fn fixed_len(&self) -> Option<usize> {
        self.0.fixed_len()
    }

    fn rank(&self, scores: &Tensor) -> Result<Tensor> {
        self.0.rank(&standardize_rows(scores)?)
    }
}
