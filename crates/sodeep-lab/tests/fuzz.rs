//! Fuzzing on stable: random and mutated text through the CSV reader and `rank`'s row reader.
//! Each must return `Ok` or a clean `Err`, never panic. Raise `PROPTEST_CASES` to fuzz longer.

use proptest::prelude::*;

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
}
