//! End-to-end tests of the `sodeep` binary: outputs, and a clear error with a non-zero exit
//! (never a panic, nothing overwritten) for each kind of bad input.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sodeep"));
    c.arg("--threads").arg("1");
    c
}

/// Runs `sodeep` with the whitespace-separated arguments of `args` (test paths have no spaces).
fn run(args: &str, stdin: Option<&str>) -> Output {
    let mut child = bin()
        .args(args.split_whitespace())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut si = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            // a command that fails before reading its input closes the pipe early
            if let Err(e) = si.write_all(s.as_bytes()) {
                assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
            }
        }
    }
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a clean failure: exit code 1, an `error:` line containing every `needle`, no panic.
fn fails_with(o: &Output, needles: &[&str]) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {e}");
    assert!(e.starts_with("error: "), "{e}");
    assert!(!e.contains("panicked"), "{e}");
    for n in needles {
        assert!(e.contains(n), "expected '{n}' in: {e}");
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sodeep/tests/fixtures")
}

/// A tiny trained LSTM sorter for d = 6.
fn tiny_sorter(dir: &Path) -> PathBuf {
    let out = dir.join("run");
    let o = run(
        &format!(
            "train-sorter --arch lstm --len 6 --hidden 4 --steps 2 --batch 4 --save-every 1 \
             --val-samples 8 --out {}",
            out.display()
        ),
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    out.join("best")
}

#[test]
fn rank_reads_csv_and_writes_ranks() {
    let o = run(
        "rank --sorter handcrafted:1000",
        Some("0.1,0.4,0.3,0.01\n3,-1,2\n"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let rows: Vec<Vec<f64>> = text
        .lines()
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    let want = [vec![0.75, 0.25, 0.5, 1.0], vec![1.0 / 3.0, 1.0, 2.0 / 3.0]];
    for (r, w) in rows.iter().zip(&want) {
        assert_eq!(r.len(), w.len());
        for (a, b) in r.iter().zip(w) {
            assert!((a - b).abs() < 1e-3, "{rows:?}");
        }
    }
    // full ties are valid input
    assert!(run("rank --sorter handcrafted", Some("1,1,1\n"))
        .status
        .success());
}

#[test]
fn rank_runs_any_ranker_and_its_sort_argsort_and_top_k() {
    let parse = |o: &Output| -> Vec<Vec<f64>> {
        assert!(o.status.success(), "{}", stderr(o));
        String::from_utf8(o.stdout.clone())
            .unwrap()
            .lines()
            .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
            .collect()
    };
    let close = |got: &[Vec<f64>], want: &[Vec<f64>]| {
        assert_eq!(got.len(), want.len(), "{got:?}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.len(), w.len(), "{got:?}");
            for (a, b) in g.iter().zip(w) {
                assert!((a - b).abs() < 1e-3, "{got:?} vs {want:?}");
            }
        }
    };
    // vectors of different lengths; sharp knobs give the exact answers
    let input = Some("0.1,0.4,0.3,0.01\n3,-1,2\n");
    let ranks = parse(&run("rank --ranker softrank:eps=0.001", input));
    close(
        &ranks,
        &[vec![0.75, 0.25, 0.5, 1.0], vec![1.0 / 3.0, 1.0, 2.0 / 3.0]],
    );
    let sorted = parse(&run(
        "rank --ranker neuralsort:tau=0.001 --output-kind sort",
        input,
    ));
    close(&sorted, &[vec![0.4, 0.3, 0.1, 0.01], vec![3.0, 2.0, -1.0]]);
    let arg = parse(&run(
        "rank --ranker diffsort-bitonic:steepness=1000,dist=logistic --output-kind argsort",
        input,
    ));
    close(&arg, &[vec![1.0, 2.0, 0.0, 3.0], vec![0.0, 2.0, 1.0]]);
    let top = parse(&run(
        "rank --ranker softsort-perm:tau=0.001 --output-kind topk:2",
        input,
    ));
    close(&top, &[vec![0.0, 1.0, 1.0, 0.0], vec![1.0, 0.0, 1.0]]);
    // errors: no relaxed sort, a bad output kind, k larger than a vector, an unknown ranker
    fails_with(
        &run("rank --ranker blackbox --output-kind sort", input),
        &["no relaxed sort", "neuralsort"],
    );
    // soft rank sorts, but builds no permutation for argsort and top-k
    fails_with(
        &run("rank --ranker softrank --output-kind argsort", input),
        &["builds no relaxed permutation", "neuralsort"],
    );
    fails_with(
        &run("rank --ranker softrank --output-kind median", input),
        &["unknown output", "topk:K"],
    );
    fails_with(
        &run("rank --ranker neuralsort --output-kind topk:4", input),
        &["k = 4", "vector 1"],
    );
    fails_with(
        &run("rank --ranker quicksort", input),
        &["quicksort", "softrank"],
    );
}

#[test]
fn bad_scores_are_rejected_and_output_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ranks.csv");
    std::fs::write(&out, "precious\n").unwrap();
    let cmd = format!("rank --sorter handcrafted --output {}", out.display());
    fails_with(&run(&cmd, Some("0.1,NaN,0.3\n")), &["NaN", "finite"]);
    fails_with(&run(&cmd, Some("1,2\n0.1,inf,0.3\n")), &["vector 1", "inf"]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious\n");
    fails_with(&run(&cmd, Some("")), &["empty"]);
    fails_with(&run(&cmd, Some("1,x\n")), &["line 1"]);
    fails_with(&run(&cmd, Some("1,2\n3,4\n1,,2\n")), &["line 3"]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious\n");
}

#[test]
fn learned_sorter_checks_lengths_and_weights() {
    let dir = tempfile::tempdir().unwrap();
    let best = tiny_sorter(dir.path());
    let rank = |sorter: &Path, input: &str| {
        run(&format!("rank --sorter {}", sorter.display()), Some(input))
    };
    let o = rank(&best, "1,2,3,4,5,6\n6,5,4,3,2,1\n");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8(o.stdout).unwrap().lines().count(), 2);
    fails_with(&rank(&best, "1,2,3\n"), &["length 3", "d = 6"]);
    let o = run(
        &format!(
            "eval-sorter --sorter {} --len 7 --samples 10",
            best.display()
        ),
        None,
    );
    fails_with(&o, &["length 7", "d = 6"]);

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
    fails_with(&rank(&missing, six), &["sorter.safetensors is missing"]);

    let truncated = copy("truncated");
    let bytes = std::fs::read(truncated.join("sorter.safetensors")).unwrap();
    std::fs::write(
        truncated.join("sorter.safetensors"),
        &bytes[..bytes.len() / 2],
    )
    .unwrap();
    fails_with(&rank(&truncated, six), &["safetensors"]);

    let garbage = copy("garbage");
    std::fs::write(garbage.join("sorter.safetensors"), b"not a weights file").unwrap();
    fails_with(&rank(&garbage, six), &["safetensors"]);

    let edit_card = |name: &str, from: &str, to: &str| {
        let d = copy(name);
        let card = std::fs::read_to_string(d.join("sorter.json")).unwrap();
        assert!(card.contains(from), "{card}");
        std::fs::write(d.join("sorter.json"), card.replacen(from, to, 1)).unwrap();
        d
    };
    let other_arch = edit_card("arch", "\"arch\": \"lstm\"", "\"arch\": \"gru\"");
    fails_with(&rank(&other_arch, six), &["gru sorter"]);
    let other_d = edit_card("d", "\"d\": 6", "\"d\": 7");
    fails_with(&rank(&other_d, "1,2,3,4,5,6,7\n"), &["d = 7"]);
}

#[test]
fn unknown_names_and_bad_arguments() {
    let o = run("eval-sorter --sorter no-such-sorter", None);
    fails_with(
        &o,
        &["unknown sorter 'no-such-sorter'", "handcrafted[:LAMBDA]"],
    );
    fails_with(&run("eval-sorter --sorter handcrafted:abc", None), &["λ"]);
    fails_with(
        &run("eval-sorter --sorter handcrafted --len 0", None),
        &["--len"],
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o").display().to_string();
    let train = |rest: &str| run(&format!("train-sorter --out {out} {rest}"), None);
    fails_with(&train("--arch lstm --len 0"), &["--len"]);
    fails_with(
        &train("--arch transformer --len 4"),
        &["unknown architecture"],
    );
    fails_with(&train("--resume"), &["nothing to resume"]);
    for bad in ["0", "1,x", ","] {
        fails_with(
            &run(
                &format!("bench rankers --thread-sweep {bad} --out {out}"),
                None,
            ),
            &["--thread-sweep"],
        );
    }
    fails_with(
        &train("--arch lstm --len 4 --device gpu"),
        &["unknown device"],
    );
    fails_with(
        &train("--arch gru --len 4 --head position"),
        &["lstm sorters only"],
    );
    #[cfg(not(feature = "cuda"))]
    fails_with(
        &train("--arch lstm --len 4 --device cuda"),
        &["--features cuda"],
    );
    // an output folder that cannot be written: a path below a regular file
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let bad = file.join("sub").display().to_string();
    let o = run(
        &format!("train-sorter --arch lstm --len 4 --steps 1 --out {bad}"),
        None,
    );
    fails_with(&o, &["cannot create"]);
    let o = run(
        &format!("rank --sorter handcrafted --output {bad}"),
        Some("1,2\n"),
    );
    fails_with(&o, &["cannot write"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn eval_sorter_json_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("fig5.png");
    let o = run(
        &format!(
            "eval-sorter --sorter handcrafted --len 20 --samples 300 --json --plot {}",
            png.display()
        ),
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
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
    let o = run("list-sorters", None);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("handcrafted"));
}

#[test]
fn import_torch_cli() {
    let dir = tempfile::tempdir().unwrap();
    let pth = fixtures().join("sorter_lstm_d8_h16.pth");
    let cmd = format!(
        "import-torch {} --arch lstm --len 8 --hidden 16 --out {}",
        pth.display(),
        dir.path().join("imp").display()
    );
    let o = run(&cmd, None);
    assert!(o.status.success(), "{}", stderr(&o));
    // a second import does not overwrite without --force
    fails_with(&run(&cmd, None), &["--force"]);
    assert!(run(&format!("{cmd} --force"), None).status.success());
    // a folder of the user's files, or a file, is never replaced, even with --force
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "mine").unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "keep").unwrap();
    for out in [&mine, &file] {
        for force in ["", " --force"] {
            let c = format!(
                "import-torch {} --arch lstm --len 8 --hidden 16 --out {}{force}",
                pth.display(),
                out.display()
            );
            fails_with(&run(&c, None), &["not a sorter folder"]);
        }
        let from = dir.path().join("imp");
        let c = format!(
            "export-sorter --from {} --out {} --samples 5",
            from.display(),
            out.display()
        );
        fails_with(&run(&c, None), &["not a sorter folder"]);
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
        "import-torch {} --arch lstm --len 8 --hidden 16 --layers 1 --out {}",
        pth.display(),
        dir.path().join("one-layer").display()
    );
    fails_with(&run(&c, None), &["not read by a lstm sorter", "layers = 1"]);
    assert!(!dir.path().join("one-layer").exists());
    let garbage = dir.path().join("g.pth");
    std::fs::write(&garbage, "nope").unwrap();
    let o = run(
        &format!(
            "import-torch {} --arch lstm --len 8 --out {}",
            garbage.display(),
            dir.path().join("g").display()
        ),
        None,
    );
    fails_with(&o, &["PyTorch checkpoint"]);
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
    let o = run(&args(&one), None);
    assert!(o.status.success(), "{}", stderr(&o));
    // start the same run and kill it once a checkpoint exists
    let mut child = bin()
        .args(args(&two).split_whitespace())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
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
    let o = run(&format!("{} --resume", args(&two)), None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(weights(&one), weights(&two), "resumed from step {stopped}");
}

/// `train-sorter --resume` takes every setting from the checkpoint: a flag that disagrees is an
/// error naming it; no flag continues the run as it was; a new --lr or --batch is recorded in
/// the card with its step.
#[test]
fn resume_takes_every_setting_from_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let start = format!(
        "train-sorter --arch mlp --len 4 --hidden 4 --batch 4 --val-samples 4 --save-every 1 \
         --steps 1 --seed 3 --out {}",
        out.display()
    );
    let o = run(&start, None);
    assert!(o.status.success(), "{}", stderr(&o));
    let resume = |rest: &str| {
        run(
            &format!("train-sorter --out {} --resume {rest}", out.display()),
            None,
        )
    };
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
            &resume(&format!("--steps 2 {bad}")),
            &[flag, "differs from the checkpoint"],
        );
    }
    let card = || sodeep::checkpoint::read_card(&out.join("ckpt/sorter.json")).unwrap();
    assert_eq!(card().training.unwrap().step, 1);
    // no flag, or flags that agree: the run continues with the checkpoint's settings
    let o = resume("--steps 2 --hidden 4 --seed 3");
    assert!(o.status.success(), "{}", stderr(&o));
    let c = card();
    let rec = c.training.unwrap();
    assert_eq!(
        (c.config.hidden, rec.step, rec.seed, rec.batch),
        (4, 2, 3, 4)
    );
    assert!(rec.changes.is_empty(), "{:?}", rec.changes);
    let o = resume("--steps 3 --lr 0.0005 --batch 2");
    assert!(o.status.success(), "{}", stderr(&o));
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

#[test]
fn bench_sorters_rust_alone_and_data() {
    let o = run(
        "bench sorters --no-torch --cases gru-train,lstm-h128-loss --reps 1 --batch 4 --len 8 --json",
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for case in ["gru-train", "lstm-h128-loss"] {
        let c = &v["cases"][case];
        assert!(c["rust_s"].as_f64().unwrap() > 0.0, "{v}");
        assert!(c["torch_s"].is_null() && c["ratio"].is_null(), "{v}");
    }
    // a Python without PyTorch: the command says so and benches the Rust side alone
    let o = run(
        "bench sorters --python /nonexistent/python --cases gru-train --reps 1 --batch 2 --len 4",
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("Rust side alone"), "{}", stderr(&o));
    fails_with(
        &run("bench sorters --no-torch --cases nope", None),
        &["unknown bench case"],
    );
    let o = run("bench data --batches 2 --batch 8 --len 10", None);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("vectors/s"));
}

/// A reader that stops early (`sodeep list-sorters | head -1`) ends the command quietly.
#[test]
fn closed_stdout_is_not_a_panic() {
    let mut child = bin()
        .arg("list-sorters")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

/// `best-100` is an alias: it loads the shipped sorter it names.
#[test]
fn best_100_is_an_alias_of_a_shipped_sorter() {
    let o = run("eval-sorter --sorter best-100 --samples 20 --json", None);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["sorter"], "any-sharp");
    assert_eq!(v["d"], 100);
    assert!(v["l1"].as_f64().unwrap() < 0.0125);
    let listing = run("list-sorters", None);
    assert!(String::from_utf8_lossy(&listing.stdout).contains("best-100"));
}

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn experiment_json_has_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("exp");
    let o = run(
        &format!(
            "experiment spearman --data diabetes --seeds 2 --epochs 3 --lrs 0.003 \
             --losses mse,sodeep:gru-100,handcrafted --json --out {}",
            out.display()
        ),
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
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
    fails_with(
        &run("experiment sorting", None),
        &["unknown task 'sorting'"],
    );
    fails_with(
        &run("experiment spearman --data iris --seeds 1", None),
        &["unknown dataset 'iris'", "winequality"],
    );
    fails_with(&run("experiment spearman --seeds 0", None), &["--seeds"]);
    fails_with(
        &run("experiment spearman --seeds 1 --losses mse,cosine", None),
        &["unknown loss 'cosine'"],
    );
    fails_with(
        &run("experiment spearman --seeds 1 --losses sodeep:nope", None),
        &["unknown ranker 'nope'", "lstm-100"],
    );
    let empty = write_file(d, "empty.csv", "");
    fails_with(
        &run(
            &format!(
                "experiment spearman --train {} --target y --seeds 1",
                empty.display()
            ),
            None,
        ),
        &["empty.csv"],
    );
    let one = write_file(d, "one.csv", "a,b,y\n1,2,3\n");
    fails_with(
        &run(
            &format!(
                "experiment spearman --train {} --target y --seeds 1",
                one.display()
            ),
            None,
        ),
        &["one.csv", "2 rows"],
    );
    let constant = write_file(d, "const.csv", "a,y\n1,5\n2,5\n3,5\n4,5\n5,5\n6,5\n");
    fails_with(
        &run(
            &format!(
                "experiment spearman --train {} --target y --seeds 1",
                constant.display()
            ),
            None,
        ),
        &["constant", "Spearman"],
    );
    let bad = write_file(d, "bad.csv", "a,y\n1,5\n2,x\n3,5\n");
    fails_with(
        &run(
            &format!(
                "experiment spearman --train {} --target y --seeds 1",
                bad.display()
            ),
            None,
        ),
        &["bad.csv", "'y'"],
    );
    let good = write_file(d, "good.csv", "a,y\n1,5\n2,6\n3,5\n");
    fails_with(
        &run(
            &format!(
                "experiment spearman --train {} --target quality --seeds 1",
                good.display()
            ),
            None,
        ),
        &["quality", "a, y"],
    );
    // an output folder that cannot be written: a path below a plain file
    let file = write_file(d, "plain", "keep me");
    fails_with(
        &run(
            &format!("experiment spearman --seeds 1 --out {}/sub", file.display()),
            None,
        ),
        &["output folder"],
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    fails_with(
        &run(
            &format!(
                "reproduce --quick --seeds 0 --out {}",
                d.join("r").display()
            ),
            None,
        ),
        &["--seeds"],
    );
}

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
    let o = run(
        &format!(
            "experiment map --train {} --test {} --label-prefix label_ --seeds 1 --epochs 3 \
             --lrs 0.01 --batch 30 --losses bce,handcrafted --json",
            tr.display(),
            te.display()
        ),
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning") && stderr(&o).contains("never"),
        "{}",
        stderr(&o)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
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
    let o = run(
        &format!(
            "experiment retrieval --a {} --b {} --seeds 1 --epochs 4 --batch 20 --hidden 16 \
             --losses hinge,handcrafted --json",
            pa.display(),
            pb.display()
        ),
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
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
    let o = run(
        "experiment spearman --data diabetes --seeds 1 --epochs 3 --lrs 0.003 --losses mse \
         --ranker softrank:eps=0.1,reg=kl --ranker handcrafted:lambda=5 --json",
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for loss in [
        "mse",
        "sodeep:softrank:eps=0.1,reg=kl",
        "sodeep:handcrafted:lambda=5",
    ] {
        let mean = v["results"][loss]["mean"].as_f64().unwrap_or(f64::NAN);
        assert!(mean > 0.2, "{loss}: {}", v["results"]);
    }
    fails_with(
        &run("experiment spearman --seeds 1 --ranker nosuch-ranker", None),
        &["unknown ranker 'nosuch-ranker'", "softrank", "neuralsort"],
    );
    fails_with(
        &run(
            "experiment spearman --seeds 1 --ranker softrank:eps=0",
            None,
        ),
        &["ε must be a positive number"],
    );
    fails_with(
        &run(
            "experiment spearman --seeds 1 --ranker softrank:tau=1",
            None,
        ),
        &["unknown knob 'tau'"],
    );
}

#[test]
fn bench_rankers_writes_its_report_and_rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("br");
    let o = run(
        &format!(
            "bench rankers --quick --no-torch --sections accuracy,speed --max-len 100 \
             --ranker softrank --ranker blackbox:lambda=3 --ranker cnn-100 --out {}",
            out.display()
        ),
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
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

    fails_with(
        &run(
            &format!(
                "bench rankers --quick --no-torch --sections speed,colour --out {}",
                out.display()
            ),
            None,
        ),
        &["colour", "accuracy, speed, mnist, downstream or threads"],
    );
    fails_with(
        &run(
            &format!(
                "bench rankers --quick --no-torch --ranker quicksort --out {}",
                out.display()
            ),
            None,
        ),
        &["quicksort", "neuralsort", "sinkhorn"],
    );
    fails_with(
        &run(
            &format!(
                "bench rankers --quick --no-torch --ranker neuralsort:tau=0 --out {}",
                out.display()
            ),
            None,
        ),
        &["tau"],
    );
    // what was written before a failed run is kept
    assert!(out.join("results.json").exists());
}

/// `eval-sorter --lens`: per-length figures under "by_len"; a fixed-length sorter reports only
/// its own d; lengths outside the training range warn.
#[test]
fn eval_sorter_at_several_lengths() {
    let o = run(
        "eval-sorter --sorter any --lens 3,100,700 --samples 30 --json",
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for n in ["3", "100", "700"] {
        let l1 = v["by_len"][n]["l1"].as_f64().unwrap();
        assert!((0.0..0.03).contains(&l1), "n {n}: {l1}");
        assert!(v["by_len"][n]["l1_by_distribution"]["uniform"].is_number());
    }
    // trained on 2..512: 700 is extrapolated, and the user is told
    assert!(
        stderr(&o).contains("warning") && stderr(&o).contains("700"),
        "{}",
        stderr(&o)
    );
    let o = run(
        "eval-sorter --sorter lstm-100 --lens 5,100 --samples 10 --json",
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["by_len"]["100"]["l1"].is_number());
    assert!(v["by_len"].get("5").is_none());
    assert!(v["skipped"]["5"].as_str().unwrap().contains("100"));
    fails_with(
        &run("eval-sorter --sorter lstm-100 --lens 5 --samples 10", None),
        &["length 100"],
    );
    let table = run("eval-sorter --sorter any --lens 4,8 --samples 10", None);
    assert!(table.status.success(), "{}", stderr(&table));
    assert!(String::from_utf8_lossy(&table.stdout).contains("mean over lengths"));
    // `rank` warns too, and still ranks
    let o = run("rank --ranker any", Some("3,1,2\n"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    let o = run("rank --ranker any", Some("5\n"));
    assert!(
        o.status.success() && stderr(&o).contains("warning"),
        "{}",
        stderr(&o)
    );
}

/// `train-sorter --len-range` for the pairwise sorter, and its bad uses.
#[test]
fn train_sorter_of_any_length() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pw");
    let args = format!(
        "train-sorter --arch pairwise --len-range 2..20 --steps 4 --batch 8 --save-every 2 \
         --val-samples 8 --out {}",
        out.display()
    );
    let o = run(&args, None);
    assert!(o.status.success(), "{}", stderr(&o));
    let card = std::fs::read_to_string(out.join("best/sorter.json")).unwrap();
    let card: serde_json::Value = serde_json::from_str(&card).unwrap();
    assert_eq!(card["len_range"], serde_json::json!([2, 20]));
    assert_eq!(card["arch"], "pairwise");
    let o = run(
        &format!(
            "eval-sorter --sorter {} --lens 2,30 --samples 5",
            out.join("best").display()
        ),
        None,
    );
    assert!(
        o.status.success() && stderr(&o).contains("2..=20"),
        "{}",
        stderr(&o)
    );
    let other = dir.path().join("x").display().to_string();
    for (args, needle) in [
        (
            format!("train-sorter --arch pairwise --len-range 5..2 --out {other}"),
            "--len-range",
        ),
        (
            format!("train-sorter --arch pairwise --len-range 0..9 --out {other}"),
            "--len-range",
        ),
        (
            format!("train-sorter --arch pairwise --len-range ab --out {other}"),
            "--len-range",
        ),
        (
            format!("train-sorter --arch pairwise --len 9 --out {other}"),
            "--len-range",
        ),
        (
            format!("train-sorter --arch lstm --len 9 --len-range 2..9 --out {other}"),
            "--len",
        ),
        (
            format!("train-sorter --arch lstm --len 9 --max-sharpness 3 --out {other}"),
            "pairwise",
        ),
        (
            format!("train-sorter --arch pairwise --max-sharpness 0 --out {other}"),
            "--max-sharpness",
        ),
    ] {
        fails_with(&run(&args, None), &[needle]);
    }
    assert!(!dir.path().join("x").join("ckpt").exists());
}

/// Hostile input to `rank` and the global flags: blank lines keep rows aligned or fail, a BOM
/// is skipped, absurd thread counts are capped with a warning.
#[test]
fn rank_rows_stay_aligned_and_threads_are_capped() {
    fails_with(
        &run("rank --ranker blackbox", Some("1,2\n\n3,4\n")),
        &["line 2", "blank"],
    );
    let o = run("rank --ranker blackbox", Some("\u{feff}1,3,2\n5,4\n\n\n"));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.starts_with("1,0.33333334,0.6666667"), "{out}");
    let o = Command::new(env!("CARGO_BIN_EXE_sodeep"))
        .args(["--threads", "100000", "list-sorters"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: --threads 100000"),
        "{}",
        stderr(&o)
    );
    fails_with(
        &run(
            "train-sorter --arch mlp --len 4 --steps 0 --out /nonexistent/x",
            None,
        ),
        &["--steps"],
    );
}

/// `rank --output` writes through what it must not replace: a device stays a device.
#[cfg(target_os = "linux")]
#[test]
fn rank_output_to_a_device_writes_through_it() {
    use std::os::unix::fs::FileTypeExt;
    fails_with(
        &run("rank --ranker blackbox --output /dev/full", Some("1,2\n")),
        &["/dev/full"],
    );
    // the cause is said once
    let o = run("rank --ranker blackbox --output /dev/full", Some("1,2\n"));
    assert_eq!(
        stderr(&o).matches("No space left").count(),
        1,
        "{}",
        stderr(&o)
    );
    let t = std::fs::symlink_metadata("/dev/full").unwrap().file_type();
    assert!(t.is_char_device());
    let o = run("rank --ranker blackbox --output /dev/null", Some("1,2\n"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::symlink_metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
}

/// The memory limit: absurd work is refused up front with a message that says how to raise it.
#[test]
fn memory_limits_and_seed_counts() {
    fails_with(
        &run("--max-memory abc rank --ranker softrank", Some("1,2\n")),
        &["4G"],
    );
    let o = run("--max-memory 1M rank --ranker handcrafted", Some("1,2,3\n"));
    assert!(o.status.success(), "{}", stderr(&o));
    let row: Vec<&str> = vec!["1"; 20_000];
    fails_with(
        &run(
            "--max-memory 1M rank --ranker handcrafted",
            Some(&format!("{}\n", row.join(","))),
        ),
        &["memory limit", "--max-memory"],
    );
    fails_with(
        &run("experiment spearman --seeds 1000000", None),
        &["--seeds", "1000"],
    );
}

/// The memory limit's messages: sizes in units that show them, and a SODEEP_MAX_MEMORY that is
/// not UTF-8 is an error naming the variable, not a limit silently ignored.
#[test]
fn memory_messages_show_their_sizes() {
    let o = run("--max-memory 1 rank --ranker handcrafted", Some("1,2,3\n"));
    fails_with(&o, &["over the memory limit of 1 byte"]);
    assert!(!stderr(&o).contains("0.0 GiB"), "{}", stderr(&o));
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let mut child = bin()
            .env("SODEEP_MAX_MEMORY", std::ffi::OsStr::from_bytes(b"1\xffG"))
            .args(["rank", "--ranker", "handcrafted"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"1,2,3\n").unwrap();
        fails_with(
            &child.wait_with_output().unwrap(),
            &["SODEEP_MAX_MEMORY", "UTF-8"],
        );
    }
}

/// Scale invariance on the command line: closely spaced scores, read in f64, rank as the same
/// vector spread out.
#[test]
fn rank_keeps_closely_spaced_scores_apart() {
    let parse = |o: &Output| -> Vec<f64> {
        assert!(o.status.success(), "{}", stderr(o));
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .split(',')
            .map(|v| v.parse().unwrap())
            .collect()
    };
    let want = parse(&run("rank --ranker best-100", Some("3,1,2,-1\n")));
    for input in [
        "0.5000003,0.5000001,0.5000002,0.4999999\n",
        "0.5000000000003,0.5000000000001,0.5000000000002,0.4999999999999\n",
        "3e-300,1e-300,2e-300,-1e-300\n",
    ] {
        let got = parse(&run("rank --ranker best-100", Some(input)));
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-3, "{input}: {got:?} vs {want:?}");
        }
    }
}

/// Error messages: one clean line even with RUST_BACKTRACE set; a folder given for a
/// checkpoint file is named as a folder.
#[test]
fn errors_are_one_clean_line() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("g.pth");
    std::fs::write(&garbage, "nope").unwrap();
    let out = dir.path().join("o").display().to_string();
    let o = Command::new(env!("CARGO_BIN_EXE_sodeep"))
        .args([
            "import-torch",
            &garbage.display().to_string(),
            "--arch",
            "lstm",
            "--len",
            "8",
        ])
        .args(["--out", &out])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    fails_with(&o, &["PyTorch checkpoint"]);
    assert_eq!(stderr(&o).trim_end().lines().count(), 1, "{}", stderr(&o));
    let args = format!(
        "import-torch {} --arch lstm --len 8 --out {out}",
        dir.path().display()
    );
    fails_with(&run(&args, None), &["is a folder"]);
}

/// Experiments refuse data too small to measure anything, and features that cannot rank.
#[test]
fn experiments_refuse_data_too_small_to_measure() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = write_file(dir.path(), "tiny.csv", "a,y\n1,2\n2,1\n3,5\n");
    fails_with(
        &run(
            &format!("experiment spearman --train {} --target y", tiny.display()),
            None,
        ),
        &["fewer than 10"],
    );
    let mut rows = String::from("a,b,y\n");
    for i in 0..60 {
        rows.push_str(&format!("{},{},{}\n", i % 7, i % 5, (i * 37) % 11));
    }
    let sixty = write_file(dir.path(), "sixty.csv", &rows);
    let args = format!(
        "experiment spearman --train {} --target y --val-fraction 0.05 --seeds 1 --epochs 1",
        sixty.display()
    );
    fails_with(
        &run(&args, None),
        &["validation part has 2 rows", "--val-fraction"],
    );
    let mut flat = String::from("a,y\n");
    for i in 0..60 {
        flat.push_str(&format!("3,{i}\n"));
    }
    let flat = write_file(dir.path(), "flat.csv", &flat);
    fails_with(
        &run(
            &format!("experiment spearman --train {} --target y", flat.display()),
            None,
        ),
        &["constant"],
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
        std::fs::write(d.join(name), text).unwrap();
    }
    let common = "--seeds 2 --epochs 4 --lrs 0.01 --hidden 8 \
                  --losses mse,lambdarank,listmle,ndcg:softrank,ndcg:neuralsort --json";
    let o = run(
        &format!(
            "experiment ltr --train {0}/train.txt --test {0}/test.txt {common} --out {0}/out",
            d.display()
        ),
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
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

    let o = run(
        &format!(
            "experiment ltr --train {0}/train.lgb --train-query {0}/train.lgb.query \
             --test {0}/test.lgb --test-query {0}/test.lgb.query {common}",
            d.display()
        ),
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let w: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
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
    std::fs::write(d.join("bad.txt"), lines.join("\n")).unwrap();
    fails_with(
        &run(
            &format!("experiment ltr --train {}/bad.txt --seeds 1", d.display()),
            None,
        ),
        &["bad.txt", "line 3", "2:abc"],
    );
    // one query only: nothing to learn an order across queries from
    std::fs::write(
        d.join("one.txt"),
        "1 qid:1 1:0.5\n0 qid:1 1:0.1\n2 qid:1 1:0.9\n",
    )
    .unwrap();
    fails_with(
        &run(
            &format!("experiment ltr --train {}/one.txt --seeds 1", d.display()),
            None,
        ),
        &["one: 1 of its 1 queries", "at least two"],
    );
    fails_with(
        &run("experiment ltr --seeds 1 --losses mse,sodeep:any", None),
        &["sodeep:any", "ndcg:<ranker spec>"],
    );
    fails_with(
        &run("experiment spearman --seeds 1 --python python3", None),
        &["--python", "ltr"],
    );
}

#[test]
fn ltr_reference_without_lightgbm_is_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (train, _, _) = letor_files(12, 4);
    std::fs::write(d.join("train.txt"), train).unwrap();
    let o = run(
        &format!(
            "experiment ltr --train {}/train.txt --seeds 1 --epochs 2 --lrs 0.01 --hidden 8 \
             --losses mse --python {}/no-such-python --json",
            d.display(),
            d.display()
        ),
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["results"].get("lightgbm").is_none(), "{v}");
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("skipped") && warnings.contains("no-such-python"),
        "{warnings}"
    );
}
