//! What the `sodeep` binary adds to the lab's commands (whose behaviour `sodeep-lab`'s tests
//! hold): argument parsing, errors as one `error:` line with exit code 1, the global
//! `--threads` and `--max-memory`, and a quiet end when the reader of stdout goes away.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sodeep"));
    c.arg("--threads").arg("1");
    c
}

/// Runs `sodeep` with the whitespace-separated arguments of `args` (test paths have no spaces).
fn run(args: &str, stdin: Option<&str>) -> Output {
    let mut cmd = bin();
    cmd.args(args.split_whitespace());
    feed(cmd, stdin)
}

/// Runs `cmd` with `stdin` on its standard input and collects its output.
fn feed(mut cmd: Command, stdin: Option<&str>) -> Output {
    let mut child = cmd
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

/// Asserts a clean failure: exit code 1, one `error:` line containing every `needle`, no panic.
fn fails_with(o: &Output, needles: &[&str]) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {e}");
    assert!(e.starts_with("error: "), "{e}");
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    assert!(!e.contains("panicked"), "{e}");
    for n in needles {
        assert!(e.contains(n), "expected '{n}' in: {e}");
    }
}

/// Every subcommand reaches its lab command: the lab's error comes back as one `error:` line
/// with exit code 1, and its output reaches stdout.
#[test]
fn every_subcommand_reports_the_labs_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o").display().to_string();
    let garbage = dir.path().join("g.pth");
    std::fs::write(&garbage, "nope").unwrap();
    for (args, needle) in [
        (
            "eval-shipped --samples 0".to_string(),
            "nothing to evaluate",
        ),
        (
            format!("train-sorter --arch transformer --len 4 --out {out}"),
            "unknown architecture",
        ),
        (
            "eval-sorter --sorter no-such-sorter".into(),
            "unknown sorter 'no-such-sorter'",
        ),
        ("rank --ranker quicksort".into(), "quicksort"),
        (
            format!("export-sorter --from {out}/none --out {out}"),
            "sorter.json is missing",
        ),
        (
            "bench sorters --no-torch --cases nope".into(),
            "unknown bench case",
        ),
        (
            format!("bench rankers --thread-sweep 0 --out {out}"),
            "--thread-sweep",
        ),
        ("bench memory-probe nope".into(), "unknown bench case"),
        ("bench data --len 0".into(), "at least 1"),
        ("experiment sorting".into(), "unknown task 'sorting'"),
        (
            format!("reproduce --quick --seeds 0 --out {out}"),
            "--seeds",
        ),
        (
            format!(
                "import-torch {} --arch lstm --len 8 --out {out}",
                garbage.display()
            ),
            "PyTorch checkpoint",
        ),
    ] {
        fails_with(&run(&args, Some("1,2\n")), &[needle]);
    }
    assert!(!dir.path().join("o").exists());
    let o = run("list-sorters", None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("handcrafted"));
    let o = run("rank --ranker handcrafted:1000", Some("3,1,2\n"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1);
}

/// Arguments that clap refuses: its usage message and exit code 2, before any work.
#[test]
fn bad_arguments_are_refused_by_the_parser() {
    for (args, needle) in [
        (
            "eval-sorter --sorter any --len 4 --lens 3",
            "cannot be used with",
        ),
        ("experiment spearman --test t.csv", "--train"),
        ("rank", "--ranker"),
        ("bench data --batches 0", "--batches"),
        ("no-such-command", "no-such-command"),
    ] {
        let o = run(args, None);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args}: {e}");
        assert!(
            e.starts_with("error: ") && e.contains(needle),
            "{args}: {e}"
        );
        assert!(e.contains("Usage:") || e.contains("--help"), "{args}: {e}");
    }
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

/// Absurd thread counts are capped with a warning.
#[test]
fn absurd_thread_counts_are_capped() {
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
}

/// An error whose cause is already in its message says the cause once.
#[cfg(target_os = "linux")]
#[test]
fn a_cause_is_said_once() {
    let o = run("rank --ranker blackbox --output /dev/full", Some("1,2\n"));
    fails_with(&o, &["/dev/full"]);
    assert_eq!(
        stderr(&o).matches("No space left").count(),
        1,
        "{}",
        stderr(&o)
    );
}

/// The memory limit: absurd work is refused up front with a message that says how to raise it.
#[test]
fn memory_limits() {
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

/// Error messages: one clean line even with RUST_BACKTRACE set.
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
}

/// A shipped sorter's name means the shipped sorter even where the working directory holds a
/// folder of that name (an earlier run's `--out any-meta`); `./any-meta` means the folder.
#[test]
fn a_shipped_name_wins_over_a_folder_of_that_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("any-meta")).unwrap();
    let rank = |spec: &str| {
        let mut cmd = bin();
        cmd.current_dir(dir.path()).args(["rank", "--ranker", spec]);
        feed(cmd, Some("3,1,2\n"))
    };
    let shipped = rank("any-meta");
    assert!(shipped.status.success(), "{}", stderr(&shipped));
    assert_eq!(String::from_utf8_lossy(&shipped.stdout).lines().count(), 1);
    fails_with(&rank("./any-meta"), &["sorter.json"]);
}
