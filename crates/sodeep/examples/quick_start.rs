//! Train a candle model on a rank loss: a linear scorer learns to order items by a hidden
//! monotone target through a Spearman loss on soft ranks. (The README's quick start.)

use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::{AdamW, Linear, Optimizer, ParamsAdamW};
use sodeep::loss::{SpearmanConfig, SpearmanLoss};
use sodeep::metrics::spearman;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dev = Device::Cpu;
    // 256 items with 8 features; the target is a monotone function of a hidden linear score
    let (m, f) = (256, 8);
    let xs: Vec<f32> = (0..m * f)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let x = Tensor::from_vec(xs, (m, f), &dev)?;
    let hidden = Tensor::new(
        &[[1f32], [-2.0], [0.5], [3.0], [0.0], [-1.0], [2.0], [0.25]],
        &dev,
    )?;
    let y = x.matmul(&hidden)?.squeeze(1)?.exp()?;

    // a linear scorer, started on the opposite of the hidden weights: it ranks backwards
    let w = Var::from_tensor(&(hidden.t()? * -1.0)?)?;
    let b = Var::zeros(1, DType::F32, &dev)?;
    let model = Linear::new(w.as_tensor().clone(), Some(b.as_tensor().clone()));
    let mut opt = AdamW::new(
        vec![w, b],
        ParamsAdamW {
            lr: 0.05,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;

    // the rank loss: (soft ranks of the predictions − exact ranks of the targets)²
    let ranker = sodeep::spec::parse("softrank:eps=0.1")?;
    let loss = SpearmanLoss::new(ranker, SpearmanConfig::default());
    let rho = |pred: &Tensor| -> candle_core::Result<f64> {
        Ok(spearman(&pred.to_vec1::<f32>()?, &y.to_vec1::<f32>()?))
    };

    let before = rho(&model.forward(&x)?.squeeze(1)?)?;
    for _ in 0..300 {
        let pred = model.forward(&x)?.squeeze(1)?;
        opt.backward_step(&loss.forward(&pred, &y)?)?;
    }
    let after = rho(&model.forward(&x)?.squeeze(1)?)?;
    println!("Spearman correlation: {before:.3} before training, {after:.3} after");
    assert!(after > 0.95, "the rank loss did not train the model");
    Ok(())
}
