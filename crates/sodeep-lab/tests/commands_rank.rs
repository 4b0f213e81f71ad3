//! `rank` as its options drive it: score vectors from CSV through any ranker as ranks, soft
//! sort, argsort or top-k; hostile input refused with the line named, and an output file that
//! is kept when the input is bad or written through when it is a device.

mod common;

use std::path::Path;

use common::{assert_close, fails_with, parse, printed, rank, write_file};
use sodeep_lab::commands::rank::RankArgs;

#[test]
fn rank_reads_csv_and_writes_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let rows = rank(
        dir.path(),
        "--sorter handcrafted:1000",
        "0.1,0.4,0.3,0.01\n3,-1,2\n",
    )
    .unwrap();
    assert_close(
        &rows,
        &[vec![0.75, 0.25, 0.5, 1.0], vec![1.0 / 3.0, 1.0, 2.0 / 3.0]],
    );
    // full ties are valid input
    rank(dir.path(), "--sorter handcrafted", "1,1,1\n").unwrap();
}

#[test]
fn rank_runs_any_ranker_and_its_sort_argsort_and_top_k() {
    let dir = tempfile::tempdir().unwrap();
    // vectors of different lengths; sharp knobs give the exact answers
    let input = "0.1,0.4,0.3,0.01\n3,-1,2\n";
    let run = |argv: &str| rank(dir.path(), argv, input);
    assert_close(
        &run("--ranker softrank:eps=0.001").unwrap(),
        &[vec![0.75, 0.25, 0.5, 1.0], vec![1.0 / 3.0, 1.0, 2.0 / 3.0]],
    );
    assert_close(
        &run("--ranker neuralsort:tau=0.001 --output-kind sort").unwrap(),
        &[vec![0.4, 0.3, 0.1, 0.01], vec![3.0, 2.0, -1.0]],
    );
    assert_close(
        &run("--ranker diffsort-bitonic:steepness=1000,dist=logistic --output-kind argsort")
            .unwrap(),
        &[vec![1.0, 2.0, 0.0, 3.0], vec![0.0, 2.0, 1.0]],
    );
    assert_close(
        &run("--ranker softsort-perm:tau=0.001 --output-kind topk:2").unwrap(),
        &[vec![0.0, 1.0, 1.0, 0.0], vec![1.0, 0.0, 1.0]],
    );
    // errors: no relaxed sort, a bad output kind, k larger than a vector, an unknown ranker
    fails_with(
        run("--ranker blackbox --output-kind sort"),
        &["no relaxed sort", "neuralsort"],
    );
    // soft rank sorts, but builds no permutation for argsort and top-k
    fails_with(
        run("--ranker softrank --output-kind argsort"),
        &["builds no relaxed permutation", "neuralsort"],
    );
    fails_with(
        run("--ranker softrank --output-kind median"),
        &["unknown output", "topk:K"],
    );
    fails_with(
        run("--ranker neuralsort --output-kind topk:4"),
        &["k = 4", "vector 1"],
    );
    fails_with(run("--ranker quicksort"), &["quicksort", "softrank"]);
}

/// `rank --input scores --output out` on `text`, with `out` as it is.
fn rank_into(dir: &Path, argv: &str, text: &str, out: &Path) -> sodeep_lab::Result<()> {
    let input = write_file(dir, "scores.csv", text);
    parse::<RankArgs>(&format!(
        "{argv} --input {} --output {}",
        input.display(),
        out.display()
    ))
    .run()
}

#[test]
fn bad_scores_are_rejected_and_output_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let out = write_file(dir.path(), "ranks.csv", "precious\n");
    let run = |text: &str| rank_into(dir.path(), "--sorter handcrafted", text, &out);
    fails_with(run("0.1,NaN,0.3\n"), &["NaN", "finite"]);
    fails_with(run("1,2\n0.1,inf,0.3\n"), &["vector 1", "inf"]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious\n");
    fails_with(run(""), &["empty"]);
    fails_with(run("1,x\n"), &["line 1"]);
    fails_with(run("1,2\n3,4\n1,,2\n"), &["line 3"]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious\n");
}

/// Blank lines keep rows aligned or fail; a byte order mark is skipped.
#[test]
fn rank_rows_stay_aligned() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ranks.csv");
    fails_with(
        rank_into(dir.path(), "--ranker blackbox", "1,2\n\n3,4\n", &out),
        &["line 2", "blank"],
    );
    rank_into(
        dir.path(),
        "--ranker blackbox",
        "\u{feff}1,3,2\n5,4\n\n\n",
        &out,
    )
    .unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.starts_with("1,0.33333334,0.6666667"), "{text}");
}

/// `rank --output` writes through what it must not replace: a device stays a device.
#[cfg(target_os = "linux")]
#[test]
fn rank_output_to_a_device_writes_through_it() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let is_device = |p: &str| {
        std::fs::symlink_metadata(p)
            .unwrap()
            .file_type()
            .is_char_device()
    };
    let full = Path::new("/dev/full");
    fails_with(
        rank_into(dir.path(), "--ranker blackbox", "1,2\n", full),
        &["/dev/full", "No space left"],
    );
    assert!(is_device("/dev/full"));
    rank_into(
        dir.path(),
        "--ranker blackbox",
        "1,2\n",
        Path::new("/dev/null"),
    )
    .unwrap();
    assert!(is_device("/dev/null"));
}

/// Scale invariance: closely spaced scores, read in f64, rank as the same vector spread out.
#[test]
fn rank_keeps_closely_spaced_scores_apart() {
    let dir = tempfile::tempdir().unwrap();
    let want = rank(dir.path(), "--ranker best-100", "3,1,2,-1\n").unwrap();
    for input in [
        "0.5000003,0.5000001,0.5000002,0.4999999\n",
        "0.5000000000003,0.5000000000001,0.5000000000002,0.4999999999999\n",
        "3e-300,1e-300,2e-300,-1e-300\n",
    ] {
        let got = rank(dir.path(), "--ranker best-100", input).unwrap();
        assert_close(&got, &want);
    }
}

/// A ranker trained on some lengths warns, and still ranks, at a length outside them, and
/// says nothing inside them.
#[test]
fn rank_warns_outside_the_training_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let rank_any = |name: &str, text: &str| {
        let input = write_file(dir.path(), name, text);
        printed(&format!("rank --ranker any --input {}", input.display())).ok()
    };
    let o = rank_any("three.csv", "3,1,2\n");
    assert!(o.stderr.is_empty(), "{}", o.stderr);
    assert_eq!(o.stdout.lines().count(), 1, "{}", o.stdout);
    let o = rank_any("one.csv", "5\n");
    assert!(o.stderr.contains("warning"), "{}", o.stderr);
    assert_eq!(o.stdout.lines().count(), 1, "{}", o.stdout);
}
