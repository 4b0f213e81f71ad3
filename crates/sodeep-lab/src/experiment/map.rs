//! The mAP task: multi-label classification scored by macro mean average precision.
//!
//! The built-in data, `digits-multilabel`, are strips of four 8×8 slots holding three or four
//! real digits (the UCI digits shipped in the `smartcore` crate); the labels say which digit
//! classes appear. Source digits are split between training and test before composing, so no
//! test digit image is ever seen in training. The linear baseline is logistic regression.

use std::collections::BTreeMap;
use std::sync::Arc;

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::config::{DataSource, LossKind, RunRanker};
use super::model::{batch_index, column_stats, fit, standardized, Mlp};
use super::parts::{check_features, check_parts, split};
use super::results::{best_over_lrs, RunOutcome};
use super::task::{DataFiles, ExperimentConfig, Prepared, Sanity, SeedData, Task};
use crate::data::{compose, csv, digits, Matrix, MultiLabel};
use crate::error::{Error, Result};
use sodeep::loss::{bce_with_logits, MapConfig, MapLoss};
use sodeep::metrics::mean_average_precision;

/// Composite training examples per seed (before the validation split).
pub const TRAIN_EXAMPLES: usize = 3000;
/// Composite test examples per seed.
pub const TEST_EXAMPLES: usize = 1000;

/// Multi-label classification scored by mAP (the paper's VOC experiment).
#[derive(Debug, Clone, Copy)]
pub struct Map;

impl Task for Map {
    fn name(&self) -> &'static str {
        "map"
    }

    fn metric(&self) -> &'static str {
        "map"
    }

    fn default_data(&self) -> &'static str {
        "digits-multilabel"
    }

    fn baselines(&self) -> &'static [&'static str] {
        &["bce"]
    }

    fn configure(&self, cfg: &mut ExperimentConfig) {
        cfg.epochs = 25;
        cfg.lrs = vec![1e-3, 3e-3];
        cfg.hidden = 128;
        cfg.sorters = vec!["best-100".to_string()];
        // the rank loss is added to BCE, as the paper's `bce + sodeep`
        cfg.base_weight = 1.0;
    }

    fn quick(&self, cfg: &mut ExperimentConfig) {
        cfg.epochs = 12;
        cfg.lrs = vec![3e-3];
    }

    fn prepare(&self, cfg: &ExperimentConfig) -> Result<Prepared> {
        prepare(cfg)
    }

    fn data_from_files(&self, files: &DataFiles) -> Result<DataSource> {
        files.csv_tables(
            self.name(),
            files.label_prefix.as_ref(),
            "--train needs --label-prefix P: the prefix of the 0/1 label columns",
        )
    }

    fn sanity(&self) -> Option<Sanity> {
        Some(Sanity {
            loss: "bce",
            key: None,
            floor: 0.80,
            label: "test mAP",
        })
    }
}

/// Loads or composes the data for every seed.
fn prepare(cfg: &ExperimentConfig) -> Result<Prepared> {
    let mut per_seed: Vec<(MultiLabel, MultiLabel)> = Vec::new();
    let name;
    match &cfg.data {
        DataSource::Builtin(n) if n == "digits-multilabel" => {
            name = n.clone();
            let (images, labels) = digits::smartcore_digits()?;
            for s in 0..cfg.seeds as u64 {
                let (tr, te) = split(images.rows, 0.3, 3000 + s);
                let lab = |idx: &[usize]| idx.iter().map(|&i| labels[i]).collect::<Vec<u8>>();
                let train = compose::digits_multilabel(
                    &images.select_rows(&tr),
                    &lab(&tr),
                    digits::SIDE,
                    TRAIN_EXAMPLES,
                    4000 + s,
                )?;
                let test = compose::digits_multilabel(
                    &images.select_rows(&te),
                    &lab(&te),
                    digits::SIDE,
                    TEST_EXAMPLES,
                    5000 + s,
                )?;
                per_seed.push((train, test));
            }
        }
        DataSource::Builtin(other) => {
            return Err(Error::InvalidArgument(format!(
                "unknown dataset '{other}' for the map task: use digits-multilabel, or --train F.csv --label-prefix label_"
            )))
        }
        DataSource::Csv {
            train,
            test,
            column,
        } => {
            let (all, test) = csv::load_multilabel_split(train, test.as_deref(), column)?;
            name = all.name.clone();
            if let Some(t) = &test {
                if t.x.cols != all.x.cols || t.labels.cols != all.labels.cols {
                    return Err(Error::InvalidArgument(format!(
                        "the test table has {} features and {} labels, the training table {} and {}",
                        t.x.cols, t.labels.cols, all.x.cols, all.labels.cols
                    )));
                }
            }
            for s in 0..cfg.seeds as u64 {
                match &test {
                    Some(t) => per_seed.push((all.clone(), t.clone())),
                    None => {
                        let (tr, te) = split(all.x.rows, 0.2, 1000 + s);
                        per_seed.push((subset(&all, &tr), subset(&all, &te)));
                    }
                }
            }
        }
        DataSource::Paired { .. } | DataSource::Letor { .. } => {
            return Err(Error::InvalidArgument(
                "the map task takes --data digits-multilabel or --train F.csv --label-prefix P".into(),
            ))
        }
    }
    let mut warnings = Vec::new();
    let mut seeds: Vec<Box<dyn SeedData>> = Vec::new();
    for (s, (train, test)) in per_seed.into_iter().enumerate() {
        for c in 0..test.labels.cols {
            if (0..test.labels.rows).all(|r| test.labels.row(r)[c] < 0.5) {
                let w = format!(
                    "seed {s}: label column '{}' has no positive in the test split; it is skipped in the test mAP",
                    test.label_names.get(c).map_or("?", String::as_str)
                );
                eprintln!("warning: {w}");
                warnings.push(w);
            }
        }
        let (tr, va) = split(train.x.rows, cfg.val_fraction, 2000 + s as u64);
        check_parts(&train.name, tr.len(), va.len(), test.x.rows)?;
        check_features(&train.name, &train.x)?;
        seeds.push(Box::new(MapSeed::new(
            subset(&train, &tr),
            subset(&train, &va),
            test,
        )?));
    }
    Ok(Prepared {
        name,
        seeds,
        warnings,
    })
}

fn subset(data: &MultiLabel, idx: &[usize]) -> MultiLabel {
    MultiLabel {
        name: data.name.clone(),
        x: data.x.select_rows(idx),
        labels: data.labels.select_rows(idx),
        label_names: data.label_names.clone(),
    }
}

struct Split {
    x: Tensor,
    labels: Matrix,
}

/// One seed's standardised splits.
pub struct MapSeed {
    train: Split,
    train_labels: Tensor,
    val: Split,
    test: Split,
}

impl MapSeed {
    fn new(train: MultiLabel, val: MultiLabel, test: MultiLabel) -> Result<Self> {
        let (mean, std) = column_stats(&train.x);
        let make = |d: MultiLabel| -> Result<Split> {
            Ok(Split {
                x: standardized(&d.x, &mean, &std)?,
                labels: d.labels,
            })
        };
        let train_labels = Tensor::from_vec(
            train.labels.data.clone(),
            (train.labels.rows, train.labels.cols),
            &Device::Cpu,
        )?;
        Ok(Self {
            train: make(train)?,
            train_labels,
            val: make(val)?,
            test: make(test)?,
        })
    }

    fn score(model: &Mlp, split: &Split) -> Result<f64> {
        let s: Vec<f32> = model.forward(&split.x)?.flatten_all()?.to_vec1()?;
        let l: Vec<bool> = split.labels.data.iter().map(|&v| v > 0.5).collect();
        Ok(mean_average_precision(&s, &l, split.labels.cols).unwrap_or(0.0))
    }

    fn train_model(
        &self,
        dims: &[usize],
        loss: &LossKind,
        lr: f64,
        cfg: &ExperimentConfig,
        seed: u64,
    ) -> Result<RunOutcome> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let model = Mlp::new(dims, &mut rng)?;
        let ranker = RunRanker::for_loss(loss, cfg.remedies, seed)?;
        let map_loss = ranker.as_ref().map(|r| {
            MapLoss::new(
                Arc::clone(&r.ranker),
                MapConfig {
                    normalized: true,
                    seed,
                    ..Default::default()
                },
            )
        });
        let fitted = fit(
            &model.vars(),
            self.train.labels.rows,
            cfg.fit_config(lr, seed),
            |batch, _| {
                let idx = batch_index(batch)?;
                let logits = model.forward(&self.train.x.index_select(&idx, 0)?)?;
                let labels = self.train_labels.index_select(&idx, 0)?;
                let bce = bce_with_logits(&logits, &labels)?;
                match &map_loss {
                    None => Ok(bce),
                    Some(l) => Ok(((bce * cfg.base_weight)?
                        + (l.forward(&logits, &labels)? * cfg.rank_weight)?)?),
                }
            },
            |_| ranker.as_ref().map_or(Ok(()), |r| r.end_epoch()),
            || Self::score(&model, &self.val),
        )?;
        Ok(RunOutcome::tested(
            fitted,
            Self::score(&model, &self.test)?,
            BTreeMap::new(),
        ))
    }
}

impl SeedData for MapSeed {
    fn run(
        &self,
        loss: &LossKind,
        lr: f64,
        cfg: &ExperimentConfig,
        seed: u64,
    ) -> Result<RunOutcome> {
        let dims = [self.train.x.dim(1)?, cfg.hidden, self.train.labels.cols];
        self.train_model(&dims, loss, lr, cfg, seed)
    }

    fn linear(&self, cfg: &ExperimentConfig, seed: u64) -> Result<(String, f64, RunOutcome)> {
        let dims = [self.train.x.dim(1)?, self.train.labels.cols];
        let (lr, r) = best_over_lrs(&cfg.lrs, |lr| {
            self.train_model(&dims, &LossKind::Bce, lr, cfg, seed)
        })?;
        Ok(("logistic".into(), lr, r))
    }
}
