//! `sodeep rank`.

use std::path::PathBuf;

use anyhow::Result;

/// Rank score vectors (CSV, one per line, no header) with a sorter.
#[derive(clap::Args)]
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
    pub fn run(self) -> Result<()> {
        Ok(sodeep_lab::commands::rank::rank(
            &self.ranker,
            &self.output_kind,
            self.input.as_deref(),
            self.output.as_deref(),
        )?)
    }
}
