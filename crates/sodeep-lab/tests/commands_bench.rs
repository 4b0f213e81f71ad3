//! The benchmark commands as their options drive them: `bench sorters` without PyTorch,
//! `bench data`, and `bench rankers`' report files and its refusals of bad settings.

mod common;

use common::{fails_with, parse, printed};
use sodeep_lab::commands::bench::{BenchRankersArgs, BenchSortersArgs};

#[test]
fn bench_sorters_rust_alone_and_data() {
    let v = printed(
        "bench sorters --no-torch --cases gru-train,lstm-h128-loss --reps 1 --batch 4 --len 8 \
         --json",
    )
    .ok()
    .json();
    for case in ["gru-train", "lstm-h128-loss"] {
        let c = &v["cases"][case];
        assert!(c["rust_s"].as_f64().unwrap() > 0.0, "{v}");
        assert!(c["torch_s"].is_null() && c["ratio"].is_null(), "{v}");
    }
    // a Python without PyTorch: the command says so and benches the Rust side alone
    let o = printed(
        "bench sorters --python /nonexistent/python --cases gru-train --reps 1 --batch 2 --len 4",
    )
    .ok();
    assert!(o.stderr.contains("Rust side alone"), "{}", o.stderr);
    fails_with(
        parse::<BenchSortersArgs>("--no-torch --cases nope").run(1),
        &["unknown bench case"],
    );
    let o = printed("bench data --batches 2 --batch 8 --len 10").ok();
    assert!(o.stdout.contains("vectors/s"), "{}", o.stdout);
}

#[test]
fn bench_rankers_writes_its_report_and_rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("br");
    printed(&format!(
        "bench rankers --quick --no-torch --sections accuracy,speed --max-len 100 \
         --ranker softrank --ranker blackbox:lambda=3 --ranker cnn-100 --out {}",
        out.display()
    ))
    .ok();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    for key in [
        "accuracy",
        "speed",
        "speed_b256",
        "torchsort_ratio",
        "mnist",
        "downstream",
    ] {
        assert!(json.get(key).is_some(), "results.json lacks {key}: {json}");
    }
    // blackbox ranks exactly in its forward pass
    assert_eq!(json["accuracy"]["blackbox:lambda=3"].as_f64(), Some(0.0));
    let soft = json["accuracy"]["softrank"].as_f64().unwrap();
    assert!(soft > 0.0 && soft < 0.5, "{soft}");
    // n keys are decimal strings; the learned sorter only runs at its d
    assert!(
        json["speed"]["softrank"]["10"]["fwdbwd_s"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(json["speed"]["cnn-100"].get("10").is_none());
    assert!(json["speed"]["cnn-100"]["100"]["fwd_s"].as_f64().unwrap() > 0.0);
    assert!(json["speed_b256"]["softrank"]["fwdbwd_s"].as_f64().unwrap() > 0.0);
    assert!(json["torchsort_ratio"].is_null());
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("No softrank/torchsort ratio") && report.contains("--no-torch"),
        "{report}"
    );
    assert!(out.join("speed.png").exists());

    let rankers = |rest: &str| {
        parse::<BenchRankersArgs>(&format!(
            "--quick --no-torch {rest} --out {}",
            out.display()
        ))
        .run(1)
    };
    fails_with(
        rankers("--sections speed,colour"),
        &["colour", "accuracy, speed, mnist, downstream or threads"],
    );
    fails_with(
        rankers("--ranker quicksort"),
        &["quicksort", "neuralsort", "sinkhorn"],
    );
    fails_with(rankers("--ranker neuralsort:tau=0"), &["tau"]);
    // what was written before a failed run is kept
    assert!(out.join("results.json").exists());
    let other = dir.path().join("o");
    for bad in ["0", "1,x", ","] {
        fails_with(
            parse::<BenchRankersArgs>(&format!("--thread-sweep {bad} --out {}", other.display()))
                .run(1),
            &["--thread-sweep"],
        );
    }
    assert!(!other.exists());
}
