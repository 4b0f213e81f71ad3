//! The size table (`tests/sizes.txt`): every numeric argument set absurdly large is refused
//! cleanly, within 5 seconds, without the process growing past the 1 GiB budget it runs under.
//! (`src/main.rs` checks that every numeric argument has a row.)

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The budget every row runs under, and the most its process may grow to.
const BUDGET: &str = "1G";
const BUDGET_BYTES: u64 = 1 << 30;
/// The longest a refusal may take.
const DEADLINE: Duration = Duration::from_secs(5);

struct Row {
    key: String,
    kind: String,
    args: String,
    expect: String,
}

fn rows() -> Vec<Row> {
    include_str!("sizes.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let cols: Vec<&str> = l.split('|').map(str::trim).collect();
            assert!(
                cols.len() >= 3,
                "a row needs key | kind | args | expect: {l}"
            );
            Row {
                key: cols[0].into(),
                kind: cols[1].into(),
                args: cols[2].into(),
                expect: cols.get(3).copied().unwrap_or("").into(),
            }
        })
        .collect()
}

/// What one run gave: exit code, stderr, wall time and peak resident set (bytes).
struct Outcome {
    code: Option<i32>,
    stderr: String,
    wall: Duration,
    peak: u64,
}

/// Runs `sodeep --max-memory 1G ARGS` in `dir`, killing it at twice the deadline, and reads
/// its own peak resident set from `wait4`.
// the child is reaped by `wait4` (which also gives its resource usage), not by `Child::wait`
#[allow(clippy::zombie_processes)]
fn run(args: &[String], stdin: Option<String>, dir: &Path) -> Outcome {
    let err_path = dir.join("stderr.txt");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sodeep"))
        .arg("--max-memory")
        .arg(BUDGET)
        .args(args)
        .current_dir(dir)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        // a refusal may close stdin before reading it all
        let _ = pipe.write_all(text.as_bytes());
    }
    let start = Instant::now();
    let pid = child.id() as libc::pid_t;
    let (mut status, mut usage): (libc::c_int, libc::rusage) = (0, unsafe { std::mem::zeroed() });
    loop {
        // SAFETY: wait4 on our own child, with valid out-pointers.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        if start.elapsed() > 2 * DEADLINE {
            let _ = child.kill();
            // SAFETY: as above; reaps the killed child.
            unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let wall = start.elapsed();
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Outcome {
        code,
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        wall,
        // ru_maxrss is in KiB on Linux
        peak: usage.ru_maxrss as u64 * 1024,
    }
}

/// The row's arguments with OUT, WEIGHTS and FIXTURES filled in, and its stdin.
fn expand(args: &str, out: &Path) -> (Vec<String>, Option<String>) {
    let crates = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let weights = crates.join("sodeep-weights/weights");
    let fixtures = crates.join("sodeep/tests/fixtures");
    let mut stdin = None;
    let mut list = Vec::new();
    for a in args.split_whitespace() {
        if let Some(n) = a.strip_prefix("STDIN=") {
            let n: usize = n.parse().unwrap();
            let scores: Vec<String> = (0..n).map(|i| format!("{}", (i * 7919) % n)).collect();
            stdin = Some(scores.join(",") + "\n");
            continue;
        }
        list.push(
            a.replace("OUT", &out.display().to_string())
                .replace("WEIGHTS", &weights.display().to_string())
                .replace("FIXTURES", &fixtures.display().to_string()),
        );
    }
    (list, stdin)
}

#[test]
fn every_size_argument_set_absurdly_large_is_refused_cleanly_and_quickly() {
    let mut failures = Vec::new();
    let mut ran = 0;
    for row in rows() {
        if row.kind == "value" {
            assert!(
                !row.expect.is_empty(),
                "{}: a value row says what the value is",
                row.key
            );
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let (args, stdin) = expand(&row.args, dir.path());
        let o = run(&args, stdin, dir.path());
        ran += 1;
        let first = o.stderr.replace('\n', " / ");
        let mut why = Vec::new();
        match row.kind.as_str() {
            "memory" => {
                if o.code == Some(0) || !o.stderr.contains("over the memory limit") {
                    why.push("not refused by the memory budget".to_string());
                }
            }
            "bound" => {
                if o.code == Some(0) || !o.stderr.contains(&row.expect) {
                    why.push(format!("not refused with '{}'", row.expect));
                }
            }
            "capped" => {
                if o.code != Some(0) || !o.stderr.contains(&row.expect) {
                    why.push(format!("not capped with '{}'", row.expect));
                }
            }
            other => panic!("{}: unknown kind '{other}'", row.key),
        }
        if o.stderr.contains("panicked") || o.code.is_none() {
            why.push("crashed".into());
        }
        if o.wall > DEADLINE {
            why.push(format!("took {:.1} s", o.wall.as_secs_f64()));
        }
        if o.peak > BUDGET_BYTES {
            why.push(format!("grew to {} MiB", o.peak >> 20));
        }
        // nothing is left behind by a refusal
        if row.kind != "capped" {
            let left: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n != "stderr.txt")
                .collect();
            if !left.is_empty() {
                why.push(format!("left {left:?} behind"));
            }
        }
        if !why.is_empty() {
            failures.push(format!("{}: {} (stderr: {first})", row.key, why.join(", ")));
        }
    }
    assert!(ran >= 30, "only {ran} rows ran");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
