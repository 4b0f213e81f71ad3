//! Fuzzing on stable: random and mutated inputs to every parser that reads user data (ranker
//! specs, sorter cards, safetensors files, PyTorch pickles). Each must return `Ok` or a clean
//! `Err`, never panic. The case counts keep the whole file to seconds in CI; raise
//! `PROPTEST_CASES` to fuzz longer.

use std::path::Path;

use proptest::prelude::*;

/// Mutations of a valid input: flipped, dropped and inserted bytes.
fn mutate(base: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = base.len().max(1);
    proptest::collection::vec((0..len, any::<u8>(), 0u8..3), 1..8).prop_map(move |edits| {
        let mut b = base.clone();
        for (at, byte, kind) in edits {
            let at = at.min(b.len());
            match kind {
                0 if at < b.len() => b[at] = byte,
                1 if at < b.len() => {
                    b.remove(at);
                }
                _ => b.insert(at, byte),
            }
        }
        b
    })
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .expect("fixture")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn spec_parser_never_panics(s in "[a-z:=,.0-9eE+-]{0,40}") {
        let _ = sodeep::spec::parse(&s);
    }

    #[test]
    fn spec_parser_never_panics_on_known_names(
        name in prop::sample::select(sodeep::spec::ANALYTIC.to_vec()),
        knobs in "[a-z]{1,9}=[-0-9.eE+a-z]{0,12}(,[a-z]{1,9}=[-0-9.eE+]{0,12}){0,2}",
    ) {
        let name = name.split('[').next().unwrap_or(name);
        let _ = sodeep::spec::parse(&format!("{name}:{knobs}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn sorter_folders_never_panic(
        card in mutate(br#"{"arch":"gru","d":8,"hidden":8,"layers":3,"parameters":1,"crate_version":"0"}"#.to_vec()),
        weights in mutate(fixture("sorter_gru_l3_h8_d8.safetensors")),
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sorter.json"), &card).unwrap();
        std::fs::write(dir.path().join("sorter.safetensors"), &weights).unwrap();
        let _ = sodeep::Sorter::load_dir(dir.path());
    }

    #[cfg(feature = "train")]
    #[test]
    fn pytorch_imports_never_panic(bytes in mutate(fixture("sorter_lstm_d8_h16.pth"))) {
        let dir = tempfile::tempdir().unwrap();
        let pth = dir.path().join("x.pth");
        std::fs::write(&pth, &bytes).unwrap();
        let _ = sodeep::torch_import::read_torch_weights(&pth);
    }
}

/// The settings a resumed run may be given, in the order the resume checks them: the first
/// twelve must equal the checkpoint's, the last three may change (and are recorded).
#[cfg(feature = "train")]
const RESUME_FLAGS: [&str; 15] = [
    "--arch",
    "--len",
    "--len-range",
    "--hidden",
    "--layers",
    "--max-sharpness",
    "--standardize",
    "--head",
    "--seed",
    "--val-samples",
    "val_seed",
    "--distribution",
    "--lr",
    "--lr-halve-every",
    "--batch",
];

/// Setting `which` of `cfg` changed to a value that differs from the base run's (`v` picks it).
#[cfg(feature = "train")]
fn change_setting(cfg: &mut sodeep::train::TrainConfig, which: usize, v: u32) {
    use sodeep::sorter::{Arch, Head};
    use sodeep::synthetic::Distribution;
    let v = v as usize;
    match which {
        0 => cfg.sorter.arch = [Arch::Cnn, Arch::Gru][v % 2],
        1 => cfg.sorter.d = 5 + v % 4,
        2 => cfg.sorter.len_range = Some([2, 3 + v % 8]),
        3 => cfg.sorter.hidden = 5 + v % 4,
        4 => cfg.sorter.layers = 1 + v % 3,
        5 => cfg.sorter.lambda = Some(1.0 + (v % 50) as f64),
        6 => cfg.sorter.standardize = true,
        7 => cfg.sorter.head = Head::Position,
        8 => cfg.seed = 4 + (v % 100) as u64,
        9 => cfg.val_samples = 5 + v % 8,
        10 => cfg.val_seed = cfg.val_seed.wrapping_add(1 + v as u64),
        11 => cfg.distribution = Distribution::CONCRETE[v % Distribution::CONCRETE.len()],
        12 => cfg.lr = 1e-3 * (1 + v % 9) as f64,
        13 => cfg.lr_halve_every = 1 + v % 5,
        _ => cfg.batch = 5 + v % 4,
    }
}

#[cfg(feature = "train")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A resume with random settings changed: an error naming the first changed setting that
    /// must stay, with nothing written; or, when only the learning rate, its halving period,
    /// the batch size and the free settings changed, a run whose card keeps every other
    /// setting and records each change. Never a run that mixes settings silently.
    #[test]
    fn resumes_with_changed_settings_never_mix_runs(
        edits in proptest::collection::vec((0usize..15, any::<u32>()), 0..4),
        free in (1usize..3, 1usize..4),
    ) {
        use sodeep::sorter::{Arch, SorterConfig};
        use sodeep::train::{train_sorter, TrainConfig};
        sodeep::set_threads(1);
        let dir = tempfile::tempdir().unwrap();
        let mut base = TrainConfig::new(SorterConfig::new(Arch::Mlp, 4), dir.path());
        base.sorter.hidden = 4;
        (base.steps, base.batch, base.val_samples, base.save_every) = (1, 4, 4, 1);
        (base.lr, base.lr_halve_every, base.seed) = (1e-2, 0, 3);
        train_sorter(&base, false, |_| {}).unwrap();
        let card_path = dir.path().join("ckpt/sorter.json");
        let before = std::fs::read(&card_path).unwrap();
        let mut cfg = TrainConfig::from_checkpoint(dir.path()).unwrap();
        (cfg.steps, cfg.save_every, cfg.threads) = (2, free.0, free.1);
        for &(which, v) in &edits {
            change_setting(&mut cfg, which, v);
        }
        let result = train_sorter(&cfg, true, |_| {});
        match edits.iter().map(|e| e.0).filter(|&w| w < 12).min() {
            Some(first) => {
                let err = result.unwrap_err();
                let named = matches!(
                    &err,
                    sodeep::Error::ResumeMismatch { flag, .. } if *flag == RESUME_FLAGS[first]
                );
                prop_assert!(named, "{:?}: {}", edits, err);
                prop_assert_eq!(std::fs::read(&card_path).unwrap(), before);
            }
            None => {
                result.unwrap();
                let card = sodeep::checkpoint::read_card(&card_path).unwrap();
                let rec = card.training.unwrap();
                prop_assert_eq!(&card.config, &base.sorter);
                prop_assert_eq!((rec.step, rec.seed, rec.val_samples), (2, 3, 4));
                prop_assert_eq!(&rec.distribution, "all");
                prop_assert_eq!((rec.lr, rec.lr_halve_every, rec.batch), (cfg.lr, cfg.lr_halve_every, cfg.batch));
                let want: Vec<(usize, &str, serde_json::Value, serde_json::Value)> = [
                    ("lr", base.lr.into(), cfg.lr.into()),
                    ("lr_halve_every", base.lr_halve_every.into(), cfg.lr_halve_every.into()),
                    ("batch", base.batch.into(), cfg.batch.into()),
                ]
                .into_iter()
                .filter(|(_, from, to): &(&str, serde_json::Value, serde_json::Value)| from != to)
                .map(|(s, from, to)| (1, s, from, to))
                .collect();
                let got: Vec<(usize, &str, serde_json::Value, serde_json::Value)> = rec
                    .changes
                    .iter()
                    .map(|c| (c.step, c.setting.as_str(), c.from.clone(), c.to.clone()))
                    .collect();
                prop_assert_eq!(got, want);
            }
        }
    }
}
