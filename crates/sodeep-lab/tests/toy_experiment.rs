//! A new experiment is one file plus one registration line: this file is the whole of a toy
//! experiment (the `Toy` task below, its data and its model), and `registry::register` is its
//! one line in the registry. It then runs through the `experiment` command's own options, the
//! shared runner (seeds, learning rates, jobs, baselines) and the report, untouched.

use std::collections::BTreeMap;
use std::sync::{Arc, Once};

use candle_core::{Device, Tensor};
use clap::Parser;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sodeep::loss::{SpearmanConfig, SpearmanLoss};
use sodeep::metrics::spearman;
use sodeep_lab::commands::experiments::{experiment_config, ExperimentArgs};
use sodeep_lab::error::Result;
use sodeep_lab::experiment::model::{batch_index, fit, Mlp};
use sodeep_lab::experiment::{
    self, registry, DataSource, ExperimentConfig, LossKind, Prepared, RunOutcome, RunRanker,
    SeedData, Task,
};

// ---- the toy experiment: what a contributor writes in its own file ----

/// Rows of 4 features whose target is a monotone function of a hidden linear score; a linear
/// scorer is trained to order them, scored by Spearman's correlation.
#[derive(Debug)]
struct Toy;

impl Task for Toy {
    fn name(&self) -> &'static str {
        "toy"
    }
    fn metric(&self) -> &'static str {
        "spearman"
    }
    fn default_data(&self) -> &'static str {
        "toy-line"
    }
    fn baselines(&self) -> &'static [&'static str] {
        &["mse"]
    }
    fn configure(&self, cfg: &mut ExperimentConfig) {
        cfg.epochs = 12;
        cfg.lrs = vec![3e-2];
        cfg.batch = 32;
    }
    fn quick(&self, cfg: &mut ExperimentConfig) {
        cfg.epochs = 2;
    }
    fn prepare(&self, cfg: &ExperimentConfig) -> Result<Prepared> {
        let seeds = (0..cfg.seeds as u64)
            .map(|s| Box::new(ToySeed::draw(300, 1000 + s)) as Box<dyn SeedData>)
            .collect();
        Ok(Prepared {
            name: "toy-line".into(),
            seeds,
            warnings: Vec::new(),
        })
    }
}

/// One seed's rows: training, validation and test parts of `(features, target)`.
struct ToySeed {
    parts: [(Tensor, Vec<f32>); 3],
}

impl ToySeed {
    fn draw(rows: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let hidden = [1.0f32, -2.0, 0.5, 3.0];
        let mut part = |n: usize| {
            let x: Vec<f32> = (0..n * 4).map(|_| rng.random_range(-1.0..1.0)).collect();
            let y = x
                .chunks(4)
                .map(|r| r.iter().zip(hidden).map(|(a, w)| a * w).sum::<f32>().exp())
                .collect();
            (Tensor::from_vec(x, (n, 4), &Device::Cpu).unwrap(), y)
        };
        Self {
            parts: [part(rows), part(rows / 3), part(rows / 3)],
        }
    }

    fn score(model: &Mlp, (x, y): &(Tensor, Vec<f32>)) -> Result<f64> {
        let p: Vec<f32> = model.forward(x)?.flatten_all()?.to_vec1()?;
        Ok(spearman(&p, y))
    }
}

impl SeedData for ToySeed {
    fn run(
        &self,
        loss: &LossKind,
        lr: f64,
        cfg: &ExperimentConfig,
        seed: u64,
    ) -> Result<RunOutcome> {
        let [train, val, test] = &self.parts;
        let model = Mlp::new(&[4, 1], &mut ChaCha8Rng::seed_from_u64(seed))?;
        let ranker = RunRanker::for_loss(loss, cfg.remedies, seed)?;
        let rank_loss =
            ranker.map(|r| SpearmanLoss::new(Arc::clone(&r.ranker), SpearmanConfig::default()));
        let y = Tensor::from_slice(&train.1, train.1.len(), &Device::Cpu)?.log()?;
        let fitted = fit(
            &model.vars(),
            train.1.len(),
            cfg.fit_config(lr, seed),
            |batch, _| {
                let idx = batch_index(batch)?;
                let pred = model
                    .forward(&train.0.index_select(&idx, 0)?)?
                    .flatten_all()?;
                let y = y.index_select(&idx, 0)?;
                Ok(match &rank_loss {
                    Some(l) => l.forward(&pred, &y)?,
                    None => (pred - y)?.sqr()?.mean_all()?,
                })
            },
            |_| Ok(()),
            || ToySeed::score(&model, val),
        )?;
        let test = ToySeed::score(&model, test)?;
        Ok(RunOutcome::tested(fitted, test, BTreeMap::new()))
    }

    fn linear(&self, _cfg: &ExperimentConfig, _seed: u64) -> Result<(String, f64, RunOutcome)> {
        // the last feature alone, the largest hidden weight: a scorer with nothing to train
        let [_, val, test] = &self.parts;
        let by_last = |(x, y): &(Tensor, Vec<f32>)| -> Result<f64> {
            let last: Vec<f32> = x.narrow(1, 3, 1)?.flatten_all()?.to_vec1()?;
            Ok(spearman(&last, y))
        };
        let outcome = RunOutcome::untrained(by_last(val)?, by_last(test)?, BTreeMap::new());
        Ok(("last-feature".into(), 0.0, outcome))
    }
}

// ---- the registration line, and the test ----

fn register_toy() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| registry::register(&Toy).expect("toy registers once"));
}

#[derive(Parser)]
struct Options {
    #[command(flatten)]
    args: ExperimentArgs,
}

#[test]
fn a_registered_toy_experiment_runs_through_the_experiment_command() {
    register_toy();
    let argv = [
        "experiment",
        "toy",
        "--seeds",
        "2",
        "--losses",
        "mse,sodeep:softrank",
    ];
    let opts = Options::try_parse_from(argv).unwrap();
    let cfg = experiment_config(&opts.args).unwrap();
    assert_eq!(cfg.data, DataSource::Builtin("toy-line".into()));
    assert_eq!((cfg.epochs, cfg.batch), (12, 32), "the toy's own defaults");
    let result = experiment::run(&cfg, &|_| {}).unwrap();
    assert_eq!(
        (result.task.as_str(), result.metric.as_str()),
        ("toy", "spearman")
    );
    for loss in ["mse", "sodeep:softrank"] {
        let r = &result.results[loss];
        assert_eq!(r.per_seed.len(), 2);
        // a linear scorer can order a monotone function of a linear score almost perfectly
        assert!(
            r.mean > 0.9,
            "{loss} trained the toy's scorer to {}",
            r.mean
        );
        assert_eq!(r.curve.len(), 12, "one validation figure per epoch");
    }
    assert_eq!(result.linear_baseline.name, "last-feature");
    let table = result.table();
    assert!(
        table.starts_with("| loss | test spearman (mean ± sd) |"),
        "{table}"
    );
    assert!(table.contains("| sodeep:softrank |"), "{table}");
    let dir = tempfile::tempdir().unwrap();
    result.write(dir.path()).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("results.json")).unwrap()).unwrap();
    assert_eq!(json["task"], "toy");
}

#[test]
fn the_toy_checks_its_losses_and_names_like_a_built_in_task() {
    register_toy();
    assert_eq!(registry::find("toy").unwrap().name(), "toy");
    assert!(
        registry::register(&Toy).is_err(),
        "a name is registered once"
    );
    let bad = Options::try_parse_from(["experiment", "toy", "--losses", "bce"]).unwrap();
    let e = experiment::run(&experiment_config(&bad.args).unwrap(), &|_| {}).unwrap_err();
    assert!(
        e.to_string()
            .contains("does not apply to the toy task: use mse"),
        "{e}"
    );
    let e = registry::find("toys").unwrap_err().to_string();
    assert!(e.contains("ltr or toy"), "{e}");
}
