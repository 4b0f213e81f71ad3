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
