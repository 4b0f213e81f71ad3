//! Regression tables compiled in from the `linfa-datasets` and `smartcore` crates, so they need no
//! download.

use super::dataset::{Matrix, Regression};
use crate::error::{Error, Result};

/// Red wine quality (Cortez et al., 2009; UCI `winequality-red.csv`): 1599 wines × 11
/// physico-chemical features; the target is the tasters' quality score (integers 3..8).
pub fn winequality() -> Result<Regression> {
    let ds = linfa_datasets::winequality();
    let y = ds.targets.iter().map(|&q| q as f32).collect();
    to_regression(
        "winequality-red",
        ds.feature_names(),
        ds.records.nrows(),
        ds.records.ncols(),
        ds.records.iter().copied(),
        y,
    )
}

/// Diabetes progression (Efron et al., 2004, as in scikit-learn): 442 patients × 10 features
/// (mean-centred and scaled); the target is disease progression one year later (25..346).
///
/// Taken from `smartcore`, not `linfa-datasets`: linfa-datasets 0.8.1 reads its header-less
/// diabetes file as if the first line were a header and so loses the first patient (441 rows).
pub fn diabetes() -> Result<Regression> {
    let ds = smartcore::dataset::diabetes::load_dataset();
    let names: Vec<String> = [
        "age",
        "sex",
        "body mass index",
        "blood pressure",
        "total serum cholesterol",
        "low-density lipoproteins",
        "high-density lipoproteins",
        "total cholesterol / HDL",
        "log of serum triglycerides",
        "blood sugar level",
    ]
    .map(String::from)
    .to_vec();
    to_regression(
        "diabetes",
        &names,
        ds.num_samples,
        ds.num_features,
        ds.data.iter().map(|&v| f64::from(v)),
        ds.target.iter().map(|&t| t as f32).collect(),
    )
}

fn to_regression(
    name: &str,
    feature_names: &[String],
    rows: usize,
    cols: usize,
    // Row-major: ndarray's `iter` walks in logical order whatever the memory layout.
    values: impl Iterator<Item = f64>,
    y: Vec<f32>,
) -> Result<Regression> {
    let x = Matrix::new(rows, cols, values.map(|v| v as f32).collect())?;
    if y.len() != rows || feature_names.len() != cols {
        return Err(Error::Data(format!(
            "{name}: {rows} × {cols} features but {} targets and {} feature names",
            y.len(),
            feature_names.len()
        )));
    }
    Ok(Regression {
        name: name.to_string(),
        feature_names: feature_names.to_vec(),
        x,
        y,
    })
}
