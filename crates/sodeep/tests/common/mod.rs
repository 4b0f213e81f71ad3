//! Helpers shared by the ranker test files: the reference fixtures and vector comparisons.
// each test binary uses its own subset of these
#![allow(dead_code)]

use serde_json::Value;

/// A JSON fixture from `tests/fixtures`.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// A JSON array of number arrays.
pub fn rows(v: &Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

/// The largest absolute difference of two vectors of one length.
pub fn max_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// `a · b`.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `∂loss/∂x` after a backward pass from `loss`.
pub fn grad(loss: &candle_core::Tensor, x: &candle_core::Var) -> candle_core::Tensor {
    loss.backward().unwrap().get(x.as_tensor()).unwrap().clone()
}
