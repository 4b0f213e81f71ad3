//! Tests of `sodeep_lab::data::letor`: LETOR/SVMlight and LightGBM files written into temporary
//! folders, every malformed-line error (which must name the file, line and token), the fetch
//! script's `mslr-sample` mode, and the real MSLR sample fetched from PyPI when the data folder
//! lacks it (the test fails when that fetch fails).

use std::path::{Path, PathBuf};

use sodeep_lab::data::letor::{self, load_letor, load_letor_pair, Queries};
use sodeep_lab::Error;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

fn err_of<T: std::fmt::Debug>(r: sodeep_lab::Result<T>) -> Error {
    r.expect_err("expected an error")
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fetch-data.sh")
}

// Test paths start with `letor_` so that `cargo test -p sodeep-lab letor` runs them all.

/// Reading files, and the errors of malformed ones.
mod letor_files {
    use super::*;

    // ---------- reading ----------

    #[test]
    fn qid_rows_with_comments_blank_lines_and_sparse_unsorted_indices() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "train.txt",
            "# header comment\n\
             \n\
             2 qid:q1 3:0.5 1:1.5 # doc a\n\
             \t \n\
             0 qid:q1 2:-2\r\n\
             # another comment\n\
             4 qid:q2 1:1 2:2 3:3\n\
             1.0 qid:q2\n",
        );
        let q = load_letor(&p, None).unwrap();
        assert_eq!(q.name, "train");
        assert_eq!((q.x.rows, q.x.cols), (4, 3));
        // Index i is column i - 1; what a row does not list is 0.
        assert_eq!(q.x.row(0), &[1.5, 0.0, 0.5]);
        assert_eq!(q.x.row(1), &[0.0, -2.0, 0.0]);
        assert_eq!(q.x.row(2), &[1.0, 2.0, 3.0]);
        assert_eq!(q.x.row(3), &[0.0, 0.0, 0.0]);
        assert_eq!(q.relevance, vec![2.0, 0.0, 4.0, 1.0]);
        assert_eq!(q.query, vec![0, 0, 1, 1]);
        assert_eq!(q.query_names, vec!["q1", "q2"]);
        assert_eq!(q.query_count(), 2);
    }

    #[test]
    fn rows_of_one_qid_need_not_be_contiguous() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "t.txt",
            "1 qid:30 1:1\n2 qid:7 1:2\n0 qid:30 1:3\n3 qid:5 1:4\n1 qid:7 1:5\n",
        );
        let q = load_letor(&p, None).unwrap();
        assert_eq!(q.query, vec![0, 1, 0, 2, 1]);
        assert_eq!(q.query_names, vec!["30", "7", "5"]);
        assert_eq!(q.query_rows(), vec![vec![0, 2], vec![1, 4], vec![3]]);

        // Selected queries come in the order asked, re-indexed from 0, their rows in file order.
        let s = q.select_queries(&[2, 0]);
        assert_eq!(s.query_names, vec!["5", "30"]);
        assert_eq!(s.query, vec![0, 1, 1]);
        assert_eq!(s.relevance, vec![3.0, 1.0, 0.0]);
        assert_eq!(s.x.data, vec![4.0, 1.0, 3.0]);
        assert_eq!(s.x.cols, 1);
        assert_eq!(s.query_rows(), vec![vec![0], vec![1, 2]]);
        let none: Queries = q.select_queries(&[]);
        assert_eq!((none.x.rows, none.query_count()), (0, 0));
    }

    #[test]
    fn lightgbm_layout_takes_queries_from_the_query_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "train.svm",
            "1 1:1 2:2\n0 2:1\n# c\n2 1:5\n3 3:1\n0 1:0.5\n",
        );
        let qf = write(dir.path(), "train.svm.query", "2\n\n1\n2\n");
        let q = load_letor(&p, Some(&qf)).unwrap();
        assert_eq!((q.x.rows, q.x.cols), (5, 3));
        assert_eq!(q.query, vec![0, 0, 1, 2, 2]);
        assert_eq!(q.query_names, vec!["1", "2", "3"]);
        assert_eq!(q.query_rows(), vec![vec![0, 1], vec![2], vec![3, 4]]);
        assert_eq!(q.x.row(3), &[0.0, 0.0, 1.0]);
    }

    #[test]
    fn index_zero_in_either_file_makes_the_pair_zero_based() {
        let dir = tempfile::tempdir().unwrap();
        let train = write(dir.path(), "train.txt", "1 qid:1 1:1 3:3\n0 qid:1 2:2\n");
        let test = write(dir.path(), "test.txt", "1 qid:9 0:7 1:1\n");
        let pair = load_letor_pair(&train, None, Some(&test), None).unwrap();
        let (tr, te) = (pair.train, pair.test.unwrap());
        // 0-based: column = index, so 4 columns (0..=3) in both; index 0 is the test file's
        // alone, so its value is left out (and reported).
        assert_eq!((tr.x.cols, te.x.cols), (4, 4));
        assert_eq!(tr.x.row(0), &[0.0, 1.0, 0.0, 3.0]);
        assert_eq!(te.x.row(0), &[0.0, 1.0, 0.0, 0.0]);
        assert_eq!(pair.test_only_features, vec![0]);
        assert_eq!((tr.name.as_str(), te.name.as_str()), ("train", "test"));

        // Alone, the training file is 1-based.
        let alone = load_letor(&train, None).unwrap();
        assert_eq!(alone.x.cols, 3);
        assert_eq!(alone.x.row(0), &[1.0, 0.0, 3.0]);
    }

    /// The test file gets the training file's columns: a feature that only the test file has
    /// (beyond the training file's last index, or in a gap of it) would feed a weight that never
    /// trained, so its values are left out and its index reported.
    #[test]
    fn a_pair_keeps_the_training_files_features() {
        let dir = tempfile::tempdir().unwrap();
        let train = write(dir.path(), "train.txt", "1 qid:1 1:1 3:2\n0 qid:1 1:4\n");
        let test = write(
            dir.path(),
            "test.txt",
            "0 qid:2 5:5 2:7 3:1\n1 qid:2 1:1 9:9\n",
        );
        let pair = load_letor_pair(&train, None, Some(&test), None).unwrap();
        let (tr, te) = (&pair.train, pair.test.as_ref().unwrap());
        assert_eq!((tr.x.cols, te.x.cols), (3, 3));
        assert_eq!(tr.x.row(0), &[1.0, 0.0, 2.0]);
        assert_eq!(te.x.row(0), &[0.0, 0.0, 1.0]);
        assert_eq!(te.x.row(1), &[1.0, 0.0, 0.0]);
        assert_eq!(pair.test_only_features, vec![2, 5, 9]);

        // The other way round, the wider file trains and nothing is left out.
        let pair = load_letor_pair(&test, None, Some(&train), None).unwrap();
        assert_eq!(pair.train.x.cols, 9);
        assert_eq!(
            pair.test.unwrap().x.row(0),
            &[1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        );
        assert!(pair.test_only_features.is_empty());

        // Without a test file, only the training file counts.
        let pair = load_letor_pair(&train, None, None, None).unwrap();
        assert!(pair.test.is_none() && pair.test_only_features.is_empty());
        assert_eq!(pair.train.x.cols, 3);
    }

    #[test]
    fn a_pair_mixes_qid_and_lightgbm_files() {
        let dir = tempfile::tempdir().unwrap();
        let train = write(dir.path(), "train.txt", "1 qid:1 1:1\n0 qid:1 1:2\n");
        let test = write(dir.path(), "test.txt", "1 2:1\n0 2:2\n2 1:1\n");
        let tq = write(dir.path(), "test.query", "1\n2\n");
        let pair = load_letor_pair(&train, None, Some(&test), Some(&tq)).unwrap();
        let (tr, te) = (pair.train, pair.test.unwrap());
        // index 2 is the test file's alone
        assert_eq!((tr.x.cols, te.x.cols), (1, 1));
        assert_eq!(pair.test_only_features, vec![2]);
        assert_eq!(te.query, vec![0, 1, 1]);
    }

    // ---------- errors naming the file, line and token ----------

    /// Writes `text` (whose line 1 is a good row) and checks the error names the file, `line` and
    /// `token`, with `reason` in its message.
    fn assert_line_error(text: &str, line: usize, token: &str, reason: &str) {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "bad.txt", text);
        let e = err_of(load_letor(&p, None));
        let msg = e.to_string();
        match &e {
            Error::Letor {
                path,
                line: l,
                token: t,
                reason: r,
            } => {
                assert_eq!(path, &p, "{msg}");
                assert_eq!(*l, line, "{msg}");
                assert_eq!(t, token, "{msg}");
                assert!(r.contains(reason), "{text:?}: {msg}");
            }
            other => panic!("{text:?}: expected Error::Letor, got {other:?}"),
        }
        assert!(msg.contains(&p.display().to_string()), "{msg}");
        assert!(msg.contains(&format!("line {line}: ")), "{msg}");
        assert!(msg.contains(&format!("token '{token}'")), "{msg}");
    }

    #[test]
    fn malformed_lines_name_file_line_and_token() {
        let good = "1 qid:1 1:1 2:2\n# comment\n\n";
        let cases: &[(&str, &str, &str)] = &[
            ("x qid:1 1:2", "x", "label is not a number"),
            ("-1 qid:1 1:2", "-1", "label is negative"),
            ("NaN qid:1 1:2", "NaN", "label is NaN"),
            ("inf qid:1 1:2", "inf", "label is not finite"),
            ("1e39 qid:1 1:2", "1e39", "label is above 30"),
            ("1e400 qid:1 1:2", "1e400", "label is not finite"),
            // labels are whole numbers 0..=30, as LightGBM reads them
            ("0.5 qid:1 1:2", "0.5", "label is not a whole number"),
            ("0.999 qid:1 1:2", "0.999", "label is not a whole number"),
            ("2.5 qid:1 1:2", "2.5", "label is not a whole number"),
            ("31 qid:1 1:2", "31", "label is above 30, the largest label"),
            ("1024 qid:1 1:2", "1024", "label is above 30"),
            ("1 qid:1 12", "12", "expected index:value"),
            ("1 qid:1 a:2", "a:2", "index is not a non-negative integer"),
            (
                "1 qid:1 -3:2",
                "-3:2",
                "index is not a non-negative integer",
            ),
            ("1 qid:1 :2", ":2", "index is empty"),
            ("1 qid:1 1:b", "1:b", "value is not a number"),
            ("1 qid:1 2:", "2:", "value is empty"),
            ("1 qid:1 1:inf", "1:inf", "value is not finite"),
            ("1 qid:1 1:NaN", "1:NaN", "value is not finite"),
            ("1 qid:1 1:1e39", "1:1e39", "value is not finite"),
            ("1 qid:1 3:1 2:2 3:5", "3:5", "feature 3 appears twice"),
            ("1 qid:1 1:1 2:2 2:5", "2:5", "feature 2 appears twice"),
            ("1:1 qid:1 2:2", "1:1", "label is not a number"),
            (
                "1 qid:1 10000001:1",
                "10000001:1",
                "beyond the limit of 10000000",
            ),
            (
                "1 qid:1 99999999999999999999:1",
                "99999999999999999999:1",
                "index is not a non-negative integer",
            ),
            ("1 qid: 1:2", "qid:", "the query id is empty"),
            (
                "1 qid:1 1:2 qid:3",
                "qid:3",
                "qid: must come right after the label",
            ),
            // A row without qid in a file whose first row has one.
            (
                "2 1:2",
                "1:2",
                "no qid: after its label but the row on line 1",
            ),
            ("2", "2", "no qid: after its label"),
        ];
        for (row, token, reason) in cases {
            assert_line_error(&format!("{good}{row}\n1 qid:1 1:1\n"), 4, token, reason);
        }
        // A qid after rows without one (LightGBM layout), with the option to use instead.
        assert_line_error(
            "1 1:1\n0 qid:4 1:1\n",
            2,
            "qid:4",
            "has a qid but the row on line 1 has none",
        );
    }

    #[test]
    fn a_line_that_is_not_utf8_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bin.txt");
        std::fs::write(&p, b"1 qid:1 1:1\n1 qid:1 1:\xff\n").unwrap();
        let e = err_of(load_letor(&p, None));
        assert!(matches!(e, Error::Letor { line: 2, .. }), "{e:?}");
        assert!(e.to_string().contains("not UTF-8"), "{e}");
    }

    #[test]
    fn labels_are_whole_numbers_up_to_30() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "t.txt",
            "0 qid:1 1:1\n30 qid:1 1:2\n1.0 qid:1 1:3\n2e0 qid:1 1:4\n-0 qid:1 1:5\n",
        );
        let q = load_letor(&p, None).unwrap();
        assert_eq!(q.relevance, vec![0.0, 30.0, 1.0, 2.0, 0.0]);
        assert!(q.relevance[4].is_sign_positive());
        assert_eq!(letor::MAX_LABEL, 30);
    }

    /// A stream without line breaks stops at the line bound, with the file and the line; so
    /// does a query file.
    #[test]
    fn an_endless_line_is_an_error_naming_file_and_line() {
        let zero = Path::new("/dev/zero");
        let e = err_of(load_letor(zero, None));
        match &e {
            Error::InputBound { path, line, reason } => {
                assert_eq!((path.as_path(), *line), (zero, 1), "{e}");
                assert!(reason.contains("16 MiB"), "{e}");
            }
            other => panic!("expected Error::InputBound, got {other:?}"),
        }
        assert!(e.to_string().starts_with("/dev/zero line 1:"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let plain = write(dir.path(), "plain.txt", "1 1:1\n0 1:2\n");
        let e = err_of(load_letor(&plain, Some(zero)));
        assert!(
            matches!(&e, Error::InputBound { path, line: 1, .. } if path == zero),
            "{e:?}"
        );
    }

    #[test]
    fn a_file_without_data_rows_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [("empty.txt", ""), ("comments.txt", "# only\n\n  # this\n")] {
            let p = write(dir.path(), name, text);
            let e = err_of(load_letor(&p, None));
            assert!(
                matches!(&e, Error::LetorFile { path, .. } if path == &p),
                "{e:?}"
            );
            let msg = e.to_string();
            assert!(msg.contains(name) && msg.contains("no data row"), "{msg}");
        }
        let missing = dir.path().join("missing.txt");
        let e = err_of(load_letor(&missing, None));
        assert!(matches!(e, Error::Io { .. }), "{e:?}");
    }

    #[test]
    fn query_file_mismatches_say_what_to_pass_or_drop() {
        let dir = tempfile::tempdir().unwrap();
        let with_qid = write(dir.path(), "qid.txt", "1 qid:1 1:1\n");
        let without = write(dir.path(), "plain.txt", "1 1:1\n0 1:2\n2 1:3\n");
        let qf = write(dir.path(), "plain.query", "1\n2\n");

        // A qid file given a query file: drop the query file.
        let e = err_of(load_letor_pair(&with_qid, Some(&qf), None, None));
        let msg = e.to_string();
        assert!(
            matches!(&e, Error::LetorFile { path, .. } if path == &with_qid),
            "{e:?}"
        );
        assert!(msg.contains("drop the query file (--train-query"), "{msg}");
        assert!(msg.contains("plain.query"), "{msg}");

        // A LightGBM file without one: pass it, with the option of its role.
        let e = err_of(load_letor_pair(&without, None, None, None));
        assert!(e.to_string().contains("--train-query F.query"), "{e}");
        let e = err_of(load_letor_pair(&with_qid, None, Some(&without), None));
        let msg = e.to_string();
        assert!(
            msg.contains("plain.txt") && msg.contains("--test-query F.query"),
            "{msg}"
        );
        assert!(!msg.contains("--train-query"), "{msg}");

        // A test query file without a test file.
        let e = err_of(load_letor_pair(&with_qid, None, None, Some(&qf)));
        assert!(e.to_string().contains("--test-query"), "{e}");
    }

    #[test]
    fn bad_query_files_name_their_line_or_the_row_counts() {
        let dir = tempfile::tempdir().unwrap();
        let data = write(dir.path(), "d.txt", "1 1:1\n0 1:2\n2 1:3\n");
        for (text, line, token) in [
            ("1\n0\n2\n", 2, "0"),
            ("1\n\n-2\n", 3, "-2"),
            ("abc\n", 1, "abc"),
            ("1\n1.5\n", 2, "1.5"),
            ("1 2\n", 1, "1 2"),
        ] {
            let qf = write(dir.path(), "d.query", text);
            let e = err_of(load_letor(&data, Some(&qf)));
            let msg = e.to_string();
            match &e {
                Error::Letor {
                    path,
                    line: l,
                    token: t,
                    ..
                } => {
                    assert_eq!((path, *l, t.as_str()), (&qf, line, token), "{msg}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
            assert!(msg.contains("d.query line"), "{msg}");
            assert!(msg.contains("positive integer"), "{msg}");
        }
        for text in ["1\n1\n", "2\n2\n", "\n"] {
            let qf = write(dir.path(), "d.query", text);
            let e = err_of(load_letor(&data, Some(&qf)));
            let msg = e.to_string();
            assert!(
                matches!(&e, Error::LetorFile { path, .. } if path == &qf),
                "{e:?}"
            );
            assert!(msg.contains("d.txt has 3 data rows"), "{msg}");
        }
    }

    #[test]
    fn a_matrix_over_the_memory_limit_is_refused_before_allocation() {
        let dir = tempfile::tempdir().unwrap();
        // 200,000 rows × 10,000,000 columns of f32 is 8 TB: over any machine's default limit,
        // from a 5 MB file.
        let text = "0 qid:1 10000000:1\n".repeat(200_000);
        let p = write(dir.path(), "wide.txt", &text);
        let e = err_of(load_letor(&p, None));
        let msg = e.to_string();
        assert!(msg.contains("--max-memory"), "{msg}");
        assert!(
            msg.contains("wide.txt") && msg.contains("10000000 features"),
            "{msg}"
        );
    }
}

/// The fetch script's `mslr-sample` mode and the real sample.
mod letor_fetch {
    use super::*;

    // ---------- fetching ----------

    #[test]
    fn fetch_script_rejects_an_unknown_dataset_with_usage() {
        let out = std::process::Command::new("bash")
            .arg(script())
            .arg("/nonexistent/never-created")
            .arg("bogus")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("usage:") && stderr.contains("mslr-sample"),
            "{stderr}"
        );
        assert!(!Path::new("/nonexistent/never-created").exists());
    }

    #[test]
    fn fetch_script_without_python_says_what_to_install() {
        let tmp = tempfile::tempdir().unwrap();
        // Only the tools the script needs before it looks for python3, so it runs as on a machine
        // without Python.
        let bin = tmp.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        for tool in ["mkdir", "mktemp", "rm", "tail"] {
            if let Some(found) = ["/bin", "/usr/bin"]
                .iter()
                .map(|d| Path::new(d).join(tool))
                .find(|p| p.is_file())
            {
                std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
            }
        }
        let bash = ["/bin/bash", "/usr/bin/bash"]
            .into_iter()
            .find(|p| Path::new(p).is_file())
            .expect("bash");
        let data = tmp.path().join("data");
        let out = std::process::Command::new(bash)
            .arg(script())
            .arg(&data)
            .arg("mslr-sample")
            .env("PATH", &bin)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("python3 is not installed"), "{stderr}");
        assert!(stderr.contains("venv and pip"), "{stderr}");
        assert!(stderr.contains("PyPI"), "{stderr}");
        assert!(stderr.contains("--train F --test F"), "{stderr}");
        assert!(!letor::mslr_sample_is_fetched(&data));
    }

    #[test]
    fn failed_mslr_fetch_is_a_typed_error_saying_what_to_install() {
        let tmp = tempfile::tempdir().unwrap();
        // A folder below a plain file cannot be created, so the script fails before any download.
        let blocker = write(tmp.path(), "plain-file", "");
        let dir = blocker.join("data");
        let e = err_of(letor::mslr_sample(Some(&dir)));
        match &e {
            Error::Fetch { dir: d, reason } => {
                assert_eq!(d, &dir);
                assert!(reason.contains("mslr-sample failed"), "{reason}");
                assert!(reason.contains("python3 with its venv and pip"), "{reason}");
                assert!(reason.contains("PyPI"), "{reason}");
                assert!(reason.contains("--train F --test F"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    /// The real MSLR sample, fetched into the data folder (`$SODEEP_DATA_DIR` or the default
    /// cache) when missing: python3 with venv and pip, and PyPI, once.
    #[test]
    fn real_mslr_sample_fetches_and_loads() {
        let pair = letor::mslr_sample(None)
            .unwrap_or_else(|e| panic!("the MSLR sample is needed and could not be loaded: {e}"));
        assert!(pair.test_only_features.is_empty());
        let (train, test) = (pair.train, pair.test.expect("the sample's test file"));
        for q in [&train, &test] {
            assert_eq!(q.name, "mslr-sample");
            assert_eq!((q.x.rows, q.x.cols), (5_000, 136));
            assert_eq!(q.relevance.len(), 5_000);
            assert_eq!(q.query.len(), 5_000);
            assert_eq!(q.query_count(), 43);
            assert!(q
                .relevance
                .iter()
                .all(|&l| (0.0..=4.0).contains(&l) && l.fract() == 0.0));
            // Every grade occurs, and the matrix is not all zeros.
            for grade in 0..=4 {
                assert!(q.relevance.contains(&(grade as f32)), "no label {grade}");
            }
            assert!(q.x.data.iter().all(|v| v.is_finite()));
            assert!(q.x.data.iter().any(|&v| v != 0.0));
            assert_eq!(q.query_rows().iter().map(Vec::len).sum::<usize>(), 5_000);
        }
        // The first row of the training file, as written: `2 qid:1 1:3 2:3 3:0 ... 11:156 ...`.
        assert_eq!(train.relevance[0], 2.0);
        assert_eq!(train.query_names[0], "1");
        assert_eq!(&train.x.row(0)[..3], &[3.0, 3.0, 0.0]);
        assert_eq!(train.x.row(0)[10], 156.0);
        let dir = sodeep_lab::data::fetch::data_dir(None).unwrap();
        assert!(letor::mslr_sample_is_fetched(&dir));
    }
}
