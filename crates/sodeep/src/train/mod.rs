//! Training a sorter on synthetic data: L1 against the exact SoDeep ranks, Adam, and a learning
//! rate that halves on a fixed step schedule.
//!
//! A sorter of any length (`pairwise`) trains on lengths drawn log-uniformly from its
//! `len_range`, one length per step (a length bucket: no masks, no padding), and is validated
//! at several lengths of that range.
//!
//! Runs are resumable bit for bit: each step's batch and length come from their own RNG
//! streams (seed, step),
//! the schedule depends on the step alone, and checkpoints hold the weights, Adam's moments and
//! the step. A resumed run takes every setting from its checkpoint ([`resume_changes`]): the
//! steps, save interval, threads and device may change; so may the learning rate, its halving
//! period and the batch size, each change recorded in the card with the step it took effect
//! at; any other setting that differs is an error naming its flag.
//!
//! Loss: `mean |sorter(x) − exact SoDeep ranks(x)|` on fresh synthetic batches.
//!
//! ```
//! use sodeep::card::{Arch, SorterConfig};
//! use sodeep::train::{train_sorter, TrainConfig};
//! let dir = tempfile::tempdir()?;
//! let mut cfg = TrainConfig::new(SorterConfig::new(Arch::Mlp, 5), dir.path());
//! cfg.sorter.hidden = 16;
//! (cfg.steps, cfg.batch, cfg.val_samples, cfg.save_every) = (20, 32, 64, 10);
//! let summary = train_sorter(&cfg, false, |_| {})?;
//! assert_eq!(summary.step, 20);
//! assert!(dir.path().join("best/sorter.safetensors").exists());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::card::{Head, SettingChange, SorterCard, TrainingRecord};
use crate::checkpoint::{
    self, load_safetensors, resolve_dir, save_sorter_dir, SorterFiles, OPTIMIZER_FILE,
};
use crate::error::{Error, Result};
use crate::eval::l1_by_distribution;
use crate::optim::{Adam, AdamConfig, LrSchedule};
use crate::sorter::{init_sorter, parameter_count, read_loss, Arch, SorterConfig, SorterNet};
use crate::synthetic::{generate, Batch, Distribution};

mod fine_tune;
pub mod meta;
mod step;

pub use fine_tune::FineTuned;
pub use step::l1_step;

/// Default seed of the validation set, independent of the training seed so that runs compare.
pub const DEFAULT_VAL_SEED: u64 = 0x0005_eed0_f7a1;

/// A training run.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// The sorter to train.
    pub sorter: SorterConfig,
    /// Total steps (a resumed run continues up to this count).
    pub steps: usize,
    /// Vectors per step.
    pub batch: usize,
    /// Base learning rate.
    pub lr: f64,
    /// Halve the learning rate every this many steps (0: never).
    pub lr_halve_every: usize,
    /// Checkpoint and validation period, in steps.
    pub save_every: usize,
    /// Seed of the initial weights and of every batch.
    pub seed: u64,
    /// Validation vectors.
    pub val_samples: usize,
    /// Validation seed.
    pub val_seed: u64,
    /// Training distribution.
    pub distribution: Distribution,
    /// Threads (recorded in the card; the caller sets the thread pool).
    pub threads: usize,
    /// Output folder: `ckpt/` and `best/` go there.
    pub out: PathBuf,
    /// Where the training runs. On a GPU the fused CPU kernels fall back to the plain candle
    /// implementation; checkpoints are always written from CPU copies.
    pub device: Device,
}

impl TrainConfig {
    /// Defaults for `sorter`, writing to `out`.
    pub fn new(sorter: SorterConfig, out: impl Into<PathBuf>) -> Self {
        Self {
            sorter,
            steps: 1000,
            batch: 512,
            lr: 1e-3,
            lr_halve_every: 0,
            save_every: 100,
            seed: 0,
            val_samples: 1000,
            val_seed: DEFAULT_VAL_SEED,
            distribution: Distribution::All,
            threads: 1,
            out: out.into(),
            device: Device::Cpu,
        }
    }

    /// The configuration the checkpoint in `out/ckpt` was trained with (for `--resume`).
    pub fn from_checkpoint(out: &Path) -> Result<Self> {
        let (card, rec) = checkpoint_card(out)?;
        let mut cfg = TrainConfig::new(card.config, out);
        cfg.steps = rec.step;
        cfg.batch = rec.batch;
        cfg.lr = rec.lr;
        cfg.lr_halve_every = rec.lr_halve_every;
        cfg.save_every = rec.save_every;
        cfg.seed = rec.seed;
        cfg.val_samples = rec.val_samples;
        cfg.val_seed = rec.val_seed;
        cfg.distribution = Distribution::from_name(&rec.distribution)?;
        cfg.threads = rec.threads;
        Ok(cfg)
    }

    fn validate(&self) -> Result<()> {
        self.sorter.validate()?;
        if self.sorter.arch == Arch::Handcrafted {
            return Err(Error::InvalidArgument(
                "the handcrafted sorter has no weights to train".into(),
            ));
        }
        if self.sorter.arch.any_length() && self.sorter.len_range.is_none() {
            return Err(Error::InvalidArgument(format!(
                "a {} sorter trains on a range of lengths: pass --len-range MIN..MAX (e.g. 2..512)",
                self.sorter.arch.name()
            )));
        }
        if self.steps > MAX_STEPS {
            return Err(Error::InvalidArgument(format!(
                "--steps {} is over the maximum of {MAX_STEPS}",
                self.steps
            )));
        }
        for (name, v) in [
            ("--steps", self.steps),
            ("--batch", self.batch),
            ("--save-every", self.save_every),
            ("--val-samples", self.val_samples),
        ] {
            if v == 0 {
                return Err(Error::InvalidArgument(format!("{name} must be at least 1")));
            }
        }
        crate::memory::check(
            &format!(
                "training a {} sorter of length {} with batch {}",
                self.sorter.arch.name(),
                self.sorter.len_range.map_or(self.sorter.d, |[_, hi]| hi),
                self.batch
            ),
            self.sorter
                .training_bytes(self.batch.max(self.val_samples.min(512))),
        )?;
        // the validation sets are generated once and kept: scores and ranks (f32) per length
        let val_elems: f64 = validation_lengths(&self.sorter)
            .iter()
            .map(|&n| self.val_samples as f64 * n as f64)
            .sum();
        crate::memory::check(
            &format!(
                "{} validation vectors (--val-samples) at each validation length",
                self.val_samples
            ),
            (val_elems * 9.0) as u64,
        )?;
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::InvalidArgument(format!(
                "--lr must be a positive number, got {}",
                self.lr
            )));
        }
        Ok(())
    }
}

/// The card of the checkpoint in `out/ckpt`, and its training record.
fn checkpoint_card(out: &Path) -> Result<(SorterCard, TrainingRecord)> {
    let dir =
        resolve_dir(&out.join("ckpt")).ok_or_else(|| Error::NoCheckpoint(out.to_path_buf()))?;
    let card = checkpoint::read_card(&dir.join(checkpoint::CARD_FILE))?;
    let rec = card.training.clone().ok_or_else(|| Error::BadWeights {
        path: dir,
        reason: "the card has no training record".into(),
    })?;
    Ok((card, rec))
}

/// What resuming the run of `card` (its checkpoint) with `cfg` changes. Every setting of `cfg`
/// must be the checkpoint's, or the error names its flag ([`Error::ResumeMismatch`]); only
/// these may differ:
/// - the steps, the save interval, the threads and the device, which the run does not depend
///   on (the card keeps the latest save interval and threads);
/// - the learning rate, its halving period and the batch size: returned as changes to record
///   in the card, each at the checkpoint's step (the first step run with the new value).
pub fn resume_changes(cfg: &TrainConfig, card: &SorterCard) -> Result<Vec<SettingChange>> {
    let rec = card.training.as_ref().ok_or_else(|| Error::BadWeights {
        path: cfg.out.join("ckpt"),
        reason: "the card has no training record".into(),
    })?;
    let (given, stored) = (&cfg.sorter, &card.config);
    let len = |c: &SorterConfig| match c.arch.any_length() && c.d == 0 {
        true => format!("none (a {} sorter takes any length)", c.arch.name()),
        false => c.d.to_string(),
    };
    let range = |c: &SorterConfig| match c.len_range {
        Some([lo, hi]) => format!("{lo}..{hi}"),
        None => "none".into(),
    };
    let sharpness = |c: &SorterConfig| match (c.lambda, c.arch) {
        (Some(l), _) => l.to_string(),
        (None, Arch::Pairwise) => "inf".into(),
        (None, _) => "none".into(),
    };
    let on = |b: bool| if b { "on" } else { "off" }.to_string();
    let head = |h: Head| h.name().to_string();
    // the architecture first: the other settings read in its terms
    let checks: [(&'static str, String, String); 12] = [
        (
            "--arch",
            given.arch.name().into(),
            stored.arch.name().into(),
        ),
        ("--len", len(given), len(stored)),
        ("--len-range", range(given), range(stored)),
        (
            "--hidden",
            given.hidden.to_string(),
            stored.hidden.to_string(),
        ),
        (
            "--layers",
            given.layers.to_string(),
            stored.layers.to_string(),
        ),
        ("--max-sharpness", sharpness(given), sharpness(stored)),
        (
            "--standardize",
            on(given.standardize),
            on(stored.standardize),
        ),
        ("--head", head(given.head), head(stored.head)),
        ("--seed", cfg.seed.to_string(), rec.seed.to_string()),
        (
            "--val-samples",
            cfg.val_samples.to_string(),
            rec.val_samples.to_string(),
        ),
        (
            "val_seed",
            cfg.val_seed.to_string(),
            rec.val_seed.to_string(),
        ),
        (
            "--distribution",
            cfg.distribution.name().into(),
            rec.distribution.clone(),
        ),
    ];
    if let Some((flag, given, stored)) = checks.into_iter().find(|(_, g, s)| g != s) {
        return Err(Error::ResumeMismatch {
            flag,
            given,
            stored,
        });
    }
    // a setting without a row above (a new field) must not slip through either
    if given != stored {
        return Err(Error::InvalidArgument(format!(
            "the sorter settings {given:?} differ from the checkpoint's {stored:?}: a resumed \
             run keeps every setting of its checkpoint"
        )));
    }
    let mut changes = Vec::new();
    let mut note = |setting: &str, from: serde_json::Value, to: serde_json::Value| {
        if from != to {
            changes.push(SettingChange {
                step: rec.step,
                setting: setting.into(),
                from,
                to,
            });
        }
    };
    note("lr", rec.lr.into(), cfg.lr.into());
    note(
        "lr_halve_every",
        rec.lr_halve_every.into(),
        cfg.lr_halve_every.into(),
    );
    note("batch", rec.batch.into(), cfg.batch.into());
    Ok(changes)
}

/// The RNG of step `step`'s batch: a ChaCha stream per step, so resuming needs no RNG state.
pub(crate) fn batch_rng(seed: u64, step: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(step as u64);
    rng
}

/// The vector length of step `step`: the sorter's d, or for sorters of any length a length
/// drawn log-uniformly from `len_range` (short vectors are cheap and common in losses; long
/// ones set the sharpness) from its own RNG stream.
pub fn step_len(cfg: &TrainConfig, step: usize) -> usize {
    use rand::Rng;
    let Some([lo, hi]) = cfg.sorter.len_range else {
        return cfg.sorter.d;
    };
    let mut rng = batch_rng(cfg.seed ^ 0x1e46_7468, step);
    let u: f64 = rng.random();
    let n = ((lo as f64).ln() + u * ((hi as f64 + 1.0).ln() - (lo as f64).ln())).exp();
    (n.floor() as usize).clamp(lo, hi)
}

/// The lengths a sorter is validated at: its d, or for sorters of any length the lengths of
/// `eval-sorter --lens 3,5,10,32,100,256,1000` inside its range plus the range's ends.
pub fn validation_lengths(sorter: &SorterConfig) -> Vec<usize> {
    let Some([lo, hi]) = sorter.len_range else {
        return vec![sorter.d];
    };
    let mut lens: Vec<usize> = [lo, 3, 5, 10, 32, 100, 256, 1000, hi]
        .into_iter()
        .filter(|n| (lo..=hi).contains(n))
        .collect();
    lens.sort_unstable();
    lens.dedup();
    lens
}

/// The most steps one run may ask for: a day at 1,000 steps a second, beyond any run the
/// sorters need (the longest shipped one, cnn-100, trained for 40,200).
pub const MAX_STEPS: usize = 100_000_000;

/// On a GPU, the training loss is read every this many steps (and at saves).
pub const LOSS_READ_EVERY: usize = 25;

/// What the progress callback sees after each step.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Steps done.
    pub step: usize,
    /// Target step count.
    pub steps: usize,
    /// Training L1 of the latest batch whose loss was read: this step's on the CPU; on a GPU,
    /// read every [`LOSS_READ_EVERY`] steps and at saves.
    pub loss: f64,
    /// Latest validation L1.
    pub val_l1: Option<f64>,
    /// Best validation L1.
    pub best_val_l1: Option<f64>,
    /// Learning rate used by this step.
    pub lr: f64,
    /// Training throughput of this run.
    pub vectors_per_second: f64,
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    /// Step reached.
    pub step: usize,
    /// Final validation L1.
    pub val_l1: f64,
    /// Best validation L1 and its step.
    pub best_val_l1: f64,
    /// Step of the best validation L1.
    pub best_step: usize,
    /// Wall time of this run.
    pub seconds: f64,
    /// Throughput of this run.
    pub vectors_per_second: f64,
    /// Folder of the latest checkpoint.
    pub ckpt: PathBuf,
    /// Folder of the best checkpoint.
    pub best: PathBuf,
}

/// The fixed validation sets, one per validation length (`val_samples` vectors each).
pub(crate) fn validation_sets(cfg: &TrainConfig) -> Vec<Batch> {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.val_seed);
    validation_lengths(&cfg.sorter)
        .into_iter()
        .map(|n| generate(Distribution::All, &mut rng, cfg.val_samples, n))
        .collect()
}

/// Validation figures: mean L1 over the lengths, the same per distribution, and per length.
struct Validation {
    l1: f64,
    by_distribution: BTreeMap<String, f64>,
    by_len: BTreeMap<usize, f64>,
}

/// Mean L1 of `net` on `sets` (evaluation mode), overall, per distribution and per length.
fn validate(net: &SorterNet, sets: &[Batch], device: &Device) -> Result<Validation> {
    let mut by_len = BTreeMap::new();
    let mut by_distribution: BTreeMap<String, f64> = BTreeMap::new();
    for val in sets {
        let d = val.d;
        let mut preds = Vec::with_capacity(val.scores.len());
        for chunk in val.scores.chunks(512 * d) {
            let x = Tensor::from_slice(chunk, (chunk.len() / d, d), device)?;
            let y = net.forward_t(&x, false)?;
            preds.extend(y.flatten_all()?.to_vec1::<f32>()?);
        }
        let (l1, by) = l1_by_distribution(&preds, val);
        by_len.insert(d, l1);
        for (k, v) in by {
            *by_distribution.entry(k).or_default() += v / sets.len() as f64;
        }
    }
    let l1 = by_len.values().sum::<f64>() / by_len.len().max(1) as f64;
    if sets.len() == 1 {
        by_len.clear();
    }
    Ok(Validation {
        l1,
        by_distribution,
        by_len,
    })
}

struct State {
    varmap: VarMap,
    net: SorterNet,
    adam: Adam,
    record: TrainingRecord,
}

/// CPU copies of the weights (a GPU run's checkpoints are written from these).
fn weights_of(varmap: &VarMap) -> Result<HashMap<String, Tensor>> {
    let vars = varmap.data().lock().expect("var map lock");
    let copies = vars
        .iter()
        .map(|(k, v)| Ok((k.clone(), v.as_tensor().to_device(&Device::Cpu)?)))
        .collect::<candle_core::Result<_>>()?;
    Ok(copies)
}

/// The same variables on `device`, and the network built on them.
fn move_to(varmap: VarMap, cfg: &SorterConfig, device: &Device) -> Result<(VarMap, SorterNet)> {
    let moved = VarMap::new();
    {
        let src = varmap.data().lock().expect("var map lock");
        let mut dst = moved.data().lock().expect("var map lock");
        for (name, var) in src.iter() {
            dst.insert(
                name.clone(),
                candle_core::Var::from_tensor(&var.as_tensor().to_device(device)?)?,
            );
        }
    }
    let net = SorterNet::new(
        cfg,
        candle_nn::VarBuilder::from_varmap(&moved, candle_core::DType::F32, device),
    )?;
    Ok((moved, net))
}

fn fresh_state(cfg: &TrainConfig) -> Result<State> {
    // initialised on the CPU (candle's GPU generators cannot be seeded), then moved
    let (varmap, net) = init_sorter(&cfg.sorter, cfg.seed)?;
    let (varmap, net) = if cfg.device.is_cpu() {
        (varmap, net)
    } else {
        move_to(varmap, &cfg.sorter, &cfg.device)?
    };
    let adam = Adam::new(&varmap, AdamConfig::default())?;
    // the hyper-parameters are filled in by `train_sorter`, for fresh and resumed runs alike
    let record = TrainingRecord {
        val_l1: f64::NAN,
        best_val_l1: f64::INFINITY,
        ..Default::default()
    };
    Ok(State {
        varmap,
        net,
        adam,
        record,
    })
}

/// A training checkpoint as read back from disk.
#[derive(Debug)]
pub struct Checkpoint {
    /// The card, with its training record.
    pub card: SorterCard,
    /// The weights.
    pub weights: HashMap<String, Tensor>,
    /// Adam's state.
    pub optimizer: HashMap<String, Tensor>,
}

/// Reads `out/ckpt` for `--resume`: its card, weights and optimiser state.
pub fn load_checkpoint(out: &Path) -> Result<Checkpoint> {
    let dir =
        resolve_dir(&out.join("ckpt")).ok_or_else(|| Error::NoCheckpoint(out.to_path_buf()))?;
    let (card, weights) = checkpoint::load_sorter_files(&dir)?;
    let opt_path = dir.join(OPTIMIZER_FILE);
    if !opt_path.is_file() {
        return Err(Error::BadWeights {
            path: dir,
            reason: format!("{OPTIMIZER_FILE} is missing: this is not a training checkpoint"),
        });
    }
    let optimizer = load_safetensors(&opt_path)?;
    Ok(Checkpoint {
        card,
        weights,
        optimizer,
    })
}

fn resumed_state(cfg: &TrainConfig) -> Result<State> {
    let Checkpoint {
        card,
        weights,
        optimizer: opt,
    } = load_checkpoint(&cfg.out)?;
    // read again under the run folder's lock: this is the checkpoint that the run continues
    let changes = resume_changes(cfg, &card)?;
    let mut record = card.training.clone().ok_or_else(|| Error::BadWeights {
        path: cfg.out.join("ckpt"),
        reason: "the card has no training record".into(),
    })?;
    record.changes.extend(changes);
    let State {
        varmap,
        net,
        mut adam,
        ..
    } = fresh_state(cfg)?;
    {
        let vars = varmap.data().lock().expect("var map lock");
        for (name, var) in vars.iter() {
            let t = weights.get(name).ok_or_else(|| Error::BadWeights {
                path: cfg.out.join("ckpt"),
                reason: format!("weight {name} is missing"),
            })?;
            if t.shape() != var.shape() {
                return Err(Error::BadWeights {
                    path: cfg.out.join("ckpt"),
                    reason: format!(
                        "weight {name} has shape {:?}, expected {:?}",
                        t.dims(),
                        var.dims()
                    ),
                });
            }
            var.set(&t.to_device(var.device())?)?;
        }
    }
    adam.load_state(&opt)?;
    if adam.step_count() != record.step {
        return Err(Error::BadWeights {
            path: cfg.out.join("ckpt"),
            reason: format!(
                "optimizer step {} disagrees with card step {}",
                adam.step_count(),
                record.step
            ),
        });
    }
    Ok(State {
        varmap,
        net,
        adam,
        record,
    })
}

fn save(cfg: &TrainConfig, st: &State, which: &str) -> Result<()> {
    let weights = weights_of(&st.varmap)?;
    let mut card = SorterCard::new(cfg.sorter.clone(), parameter_count(&weights));
    card.training = Some(st.record.clone());
    let opt = st.adam.state()?;
    save_sorter_dir(
        &cfg.out.join(which),
        &SorterFiles {
            card: &card,
            weights: &weights,
            optimizer: Some(&opt),
        },
    )
}

/// The name of the lock file in a run folder.
pub const LOCK_FILE: &str = ".lock";

/// Takes the exclusive lock of a run folder (`OUT/.lock`), or says that another run holds it.
/// The lock is the operating system's (`flock` on Unix), so it dies with its process: a killed
/// run never leaves a stale lock behind.
fn lock_run_folder(out: &Path) -> Result<fs::File> {
    let path = out.join(LOCK_FILE);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io("cannot write to", out, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(Error::InvalidArgument(format!(
            "{} is locked by another train-sorter run ({}); wait for it to finish, or choose \
             another --out",
            out.display(),
            path.display()
        ))),
        Err(fs::TryLockError::Error(e)) => Err(Error::io("cannot lock", &path, e)),
    }
}

/// Trains (or, with `resume`, continues training) a sorter, calling `on_progress` after each
/// step. Writes `out/ckpt` and `out/best` every `save_every` steps and at the end.
pub fn train_sorter(
    cfg: &TrainConfig,
    resume: bool,
    mut on_progress: impl FnMut(&Progress),
) -> Result<TrainSummary> {
    if resume {
        // a setting that differs from the checkpoint's is named before any other check of it
        resume_changes(cfg, &checkpoint_card(&cfg.out)?.0)?;
    }
    cfg.validate()?;
    fs::create_dir_all(&cfg.out).map_err(|e| Error::io("cannot create", &cfg.out, e))?;
    // held until this function returns: a second run into the same folder would race on the
    // checkpoint swap and lose steps
    let _lock = lock_run_folder(&cfg.out)?;
    let mut st = if resume {
        resumed_state(cfg)?
    } else {
        if resolve_dir(&cfg.out.join("ckpt")).is_some() {
            return Err(Error::InvalidArgument(format!(
                "{} already holds a checkpoint; pass --resume to continue it, or choose another --out",
                cfg.out.display()
            )));
        }
        fresh_state(cfg)?
    };
    // the card records the hyper-parameters in force: a resumed run has the checkpoint's,
    // except those that [`resume_changes`] allows to change (and recorded)
    let r = &mut st.record;
    r.batch = cfg.batch;
    r.lr = cfg.lr;
    r.lr_halve_every = cfg.lr_halve_every;
    r.save_every = cfg.save_every;
    r.seed = cfg.seed;
    r.val_samples = cfg.val_samples;
    r.val_seed = cfg.val_seed;
    r.distribution = cfg.distribution.name().into();
    r.threads = cfg.threads;
    r.machine = crate::host::Host::detect().summary();
    let val = validation_sets(cfg);
    let start = Instant::now();
    let start_step = st.record.step;
    let base_wall = st.record.wall_seconds;
    let mut last_val = (!st.record.val_l1.is_nan()).then_some(st.record.val_l1);
    let best = |r: &TrainingRecord| r.best_val_l1.is_finite().then_some(r.best_val_l1);
    let mut loss = f64::NAN;
    while st.record.step < cfg.steps {
        let step = st.record.step;
        let lr = LrSchedule::Halving {
            lr: cfg.lr,
            every: cfg.lr_halve_every,
        }
        .at(step);
        let d = step_len(cfg, step);
        let batch = generate(
            cfg.distribution,
            &mut batch_rng(cfg.seed, step),
            cfg.batch,
            d,
        );
        let x = Tensor::from_vec(batch.scores, (cfg.batch, d), &cfg.device)?;
        let target = Tensor::from_vec(batch.ranks, (cfg.batch, d), &cfg.device)?;
        let loss_t = l1_step(&st.net, &mut st.adam, &x, &target, lr, true)?;
        st.record.step += 1;
        // on a GPU, reading the loss waits for the device: read it only every
        // LOSS_READ_EVERY steps and at saves, so that steps queue up in between
        let saving = st.record.step % cfg.save_every == 0 || st.record.step == cfg.steps;
        if cfg.device.is_cpu() || saving || st.record.step % LOSS_READ_EVERY == 0 || loss.is_nan() {
            loss = read_loss(&loss_t)?;
        }
        let done = st.record.step - start_step;
        let elapsed = start.elapsed().as_secs_f64();
        let vps = (done * cfg.batch) as f64 / elapsed.max(1e-9);
        if saving {
            let v = validate(&st.net, &val, &cfg.device)?;
            let l1 = v.l1;
            st.record.val_l1 = l1;
            st.record.val_l1_by_distribution = v.by_distribution;
            st.record.val_l1_by_len = v.by_len;
            st.record.vectors_per_second = vps;
            st.record.wall_seconds = base_wall + elapsed;
            st.record
                .curve
                .push((st.record.step, st.record.wall_seconds, l1));
            let improved = l1 < st.record.best_val_l1;
            if improved {
                st.record.best_val_l1 = l1;
                st.record.best_step = st.record.step;
            }
            save(cfg, &st, "ckpt")?;
            if improved {
                save(cfg, &st, "best")?;
            }
            last_val = Some(l1);
        }
        on_progress(&Progress {
            step: st.record.step,
            steps: cfg.steps,
            loss,
            val_l1: last_val,
            best_val_l1: best(&st.record),
            lr,
            vectors_per_second: vps,
        });
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(TrainSummary {
        step: st.record.step,
        val_l1: st.record.val_l1,
        best_val_l1: st.record.best_val_l1,
        best_step: st.record.best_step,
        seconds,
        vectors_per_second: ((st.record.step - start_step) * cfg.batch) as f64 / seconds.max(1e-9),
        ckpt: cfg.out.join("ckpt"),
        best: cfg.out.join("best"),
    })
}
