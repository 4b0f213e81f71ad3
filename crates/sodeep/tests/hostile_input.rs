//! Hostile input to the library: each case once gave a wrong answer, a hang or a silent
//! success, and must now give a clean error or a correct result.

use candle_core::{Device, Tensor};
use sodeep::card::{Arch, SorterConfig};
use sodeep::train::{train_sorter, TrainConfig};
use sodeep::Sorter;

#[test]
fn a_knob_given_twice_is_named_as_such() {
    let err = sodeep::spec::parse("softrank:eps=1,eps=2").err().unwrap();
    assert!(err.to_string().contains("'eps' is given twice"), "{err}");
}

#[test]
fn sinkhorn_iteration_counts_are_capped() {
    let err = sodeep::spec::parse("sinkhorn:iters=99999999999")
        .err()
        .unwrap();
    assert!(err.to_string().contains("100000"), "{err}");
    assert!(sodeep::spec::parse("sinkhorn:iters=100000").is_ok());
}

#[test]
fn a_sharpness_beyond_f32_is_refused_not_nan() {
    let err = Sorter::load("handcrafted:1e39").unwrap_err();
    assert!(err.to_string().contains("largest f32"), "{err}");
    // the largest accepted value gives finite ranks in [1/n, 1]
    let s = Sorter::load("handcrafted:3e38").unwrap();
    let x = Tensor::new(&[[0.5f32, -2.0, 0.5, 7.0]], &Device::Cpu).unwrap();
    let r: Vec<f32> = s
        .forward(&x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert!(
        r.iter().all(|v| v.is_finite() && *v >= 0.25 && *v <= 1.0),
        "{r:?}"
    );
}

#[test]
fn training_zero_steps_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = TrainConfig::new(SorterConfig::new(Arch::Mlp, 4), dir.path());
    cfg.steps = 0;
    let err = train_sorter(&cfg, false, |_| {}).unwrap_err();
    assert!(err.to_string().contains("--steps"), "{err}");
    assert!(!dir.path().join("ckpt").exists());
}

#[test]
fn standardisation_does_not_overflow_on_huge_scores() {
    let huge = Tensor::new(&[[3e38f32, -3e38, 0.0, 1e38]], &Device::Cpu).unwrap();
    let plain = Tensor::new(&[[3f32, -3.0, 0.0, 1.0]], &Device::Cpu).unwrap();
    let a: Vec<f32> = sodeep::sorter::standardize_rows(&huge)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let b: Vec<f32> = sodeep::sorter::standardize_rows(&plain)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
    }
    // a standardised sorter ranks them, rather than seeing a constant vector
    let r: Vec<f32> = Sorter::load("any-sharp")
        .unwrap()
        .forward(&huge)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert!(r[0] < r[3] && r[3] < r[2] && r[2] < r[1], "{r:?}");
}
