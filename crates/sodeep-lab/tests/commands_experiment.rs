//! `experiment` and `reproduce` as their options drive them: the documented JSON shape of the
//! results and the files written, each task on the user's files (CSV, paired CSV, LETOR and
//! LightGBM layouts), and a clear error, before any training, for each kind of bad input.

mod common;

use std::path::Path;

use common::{experiment, experiment_command, fails_with, parse, printed, write_file};
use sodeep_lab::reproduce::ReproduceConfig;

/// A result as the JSON that `--json` prints and `results.json` holds.
fn json(r: &sodeep_lab::experiment::ExperimentResult) -> serde_json::Value {
    serde_json::to_value(r).unwrap()
}

#[test]
fn experiment_json_has_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("exp");
    let r = experiment(&format!(
        "spearman --data diabetes --seeds 2 --epochs 3 --lrs 0.003 \
         --losses mse,sodeep:gru-100,handcrafted --json --out {}",
        out.display()
    ))
    .unwrap();
    let v = json(&r);
    assert_eq!(v["task"], "spearman");
    assert_eq!(v["data"], "diabetes");
    assert_eq!(v["metric"], "spearman");
    for loss in ["mse", "sodeep:gru-100", "handcrafted"] {
        let r = &v["results"][loss];
        let per_seed = r["per_seed"].as_array().unwrap();
        assert_eq!(per_seed.len(), 2, "{loss}");
        let mean = r["mean"].as_f64().unwrap();
        let sd = r["sd"].as_f64().unwrap();
        let avg = per_seed.iter().map(|x| x.as_f64().unwrap()).sum::<f64>() / 2.0;
        assert!((mean - avg).abs() < 1e-9 && sd >= 0.0, "{loss}: {r}");
        assert!(mean > 0.2 && mean <= 1.0, "{loss} does not train: {r}");
    }
    assert!(v["linear_baseline"]["mean"].as_f64().unwrap() > 0.2);
    assert!(out.join("results.json").exists() && out.join("curves.png").exists());
}

#[test]
fn experiment_bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fails_with(experiment_command("sorting"), &["unknown task 'sorting'"]);
    fails_with(
        experiment_command("spearman --data iris --seeds 1"),
        &["unknown dataset 'iris'", "winequality"],
    );
    fails_with(experiment_command("spearman --seeds 0"), &["--seeds"]);
    fails_with(
        experiment_command("spearman --seeds 1 --losses mse,cosine"),
        &["unknown loss 'cosine'"],
    );
    fails_with(
        experiment_command("spearman --seeds 1 --losses sodeep:nope"),
        &["unknown ranker 'nope'", "lstm-100"],
    );
    let on_train = |file: &Path, rest: &str| {
        experiment_command(&format!(
            "spearman --train {} --seeds 1 {rest}",
            file.display()
        ))
    };
    let empty = write_file(d, "empty.csv", "");
    fails_with(on_train(&empty, "--target y"), &["empty.csv"]);
    let one = write_file(d, "one.csv", "a,b,y\n1,2,3\n");
    fails_with(on_train(&one, "--target y"), &["one.csv", "2 rows"]);
    let constant = write_file(d, "const.csv", "a,y\n1,5\n2,5\n3,5\n4,5\n5,5\n6,5\n");
    fails_with(on_train(&constant, "--target y"), &["constant", "Spearman"]);
    let bad = write_file(d, "bad.csv", "a,y\n1,5\n2,x\n3,5\n");
    fails_with(on_train(&bad, "--target y"), &["bad.csv", "'y'"]);
    let good = write_file(d, "good.csv", "a,y\n1,5\n2,6\n3,5\n");
    fails_with(on_train(&good, "--target quality"), &["quality", "a, y"]);
    // an output folder that cannot be written: a path below a plain file
    let file = write_file(d, "plain", "keep me");
    fails_with(
        experiment_command(&format!("spearman --seeds 1 --out {}/sub", file.display())),
        &["output folder"],
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    let reproduce: ReproduceConfig = parse(&format!(
        "--quick --seeds 0 --out {}",
        d.join("r").display()
    ));
    fails_with(
        sodeep_lab::commands::experiments::reproduce(&reproduce),
        &["--seeds"],
    );
    assert!(!d.join("r").exists());
}

/// Experiments refuse data too small to measure anything, features that cannot rank, and
/// absurd seed counts.
#[test]
fn experiments_refuse_data_too_small_to_measure() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = write_file(dir.path(), "tiny.csv", "a,y\n1,2\n2,1\n3,5\n");
    fails_with(
        experiment_command(&format!("spearman --train {} --target y", tiny.display())),
        &["fewer than 10"],
    );
    let mut rows = String::from("a,b,y\n");
    for i in 0..60 {
        rows.push_str(&format!("{},{},{}\n", i % 7, i % 5, (i * 37) % 11));
    }
    let sixty = write_file(dir.path(), "sixty.csv", &rows);
    fails_with(
        experiment_command(&format!(
            "spearman --train {} --target y --val-fraction 0.05 --seeds 1 --epochs 1",
            sixty.display()
        )),
        &["validation part has 2 rows", "--val-fraction"],
    );
    let mut flat = String::from("a,y\n");
    for i in 0..60 {
        flat.push_str(&format!("3,{i}\n"));
    }
    let flat = write_file(dir.path(), "flat.csv", &flat);
    fails_with(
        experiment_command(&format!("spearman --train {} --target y", flat.display())),
        &["constant"],
    );
    fails_with(
        experiment_command("spearman --seeds 1000000"),
        &["--seeds", "1000"],
    );
}

/// A label column without a positive in the test part is left out with a warning, on stderr
/// as the experiment runs and in the results.
#[test]
fn map_experiment_on_csv_warns_about_label_columns_without_test_positives() {
    let dir = tempfile::tempdir().unwrap();
    let mut train = String::from("f1,f2,label_a,label_b,label_never\n");
    let mut test = train.clone();
    for i in 0..120 {
        let x = (i as f32 * 0.37).sin();
        let y = (i as f32 * 0.11).cos();
        let row = format!(
            "{x},{y},{},{},{}\n",
            (x > 0.0) as u8,
            (y > 0.3) as u8,
            (i == 7) as u8
        );
        if i < 90 {
            train.push_str(&row);
        } else {
            test.push_str(&row.replace(",1\n", ",0\n"));
        }
    }
    let tr = write_file(dir.path(), "train.csv", &train);
    let te = write_file(dir.path(), "test.csv", &test);
    let o = printed(&format!(
        "experiment map --train {} --test {} --label-prefix label_ --seeds 1 --epochs 3 \
         --lrs 0.01 --batch 30 --losses bce,handcrafted --json",
        tr.display(),
        te.display()
    ))
    .ok();
    assert!(
        o.stderr.contains("warning") && o.stderr.contains("never"),
        "{}",
        o.stderr
    );
    let v = o.json();
    assert!(v["warnings"][0].as_str().unwrap().contains("never"));
    assert!(v["results"]["bce"]["mean"].as_f64().unwrap() > 0.5);
}

#[test]
fn retrieval_experiment_on_paired_csv_reports_recall_figures() {
    let dir = tempfile::tempdir().unwrap();
    let (mut a, mut b) = (String::from("x1,x2,x3\n"), String::from("z1,z2\n"));
    for i in 0..150 {
        let t = i as f32;
        let (p, q, r) = ((t * 0.7).sin(), (t * 1.3).cos(), (t * 0.29).sin());
        a.push_str(&format!("{p},{q},{r}\n"));
        b.push_str(&format!("{},{}\n", p + 0.5 * q, q - r));
    }
    let pa = write_file(dir.path(), "a.csv", &a);
    let pb = write_file(dir.path(), "b.csv", &b);
    let r = experiment(&format!(
        "retrieval --a {} --b {} --seeds 1 --epochs 4 --batch 20 --hidden 16 \
         --losses hinge,handcrafted --json",
        pa.display(),
        pb.display()
    ))
    .unwrap();
    let v = json(&r);
    assert_eq!(v["metric"], "r1");
    for loss in ["hinge", "handcrafted"] {
        let r = &v["results"][loss];
        let (r1, r5, r10) = (
            r["mean"].as_f64().unwrap(),
            r["r5"].as_f64().unwrap(),
            r["r10"].as_f64().unwrap(),
        );
        assert!(r1 <= r5 && r5 <= r10 && r10 <= 1.0, "{loss}: {r}");
        assert!(r["median_rank"].as_f64().unwrap() >= 1.0);
        // 30 test pairs: chance R@10 is 1/3
        assert!(r10 > 0.45, "{loss} does not learn: {r}");
    }
}

#[test]
fn experiment_ranker_flag_adds_a_rank_loss_through_any_ranker() {
    let r = experiment(
        "spearman --data diabetes --seeds 1 --epochs 3 --lrs 0.003 --losses mse \
         --ranker softrank:eps=0.1,reg=kl --ranker handcrafted:lambda=5 --json",
    )
    .unwrap();
    let v = json(&r);
    for loss in [
        "mse",
        "sodeep:softrank:eps=0.1,reg=kl",
        "sodeep:handcrafted:lambda=5",
    ] {
        let mean = v["results"][loss]["mean"].as_f64().unwrap_or(f64::NAN);
        assert!(mean > 0.2, "{loss}: {}", v["results"]);
    }
    fails_with(
        experiment_command("spearman --seeds 1 --ranker nosuch-ranker"),
        &["unknown ranker 'nosuch-ranker'", "softrank", "neuralsort"],
    );
    fails_with(
        experiment_command("spearman --seeds 1 --ranker softrank:eps=0"),
        &["ε must be a positive number"],
    );
    fails_with(
        experiment_command("spearman --seeds 1 --ranker softrank:tau=1"),
        &["unknown knob 'tau'"],
    );
}

/// Writes a small learning-to-rank problem: `queries` queries of 8–12 documents with 4
/// features, labels 0–3 from a noisy function of the first two. Returns the LETOR text (with
/// `qid:`), the same rows in LightGBM's layout (no qid) and their group sizes.
fn letor_files(queries: usize, seed: u64) -> (String, String, String) {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut with_qid, mut lightgbm, mut sizes) = (String::new(), String::new(), String::new());
    for q in 0..queries {
        let docs = 8 + (q % 5);
        sizes.push_str(&format!("{docs}\n"));
        for _ in 0..docs {
            let x: Vec<f64> = (0..4).map(|_| uniform() * 10.0).collect();
            let label = ((x[0] + 0.5 * x[1]) / 4.0 + uniform() - 0.5).clamp(0.0, 3.0) as u32;
            let features: Vec<String> = x
                .iter()
                .enumerate()
                .map(|(i, v)| format!("{}:{v:.4}", i + 1))
                .collect();
            with_qid.push_str(&format!("{label} qid:{} {}\n", 100 + q, features.join(" ")));
            lightgbm.push_str(&format!("{label} {}\n", features.join(" ")));
        }
    }
    (with_qid, lightgbm, sizes)
}

#[test]
fn ltr_experiment_gives_the_same_figures_from_letor_and_lightgbm_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (train, train_lgb, train_sizes) = letor_files(14, 1);
    let (test, test_lgb, test_sizes) = letor_files(6, 2);
    for (name, text) in [
        ("train.txt", &train),
        ("test.txt", &test),
        ("train.lgb", &train_lgb),
        ("test.lgb", &test_lgb),
        ("train.lgb.query", &train_sizes),
        ("test.lgb.query", &test_sizes),
    ] {
        write_file(d, name, text);
    }
    let common = "--seeds 2 --epochs 4 --lrs 0.01 --hidden 8 \
                  --losses mse,lambdarank,listmle,ndcg:softrank,ndcg:neuralsort --json";
    let v = json(
        &experiment(&format!(
            "ltr --train {0}/train.txt --test {0}/test.txt {common} --out {0}/out",
            d.display()
        ))
        .unwrap(),
    );
    assert_eq!(
        (v["task"].as_str(), v["metric"].as_str()),
        (Some("ltr"), Some("ndcg10"))
    );
    for loss in [
        "mse",
        "lambdarank",
        "listmle",
        "ndcg:softrank",
        "ndcg:neuralsort",
    ] {
        let r = &v["results"][loss];
        assert_eq!(r["per_seed"].as_array().unwrap().len(), 2, "{loss}");
        for key in [
            "mean",
            "ndcg1",
            "ndcg3",
            "ndcg5",
            "ndcg10_linear",
            "map",
            "mrr",
        ] {
            let x = r[key].as_f64().unwrap_or(f64::NAN);
            assert!(x > 0.0 && x <= 1.0, "{loss} {key}: {r}");
        }
        assert!(r["seconds_per_run"].as_f64().unwrap() > 0.0, "{loss}: {r}");
    }
    assert!(v["linear_baseline"]["mean"].as_f64().unwrap() > 0.0);
    assert!(d.join("out/results.json").exists() && d.join("out/curves.png").exists());

    let w = json(
        &experiment(&format!(
            "ltr --train {0}/train.lgb --train-query {0}/train.lgb.query \
             --test {0}/test.lgb --test-query {0}/test.lgb.query {common}",
            d.display()
        ))
        .unwrap(),
    );
    for loss in ["mse", "lambdarank", "ndcg:softrank"] {
        assert_eq!(
            v["results"][loss]["per_seed"], w["results"][loss]["per_seed"],
            "{loss}: the two layouts of the same rows must give the same figures"
        );
    }
}

#[test]
fn ltr_experiment_bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (train, _, _) = letor_files(6, 3);
    let mut lines: Vec<&str> = train.lines().collect();
    lines[2] = "1 qid:100 1:0.5 2:abc";
    write_file(d, "bad.txt", &lines.join("\n"));
    fails_with(
        experiment_command(&format!("ltr --train {}/bad.txt --seeds 1", d.display())),
        &["bad.txt", "line 3", "2:abc"],
    );
    // one query only: nothing to learn an order across queries from
    write_file(
        d,
        "one.txt",
        "1 qid:1 1:0.5\n0 qid:1 1:0.1\n2 qid:1 1:0.9\n",
    );
    fails_with(
        experiment_command(&format!("ltr --train {}/one.txt --seeds 1", d.display())),
        &["one: 1 of its 1 queries", "at least two"],
    );
    fails_with(
        experiment_command("ltr --seeds 1 --losses mse,sodeep:any"),
        &["sodeep:any", "ndcg:<ranker spec>"],
    );
    fails_with(
        experiment_command("spearman --seeds 1 --python python3"),
        &["--python", "ltr"],
    );
}

#[test]
fn ltr_reference_without_lightgbm_is_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (train, _, _) = letor_files(12, 4);
    write_file(d, "train.txt", &train);
    let r = experiment(&format!(
        "ltr --train {}/train.txt --seeds 1 --epochs 2 --lrs 0.01 --hidden 8 \
         --losses mse --python {}/no-such-python --json",
        d.display(),
        d.display()
    ))
    .unwrap();
    let v = json(&r);
    assert!(v["results"].get("lightgbm").is_none(), "{v}");
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("skipped") && warnings.contains("no-such-python"),
        "{warnings}"
    );
}
