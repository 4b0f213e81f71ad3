//! Finished jobs kept on disk, so that an interrupted run resumes instead of starting over.
//!
//! Each (ranker, n, seed) job that finishes is written whole to `DIR/<ranker>-n<n>-seed<s>.json`
//! with the settings that decide its outcome. A later run with the same settings reads it back
//! instead of training again; the run loses only the jobs that were in flight. A file that holds
//! another ranker's job or other settings is an error before any training: it is never replaced.
//!
//! The settings that decide a job are every setting of `DigitSortConfig::settings` except the
//! list of n, the number of seeds and the thread count (a job of n = 5, seed 1 is the same job
//! whether the run also asks for n = 15 or a fourth seed, and each job runs on one thread), plus
//! the crate's version.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::DigitSortConfig;
use super::jobs::JobOutcome;
use crate::error::{Error, Result};

/// What a kept file holds: the job, the settings it ran with, and its outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeptJob {
    ranker: String,
    n: usize,
    seed: usize,
    settings: serde_json::Value,
    #[serde(flatten)]
    outcome: JobOutcome,
}

/// The settings that decide a job's outcome (see the module docs).
fn job_settings(cfg: &DigitSortConfig) -> serde_json::Value {
    let mut s = cfg.settings();
    if let Some(map) = s.as_object_mut() {
        for key in ["ns", "seeds", "threads"] {
            map.remove(key);
        }
        // another release may train differently: its jobs are not this one's
        map.insert("sodeep".into(), env!("CARGO_PKG_VERSION").into());
    }
    s
}

/// The file of a job: the ranker's name with every character other than a letter, a digit,
/// `.`, `-` or `_` written as `_` (`softrank:reg=kl` → `softrank_reg_kl`). Two names that
/// map to the same file are told apart by the name the file records.
pub(super) fn path(dir: &Path, ranker: &str, n: usize, seed: usize) -> PathBuf {
    let name: String = ranker
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{name}-n{n}-seed{seed}.json"))
}

/// The kept outcome of a job, if `dir` holds one: `Ok(None)` when there is no file, an error when
/// the file cannot be read or holds another job (another ranker, n, seed or settings).
pub(super) fn read(
    dir: &Path,
    cfg: &DigitSortConfig,
    ranker: &str,
    n: usize,
    seed: usize,
) -> Result<Option<JobOutcome>> {
    let file = path(dir, ranker, n, seed);
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("cannot read the kept job", &file, e)),
    };
    let kept: KeptJob = serde_json::from_str(&text).map_err(|source| Error::Json {
        path: file.clone(),
        source,
    })?;
    let other = |what: String| {
        Err(Error::InvalidArgument(format!(
            "{} holds {what}; it is kept, not replaced: give this run another output folder, \
             or move the file away to train the job again",
            file.display()
        )))
    };
    if (kept.ranker.as_str(), kept.n, kept.seed) != (ranker, n, seed) {
        return other(format!(
            "the job of {} at n = {}, seed {}, not of {ranker} at n = {n}, seed {seed}",
            kept.ranker, kept.n, kept.seed
        ));
    }
    let want = job_settings(cfg);
    if kept.settings != want {
        return other(format!(
            "a job run with other settings ({})",
            differences(&kept.settings, &want)
        ));
    }
    Ok(Some(kept.outcome))
}

/// The settings that differ between a kept job (`there`) and this run (`here`), as
/// `steps 300 there, 600 here; ...`.
fn differences(there: &serde_json::Value, here: &serde_json::Value) -> String {
    let none = serde_json::Map::new();
    let (a, b) = (
        there.as_object().unwrap_or(&none),
        here.as_object().unwrap_or(&none),
    );
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort_unstable();
    keys.dedup();
    let missing = serde_json::Value::String("nothing".into());
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            let (x, y) = (a.get(k).unwrap_or(&missing), b.get(k).unwrap_or(&missing));
            format!("{k} {x} there, {y} here")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Keeps a finished job in `dir` (created if needed), written whole: a reader never sees half a
/// file, and an interruption while writing leaves no file rather than a broken one.
pub(super) fn write(
    dir: &Path,
    cfg: &DigitSortConfig,
    ranker: &str,
    n: usize,
    seed: usize,
    outcome: &JobOutcome,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io("cannot create the folder of kept jobs", dir, e))?;
    let kept = KeptJob {
        ranker: ranker.to_string(),
        n,
        seed,
        settings: job_settings(cfg),
        outcome: outcome.clone(),
    };
    let file = path(dir, ranker, n, seed);
    let text = serde_json::to_string_pretty(&kept).map_err(|source| Error::Json {
        path: file.clone(),
        source,
    })?;
    sodeep::files::write_atomic(&file, text.as_bytes())?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::digit_sort::published::{CurvePoint, TimeSplit};

    fn outcome() -> JobOutcome {
        JobOutcome {
            exact: 0.5,
            elementwise: 0.75,
            final_loss: 0.125,
            train_seconds: 12.0,
            eval_seconds: 1.5,
            published: Some((
                vec![CurvePoint {
                    step: 137,
                    sets_seen: 13_700,
                    val_exact_match: 0.25,
                    val_elementwise: 0.5,
                    train_loss: 0.9,
                }],
                137,
                TimeSplit {
                    cnn_forward: 3.0,
                    ..Default::default()
                },
            )),
        }
    }

    #[test]
    fn a_kept_job_reads_back_as_it_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = DigitSortConfig::published();
        assert!(read(dir.path(), &cfg, "softrank:reg=kl", 5, 1)
            .unwrap()
            .is_none());
        let file = write(dir.path(), &cfg, "softrank:reg=kl", 5, 1, &outcome()).unwrap();
        assert_eq!(file, dir.path().join("softrank_reg_kl-n5-seed1.json"));
        let back = read(dir.path(), &cfg, "softrank:reg=kl", 5, 1)
            .unwrap()
            .unwrap();
        assert_eq!(back.exact, 0.5);
        assert_eq!(back.train_seconds, 12.0);
        assert_eq!(back.published, outcome().published);
        // the same job in a run that asks for more n, more seeds or more threads
        let wider = DigitSortConfig {
            ns: vec![3, 5, 15],
            seeds: 5,
            ..cfg
        };
        assert!(read(dir.path(), &wider, "softrank:reg=kl", 5, 1)
            .unwrap()
            .is_some());
        // the quick protocol's outcome has no curve and stays without one
        let quick = DigitSortConfig::quick();
        let plain = JobOutcome {
            published: None,
            ..outcome()
        };
        write(dir.path(), &quick, "neuralsort", 3, 0, &plain).unwrap();
        let back = read(dir.path(), &quick, "neuralsort", 3, 0)
            .unwrap()
            .unwrap();
        assert!(back.published.is_none());
    }

    #[test]
    fn a_file_of_another_job_or_other_settings_is_an_error_and_stays() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = DigitSortConfig::published();
        let file = write(dir.path(), &cfg, "a:b", 3, 0, &outcome()).unwrap();
        let before = std::fs::read(&file).unwrap();
        let longer = DigitSortConfig {
            steps: cfg.steps * 2,
            ..cfg.clone()
        };
        let err = read(dir.path(), &longer, "a:b", 3, 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("a_b-n3-seed0.json"), "{err}");
        let want = format!(
            "other settings (steps {} there, {} here)",
            cfg.steps,
            cfg.steps * 2
        );
        assert!(err.contains(&want), "{err}");
        // `a_b` maps to the same file as `a:b`
        let err = read(dir.path(), &cfg, "a_b", 3, 0).unwrap_err().to_string();
        assert!(err.contains("the job of a:b"), "{err}");
        std::fs::write(&file, b"{ half a fi").unwrap();
        let err = read(dir.path(), &cfg, "a:b", 3, 0).unwrap_err().to_string();
        assert!(err.contains("cannot parse"), "{err}");
        std::fs::write(&file, &before).unwrap();
        assert!(read(dir.path(), &cfg, "a:b", 3, 0).unwrap().is_some());
    }
}
