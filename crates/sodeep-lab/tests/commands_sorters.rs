//! The sorter commands as their options drive them: `train-sorter` (resumed bit-identically,
//! settings taken from the checkpoint, any length), `eval-sorter` (JSON, plot, several
//! lengths), `list-sorters`, `import-torch` and `export-sorter` (nothing of the user's
//! replaced), and a learned sorter's weights and lengths checked where `rank` loads it.

mod common;

use std::path::{Path, PathBuf};

use common::{
    eval_sorter, export_sorter, fails_with, fixtures, import_torch, printed, rank, spawn,
    train_sorter,
};

/// A tiny trained LSTM sorter for d = 6.
fn tiny_sorter(dir: &Path) -> PathBuf {
    let out = dir.join("run");
    train_sorter(&format!(
        "--arch lstm --len 6 --hidden 4 --steps 2 --batch 4 --save-every 1 --val-samples 8 \
         --out {}",
        out.display()
    ))
    .unwrap();
    out.join("best")
}

#[test]
fn learned_sorter_checks_lengths_and_weights() {
    let dir = tempfile::tempdir().unwrap();
    let best = tiny_sorter(dir.path());
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let rank_with =
        |sorter: &Path, input: &str| rank(&work, &format!("--sorter {}", sorter.display()), input);
    let rows = rank_with(&best, "1,2,3,4,5,6\n6,5,4,3,2,1\n").unwrap();
    assert_eq!(rows.len(), 2);
    fails_with(rank_with(&best, "1,2,3\n"), &["length 3", "d = 6"]);
    fails_with(
        eval_sorter(&format!("--sorter {} --len 7 --samples 10", best.display())),
        &["length 7", "d = 6"],
    );

    let copy = |name: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        for f in ["sorter.json", "sorter.safetensors"] {
            std::fs::copy(best.join(f), d.join(f)).unwrap();
        }
        d
    };
    let six = "1,2,3,4,5,6\n";
    let missing = copy("missing");
    std::fs::remove_file(missing.join("sorter.safetensors")).unwrap();
    fails_with(rank_with(&missing, six), &["sorter.safetensors is missing"]);

    let truncated = copy("truncated");
    let bytes = std::fs::read(truncated.join("sorter.safetensors")).unwrap();
    std::fs::write(
        truncated.join("sorter.safetensors"),
        &bytes[..bytes.len() / 2],
    )
    .unwrap();
    fails_with(rank_with(&truncated, six), &["safetensors"]);

    let garbage = copy("garbage");
    std::fs::write(garbage.join("sorter.safetensors"), b"not a weights file").unwrap();
    fails_with(rank_with(&garbage, six), &["safetensors"]);

    let edit_card = |name: &str, from: &str, to: &str| {
        let d = copy(name);
        let card = std::fs::read_to_string(d.join("sorter.json")).unwrap();
        assert!(card.contains(from), "{card}");
        std::fs::write(d.join("sorter.json"), card.replacen(from, to, 1)).unwrap();
        d
    };
    let other_arch = edit_card("arch", "\"arch\": \"lstm\"", "\"arch\": \"gru\"");
    fails_with(rank_with(&other_arch, six), &["gru sorter"]);
    let other_d = edit_card("d", "\"d\": 6", "\"d\": 7");
    fails_with(rank_with(&other_d, "1,2,3,4,5,6,7\n"), &["d = 7"]);
}

#[test]
fn unknown_names_and_bad_arguments() {
    fails_with(
        eval_sorter("--sorter no-such-sorter"),
        &["unknown sorter 'no-such-sorter'", "handcrafted[:LAMBDA]"],
    );
    fails_with(eval_sorter("--sorter handcrafted:abc"), &["λ"]);
    fails_with(eval_sorter("--sorter handcrafted --len 0"), &["--len"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o").display().to_string();
    let train = |rest: &str| train_sorter(&format!("--out {out} {rest}"));
    fails_with(train("--arch lstm --len 0"), &["--len"]);
    fails_with(
        train("--arch transformer --len 4"),
        &["unknown architecture"],
    );
    fails_with(train("--resume"), &["nothing to resume"]);
    fails_with(
        train("--arch lstm --len 4 --device gpu"),
        &["unknown device"],
    );
    fails_with(
        train("--arch gru --len 4 --head position"),
        &["lstm sorters only"],
    );
    if !candle_core::utils::cuda_is_available() {
        fails_with(
            train("--arch lstm --len 4 --device cuda"),
            &["--features cuda"],
        );
    }
    fails_with(
        train_sorter("--arch mlp --len 4 --steps 0 --out /nonexistent/x"),
        &["--steps"],
    );
    // an output folder that cannot be written: a path below a regular file
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let bad = file.join("sub");
    fails_with(
        train_sorter(&format!(
            "--arch lstm --len 4 --steps 1 --out {}",
            bad.display()
        )),
        &["cannot create"],
    );
    let input = common::write_file(dir.path(), "scores.csv", "1,2\n");
    let to_bad = common::parse::<sodeep_lab::commands::rank::RankArgs>(&format!(
        "--sorter handcrafted --input {} --output {}",
        input.display(),
        bad.display()
    ));
    fails_with(to_bad.run(), &["cannot write"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn eval_sorter_json_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("fig5.png");
    let v = printed(&format!(
        "eval-sorter --sorter handcrafted --len 20 --samples 300 --json --plot {}",
        png.display()
    ))
    .ok()
    .json();
    for k in [
        "sorter",
        "d",
        "samples",
        "l1",
        "l1_by_distribution",
        "spearman",
        "seconds",
    ] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    assert_eq!(v["d"], 20);
    let l1 = v["l1"].as_f64().unwrap();
    assert!(l1 > 0.0 && l1 < 0.2, "{l1}");
    assert!(v["l1_by_distribution"]["uniform"].as_f64().is_some());
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    let listing = printed("list-sorters").ok();
    assert!(listing.stdout.contains("handcrafted"), "{}", listing.stdout);
}

/// `best-100` is an alias: it loads the shipped sorter it names.
#[test]
fn best_100_is_an_alias_of_a_shipped_sorter() {
    let v = printed("eval-sorter --sorter best-100 --samples 20 --json")
        .ok()
        .json();
    assert_eq!(v["sorter"], "any-sharp");
    assert_eq!(v["d"], 100);
    assert!(v["l1"].as_f64().unwrap() < 0.0125);
    let listing = printed("list-sorters").ok();
    assert!(listing.stdout.contains("best-100"), "{}", listing.stdout);
}

/// `eval-sorter --lens`: per-length figures under "by_len"; a fixed-length sorter reports only
/// its own d; lengths outside the training range warn.
#[test]
fn eval_sorter_at_several_lengths() {
    let o = printed("eval-sorter --sorter any --lens 3,100,700 --samples 30 --json").ok();
    let v = o.json();
    for n in ["3", "100", "700"] {
        let l1 = v["by_len"][n]["l1"].as_f64().unwrap();
        assert!((0.0..0.03).contains(&l1), "n {n}: {l1}");
        assert!(v["by_len"][n]["l1_by_distribution"]["uniform"].is_number());
    }
    // trained on 2..512: 700 is extrapolated, and the user is told
    assert!(
        o.stderr.contains("warning") && o.stderr.contains("700"),
        "{}",
        o.stderr
    );
    let v = printed("eval-sorter --sorter lstm-100 --lens 5,100 --samples 10 --json")
        .ok()
        .json();
    assert!(v["by_len"]["100"]["l1"].is_number());
    assert!(v["by_len"].get("5").is_none());
    assert!(v["skipped"]["5"].as_str().unwrap().contains("100"));
    fails_with(
        eval_sorter("--sorter lstm-100 --lens 5 --samples 10"),
        &["length 100"],
    );
    let table = printed("eval-sorter --sorter any --lens 4,8 --samples 10").ok();
    assert!(
        table.stdout.contains("mean over lengths"),
        "{}",
        table.stdout
    );
}

#[test]
fn import_torch_refuses_to_replace_what_is_not_a_sorter() {
    let dir = tempfile::tempdir().unwrap();
    let pth = fixtures().join("sorter_lstm_d8_h16.pth");
    let cmd = format!(
        "{} --arch lstm --len 8 --hidden 16 --out {}",
        pth.display(),
        dir.path().join("imp").display()
    );
    import_torch(&cmd).unwrap();
    // a second import does not overwrite without --force
    fails_with(import_torch(&cmd), &["--force"]);
    import_torch(&format!("{cmd} --force")).unwrap();
    // a folder of the user's files, or a file, is never replaced, even with --force
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "mine").unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "keep").unwrap();
    for out in [&mine, &file] {
        for force in ["", " --force"] {
            let c = format!(
                "{} --arch lstm --len 8 --hidden 16 --out {}{force}",
                pth.display(),
                out.display()
            );
            fails_with(import_torch(&c), &["not a sorter folder"]);
        }
        let from = dir.path().join("imp");
        let c = format!(
            "--from {} --out {} --samples 5",
            from.display(),
            out.display()
        );
        fails_with(export_sorter(&c), &["not a sorter folder"]);
    }
    assert_eq!(
        std::fs::read_to_string(mine.join("notes.txt")).unwrap(),
        "mine"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, vec!["file", "imp", "mine"]);
    // a 2-layer checkpoint imported as 1 layer: its second layer would be silently dropped
    let c = format!(
        "{} --arch lstm --len 8 --hidden 16 --layers 1 --out {}",
        pth.display(),
        dir.path().join("one-layer").display()
    );
    fails_with(
        import_torch(&c),
        &["not read by a lstm sorter", "layers = 1"],
    );
    assert!(!dir.path().join("one-layer").exists());
    let garbage = dir.path().join("g.pth");
    std::fs::write(&garbage, "nope").unwrap();
    fails_with(
        import_torch(&format!(
            "{} --arch lstm --len 8 --out {}",
            garbage.display(),
            dir.path().join("g").display()
        )),
        &["PyTorch checkpoint"],
    );
    // a folder given for the checkpoint file is named as a folder
    fails_with(
        import_torch(&format!(
            "{} --arch lstm --len 8 --out {}",
            dir.path().display(),
            dir.path().join("o").display()
        )),
        &["is a folder"],
    );
}

fn weights(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("ckpt/sorter.safetensors")).unwrap()
}

#[test]
fn interrupted_training_resumes_bit_identically() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let args = |out: &Path| {
        format!(
            "train-sorter --arch gru --len 8 --hidden 8 --layers 2 --batch 16 --save-every 3 \
             --val-samples 8 --lr 0.01 --lr-halve-every 4 --seed 5 --steps 400 --out {}",
            out.display()
        )
    };
    printed(&args(&one)).ok();
    // start the same run and kill it once a checkpoint exists
    let mut child = spawn(&args(&two));
    let t0 = std::time::Instant::now();
    while !two.join("ckpt/sorter.json").exists() && t0.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_millis(30));
    child.kill().unwrap();
    child.wait().unwrap();
    let ckpt = sodeep::checkpoint::resolve_dir(&two.join("ckpt")).unwrap();
    let card = sodeep::checkpoint::read_card(&ckpt.join("sorter.json")).unwrap();
    let stopped = card.training.unwrap().step;
    assert!(stopped > 0 && stopped < 400, "{stopped}");
    printed(&format!("{} --resume", args(&two))).ok();
    assert_eq!(weights(&one), weights(&two), "resumed from step {stopped}");
}

/// `train-sorter --resume` takes every setting from the checkpoint: a flag that disagrees is an
/// error naming it; no flag continues the run as it was; a new --lr or --batch is recorded in
/// the card with its step.
#[test]
fn resume_takes_every_setting_from_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    train_sorter(&format!(
        "--arch mlp --len 4 --hidden 4 --batch 4 --val-samples 4 --save-every 1 --steps 1 \
         --seed 3 --out {}",
        out.display()
    ))
    .unwrap();
    let resume = |rest: &str| train_sorter(&format!("--out {} --resume {rest}", out.display()));
    for bad in [
        "--arch cnn",
        "--len 5",
        "--len-range 2..8",
        "--hidden 8",
        "--layers 2",
        "--max-sharpness 3",
        "--standardize",
        "--head position",
        "--seed 4",
        "--val-samples 8",
        "--distribution normal",
    ] {
        let flag = bad.split_whitespace().next().unwrap();
        fails_with(
            resume(&format!("--steps 2 {bad}")),
            &[flag, "differs from the checkpoint"],
        );
    }
    let card = || sodeep::checkpoint::read_card(&out.join("ckpt/sorter.json")).unwrap();
    assert_eq!(card().training.unwrap().step, 1);
    // no flag, or flags that agree: the run continues with the checkpoint's settings
    resume("--steps 2 --hidden 4 --seed 3").unwrap();
    let c = card();
    let rec = c.training.unwrap();
    assert_eq!(
        (c.config.hidden, rec.step, rec.seed, rec.batch),
        (4, 2, 3, 4)
    );
    assert!(rec.changes.is_empty(), "{:?}", rec.changes);
    resume("--steps 3 --lr 0.0005 --batch 2").unwrap();
    let rec = card().training.unwrap();
    let got: Vec<(usize, String, f64, f64)> = rec
        .changes
        .iter()
        .map(|c| {
            let (from, to) = (c.from.as_f64().unwrap(), c.to.as_f64().unwrap());
            (c.step, c.setting.clone(), from, to)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (2, "lr".to_string(), 1e-3, 5e-4),
            (2, "batch".to_string(), 4.0, 2.0)
        ]
    );
}

/// `train-sorter --len-range` for the pairwise sorter, and its bad uses.
#[test]
fn train_sorter_of_any_length() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pw");
    train_sorter(&format!(
        "--arch pairwise --len-range 2..20 --steps 4 --batch 8 --save-every 2 --val-samples 8 \
         --out {}",
        out.display()
    ))
    .unwrap();
    let card = std::fs::read_to_string(out.join("best/sorter.json")).unwrap();
    let card: serde_json::Value = serde_json::from_str(&card).unwrap();
    assert_eq!(card["len_range"], serde_json::json!([2, 20]));
    assert_eq!(card["arch"], "pairwise");
    let o = printed(&format!(
        "eval-sorter --sorter {} --lens 2,30 --samples 5",
        out.join("best").display()
    ))
    .ok();
    assert!(o.stderr.contains("2..=20"), "{}", o.stderr);
    let other = dir.path().join("x").display().to_string();
    for (args, needle) in [
        ("--arch pairwise --len-range 5..2", "--len-range"),
        ("--arch pairwise --len-range 0..9", "--len-range"),
        ("--arch pairwise --len-range ab", "--len-range"),
        ("--arch pairwise --len 9", "--len-range"),
        ("--arch lstm --len 9 --len-range 2..9", "--len"),
        ("--arch lstm --len 9 --max-sharpness 3", "pairwise"),
        ("--arch pairwise --max-sharpness 0", "--max-sharpness"),
    ] {
        fails_with(train_sorter(&format!("{args} --out {other}")), &[needle]);
    }
    assert!(!dir.path().join("x").join("ckpt").exists());
}
