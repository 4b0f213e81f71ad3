use candle_core::{Device, Tensor, Var};
use sodeep::Ranker;
use std::time::Instant;
fn main() -> sodeep::Result<()> {
    let spec = std::env::args().nth(1).unwrap_or("lstm-100".into());
    let s = sodeep::Sorter::load(&spec)?;
    let x = Tensor::randn(0f32, 1.0, (256, 100), &Device::Cpu)?;
    let w = Tensor::randn(0f32, 1.0, (256, 100), &Device::Cpu)?;
    let xv = Var::from_tensor(&x)?;
    let mut ts = vec![];
    for _ in 0..8 {
        let t0 = Instant::now();
        let y = s.rank(xv.as_tensor())?;
        let t1 = t0.elapsed().as_secs_f64();
        let g = (y * &w)?.sum_all()?.backward()?;
        assert!(g.get(xv.as_tensor()).is_some());
        ts.push((
            (t1 * 1000.0) as i64,
            (t0.elapsed().as_secs_f64() * 1000.0) as i64,
        ));
    }
    println!("{spec} fwd, fwd+bwd ms: {ts:?}");
    Ok(())
}
