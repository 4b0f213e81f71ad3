//! One step of sorter training, the one every sorter training runs (`train-sorter`, and the
//! fine-tuning of [`super::FineTuned`]): `L = mean_ij |f(x)_ij − r*(x)_ij|`, the mean L1 distance
//! between the predicted and the exact ranks, its gradient, and an Adam step.

use candle_core::Tensor;

use crate::error::Result;
use crate::optim::Adam;
use crate::sorter::SorterNet;

/// One training step of `net` on the scores `x` with exact ranks `target`, at learning rate
/// `lr`. `train_mode` selects BatchNorm's batch statistics. Returns the loss before the step as
/// a scalar tensor on the network's device, unread: reading it waits for a GPU to finish the
/// step, so callers read it only when they report it ([`crate::sorter::read_loss`]).
pub fn l1_step(
    net: &SorterNet,
    adam: &mut Adam,
    x: &Tensor,
    target: &Tensor,
    lr: f64,
    train_mode: bool,
) -> Result<Tensor> {
    let loss = (net.forward_t(x, train_mode)? - target)?
        .abs()?
        .mean_all()?;
    adam.step(&loss.backward()?, lr)?;
    Ok(loss.detach())
}
