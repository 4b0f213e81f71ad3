//! Converting a PyTorch checkpoint of the reference implementation into a sorter folder.
//!
//! Weight names follow the reference implementation's modules (`lstm.weight_ih_l0`, …).
//!
//! ```
//! use sodeep::card::{Arch, SorterConfig};
//! let names = sodeep::sorter::expected_names(&SorterConfig::new(Arch::Lstm, 100))?;
//! assert!(names.iter().any(|n| n == "lstm.weight_ih_l0_reverse"));
//! # Ok::<(), sodeep::Error>(())
//! ```

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Tensor};

use crate::card::SorterCard;
use crate::checkpoint::{save_sorter_dir, SorterFiles};
use crate::error::{Error, Result};
use crate::sorter::{parameter_count, Sorter, SorterConfig};

/// Reads the weights of a `.pth` file: the `state_dict` entry if there is one, else the top
/// level. Drops a `module.` prefix (DataParallel) and BatchNorm's `num_batches_tracked`.
pub fn read_torch_weights(path: &Path) -> Result<HashMap<String, Tensor>> {
    if path.is_dir() {
        return Err(Error::InvalidArgument(format!(
            "{} is a folder: give the PyTorch checkpoint file itself (a .pth or .pt file)",
            path.display()
        )));
    }
    if !path.is_file() {
        return Err(Error::io(
            "cannot read",
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    let bad = |e: candle_core::Error| Error::BadWeights {
        path: path.to_path_buf(),
        reason: format!("not a readable PyTorch checkpoint: {e}"),
    };
    check_pickle_depth(path)?;
    let pairs = without_panics(path, || {
        match candle_core::pickle::read_all_with_key(path, Some("state_dict")) {
            Ok(p) if !p.is_empty() => Ok(p),
            _ => candle_core::pickle::read_all(path).map_err(bad),
        }
    })?;
    if pairs.is_empty() {
        return Err(Error::BadWeights {
            path: path.to_path_buf(),
            reason: "the checkpoint holds no tensors".into(),
        });
    }
    pairs
        .into_iter()
        .filter(|(k, _)| !k.ends_with("num_batches_tracked"))
        .map(|(k, t)| {
            let k = k.strip_prefix("module.").unwrap_or(&k).to_string();
            if !t.dtype().is_float() {
                return Err(Error::BadWeights {
                    path: path.to_path_buf(),
                    reason: format!(
                        "weight {k} holds {:?} values, not floating point",
                        t.dtype()
                    ),
                });
            }
            Ok((k, t.to_dtype(DType::F32)?))
        })
        .collect()
}

/// Refuses a checkpoint whose pickles nest deeper than [`crate::pickle_depth::MAX_DEPTH`]:
/// candle's reader would overflow the stack on them. A file that is not a zip archive is left
/// to candle, which reads only archives.
fn check_pickle_depth(path: &Path) -> Result<()> {
    use crate::pickle_depth::{max_depth, MAX_DEPTH};
    use std::io::Read;
    let bad = |reason: String| Error::BadWeights {
        path: path.to_path_buf(),
        reason: format!("not a readable PyTorch checkpoint: {reason}"),
    };
    let file = std::fs::File::open(path).map_err(|e| Error::io("cannot read", path, e))?;
    let Ok(mut archive) = zip::ZipArchive::new(file) else {
        return Ok(());
    };
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| bad(e.to_string()))?;
        if !entry.name().is_ok_and(|n| n.ends_with(".pkl")) {
            continue;
        }
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| bad(e.to_string()))?;
        let depth = max_depth(&bytes).map_err(bad)?;
        if depth > MAX_DEPTH {
            return Err(bad(format!(
                "its pickle nests {depth} levels deep, more than the {MAX_DEPTH} a checkpoint \
                 needs (refused rather than risk overflowing the stack)"
            )));
        }
    }
    Ok(())
}

/// Runs candle's pickle reader, turning its panics into an error. The reader indexes its stack
/// without checks, so a malformed pickle (found by `tests/fuzz.rs`) panics inside it; the
/// panic message is silenced while it runs, so the user sees one clean error.
fn without_panics<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    out.unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("malformed pickle");
        Err(Error::BadWeights {
            path: path.to_path_buf(),
            reason: format!("not a readable PyTorch checkpoint (its pickle is malformed: {what})"),
        })
    })
}

/// Converts `pth` into a sorter folder `out` for `config`, checking that the weights fit it.
pub fn import_torch(pth: &Path, config: SorterConfig, out: &Path) -> Result<Sorter> {
    config.validate()?;
    let weights = read_torch_weights(pth)?;
    let mut card = SorterCard::new(config.clone(), 0);
    card.source = Some(format!(
        "import-torch from {}",
        pth.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let sorter = Sorter::from_tensors(
        &out.display().to_string(),
        card.clone(),
        weights.clone(),
        pth,
    )?;
    // every tensor of the checkpoint must be one the architecture uses (from_tensors checked
    // that none is missing)
    let used = weights;
    card.parameters = parameter_count(&used);
    std::fs::create_dir_all(out.parent().unwrap_or(Path::new(".")))
        .map_err(|e| Error::io("cannot create", out, e))?;
    save_sorter_dir(
        out,
        &SorterFiles {
            card: &card,
            weights: &used,
            optimizer: None,
        },
    )?;
    Ok(sorter)
}
