//! The LSTM and GRU sorters against PyTorch: outputs, input gradient and every weight gradient
//! of the mean L1 loss, within 1e-4 of each tensor's largest magnitude.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use sodeep::sorter::{Arch, Net, SorterConfig, SorterNet};

fn fixture(name: &str) -> HashMap<String, Tensor> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    candle_core::safetensors::load(p, &Device::Cpu).unwrap()
}

fn assert_close(name: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.dims(), want.dims(), "{name}: shape");
    let g: Vec<f32> = got.flatten_all().unwrap().to_vec1().unwrap();
    let w: Vec<f32> = want.flatten_all().unwrap().to_vec1().unwrap();
    let scale = w.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
    let worst = g
        .iter()
        .zip(&w)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        worst <= 1e-4 * scale,
        "{name}: max error {worst} > 1e-4 × {scale}"
    );
}

/// Loads the fixture's weights as trainable variables, runs the forward pass and the backward
/// pass of mean L1, and compares everything.
fn check(file: &str, cfg: SorterConfig, params: &[&str], reference: bool) {
    let t = fixture(file);
    let varmap = VarMap::new();
    {
        let mut data = varmap.data().lock().unwrap();
        for p in params {
            data.insert(p.to_string(), Var::from_tensor(&t[*p]).unwrap());
        }
    }
    let vb = VarBuilder::from_varmap(&varmap, candle_core::DType::F32, &Device::Cpu);
    let net = SorterNet::new(&cfg, vb).unwrap();
    let input = Var::from_tensor(&t["input"]).unwrap();
    let out = match (reference, net.net()) {
        (true, Net::Lstm(lstm)) => lstm.forward_reference(input.as_tensor()).unwrap(),
        (true, Net::Gru(gru)) => gru.forward_reference(input.as_tensor()).unwrap(),
        _ => net.forward_t(input.as_tensor(), true).unwrap(),
    };
    assert_close("output", &out, &t["output"]);
    let loss = (out - &t["target_ranks"])
        .unwrap()
        .abs()
        .unwrap()
        .mean_all()
        .unwrap();
    let grads = loss.backward().unwrap();
    assert_close(
        "grad.input",
        grads.get(input.as_tensor()).unwrap(),
        &t["grad.input"],
    );
    let data = varmap.data().lock().unwrap();
    for p in params {
        let g = grads
            .get(data[*p].as_tensor())
            .unwrap_or_else(|| panic!("no grad for {p}"));
        assert_close(&format!("grad.{p}"), g, &t[&format!("grad.{p}")]);
    }
}

fn names(prefix: &str, layers: usize) -> Vec<String> {
    let mut v = Vec::new();
    for l in 0..layers {
        for sfx in ["", "_reverse"] {
            for w in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] {
                v.push(format!("{prefix}.{w}_l{l}{sfx}"));
            }
        }
    }
    v
}

#[test]
fn lstm_sorter_matches_pytorch() {
    let mut params = names("lstm", 2);
    params.push("conv1.weight".into());
    params.push("conv1.bias".into());
    let p: Vec<&str> = params.iter().map(|s| s.as_str()).collect();
    let mut cfg = SorterConfig::new(Arch::Lstm, 8);
    cfg.hidden = 16;
    // the fused kernel (the default on the CPU) and the plain candle reference
    check("sorter_lstm_d8_h16.safetensors", cfg.clone(), &p, false);
    check("sorter_lstm_d8_h16.safetensors", cfg, &p, true);
}

#[test]
fn gru_sorter_matches_pytorch() {
    let params = names("rnn", 3);
    let p: Vec<&str> = params.iter().map(|s| s.as_str()).collect();
    let mut cfg = SorterConfig::new(Arch::Gru, 8);
    cfg.hidden = 8;
    cfg.layers = 3;
    check("sorter_gru_l3_h8_d8.safetensors", cfg.clone(), &p, false);
    check("sorter_gru_l3_h8_d8.safetensors", cfg, &p, true);
}
