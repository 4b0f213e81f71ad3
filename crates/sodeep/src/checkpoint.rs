//! Sorter folders on disk: `sorter.safetensors` (weights), `sorter.json` (the card) and, for
//! training checkpoints, `optimizer.safetensors`.
//!
//! A folder is replaced atomically: it is written whole under a temporary name, then swapped in
//! by renames, so a kill at any moment leaves the previous folder (or the new one) readable.
//!
//! ```
//! use std::collections::HashMap;
//! use candle_core::{Device, Tensor};
//! use sodeep::checkpoint::{load_safetensors, save_safetensors};
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("w.safetensors");
//! let w = Tensor::new(&[1f32, 2.0, 3.0], &Device::Cpu)?;
//! save_safetensors(&path, &HashMap::from([("w".to_string(), w)]))?;
//! assert_eq!(load_safetensors(&path)?["w"].to_vec1::<f32>()?, vec![1.0, 2.0, 3.0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

use crate::card::SorterCard;
use crate::error::{Error, Result};
use crate::files::write_synced;

/// Weights file name in a sorter folder.
pub const WEIGHTS_FILE: &str = "sorter.safetensors";
/// Card file name in a sorter folder.
pub const CARD_FILE: &str = "sorter.json";
/// Optimiser state file name in a training checkpoint.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";

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
    let raw = candle_core::safetensors::load(&wpath, &Device::Cpu).map_err(|e| {
        bad(format!(
            "{WEIGHTS_FILE} is not a readable safetensors file (truncated or another format?): {e}"
        ))
    })?;
    let want = match card.dtype.as_str() {
        "f32" => DType::F32,
        "f16" => DType::F16,
        "bf16" => DType::BF16,
        other => {
            return Err(bad(format!(
                "the card's dtype '{other}' is not f32, f16 or bf16"
            )))
        }
    };
    let mut names: Vec<&String> = raw.keys().collect();
    names.sort();
    for k in names {
        if raw[k].dtype() != want {
            return Err(bad(format!(
                "weight {k} is stored as {:?}, but the card's dtype is {}",
                raw[k].dtype(),
                card.dtype
            )));
        }
    }
    let tensors = raw
        .into_iter()
        .map(|(k, t)| Ok((k, t.to_dtype(DType::F32)?)))
        .collect::<Result<_>>()?;
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
    // the safetensors writer creates its file 0600, unlike every other output: take the mode a
    // plain new file gets here (0644 under the common umask) and give it to the weights
    let mode = fs::File::create(path)
        .and_then(|f| f.metadata())
        .map(|m| m.permissions())
        .map_err(|e| Error::io("cannot write", path, e))?;
    candle_core::safetensors::save(tensors, path).map_err(|e| Error::BadWeights {
        path: path.to_path_buf(),
        reason: format!("cannot write: {e}"),
    })?;
    fs::set_permissions(path, mode).map_err(|e| Error::io("cannot write", path, e))?;
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

/// Whether `dir` is a sorter folder this crate wrote: a directory holding a readable card and
/// no files but [`WEIGHTS_FILE`], [`CARD_FILE`] and [`OPTIMIZER_FILE`]. Only such a folder is
/// ever deleted or replaced.
pub fn is_sorter_dir(dir: &Path) -> bool {
    only_sorter_files(dir, false) && read_card(&dir.join(CARD_FILE)).is_ok()
}

/// Whether `dir` is a directory (not a link) holding nothing but files named like a sorter
/// folder's; with `partial`, also the `.tmp…` files the safetensors writer creates beside the
/// file it writes (it renames one into place when done): what a write that was killed halfway
/// leaves in this crate's temporary folder.
fn only_sorter_files(dir: &Path, partial: bool) -> bool {
    if !fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        return false;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().all(|e| {
        let name = e.file_name();
        e.file_type().is_ok_and(|t| t.is_file())
            && ([WEIGHTS_FILE, CARD_FILE, OPTIMIZER_FILE]
                .iter()
                .any(|n| name.as_os_str() == *n)
                || (partial && name.to_string_lossy().starts_with(".tmp")))
    })
}

/// Refuses to touch `path` unless it is absent or a sorter folder ([`is_sorter_dir`]); with
/// `partial`, a folder of sorter files without a readable card is accepted too (this crate's
/// own temporary folders, left behind by a kill).
fn check_replaceable(path: &Path, partial: bool) -> Result<()> {
    let absent = fs::symlink_metadata(path).is_err();
    if absent || is_sorter_dir(path) || (partial && only_sorter_files(path, true)) {
        return Ok(());
    }
    Err(Error::InvalidArgument(format!(
        "{} exists and is not a sorter folder written by sodeep; nothing was changed \
         (choose another folder, or move it away yourself)",
        path.display()
    )))
}

/// Writes a sorter folder atomically: into a temporary sibling, then swapped in by renames.
///
/// `dir` must be absent or a sorter folder ([`is_sorter_dir`]); anything else (a folder of
/// other files, a regular file, a link) is refused before anything is written. On an error the
/// temporary folder is removed, so that a failed call leaves the file system as it found it.
pub fn save_sorter_dir(dir: &Path, files: &SorterFiles) -> Result<()> {
    check_replaceable(dir, false)?;
    let tmp = sibling(dir, "tmp");
    let old = sibling(dir, "old");
    check_replaceable(&tmp, true)?;
    check_replaceable(&old, true)?;
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| Error::io("cannot clear", &tmp, e))?;
    }
    let written = write_sorter_files(&tmp, files);
    if written.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    written?;
    swap_in(&tmp, dir, &old)
}

fn write_sorter_files(tmp: &Path, files: &SorterFiles) -> Result<()> {
    fs::create_dir_all(tmp).map_err(|e| Error::io("cannot create", tmp, e))?;
    save_safetensors(&tmp.join(WEIGHTS_FILE), files.weights)?;
    if let Some(opt) = files.optimizer {
        save_safetensors(&tmp.join(OPTIMIZER_FILE), opt)?;
    }
    let card = serde_json::to_vec_pretty(files.card).expect("cards serialise");
    write_synced(&tmp.join(CARD_FILE), &card)
}

/// Moves `tmp` to `dir`, keeping the previous `dir` as `old` until the new one is in place.
fn swap_in(tmp: &Path, dir: &Path, old: &Path) -> Result<()> {
    // After a crash between the two renames only `old` holds a checkpoint: keep it until the
    // new folder is in place, so that some complete folder exists at every moment.
    if dir.exists() {
        if old.exists() {
            fs::remove_dir_all(old).map_err(|e| Error::io("cannot clear", old, e))?;
        }
        fs::rename(dir, old).map_err(|e| Error::io("cannot move aside", dir, e))?;
    }
    if let Err(e) = fs::rename(tmp, dir) {
        // put the previous folder back, and drop the new one
        if old.exists() && !dir.exists() {
            let _ = fs::rename(old, dir);
        }
        let _ = fs::remove_dir_all(tmp);
        return Err(Error::io("cannot write", dir, e));
    }
    if old.exists() {
        fs::remove_dir_all(old).map_err(|e| Error::io("cannot clear", old, e))?;
    }
    Ok(())
}
