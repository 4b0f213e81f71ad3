//! PyTorch checkpoint import, training, checkpoints and bit-exact resumption.

use std::path::Path;

use candle_core::{Device, Tensor};
use sodeep::checkpoint::load_safetensors;
use sodeep::sorter::{Arch, SorterConfig};
use sodeep::train::{train_sorter, TrainConfig};
use sodeep::{Error, Sorter};

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn import_torch_matches_safetensors_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("imported");
    let mut cfg = SorterConfig::new(Arch::Lstm, 8);
    cfg.hidden = 16;
    sodeep::torch_import::import_torch(
        &fixtures().join("sorter_lstm_d8_h16.pth"),
        cfg.clone(),
        &out,
    )
    .unwrap();
    let sorter = Sorter::load(out.to_str().unwrap()).unwrap();
    let fx = load_safetensors(&fixtures().join("sorter_lstm_d8_h16.safetensors")).unwrap();
    let got = sorter.forward(&fx["input"]).unwrap();
    let diff = (got - &fx["output"])
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(diff < 1e-6, "imported sorter differs by {diff}");
    // the same checkpoint for the wrong d is refused with a message naming the architecture
    let bad = SorterConfig::new(Arch::Lstm, 9);
    let err = sodeep::torch_import::import_torch(
        &fixtures().join("sorter_lstm_d8_h16.pth"),
        bad,
        &dir.path().join("x"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("lstm sorter with d = 9"), "{err}");
    assert!(!dir.path().join("x").exists());
}

fn tiny(out: &Path, steps: usize, arch: Arch) -> TrainConfig {
    let mut s = SorterConfig::new(arch, 6);
    s.hidden = 4;
    let mut c = TrainConfig::new(s, out);
    c.steps = steps;
    c.batch = 8;
    c.save_every = 2;
    c.val_samples = 16;
    c.lr = 1e-2;
    c.lr_halve_every = 3;
    c.seed = 7;
    c
}

fn weights(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let mut w: Vec<(String, Vec<f32>)> = load_safetensors(&dir.join("ckpt/sorter.safetensors"))
        .unwrap()
        .into_iter()
        .map(|(k, t)| (k, t.flatten_all().unwrap().to_vec1().unwrap()))
        .collect();
    w.sort_by(|a, b| a.0.cmp(&b.0));
    w
}

#[test]
fn resumed_training_is_bit_identical() {
    sodeep::set_threads(1);
    for arch in [Arch::Lstm, Arch::Cnn, Arch::Gru] {
        let dir = tempfile::tempdir().unwrap();
        let (one, two) = (dir.path().join("one"), dir.path().join("two"));
        train_sorter(&tiny(&one, 7, arch), false, |_| {}).unwrap();
        train_sorter(&tiny(&two, 4, arch), false, |_| {}).unwrap();
        // a fresh start over an existing checkpoint is refused, nothing is overwritten
        let before = weights(&two);
        let err = train_sorter(&tiny(&two, 7, arch), false, |_| {}).unwrap_err();
        assert!(err.to_string().contains("--resume"), "{err}");
        assert_eq!(weights(&two), before);
        train_sorter(&tiny(&two, 7, arch), true, |_| {}).unwrap();
        assert_eq!(weights(&one), weights(&two), "{arch:?}");
        let card = sodeep::checkpoint::read_card(&two.join("ckpt/sorter.json")).unwrap();
        assert_eq!(card.training.unwrap().step, 7);
        assert!(two.join("best/sorter.safetensors").is_file());
        assert!(two.join("ckpt/optimizer.safetensors").is_file());
    }
}

#[test]
fn resumed_training_of_a_sorter_of_any_length_is_bit_identical() {
    // every step draws its own length: mixed lengths resume exactly too
    sodeep::set_threads(1);
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let cfg = |out: &Path, steps| {
        let mut c = tiny(out, steps, Arch::Pairwise);
        c.sorter.d = 0;
        c.sorter.len_range = Some([2, 40]);
        c
    };
    train_sorter(&cfg(&one, 9), false, |_| {}).unwrap();
    train_sorter(&cfg(&two, 5), false, |_| {}).unwrap();
    train_sorter(&cfg(&two, 9), true, |_| {}).unwrap();
    assert_eq!(weights(&one), weights(&two));
    let rec = sodeep::checkpoint::read_card(&two.join("ckpt/sorter.json"))
        .unwrap()
        .training
        .unwrap();
    // validated at the range's ends and the standard lengths inside it
    let lens: Vec<usize> = rec.val_l1_by_len.keys().copied().collect();
    assert_eq!(lens, vec![2, 3, 5, 10, 32, 40]);
    let mean = rec.val_l1_by_len.values().sum::<f64>() / lens.len() as f64;
    assert!((rec.val_l1 - mean).abs() < 1e-12);
    // the steps really drew different lengths
    let drawn: std::collections::BTreeSet<usize> = (0..9)
        .map(|s| sodeep::train::step_len(&cfg(&one, 9), s))
        .collect();
    assert!(drawn.len() >= 4, "{drawn:?}");
    assert!(drawn.iter().all(|n| (2..=40).contains(n)));
    // a sorter of any length needs its range
    let mut bad = cfg(&dir.path().join("bad"), 2);
    bad.sorter.len_range = None;
    let err = train_sorter(&bad, false, |_| {}).unwrap_err();
    assert!(err.to_string().contains("--len-range"), "{err}");
}

#[test]
fn training_reduces_the_loss() {
    sodeep::set_threads(1);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny(dir.path(), 60, Arch::Mlp);
    cfg.sorter.hidden = 64;
    cfg.lr = 3e-3;
    cfg.lr_halve_every = 0;
    cfg.save_every = 60;
    cfg.batch = 64;
    let mut first = None;
    let s = train_sorter(&cfg, false, |p| {
        first.get_or_insert(p.loss);
    })
    .unwrap();
    assert!(
        s.val_l1 < 0.6 * first.unwrap(),
        "{} vs {:?}",
        s.val_l1,
        first
    );
}

#[test]
fn resume_without_checkpoint_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = train_sorter(&tiny(dir.path(), 4, Arch::Lstm), true, |_| {}).unwrap_err();
    assert!(matches!(err, Error::NoCheckpoint(_)), "{err}");
}

#[test]
fn learned_sorters_check_their_input() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny(dir.path(), 1, Arch::Cnn);
    train_sorter(&cfg, false, |_| {}).unwrap();
    let sorter = Sorter::load(dir.path().join("best").to_str().unwrap()).unwrap();
    assert_eq!(sorter.d(), Some(6));
    let x = Tensor::zeros((2, 5), candle_core::DType::F32, &Device::Cpu).unwrap();
    let e = sorter.forward(&x).unwrap_err().to_string();
    assert!(e.contains("length 5") && e.contains("d = 6"), "{e}");
    let x = Tensor::new(&[[0.1f32, f32::NAN, 0.0, 0.2, 0.3, 0.4]], &Device::Cpu).unwrap();
    assert!(matches!(
        sorter.forward(&x),
        Err(Error::NonFinite { index: 1, .. })
    ));
    let x = Tensor::zeros((0, 6), candle_core::DType::F32, &Device::Cpu).unwrap();
    assert!(matches!(sorter.forward(&x), Err(Error::Empty(_))));
    // full ties are valid input
    let x = Tensor::ones((1, 6), candle_core::DType::F32, &Device::Cpu).unwrap();
    assert!(sorter.forward(&x).is_ok());
}

#[test]
fn export_writes_a_half_precision_model_card() {
    sodeep::set_threads(1);
    let dir = tempfile::tempdir().unwrap();
    train_sorter(&tiny(dir.path(), 2, Arch::Gru), false, |_| {}).unwrap();
    let out = dir.path().join("gru-6");
    let cfg = sodeep::export::ExportConfig {
        half: true,
        samples: 50,
        notes: Some("test".into()),
    };
    let r = sodeep::export::export_sorter(&dir.path().join("best"), &out, &cfg).unwrap();
    assert!((r.stored.l1 - r.f32.l1).abs() < 1e-3);
    let card = sodeep::checkpoint::read_card(&out.join("sorter.json")).unwrap();
    assert_eq!(card.dtype, "f16");
    assert_eq!(card.training.unwrap().step, 2);
    let ev = card.evaluation.unwrap();
    assert!((ev["l1"].as_f64().unwrap() - r.stored.l1).abs() < 1e-12);
    assert!(!out.join("optimizer.safetensors").exists());
    let raw = candle_core::safetensors::load(out.join("sorter.safetensors"), &Device::Cpu).unwrap();
    assert!(raw.values().all(|t| t.dtype() == candle_core::DType::F16));
    assert_eq!(Sorter::load(out.to_str().unwrap()).unwrap().d(), Some(6));
}

#[test]
fn a_resumed_run_records_the_schedule_in_force() {
    sodeep::set_threads(1);
    let dir = tempfile::tempdir().unwrap();
    train_sorter(&tiny(dir.path(), 2, Arch::Mlp), false, |_| {}).unwrap();
    let mut cfg = tiny(dir.path(), 4, Arch::Mlp);
    cfg.lr_halve_every = 1;
    let mut lrs = Vec::new();
    train_sorter(&cfg, true, |p| lrs.push(p.lr)).unwrap();
    assert_eq!(lrs, vec![1e-2 / 4.0, 1e-2 / 8.0]);
    let card = sodeep::checkpoint::read_card(&dir.path().join("ckpt/sorter.json")).unwrap();
    let rec = card.training.unwrap();
    assert_eq!(rec.lr_halve_every, 1);
    // the change is recorded with the step it took effect at
    assert_eq!(rec.changes.len(), 1, "{:?}", rec.changes);
    let c = &rec.changes[0];
    assert_eq!((c.step, c.setting.as_str()), (2, "lr_halve_every"));
    assert_eq!((c.from.as_u64(), c.to.as_u64()), (Some(3), Some(1)));
}

/// A resume takes every setting from its checkpoint: each one given with another value is an
/// error naming its flag, and nothing is written.
#[test]
fn resuming_with_a_changed_setting_is_an_error_naming_it() {
    sodeep::set_threads(1);
    let dir = tempfile::tempdir().unwrap();
    train_sorter(&tiny(dir.path(), 2, Arch::Mlp), false, |_| {}).unwrap();
    let before = weights(dir.path());
    type Edit = fn(&mut TrainConfig);
    let edits: [(&str, Edit); 12] = [
        ("--arch", |c| c.sorter.arch = Arch::Cnn),
        ("--len", |c| c.sorter.d = 7),
        ("--len-range", |c| c.sorter.len_range = Some([2, 8])),
        ("--hidden", |c| c.sorter.hidden = 5),
        ("--layers", |c| c.sorter.layers = 2),
        ("--max-sharpness", |c| c.sorter.lambda = Some(3.0)),
        ("--standardize", |c| c.sorter.standardize = true),
        ("--head", |c| c.sorter.head = sodeep::sorter::Head::Position),
        ("--seed", |c| c.seed = 8),
        ("--val-samples", |c| c.val_samples = 32),
        ("val_seed", |c| c.val_seed = 1),
        ("--distribution", |c| {
            c.distribution = sodeep::synthetic::Distribution::Normal
        }),
    ];
    for (flag, edit) in edits {
        let mut cfg = TrainConfig::from_checkpoint(dir.path()).unwrap();
        cfg.steps = 4;
        edit(&mut cfg);
        let err = train_sorter(&cfg, true, |_| {}).unwrap_err();
        assert!(
            matches!(&err, Error::ResumeMismatch { flag: f, .. } if *f == flag),
            "{flag}: {err}"
        );
        assert!(err.to_string().starts_with(flag), "{err}");
        assert_eq!(weights(dir.path()), before, "{flag}");
    }
}

/// Resuming with the checkpoint's settings continues the run as it was; the learning rate and
/// the batch size may change, and the card records each change at its step.
#[test]
fn a_resume_continues_with_the_checkpoints_settings_and_records_allowed_changes() {
    sodeep::set_threads(1);
    let dir = tempfile::tempdir().unwrap();
    let mut first = tiny(dir.path(), 2, Arch::Mlp);
    first.sorter.standardize = true;
    train_sorter(&first, false, |_| {}).unwrap();
    let mut cfg = TrainConfig::from_checkpoint(dir.path()).unwrap();
    assert_eq!(cfg.sorter, first.sorter);
    assert_eq!((cfg.seed, cfg.val_samples, cfg.lr), (7, 16, 1e-2));
    // steps, save interval and threads are free, and not recorded
    (cfg.steps, cfg.save_every, cfg.threads) = (4, 1, 2);
    train_sorter(&cfg, true, |_| {}).unwrap();
    let read = || {
        let card = sodeep::checkpoint::read_card(&dir.path().join("ckpt/sorter.json")).unwrap();
        (card.config.clone(), card.training.unwrap())
    };
    let (config, rec) = read();
    assert_eq!(config, first.sorter);
    assert_eq!((rec.step, rec.seed, rec.save_every), (4, 7, 1));
    assert!(rec.changes.is_empty(), "{:?}", rec.changes);
    // the learning rate and the batch size change at step 4
    let mut cfg = TrainConfig::from_checkpoint(dir.path()).unwrap();
    (cfg.steps, cfg.lr, cfg.batch) = (6, 5e-3, 4);
    let mut lrs = Vec::new();
    train_sorter(&cfg, true, |p| lrs.push(p.lr)).unwrap();
    // the base rate halves every 3 steps, as before
    assert_eq!(lrs, vec![5e-3 / 2.0, 5e-3 / 2.0]);
    let (_, rec) = read();
    assert_eq!((rec.lr, rec.batch), (5e-3, 4));
    let got: Vec<(usize, &str, f64, f64)> = rec
        .changes
        .iter()
        .map(|c| {
            let v = |j: &serde_json::Value| j.as_f64().unwrap();
            (c.step, c.setting.as_str(), v(&c.from), v(&c.to))
        })
        .collect();
    assert_eq!(got, vec![(4, "lr", 1e-2, 5e-3), (4, "batch", 8.0, 4.0)]);
}

#[test]
fn a_checkpoint_left_aside_by_a_crash_is_found_and_replaced_safely() {
    sodeep::set_threads(1);
    let dir = tempfile::tempdir().unwrap();
    train_sorter(&tiny(dir.path(), 2, Arch::Mlp), false, |_| {}).unwrap();
    // simulate a kill between the two renames of a folder swap
    std::fs::rename(dir.path().join("ckpt"), dir.path().join(".ckpt.old")).unwrap();
    train_sorter(&tiny(dir.path(), 4, Arch::Mlp), true, |_| {}).unwrap();
    let card = sodeep::checkpoint::read_card(&dir.path().join("ckpt/sorter.json")).unwrap();
    assert_eq!(card.training.unwrap().step, 4);
    assert!(!dir.path().join(".ckpt.old").exists());
}

/// An `lstm` with the position head trains, records its learning curve, and loads back as a
/// frozen sorter whose card keeps the head.
#[test]
fn position_head_trains_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny(dir.path(), 4, Arch::Lstm);
    cfg.sorter.head = sodeep::sorter::Head::Position;
    sodeep::train::train_sorter(&cfg, false, |_| {}).unwrap();
    let sorter = sodeep::Sorter::load_dir(&dir.path().join("ckpt")).unwrap();
    assert_eq!(sorter.card().config.head, sodeep::sorter::Head::Position);
    let record = sorter.card().training.clone().unwrap();
    let steps: Vec<usize> = record.curve.iter().map(|p| p.0).collect();
    assert_eq!(steps, vec![2, 4]);
    let x = candle_core::Tensor::zeros((3, 6), candle_core::DType::F32, &candle_core::Device::Cpu)
        .unwrap();
    assert_eq!(sorter.forward(&x).unwrap().dims(), &[3, 6]);
    // per direction: W_ih (16 × input), W_hh (16 × 4), two biases of 16; input 1, then 8;
    // the head: 8 weights and a bias (the mixing head alone would have 6 · 6 · 8 + 6)
    let params: usize = load_safetensors(&dir.path().join("ckpt/sorter.safetensors"))
        .unwrap()
        .values()
        .map(|t| t.elem_count())
        .sum();
    assert_eq!(params, 2 * (16 + 64 + 32) + 2 * (128 + 64 + 32) + 8 + 1);
}
