//! `meta-train-sorter`: a pairwise sorter trained for its job in a loss. The card names the
//! objective, runs are reproducible, evolution strategies raise the students' fitness from a
//! poor start, and bad settings are refused before anything is written.

mod common;

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use common::{fails_with, parse, printed};
use sodeep::card::Objective;
use sodeep::train::meta::{meta_train, MetaConfig, StudentConfig};
use sodeep::Sorter;
use sodeep_lab::commands::meta::MetaTrainSorterArgs;

const TINY: &str = "--iterations 2 --population 2 --tasks 2 --val-tasks 4 --validate-every 1 \
                    --inner-steps 3 --reference softrank";

fn meta(argv: &str) -> sodeep_lab::Result<()> {
    parse::<MetaTrainSorterArgs>(argv).run()
}

#[test]
fn the_card_names_the_objective_and_runs_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    meta(&format!("{TINY} --out {}", a.display())).unwrap();
    meta(&format!("{TINY} --out {}", b.display())).unwrap();
    let sorter = Sorter::load_dir(&a).unwrap();
    let t = sorter.card().training.as_ref().unwrap();
    assert_eq!(t.objective, Objective::DownstreamSpearman);
    let m = t.meta.as_ref().unwrap();
    assert_eq!(
        (m.iterations, m.curve.len(), m.init.as_str()),
        (2, 2, "any")
    );
    assert!(m.best_val_fitness >= m.init_val_fitness);
    assert!(m.references.contains_key("softrank"));
    assert_eq!(t.val_l1_by_len.len(), 5);
    // the same seed gives the same sorter, byte for byte
    let bytes = |d: &Path| std::fs::read(d.join("sorter.safetensors")).unwrap();
    assert_eq!(bytes(&a), bytes(&b));
    // it ranks as a sorter of any length: the largest score first
    let x = Tensor::new(&[[0.3f32, 2.0, -1.0, 0.9, 0.1]], &Device::Cpu).unwrap();
    let r = sorter.forward(&x).unwrap().to_vec2::<f32>().unwrap();
    let order = |v: &[f32]| {
        let mut i: Vec<usize> = (0..v.len()).collect();
        i.sort_by(|&p, &q| v[p].total_cmp(&v[q]));
        i
    };
    assert_eq!(order(&r[0]), vec![1, 3, 0, 4, 2]);
    // an existing folder is never replaced
    let before = bytes(&a);
    fails_with(meta(&format!("{TINY} --out {}", a.display())), &["exists"]);
    assert_eq!(bytes(&a), before);
}

#[test]
fn bad_settings_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m");
    let o = out.display();
    for (args, needle) in [
        (
            format!("--init lstm-100 --out {o}"),
            "needs a pairwise sorter",
        ),
        (
            format!("--init handcrafted --out {o}"),
            "needs a pairwise sorter",
        ),
        (format!("--set-len 1..5 --out {o}"), "2 ≤ lo ≤ hi"),
        (format!("--set-len 5..3 --out {o}"), "--set-len"),
        (format!("--features 0..3 --out {o}"), "--features"),
        (format!("--sigma 0 --out {o}"), "--sigma"),
        (format!("--student-lr nan --out {o}"), "--student-lr"),
        (format!("--population 0 --out {o}"), "between 1 and"),
        (format!("--comparators 0 --out {o}"), "between 1 and 64"),
        (format!("--checkpoints 0 --out {o}"), "between 1 and"),
        (format!("--reference nosuch --out {o}"), "nosuch"),
    ] {
        fails_with(meta(&args), &[needle]);
        assert!(!out.exists(), "{args} wrote {o}");
    }
}

/// From a comparator so sharp that its gradient vanishes (a step at the scale of the scores'
/// gaps, Λ = 10⁴), evolution strategies must move the parameters toward sorters whose students
/// learn: the validation fitness rises, and the bound comes down.
#[test]
fn evolution_strategies_raise_the_fitness_of_a_poor_start() {
    let any = Sorter::load("any").unwrap();
    let mut card = any.card().clone();
    card.config.lambda = Some(1e4);
    let weights = HashMap::from([
        (
            "log_sharpness".to_string(),
            Tensor::new(&[6f32], &Device::Cpu).unwrap(),
        ),
        (
            "mix".to_string(),
            Tensor::new(&[0f32], &Device::Cpu).unwrap(),
        ),
        (
            "len_exponent".to_string(),
            Tensor::new(&[0f32], &Device::Cpu).unwrap(),
        ),
    ]);
    let sharp = Sorter::from_tensors("sharp", card, weights, Path::new("sharp")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = MetaConfig::new(sharp, dir.path().join("m"));
    (cfg.iterations, cfg.population, cfg.tasks, cfg.val_tasks) = (12, 4, 4, 16);
    (cfg.validate_every, cfg.lr) = (4, 0.5);
    cfg.student = StudentConfig {
        steps: 8,
        ..Default::default()
    };
    let card = meta_train(&cfg, |_| {}).unwrap().card;
    let m = card.training.unwrap().meta.unwrap();
    assert!(
        m.best_val_fitness > m.init_val_fitness + 0.02,
        "{} → {}",
        m.init_val_fitness,
        m.best_val_fitness
    );
    assert!(card.config.lambda.unwrap() < 1e4);
}

/// The shipped meta-trained sorter: `list-sorters --json` names every card's objective, and
/// `any-meta`'s records its run.
#[test]
fn list_sorters_names_each_objective() {
    let v = printed("list-sorters --json").ok().json();
    let cards = v.as_array().unwrap();
    let objective = |name: &str| {
        let c = cards.iter().find(|c| c["name"] == name).unwrap();
        c["card"]["training"]["objective"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(objective("any-meta"), "downstream-spearman");
    assert_eq!(objective("any-sharp"), "l1");
    assert_eq!(objective("lstm-100"), "l1");
    let meta = cards.iter().find(|c| c["name"] == "any-meta").unwrap();
    let run = &meta["card"]["training"]["meta"];
    assert!(run["method"]
        .as_str()
        .unwrap()
        .contains("evolution strategies"));
    assert!(run["best_val_fitness"].as_f64() >= run["init_val_fitness"].as_f64());
    let text = printed("list-sorters").ok().stdout;
    assert!(text.contains("objective downstream-spearman"), "{text}");
}
