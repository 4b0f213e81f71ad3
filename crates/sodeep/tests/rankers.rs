//! Properties every ranker behind the `Ranker` interface must have, checked for every name
//! `ranker::parse` knows: any batch size and any n, f32 and f64, the SoDeep convention, a
//! finite gradient, permutation matrices that are consistent with the ranks, and clear errors
//! for bad input.

mod common;

use candle_core::{DType, Device, Tensor, Var};
use common::grad;
use sodeep::ranker::{soft_argsort, soft_top_k};
use sodeep::spec::{parse, ANALYTIC};
use sodeep::Error;

/// Every analytic ranker name, without its knob summary.
fn names() -> Vec<&'static str> {
    ANALYTIC
        .iter()
        .map(|s| s.split('[').next().unwrap_or(s))
        .collect()
}

/// A spec of `name` sharp enough that ranks follow the exact order on well-separated scores.
fn sharp(name: &str) -> String {
    match name {
        "softrank" => "softrank:eps=0.001".into(),
        "neuralsort" | "softsort-perm" => format!("{name}:tau=0.001"),
        "sinkhorn" => "sinkhorn:eps=0.0001,iters=20000".into(),
        "diffsort-oddeven" | "diffsort-bitonic" => format!("{name}:steepness=10000"),
        "handcrafted" => "handcrafted:lambda=10000".into(),
        other => other.into(),
    }
}

fn scores(b: usize, n: usize, dtype: DType) -> Tensor {
    // well separated (gaps of 1), in a scrambled order
    let v: Vec<f32> = (0..b * n)
        .map(|i| ((i * 7919 + 13) % (b * n)) as f32 - (b * n) as f32 / 2.0)
        .collect();
    Tensor::from_vec(v, (b, n), &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap()
}

fn exact(row: &[f64]) -> Vec<f64> {
    let n = row.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
    let mut r = vec![0.0; n];
    for (k, &i) in order.iter().enumerate() {
        r[i] = (k + 1) as f64 / n as f64;
    }
    r
}

#[test]
fn every_ranker_takes_any_batch_and_n_in_f32_and_f64() {
    for name in names() {
        let r = parse(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        for (b, n) in [(1, 1), (1, 2), (3, 5), (2, 9), (4, 16), (2, 17)] {
            for dtype in [DType::F32, DType::F64] {
                let x = scores(b, n, dtype);
                let y = r
                    .rank(&x)
                    .unwrap_or_else(|e| panic!("{name} b={b} n={n}: {e}"));
                assert_eq!(y.dims(), &[b, n], "{name}");
                assert_eq!(y.dtype(), dtype, "{name}: output dtype");
                let v: Vec<f64> = y
                    .to_dtype(DType::F64)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1()
                    .unwrap();
                assert!(v.iter().all(|a| a.is_finite()), "{name} b={b} n={n}: {v:?}");
            }
        }
    }
}

#[test]
fn sharp_rankers_give_the_exact_sodeep_ranks() {
    for name in names() {
        let r = parse(&sharp(name)).unwrap();
        for n in [2, 5, 12] {
            let x = scores(2, n, DType::F64);
            let got: Vec<Vec<f64>> = r.rank(&x).unwrap().to_vec2().unwrap();
            for (row, g) in x.to_vec2::<f64>().unwrap().iter().zip(&got) {
                let want = exact(row);
                for (a, b) in g.iter().zip(&want) {
                    assert!(
                        (a - b).abs() < 0.02,
                        "{} n={n}: {g:?} vs exact {want:?}",
                        sharp(name)
                    );
                }
            }
        }
    }
}

/// The gradient every ranker passes to the scores is finite and right: for the smooth rankers
/// its directional derivative matches central finite differences of the loss (within 1e-3:
/// the handcrafted sorter computes in f32); for blackbox (an
/// exact, piecewise-constant forward pass, whose backward pass is a surrogate) a step against it
/// lowers the loss.
#[test]
fn every_ranker_passes_the_right_gradient_to_the_scores() {
    for name in names() {
        let r = parse(name).unwrap();
        let x0 = scores(3, 7, DType::F64).affine(0.1, 0.0).unwrap();
        // loss weights and a probe direction unrelated to the scores' order
        let pattern = |a: usize, b: usize| -> Tensor {
            let v: Vec<f64> = (0..21)
                .map(|i| ((i * a + b) % 21) as f64 / 21.0 - 0.5)
                .collect();
            Tensor::from_vec(v, (3, 7), &Device::Cpu).unwrap()
        };
        let (w, v) = (pattern(37, 5), pattern(11, 3));
        let loss = |x: &Tensor| -> f64 {
            (r.rank(x).unwrap() * &w)
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar()
                .unwrap()
        };
        let x = Var::from_tensor(&x0).unwrap();
        let grads = (r.rank(x.as_tensor()).unwrap() * &w)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g = grads
            .get(x.as_tensor())
            .unwrap_or_else(|| panic!("{name}: no gradient"))
            .clone();
        let gv: Vec<f64> = g.flatten_all().unwrap().to_vec1().unwrap();
        assert!(gv.iter().all(|v| v.is_finite()), "{name}: {gv:?}");
        assert!(gv.iter().any(|v| *v != 0.0), "{name}: zero gradient");
        if name == "blackbox" {
            let norm = gv.iter().map(|v| v * v).sum::<f64>().sqrt();
            let lowered = [1e-2, 1e-1, 1.0].iter().any(|&t| {
                let step = (&g * (-t / norm)).unwrap();
                loss(&(&x0 + step).unwrap()) < loss(&x0)
            });
            assert!(
                lowered,
                "blackbox: no step against its gradient lowers the loss"
            );
            continue;
        }
        let h = 1e-4;
        let plus = loss(&(&x0 + (&v * h).unwrap()).unwrap());
        let minus = loss(&(&x0 - (&v * h).unwrap()).unwrap());
        let numeric = (plus - minus) / (2.0 * h);
        let analytic: f64 = (&g * &v).unwrap().sum_all().unwrap().to_scalar().unwrap();
        assert!(
            (numeric - analytic).abs() <= 1e-3 * (1.0 + analytic.abs()),
            "{name}: directional derivative {analytic} against finite differences {numeric}"
        );
    }
}

#[test]
fn permutations_agree_with_ranks_sort_argsort_and_top_k() {
    let mut with_perm = 0;
    for name in names() {
        let r = parse(&sharp(name)).unwrap();
        let x = scores(2, 6, DType::F64);
        let Some(p) = r.permutation(&x).unwrap() else {
            continue;
        };
        with_perm += 1;
        assert_eq!(p.dims(), &[2, 6, 6], "{name}");
        // at sharp settings every method is (nearly) doubly stochastic; NeuralSort's columns
        // and Sinkhorn's rows only sum to 1 in the limit
        for dim in [1, 2] {
            let sums: Vec<f64> = p
                .sum(dim)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            assert!(
                sums.iter().all(|s| (s - 1.0).abs() < 0.02),
                "{name}: {sums:?}"
            );
        }
        // sort: descending values
        let sorted: Vec<Vec<f64>> = r.sort(&x).unwrap().unwrap().to_vec2().unwrap();
        for (row, s) in x.to_vec2::<f64>().unwrap().iter().zip(&sorted) {
            let mut want = row.clone();
            want.sort_by(|a, b| b.total_cmp(a));
            for (a, b) in s.iter().zip(&want) {
                assert!((a - b).abs() < 0.05, "{name}: sort {s:?} vs {want:?}");
            }
        }
        // argsort: the index of the k-th largest
        let idx: Vec<Vec<f64>> = soft_argsort(r.as_ref(), &x)
            .unwrap()
            .unwrap()
            .to_vec2()
            .unwrap();
        for (row, a) in x.to_vec2::<f64>().unwrap().iter().zip(&idx) {
            let mut order: Vec<usize> = (0..row.len()).collect();
            order.sort_by(|&i, &j| row[j].total_cmp(&row[i]));
            for (got, want) in a.iter().zip(&order) {
                assert!((got - *want as f64).abs() < 0.05, "{name}: argsort {a:?}");
            }
        }
        // top-2 membership: 1 for the two largest, 0 elsewhere
        let top: Vec<Vec<f64>> = soft_top_k(r.as_ref(), &x, 2)
            .unwrap()
            .unwrap()
            .to_vec2()
            .unwrap();
        for (row, t) in x.to_vec2::<f64>().unwrap().iter().zip(&top) {
            let e = exact(row);
            for (m, rank) in t.iter().zip(&e) {
                let want = if *rank <= 2.0 / 6.0 + 1e-9 { 1.0 } else { 0.0 };
                assert!((m - want).abs() < 0.05, "{name}: top-2 {t:?}");
            }
        }
        assert!(soft_top_k(r.as_ref(), &x, 0).is_err());
        assert!(soft_top_k(r.as_ref(), &x, 7).is_err());
    }
    assert!(with_perm >= 1, "no ranker exposes a permutation matrix");
}

#[test]
fn bad_input_is_a_clear_error() {
    for name in names() {
        let r = parse(name).unwrap();
        let nan = Tensor::new(&[[0.5f32, f32::NAN, 1.0]], &Device::Cpu).unwrap();
        match r.rank(&nan) {
            Err(Error::NonFinite { row, index, .. }) => assert_eq!((row, index), (0, 1), "{name}"),
            other => panic!("{name}: NaN gave {other:?}"),
        }
        let empty = Tensor::zeros((2, 0), DType::F32, &Device::Cpu).unwrap();
        let e = r.rank(&empty).unwrap_err().to_string();
        assert!(e.contains("empty") || e.contains("no score"), "{name}: {e}");
        let flat = Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap();
        assert!(r.rank(&flat).is_err(), "{name}: 1-D input accepted");
    }
    for spec in [
        "softrank:eps=0",
        "softrank:eps=-1",
        "softrank:reg=l3",
        "neuralsort:tau=0",
        "softsort-perm:tau=-0.5",
        "sinkhorn:eps=0",
        "sinkhorn:iters=0",
        "diffsort-oddeven:steepness=0",
        "diffsort-bitonic:steepness=-2",
        "diffsort-bitonic:dist=gauss",
        "blackbox:lambda=0",
        "handcrafted:lambda=nan",
        "softrank:tau=1",
        "softrank:eps",
    ] {
        let e = parse(spec)
            .err()
            .unwrap_or_else(|| panic!("{spec} accepted"));
        assert!(
            matches!(e, Error::InvalidArgument(_)),
            "{spec}: {e:?} is not an argument error"
        );
    }
    let e = parse("quicksort").err().unwrap().to_string();
    for name in names() {
        assert!(
            e.contains(name),
            "the unknown-ranker error lacks {name}: {e}"
        );
    }
    let e = parse("softrank:temperature=2").err().unwrap().to_string();
    assert!(e.contains("eps") && e.contains("reg"), "{e}");
}

#[test]
fn blackbox_gradient_moves_scores_toward_the_wanted_ranks() {
    // the loss Σ (r − target)² wants item 0 ranked first: its gradient must push score 0 up
    let r = parse("blackbox:lambda=5").unwrap();
    let x =
        Var::from_tensor(&Tensor::new(&[[0.0f64, 0.1, 0.2, 0.3]], &Device::Cpu).unwrap()).unwrap();
    let target = Tensor::new(&[[0.25f64, 0.5, 0.75, 1.0]], &Device::Cpu).unwrap();
    let loss = (r.rank(x.as_tensor()).unwrap() - target)
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap();
    let g: Vec<Vec<f64>> = grad(&loss, &x).to_vec2().unwrap();
    assert!(g[0][0] < 0.0, "score 0 should rise: {g:?}");
    assert!(g[0][3] > 0.0, "score 3 should fall: {g:?}");
    // a tiny λ moves nothing: the piecewise-constant ranks have zero gradient almost everywhere
    let tiny = parse("blackbox:lambda=1e-9").unwrap();
    let loss = (tiny.rank(x.as_tensor()).unwrap() * 1.0)
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap();
    let g: Vec<Vec<f64>> = grad(&loss, &x).to_vec2().unwrap();
    assert!(g[0].iter().all(|v| *v == 0.0), "{g:?}");
}

#[test]
fn the_softsort_spec_is_an_error_naming_both_rankers() {
    let e = parse("softsort:eps=0.1")
        .err()
        .expect("an error")
        .to_string();
    assert!(e.contains("softrank") && e.contains("softsort-perm"), "{e}");
}

#[test]
fn the_sort_side_of_softrank_sorts() {
    let r = parse("softrank:eps=0.001").unwrap();
    let x = Tensor::new(&[[0.3f64, -1.0, 2.0]], &Device::Cpu).unwrap();
    let s: Vec<Vec<f64>> = r.sort(&x).unwrap().unwrap().to_vec2().unwrap();
    for (a, b) in s[0].iter().zip([2.0, 0.3, -1.0]) {
        assert!((a - b).abs() < 1e-9, "{s:?}");
    }
}
