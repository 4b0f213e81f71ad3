//! Ranks a few score vectors with the handcrafted sorter and, if one ships in this build, a
//! learned sorter, and compares them with the exact SoDeep ranks.
//!
//! `cargo run --release --example rank_vectors`

use candle_core::{Device, Tensor};
use sodeep::rank::sodeep_rank;
use sodeep::Sorter;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scores = Tensor::randn(0f32, 1.0, (3, 100), &Device::Cpu)?;
    let exact: Vec<Vec<f32>> = scores
        .to_vec2::<f32>()?
        .iter()
        .map(|r| sodeep_rank(r).into_iter().map(|v| v as f32).collect())
        .collect();
    let exact = Tensor::new(exact, &Device::Cpu)?;
    let mut specs = vec!["handcrafted:10".to_string()];
    specs.extend(sodeep::registry::names().into_iter().map(String::from));
    for spec in specs {
        let sorter = Sorter::load(&spec)?;
        if sorter.d().is_some_and(|d| d != 100) {
            continue;
        }
        let ranks = sorter.forward(&scores)?;
        let l1 = (&ranks - &exact)?.abs()?.mean_all()?.to_scalar::<f32>()?;
        println!("{spec:<16} mean |rank − exact| = {l1:.4}");
    }
    Ok(())
}
