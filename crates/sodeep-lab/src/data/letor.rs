//! Learning-to-rank data: LETOR/SVMlight text files read into [`Queries`] (a dense feature
//! matrix, one relevance label per row and the query each row belongs to), and the MSLR-WEB10K
//! sample fetched from PyPI by `scripts/fetch-data.sh` ([`mslr_sample`]).
//!
//! Two layouts are read:
//! * LETOR/SVMlight: `label qid:Q index:value index:value ... [# comment]`, one row per line;
//!   rows are grouped by their qid, wherever they appear in the file;
//! * LightGBM: the same rows without `qid:`, and a query file of group sizes (one positive
//!   integer per line) whose runs of consecutive rows make the queries.
//!
//! Indices are 1-based as in LETOR, unless a file of the pair uses index 0: then both files are
//! read as 0-based. A missing index is a 0 feature. The test file gets the training file's
//! columns: a feature that only the test file has is left out (and reported), since no weight
//! was trained on it.
//!
//! Labels are whole numbers `0..=`[`MAX_LABEL`] (LightGBM's default range); any other label is
//! refused with its file, line and token. Lines and files are bounded as
//! [`super::bounded`] says.
//!
//! ```
//! use sodeep_lab::data::letor::load_letor;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("train.txt");
//! std::fs::write(
//!     &path,
//!     "# two queries, the second split around the first\n\
//!      2 qid:10 1:0.5 3:1.5\n\
//!      0 qid:7 2:4 # a comment\n\
//!      1 qid:10 3:2 1:1\n",
//! )
//! .unwrap();
//! let q = load_letor(&path, None).unwrap();
//! assert_eq!((q.x.rows, q.x.cols), (3, 3));
//! assert_eq!(q.x.row(0), &[0.5, 0.0, 1.5]);
//! assert_eq!(q.relevance, vec![2.0, 0.0, 1.0]);
//! assert_eq!(q.query_names, vec!["10", "7"]);
//! assert_eq!(q.query_rows(), vec![vec![0, 2], vec![1]]);
//! ```

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use super::bounded;
use super::dataset::Matrix;
use super::fetch::{data_dir, run_fetch_script, Fetchable};
use crate::error::{Error, Result};

/// Largest relevance label accepted; labels are whole numbers `0..=MAX_LABEL`. LightGBM's
/// default `label_gain` table (`2^i − 1` for `i` in `0..31`) ends at 30, so every file read
/// here also runs in the LightGBM reference (`experiment ltr --python`), and the exponential
/// gain `2^30 − 1` is exact in f64 (where NDCG is computed), far from overflow (labels from
/// 1024 on made it infinite, and NDCG NaN). A fractional label is refused: with "relevant"
/// meaning label ≥ 1, a query whose labels all lie in (0, 1) would silently leave every metric.
pub const MAX_LABEL: u32 = 30;

/// Largest feature index accepted. Real LETOR sets have hundreds of features; a larger index
/// is a hashed or foreign file, whose dense matrix would not fit anyway, and is refused before
/// anything is allocated for it.
pub const MAX_FEATURE_INDEX: u64 = 10_000_000;

/// What a data file costs in memory, for the checks of [`bounded`]: a feature of at least four
/// bytes (`1:0 `) is kept as an 8-byte (index, value) pair until the dense matrix is built
/// (which is checked on its own); a row keeps its label, query and end (16 bytes), and a new
/// query its name twice (about 96 bytes).
const COST: bounded::Cost = bounded::Cost {
    per_byte: 2,
    per_line: 112,
};

/// What a query file costs: its text, and each line's group size as an 8-byte count.
const QUERY_COST: bounded::Cost = bounded::Cost {
    per_byte: 1,
    per_line: 8,
};

/// Folder of the MSLR sample inside the data folder.
pub const MSLR_SAMPLE_DIR: &str = "mslr-sample";
/// The MSLR sample's training file, inside [`MSLR_SAMPLE_DIR`].
pub const MSLR_TRAIN_FILE: &str = "train.txt";
/// The MSLR sample's test file, inside [`MSLR_SAMPLE_DIR`]; the fetch script moves it into
/// place last, so its presence means the fetch completed.
pub const MSLR_TEST_FILE: &str = "test.txt";
/// The name [`mslr_sample`] gives both of its sets.
pub const MSLR_SAMPLE_NAME: &str = "mslr-sample";

/// Rows of query–document features, each with a relevance label and its query.
#[derive(Debug, Clone, PartialEq)]
pub struct Queries {
    /// Short name of the dataset (used in reports).
    pub name: String,
    /// Features, one row per query–document pair, in file order.
    pub x: Matrix,
    /// The relevance label of each row: a whole number `0..=`[`MAX_LABEL`] (0..4 in MSLR).
    pub relevance: Vec<f32>,
    /// The query of each row: a dense index 0..Q, in order of first appearance.
    pub query: Vec<u32>,
    /// Each query's id as written after `qid:`, or `"1"`, `"2"`, ... for the LightGBM layout.
    pub query_names: Vec<String>,
}

impl Queries {
    /// Number of queries.
    pub fn query_count(&self) -> usize {
        self.query_names.len()
    }

    /// The rows of each query, in file order.
    pub fn query_rows(&self) -> Vec<Vec<usize>> {
        let mut rows = vec![Vec::new(); self.query_count()];
        for (row, &q) in self.query.iter().enumerate() {
            let q = q as usize;
            // Only a hand-built value can index past the names; its rows still get a query.
            if q >= rows.len() {
                rows.resize(q + 1, Vec::new());
            }
            rows[q].push(row);
        }
        rows
    }

    /// The rows of the queries `qs`, re-indexed densely in the order given (a query listed
    /// twice comes twice, as two queries).
    ///
    /// # Panics
    /// If an index is `>= self.query_count()`, like slice indexing.
    pub fn select_queries(&self, qs: &[usize]) -> Queries {
        let rows = self.query_rows();
        let mut picked = Vec::new();
        let mut query = Vec::new();
        for (new_q, &q) in qs.iter().enumerate() {
            picked.extend_from_slice(&rows[q]);
            // `qs` indexes queries that exist, so there are fewer than u32::MAX of them.
            query.extend(std::iter::repeat_n(new_q as u32, rows[q].len()));
        }
        Queries {
            name: self.name.clone(),
            x: self.x.select_rows(&picked),
            relevance: picked.iter().map(|&r| self.relevance[r]).collect(),
            query,
            query_names: qs.iter().map(|&q| self.query_names[q].clone()).collect(),
        }
    }
}

/// Reads one LETOR/SVMlight file; `query_file` is the group-size file of the LightGBM layout
/// and must be `None` for a file whose rows carry `qid:`.
///
/// Errors name the file, the 1-based line and the offending token ([`Error::Letor`]), or the
/// file as a whole ([`Error::LetorFile`]: no data row, a missing or unwanted query file, group
/// sizes that do not add up to the rows). A dense matrix over the memory limit of
/// [`sodeep::memory`] is refused before it is allocated.
pub fn load_letor(path: &Path, query_file: Option<&Path>) -> Result<Queries> {
    densify(parse_file(path, query_file, Role::Single)?, file_name(path))
}

/// A training file and, when given, its test file, read on one layout.
#[derive(Debug, Clone, PartialEq)]
pub struct LetorPair {
    /// The training queries.
    pub train: Queries,
    /// The test queries, with the training file's columns.
    pub test: Option<Queries>,
    /// The feature indices (as written, increasing) that the test file has and the training
    /// file never does: their values are left out of the test matrix (0, as in every training
    /// row), since the model has no trained weight for them.
    pub test_only_features: Vec<u32>,
}

/// Reads a training file and, optionally, a test file with one index base and the training
/// file's feature count: both are 0-based when either uses index 0, and a feature that only the
/// test file has is left out of the test matrix and listed in
/// [`LetorPair::test_only_features`]. Query files and errors as in [`load_letor`].
pub fn load_letor_pair(
    train: &Path,
    train_query: Option<&Path>,
    test: Option<&Path>,
    test_query: Option<&Path>,
) -> Result<LetorPair> {
    // Checked first, so that a mistyped command line fails before a large file is read.
    if let (None, Some(q)) = (test, test_query) {
        return Err(Error::InvalidArgument(format!(
            "a test query file ({}) was given without a test file; pass --test F too, or drop \
             --test-query",
            q.display()
        )));
    }
    let train_parsed = parse_file(train, train_query, Role::Train)?;
    let Some(test) = test else {
        return Ok(LetorPair {
            train: densify(train_parsed, file_name(train))?,
            test: None,
            test_only_features: Vec::new(),
        });
    };
    let test_parsed = parse_file(test, test_query, Role::Test)?;
    densify_pair(train_parsed, test_parsed, file_name(train), file_name(test))
}

/// Whether `dir` holds the fetched MSLR sample (both files; the test file arrives last).
pub fn mslr_sample_is_fetched(dir: &Path) -> bool {
    let sample = dir.join(MSLR_SAMPLE_DIR);
    sample.join(MSLR_TRAIN_FILE).is_file() && sample.join(MSLR_TEST_FILE).is_file()
}

/// The MSLR-WEB10K Fold 1 sample: 5,000 training and 5,000 test rows of 43 queries each, 136
/// features, relevance 0..4, from the PyPI sdist `rankeval` 0.8.2 (MPL-2.0).
///
/// The folder is `data_dir`, else `$SODEEP_DATA_DIR`, else `~/.cache/sodeep/data` (as for
/// MNIST). When it lacks the files, the fetch script downloads them first (python3 with venv
/// and pip, and access to PyPI, once).
pub fn mslr_sample(data_dir: Option<&Path>) -> Result<LetorPair> {
    let dir = self::data_dir(data_dir)?;
    if !mslr_sample_is_fetched(&dir) {
        run_fetch_script(&dir, Fetchable::MslrSample)?;
        if !mslr_sample_is_fetched(&dir) {
            return Err(Error::Fetch {
                dir: dir.clone(),
                reason: format!(
                    "scripts/fetch-data.sh succeeded but {MSLR_SAMPLE_DIR}/{MSLR_TRAIN_FILE} or \
                     {MSLR_SAMPLE_DIR}/{MSLR_TEST_FILE} is missing; run scripts/fetch-data.sh {} \
                     mslr-sample by hand to see its output, or pass your own LETOR files with \
                     --train F --test F",
                    dir.display()
                ),
            });
        }
    }
    let sample = dir.join(MSLR_SAMPLE_DIR);
    let train = parse_file(&sample.join(MSLR_TRAIN_FILE), None, Role::Train)?;
    let test = parse_file(&sample.join(MSLR_TEST_FILE), None, Role::Test)?;
    densify_pair(
        train,
        test,
        MSLR_SAMPLE_NAME.into(),
        MSLR_SAMPLE_NAME.into(),
    )
}

/// Which file of a pair is being read, for the option named in an error.
#[derive(Clone, Copy)]
enum Role {
    Train,
    Test,
    Single,
}

impl Role {
    fn query_option(self) -> &'static str {
        match self {
            Role::Train => "--train-query F.query",
            Role::Test => "--test-query F.query",
            Role::Single => "--train-query F.query or --test-query F.query",
        }
    }
}

/// A file as read: labels, queries and the sparse features, before the index base and the
/// feature count (which depend on the other file of the pair) are known.
struct Parsed {
    path: PathBuf,
    relevance: Vec<f32>,
    query: Vec<u32>,
    query_names: Vec<String>,
    /// `(index as written, value)` of every row, row after row.
    entries: Vec<(u32, f32)>,
    /// Where each row's entries end in `entries`.
    row_ends: Vec<usize>,
    min_index: Option<u32>,
    max_index: Option<u32>,
}

/// The index base and the feature count shared by the files of a pair.
#[derive(Clone, Copy)]
struct Layout {
    zero_based: bool,
    cols: usize,
}

impl Layout {
    /// Both files' index base (0-based when either uses index 0) and the columns of `features`
    /// (the training file: a test file adds none).
    fn of(files: &[&Parsed], features: &Parsed) -> Layout {
        let zero_based = files.iter().any(|f| f.min_index == Some(0));
        let cols = features
            .max_index
            .map_or(0, |m| m as usize + usize::from(zero_based));
        Layout { zero_based, cols }
    }

    /// The column of `index` as written.
    fn col(self, index: u32) -> usize {
        // A 1-based layout means no file of the pair has index 0, so this cannot wrap.
        index as usize - usize::from(!self.zero_based)
    }
}

fn file_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// One file on its own: its own index base and feature count.
fn densify(parsed: Parsed, name: String) -> Result<Queries> {
    let layout = Layout::of(&[&parsed], &parsed);
    check_memory(&[&parsed], layout.cols)?;
    parsed.into_queries(layout, None, name)
}

/// A training file and its test file on one layout: the test matrix keeps only the columns
/// that the training file has, so that no test value reaches a weight that never trained.
fn densify_pair(
    train: Parsed,
    test: Parsed,
    train_name: String,
    test_name: String,
) -> Result<LetorPair> {
    let layout = Layout::of(&[&train, &test], &train);
    check_memory(&[&train, &test], layout.cols)?;
    let mut trained = vec![false; layout.cols];
    for &(index, _) in &train.entries {
        trained[layout.col(index)] = true;
    }
    let test_only: BTreeSet<u32> = test
        .entries
        .iter()
        .map(|&(index, _)| index)
        .filter(|&index| !trained.get(layout.col(index)).copied().unwrap_or(false))
        .collect();
    Ok(LetorPair {
        train: train.into_queries(layout, None, train_name)?,
        test: Some(test.into_queries(layout, Some(&trained), test_name)?),
        test_only_features: test_only.into_iter().collect(),
    })
}

/// Refuses dense matrices over the memory limit; the sparse entries still held while they are
/// filled count too, since both are alive at the peak.
fn check_memory(files: &[&Parsed], cols: usize) -> Result<()> {
    let mut bytes = 0u64;
    let mut rows = 0u64;
    for f in files {
        let dense = (f.relevance.len() as u64)
            .saturating_mul(cols as u64)
            .saturating_mul(4);
        let sparse = (f.entries.len() as u64).saturating_mul(8);
        bytes = bytes.saturating_add(dense).saturating_add(sparse);
        rows = rows.saturating_add(f.relevance.len() as u64);
    }
    let names: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
    sodeep::memory::check(
        &format!(
            "reading {} as {rows} rows × {cols} features of f32",
            names.join(" and ")
        ),
        bytes,
    )?;
    Ok(())
}

impl Parsed {
    /// The dense matrix of this file on `layout`; with `keep`, only the columns it marks get
    /// their values (the others stay 0, as in every training row).
    fn into_queries(self, layout: Layout, keep: Option<&[bool]>, name: String) -> Result<Queries> {
        let rows = self.relevance.len();
        let cols = layout.cols;
        let len = rows.checked_mul(cols).ok_or_else(|| Error::LetorFile {
            path: self.path.clone(),
            reason: format!("{rows} rows × {cols} features is too large to address"),
        })?;
        let mut data = vec![0.0f32; len];
        let mut start = 0;
        for (r, &end) in self.row_ends.iter().enumerate() {
            let row = &mut data[r * cols..(r + 1) * cols];
            for &(index, value) in &self.entries[start..end] {
                let col = layout.col(index);
                // Without `keep`, the layout's columns are this file's, so every index is
                // below `cols`; with it, `keep` (of length `cols`) decides.
                match keep {
                    None => row[col] = value,
                    Some(k) if k.get(col).copied().unwrap_or(false) => row[col] = value,
                    Some(_) => {}
                }
            }
            start = end;
        }
        Ok(Queries {
            name,
            x: Matrix::new(rows, cols, data)?,
            relevance: self.relevance,
            query: self.query,
            query_names: self.query_names,
        })
    }
}

/// How a file's rows name their queries, fixed by its first data row.
#[derive(Clone, Copy)]
struct QidMode {
    with_qid: bool,
    first_line: usize,
}

fn parse_file(path: &Path, query_file: Option<&Path>, role: Role) -> Result<Parsed> {
    let mut reader = std::io::BufReader::new(bounded::open(path, COST)?);
    let mut parsed = Parsed {
        path: path.to_path_buf(),
        relevance: Vec::new(),
        query: Vec::new(),
        query_names: Vec::new(),
        entries: Vec::new(),
        row_ends: Vec::new(),
        min_index: None,
        max_index: None,
    };
    let mut qids: HashMap<String, u32> = HashMap::new();
    let mut mode: Option<QidMode> = None;
    let mut seen: HashSet<u32> = HashSet::new();
    let mut bytes = Vec::new();
    let mut line_no = 0usize;
    loop {
        bytes.clear();
        let n = reader
            .read_until(b'\n', &mut bytes)
            .map_err(|e| bounded::read_error(path, e))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let bad = |token: &str, reason: String| Error::Letor {
            path: path.to_path_buf(),
            line: line_no,
            token: token.to_string(),
            reason,
        };
        let line = std::str::from_utf8(&bytes)
            .map_err(|_| bad("", "the line is not UTF-8 text".into()))?;
        let data = line.split_once('#').map_or(line, |(before, _)| before);
        let mut tokens = data.split_ascii_whitespace().peekable();
        let Some(label_token) = tokens.next() else {
            continue; // blank or comment line
        };
        parsed
            .relevance
            .push(parse_label(label_token).map_err(|r| bad(label_token, r))?);

        let qid = tokens.next_if(|t| t.starts_with("qid:"));
        let this_mode = QidMode {
            with_qid: qid.is_some(),
            first_line: line_no,
        };
        let mode = *mode.get_or_insert(this_mode);
        if mode.with_qid != this_mode.with_qid {
            let token = qid
                .or_else(|| tokens.peek().copied())
                .unwrap_or(label_token);
            let reason = if this_mode.with_qid {
                format!(
                    "this row has a qid but the row on line {} has none; either every row \
                     gives its qid: right after the label, or none does and a query file of \
                     group sizes is passed ({})",
                    mode.first_line,
                    role.query_option()
                )
            } else {
                format!(
                    "this row has no qid: after its label but the row on line {} has one; \
                     every row of a LETOR file needs its qid",
                    mode.first_line
                )
            };
            return Err(bad(token, reason));
        }
        if let Some(token) = qid {
            let name = &token["qid:".len()..];
            if name.is_empty() {
                return Err(bad(token, "the query id is empty".into()));
            }
            let q = match qids.get(name) {
                Some(&q) => q,
                None => {
                    let q = u32::try_from(qids.len())
                        .map_err(|_| bad(token, format!("more than {} queries", u32::MAX)))?;
                    qids.insert(name.to_string(), q);
                    parsed.query_names.push(name.to_string());
                    q
                }
            };
            parsed.query.push(q);
        }

        let row_start = parsed.entries.len();
        let mut increasing = true;
        for token in tokens {
            let (index, value) = parse_feature(token).map_err(|r| bad(token, r))?;
            increasing &= parsed.entries[row_start..]
                .last()
                .is_none_or(|&(prev, _)| prev < index);
            parsed.min_index = Some(parsed.min_index.map_or(index, |m| m.min(index)));
            parsed.max_index = Some(parsed.max_index.map_or(index, |m| m.max(index)));
            parsed.entries.push((index, value));
        }
        // LETOR writers list indices in increasing order, which rules out a repeat without a
        // set; only the other lines pay for one (on every line it was a quarter of the load time).
        if !increasing {
            seen.clear();
            let row = &parsed.entries[row_start..];
            if let Some(k) = row.iter().position(|&(index, _)| !seen.insert(index)) {
                // The k-th feature token comes after the label and, when present, the qid.
                let skip = 1 + usize::from(mode.with_qid) + k;
                let token = data.split_ascii_whitespace().nth(skip).unwrap_or_default();
                return Err(bad(
                    token,
                    format!("feature {} appears twice on this line", row[k].0),
                ));
            }
        }
        parsed.row_ends.push(parsed.entries.len());
    }

    let Some(mode) = mode else {
        return Err(Error::LetorFile {
            path: path.to_path_buf(),
            reason: "no data row (the file is empty or holds only blank and comment lines); \
                     a LETOR/SVMlight file has one row per line: label qid:Q index:value ..."
                .into(),
        });
    };
    match (mode.with_qid, query_file) {
        (true, None) => {}
        (true, Some(qf)) => {
            return Err(Error::LetorFile {
                path: path.to_path_buf(),
                reason: format!(
                    "its rows carry qid:, which already groups them, and the query file {} was \
                     given too; drop the query file ({})",
                    qf.display(),
                    role.query_option()
                ),
            });
        }
        (false, None) => {
            return Err(Error::LetorFile {
                path: path.to_path_buf(),
                reason: format!(
                    "its rows have no qid: (LightGBM layout), so the queries must come from a \
                     query file of group sizes, one per line: pass it with {}",
                    role.query_option()
                ),
            });
        }
        (false, Some(qf)) => {
            let sizes = read_query_file(qf)?;
            group_runs(&mut parsed, qf, &sizes)?;
        }
    }
    Ok(parsed)
}

fn parse_label(token: &str) -> std::result::Result<f32, String> {
    let rule = format!("labels are whole numbers 0..={MAX_LABEL}");
    let label: f64 = token.parse().map_err(|_| {
        format!("the relevance label is not a number; each row starts with its label ({rule})")
    })?;
    if label.is_nan() {
        Err(format!("the relevance label is NaN; {rule}"))
    } else if label.is_infinite() {
        Err(format!("the relevance label is not finite; {rule}"))
    } else if label < 0.0 {
        Err(format!("the relevance label is negative; {rule}"))
    } else if label.fract() != 0.0 {
        Err(format!(
            "the relevance label is not a whole number; {rule} (graded relevance, as LightGBM \
             reads it): round or rescale fractional grades first"
        ))
    } else if label > f64::from(MAX_LABEL) {
        Err(format!(
            "the relevance label is above {MAX_LABEL}, the largest label (LightGBM's default \
             gain table ends there, and the gain 2^label − 1 stays exact below it); map the \
             grades onto 0..={MAX_LABEL}"
        ))
    } else {
        // a whole number in 0..=30 is exact in f32; `+ 0.0` turns -0 into 0
        Ok(label as f32 + 0.0)
    }
}

fn parse_feature(token: &str) -> std::result::Result<(u32, f32), String> {
    if token.starts_with("qid:") {
        return Err("qid: must come right after the label, before the features".into());
    }
    let Some((index, value)) = token.split_once(':') else {
        return Err(
            "expected index:value (a feature needs its index, a ':' and its value, \
                    with no space between)"
                .into(),
        );
    };
    if index.is_empty() {
        return Err("the feature index is empty".into());
    }
    let index: u64 = index
        .parse()
        .map_err(|_| "the feature index is not a non-negative integer".to_string())?;
    if index > MAX_FEATURE_INDEX {
        return Err(format!(
            "feature index {index} is beyond the limit of {MAX_FEATURE_INDEX}; a dense matrix \
             that wide is not allocated (hashed indices must be remapped to a dense range first)"
        ));
    }
    if value.is_empty() {
        return Err("the feature value is empty".into());
    }
    let value: f32 = value
        .parse()
        .map_err(|_| "the feature value is not a number".to_string())?;
    if !value.is_finite() {
        return Err("the feature value is not finite (NaN, inf, or beyond the f32 range)".into());
    }
    // MAX_FEATURE_INDEX is far below u32::MAX.
    Ok((index as u32, value))
}

/// The group sizes of a LightGBM query file.
fn read_query_file(path: &Path) -> Result<Vec<usize>> {
    let mut text = String::new();
    bounded::open(path, QUERY_COST)?
        .read_to_string(&mut text)
        .map_err(|e| bounded::read_error(path, e))?;
    let mut sizes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let token = line.trim();
        if token.is_empty() {
            continue;
        }
        match token.parse::<usize>() {
            Ok(n) if n > 0 => sizes.push(n),
            _ => {
                return Err(Error::Letor {
                    path: path.to_path_buf(),
                    line: i + 1,
                    token: token.to_string(),
                    reason: "a query file holds one positive integer per line: the number of \
                             rows of each query, in the order of the data file"
                        .into(),
                })
            }
        }
    }
    Ok(sizes)
}

/// Makes each run of `sizes[q]` consecutive rows query `q`, named `q + 1`.
fn group_runs(parsed: &mut Parsed, query_file: &Path, sizes: &[usize]) -> Result<()> {
    let rows = parsed.relevance.len();
    let total = sizes
        .iter()
        .try_fold(0usize, |acc, &n| acc.checked_add(n))
        .filter(|&t| t == rows);
    if total.is_none() {
        let sum: u128 = sizes.iter().map(|&n| n as u128).sum();
        return Err(Error::LetorFile {
            path: query_file.to_path_buf(),
            reason: format!(
                "its group sizes add up to {sum} rows but {} has {rows} data rows; the query \
                 file must give the number of rows of each query of that file, in order",
                parsed.path.display()
            ),
        });
    }
    let too_many = |_| Error::LetorFile {
        path: query_file.to_path_buf(),
        reason: format!("more than {} queries", u32::MAX),
    };
    parsed.query.reserve(rows);
    for (q, &n) in sizes.iter().enumerate() {
        let q = u32::try_from(q).map_err(too_many)?;
        parsed.query.extend(std::iter::repeat_n(q, n));
        parsed.query_names.push((q as u64 + 1).to_string());
    }
    Ok(())
}
