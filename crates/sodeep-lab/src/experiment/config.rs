//! The pieces of an experiment's settings: where its data come from, the losses and the
//! rankers they rank with, the remedies, and the bounds on seeds and epochs.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::Result;
use sodeep::loss::LtrKind;
use sodeep::ranker::Ranker;
use sodeep::sorter::Sorter;
use sodeep::sorter::Standardized;
use sodeep::train::FineTuned;

/// The most seeds an experiment runs: each is a whole training run per loss.
pub const MAX_SEEDS: usize = 1000;

/// The most epochs of one training run (each is a pass over the training data per loss and
/// learning rate; the validation curve keeps one figure per epoch).
pub const MAX_EPOCHS: usize = 100_000;

/// Where an experiment's data come from.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    /// A built-in dataset: `winequality`, `diabetes`, `digits-multilabel`, `mnist-halves`.
    Builtin(String),
    /// CSV tables (header row): the training file, an optional test file, and the target
    /// column (spearman) or the label-column prefix (map).
    Csv {
        /// Training table.
        train: PathBuf,
        /// Test table; without it a test split is held out of `train`.
        test: Option<PathBuf>,
        /// Target column or label prefix.
        column: String,
    },
    /// Learning-to-rank files in SVMlight/LETOR format (`label qid:Q idx:val ...`), or in
    /// LightGBM's layout (no `qid`, group sizes in a `.query` file).
    Letor {
        /// Training file.
        train: PathBuf,
        /// Its group sizes (LightGBM layout).
        train_query: Option<PathBuf>,
        /// Test file; without it a fifth of the training queries is held out.
        test: Option<PathBuf>,
        /// Its group sizes (LightGBM layout).
        test_query: Option<PathBuf>,
    },
    /// Two CSV tables of paired rows (retrieval).
    Paired {
        /// First modality.
        a: PathBuf,
        /// Second modality.
        b: PathBuf,
    },
}

/// The paper's remedies for a rank loss that lags behind.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Remedies {
    /// Spearman task: add an L1 term on the predictions for this many first epochs (default 1
    /// for the Spearman task, as in the paper).
    pub l1_warmup_epochs: usize,
    /// Fine-tune the sorter on the score vectors it saw, after every epoch.
    pub finetune: bool,
    /// Standardise each score vector before the sorter reads it (score-range alignment).
    pub align: bool,
}

/// A loss as the experiments understand it.
#[derive(Debug, Clone, PartialEq)]
pub enum LossKind {
    /// Mean squared error on the (standardised) target.
    Mse,
    /// Mean absolute error on the (standardised) target.
    L1,
    /// Binary cross-entropy on logits.
    Bce,
    /// VSE++ hinge with the hardest negative.
    Hinge,
    /// A rank loss through a ranker spec (`handcrafted[:λ]`, a sorter name or folder).
    Rank(String),
    /// ltr: a learning-to-rank baseline (`mse`, `ranknet`, `lambdarank`, `listnet`,
    /// `listmle`, `approxndcg`).
    Ltr(LtrKind),
    /// ltr: `1 − NDCG` through a ranker spec (`ndcg:<spec>`).
    Ndcg(String),
}

impl LossKind {
    /// The baseline loss of this name that any task may offer (`mse`, `l1`, `bce`, `hinge`).
    pub fn baseline(name: &str) -> Option<Self> {
        match name {
            "mse" => Some(LossKind::Mse),
            "l1" => Some(LossKind::L1),
            "bce" => Some(LossKind::Bce),
            "hinge" => Some(LossKind::Hinge),
            _ => None,
        }
    }
}

/// A ranker built for one run, with the fine-tuning handle when that remedy is on.
pub struct RunRanker {
    /// What the loss ranks with.
    pub ranker: Arc<dyn Ranker>,
    /// The same sorter, for fine-tuning after each epoch.
    pub tuned: Option<Arc<FineTuned>>,
}

impl RunRanker {
    /// Builds `spec` (a sorter or an analytic ranker, see [`sodeep::spec::parse`]) with the
    /// remedies applied; each run gets its own copy.
    pub fn build(spec: &str, remedies: Remedies, seed: u64) -> Result<Self> {
        let learned = Sorter::load(spec).ok().filter(|s| s.d().is_some());
        let (base, tuned): (Arc<dyn Ranker>, _) = match learned {
            Some(sorter) if remedies.finetune => {
                let t = Arc::new(FineTuned::new(sorter, 20_000, seed)?);
                (t.clone(), Some(t))
            }
            Some(sorter) => (Arc::new(sorter), None),
            None => (sodeep::spec::parse(spec)?, None),
        };
        let ranker: Arc<dyn Ranker> = if remedies.align {
            Arc::new(Standardized(base))
        } else {
            base
        };
        Ok(Self { ranker, tuned })
    }

    /// The ranker a run of `loss` needs: `None` for a baseline loss. (Whether the loss
    /// applies to the task was checked when its name was parsed, [`super::Task::parse_loss`].)
    pub fn for_loss(loss: &LossKind, remedies: Remedies, seed: u64) -> Result<Option<Self>> {
        match loss {
            LossKind::Rank(spec) | LossKind::Ndcg(spec) => {
                Ok(Some(Self::build(spec, remedies, seed)?))
            }
            _ => Ok(None),
        }
    }

    /// The end-of-epoch hook: a short fine-tuning of the sorter when that remedy is on.
    pub fn end_epoch(&self) -> Result<()> {
        if let Some(t) = &self.tuned {
            t.fine_tune(20, 64, 1e-4)?;
        }
        Ok(())
    }
}
