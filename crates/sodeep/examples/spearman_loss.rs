//! Train a linear model directly on Spearman's correlation with a shipped sorter as the loss.
//!
//! `cargo run --release --example spearman_loss`

use std::sync::Arc;

use candle_core::{Device, Tensor, Var};
use candle_nn::{Optimizer, SGD};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sodeep::loss::{SpearmanConfig, SpearmanLoss};
use sodeep::metrics::spearman;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let (m, k) = (250, 8);
    // a monotone but non-linear target: only its order matters to the loss
    let x: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
    let y: Vec<f32> = (0..m)
        .map(|i| (x[i * k] + 0.5 * x[i * k + 1] - x[i * k + 2]).exp())
        .collect();
    let xt = Tensor::from_vec(x, (m, k), &Device::Cpu)?;
    let yt = Tensor::from_vec(y.clone(), m, &Device::Cpu)?;
    let w = Var::from_vec(vec![0.01f32; k], (k, 1), &Device::Cpu)?;
    let ranker: Arc<dyn sodeep::Ranker> = Arc::new(sodeep::Sorter::load("best-100")?);
    let loss = SpearmanLoss::new(ranker, SpearmanConfig::default());
    let mut opt = SGD::new(vec![w.clone()], 1.0)?;
    for step in 0..=60 {
        let pred = xt.matmul(w.as_tensor())?;
        // 250 items through a d = 100 sorter: the grouping rule handles the batch size
        let l = loss.forward(&pred, &yt)?;
        if step % 20 == 0 {
            let p: Vec<f32> = pred.flatten_all()?.to_vec1()?;
            println!(
                "step {step:3}: loss {:.5}, Spearman {:.4}",
                l.to_scalar::<f32>()?,
                spearman(&p, &y)
            );
        }
        opt.backward_step(&l)?;
    }
    Ok(())
}
