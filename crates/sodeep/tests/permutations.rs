//! Relaxed-permutation rankers: NeuralSort, SoftSort (permutation form) and Sinkhorn.
//!
//! The NeuralSort and SoftSort values and VJPs are checked against
//! `tests/fixtures/relaxed_permutation.json`, copied from the project's shared reference
//! vectors (`shared/fixtures`), whose README states: "Computed with the public reference
//! implementations (torch 2.15, torchsort 0.1.10, diffsort 0.2.0, scipy 1.17, scikit-learn
//! 1.9), so tests can check this project against them number by number." Every VJP is also
//! checked by central finite differences.

mod common;

use candle_core::{DType, Device, Tensor, Var};
use common::{dot, grad, max_err, rows};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde_json::Value;
use sodeep::rank::sodeep_rank as exact_ranks;
use sodeep::relax::neuralsort::{
    neuralsort, neuralsort_ranks, neuralsort_ranks_vjp, neuralsort_vjp, softsort_perm,
    softsort_perm_ranks, softsort_perm_ranks_vjp, softsort_perm_vjp, NeuralSort, SoftSortPerm,
};
use sodeep::relax::sinkhorn::{
    sinkhorn_permutation, sinkhorn_permutation_vjp, sinkhorn_plan, sinkhorn_ranks,
    sinkhorn_ranks_vjp, Sinkhorn, DEFAULT_EPS, DEFAULT_ITERS,
};
use sodeep::relax::{ranks_from_permutation, ranks_from_permutation_vjp, RowMap};
use sodeep::Ranker;

type Map = Box<dyn Fn(&[f64]) -> Vec<f64>>;
type Vjp = Box<dyn Fn(&[f64], &[f64]) -> Vec<f64>>;

/// One ranker's four pure functions, for the checks every ranker goes through.
struct Method {
    name: String,
    perm: Map,
    perm_vjp: Vjp,
    ranks: Map,
    ranks_vjp: Vjp,
}

fn neural(tau: f64) -> Method {
    Method {
        name: format!("neuralsort τ={tau}"),
        perm: Box::new(move |x| neuralsort(x, tau).unwrap()),
        perm_vjp: Box::new(move |x, g| neuralsort_vjp(x, tau, g).unwrap()),
        ranks: Box::new(move |x| neuralsort_ranks(x, tau).unwrap()),
        ranks_vjp: Box::new(move |x, g| neuralsort_ranks_vjp(x, tau, g).unwrap()),
    }
}

fn soft(tau: f64) -> Method {
    Method {
        name: format!("softsort-perm τ={tau}"),
        perm: Box::new(move |x| softsort_perm(x, tau).unwrap()),
        perm_vjp: Box::new(move |x, g| softsort_perm_vjp(x, tau, g).unwrap()),
        ranks: Box::new(move |x| softsort_perm_ranks(x, tau).unwrap()),
        ranks_vjp: Box::new(move |x, g| softsort_perm_ranks_vjp(x, tau, g).unwrap()),
    }
}

fn sink(eps: f64, iters: usize) -> Method {
    Method {
        name: format!("sinkhorn ε={eps} iters={iters}"),
        perm: Box::new(move |x| sinkhorn_permutation(x, eps, iters).unwrap()),
        perm_vjp: Box::new(move |x, g| sinkhorn_permutation_vjp(x, eps, iters, g).unwrap()),
        ranks: Box::new(move |x| sinkhorn_ranks(x, eps, iters).unwrap()),
        ranks_vjp: Box::new(move |x, g| sinkhorn_ranks_vjp(x, eps, iters, g).unwrap()),
    }
}

fn all_methods() -> Vec<Method> {
    vec![
        neural(1.0),
        neural(0.3),
        soft(1.0),
        soft(0.3),
        sink(0.1, 20),
        sink(0.02, 50),
        sink(DEFAULT_EPS, DEFAULT_ITERS),
    ]
}

fn normal(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.sample(StandardNormal)).collect()
}

fn flat(v: &Value) -> Vec<f64> {
    rows(v).concat()
}

#[test]
fn neuralsort_and_softsort_match_the_reference_values_and_vjp() {
    let fixture = common::fixture("relaxed_permutation.json");
    let mut checked = 0;
    let mut worst: f64 = 0.0;
    for case in fixture["cases"].as_array().unwrap() {
        let tau = case["tau"].as_f64().unwrap();
        let m = match case["method"].as_str().unwrap() {
            "neuralsort" => neural(tau),
            "softsort" => soft(tau),
            other => panic!("unexpected method {other}"),
        };
        let xs = rows(&case["x"]);
        let ps = case["P"].as_array().unwrap();
        let ws = case["W"].as_array().unwrap();
        let gs = rows(&case["grad_x_of_sum_W_P"]);
        for (b, x) in xs.iter().enumerate() {
            let (p_ref, w) = (flat(&ps[b]), flat(&ws[b]));
            let p = (m.perm)(x);
            let grad = (m.perm_vjp)(x, &w);
            let (dp, dg) = (max_err(&p, &p_ref), max_err(&grad, &gs[b]));
            assert!(dp < 1e-6, "{}: P off by {dp}", m.name);
            assert!(dg < 1e-6, "{}: VJP off by {dg}: {grad:?}", m.name);
            worst = worst.max(dp).max(dg);
            checked += 1;
        }
    }
    assert_eq!(checked, 16);
    // the fixture is rounded to 12 decimals; we land within that rounding
    assert!(worst < 1e-11, "worst deviation {worst}");
}

/// `Σ g·f` at `x ± h·e_m`, central differences.
fn finite_difference(f: &dyn Fn(&[f64]) -> Vec<f64>, x: &[f64], g: &[f64], h: f64) -> Vec<f64> {
    (0..x.len())
        .map(|m| {
            let mut up = x.to_vec();
            let mut down = x.to_vec();
            up[m] += h;
            down[m] -= h;
            (dot(g, &f(&up)) - dot(g, &f(&down))) / (2.0 * h)
        })
        .collect()
}

#[test]
fn every_vjp_matches_central_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for m in all_methods() {
        for n in [1, 2, 3, 7] {
            for _ in 0..3 {
                let x = normal(&mut rng, n);
                let gp = normal(&mut rng, n * n);
                let gr = normal(&mut rng, n);
                let fd = finite_difference(&m.perm, &x, &gp, 1e-6);
                let an = (m.perm_vjp)(&x, &gp);
                let scale = an.iter().fold(1.0f64, |a, v| a.max(v.abs()));
                let d = max_err(&fd, &an);
                assert!(
                    d < 1e-6 * scale,
                    "{} n={n} permutation VJP: {an:?} vs {fd:?}",
                    m.name
                );
                let fd = finite_difference(&m.ranks, &x, &gr, 1e-6);
                let an = (m.ranks_vjp)(&x, &gr);
                let scale = an.iter().fold(1.0f64, |a, v| a.max(v.abs()));
                let d = max_err(&fd, &an);
                assert!(
                    d < 1e-6 * scale,
                    "{} n={n} ranks VJP: {an:?} vs {fd:?}",
                    m.name
                );
            }
        }
    }
}

#[test]
fn ranks_are_ranks_from_permutation_forward_and_backward() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for m in all_methods() {
        for n in [1, 2, 5, 12] {
            let x = normal(&mut rng, n);
            let g = normal(&mut rng, n);
            let p = (m.perm)(&x);
            let d = max_err(&(m.ranks)(&x), &ranks_from_permutation(&p, n));
            assert!(d < 1e-12, "{} n={n}: ranks off by {d}", m.name);
            let chained = (m.perm_vjp)(&x, &ranks_from_permutation_vjp(&g, n));
            let d = max_err(&(m.ranks_vjp)(&x, &g), &chained);
            assert!(d < 1e-9, "{} n={n}: ranks VJP off by {d}", m.name);
        }
    }
}

#[test]
fn sinkhorn_ranks_follow_a_permutation_of_the_input() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let n = 20;
    let x = normal(&mut rng, n);
    let mut perm: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        perm.swap(i, rng.random_range(0..=i));
    }
    let shuffled: Vec<f64> = perm.iter().map(|&i| x[i]).collect();
    let r = sinkhorn_ranks(&x, 1e-2, 100).unwrap();
    let rs = sinkhorn_ranks(&shuffled, 1e-2, 100).unwrap();
    for (k, &i) in perm.iter().enumerate() {
        assert!((rs[k] - r[i]).abs() < 1e-12, "{} vs {}", rs[k], r[i]);
    }
}

#[test]
fn sinkhorn_converges_to_the_exact_ranks_as_eps_shrinks() {
    // well-separated scores: a shuffled grid, so every squashed gap is at least ~0.01 (n = 20)
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let n = 20;
    let mut x: Vec<f64> = (0..n).map(|i| i as f64 * 0.37 - 2.0).collect();
    for i in (1..n).rev() {
        x.swap(i, rng.random_range(0..=i));
    }
    let exact = exact_ranks(&x);
    // enough iterations for every ε to converge (the smaller ε, the more it needs)
    let errors: Vec<f64> = [1e-1, 1e-2, 1e-3, 1e-4]
        .iter()
        .map(|&eps| max_err(&sinkhorn_ranks(&x, eps, 20_000).unwrap(), &exact))
        .collect();
    assert!(
        errors.windows(2).all(|w| w[0] > w[1]),
        "not shrinking: {errors:?}"
    );
    // measured max |r − exact|: 0.176, 0.053, 0.0101 (a fifth of 1/n = 0.05) and 3.2e-5
    assert!(
        errors[2] < 0.015,
        "ε = 1e-3: max |r − exact| = {}",
        errors[2]
    );
    assert!(
        errors[3] < 1e-4,
        "ε = 1e-4: max |r − exact| = {}",
        errors[3]
    );
}

#[test]
fn sinkhorn_plan_is_doubly_stochastic_after_scaling() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for (n, eps, iters) in [(1, 1e-2, 1), (6, 1e-1, 50), (30, 1e-2, 300)] {
        let x = normal(&mut rng, n);
        let p = sinkhorn_plan(&x, eps, iters).unwrap();
        for i in 0..n {
            let row: f64 = p[i * n..(i + 1) * n].iter().sum::<f64>() * n as f64;
            // the last update is an f update: rows are exact whatever the convergence
            assert!((row - 1.0).abs() < 1e-12, "row {i} sums to {row}");
        }
        for j in 0..n {
            let col: f64 = (0..n).map(|i| p[i * n + j]).sum::<f64>() * n as f64;
            assert!((col - 1.0).abs() < 1e-4, "n={n}: column {j} sums to {col}");
        }
        let perm = sinkhorn_permutation(&x, eps, iters).unwrap();
        for k in 0..n {
            let row: f64 = perm[k * n..(k + 1) * n].iter().sum();
            assert!(
                (row - 1.0).abs() < 1e-4,
                "permutation row {k} sums to {row}"
            );
        }
    }
}

#[test]
fn sinkhorn_handles_a_constant_row_and_a_single_score() {
    let r = sinkhorn_ranks(&[0.1, 0.1, 0.1], 1e-2, 50).unwrap();
    for v in &r {
        assert!((v - 2.0 / 3.0).abs() < 1e-9, "{r:?}");
    }
    let r = sinkhorn_ranks(&[3.5], 1e-3, 10).unwrap();
    assert!((r[0] - 1.0).abs() < 1e-12, "{r:?}");
    assert_eq!(sinkhorn_ranks_vjp(&[3.5], 1e-3, 10, &[1.0]).unwrap(), [0.0]);
}

#[test]
fn neuralsort_and_softsort_become_the_exact_permutation_as_tau_shrinks() {
    let x = [0.3, -1.2, 2.0, 0.7, -0.1];
    let order = sodeep::rank::argsort_desc(&x);
    let n = x.len();
    for m in [neural(1e-3), soft(1e-3)] {
        let p = (m.perm)(&x);
        for (k, &i) in order.iter().enumerate() {
            for j in 0..n {
                let want = if j == i { 1.0 } else { 0.0 };
                assert!((p[k * n + j] - want).abs() < 1e-12, "{}: {p:?}", m.name);
            }
        }
        let d = max_err(&(m.ranks)(&x), &exact_ranks(&x));
        assert!(d < 1e-12, "{}: ranks off by {d}", m.name);
    }
    // a large τ blurs: far from a permutation
    let p = neuralsort(&x, 10.0).unwrap();
    assert!(p.iter().all(|&v| v < 0.9));
}

fn rankers() -> Vec<Box<dyn Ranker>> {
    vec![
        Box::new(NeuralSort::new(0.5).unwrap()),
        Box::new(SoftSortPerm::new(0.5).unwrap()),
        Box::new(Sinkhorn::new(0.05, 30).unwrap()),
    ]
}

#[test]
fn f32_and_f64_ranks_agree_and_follow_the_sodeep_convention() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let (b, n) = (4, 9);
    let x: Vec<f64> = normal(&mut rng, b * n);
    let t64 = Tensor::from_vec(x.clone(), (b, n), &Device::Cpu).unwrap();
    let t32 = t64.to_dtype(DType::F32).unwrap();
    for r in rankers() {
        let r64 = r.rank(&t64).unwrap();
        let r32 = r.rank(&t32).unwrap();
        assert_eq!(r64.dtype(), DType::F64);
        assert_eq!(r32.dtype(), DType::F32);
        assert_eq!(r64.dims(), [b, n]);
        let a: Vec<f64> = r64.flatten_all().unwrap().to_vec1().unwrap();
        let c: Vec<f64> = r32
            .to_dtype(DType::F64)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let d = max_err(&a, &c);
        assert!(d < 1e-5, "{}: f32 vs f64 off by {d}", r.name());
        // soft ranks keep the order of the scores: the largest gets the smallest rank
        for row in 0..b {
            let xr = &x[row * n..(row + 1) * n];
            let ar = &a[row * n..(row + 1) * n];
            let top = sodeep::rank::argsort_desc(xr)[0];
            let low = sodeep::rank::argsort_desc(xr)[n - 1];
            assert!(ar[top] < ar[low], "{}: {ar:?} for {xr:?}", r.name());
        }
        let p = r.permutation(&t64).unwrap().unwrap();
        assert_eq!(p.dims(), [b, n, n]);
        let s = r.sort(&t32).unwrap().unwrap();
        assert_eq!(s.dims(), [b, n]);
    }
}

#[test]
fn candle_autograd_equals_the_hand_written_vjp() {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let (b, n) = (3, 6);
    let x: Vec<f64> = normal(&mut rng, b * n);
    let w: Vec<f64> = normal(&mut rng, b * n);
    let wp: Vec<f64> = normal(&mut rng, b * n * n);
    let wt = Tensor::from_vec(w.clone(), (b, n), &Device::Cpu).unwrap();
    let wpt = Tensor::from_vec(wp.clone(), (b, n, n), &Device::Cpu).unwrap();
    let methods = [neural(0.5), soft(0.5), sink(0.05, 30)];
    for (r, m) in rankers().iter().zip(&methods) {
        // ranks
        let var =
            Var::from_tensor(&Tensor::from_vec(x.clone(), (b, n), &Device::Cpu).unwrap()).unwrap();
        let loss = (r.rank(var.as_tensor()).unwrap() * &wt)
            .unwrap()
            .sum_all()
            .unwrap();
        let got: Vec<f64> = grad(&loss, &var).flatten_all().unwrap().to_vec1().unwrap();
        let want: Vec<f64> = (0..b)
            .flat_map(|i| (m.ranks_vjp)(&x[i * n..(i + 1) * n], &w[i * n..(i + 1) * n]))
            .collect();
        let d = max_err(&got, &want);
        assert!(d < 1e-12, "{}: ranks autograd off by {d}", r.name());
        // permutation
        let loss = (r.permutation(var.as_tensor()).unwrap().unwrap() * &wpt)
            .unwrap()
            .sum_all()
            .unwrap();
        let got: Vec<f64> = grad(&loss, &var).flatten_all().unwrap().to_vec1().unwrap();
        let want: Vec<f64> = (0..b)
            .flat_map(|i| (m.perm_vjp)(&x[i * n..(i + 1) * n], &wp[i * n * n..(i + 1) * n * n]))
            .collect();
        let d = max_err(&got, &want);
        assert!(d < 1e-12, "{}: permutation autograd off by {d}", r.name());
    }
}

#[test]
fn the_row_maps_are_the_pure_functions() {
    let x = [0.4, -0.3, 1.1, 0.0];
    let g: Vec<f64> = (0..16).map(|i| (i as f64 * 0.37).sin()).collect();
    let ns = NeuralSort::new(0.7).unwrap();
    assert_eq!(ns.out_len(4), 16);
    assert_eq!(ns.forward(&x).unwrap(), neuralsort(&x, 0.7).unwrap());
    assert_eq!(
        ns.vjp(&x, &g).unwrap(),
        neuralsort_vjp(&x, 0.7, &g).unwrap()
    );
    let ss = SoftSortPerm::new(0.7).unwrap();
    assert_eq!(ss.forward(&x).unwrap(), softsort_perm(&x, 0.7).unwrap());
    assert_eq!(
        ss.vjp(&x, &g).unwrap(),
        softsort_perm_vjp(&x, 0.7, &g).unwrap()
    );
    let sk = Sinkhorn::new(0.1, 7).unwrap();
    assert_eq!(
        sk.forward(&x).unwrap(),
        sinkhorn_permutation(&x, 0.1, 7).unwrap()
    );
    assert_eq!(
        sk.vjp(&x, &g).unwrap(),
        sinkhorn_permutation_vjp(&x, 0.1, 7, &g).unwrap()
    );
}

#[test]
fn parse_builds_the_rankers_and_names_round_trip() {
    use sodeep::spec::parse;
    assert_eq!(parse("neuralsort").unwrap().name(), "neuralsort:tau=1");
    assert_eq!(
        parse("softsort-perm").unwrap().name(),
        "softsort-perm:tau=1"
    );
    assert_eq!(
        parse("sinkhorn:eps=0.01,iters=7").unwrap().name(),
        "sinkhorn:eps=0.01,iters=7"
    );
    for spec in ["neuralsort:tau=0.25", "softsort-perm:tau=2", "sinkhorn"] {
        let r = parse(spec).unwrap();
        assert_eq!(parse(&r.name()).unwrap().name(), r.name());
        assert_eq!(r.fixed_len(), None);
    }
    // memory: O(n) for the streamed ranks; sinkhorn adds its stored iterations
    let sk = parse("sinkhorn:iters=50").unwrap();
    assert!(sk.memory_bytes(1000) > 8 * 100 * 1000);
    assert!(parse("neuralsort").unwrap().memory_bytes(1000) < 8 * 1000 * 1000);
}

#[test]
fn bad_input_is_an_error() {
    use sodeep::spec::parse;
    let nan = Tensor::new(&[[0.1f32, f32::NAN, 0.3]], &Device::Cpu).unwrap();
    let empty = Tensor::zeros((2, 0), DType::F32, &Device::Cpu).unwrap();
    for r in rankers() {
        let e = r.rank(&nan).unwrap_err().to_string();
        assert!(e.contains("NaN"), "{}: {e}", r.name());
        assert!(r.permutation(&nan).is_err());
        let e = r.rank(&empty).unwrap_err().to_string();
        assert!(e.contains("empty"), "{}: {e}", r.name());
    }
    assert!(NeuralSort::new(0.0).is_err());
    assert!(NeuralSort::new(-1.0).is_err());
    assert!(NeuralSort::new(f64::NAN).is_err());
    assert!(SoftSortPerm::new(0.0).is_err());
    assert!(SoftSortPerm::new(f64::INFINITY).is_err());
    assert!(Sinkhorn::new(0.0, 10).is_err());
    assert!(Sinkhorn::new(-1e-3, 10).is_err());
    assert!(Sinkhorn::new(1e-3, 0).is_err());
    for spec in [
        "neuralsort:tau=0",
        "softsort-perm:tau=-1",
        "sinkhorn:eps=0",
        "sinkhorn:eps=-0.1",
    ] {
        assert!(parse(spec).is_err(), "{spec}");
    }
    for spec in [
        "sinkhorn:iters=0",
        "sinkhorn:iters=1.5",
        "sinkhorn:iters=-3",
    ] {
        let e = parse(spec).err().unwrap().to_string();
        assert!(e.contains("positive integer"), "{spec}: {e}");
    }
    let e = parse("sinkhorn:eps=0.1,tau=2").err().unwrap().to_string();
    assert!(
        e.contains("unknown knob 'tau'") && e.contains("eps, iters"),
        "{e}"
    );
    let e = parse("neuralsort:eps=2").err().unwrap().to_string();
    assert!(e.contains("unknown knob 'eps'") && e.contains("tau"), "{e}");
    // the pure functions check their input too
    assert!(neuralsort(&[], 1.0).is_err());
    assert!(softsort_perm(&[1.0, f64::NAN], 1.0).is_err());
    assert!(neuralsort_vjp(&[1.0, 2.0], 1.0, &[1.0]).is_err());
    assert!(sinkhorn_ranks_vjp(&[1.0, 2.0], 0.1, 5, &[1.0; 4]).is_err());
    assert!(sinkhorn_ranks(&[1.0, f64::INFINITY], 0.1, 5).is_err());
}

#[test]
fn a_vector_of_one_score_has_a_one_by_one_permutation_and_sorts_to_itself() {
    // at n = 1 a permutation and a rank vector have the same length: the shape must still be
    // B × 1 × 1, so that the sort (P · x) and the argsort work
    let x = Tensor::new(&[[2.5f64], [-1.0]], &Device::Cpu).unwrap();
    for spec in [
        "neuralsort",
        "softsort-perm",
        "sinkhorn",
        "diffsort-oddeven",
        "diffsort-bitonic",
    ] {
        let r = sodeep::spec::parse(spec).unwrap();
        let p = r.permutation(&x).unwrap().unwrap();
        assert_eq!(p.dims(), &[2, 1, 1], "{spec}");
        let sorted = r.sort(&x).unwrap().unwrap();
        assert_eq!(
            sorted.to_vec2::<f64>().unwrap(),
            vec![vec![2.5], vec![-1.0]],
            "{spec}"
        );
    }
}
