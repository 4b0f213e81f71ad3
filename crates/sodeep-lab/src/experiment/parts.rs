//! The parts of a dataset for one seed (training, validation, test), and the checks that each
//! part can measure anything.

use crate::error::Result;

/// Fewest rows in a training, validation or test part: below it, a learning rate or epoch
/// picked on validation, or a test figure, is noise (3 rows give Spearman 0 or ±1).
pub const MIN_PART_ROWS: usize = 10;

/// Refuses splits whose parts are too small to measure anything, saying which part and what
/// to change.
pub fn check_parts(data: &str, train: usize, val: usize, test: usize) -> Result<()> {
    for (part, rows, fix) in [
        ("training", train, "use more data"),
        (
            "validation",
            val,
            "use more data or a larger --val-fraction",
        ),
        ("test", test, "use more data or a larger --test file"),
    ] {
        if rows < MIN_PART_ROWS {
            return Err(crate::error::Error::Data(format!(
                "{data}: the {part} part has {rows} rows, fewer than {MIN_PART_ROWS}: the figures \
                 would be noise ({fix})"
            )));
        }
    }
    Ok(())
}

/// Refuses a feature matrix whose every column is constant: no model can order its rows, and
/// every loss would tie at 0.
pub fn check_features(data: &str, x: &crate::data::Matrix) -> Result<()> {
    let varies = (0..x.cols).any(|c| {
        let first = x.row(0)[c];
        (1..x.rows).any(|r| x.row(r)[c] != first)
    });
    if x.rows > 0 && !varies {
        return Err(crate::error::Error::Data(format!(
            "{data}: every feature column is constant, so no model can rank the rows"
        )));
    }
    Ok(())
}

/// Splits `0..n` into (first, second) with `fraction` of the items in the second part, after
/// a seeded shuffle.
pub fn split(n: usize, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    let second = ((n as f64 * fraction).round() as usize).clamp(1, n.saturating_sub(1).max(1));
    let rest = idx.split_off(n - second);
    (idx, rest)
}
