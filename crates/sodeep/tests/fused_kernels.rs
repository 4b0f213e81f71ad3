//! The fused LSTM, GRU, convolution and pairwise-comparison kernels against the plain candle reference: outputs and every gradient agree
//! within 1e-4 relative, for several shapes (d = 1, batch 1, odd sizes), with one and two threads, at every
//! vector instruction set this CPU has (portable, AVX2 + FMA, AVX-512).

use std::sync::Mutex;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use rand::SeedableRng;
use sodeep::kernels::{force_simd_level, SimdLevel};
use sodeep::sorter::{
    init_sorter, Arch, CnnSorter, CnnSorterConfig, GruSorter, GruSorterConfig, Head, LstmSorter,
    LstmSorterConfig, PairwiseSorter, PairwiseSorterConfig, SorterConfig,
};
use sodeep::synthetic::{generate, Distribution};

/// Held by the tests that force a SIMD level, so that each runs its levels undisturbed.
static LEVEL_LOCK: Mutex<()> = Mutex::new(());

/// Runs `f` at every SIMD level this CPU supports, lowest first, then restores the best; returns
/// the levels that ran.
fn at_every_level(mut f: impl FnMut(SimdLevel)) -> Vec<SimdLevel> {
    let _guard = LEVEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let best = SimdLevel::detected();
    let levels: Vec<SimdLevel> = [SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512]
        .into_iter()
        .filter(|l| *l <= best)
        .collect();
    for &level in &levels {
        assert_eq!(force_simd_level(level), level);
        f(level);
    }
    force_simd_level(best);
    levels
}

/// One way to run a sorter forward.
type Path = Box<dyn Fn(&Tensor) -> Tensor>;

fn max_rel(a: &Tensor, b: &Tensor) -> f32 {
    let a: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
    let b: Vec<f32> = b.flatten_all().unwrap().to_vec1().unwrap();
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max)
        / scale
}

fn max_abs(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar()
        .unwrap()
}

fn check(arch: Arch, batch: usize, d: usize, hidden: usize, layers: usize, seed: u64) {
    let mut cfg = SorterConfig::new(arch, d);
    cfg.hidden = hidden;
    cfg.layers = layers;
    let (varmap, _) = init_sorter(&cfg, seed).unwrap();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let (fused_fwd, reference_fwd): (Path, Path) = if arch == Arch::Gru {
        let net = GruSorter::new(GruSorterConfig { d, hidden, layers }, vb).unwrap();
        let n2 = net.clone();
        (
            Box::new(move |x| net.forward_fused(x).unwrap()),
            Box::new(move |x| n2.forward_reference(x).unwrap()),
        )
    } else {
        let net = LstmSorter::new(
            LstmSorterConfig {
                d,
                hidden,
                layers,
                head: Head::Mixing,
            },
            vb,
        )
        .unwrap();
        let n2 = net.clone();
        (
            Box::new(move |x| net.forward_fused(x).unwrap()),
            Box::new(move |x| n2.forward_reference(x).unwrap()),
        )
    };
    let what = format!("{arch:?} batch {batch}, d {d}, h {hidden}, layers {layers}");
    compare(&varmap, fused_fwd, reference_fwd, batch, d, seed, &what);
}

/// Runs both paths on the same seeded input and loss; checks the outputs, the input gradient
/// and every variable's gradient.
fn compare(
    varmap: &VarMap,
    fused_fwd: Path,
    reference_fwd: Path,
    batch: usize,
    d: usize,
    seed: u64,
    what: &str,
) {
    // seeded inputs: the check is deterministic (float cancellation in a summed gradient
    // can stretch a relative error, so a fixed draw keeps the test reproducible)
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let data = generate(Distribution::Normal, &mut rng, 2 * batch, d).scores;
    let (xs, ts) = data.split_at(batch * d);
    let x = Var::from_tensor(&Tensor::from_slice(xs, (batch, d), &Device::Cpu).unwrap()).unwrap();
    let target = Tensor::from_slice(ts, (batch, d), &Device::Cpu)
        .unwrap()
        .abs()
        .unwrap();
    let run = |fused: bool| {
        let y = if fused {
            fused_fwd(x.as_tensor())
        } else {
            reference_fwd(x.as_tensor())
        };
        let loss = (&y - &target).unwrap().abs().unwrap().mean_all().unwrap();
        (y, loss.backward().unwrap())
    };
    let (y_r, g_r) = run(false);
    assert!(
        g_r.get(x.as_tensor()).is_some(),
        "reference has no input grad"
    );
    let (y_f, g_f) = run(true);
    assert!(max_rel(&y_f, &y_r) < 1e-4, "output, {what}");
    let gx = |g: &candle_core::backprop::GradStore| {
        g.get(x.as_tensor())
            .unwrap_or_else(|| panic!("no input grad, {what}"))
            .clone()
    };
    // (with two values per BatchNorm channel the output does not depend on the input, and
    // both gradients are rounding noise around zero)
    assert!(
        max_rel(&gx(&g_f), &gx(&g_r)) < 1e-4 || max_abs(&gx(&g_f), &gx(&g_r)) < 1e-6,
        "input grad, {what}: {} vs {}",
        gx(&g_f),
        gx(&g_r)
    );
    let vars = varmap.data().lock().unwrap();
    for (name, v) in vars.iter().filter(|(n, _)| !n.contains("running_")) {
        let (a, b) = (g_f.get(v.as_tensor()), g_r.get(v.as_tensor()));
        let a = a.unwrap_or_else(|| panic!("no fused grad {name}"));
        match b {
            // (a convolution bias before a training-mode BatchNorm has a zero gradient, which
            // both paths give as rounding noise: that is compared in absolute terms)
            Some(b) => assert!(
                max_rel(a, b) < 1e-4 || max_abs(a, b) < 1e-6,
                "grad {name}, {what}: {}",
                max_rel(a, b)
            ),
            // the reference never touches W_hh when d = 1; the fused gradient must be zero
            None => assert_eq!(
                a.abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap(),
                0.0
            ),
        }
    }
}

#[test]
fn fused_kernels_match_reference() {
    let levels = at_every_level(|_| {
        for threads in [1, 2] {
            sodeep::set_threads(threads);
            for arch in [Arch::Lstm, Arch::Gru] {
                check(arch, 3, 5, 4, 2, 1);
                check(arch, 1, 7, 3, 1, 2);
                check(arch, 2, 1, 5, 2, 3);
                check(arch, 5, 9, 16, 3, 4);
                check(arch, 1, 1, 1, 1, 5);
                // wide enough for full 512-bit vectors in the gate loops (h = 37: two of 16 and a tail)
                check(arch, 4, 6, 37, 1, 6);
            }
        }
    });
    eprintln!("fused recurrent kernels checked at {levels:?}");
}

/// A frozen sorter (constant weights) inside a loss: the fused path computes only the input
/// gradient, which must equal the reference's.
#[test]
fn frozen_sorters_give_the_reference_input_gradient() {
    at_every_level(|_| frozen_sorters_give_the_reference_input_gradient_at_level());
}

fn frozen_sorters_give_the_reference_input_gradient_at_level() {
    use sodeep::card::SorterCard;
    use sodeep::sorter::Net;
    for arch in [Arch::Lstm, Arch::Gru, Arch::Cnn] {
        let mut cfg = SorterConfig::new(arch, 6);
        cfg.hidden = 5;
        cfg.layers = 2;
        let (varmap, _) = init_sorter(&cfg, 9).unwrap();
        // BatchNorm with statistics and affine weights away from their initial 0 / 1, so that
        // the evaluation-mode fused op has something to get wrong
        let bn_value = |name: &str, t: &Tensor| -> Tensor {
            let n = t.elem_count();
            let ramp = |a: f32, b: f32| -> Vec<f32> {
                (0..n).map(|i| a + b * ((i * 7 % 5) as f32 - 2.0)).collect()
            };
            let v = match name.rsplit('.').next() {
                Some("running_mean") => ramp(0.1, 0.3),
                Some("running_var") => ramp(1.5, 0.4),
                Some("weight") if name.contains(".bn.") => ramp(0.9, 0.2),
                Some("bias") if name.contains(".bn.") => ramp(0.05, 0.1),
                _ => return t.detach(),
            };
            Tensor::from_vec(v, t.shape(), &Device::Cpu).unwrap()
        };
        let weights = varmap
            .data()
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), bn_value(k, v.as_tensor())))
            .collect();
        let path = std::path::Path::new("frozen");
        let sorter =
            sodeep::Sorter::from_tensors("frozen", SorterCard::new(cfg, 0), weights, path).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let xs = generate(Distribution::Uniform, &mut rng, 3, 6).scores;
        let x = Var::from_tensor(&Tensor::from_slice(&xs, (3, 6), &Device::Cpu).unwrap()).unwrap();
        let grad = |y: Tensor| {
            let g = y.sqr().unwrap().sum_all().unwrap().backward().unwrap();
            g.get(x.as_tensor()).unwrap().clone()
        };
        let fused_y = sorter.forward(x.as_tensor()).unwrap();
        let reference = match sorter.net().net() {
            Net::Lstm(m) => m.forward_reference(x.as_tensor()).unwrap(),
            Net::Gru(m) => m.forward_reference(x.as_tensor()).unwrap(),
            Net::Cnn(m) => m.forward_reference_t(x.as_tensor(), false).unwrap(),
            _ => unreachable!(),
        };
        assert!(max_rel(&fused_y, &reference) < 1e-5, "{arch:?} values");
        let fused = grad(fused_y);
        let reference = grad(reference);
        assert!(max_rel(&fused, &reference) < 1e-4, "{arch:?}");
        // inference (no gradient can follow: the layers keep only their outputs), for several
        // lengths, one step included
        for d in [1, 2, 6] {
            let plain = Tensor::from_slice(&xs[..3 * d], (3, d), &Device::Cpu).unwrap();
            let mut cfg = SorterConfig::new(arch, d);
            cfg.hidden = 5;
            cfg.layers = 2;
            let (varmap, _) = init_sorter(&cfg, 9).unwrap();
            let weights = varmap
                .data()
                .lock()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_tensor().detach()))
                .collect();
            let sorter =
                sodeep::Sorter::from_tensors("frozen", SorterCard::new(cfg, 0), weights, path)
                    .unwrap();
            let reference = match sorter.net().net() {
                Net::Lstm(m) => m.forward_reference(&plain).unwrap(),
                Net::Gru(m) => m.forward_reference(&plain).unwrap(),
                Net::Cnn(m) => m.forward_reference_t(&plain, false).unwrap(),
                _ => unreachable!(),
            };
            let fused = sorter.forward(&plain).unwrap();
            assert!(
                max_rel(&fused, &reference) < 1e-4,
                "{arch:?} inference, d {d}"
            );
        }
    }
}

#[test]
fn fused_convolutions_match_reference() {
    at_every_level(|_| convolutions_match_reference());
}

fn convolutions_match_reference() {
    use candle_core::ModuleT;
    for threads in [1, 2] {
        sodeep::set_threads(threads);
        for (batch, d, channels, seed) in [(3, 5, 4, 1), (1, 7, 3, 2), (6, 1, 5, 3), (4, 100, 6, 4)]
        {
            let mut cfg = SorterConfig::new(Arch::Cnn, d);
            cfg.hidden = channels;
            let (varmap, _) = init_sorter(&cfg, seed).unwrap();
            let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
            let net = CnnSorter::new(CnnSorterConfig { d, channels }, vb).unwrap();
            let n2 = net.clone();
            for train in [true, false] {
                let (a, b) = (net.clone(), n2.clone());
                compare(
                    &varmap,
                    Box::new(move |x| a.forward_fused_t(x, train).unwrap()),
                    Box::new(move |x| b.forward_reference_t(x, train).unwrap()),
                    batch,
                    d,
                    seed,
                    &format!("cnn batch {batch}, d {d}, channels {channels}, train {train}"),
                );
            }
            // the dispatching forward takes the fused path on the CPU
            let x = Tensor::ones((batch, d), DType::F32, &Device::Cpu).unwrap();
            let (y, y_ref) = (
                net.forward_t(&x, false).unwrap(),
                n2.forward_reference_t(&x, false).unwrap(),
            );
            assert!(max_rel(&y, &y_ref) < 1e-4);
        }
    }
}

/// The fused training-mode BatchNorm updates the running statistics exactly as candle's does.
#[test]
fn fused_batch_norm_updates_running_statistics() {
    at_every_level(|_| fused_batch_norm_updates_running_statistics_at_level());
}

fn fused_batch_norm_updates_running_statistics_at_level() {
    let (batch, d, channels) = (5, 12, 4);
    let mut cfg = SorterConfig::new(Arch::Cnn, d);
    cfg.hidden = channels;
    let build = || {
        let (varmap, _) = init_sorter(&cfg, 3).unwrap();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        (
            varmap,
            CnnSorter::new(CnnSorterConfig { d, channels }, vb).unwrap(),
        )
    };
    let ((vm_ref, net_ref), (vm_fused, net_fused)) = (build(), build());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
    let xs = generate(Distribution::Uniform, &mut rng, batch, d).scores;
    let x = Tensor::from_slice(&xs, (batch, d), &Device::Cpu).unwrap();
    for _ in 0..2 {
        net_ref.forward_reference_t(&x, true).unwrap();
        net_fused.forward_fused_t(&x, true).unwrap();
    }
    let (a, b) = (
        vm_ref.data().lock().unwrap(),
        vm_fused.data().lock().unwrap(),
    );
    let mut checked = 0;
    for (name, v) in a.iter().filter(|(n, _)| n.contains("running_")) {
        let w = &b[name];
        assert!(max_rel(w.as_tensor(), v.as_tensor()) < 1e-5, "{name}");
        let init = if name.ends_with("running_var") {
            1.0
        } else {
            0.0
        };
        let moved = (v.as_tensor() - init)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert!(
            moved.to_scalar::<f32>().unwrap() > 1e-4,
            "{name} never updated"
        );
        checked += 1;
    }
    assert_eq!(checked, 16);
}

/// A pairwise sorter on `dtype` whose three weights are variables (returned for their gradients).
fn pairwise_with(params: &[f32], bound: f64, dtype: DType) -> (PairwiseSorter, Vec<Var>) {
    let k = (params.len() - 1) / 2;
    let parts = [
        ("log_sharpness", &params[..k]),
        ("mix", &params[k..2 * k]),
        ("len_exponent", &params[2 * k..]),
    ];
    let mut map = std::collections::HashMap::new();
    let mut vars = Vec::new();
    for (name, v) in parts {
        let t = Tensor::new(v, &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap();
        let var = Var::from_tensor(&t).unwrap();
        map.insert(name.to_string(), var.as_tensor().clone());
        vars.push(var);
    }
    let vb = VarBuilder::from_tensors(map, dtype, &Device::Cpu);
    let cfg = PairwiseSorterConfig {
        comparators: k,
        max_sharpness: bound,
    };
    let sorter = PairwiseSorter::new(cfg, vb).unwrap();
    (sorter, vars)
}

/// `Σ w · ranks` and its gradients: input first, then the three weights.
fn pairwise_grads(
    sorter: &PairwiseSorter,
    vars: &[Var],
    x: &Var,
    w: &Tensor,
    fused: bool,
) -> (Tensor, Vec<Tensor>) {
    let r = if fused {
        sorter.forward_fused(x.as_tensor()).unwrap()
    } else {
        sorter.forward_reference(x.as_tensor()).unwrap()
    };
    let g = (&r * w).unwrap().sum_all().unwrap().backward().unwrap();
    let mut out = vec![g.get(x.as_tensor()).expect("input gradient").clone()];
    for v in vars {
        // n = 1: the rank is the constant 1 and candle may prune the weights' path: zero
        let zero = v.as_tensor().zeros_like().unwrap();
        out.push(g.get(v.as_tensor()).cloned().unwrap_or(zero));
    }
    (r, out)
}

#[test]
fn fused_pairwise_matches_reference_values_and_gradients_at_every_level() {
    let params = [0.3f32, -1.2, 0.8, 0.5, -0.4, 0.1, 0.2];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    for (b, n) in [(2, 2), (1, 1), (3, 5), (2, 37), (1, 70)] {
        let batch = generate(Distribution::All, &mut rng, b, n);
        let x = Var::from_tensor(&Tensor::from_vec(batch.scores, (b, n), &Device::Cpu).unwrap())
            .unwrap();
        let w = Tensor::randn(0f32, 1.0, (b, n), &Device::Cpu).unwrap();
        let bound = if n % 2 == 0 { 15.0 } else { f64::INFINITY };
        let (sorter, vars) = pairwise_with(&params, bound, DType::F32);
        // the reference in f64: the truth the f32 kernel is held to
        let (sorter64, vars64) = pairwise_with(&params, bound, DType::F64);
        let x64 = Var::from_tensor(&x.as_tensor().to_dtype(DType::F64).unwrap()).unwrap();
        let w64 = w.to_dtype(DType::F64).unwrap();
        let (r_ref, g_ref) = pairwise_grads(&sorter64, &vars64, &x64, &w64, false);
        let f32s = |t: &Tensor| t.to_dtype(DType::F32).unwrap();
        let (r_ref, g_ref) = (f32s(&r_ref), g_ref.iter().map(f32s).collect::<Vec<_>>());
        let levels = at_every_level(|level| {
            let (r, g) = pairwise_grads(&sorter, &vars, &x, &w, true);
            assert!(max_abs(&r, &r_ref) < 2e-6, "{level:?} b {b} n {n}: ranks");
            for (k, (a, e)) in g.iter().zip(&g_ref).enumerate() {
                // relative to the gradient's size, or to 1e-3 where it is about zero (n = 2:
                // standardised pairs are always ±1, so the input gradient vanishes)
                let scale = e
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                let err = max_abs(a, e) / scale.max(1e-3);
                assert!(
                    err < 2e-4,
                    "{level:?} b {b} n {n}: gradient {k} off by {err}"
                );
            }
        });
        assert!(!levels.is_empty());
    }
}

#[test]
fn pairwise_gradients_match_finite_differences() {
    // f64 reference path, central differences in every input and weight
    let params = [0.1f32, -0.7, 0.4, -0.3, 0.25];
    let (sorter, vars) = pairwise_with(&params, 7.0, DType::F64);
    let xs = [0.3f64, -1.1, 0.9, 0.35, 2.0, -0.2];
    let x = Var::new(&xs[..], &Device::Cpu).unwrap();
    let x2 = x.as_tensor().unsqueeze(0).unwrap();
    let w = Tensor::new(&[[0.5f64, -1.0, 2.0, 0.3, -0.7, 1.1]], &Device::Cpu).unwrap();
    let loss = |s: &PairwiseSorter, x: &Tensor| -> f64 {
        (s.forward_reference(x).unwrap() * &w)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    let g = (sorter.forward_reference(&x2).unwrap() * &w)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let gx: Vec<f64> = g.get(x.as_tensor()).unwrap().to_vec1().unwrap();
    let h = 1e-6;
    for i in 0..xs.len() {
        let mut up = xs;
        up[i] += h;
        let mut down = xs;
        down[i] -= h;
        let t = |v: [f64; 6]| Tensor::new(&[v], &Device::Cpu).unwrap();
        let fd = (loss(&sorter, &t(up)) - loss(&sorter, &t(down))) / (2.0 * h);
        assert!(
            (fd - gx[i]).abs() < 1e-6 * (1.0 + fd.abs()),
            "x{i}: {fd} vs {}",
            gx[i]
        );
    }
    let mut flat_grads = Vec::new();
    for v in &vars {
        flat_grads.extend(g.get(v.as_tensor()).unwrap().to_vec1::<f64>().unwrap());
    }
    for i in 0..params.len() {
        let shifted = |d: f64| {
            let mut p: Vec<f64> = params.iter().map(|&v| v as f64).collect();
            p[i] += d;
            let p32: Vec<f32> = p.iter().map(|&v| v as f32).collect();
            // rebuild in f64 from the exact f64 values
            let (s, vs) = pairwise_with(&p32, 7.0, DType::F64);
            let k = (p.len() - 1) / 2;
            let exact = [&p[..k], &p[k..2 * k], &p[2 * k..]];
            for (var, vals) in vs.iter().zip(exact) {
                var.set(&Tensor::new(vals, &Device::Cpu).unwrap()).unwrap();
            }
            loss(&s, &x2)
        };
        let fd = (shifted(h) - shifted(-h)) / (2.0 * h);
        let got = flat_grads[i];
        assert!(
            (fd - got).abs() < 1e-6 * (1.0 + fd.abs()),
            "param {i}: {fd} vs {got}"
        );
    }
}

#[test]
fn pairwise_sorter_is_permutation_equivariant_and_any_length() {
    let (sorter, _) = pairwise_with(&[1.0, 0.0, 0.0], 20.0, DType::F32);
    let x = Tensor::new(&[[0.4f32, -2.0, 1.5, 0.9, 0.0]], &Device::Cpu).unwrap();
    let perm = Tensor::new(&[3u32, 0, 4, 1, 2], &Device::Cpu).unwrap();
    let r = sorter.forward_fused(&x).unwrap();
    let rp = sorter
        .forward_fused(&x.index_select(&perm, 1).unwrap())
        .unwrap();
    assert!(max_abs(&rp, &r.index_select(&perm, 1).unwrap()) < 1e-6);
    for n in [1usize, 2, 3, 300] {
        let x = Tensor::randn(0f32, 1.0, (2, n), &Device::Cpu).unwrap();
        let r: Vec<Vec<f32>> = sorter.forward_fused(&x).unwrap().to_vec2().unwrap();
        for row in r {
            let sum: f32 = row.iter().sum();
            assert!(
                (sum - (n as f32 + 1.0) / 2.0).abs() < 1e-3 * n as f32,
                "n {n}: sum {sum}"
            );
            assert!(row
                .iter()
                .all(|v| v.is_finite() && *v > 0.0 && *v <= 1.0 + 1e-6));
        }
    }
}
