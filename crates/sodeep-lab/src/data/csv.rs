//! The user's own datasets as CSV files with a header row and numeric cells.
//!
//! Every cell must be a finite number: a table with holes is rejected with the file, data row
//! and column of the first hole, rather than silently imputed, because a ranking experiment on
//! imputed values would measure the imputation.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::bounded;
use super::dataset::{Matrix, MultiLabel, Paired, Regression};
use crate::error::{Error, Result};

/// Fewest data rows accepted: ranking, correlation and any train/test split need two.
pub const MIN_ROWS: usize = 2;

/// What a table costs in memory, for the checks of [`bounded`]: cells of at least two bytes
/// (`0,`) become 4-byte values, and each row keeps its line number.
const COST: bounded::Cost = bounded::Cost {
    per_byte: 2,
    per_line: 8,
};

/// Reads a CSV table: the header's names and the data rows as a matrix.
///
/// Cells are trimmed; each must parse as a finite number. Errors name the file, the 1-based data
/// row, the line and the column for a missing, non-numeric or extra cell; a table without a
/// header, with duplicate column names or with fewer than [`MIN_ROWS`] data rows is an error.
/// Lines and the file are bounded as [`bounded`] says (a line of at most
/// [`bounded::MAX_LINE_BYTES`]; the file within the memory budget).
pub fn load_table(path: impl AsRef<Path>) -> Result<(Vec<String>, Matrix)> {
    read_table(path.as_ref()).map(|t| (t.header, t.values))
}

struct Table {
    header: Vec<String>,
    values: Matrix,
    /// The file line each data row starts on, for error messages after parsing.
    lines: Vec<usize>,
}

fn read_table(path: &Path) -> Result<Table> {
    let file = bounded::open(path, COST)?;
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        // Ragged rows are reported by this module, with the column concerned.
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(file);
    let bad_file = |e: ::csv::Error| {
        if let ::csv::ErrorKind::Io(io) = e.kind() {
            if let Some(x) = bounded::exceeded(io) {
                return Error::InputBound {
                    path: path.to_path_buf(),
                    line: x.line,
                    reason: x.reason.clone(),
                };
            }
        }
        Error::Data(format!("cannot read {} as CSV: {e}", path.display()))
    };

    let header: Vec<String> = reader
        .headers()
        .map_err(bad_file)?
        .iter()
        .map(str::to_string)
        .collect();
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err(Error::Data(format!(
            "{} is empty: a CSV needs a header row of column names and at least {MIN_ROWS} data rows",
            path.display()
        )));
    }
    if let Some(i) = header.iter().position(String::is_empty) {
        return Err(Error::Data(format!(
            "{}: column {} of the header has no name; every column needs one",
            path.display(),
            i + 1
        )));
    }
    // one pass with a set: a header of a million columns is checked in well under a second
    let mut names = HashSet::with_capacity(header.len());
    if let Some((i, name)) = header
        .iter()
        .enumerate()
        .find(|(_, name)| !names.insert(name.as_str()))
    {
        return Err(Error::Data(format!(
            "{}: column {} repeats the name '{name}'; column names must be unique",
            path.display(),
            i + 1
        )));
    }

    let cols = header.len();
    let mut data = Vec::new();
    let mut lines = Vec::new();
    let mut rows = 0;
    let mut record = ::csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(bad_file(e)),
        }
        rows += 1;
        // The header is line 1; quoted cells may span lines, so ask the reader.
        let line = record.position().map_or(rows + 1, |p| p.line() as usize);
        lines.push(line);
        let cell_error = |column: String, reason: String| Error::Csv {
            path: path.to_path_buf(),
            row: rows,
            line,
            column,
            reason,
        };
        // The reader skips empty lines, but a line of spaces is a row of holes.
        if record.len() == 1 && record[0].is_empty() && cols > 1 {
            return Err(cell_error(
                header[0].clone(),
                format!("blank line, but the header names {cols} columns"),
            ));
        }
        if record.len() > cols {
            return Err(cell_error(
                format!("#{} (beyond the header)", cols + 1),
                format!(
                    "the row has {} cells but the header names {cols} columns",
                    record.len()
                ),
            ));
        }
        for (c, name) in header.iter().enumerate() {
            let cell = match record.get(c) {
                Some(cell) => cell,
                None => {
                    return Err(cell_error(
                        name.clone(),
                        format!(
                            "missing: the row has {} cells but the header names {cols} columns",
                            record.len()
                        ),
                    ))
                }
            };
            if cell.is_empty() {
                return Err(cell_error(
                    name.clone(),
                    "empty cell; fill in or drop the row (missing values are not imputed)"
                        .to_string(),
                ));
            }
            match cell.parse::<f32>() {
                Ok(v) if v.is_finite() => data.push(v),
                _ => {
                    return Err(cell_error(
                        name.clone(),
                        format!("'{cell}' is not a finite number"),
                    ))
                }
            }
        }
    }
    if rows < MIN_ROWS {
        return Err(Error::Data(format!(
            "{} has {rows} data row{}: a dataset needs at least {MIN_ROWS} rows below the header",
            path.display(),
            if rows == 1 { "" } else { "s" }
        )));
    }
    Ok(Table {
        header,
        values: Matrix::new(rows, cols, data)?,
        lines,
    })
}

/// Reads a test table whose columns must be those of the training table (`like`), in any
/// order: they are matched by name and put in the training table's order. A missing or extra
/// column is an error that names it.
fn read_table_like(path: &Path, like: &[String], train: &Path) -> Result<Table> {
    let t = read_table(path)?;
    if t.header == like {
        return Ok(t);
    }
    // names are unique in each header (read_table checked): match them through maps, not
    // nested scans, so that wide tables stay linear
    let position: HashMap<&str, usize> = t
        .header
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let wanted: HashSet<&str> = like.iter().map(String::as_str).collect();
    let missing: Vec<&str> = like
        .iter()
        .map(String::as_str)
        .filter(|n| !position.contains_key(n))
        .collect();
    let extra: Vec<&str> = t
        .header
        .iter()
        .map(String::as_str)
        .filter(|n| !wanted.contains(n))
        .collect();
    if !missing.is_empty() || !extra.is_empty() {
        let list = |v: &[&str]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        return Err(Error::Data(format!(
            "{}: the test table's columns must be the training table's ({}), matched by name; \
             missing: {}; extra: {}",
            path.display(),
            train.display(),
            list(&missing),
            list(&extra)
        )));
    }
    // same names, another order: reorder to the training table's
    let cols: Vec<usize> = like
        .iter()
        // no name is missing (checked above), so every lookup succeeds
        .map(|n| position[n.as_str()])
        .collect();
    Ok(Table {
        header: like.to_vec(),
        values: select_cols(&t.values, &cols),
        lines: t.lines,
    })
}

/// Reads a training table and, when given, its test table, whose columns are matched to the
/// training table's by name, and builds each with `build`.
fn load_split<T>(
    train: &Path,
    test: Option<&Path>,
    build: impl Fn(&Path, Table) -> Result<T>,
) -> Result<(T, Option<T>)> {
    let t = read_table(train)?;
    let test = match test {
        Some(p) => Some(build(p, read_table_like(p, &t.header, train)?)?),
        None => None,
    };
    Ok((build(train, t)?, test))
}

/// Reads a regression table (column `target` is `y`, every other column a feature) and, when
/// given, its test table, whose columns are matched to the training table's by name.
pub fn load_regression_split(
    train: &Path,
    test: Option<&Path>,
    target: &str,
) -> Result<(Regression, Option<Regression>)> {
    load_split(train, test, |p, t| regression_from(p, t, target))
}

/// Reads a regression table: column `target` is `y`, every other column a feature.
pub fn load_regression(path: impl AsRef<Path>, target: &str) -> Result<Regression> {
    let path = path.as_ref();
    regression_from(path, read_table(path)?, target)
}

fn regression_from(path: &Path, t: Table, target: &str) -> Result<Regression> {
    let (header, table) = (t.header, t.values);
    let t = header
        .iter()
        .position(|h| h == target)
        .ok_or_else(|| Error::UnknownColumn {
            path: path.to_path_buf(),
            column: target.to_string(),
            known: header.join(", "),
        })?;
    let features: Vec<usize> = (0..header.len()).filter(|&c| c != t).collect();
    if features.is_empty() {
        return Err(Error::Data(format!(
            "{}: '{target}' is the only column, so there are no features to predict it from",
            path.display()
        )));
    }
    Ok(Regression {
        name: stem(path),
        feature_names: features.iter().map(|&c| header[c].clone()).collect(),
        x: select_cols(&table, &features),
        y: (0..table.rows).map(|r| table.row(r)[t]).collect(),
    })
}

/// Reads a multi-label table and, when given, its test table, whose columns are matched to the
/// training table's by name (see [`load_multilabel`]).
pub fn load_multilabel_split(
    train: &Path,
    test: Option<&Path>,
    label_prefix: &str,
) -> Result<(MultiLabel, Option<MultiLabel>)> {
    load_split(train, test, |p, t| multilabel_from(p, t, label_prefix))
}

/// Reads a multi-label table: the columns whose names start with `label_prefix` are the labels
/// (each cell 0 or 1), every other column a feature. `label_names` are the label columns'
/// names without the prefix.
pub fn load_multilabel(path: impl AsRef<Path>, label_prefix: &str) -> Result<MultiLabel> {
    let path = path.as_ref();
    multilabel_from(path, read_table(path)?, label_prefix)
}

fn multilabel_from(path: &Path, t: Table, label_prefix: &str) -> Result<MultiLabel> {
    let Table {
        header,
        values: table,
        lines,
    } = t;
    let (label_cols, feature_cols): (Vec<usize>, Vec<usize>) =
        (0..header.len()).partition(|&c| header[c].starts_with(label_prefix));
    if label_cols.is_empty() {
        return Err(Error::UnknownColumn {
            path: path.to_path_buf(),
            column: format!("{label_prefix}*"),
            known: header.join(", "),
        });
    }
    if feature_cols.is_empty() {
        return Err(Error::Data(format!(
            "{}: every column starts with '{label_prefix}', so there are no features",
            path.display()
        )));
    }
    for (r, &line) in lines.iter().enumerate() {
        for &c in &label_cols {
            let v = table.row(r)[c];
            if v != 0.0 && v != 1.0 {
                return Err(Error::Csv {
                    path: path.to_path_buf(),
                    row: r + 1,
                    line,
                    column: header[c].clone(),
                    reason: format!("label cells must be 0 or 1, got {v}"),
                });
            }
        }
    }
    Ok(MultiLabel {
        name: stem(path),
        x: select_cols(&table, &feature_cols),
        labels: select_cols(&table, &label_cols),
        label_names: label_cols
            .iter()
            .map(|&c| header[c][label_prefix.len()..].to_string())
            .collect(),
    })
}

/// Reads two tables whose row i belong together (e.g. two views of one example); all columns of
/// each file are used. The files must have the same number of rows.
pub fn load_paired(a_path: impl AsRef<Path>, b_path: impl AsRef<Path>) -> Result<Paired> {
    let (a_path, b_path) = (a_path.as_ref(), b_path.as_ref());
    let (_, a) = load_table(a_path)?;
    let (_, b) = load_table(b_path)?;
    if a.rows != b.rows {
        return Err(Error::Data(format!(
            "paired files differ in length: {} has {} data rows, {} has {}; row i of one must \
             describe the same example as row i of the other",
            a_path.display(),
            a.rows,
            b_path.display(),
            b.rows
        )));
    }
    Ok(Paired {
        name: format!("{}+{}", stem(a_path), stem(b_path)),
        a,
        b,
    })
}

fn stem(path: &Path) -> String {
    path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

fn select_cols(m: &Matrix, cols: &[usize]) -> Matrix {
    let mut data = Vec::with_capacity(m.rows * cols.len());
    for r in 0..m.rows {
        let row = m.row(r);
        data.extend(cols.iter().map(|&c| row[c]));
    }
    Matrix {
        rows: m.rows,
        cols: cols.len(),
        data,
    }
}
