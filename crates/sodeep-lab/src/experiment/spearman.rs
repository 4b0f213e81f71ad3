//! The Spearman task: regression scored by Spearman's correlation on the test split.
//!
//! Features are standardised with the training split's statistics; `mse` and `l1` fit the
//! target standardised in f64 ([`standardize_target`]); rank losses fit the target's ranks within each batch. The linear
//! baseline is ridge regression with λ chosen on the validation split.

use std::collections::BTreeMap;
use std::sync::Arc;

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::config::{DataSource, LossKind, RunRanker};
use super::model::{batch_index, column_stats, fit, linear_predict, standardized, Mlp};
use super::parts::{check_features, check_parts, split};
use super::results::RunOutcome;
use super::ridge::{ridge_on_validation, RidgePlan};
use super::task::{DataFiles, ExperimentConfig, Prepared, Sanity, SeedData, Task};
use crate::data::{builtin, csv, Matrix, Regression};
use crate::error::{Error, Result};
use sodeep::loss::{AuxKind, AuxTerm, SpearmanConfig, SpearmanLoss};
use sodeep::metrics::spearman;

/// Regression scored by Spearman's correlation (the paper's memorability experiment).
#[derive(Debug, Clone, Copy)]
pub struct Spearman;

impl Task for Spearman {
    fn name(&self) -> &'static str {
        "spearman"
    }

    fn metric(&self) -> &'static str {
        "spearman"
    }

    fn default_data(&self) -> &'static str {
        "winequality"
    }

    fn baselines(&self) -> &'static [&'static str] {
        &["mse", "l1"]
    }

    fn configure(&self, cfg: &mut ExperimentConfig) {
        cfg.epochs = 40;
        cfg.lrs = vec![1e-3, 3e-3];
        cfg.hidden = 64;
        cfg.sorters = sodeep::registry::list()
            .into_iter()
            .map(|l| l.name.to_string())
            .collect();
        // the paper's protocol: L1 on the predictions during the first epoch
        cfg.remedies.l1_warmup_epochs = 1;
    }

    fn quick(&self, cfg: &mut ExperimentConfig) {
        cfg.epochs = 25;
        cfg.lrs = vec![3e-3];
    }

    fn prepare(&self, cfg: &ExperimentConfig) -> Result<Prepared> {
        prepare(cfg)
    }

    fn data_from_files(&self, files: &DataFiles) -> Result<DataSource> {
        files.csv_tables(
            self.name(),
            files.target.as_ref(),
            "--train needs --target COL: the column to predict",
        )
    }

    fn default_losses(&self, sorters: &[String]) -> Vec<String> {
        let mut out: Vec<String> = self.baselines().iter().map(|s| s.to_string()).collect();
        out.extend(sorters.iter().map(|s| self.rank_loss_name(s)));
        out.push("handcrafted".into());
        out
    }

    fn sanity(&self) -> Option<Sanity> {
        Some(Sanity {
            loss: "mse",
            key: None,
            floor: 0.45,
            label: "test Spearman",
        })
    }
}

/// Loads the data and splits it for every seed.
fn prepare(cfg: &ExperimentConfig) -> Result<Prepared> {
    let (target, (train, test)) = match &cfg.data {
        DataSource::Builtin(name) => (format!("the target of {name}"), (
            match name.as_str() {
                "winequality" => builtin::winequality()?,
                "diabetes" => builtin::diabetes()?,
                other => {
                    return Err(Error::InvalidArgument(format!(
                        "unknown dataset '{other}' for the spearman task: use winequality or diabetes, or --train F.csv --target COL"
                    )))
                }
            },
            None,
        )),
        DataSource::Csv {
            train,
            test,
            column,
        } => (
            format!("the target column '{column}' of {}", train.display()),
            csv::load_regression_split(train, test.as_deref(), column)?,
        ),
        DataSource::Paired { .. } | DataSource::Letor { .. } => {
            return Err(Error::InvalidArgument(
                "the spearman task takes --data NAME or --train F.csv --target COL".into(),
            ))
        }
    };
    check_target(&train)?;
    check_features(&train.name, &train.x)?;
    if let Some(t) = &test {
        if t.x.cols != train.x.cols {
            return Err(Error::InvalidArgument(format!(
                "the test table has {} feature columns, the training table {}",
                t.x.cols, train.x.cols
            )));
        }
    }
    let mut seeds: Vec<Box<dyn SeedData>> = Vec::new();
    // the linear baselines of the seeds run side by side, one per job thread
    let concurrent = rayon::current_num_threads().clamp(1, cfg.seeds.max(1));
    for s in 0..cfg.seeds as u64 {
        let (pool, test_part) = match &test {
            Some(t) => ((0..train.x.rows).collect(), (t.x.clone(), t.y.clone())),
            None => {
                let (rest, held) = split(train.x.rows, 0.2, 1000 + s);
                (rest, pick(&train, &held))
            }
        };
        let (tr, va) = split(pool.len(), cfg.val_fraction, 2000 + s);
        check_parts(&train.name, tr.len(), va.len(), test_part.1.len())?;
        let tr: Vec<usize> = tr.iter().map(|&i| pool[i]).collect();
        let va: Vec<usize> = va.iter().map(|&i| pool[i]).collect();
        // the baseline's cost is known now: refuse it before any model trains
        let plan = RidgePlan::new(tr.len(), train.x.cols);
        plan.check(concurrent)?;
        seeds.push(Box::new(SpearmanSeed::new(
            pick(&train, &tr),
            pick(&train, &va),
            test_part,
            plan,
            &target,
        )?));
    }
    Ok(Prepared {
        name: train.name.clone(),
        seeds,
        warnings: Vec::new(),
    })
}

fn check_target(data: &Regression) -> Result<()> {
    let first = data.y.first().copied().unwrap_or(0.0);
    if data.y.iter().all(|&v| v == first) {
        return Err(Error::Data(format!(
            "the target of {} is constant ({first}) in every row: Spearman's correlation is undefined, so there is nothing to rank",
            data.name
        )));
    }
    Ok(())
}

fn pick(data: &Regression, idx: &[usize]) -> (Matrix, Vec<f32>) {
    (
        data.x.select_rows(idx),
        idx.iter().map(|&i| data.y[i]).collect(),
    )
}

struct Split {
    x: Tensor,
    raw: Matrix,
    y: Vec<f32>,
}

/// One seed's standardised splits.
pub struct SpearmanSeed {
    train: Split,
    val: Split,
    test: Split,
    /// The standardised training target (for mse and l1).
    y_train_std: Tensor,
    /// How the ridge baseline is solved on the training split.
    plan: RidgePlan,
}

/// `(y − mean) / sd`, computed in f64 so that any f32 target (up to ±3.4e38, whose squares
/// overflow f32) keeps its spread; `what` names the target in errors. A training split whose
/// target is constant has sd 0 and is centred only. A result that f32 cannot hold is refused.
pub fn standardize_target(y: &[f32], what: &str) -> Result<Vec<f32>> {
    let n = y.len().max(1) as f64;
    let mean = y.iter().map(|&v| v as f64).sum::<f64>() / n;
    let sd = (y.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
    if !mean.is_finite() || !sd.is_finite() {
        return Err(Error::Data(format!(
            "{what} cannot be standardised: its mean or spread is not a finite number (mean \
             {mean}, sd {sd}); rescale the target"
        )));
    }
    let scale = if sd > 0.0 { sd } else { 1.0 };
    let out: Vec<f32> = y
        .iter()
        .map(|&v| ((v as f64 - mean) / scale) as f32)
        .collect();
    if let Some(i) = out.iter().position(|v| !v.is_finite()) {
        return Err(Error::Data(format!(
            "{what} cannot be standardised: training row {} becomes {} (mean {mean}, sd \
             {sd}); rescale the target",
            i + 1,
            out[i]
        )));
    }
    Ok(out)
}

impl SpearmanSeed {
    fn new(
        train: (Matrix, Vec<f32>),
        val: (Matrix, Vec<f32>),
        test: (Matrix, Vec<f32>),
        plan: RidgePlan,
        target: &str,
    ) -> Result<Self> {
        let (mean, std) = column_stats(&train.0);
        let make = |(m, y): (Matrix, Vec<f32>)| -> Result<Split> {
            let x = standardized(&m, &mean, &std)?;
            let raw = Matrix::new(m.rows, m.cols, x.flatten_all()?.to_vec1()?)?;
            Ok(Split { x, raw, y })
        };
        let y_std = standardize_target(&train.1, target)?;
        let y_train_std = Tensor::from_vec(y_std, train.1.len(), &Device::Cpu)?;
        Ok(Self {
            train: make(train)?,
            val: make(val)?,
            test: make(test)?,
            y_train_std,
            plan,
        })
    }

    fn score(model: &Mlp, split: &Split) -> Result<f64> {
        let p: Vec<f32> = model.forward(&split.x)?.flatten_all()?.to_vec1()?;
        Ok(finite_or_zero(spearman(&p, &split.y)))
    }
}

/// A constant prediction has no Spearman correlation; count it as 0 rather than NaN.
fn finite_or_zero(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

impl SeedData for SpearmanSeed {
    fn run(
        &self,
        loss: &LossKind,
        lr: f64,
        cfg: &ExperimentConfig,
        seed: u64,
    ) -> Result<RunOutcome> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let model = Mlp::new(&[self.train.raw.cols, cfg.hidden, 1], &mut rng)?;
        let ranker = RunRanker::for_loss(loss, cfg.remedies, seed)?;
        let rank_loss = ranker.as_ref().map(|r| {
            let aux = (cfg.remedies.l1_warmup_epochs > 0).then_some(AuxTerm {
                kind: AuxKind::L1,
                weight: 1.0,
                epochs: Some(cfg.remedies.l1_warmup_epochs),
            });
            SpearmanLoss::new(
                Arc::clone(&r.ranker),
                SpearmanConfig {
                    aux,
                    seed,
                    ..Default::default()
                },
            )
        });
        let fitted = fit(
            &model.vars(),
            self.train.raw.rows,
            cfg.fit_config(lr, seed),
            |batch, epoch| {
                let idx = batch_index(batch)?;
                let pred = model
                    .forward(&self.train.x.index_select(&idx, 0)?)?
                    .flatten_all()?;
                let y = self.y_train_std.index_select(&idx, 0)?;
                match (loss, &rank_loss) {
                    (LossKind::Mse, _) => Ok((pred - y)?.sqr()?.mean_all()?),
                    (LossKind::L1, _) => Ok((pred - y)?.abs()?.mean_all()?),
                    (LossKind::Rank(_), Some(l)) => {
                        l.set_epoch(epoch);
                        Ok(l.forward(&pred, &y)?)
                    }
                    (other, _) => Err(Error::InvalidArgument(format!(
                        "loss {other:?} does not apply to the spearman task"
                    ))),
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

    fn linear_plan(&self) -> Option<RidgePlan> {
        Some(self.plan)
    }

    fn linear(&self, _cfg: &ExperimentConfig, _seed: u64) -> Result<(String, f64, RunOutcome)> {
        let fitted = ridge_on_validation(&self.train.raw, &self.train.y, |w, b| {
            finite_or_zero(spearman(&linear_predict(&self.val.raw, w, b), &self.val.y))
        })?;
        let test = finite_or_zero(spearman(
            &linear_predict(&self.test.raw, &fitted.w, fitted.intercept),
            &self.test.y,
        ));
        Ok((
            "ridge".into(),
            fitted.lambda,
            RunOutcome::untrained(fitted.val, test, BTreeMap::new()),
        ))
    }
}
