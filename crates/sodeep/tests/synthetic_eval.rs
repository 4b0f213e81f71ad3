//! Synthetic distributions, the handcrafted sorter's accuracy and the evaluation report.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sodeep::eval::{evaluate, rank_sweep, EvalConfig};
use sodeep::synthetic::{generate, Distribution};
use sodeep::Sorter;

#[test]
fn generation_is_seeded_and_distributions_behave() {
    let a = generate(Distribution::All, &mut ChaCha8Rng::seed_from_u64(3), 50, 20);
    let b = generate(Distribution::All, &mut ChaCha8Rng::seed_from_u64(3), 50, 20);
    assert_eq!(a.scores, b.scores);
    let c = generate(Distribution::All, &mut ChaCha8Rng::seed_from_u64(4), 50, 20);
    assert_ne!(a.scores, c.scores);
    for &d in &Distribution::CONCRETE {
        assert_eq!(Distribution::from_name(d.name()).unwrap(), d);
        let batch = generate(d, &mut ChaCha8Rng::seed_from_u64(9), 30, 16);
        assert!(batch.kinds.iter().all(|&k| k == d));
        for row in batch.scores.chunks(16) {
            match d {
                Distribution::Uniform => assert!(row.iter().all(|v| (-1.0..=1.0).contains(v))),
                Distribution::LinspaceIncreasing => assert!(row.windows(2).all(|w| w[0] <= w[1])),
                Distribution::LinspaceDecreasing => assert!(row.windows(2).all(|w| w[0] >= w[1])),
                Distribution::LinspaceShuffled => {
                    let mut s = row.to_vec();
                    s.sort_by(f32::total_cmp);
                    let step = s[1] - s[0];
                    assert!(s.windows(2).all(|w| ((w[1] - w[0]) - step).abs() < 1e-5));
                    assert!(s.iter().all(|v| (-1.0..=1.0).contains(v)));
                }
                _ => {}
            }
        }
    }
    // the mixture over all draws every distribution
    let mix = generate(Distribution::All, &mut ChaCha8Rng::seed_from_u64(1), 600, 8);
    for &d in &Distribution::CONCRETE {
        assert!(mix.kinds.contains(&d), "{}", d.name());
    }
    assert!(Distribution::from_name("gaussian").is_err());
}

#[test]
fn handcrafted_reproduces_the_paper_range() {
    let sorter = Sorter::load("handcrafted").unwrap();
    let cfg = EvalConfig {
        samples: 2000,
        d: 100,
        seed: 0,
        distribution: Distribution::All,
    };
    let r = evaluate(&sorter, &cfg).unwrap();
    assert!((0.025..=0.045).contains(&r.l1), "handcrafted L1 {}", r.l1);
    assert!(r.spearman > 0.95);
    assert_eq!(r.l1_by_distribution.len(), 6);
    // a sharper sigmoid ranks more exactly
    let sharp = evaluate(&Sorter::load("handcrafted:1000").unwrap(), &cfg).unwrap();
    assert!(sharp.l1 < r.l1 / 5.0, "{} vs {}", sharp.l1, r.l1);
}

#[test]
fn rank_sweep_is_a_staircase() {
    let sorter = Sorter::load("handcrafted:100").unwrap();
    let s = rank_sweep(&sorter, 10, 0).unwrap();
    assert_eq!(s.y1.len(), 2001);
    assert!((s.true_rank[0] - 1.0).abs() < 1e-12);
    assert!((s.true_rank[2000] - 0.1).abs() < 1e-12);
    assert!(s.true_rank.windows(2).all(|w| w[1] <= w[0]));
    let err: f64 = s
        .predicted
        .iter()
        .zip(&s.true_rank)
        .map(|(a, b)| (a - b).abs())
        .sum::<f64>()
        / 2001.0;
    assert!(err < 0.02, "{err}");
}
