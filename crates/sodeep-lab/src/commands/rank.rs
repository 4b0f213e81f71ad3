//! `sodeep rank`: score vectors from CSV through any ranker.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use sodeep::files::write_atomic;

use crate::data::bounded::{self, Bounded};
use crate::error::{Error, Result};

/// Score vectors from CSV text: one vector per line, comma-separated, no header. A UTF-8 byte
/// order mark is skipped, as `experiment` does. Blank lines at the end are ignored; a blank
/// line between vectors is an error, because output row k must answer input row k. Scores are
/// read as f64, so that closely spaced ones stay apart. Lines and the input are bounded as
/// [`bounded`] says.
pub fn parse_rows(text: impl Read) -> Result<Vec<Vec<f64>>> {
    let source = Path::new("the input");
    read_rows(Bounded::new(text, source, COST), source)
}

/// What the input costs in memory, for the checks of [`bounded`]: scores of at least two
/// bytes (`1,`) become 8-byte values, and each line its own vector (its header and the
/// allocator's share, about 48 bytes).
const COST: bounded::Cost = bounded::Cost {
    per_byte: 4,
    per_line: 48,
};

/// [`parse_rows`] of the input `source` (a file, or `stdin`), named in errors.
fn read_rows(text: Bounded<impl Read>, source: &Path) -> Result<Vec<Vec<f64>>> {
    let text = BufReader::new(text);
    let mut rows = Vec::new();
    let mut blank = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.map_err(|e| bounded::read_error(source, e))?;
        let line = if i == 0 {
            line.strip_prefix('\u{feff}').unwrap_or(&line).to_string()
        } else {
            line
        };
        let line = line.trim();
        if line.is_empty() {
            blank.get_or_insert(i + 1);
            continue;
        }
        if let Some(b) = blank {
            return Err(Error::Parse {
                line: b,
                reason: "a blank line between vectors: each line must hold one vector, so that \
                         output line k answers input line k (remove the line, or give it scores)"
                    .into(),
            });
        }
        let row = line
            .split(',')
            .map(|f| f.trim().parse::<f64>())
            .collect::<std::result::Result<Vec<f64>, _>>()
            .map_err(|e| Error::Parse {
                line: i + 1,
                reason: format!("'{line}' is not a comma-separated list of numbers ({e})"),
            })?;
        rows.push(row);
    }
    Ok(rows)
}

/// `sodeep rank`: every vector of `input` (stdin by default) through the ranker of `spec`, as
/// ranks, soft sort, soft argsort or soft top-k (`kind`), to `output` (stdout by default).
pub fn rank(spec: &str, kind: &str, input: Option<&Path>, output: Option<&Path>) -> Result<()> {
    let what: sodeep::ranker::RowOutput = kind.parse()?;
    let ranker = sodeep::spec::parse(spec)?;
    let rows = match input {
        Some(p) => read_rows(bounded::open(p, COST)?, p)?,
        None => {
            let stdin = Path::new("stdin");
            read_rows(Bounded::new(std::io::stdin().lock(), stdin, COST), stdin)?
        }
    };
    if rows.is_empty() {
        return Err(Error::Empty("no score vector to rank".into()));
    }
    let lens: std::collections::BTreeSet<usize> = rows.iter().map(Vec::len).collect();
    for w in lens.into_iter().filter_map(|n| ranker.length_warning(n)) {
        eprintln!("warning: {w}");
    }
    let ranks = sodeep::ranker::apply_to_rows(ranker.as_ref(), &rows, what)?;
    let mut out = String::new();
    for r in &ranks {
        // ranks, positions and memberships lie in [0, n]: f32's digits show them (a learned
        // sorter computes them in f32); a soft sort holds scores, printed in full
        let line: Vec<String> = match what {
            sodeep::ranker::RowOutput::Sort => r.iter().map(|v| v.to_string()).collect(),
            _ => r.iter().map(|&v| (v as f32).to_string()).collect(),
        };
        out.push_str(&line.join(","));
        out.push('\n');
    }
    match output {
        Some(p) => write_atomic(p, out.as_bytes())?,
        None => std::io::stdout()
            .write_all(out.as_bytes())
            .map_err(|e| Error::io("cannot write", "stdout", e))?,
    }
    Ok(())
}

/// Rank score vectors (CSV, one per line, no header) with a sorter.
#[derive(Debug, Clone, clap::Args)]
pub struct RankArgs {
    /// Ranker: NAME[:knob=value,...] (softrank, neuralsort, sinkhorn, diffsort-*, blackbox,
    /// handcrafted[:LAMBDA], ...), a shipped sorter's name or a sorter folder.
    #[arg(long, visible_alias = "sorter")]
    pub ranker: String,
    /// What to write per vector: ranks, sort (descending soft sort), argsort (soft, 0-based)
    /// or topk:K (soft membership of the K largest).
    #[arg(long, default_value = "ranks")]
    pub output_kind: String,
    /// Input CSV (default: stdin).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Output CSV (default: stdout).
    #[arg(long)]
    pub output: Option<PathBuf>,
}

impl RankArgs {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        rank(
            &self.ranker,
            &self.output_kind,
            self.input.as_deref(),
            self.output.as_deref(),
        )
    }
}
