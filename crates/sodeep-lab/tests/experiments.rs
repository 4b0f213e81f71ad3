//! The experiments train for real: the baselines clear the sanity floors on short runs.

use sodeep_lab::experiment::{self, parse_loss, ExperimentConfig, LossKind, Task};

fn quiet(_: &str) {}

#[test]
fn mse_baseline_on_winequality_clears_the_sanity_floor() {
    let mut cfg = ExperimentConfig::new(Task::Spearman);
    cfg.seeds = 1;
    cfg.epochs = 15;
    cfg.lrs = vec![3e-3];
    cfg.losses = Some(vec!["mse".into()]);
    let r = experiment::run(&cfg, &quiet).unwrap();
    let mse = r.results["mse"].mean;
    assert!(mse >= 0.45, "mse test Spearman {mse}");
    assert!(
        r.linear_baseline.result.mean >= 0.45,
        "ridge {}",
        r.linear_baseline.result.mean
    );
    assert_eq!(r.results["mse"].curve.len(), 15);
}

#[test]
fn bce_baseline_on_digits_multilabel_clears_the_sanity_floor() {
    let mut cfg = ExperimentConfig::new(Task::Map);
    cfg.seeds = 1;
    cfg.epochs = 8;
    cfg.lrs = vec![3e-3];
    cfg.losses = Some(vec!["bce".into()]);
    let r = experiment::run(&cfg, &quiet).unwrap();
    assert!(
        r.results["bce"].mean >= 0.80,
        "bce mAP {}",
        r.results["bce"].mean
    );
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn loss_names_are_checked_against_the_task() {
    assert_eq!(parse_loss(Task::Spearman, "mse").unwrap(), LossKind::Mse);
    assert_eq!(
        parse_loss(Task::Map, "sodeep:best-100").unwrap(),
        LossKind::Rank("best-100".into())
    );
    assert!(parse_loss(Task::Map, "mse").is_err());
    assert!(parse_loss(Task::Retrieval, "bce").is_err());
    assert!(parse_loss(Task::Spearman, "sodeep:").is_err());
    let defaults = Task::Spearman.default_losses(&["lstm-100".into()]);
    assert_eq!(
        defaults,
        vec!["mse", "l1", "sodeep:lstm-100", "handcrafted"]
    );
}
