//! Train a candle model on a rank loss: a linear scorer learns to order items by a monotone
//! target through a Spearman loss on soft ranks. (The README's quick start.)
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{linear, Optimizer, VarBuilder, VarMap, SGD};
use sodeep::loss::{SpearmanConfig, SpearmanLoss};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dev = Device::Cpu;
    let x = Tensor::arange(0f32, 2048.0, &dev)?.reshape((256, 8))?; // 256 items, 8 features
    let x = x.sin()?;
    let y = (x.sum(1)? * 2.0)?.exp()?; // the target: a monotone function of a linear score
    let vars = VarMap::new();
    let model = linear(8, 1, VarBuilder::from_varmap(&vars, DType::F32, &dev))?;
    let mut opt = SGD::new(vars.all_vars(), 1.0)?;
    let ranker = sodeep::spec::parse("softrank:eps=0.1")?; // or neuralsort, best-100, ...
    let loss = SpearmanLoss::new(ranker, SpearmanConfig::default());
    for _ in 0..200 {
        opt.backward_step(&loss.forward(&model.forward(&x)?.squeeze(1)?, &y)?)?;
    }
    let pred = model.forward(&x)?.squeeze(1)?.to_vec1::<f32>()?;
    let rho = sodeep::metrics::spearman(&pred, &y.to_vec1::<f32>()?);
    println!("Spearman correlation after training: {rho:.3}");
    assert!(rho > 0.95, "the rank loss did not train the model");
    Ok(())
}
