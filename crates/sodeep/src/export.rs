//! Turning a training checkpoint into a shipped sorter: weights (optionally in half precision)
//! and a model card with the evaluation figures measured on the stored weights.
//!
//! The card's figures are those of the stored weights: `L1` as in [`crate::eval`].
//!
//! ```
//! use sodeep::export::{export_sorter, ExportConfig};
//! let dir = tempfile::tempdir()?;
//! // a checkpoint folder that does not exist is an error that names it
//! let cfg = ExportConfig { half: false, samples: 100, notes: None };
//! let e = export_sorter(&dir.path().join("none"), &dir.path().join("out"), &cfg).unwrap_err();
//! assert!(e.to_string().contains("none"), "{e}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Tensor};

use crate::card::SorterCard;
use crate::checkpoint::{load_sorter_files, save_sorter_dir, SorterFiles};
use crate::error::Result;
use crate::eval::{evaluate, evaluate_lengths, EvalConfig, EvalReport, DEFAULT_LENS};
use crate::synthetic::Distribution;
use crate::Sorter;

/// Options of [`export_sorter`].
#[derive(Debug, Clone)]
pub struct ExportConfig {
    /// Store the weights as f16 (the card records the L1 of both precisions).
    pub half: bool,
    /// Test vectors of the model card's evaluation (seed 0, default mixture).
    pub samples: usize,
    /// Remarks for the card.
    pub notes: Option<String>,
}

/// What [`export_sorter`] measured.
#[derive(Debug, Clone)]
pub struct ExportReport {
    /// Evaluation of the f32 weights.
    pub f32: EvalReport,
    /// Evaluation of the stored weights (equal to `f32` unless `half`).
    pub stored: EvalReport,
    /// The card written.
    pub card: SorterCard,
}

/// Copies the sorter in `src` (a `best/` or `ckpt/` folder) to `out`, evaluates it and writes
/// the model card. The optimiser state is not copied.
pub fn export_sorter(src: &Path, out: &Path, cfg: &ExportConfig) -> Result<ExportReport> {
    let (mut card, weights) = load_sorter_files(src)?;
    // sorters of any length are scored at the paper's d = 100, and per length below
    let any_length = card.config.arch.any_length();
    let d = if any_length { 100 } else { card.config.d };
    let eval_cfg = EvalConfig {
        samples: cfg.samples,
        d,
        seed: 0,
        distribution: Distribution::All,
    };
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let full = Sorter::from_tensors(&name, card.clone(), weights.clone(), src)?;
    let f32_report = evaluate(&full, &eval_cfg)?;
    let stored_weights: HashMap<String, Tensor> = if cfg.half {
        weights
            .iter()
            .map(|(k, t)| Ok((k.clone(), t.to_dtype(DType::F16)?)))
            .collect::<Result<_>>()?
    } else {
        weights
    };
    let as_f32: HashMap<String, Tensor> = stored_weights
        .iter()
        .map(|(k, t)| Ok((k.clone(), t.to_dtype(DType::F32)?)))
        .collect::<Result<_>>()?;
    let stored = Sorter::from_tensors(&name, card.clone(), as_f32, src)?;
    let stored_report = evaluate(&stored, &eval_cfg)?;
    let by_len = match any_length {
        true => Some(evaluate_lengths(&stored, &DEFAULT_LENS, &eval_cfg)?.by_len),
        false => None,
    };
    card.dtype = if cfg.half { "f16" } else { "f32" }.into();
    card.notes = cfg.notes.clone().or(card.notes);
    card.evaluation = Some(serde_json::json!({
        "command": format!("sodeep eval-sorter --sorter {name} --samples {} --seed 0", cfg.samples),
        "samples": cfg.samples,
        "seed": 0,
        "d": d,
        "l1": stored_report.l1,
        "l1_by_distribution": stored_report.l1_by_distribution,
        "spearman": stored_report.spearman,
        "l1_f32_weights": f32_report.l1,
    }));
    if let (Some(by_len), Some(serde_json::Value::Object(e))) = (by_len, card.evaluation.as_mut()) {
        let json = serde_json::json!(by_len);
        e.insert("by_len".into(), json);
    }
    save_sorter_dir(
        out,
        &SorterFiles {
            card: &card,
            weights: &stored_weights,
            optimizer: None,
        },
    )?;
    Ok(ExportReport {
        f32: f32_report,
        stored: stored_report,
        card,
    })
}
