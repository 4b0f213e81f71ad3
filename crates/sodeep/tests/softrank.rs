//! Soft ranks against torchsort 0.1.10 (`../shared/fixtures/soft_rank.json`, computed with the
//! public reference implementations as described in that folder's README).

mod common;

use common::rows;
use sodeep::relax::softrank::{soft_rank, soft_rank_vjp, Regularization};

#[test]
fn soft_rank_matches_torchsort_values_and_vjp() {
    let fixture = common::fixture("soft_rank.json");
    let mut checked = 0;
    for case in fixture["cases"].as_array().unwrap() {
        if case["op"] != "soft_rank" {
            continue;
        }
        let reg = match case["regularization"].as_str().unwrap() {
            "l2" => Regularization::L2,
            _ => Regularization::Kl,
        };
        let eps = case["strength"].as_f64().unwrap();
        let (xs, ws, ys, gs) = (
            rows(&case["x"]),
            rows(&case["w"]),
            rows(&case["y"]),
            rows(&case["grad_x_of_sum_w_y"]),
        );
        for (((x, w), y), g) in xs.iter().zip(&ws).zip(&ys).zip(&gs) {
            let (out, tape) = soft_rank(x, eps, reg).unwrap();
            for (a, b) in out.iter().zip(y) {
                assert!((a - b).abs() < 1e-6, "{reg:?} ε={eps}: {out:?} vs {y:?}");
            }
            let grad = soft_rank_vjp(&tape, w);
            for (a, b) in grad.iter().zip(g) {
                assert!(
                    (a - b).abs() < 1e-6,
                    "{reg:?} ε={eps} VJP: {grad:?} vs {g:?}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 24, "only {checked} rows checked");
}

#[test]
fn soft_rank_rejects_bad_input() {
    assert!(soft_rank(&[1.0, 2.0], 0.0, Regularization::L2).is_err());
    assert!(soft_rank(&[1.0, 2.0], -1.0, Regularization::Kl).is_err());
    assert!(soft_rank(&[], 1.0, Regularization::L2).is_err());
    assert!(soft_rank(&[1.0, f64::NAN], 1.0, Regularization::L2).is_err());
}

#[test]
fn softrank_ranker_follows_the_sodeep_convention_and_its_gradient() {
    use candle_core::{Device, Tensor, Var};
    use sodeep::relax::softrank::SoftRank;
    use sodeep::Ranker;
    let x = [0.3f64, -1.2, 2.0, 0.7];
    let r = SoftRank::new(1e-3, Regularization::L2).unwrap();
    let t = Tensor::new(&[x], &Device::Cpu).unwrap();
    let ranks: Vec<f64> = r
        .rank(&t)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    // nearly exact at small ε: largest → 1/4, smallest → 1
    for (a, b) in ranks.iter().zip([0.75, 1.0, 0.25, 0.5]) {
        assert!((a - b).abs() < 1e-9, "{ranks:?}");
    }
    // the tensor gradient equals the pure VJP (ε = 1 so blocks merge), f32 and f64
    let w = [0.4f64, -1.0, 0.25, 2.0];
    let soft = SoftRank::new(1.0, Regularization::Kl).unwrap();
    let neg: Vec<f64> = x.iter().map(|v| -v).collect();
    let (_, tape) = soft_rank(&neg, 1.0, Regularization::Kl).unwrap();
    let want: Vec<f64> = soft_rank_vjp(&tape, &w.map(|v| v / 4.0))
        .iter()
        .map(|v| -v)
        .collect();
    for dtype in [candle_core::DType::F64, candle_core::DType::F32] {
        let xv = Var::from_tensor(
            &Tensor::new(&[x], &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap(),
        )
        .unwrap();
        let wt = Tensor::new(&[w], &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap();
        let loss = (soft.rank(xv.as_tensor()).unwrap() * wt)
            .unwrap()
            .sum_all()
            .unwrap();
        let g: Vec<f64> = loss
            .backward()
            .unwrap()
            .get(xv.as_tensor())
            .unwrap()
            .to_dtype(candle_core::DType::F64)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        for (a, b) in g.iter().zip(&want) {
            assert!((a - b).abs() < 1e-5, "{dtype:?}: {g:?} vs {want:?}");
        }
    }
    let nan = Tensor::new(&[[0.1f32, f32::NAN]], &Device::Cpu).unwrap();
    assert!(r.rank(&nan).is_err());
    assert!(SoftRank::new(0.0, Regularization::L2).is_err());
}

#[test]
fn soft_sort_matches_torchsort_values_and_vjp() {
    use sodeep::relax::softrank::{soft_sort, soft_sort_vjp};
    let fixture = common::fixture("soft_rank.json");
    let mut checked = 0;
    for case in fixture["cases"].as_array().unwrap() {
        if case["op"] != "soft_sort" {
            continue;
        }
        let reg = match case["regularization"].as_str().unwrap() {
            "l2" => Regularization::L2,
            _ => Regularization::Kl,
        };
        let eps = case["strength"].as_f64().unwrap();
        for (((x, w), y), g) in rows(&case["x"])
            .iter()
            .zip(&rows(&case["w"]))
            .zip(&rows(&case["y"]))
            .zip(&rows(&case["grad_x_of_sum_w_y"]))
        {
            let (out, tape) = soft_sort(x, eps, reg).unwrap();
            for (a, b) in out.iter().zip(y) {
                assert!((a - b).abs() < 1e-6, "{reg:?} ε={eps}: {out:?} vs {y:?}");
            }
            let grad = soft_sort_vjp(&tape, w);
            for (a, b) in grad.iter().zip(g) {
                assert!(
                    (a - b).abs() < 1e-6,
                    "{reg:?} ε={eps} VJP: {grad:?} vs {g:?}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 24, "only {checked} rows checked");
}

/// The torchsort-compatible front door on tensors: values and gradients (through candle's
/// autograd) equal torchsort's on every row of the fixture, for both functions.
#[test]
fn front_door_functions_match_torchsort_through_autograd() {
    use candle_core::{Device, Tensor, Var};
    let fixture = common::fixture("soft_rank.json");
    let mut checked = [0, 0];
    for case in fixture["cases"].as_array().unwrap() {
        let sort = match case["op"].as_str().unwrap() {
            "soft_rank" => false,
            "soft_sort" => true,
            _ => continue,
        };
        let reg = match case["regularization"].as_str().unwrap() {
            "l2" => Regularization::L2,
            _ => Regularization::Kl,
        };
        let eps = case["strength"].as_f64().unwrap();
        let (xs, ws, ys, gs) = (
            rows(&case["x"]),
            rows(&case["w"]),
            rows(&case["y"]),
            rows(&case["grad_x_of_sum_w_y"]),
        );
        for (((x, w), y), g) in xs.iter().zip(&ws).zip(&ys).zip(&gs) {
            let n = x.len();
            let xv =
                Var::from_tensor(&Tensor::from_slice(x, (1, n), &Device::Cpu).unwrap()).unwrap();
            let out = if sort {
                sodeep::torchsort::soft_sort_with(xv.as_tensor(), eps, reg)
            } else {
                sodeep::torchsort::soft_rank_with(xv.as_tensor(), eps, reg)
            }
            .unwrap();
            let got: Vec<f64> = out.flatten_all().unwrap().to_vec1().unwrap();
            for (a, b) in got.iter().zip(y) {
                assert!(
                    (a - b).abs() < 1e-6,
                    "sort {sort}, {reg:?} ε={eps}: {got:?} vs {y:?}"
                );
            }
            let wt = Tensor::from_slice(w, (1, n), &Device::Cpu).unwrap();
            let grads = (out * wt).unwrap().sum_all().unwrap().backward().unwrap();
            let grad: Vec<f64> = grads
                .get(xv.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            for (a, b) in grad.iter().zip(g) {
                assert!(
                    (a - b).abs() < 1e-6,
                    "sort {sort}, {reg:?} ε={eps} VJP: {grad:?} vs {g:?}"
                );
            }
            checked[sort as usize] += 1;
        }
    }
    assert!(
        checked[0] >= 24 && checked[1] >= 1,
        "rows checked (rank, sort): {checked:?}"
    );
}
