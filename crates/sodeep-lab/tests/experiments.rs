//! The experiments train for real: the baselines clear the sanity floors on short runs;
//! inputs sized or scaled to break them (wide tables, test-only features, huge targets) run or
//! are refused cleanly.

use sodeep_lab::experiment::ltr::Ltr;
use sodeep_lab::experiment::map::Map;
use sodeep_lab::experiment::retrieval::Retrieval;
use sodeep_lab::experiment::spearman::standardize_target;
use sodeep_lab::experiment::spearman::Spearman;
use sodeep_lab::experiment::{self, DataSource, ExperimentConfig, LossKind, Task};

fn quiet(_: &str) {}

#[test]
fn mse_baseline_on_winequality_clears_the_sanity_floor() {
    let mut cfg = ExperimentConfig::new(&Spearman);
    cfg.seeds = 1;
    cfg.epochs = 15;
    cfg.lrs = vec![3e-3];
    cfg.losses = Some(vec!["mse".into()]);
    let r = experiment::run(&cfg, &quiet).unwrap();
    let mse = r.results["mse"].mean;
    assert!(mse >= 0.45, "mse test Spearman {mse}");
    assert!(
        r.linear_baseline.result.mean >= 0.45,
        "ridge {}",
        r.linear_baseline.result.mean
    );
    assert_eq!(r.results["mse"].curve.len(), 15);
}

#[test]
fn bce_baseline_on_digits_multilabel_clears_the_sanity_floor() {
    let mut cfg = ExperimentConfig::new(&Map);
    cfg.seeds = 1;
    cfg.epochs = 8;
    cfg.lrs = vec![3e-3];
    cfg.losses = Some(vec!["bce".into()]);
    let r = experiment::run(&cfg, &quiet).unwrap();
    assert!(
        r.results["bce"].mean >= 0.80,
        "bce mAP {}",
        r.results["bce"].mean
    );
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn loss_names_are_checked_against_the_task() {
    assert_eq!(Spearman.parse_loss("mse").unwrap(), LossKind::Mse);
    assert_eq!(
        Map.parse_loss("sodeep:best-100").unwrap(),
        LossKind::Rank("best-100".into())
    );
    assert!(Map.parse_loss("mse").is_err());
    assert!(Retrieval.parse_loss("bce").is_err());
    assert!(Spearman.parse_loss("sodeep:").is_err());
    let defaults = Spearman.default_losses(&["lstm-100".into()]);
    assert_eq!(
        defaults,
        vec!["mse", "l1", "sodeep:lstm-100", "handcrafted"]
    );
}

/// NDCG@10 (exponential gains) of random scores on the mslr-sample test queries is 0.175 (sd
/// 0.016 over 50 draws); every default loss must clear it by a wide margin after a short run.
#[test]
fn every_default_ltr_loss_learns_on_the_mslr_sample() {
    let mut cfg = ExperimentConfig::new(&Ltr);
    cfg.seeds = 1;
    cfg.epochs = 8;
    cfg.lrs = vec![3e-3];
    let names = cfg.loss_names();
    for expected in [
        "mse",
        "ranknet",
        "lambdarank",
        "listnet",
        "listmle",
        "approxndcg",
        "ndcg:softrank",
        "ndcg:neuralsort",
        "ndcg:diffsort-bitonic",
        "ndcg:best-100",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    let r = experiment::run(&cfg, &quiet).unwrap();
    assert_eq!(r.metric, "ndcg10");
    for (name, result) in &r.results {
        assert!(result.mean >= 0.25, "{name}: test NDCG@10 {}", result.mean);
        for key in ["ndcg1", "ndcg3", "ndcg5", "ndcg10_linear", "map", "mrr"] {
            assert!(result.extra.contains_key(key), "{name} lacks {key}");
        }
    }
    assert!(r.results["mse"].mean >= 0.30, "{}", r.results["mse"].mean);
    assert!(r.linear_baseline.result.mean >= 0.30);
}

#[test]
fn ltr_loss_names_parse_and_refuse_other_tasks_losses() {
    assert!(matches!(
        Ltr.parse_loss("ndcg:softrank:eps=0.1").unwrap(),
        LossKind::Ndcg(s) if s == "softrank:eps=0.1"
    ));
    assert!(matches!(
        Ltr.parse_loss("lambdarank").unwrap(),
        LossKind::Ltr(_)
    ));
    for bad in ["bce", "sodeep:any", "ndcg:", "hinge", "l1"] {
        let e = Ltr.parse_loss(bad).unwrap_err().to_string();
        assert!(e.contains(bad) && e.contains("ndcg:<ranker spec>"), "{e}");
    }
    assert!(Spearman.parse_loss("lambdarank").is_err());
    assert!(Spearman.parse_loss("ndcg:softrank").is_err());
}

/// LETOR rows of `queries` queries of 8 documents, features 1..=4 with a label that follows
/// them (labels 0..=2, every query with a relevant document), and `extra` appended to each
/// row.
fn letor_rows(queries: usize, seed: u64, extra: &dyn Fn(usize) -> String) -> String {
    let mut state = seed;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut text = String::new();
    for q in 0..queries {
        for d in 0..8 {
            let x: Vec<f64> = (0..4).map(|_| uniform() * 4.0).collect();
            let label = if d == 0 {
                2
            } else {
                ((x[0] + x[1]) / 3.0 + uniform() - 0.5).clamp(0.0, 2.0) as u32
            };
            let features: Vec<String> = x
                .iter()
                .enumerate()
                .map(|(i, v)| format!("{}:{v:.3}", i + 1))
                .collect();
            let row = q * 8 + d;
            text.push_str(&format!(
                "{label} qid:{q} {}{}\n",
                features.join(" "),
                extra(row)
            ));
        }
    }
    text
}

fn ltr_config(train: &std::path::Path, test: Option<&std::path::Path>) -> ExperimentConfig {
    let mut cfg = ExperimentConfig::new(&Ltr);
    cfg.data = DataSource::Letor {
        train: train.to_path_buf(),
        train_query: None,
        test: test.map(std::path::Path::to_path_buf),
        test_query: None,
    };
    cfg.seeds = 1;
    cfg.epochs = 2;
    cfg.lrs = vec![1e-2];
    cfg.hidden = 8;
    cfg.losses = Some(vec!["mse".into()]);
    cfg
}

/// The file: a few KB of LETOR rows, one of them with feature index 100,000. The
/// ridge baseline's primal system would be 100,000 × 100,000 (80 GB, after the MLP had run);
/// it runs in the dual form (a kernel of the training rows), and says so.
#[test]
fn ridge_on_feature_index_100000_runs_in_the_dual_form() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.txt");
    let text = letor_rows(20, 1, &|row| {
        if row == 3 {
            " 100000:1".into()
        } else {
            String::new()
        }
    });
    std::fs::write(&train, text).unwrap();
    let lines = std::sync::Mutex::new(Vec::new());
    let r = experiment::run(&ltr_config(&train, None), &|l: &str| {
        lines.lock().unwrap().push(l.to_string())
    })
    .unwrap();
    assert_eq!(r.linear_baseline.solver.as_deref(), Some("dual"));
    assert!(r.linear_baseline.result.mean > 0.0);
    let lines = lines.into_inner().unwrap().join("\n");
    assert!(lines.contains("ridge baseline in the dual form"), "{lines}");
    assert!(lines.contains("100000 features"), "{lines}");
}

/// The table: 40,000 feature columns (4.8 MB). The primal system would take 12.8 GB;
/// the dual form takes a kernel of the training rows, and the whole run seconds.
#[test]
fn ridge_on_40000_columns_runs_in_the_dual_form() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("wide.csv");
    let cols = 40_000;
    let mut text: Vec<String> = vec![(0..cols)
        .map(|c| format!("f{c}"))
        .chain(["y".to_string()])
        .collect::<Vec<_>>()
        .join(",")];
    for r in 0..60usize {
        let mut row: Vec<String> = (0..cols)
            .map(|c| ((r * 31 + c * 7) % 10).to_string())
            .collect();
        row.push(((r * 31) % 10 + r % 3).to_string());
        text.push(row.join(","));
    }
    std::fs::write(&train, text.join("\n")).unwrap();
    let mut cfg = ExperimentConfig::new(&Spearman);
    cfg.data = DataSource::Csv {
        train,
        test: None,
        column: "y".into(),
    };
    cfg.seeds = 1;
    cfg.epochs = 1;
    cfg.lrs = vec![1e-3];
    cfg.hidden = 8;
    cfg.losses = Some(vec!["mse".into()]);
    let started = std::time::Instant::now();
    let r = experiment::run(&cfg, &quiet).unwrap();
    assert_eq!(r.linear_baseline.solver.as_deref(), Some("dual"));
    let seconds = started.elapsed().as_secs_f64();
    assert!(seconds < 60.0, "{seconds} s");
}

/// Features that only the test file has (index 5 and 6 here) leave the figures as they are
/// without them, and are reported; training queries without a relevant document are counted
/// in a warning too.
#[test]
fn test_only_features_and_label_less_queries_are_reported_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // the last training query has no relevant document
    let mut train_text = letor_rows(14, 1, &|_| String::new());
    for d in 0..8 {
        train_text.push_str(&format!("0 qid:99 1:{d} 2:1\n"));
    }
    let plain = letor_rows(6, 2, &|_| String::new());
    let extra = letor_rows(6, 2, &|row| format!(" 5:{row} 6:{}", row % 3));
    for (name, text) in [
        ("train.txt", &train_text),
        ("plain.txt", &plain),
        ("extra.txt", &extra),
    ] {
        std::fs::write(d.join(name), text).unwrap();
    }
    let train = d.join("train.txt");
    let a = experiment::run(&ltr_config(&train, Some(&d.join("plain.txt"))), &quiet).unwrap();
    let b = experiment::run(&ltr_config(&train, Some(&d.join("extra.txt"))), &quiet).unwrap();
    assert_eq!(a.results["mse"].per_seed, b.results["mse"].per_seed);
    assert_eq!(
        a.linear_baseline.result.per_seed,
        b.linear_baseline.result.per_seed
    );
    let warnings = b.warnings.join("\n");
    assert!(
        warnings
            .contains("2 features of the test file never appear in the training file (index 5, 6)"),
        "{warnings}"
    );
    assert!(
        !a.warnings.join("\n").contains("never appear"),
        "{:?}",
        a.warnings
    );
    assert!(
        warnings.contains("1 of the 15 training queries have no relevant document"),
        "{warnings}"
    );
}

/// The target is standardised in f64: the same data at scale 1, 1e20 and 1e38 (whose squares
/// overflow f32) trains alike. In f32, 1e20 trained mse on an all-zero target and 1e38 failed.
#[test]
fn spearman_targets_at_any_f32_scale_train_alike() {
    let dir = tempfile::tempdir().unwrap();
    let mut figures = Vec::new();
    for scale in [1.0f64, 1e20, 1e38] {
        let path = dir.path().join(format!("scale{scale}.csv"));
        let mut text = String::from("a,b,c,y\n");
        for r in 0..200 {
            let (a, b, c) = (
                ((r * 37) % 101) as f64 / 101.0,
                ((r * 53) % 97) as f64 / 97.0,
                ((r * 11) % 89) as f64 / 89.0,
            );
            let y = (a - 0.5 * b + 0.1 * c) * scale;
            text.push_str(&format!("{a},{b},{c},{y:e}\n"));
        }
        std::fs::write(&path, text).unwrap();
        let mut cfg = ExperimentConfig::new(&Spearman);
        cfg.data = DataSource::Csv {
            train: path,
            test: None,
            column: "y".into(),
        };
        cfg.seeds = 1;
        cfg.epochs = 5;
        cfg.lrs = vec![3e-3];
        cfg.losses = Some(vec!["mse".into()]);
        let r = experiment::run(&cfg, &quiet).unwrap_or_else(|e| panic!("scale {scale}: {e}"));
        figures.push(r.results["mse"].mean);
    }
    assert!(figures[0] > 0.5, "{figures:?}");
    for f in &figures[1..] {
        assert!((f - figures[0]).abs() < 1e-3, "{figures:?}");
    }
}

#[test]
fn target_standardisation_keeps_the_f32_range_and_names_what_it_refuses() {
    let y = standardize_target(&[f32::MAX, -f32::MAX, 0.0, f32::MAX], "y").unwrap();
    assert!(y.iter().all(|v| v.is_finite()), "{y:?}");
    let mean = y.iter().sum::<f32>() / 4.0;
    assert!(mean.abs() < 1e-6, "{y:?}");
    // a constant training part is centred only
    assert_eq!(
        standardize_target(&[3.0, 3.0], "y").unwrap(),
        vec![0.0, 0.0]
    );
    let e = standardize_target(&[f32::INFINITY, 0.0], "the target column 'y' of t.csv")
        .unwrap_err()
        .to_string();
    assert!(e.contains("the target column 'y' of t.csv"), "{e}");
}
