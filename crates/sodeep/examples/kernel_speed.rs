//! Times one training step (forward + backward of the mean L1 loss) of the LSTM and GRU sorters
//! with the fused kernels and with the plain candle reference, on the same weights and batch.
//!
//! `cargo run --release --example kernel_speed -- [BATCH] [STEPS] [THREADS]` (defaults 64, 5, 1)

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use rand::SeedableRng;
use sodeep::sorter::{
    init_sorter, Arch, GruSorter, GruSorterConfig, Head, LstmSorter, LstmSorterConfig, SorterConfig,
};
use sodeep::synthetic::{generate, Distribution};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (batch, steps, threads) = (
        *args.first().unwrap_or(&64),
        *args.get(1).unwrap_or(&5),
        *args.get(2).unwrap_or(&1),
    );
    sodeep::set_threads(threads);
    let d = 100;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let b = generate(Distribution::All, &mut rng, batch, d);
    let x = Tensor::from_vec(b.scores, (batch, d), &Device::Cpu)?;
    let target = Tensor::from_vec(b.ranks, (batch, d), &Device::Cpu)?;
    println!("batch {batch}, d {d}, {threads} thread(s), median of {steps} training steps");
    for arch in [Arch::Lstm, Arch::Gru] {
        let cfg = SorterConfig::new(arch, d);
        let (varmap, _) = init_sorter(&cfg, 0)?;
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        type Fwd = Box<dyn Fn(&Tensor) -> candle_core::Result<Tensor>>;
        let (fused, reference): (Fwd, Fwd) = if arch == Arch::Lstm {
            let c = LstmSorterConfig {
                d,
                hidden: cfg.hidden,
                layers: cfg.layers,
                head: Head::Mixing,
            };
            let n = LstmSorter::new(c, vb)?;
            let m = n.clone();
            (
                Box::new(move |x| n.forward_fused(x)),
                Box::new(move |x| m.forward_reference(x)),
            )
        } else {
            let c = GruSorterConfig {
                d,
                hidden: cfg.hidden,
                layers: cfg.layers,
            };
            let n = GruSorter::new(c, vb)?;
            let m = n.clone();
            (
                Box::new(move |x| n.forward_fused(x)),
                Box::new(move |x| m.forward_reference(x)),
            )
        };
        let mut times = [Vec::new(), Vec::new()];
        for _ in 0..steps {
            // alternate the two paths so that machine noise hits both alike
            for (k, f) in [&fused, &reference].iter().enumerate() {
                let t0 = Instant::now();
                let loss = (f(&x)? - &target)?.abs()?.mean_all()?;
                let _grads = loss.backward()?;
                times[k].push(t0.elapsed().as_secs_f64());
            }
        }
        let [tf, tr] = times.map(median);
        println!(
            "{:<5} h {:<4} fused {:.3} s  reference {:.3} s  speed-up {:.2}x",
            arch.name(),
            cfg.hidden,
            tf,
            tr,
            tr / tf
        );
    }
    Ok(())
}
