//! Every differentiable ranker through one interface: ranks, soft sort, argsort and top-k of a
//! few scores, then the same Spearman loss trained through each ranker in turn.
//!
//! `cargo run --release --example rankers [-- SPEC ...]` (default: a few analytic rankers)

use candle_core::{Device, Tensor, Var};
use candle_nn::{Optimizer, SGD};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sodeep::loss::{SpearmanConfig, SpearmanLoss};
use sodeep::metrics::spearman;
use sodeep::ranker::{soft_argsort, soft_top_k};
use sodeep::spec::parse;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut specs: Vec<String> = std::env::args().skip(1).collect();
    if specs.is_empty() {
        specs = [
            "softrank:eps=0.1",
            "neuralsort:tau=0.1",
            "diffsort-bitonic",
            "sinkhorn:eps=0.01",
            "blackbox",
        ]
        .map(String::from)
        .to_vec();
    }
    let scores = Tensor::new(&[[0.3f32, -1.2, 2.0, 0.7, 0.1]], &Device::Cpu)?;
    println!("scores {:?}", scores.to_vec2::<f32>()?[0]);
    for spec in &specs {
        let r = parse(spec)?;
        println!("\n{}", r.name());
        println!("  ranks   {:.3?}", r.rank(&scores)?.to_vec2::<f32>()?[0]);
        // rankers without a relaxed sort or permutation answer None
        if let Some(s) = r.sort(&scores)? {
            println!("  sort    {:.3?}", s.to_vec2::<f32>()?[0]);
        }
        if let Some(a) = soft_argsort(r.as_ref(), &scores)? {
            println!("  argsort {:.3?}", a.to_vec2::<f32>()?[0]);
        }
        if let Some(t) = soft_top_k(r.as_ref(), &scores, 2)? {
            println!("  top-2   {:.3?}", t.to_vec2::<f32>()?[0]);
        }
    }

    // the same model and loss, trained through each ranker
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let (m, k) = (200, 6);
    let x: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
    let y: Vec<f32> = (0..m)
        .map(|i| (x[i * k] - 0.5 * x[i * k + 1] + 0.25 * x[i * k + 2]).tanh())
        .collect();
    let xt = Tensor::from_vec(x, (m, k), &Device::Cpu)?;
    let yt = Tensor::from_vec(y.clone(), m, &Device::Cpu)?;
    println!();
    for spec in &specs {
        let loss = SpearmanLoss::new(parse(spec)?, SpearmanConfig::default());
        let w = Var::from_vec(vec![0.01f32; k], (k, 1), &Device::Cpu)?;
        let mut opt = SGD::new(vec![w.clone()], 1.0)?;
        for _ in 0..40 {
            let l = loss.forward(&xt.matmul(w.as_tensor())?, &yt)?;
            opt.backward_step(&l)?;
        }
        let p: Vec<f32> = xt.matmul(w.as_tensor())?.flatten_all()?.to_vec1()?;
        println!(
            "{spec:>22}: train Spearman after 40 steps {:.4}",
            spearman(&p, &y)
        );
    }
    Ok(())
}
