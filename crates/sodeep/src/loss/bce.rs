//! [`bce_with_logits`]: `mean(max(x, 0) − x·y + log(1 + e^{−|x|}))`, binary cross-entropy on logits.

use candle_core::Tensor;

use crate::error::Result;

/// Binary cross-entropy on logits, mean over every entry, in the stable form
/// `max(x, 0) − x·y + log(1 + e^{−|x|})` (candle-nn's version takes `log(σ(x))`, which
/// overflows to −∞ once a logit is confidently wrong).
pub fn bce_with_logits(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let softplus = ((logits.abs()?.neg()?.exp()? + 1.0)?).log()?;
    let loss = ((logits.relu()? - (logits * targets)?)? + softplus)?;
    Ok(loss.mean_all()?)
}
