//! Sorter folders on disk: `sorter.safetensors` (weights), `sorter.json` (the card) and, for
//! training checkpoints, `optimizer.safetensors`.
//!
//! A folder is replaced atomically: it is written whole under a temporary name, then swapped in
//! by renames, so a kill at any moment leaves the previous folder (or the new one) readable.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sorter::SorterConfig;

/// Weights file name in a sorter folder.
pub const WEIGHTS_FILE: &str = "sorter.safetensors";
/// Card file name in a sorter folder.
pub const CARD_FILE: &str = "sorter.json";
/// Optimiser state file name in a training checkpoint.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";

/// How a sorter was trained (written by `train-sorter`, kept by the model cards).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// Steps done.
    pub step: usize,
    /// Mean L1 on the validation set at this step.
    pub val_l1: f64,
    /// Validation L1 per distribution name.
    pub val_l1_by_distribution: BTreeMap<String, f64>,
    /// Best validation L1 so far, and the step it was reached at.
    pub best_val_l1: f64,
    /// Step of `best_val_l1`.
    pub best_step: usize,
    /// Training seed (weights and batches).
    pub seed: u64,
    /// Vectors per step.
    pub batch: usize,
    /// Base learning rate.
    pub lr: f64,
    /// The learning rate halves every this many steps (0: never).
    pub lr_halve_every: usize,
    /// Checkpoint period.
    pub save_every: usize,
    /// Validation set size.
    pub val_samples: usize,
    /// Validation set seed.
    pub val_seed: u64,
    /// Training distribution name.
    pub distribution: String,
    /// Threads used by the last run.
    pub threads: usize,
    /// Training wall time so far, all runs together.
    pub wall_seconds: f64,
    /// Vectors per second of the last run.
    pub vectors_per_second: f64,
    /// Description of the machine of the last run.
    pub machine: String,
    /// The learning curve: `(step, wall seconds, validation L1)` at every validation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curve: Vec<(usize, f64, f64)>,
}

/// A sorter's card: what it is, and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SorterCard {
    /// Architecture and sizes.
    #[serde(flatten)]
    pub config: SorterConfig,
    /// Trainable parameters.
    pub parameters: usize,
    /// Storage dtype of the weights file.
    #[serde(default = "default_dtype")]
    pub dtype: String,
    /// Version of `sodeep` that wrote the card.
    pub crate_version: String,
    /// Training record, for trained sorters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<TrainingRecord>,
    /// Evaluation figures (model cards of shipped sorters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<serde_json::Value>,
    /// Where the weights came from, when not trained here (e.g. `import-torch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Free-form remarks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

fn default_dtype() -> String {
    "f32".into()
}

impl SorterCard {
    /// A bare card for `config` with `parameters` weights.
    pub fn new(config: SorterConfig, parameters: usize) -> Self {
        Self {
            config,
            parameters,
            dtype: default_dtype(),
            crate_version: env!("CARGO_PKG_VERSION").to_string(),
            training: None,
            evaluation: None,
            source: None,
            notes: None,
        }
    }
}

/// The folder to read for `dir`: itself, or the previous version left by an interrupted swap.
pub fn resolve_dir(dir: &Path) -> Option<PathBuf> {
    if dir.join(CARD_FILE).is_file() {
        return Some(dir.to_path_buf());
    }
    let old = sibling(dir, "old");
    old.join(CARD_FILE).is_file().then_some(old)
}

fn sibling(dir: &Path, tag: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sorter".into());
    dir.with_file_name(format!(".{name}.{tag}"))
}

/// Reads a sorter folder's card and weights (as f32 tensors).
pub fn load_sorter_files(dir: &Path) -> Result<(SorterCard, HashMap<String, Tensor>)> {
    let bad = |reason: String| Error::BadWeights {
        path: dir.to_path_buf(),
        reason,
    };
    let real = resolve_dir(dir).ok_or_else(|| {
        bad(format!(
            "{CARD_FILE} is missing (a sorter folder holds {WEIGHTS_FILE} and {CARD_FILE})"
        ))
    })?;
    let card = read_card(&real.join(CARD_FILE))?;
    let wpath = real.join(WEIGHTS_FILE);
    if !wpath.is_file() {
        return Err(bad(format!("{WEIGHTS_FILE} is missing")));
    }
    let tensors = load_safetensors(&wpath)?;
    Ok((card, tensors))
}

/// Reads a card.
pub fn read_card(path: &Path) -> Result<SorterCard> {
    let text = fs::read_to_string(path).map_err(|e| Error::io("cannot read", path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::BadWeights {
        path: path.to_path_buf(),
        reason: format!("not a valid sorter card: {e}"),
    })
}

/// Loads a safetensors file as f32 tensors on the CPU, with a readable error if it is not one.
pub fn load_safetensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    let tensors =
        candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| Error::BadWeights {
            path: path.to_path_buf(),
            reason: format!("not a readable safetensors file (truncated or another format?): {e}"),
        })?;
    tensors
        .into_iter()
        .map(|(k, t)| Ok((k, t.to_dtype(DType::F32)?)))
        .collect()
}

/// Writes tensors as a safetensors file and syncs it to disk.
pub fn save_safetensors(path: &Path, tensors: &HashMap<String, Tensor>) -> Result<()> {
    candle_core::safetensors::save(tensors, path).map_err(|e| Error::BadWeights {
        path: path.to_path_buf(),
        reason: format!("cannot write: {e}"),
    })?;
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io("cannot write", path, e))
}

/// The contents of one sorter folder.
#[derive(Debug)]
pub struct SorterFiles<'a> {
    /// The card.
    pub card: &'a SorterCard,
    /// The weights.
    pub weights: &'a HashMap<String, Tensor>,
    /// Optimiser state, for training checkpoints.
    pub optimizer: Option<&'a HashMap<String, Tensor>>,
}

/// Writes a sorter folder atomically: into a temporary sibling, then swapped in by renames.
pub fn save_sorter_dir(dir: &Path, files: &SorterFiles) -> Result<()> {
    let tmp = sibling(dir, "tmp");
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| Error::io("cannot clear", &tmp, e))?;
    }
    fs::create_dir_all(&tmp).map_err(|e| Error::io("cannot create", &tmp, e))?;
    save_safetensors(&tmp.join(WEIGHTS_FILE), files.weights)?;
    if let Some(opt) = files.optimizer {
        save_safetensors(&tmp.join(OPTIMIZER_FILE), opt)?;
    }
    let card = serde_json::to_vec_pretty(files.card).expect("cards serialise");
    write_synced(&tmp.join(CARD_FILE), &card)?;
    let old = sibling(dir, "old");
    // After a crash between the two renames only `old` holds a checkpoint: keep it until the
    // new folder is in place, so that some complete folder exists at every moment.
    if dir.exists() {
        if old.exists() {
            fs::remove_dir_all(&old).map_err(|e| Error::io("cannot clear", &old, e))?;
        }
        fs::rename(dir, &old).map_err(|e| Error::io("cannot move aside", dir, e))?;
    }
    fs::rename(&tmp, dir).map_err(|e| Error::io("cannot write", dir, e))?;
    if old.exists() {
        fs::remove_dir_all(&old).map_err(|e| Error::io("cannot clear", &old, e))?;
    }
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = fs::File::create(path).map_err(|e| Error::io("cannot write", path, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io("cannot write", path, e))
}

/// Writes a file atomically (temporary sibling, then rename), so a reader never sees half of it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    write_synced(&tmp, bytes)?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io("cannot write", path, e)
    })
}
