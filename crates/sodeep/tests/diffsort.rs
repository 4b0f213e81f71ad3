//! Differentiable sorting networks (`relax::diffsort`).
//!
//! The reference vectors, `tests/fixtures/diffsort.json`, are diffsort 0.2.0's
//! `DiffSortNet(network, n, steepness, distribution)` in float64, copied from the project's
//! shared reference vectors (`shared/fixtures`), whose README states: "Computed with the
//! public reference implementations (torch 2.15, torchsort 0.1.10, diffsort 0.2.0, scipy 1.17,
//! scikit-learn 1.9), so tests can check this project against them number by number."
//! The other tests check the hand-written VJPs against central finite differences, the hard
//! limit against exact sorting, and the `Ranker` interface (candle autograd, f32/f64, errors).

mod common;

use candle_core::{DType, Device, Tensor, Var};
use common::{dot, max_err, rows};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sodeep::rank::sodeep_rank as exact_ranks;
use sodeep::ranker::Ranker;
use sodeep::relax::diffsort::{soft_sort, DiffSort, Distribution, Network, Tape};
use sodeep::relax::ranks_from_permutation;
use sodeep::Error;

const NETS: [Network; 2] = [Network::OddEven, Network::Bitonic];
const DISTS: [Distribution; 4] = [
    Distribution::Logistic,
    Distribution::LogisticPhi,
    Distribution::Cauchy,
    Distribution::Reciprocal,
];

fn run(net: Network, dist: Distribution, s: f64, x: &[f64]) -> (Vec<f64>, Tape) {
    DiffSort::new(net, s, dist).unwrap().forward(x).unwrap()
}

fn randn(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.random_range(-2.0..2.0)).collect()
}

#[test]
fn matches_diffsort_values_permutation_and_vjp() {
    let fixture = common::fixture("diffsort.json");
    let (mut cases, mut worst) = (0, 0.0f64);
    for case in fixture["cases"].as_array().unwrap() {
        let net = match case["network"].as_str().unwrap() {
            "odd_even" => Network::OddEven,
            "bitonic" => Network::Bitonic,
            other => panic!("network {other}"),
        };
        let dist = Distribution::from_name(case["distribution"].as_str().unwrap()).unwrap();
        let s = case["steepness"].as_f64().unwrap();
        assert_eq!(case["art_lambda"].as_f64().unwrap(), 0.25);
        let n = case["n"].as_u64().unwrap() as usize;
        let (xs, ws, sorted, grads) = (
            rows(&case["x"]),
            rows(&case["w"]),
            rows(&case["sorted"]),
            rows(&case["grad_x_of_sum_w_sorted"]),
        );
        let perms = case["permutation"].as_array().unwrap();
        for (b, x) in xs.iter().enumerate() {
            let what = format!("{net:?} {dist:?} n={n} row {b}");
            let (y, tape) = run(net, dist, s, x);
            let e_sort = max_err(&y, &sorted[b]);
            let p_ref: Vec<f64> = rows(&perms[b]).concat();
            let e_perm = max_err(&tape.permutation().unwrap(), &p_ref);
            let e_vjp = max_err(&tape.sort_vjp(&ws[b]).unwrap(), &grads[b]);
            assert!(e_sort < 1e-6, "{what}: sorted off by {e_sort}");
            assert!(e_perm < 1e-6, "{what}: permutation off by {e_perm}");
            assert!(e_vjp < 1e-6, "{what}: VJP off by {e_vjp}");
            worst = worst.max(e_sort).max(e_perm).max(e_vjp);
        }
        cases += 1;
    }
    assert_eq!(cases, 20);
    eprintln!("diffsort fixture: largest deviation {worst:.2e}");
}

/// Largest `|fd − analytic| / (1 + |analytic|)` over the coordinates of `x`.
fn fd_check(x: &[f64], f: impl Fn(&[f64]) -> f64, grad: &[f64]) -> f64 {
    let h = 1e-6;
    let mut worst: f64 = 0.0;
    for i in 0..x.len() {
        let mut xp = x.to_vec();
        let mut xm = x.to_vec();
        xp[i] += h;
        xm[i] -= h;
        let fd = (f(&xp) - f(&xm)) / (2.0 * h);
        worst = worst.max((fd - grad[i]).abs() / (1.0 + grad[i].abs()));
    }
    worst
}

#[test]
fn rank_and_sort_vjps_match_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for n in [1, 2, 3, 5, 8, 13] {
        for net in NETS {
            for dist in DISTS {
                for s in [1.0, 10.0] {
                    let x = randn(&mut rng, n);
                    let g = randn(&mut rng, n);
                    let (_, tape) = run(net, dist, s, &x);
                    let what = format!("{net:?} {dist:?} s={s} n={n}");
                    let grad = tape.ranks_vjp(&g).unwrap();
                    let e = fd_check(&x, |z| dot(&g, &run(net, dist, s, z).1.ranks()), &grad);
                    assert!(e < 1e-6, "{what}: rank VJP off by {e}");
                    let grad = tape.sort_vjp(&g).unwrap();
                    let e = fd_check(&x, |z| dot(&g, &run(net, dist, s, z).0), &grad);
                    assert!(e < 1e-6, "{what}: sort VJP off by {e}");
                }
            }
        }
    }
}

#[test]
fn permutation_vjp_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for n in [1, 2, 3, 4, 5, 7] {
        for net in NETS {
            for dist in DISTS {
                let x = randn(&mut rng, n);
                let g = randn(&mut rng, n * n);
                let (_, tape) = run(net, dist, 5.0, &x);
                let grad = tape.permutation_vjp(&g).unwrap();
                let e = fd_check(
                    &x,
                    |z| dot(&g, &run(net, dist, 5.0, z).1.permutation().unwrap()),
                    &grad,
                );
                assert!(
                    e < 1e-6,
                    "{net:?} {dist:?} n={n}: permutation VJP off by {e}"
                );
            }
        }
    }
}

#[test]
fn ranks_tend_to_exact_ranks_at_large_steepness() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for n in [2, 5, 16, 20] {
        // well separated: a shuffled 0, 1, …, n−1
        let mut x: Vec<f64> = (0..n).map(|i| i as f64).collect();
        for i in (1..n).rev() {
            x.swap(i, rng.random_range(0..=i));
        }
        let exact = exact_ranks(&x);
        for net in NETS {
            for dist in DISTS {
                let (_, tape) = run(net, dist, 1e4, &x);
                let e = max_err(&tape.ranks(), &exact);
                assert!(e < 1e-3, "{net:?} {dist:?} n={n}: {e} from the exact ranks");
            }
        }
    }
}

#[test]
fn every_n_from_1_to_20_sorts_and_keeps_the_invariants() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for n in 1..=20 {
        let x = randn(&mut rng, n);
        let mut hard = x.clone();
        hard.sort_by(f64::total_cmp);
        for net in NETS {
            // hard limit: σ(s·Δ) rounds to exactly 0 or 1, so the network sorts exactly (this
            // checks the bitonic pads too)
            let (y, tape) = run(net, Distribution::Logistic, 1e9, &x);
            assert_eq!(y, hard, "{net:?} n={n}: hard limit does not sort");
            assert_eq!(tape.ranks(), exact_ranks(&x), "{net:?} n={n}");
            for dist in DISTS {
                let what = format!("{net:?} {dist:?} n={n}");
                let (y, tape) = run(net, dist, 10.0, &x);
                let ranks = tape.ranks();
                let total: f64 = ranks.iter().sum();
                assert!((total - (n as f64 + 1.0) / 2.0).abs() < 1e-9, "{what}");
                assert!(ranks
                    .iter()
                    .all(|&r| r >= 1.0 / n as f64 - 1e-12 && r <= 1.0 + 1e-12));
                let xm = tape.permutation().unwrap();
                for i in 0..n {
                    let row: f64 = xm[i * n..(i + 1) * n].iter().sum();
                    let col: f64 = (0..n).map(|k| xm[k * n + i]).sum();
                    assert!((row - 1.0).abs() < 1e-12, "{what}: row {i} sums to {row}");
                    assert!(
                        (col - 1.0).abs() < 1e-12,
                        "{what}: column {i} sums to {col}"
                    );
                }
                // sorted = x · X, and the ranks without X equal the ranks from X
                for k in 0..n {
                    let yk: f64 = (0..n).map(|i| x[i] * xm[i * n + k]).sum();
                    assert!((yk - y[k]).abs() < 1e-12, "{what}: sorted ≠ x·X");
                }
                let mut p_desc = vec![0.0; n * n];
                for k in 0..n {
                    for i in 0..n {
                        p_desc[k * n + i] = xm[i * n + (n - 1 - k)];
                    }
                }
                let e = max_err(&ranks, &ranks_from_permutation(&p_desc, n));
                assert!(e < 1e-12, "{what}: ranks ≠ ranks from X ({e})");
            }
        }
    }
}

#[test]
fn padded_bitonic_sorts_every_n_in_the_hard_limit() {
    // +∞ pads at the end make any n an exact sorting network (truncating the top wires, as
    // diffsort 0.2.0 does, fails for some n such as 22, 38 and 54)
    let mut rng = ChaCha8Rng::seed_from_u64(19);
    for n in 1..=130 {
        for _ in 0..5 {
            let x = randn(&mut rng, n);
            let mut hard = x.clone();
            hard.sort_by(f64::total_cmp);
            let (y, _) = run(Network::Bitonic, Distribution::Logistic, 1e9, &x);
            assert_eq!(y, hard, "n={n}");
        }
    }
}

#[test]
fn networks_have_the_documented_size() {
    for n in [1, 2, 7, 8, 100] {
        let odd = Network::OddEven.compile(n).unwrap();
        assert_eq!(odd.layers(), n);
        assert_eq!(odd.len(), (n / 2) * n.div_ceil(2) + (n / 2) * ((n - 1) / 2));
        let bit = Network::Bitonic.compile(n).unwrap();
        let k = n.next_power_of_two().trailing_zeros() as usize;
        assert_eq!(bit.layers(), k * (k + 1) / 2);
        if n.is_power_of_two() {
            assert_eq!(bit.len(), bit.layers() * n / 2);
        }
        for c in [&odd, &bit] {
            assert!(c.len() as u64 <= c.network().max_comparators(n));
            for l in 0..c.layers() {
                let mut seen = vec![false; n];
                for &[lo, hi] in c.layer(l) {
                    assert!(
                        !seen[lo as usize] && !seen[hi as usize],
                        "a layer reuses a slot"
                    );
                    seen[lo as usize] = true;
                    seen[hi as usize] = true;
                }
            }
        }
    }
    assert!(matches!(Network::Bitonic.compile(0), Err(Error::Empty(_))));
}

fn ranker(net: Network, dist: Distribution, s: f64) -> DiffSort {
    DiffSort::new(net, s, dist).unwrap()
}

#[test]
fn f32_and_f64_give_the_same_ranks() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let flat = randn(&mut rng, 3 * 11);
    let x64 = Tensor::from_vec(flat, (3, 11), &Device::Cpu).unwrap();
    let x32 = x64.to_dtype(DType::F32).unwrap();
    for net in NETS {
        let r = ranker(net, Distribution::Cauchy, 10.0);
        let a: Vec<Vec<f64>> = r.rank(&x64).unwrap().to_vec2().unwrap();
        let b = r.rank(&x32).unwrap();
        assert_eq!(b.dtype(), DType::F32);
        let b: Vec<Vec<f64>> = b.to_dtype(DType::F64).unwrap().to_vec2().unwrap();
        for (ra, rb) in a.iter().zip(&b) {
            assert!(max_err(ra, rb) < 1e-5, "{net:?}: {ra:?} vs {rb:?}");
        }
    }
}

#[test]
fn candle_autograd_uses_the_hand_written_vjps() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let (b, n) = (2, 6);
    let flat = randn(&mut rng, b * n);
    let target = randn(&mut rng, b * n);
    for net in NETS {
        for dist in DISTS {
            let r = ranker(net, dist, 10.0);
            let x = Var::from_vec(flat.clone(), (b, n), &Device::Cpu).unwrap();
            let t = Tensor::from_vec(target.clone(), (b, n), &Device::Cpu).unwrap();
            // ranks: L = Σ (r − t)², ∂L/∂r = 2(r − t)
            let ranks = r.rank(x.as_tensor()).unwrap();
            let loss = (&ranks - &t).unwrap().sqr().unwrap().sum_all().unwrap();
            let grads = loss.backward().unwrap();
            let got: Vec<f64> = grads
                .get(&x)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let rv: Vec<f64> = ranks.flatten_all().unwrap().to_vec1().unwrap();
            for row in 0..b {
                let xs = &flat[row * n..(row + 1) * n];
                let g: Vec<f64> = (0..n)
                    .map(|i| 2.0 * (rv[row * n + i] - target[row * n + i]))
                    .collect();
                let want = r.forward(xs).unwrap().1.ranks_vjp(&g).unwrap();
                let e = max_err(&got[row * n..(row + 1) * n], &want);
                assert!(e < 1e-12, "{net:?} {dist:?}: autograd ≠ VJP by {e}");
            }
            // the sort override equals the default P·x, values and gradients
            let sorted = r.sort(x.as_tensor()).unwrap().unwrap();
            let p = r.permutation(x.as_tensor()).unwrap().unwrap();
            assert_eq!(p.dims(), &[b, n, n]);
            let via_p = p.matmul(&x.as_tensor().unsqueeze(2).unwrap()).unwrap();
            let via_p = via_p.squeeze(2).unwrap();
            let e = max_err(
                &sorted.flatten_all().unwrap().to_vec1::<f64>().unwrap(),
                &via_p.flatten_all().unwrap().to_vec1::<f64>().unwrap(),
            );
            assert!(e < 1e-12, "{net:?} {dist:?}: sort ≠ P·x by {e}");
            let w = Tensor::from_vec(target.clone(), (b, n), &Device::Cpu).unwrap();
            let g1 = (&sorted * &w)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let g2 = (&via_p * &w)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let g1: Vec<f64> = g1
                .get(&x)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let g2: Vec<f64> = g2
                .get(&x)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let e = max_err(&g1, &g2);
            assert!(
                e < 1e-10,
                "{net:?} {dist:?}: sort gradient ≠ (P·x) gradient by {e}"
            );
            // P's rows: row k is the k-th largest score's weights
            let pv: Vec<Vec<Vec<f64>>> = p.to_vec3().unwrap();
            let (_, tape) = r.forward(&flat[..n]).unwrap();
            let xm = tape.permutation().unwrap();
            for k in 0..n {
                for i in 0..n {
                    assert_eq!(pv[0][k][i], xm[i * n + (n - 1 - k)]);
                }
            }
        }
    }
}

#[test]
fn names_parse_back_and_memory_is_honest() {
    for spec in ["diffsort-oddeven", "diffsort-bitonic"] {
        let r = sodeep::spec::parse(spec).unwrap();
        assert_eq!(r.name(), format!("{spec}:steepness=10,dist=cauchy"));
        assert_eq!(r.fixed_len(), None);
        let again = sodeep::spec::parse(&r.name()).unwrap();
        assert_eq!(again.name(), r.name());
    }
    let r = sodeep::spec::parse("diffsort-bitonic:steepness=2.5,dist=logistic_phi").unwrap();
    assert_eq!(r.name(), "diffsort-bitonic:steepness=2.5,dist=logistic_phi");
    for net in NETS {
        let d = ranker(net, Distribution::Cauchy, 10.0);
        for n in [1, 10, 100, 1000] {
            let m = d.comparators(n).unwrap().len() as u64;
            assert!(d.memory_bytes(n) >= 40 * m, "{net:?} n={n}");
        }
    }
    let bit = ranker(Network::Bitonic, Distribution::Cauchy, 10.0);
    let odd = ranker(Network::OddEven, Distribution::Cauchy, 10.0);
    assert!(bit.memory_bytes(100_000) < 1 << 30);
    assert!(odd.memory_bytes(100_000) > 100 * bit.memory_bytes(100_000));
}

#[test]
fn bad_input_is_a_typed_error() {
    let d = ranker(Network::Bitonic, Distribution::Cauchy, 10.0);
    let nan = Tensor::new(&[[0.5f32, f32::NAN, 1.0]], &Device::Cpu).unwrap();
    assert!(matches!(
        d.rank(&nan),
        Err(Error::NonFinite { index: 1, .. })
    ));
    assert!(matches!(d.permutation(&nan), Err(Error::NonFinite { .. })));
    let empty = Tensor::zeros((2, 0), DType::F32, &Device::Cpu).unwrap();
    assert!(matches!(d.rank(&empty), Err(Error::Empty(_))));
    let flat = Tensor::new(&[1.0f32, 2.0], &Device::Cpu).unwrap();
    assert!(d.rank(&flat).is_err());
    assert!(matches!(d.forward(&[]), Err(Error::Empty(_))));
    assert!(matches!(
        d.forward(&[1.0, f64::INFINITY]),
        Err(Error::NonFinite { .. })
    ));
    for s in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(DiffSort::new(Network::OddEven, s, Distribution::Cauchy).is_err());
    }
    for spec in [
        "diffsort-oddeven:steepness=0",
        "diffsort-bitonic:steepness=-1",
    ] {
        let e = sodeep::spec::parse(spec).err().expect(spec).to_string();
        assert!(e.contains("steepness"), "{e}");
    }
    let e = sodeep::spec::parse("diffsort-bitonic:dist=foo")
        .err()
        .unwrap()
        .to_string();
    for name in Distribution::NAMES {
        assert!(e.contains(name), "{e}");
    }
    let e = sodeep::spec::parse("diffsort-bitonic:tau=1")
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("unknown knob 'tau'") && e.contains("steepness"),
        "{e}"
    );
    assert!(sodeep::spec::parse("diffsort-oddeven:steepness=abc").is_err());
    // lengths that do not fit the network or the tape
    let net = d.comparators(4).unwrap();
    assert!(soft_sort(&net, Distribution::Cauchy, 10.0, &[1.0, 2.0]).is_err());
    assert!(soft_sort(&net, Distribution::Cauchy, 0.0, &[1.0, 2.0, 3.0, 4.0]).is_err());
    let (_, tape) = soft_sort(&net, Distribution::Cauchy, 10.0, &[1.0, 2.0, 3.0, 4.0]).unwrap();
    assert!(tape.ranks_vjp(&[1.0]).is_err());
    assert!(tape.sort_vjp(&[1.0]).is_err());
    assert!(tape.permutation_vjp(&[1.0; 4]).is_err());
}

#[test]
fn extreme_but_finite_scores_stay_finite() {
    let x = [f64::MAX, -f64::MAX, 0.0, 1e300];
    for net in NETS {
        for dist in DISTS {
            let (y, tape) = run(net, dist, 10.0, &x);
            assert!(y.iter().all(|v| v.is_finite()), "{net:?} {dist:?}: {y:?}");
            let r = tape.ranks();
            assert!(r.iter().all(|v| v.is_finite()), "{net:?} {dist:?}: {r:?}");
            let g = tape.ranks_vjp(&[1.0, -1.0, 0.5, 0.25]).unwrap();
            assert!(g.iter().all(|v| v.is_finite()), "{net:?} {dist:?}: {g:?}");
        }
    }
}

#[test]
fn reused_buffers_give_the_same_results() {
    // n = 3000 (bitonic, ≈ 10⁵ comparators) is large enough for the ranker's buffer pool
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let n = 3000;
    let (x1, x2, g) = (randn(&mut rng, n), randn(&mut rng, n), randn(&mut rng, n));
    let net = Network::Bitonic;
    let warm = ranker(net, Distribution::Logistic, 10.0);
    assert!(warm.comparators(n).unwrap().len() >= 1 << 15);
    let first = warm.ranks(&x1).unwrap();
    let _ = warm.forward(&x1).unwrap().1.ranks_vjp(&g).unwrap();
    let (r2, g2) = (
        warm.ranks(&x2).unwrap(),
        warm.forward(&x2).unwrap().1.ranks_vjp(&g).unwrap(),
    );
    let (_, fresh) = soft_sort(
        &Network::Bitonic.compile(n).unwrap().into(),
        Distribution::Logistic,
        10.0,
        &x2,
    )
    .unwrap();
    assert_eq!(r2, fresh.ranks());
    assert_eq!(g2, fresh.ranks_vjp(&g).unwrap());
    assert_eq!(first, warm.forward(&x1).unwrap().1.ranks());
}
