//! Fuzzing on stable: random and mutated text through the CSV reader, `rank`'s row reader and
//! the LETOR reader. Each must return `Ok` or a clean `Err`, never panic. Raise
//! `PROPTEST_CASES` to fuzz longer.

use proptest::prelude::*;
use sodeep_lab::data::letor::{self, load_letor_pair};
use sodeep_lab::Error;

/// A label token: whole numbers in and out of range, fractions, signs, exponents, junk.
fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        30 => (0u32..=31).prop_map(|l| l.to_string()),
        1 => (0u32..=40).prop_map(|l| format!("{l}.0")),
        1 => (-5.0f64..40.0).prop_map(|l| format!("{l}")),
        1 => prop::sample::select(vec![
            "1e39", "1e400", "NaN", "inf", "-0", "1024", "0.5", "", "x", "1:1", "+3", "3e0",
        ])
        .prop_map(str::to_string),
    ]
}

/// A feature token: small, zero, huge and junk indices with finite, huge and junk values.
fn feature() -> impl Strategy<Value = String> {
    let index = prop_oneof![
        40 => (0u64..12).prop_map(|i| i.to_string()),
        1 => prop::sample::select(vec![
            "100000", "10000001", "99999999999999999999", "-1", "", "a", "qid",
        ])
        .prop_map(str::to_string),
    ];
    let value = prop_oneof![
        40 => (-1e6f64..1e6).prop_map(|v| format!("{v}")),
        1 => prop::sample::select(vec!["1e39", "NaN", "inf", "", "b", "0", "-0", "3.4e38"])
            .prop_map(str::to_string),
    ];
    (index, value, prop::bool::weighted(0.99)).prop_map(|(i, v, colon)| {
        if colon {
            format!("{i}:{v}")
        } else {
            format!("{i}{v}")
        }
    })
}

/// A row: a label, a qid (mostly), and features.
fn row() -> impl Strategy<Value = String> {
    (
        label(),
        prop::option::weighted(0.99, 0u32..4),
        prop::collection::vec(feature(), 0..5),
    )
        .prop_map(|(l, q, f)| {
            let qid = q.map_or(String::new(), |q| format!(" qid:{q}"));
            format!("{l}{qid} {}", f.join(" "))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn csv_tables_never_panic(text in "[a-z0-9,.\n\r\" eE+-]{0,200}") {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, &text).unwrap();
        let _ = sodeep_lab::data::csv::load_table(&path);
        let _ = sodeep_lab::data::csv::load_regression(&path, "y");
        let _ = sodeep_lab::data::csv::load_multilabel(&path, "label_");
    }

    #[test]
    fn csv_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, &bytes).unwrap();
        let _ = sodeep_lab::data::csv::load_table(&path);
    }

    #[test]
    fn rank_rows_never_panic(text in "[0-9,.\n eE+\u{feff}a-z-]{0,200}") {
        if let Ok(rows) = sodeep_lab::commands::rank::parse_rows(text.as_bytes()) {
            // what parses keeps one row per non-blank line, each with at least one number
            prop_assert!(rows.iter().all(|r| !r.is_empty()));
        }
    }

    /// Random labels, indices and values through the LETOR reader, a training and a test file:
    /// what is read keeps the promises (labels whole numbers 0..=30, finite features, the test
    /// matrix on the training file's columns), and every error is a typed one that names a
    /// file, and a line of it when it is a line's fault.
    #[test]
    fn letor_rows_never_panic(
        train in prop::collection::vec(row(), 0..7),
        test in prop::collection::vec(row(), 0..5),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (tp, sp) = (dir.path().join("train.txt"), dir.path().join("test.txt"));
        std::fs::write(&tp, train.join("\n")).unwrap();
        std::fs::write(&sp, test.join("\n")).unwrap();
        match load_letor_pair(&tp, None, Some(&sp), None) {
            Ok(pair) => {
                let max_label = letor::MAX_LABEL as f32;
                let test_q = pair.test.as_ref().unwrap();
                for q in [&pair.train, test_q] {
                    let whole = |l: f32| l.fract() == 0.0 && (0.0..=max_label).contains(&l);
                    prop_assert!(q.relevance.iter().all(|&l| whole(l)));
                    prop_assert!(q.x.data.iter().all(|v| v.is_finite()));
                    prop_assert_eq!(q.relevance.len(), q.x.rows);
                }
                prop_assert_eq!(pair.train.x.cols, test_q.x.cols);
            }
            Err(Error::Letor { path, line, .. }) => {
                let lines = if path == tp { train.len() } else { test.len() };
                prop_assert!(path == tp || path == sp);
                prop_assert!(line >= 1 && line <= lines.max(1));
            }
            Err(Error::LetorFile { path, .. }) => prop_assert!(path == tp || path == sp),
            Err(other) => prop_assert!(false, "unexpected error {:?}", other),
        }
    }
}
