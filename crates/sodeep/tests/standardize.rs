//! Input standardisation: rank-preserving, scale-invariant sorters, finite gradients on ties.

use candle_core::{DType, Device, Tensor, Var};
use sodeep::sorter::{init_sorter, standardize_rows, Arch, SorterConfig};

#[test]
fn standardised_sorters_ignore_affine_maps_of_their_input() {
    let mut cfg = SorterConfig::new(Arch::Gru, 7);
    cfg.hidden = 5;
    cfg.layers = 2;
    cfg.standardize = true;
    let (_, net) = init_sorter(&cfg, 3).unwrap();
    let x = Tensor::new(&[[0.3f32, -0.2, 0.9, 0.1, 0.0, -0.7, 0.5]], &Device::Cpu).unwrap();
    let y = net.forward_t(&x, false).unwrap();
    let moved = ((&x * 0.01).unwrap() + 5.0).unwrap();
    let y2 = net.forward_t(&moved, false).unwrap();
    let diff = (y - y2)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(diff < 1e-4, "{diff}");
    // without standardisation the same sorter does see the shift
    cfg.standardize = false;
    let (_, raw) = init_sorter(&cfg, 3).unwrap();
    let a = raw.forward_t(&x, false).unwrap();
    let b = raw.forward_t(&moved, false).unwrap();
    let diff = (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(diff > 1e-3, "{diff}");
}

#[test]
fn standardising_keeps_order_and_constant_rows_have_finite_gradients() {
    let x =
        Var::from_tensor(&Tensor::new(&[[3f32, 1.0, 2.0], [4.0, 4.0, 4.0]], &Device::Cpu).unwrap())
            .unwrap();
    let z = standardize_rows(x.as_tensor()).unwrap();
    let rows: Vec<Vec<f32>> = z.to_vec2().unwrap();
    assert!(rows[0][0] > rows[0][2] && rows[0][2] > rows[0][1]);
    assert!(rows[1].iter().all(|v| *v == 0.0));
    let weights = Tensor::new(&[[1f32, 2.0, 3.0], [1.0, 2.0, 3.0]], &Device::Cpu).unwrap();
    let g = z
        .mul(&weights)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let gx: Vec<f32> = g
        .get(x.as_tensor())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert!(gx.iter().all(|v| v.is_finite()), "{gx:?}");
    assert_eq!(z.dtype(), DType::F32);
}

/// Ranks of one row through `spec` (the SoDeep convention), in the row's dtype.
fn ranks_of(spec: &str, x: &Tensor) -> Vec<f64> {
    let ranker = sodeep::spec::parse(spec).unwrap();
    let r = sodeep::ranker::rank_with(ranker.as_ref(), x, Default::default()).unwrap();
    r.to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// Scale invariance down to the spacings the dtype tells apart: `offset + spread · v` ranks as
/// `v = (3, 1, 2, −1)` itself, for the pairwise sorters, which standardise each vector.
#[test]
fn closely_spaced_scores_rank_as_the_same_vector_spread_out() {
    let v = [3.0, 1.0, 2.0, -1.0];
    let row =
        |offset: f64, spread: f64| -> Vec<f64> { v.iter().map(|x| offset + spread * x).collect() };
    let ulp64 = 2f64.powi(-53); // of 0.5
    let ulp32 = 2f64.powi(-24);
    for spec in ["best-100", "any", "any-sharp"] {
        let want = ranks_of(spec, &Tensor::new(&[v], &Device::Cpu).unwrap());
        // the order is right to begin with: largest → 1/n
        let order = [0.25, 0.75, 0.5, 1.0];
        for (w, o) in want.iter().zip(order) {
            assert!((w - o).abs() < 0.1, "{spec}: {want:?}");
        }
        let mut cases: Vec<(String, Tensor)> = Vec::new();
        // the example, and relative spreads down to f64's own spacing
        for (offset, spread) in [
            (0.5, 1e-7),
            (0.5, 1e-12),
            (0.0, 1e-19),
            (0.0, 1e-300),
            (1e300, 1e290),
            (0.5, ulp64),
        ] {
            let t = Tensor::from_vec(row(offset, spread), (1, 4), &Device::Cpu).unwrap();
            cases.push((format!("f64 {offset} + {spread:e} v"), t));
        }
        for (offset, spread) in [(0.5, ulp32), (0.0, 1e-19), (0.0, 1e-30)] {
            let r: Vec<f32> = row(offset, spread).iter().map(|&x| x as f32).collect();
            let t = Tensor::from_vec(r, (1, 4), &Device::Cpu).unwrap();
            cases.push((format!("f32 {offset} + {spread:e} v"), t));
        }
        for (what, x) in cases {
            let got = ranks_of(spec, &x);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-3, "{spec}, {what}: {got:?} vs {want:?}");
            }
        }
        // the command line's path: rows of f64, as `rank` reads them
        let ranker = sodeep::spec::parse(spec).unwrap();
        let rows = vec![vec![0.5000003, 0.5000001, 0.5000002, 0.4999999]];
        let got =
            sodeep::ranker::apply_to_rows(ranker.as_ref(), &rows, sodeep::ranker::RowOutput::Ranks)
                .unwrap();
        for (g, w) in got[0].iter().zip(&want) {
            assert!((g - w).abs() < 1e-3, "{spec}: {got:?} vs {want:?}");
        }
    }
}

/// Only an exactly constant vector has no order: its ranks are equal and its gradients finite,
/// in f32 and f64.
#[test]
fn an_exactly_constant_vector_gets_equal_ranks_and_finite_gradients() {
    for spec in ["best-100", "any", "any-sharp"] {
        let ranker = sodeep::spec::parse(spec).unwrap();
        for dtype in [DType::F32, DType::F64] {
            let x = Var::from_tensor(
                &Tensor::new(&[[0.1f64; 5], [0.0; 5]], &Device::Cpu)
                    .unwrap()
                    .to_dtype(dtype)
                    .unwrap(),
            )
            .unwrap();
            let r = ranker.rank(x.as_tensor()).unwrap();
            let weights = Tensor::new(&[[1.0, 2.0, 3.0, 4.0, 5.0]; 2], &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap();
            let g = r
                .mul(&weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let gx: Vec<f64> = g
                .get(x.as_tensor())
                .unwrap()
                .to_dtype(DType::F64)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            assert!(gx.iter().all(|v| v.is_finite()), "{spec} {dtype:?}: {gx:?}");
            for row in r.to_dtype(DType::F64).unwrap().to_vec2::<f64>().unwrap() {
                assert!(
                    row.iter()
                        .all(|v| (v - row[0]).abs() < 1e-6 && v.is_finite()),
                    "{spec} {dtype:?}: {row:?}"
                );
            }
        }
    }
}
