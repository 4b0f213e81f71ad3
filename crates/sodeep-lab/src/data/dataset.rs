//! The shapes real data comes in: a row-major [`Matrix`] of features, and the tasks built on
//! it ([`Regression`], [`MultiLabel`], [`Paired`]).

use crate::error::{Error, Result};

/// Row-major f32 matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Number of rows (examples).
    pub rows: usize,
    /// Number of columns (features).
    pub cols: usize,
    /// `rows × cols` values, row after row.
    pub data: Vec<f32>,
}

impl Matrix {
    /// A matrix over `data`, which must hold exactly `rows × cols` values.
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Result<Self> {
        let expected = rows.checked_mul(cols).ok_or_else(|| {
            Error::InvalidArgument(format!("a {rows} × {cols} matrix is too large to address"))
        })?;
        if data.len() != expected {
            return Err(Error::InvalidArgument(format!(
                "a {rows} × {cols} matrix needs {expected} values, got {}",
                data.len()
            )));
        }
        Ok(Matrix { rows, cols, data })
    }

    /// Row `i`.
    ///
    /// # Panics
    /// If `i >= self.rows`, like slice indexing; [`Matrix::get_row`] is the checked form.
    pub fn row(&self, i: usize) -> &[f32] {
        assert!(i < self.rows, "row {i} out of range for {} rows", self.rows);
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row `i`, or `None` when `i >= self.rows`.
    pub fn get_row(&self, i: usize) -> Option<&[f32]> {
        (i < self.rows).then(|| &self.data[i * self.cols..(i + 1) * self.cols])
    }

    /// A new matrix of the rows `idx`, in that order (an index may repeat).
    ///
    /// # Panics
    /// If an index is `>= self.rows`; [`Matrix::try_select_rows`] is the checked form.
    pub fn select_rows(&self, idx: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(idx.len() * self.cols);
        for &i in idx {
            data.extend_from_slice(self.row(i));
        }
        Matrix {
            rows: idx.len(),
            cols: self.cols,
            data,
        }
    }

    /// [`Matrix::select_rows`], with an error naming the first out-of-range index.
    pub fn try_select_rows(&self, idx: &[usize]) -> Result<Matrix> {
        if let Some(&bad) = idx.iter().find(|&&i| i >= self.rows) {
            return Err(Error::InvalidArgument(format!(
                "row index {bad} out of range for a matrix of {} rows",
                self.rows
            )));
        }
        Ok(self.select_rows(idx))
    }
}

/// Features and one real target per row.
#[derive(Debug, Clone, PartialEq)]
pub struct Regression {
    /// Short name of the dataset (used in reports).
    pub name: String,
    /// One name per column of `x`.
    pub feature_names: Vec<String>,
    /// Features, one example per row.
    pub x: Matrix,
    /// The target of each row of `x`.
    pub y: Vec<f32>,
}

/// Features and C binary labels per row (labels is rows × C of 0.0/1.0).
#[derive(Debug, Clone, PartialEq)]
pub struct MultiLabel {
    /// Short name of the dataset (used in reports).
    pub name: String,
    /// Features, one example per row.
    pub x: Matrix,
    /// `x.rows × C`: 1.0 where the example has the label, else 0.0.
    pub labels: Matrix,
    /// One name per column of `labels`.
    pub label_names: Vec<String>,
}

/// Two "modalities": row i of `a` is paired with row i of `b`.
#[derive(Debug, Clone, PartialEq)]
pub struct Paired {
    /// Short name of the dataset (used in reports).
    pub name: String,
    /// First modality.
    pub a: Matrix,
    /// Second modality, same number of rows as `a`.
    pub b: Matrix,
}
