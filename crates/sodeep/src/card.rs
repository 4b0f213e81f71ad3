//! What a sorter is, as its model card says: the architecture and sizes ([`SorterConfig`]), and
//! the card itself ([`SorterCard`]: configuration, parameter count, how it was trained and
//! evaluated). These types sit below both the networks of [`crate::sorter`] and the file I/O of
//! [`crate::checkpoint`]; they know neither.
//!
//! ```
//! use sodeep::card::{Arch, SorterConfig};
//! let cfg = SorterConfig::new(Arch::Lstm, 100);
//! assert_eq!((cfg.hidden, cfg.layers), (128, 2)); // the paper's BiLSTM
//! assert!(cfg.validate().is_ok());
//! let json = serde_json::to_string(&cfg)?;
//! assert_eq!(serde_json::from_str::<SorterConfig>(&json)?, cfg);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The handcrafted sorter's default sharpness λ.
pub const DEFAULT_LAMBDA: f64 = 10.0;

/// The pairwise sorter's default bound on its comparators' sharpness, in standard deviations
/// of the vector (its trade-off between accuracy and gradient reach is measured in docs/rankers.md
/// and docs/sorters-and-training.md).
pub const DEFAULT_MAX_SHARPNESS: f64 = 20.0;

/// A sorter architecture. The names are those of the CLI's `--arch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    /// 2-layer bidirectional LSTM + affine, h = 128.
    Lstm,
    /// The same with h = 512.
    LstmLarge,
    /// Bidirectional multi-layer GRU with summed outputs.
    Gru,
    /// 8 dilated conv blocks + affine.
    Cnn,
    /// d → 2048 → 2048 → d.
    Mlp,
    /// Pairwise sigmoids, no weights.
    Handcrafted,
    /// Learned pairwise comparators on standardised scores, any length
    /// ([`crate::sorter::PairwiseSorter`]).
    Pairwise,
}

impl Arch {
    /// All architectures, in CLI order.
    pub const ALL: [Arch; 7] = [
        Arch::Lstm,
        Arch::LstmLarge,
        Arch::Gru,
        Arch::Cnn,
        Arch::Mlp,
        Arch::Handcrafted,
        Arch::Pairwise,
    ];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Lstm => "lstm",
            Arch::LstmLarge => "lstm-large",
            Arch::Gru => "gru",
            Arch::Cnn => "cnn",
            Arch::Mlp => "mlp",
            Arch::Handcrafted => "handcrafted",
            Arch::Pairwise => "pairwise",
        }
    }

    /// Whether the sorter takes vectors of any length (its `d` is then unused).
    pub fn any_length(self) -> bool {
        matches!(self, Arch::Handcrafted | Arch::Pairwise)
    }

    /// Parses a CLI name.
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .iter()
            .find(|a| a.name() == name)
            .copied()
            .ok_or_else(|| {
                let known: Vec<_> = Self::ALL.iter().map(|a| a.name()).collect();
                Error::InvalidArgument(format!(
                    "unknown architecture '{name}' (known: {})",
                    known.join(", ")
                ))
            })
    }

    /// Default hidden size (channels for `cnn`, width for `mlp`, comparators for `pairwise`).
    pub fn default_hidden(self) -> usize {
        match self {
            Arch::Lstm => 128,
            Arch::LstmLarge => 512,
            Arch::Gru => 64,
            Arch::Cnn => 64,
            Arch::Mlp => 2048,
            Arch::Handcrafted => 0,
            Arch::Pairwise => 4,
        }
    }

    /// Default number of recurrent layers (unused by the others).
    pub fn default_layers(self) -> usize {
        match self {
            Arch::Lstm | Arch::LstmLarge => 2,
            Arch::Gru => 3,
            _ => 0,
        }
    }
}

/// How the recurrent sorters map their `d × 2h` per-position outputs to `d` ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Head {
    /// The paper's affine map from the whole `d × 2h` output to the `d` ranks
    /// (`Conv1d(d, d, 2h)`, d²·2h weights).
    #[default]
    Mixing,
    /// One affine map `2h → 1` shared by every position (2h + 1 weights). Each position's
    /// forward and backward states have both seen its score, so they suffice to count the larger
    /// scores; with d² fewer weights the optimiser has far less noise to average out.
    Position,
}

impl Head {
    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Head::Mixing => "mixing",
            Head::Position => "position",
        }
    }

    /// Parses a CLI name.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "mixing" => Ok(Head::Mixing),
            "position" => Ok(Head::Position),
            _ => Err(Error::InvalidArgument(format!(
                "unknown head '{name}' (known: mixing, position)"
            ))),
        }
    }

    fn is_mixing(&self) -> bool {
        *self == Head::Mixing
    }
}

/// Everything needed to build a sorter's network. `hidden` is the recurrent hidden size,
/// the CNN's channel count or the MLP's width; `lambda` is the handcrafted sorter's sharpness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SorterConfig {
    /// Architecture.
    pub arch: Arch,
    /// Vector length the sorter ranks (ignored by the handcrafted sorter).
    pub d: usize,
    /// Hidden size / channels / width.
    pub hidden: usize,
    /// Recurrent layers.
    #[serde(default)]
    pub layers: usize,
    /// Handcrafted sharpness; for `pairwise`, the bound on its comparators' sharpness
    /// (absent: unbounded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda: Option<f64>,
    /// Standardise each vector (subtract its mean, divide by its standard deviation) before
    /// the network. Ranks do not change under this map, so it loses nothing, and it lets the
    /// sorter see narrow and wide vectors alike. Off for PyTorch-compatible sorters.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub standardize: bool,
    /// Output head of the `lstm` sorters.
    #[serde(default, skip_serializing_if = "Head::is_mixing")]
    pub head: Head,
    /// For sorters of any length: the lengths it was trained on, `[min, max]`, both included.
    /// Other lengths work, with a warning ([`SorterConfig::length_warning`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len_range: Option<[usize; 2]>,
}

impl SorterConfig {
    /// The architecture's defaults for vectors of length `d`.
    pub fn new(arch: Arch, d: usize) -> Self {
        Self {
            arch,
            d,
            hidden: arch.default_hidden(),
            layers: arch.default_layers(),
            lambda: match arch {
                Arch::Handcrafted => Some(DEFAULT_LAMBDA),
                Arch::Pairwise => Some(DEFAULT_MAX_SHARPNESS),
                _ => None,
            },
            standardize: false,
            head: Head::Mixing,
            len_range: None,
        }
    }

    /// A rough upper estimate, in bytes, of the peak memory of training this sorter with
    /// `batch` vectors per step: weights, gradients and Adam's two moments, plus the
    /// activations kept for the backward pass. Used to refuse sizes that cannot fit
    /// ([`crate::memory::check`]) before anything is allocated.
    pub fn training_bytes(&self, batch: usize) -> u64 {
        // in f64: the sizes come from the command line, and u64 products of absurd ones would
        // wrap around to small numbers that pass the check
        let n = self.len_range.map_or(self.d, |[_, hi]| hi) as f64;
        let (h, l, b) = (self.hidden as f64, self.layers.max(1) as f64, batch as f64);
        let (params, activations) = match self.arch {
            Arch::Lstm | Arch::LstmLarge | Arch::Gru => {
                let gates = if self.arch == Arch::Gru { 3.0 } else { 4.0 };
                let rnn = l * 2.0 * gates * h * (3.0 * h + 1.0);
                let head = match self.head {
                    Head::Mixing => n * n * 2.0 * h,
                    Head::Position => 2.0 * h + 1.0,
                };
                (rnn + head, b * n * l * 2.0 * (gates + 2.0) * h * 2.0)
            }
            Arch::Cnn => (h * h * 21.0 + n * h * 3.0 + n, b * n * (h * 8.0 + n) * 3.0),
            Arch::Mlp => (n * h * 2.0 + h * h, b * (2.0 * h + n) * 3.0),
            Arch::Pairwise => (2.0 * h + 1.0, b * n * (h + 6.0) * 4.0),
            Arch::Handcrafted => (0.0, b * n * n * 8.0),
        };
        let bytes = params * 16.0 + activations * 4.0;
        // `as` saturates: anything beyond u64 is u64::MAX
        bytes as u64
    }

    /// A warning when a sorter trained on a range of lengths is asked to rank vectors of
    /// length `n` outside it (`None` inside it, and for sorters without a range).
    pub fn length_warning(&self, n: usize) -> Option<String> {
        let [lo, hi] = self.len_range?;
        (n < lo || n > hi).then(|| {
            format!(
                "this {} sorter was trained on lengths {lo}..={hi}; its ranks of length-{n} \
                 vectors are extrapolated (check them with eval-sorter --lens {n})",
                self.arch.name()
            )
        })
    }

    /// Checks the sizes.
    pub fn validate(&self) -> Result<()> {
        if self.d == 0 && !self.arch.any_length() {
            return Err(Error::InvalidArgument(
                "the vector length d (--len) must be at least 1".into(),
            ));
        }
        let needs_hidden = !matches!(self.arch, Arch::Handcrafted);
        if needs_hidden && self.hidden == 0 {
            return Err(Error::InvalidArgument("--hidden must be at least 1".into()));
        }
        let recurrent = matches!(self.arch, Arch::Lstm | Arch::LstmLarge | Arch::Gru);
        if recurrent && self.layers == 0 {
            return Err(Error::InvalidArgument("--layers must be at least 1".into()));
        }
        if self.head != Head::Mixing && !matches!(self.arch, Arch::Lstm | Arch::LstmLarge) {
            return Err(Error::InvalidArgument(format!(
                "--head {} applies to the lstm sorters only",
                self.head.name()
            )));
        }
        if let Some([lo, hi]) = self.len_range {
            if !self.arch.any_length() {
                return Err(Error::InvalidArgument(format!(
                    "--len-range applies to sorters of any length (pairwise), not {}; use --len",
                    self.arch.name()
                )));
            }
            if lo == 0 || lo > hi {
                return Err(Error::InvalidArgument(format!(
                    "--len-range {lo}..{hi}: write MIN..MAX with 1 ≤ MIN ≤ MAX, e.g. 2..512"
                )));
            }
        }
        if let Some(l) = self.lambda {
            // used in f32: a λ that f32 cannot hold becomes ∞, and ∞ · 0 is NaN
            if !(l.is_finite() && l > 0.0 && l <= f32::MAX as f64) {
                return Err(Error::InvalidArgument(format!(
                    "the sharpness λ must be a positive number at most {:e} (the largest f32), got {l}",
                    f32::MAX
                )));
            }
        }
        Ok(())
    }
}

/// What a sorter was trained to do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Objective {
    /// L1 against the exact ranks of synthetic vectors (the paper's target; `train-sorter`).
    #[default]
    L1,
    /// The true Spearman correlation reached by students trained through the sorter on
    /// synthetic downstream tasks (meta-training; `meta-train-sorter`).
    DownstreamSpearman,
}

impl Objective {
    /// The name written in cards.
    pub fn name(self) -> &'static str {
        match self {
            Objective::L1 => "l1",
            Objective::DownstreamSpearman => "downstream-spearman",
        }
    }
}

/// A meta-training run (`training.meta` of a card whose objective is downstream-spearman):
/// the method, its settings, and the fitness it reached on synthetic tasks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetaRecord {
    /// The optimiser of the sorter's parameters.
    pub method: String,
    /// The sorter the run started from.
    pub init: String,
    /// Iterations run.
    pub iterations: usize,
    /// Antithetic pairs of candidates per iteration.
    pub population: usize,
    /// Synthetic tasks per candidate and iteration.
    pub tasks: usize,
    /// Validation tasks (a fixed set, seeded apart from the training tasks).
    pub val_tasks: usize,
    /// Perturbation scale of the parameters.
    pub sigma: f64,
    /// Adam step of the parameters.
    pub lr: f64,
    /// Student training steps per task.
    pub inner_steps: usize,
    /// The students' Adam learning rate.
    pub student_lr: f64,
    /// Rows per student step (sets of the task's length).
    pub rows_per_step: usize,
    /// Hidden ReLU units of the students (0: linear).
    #[serde(default)]
    pub student_hidden: usize,
    /// Feature counts of the tasks, `[lo, hi]`.
    pub features: [usize; 2],
    /// Set lengths of the tasks, `[lo, hi]`.
    pub set_len: [usize; 2],
    /// `(iteration, wall seconds, mean training fitness, validation fitness when measured)`.
    pub curve: Vec<(usize, f64, f64, Option<f64>)>,
    /// Validation fitness of the initial sorter.
    pub init_val_fitness: f64,
    /// Best validation fitness, the one of the saved parameters.
    pub best_val_fitness: f64,
    /// Iteration of the best validation fitness.
    pub best_iteration: usize,
    /// Validation fitness of reference rankers on the same tasks, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub references: BTreeMap<String, f64>,
}

/// How a sorter was trained (written by `train-sorter` and `meta-train-sorter`, kept by the
/// model cards).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// What the sorter was trained for (cards without the field: `l1`).
    #[serde(default)]
    pub objective: Objective,
    /// The meta-training run, for the downstream objective.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<MetaRecord>,
    /// Steps done.
    pub step: usize,
    /// Mean L1 on the validation set at this step.
    pub val_l1: f64,
    /// Validation L1 per distribution name.
    pub val_l1_by_distribution: BTreeMap<String, f64>,
    /// Validation L1 per vector length, for sorters of any length (`val_l1` is their mean).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub val_l1_by_len: BTreeMap<usize, f64>,
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
    /// The settings that resumed runs changed (the learning rate, its halving period and the
    /// batch size may change; every other setting stays the checkpoint's), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<SettingChange>,
}

/// One setting changed by a resumed run: `lr`, `lr_halve_every` or `batch` (the names of
/// [`TrainingRecord`]'s fields), its old and new values, and the first step run with the new
/// one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingChange {
    /// The first step run with the new value.
    pub step: usize,
    /// The field of [`TrainingRecord`] that changed.
    pub setting: String,
    /// The value before the change.
    pub from: serde_json::Value,
    /// The value from `step` on.
    pub to: serde_json::Value,
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
