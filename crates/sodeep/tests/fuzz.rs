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

    #[test]
    fn pytorch_imports_never_panic(bytes in mutate(fixture("sorter_lstm_d8_h16.pth"))) {
        let dir = tempfile::tempdir().unwrap();
        let pth = dir.path().join("x.pth");
        std::fs::write(&pth, &bytes).unwrap();
        let _ = sodeep::torch_import::read_torch_weights(&pth);
    }
}
