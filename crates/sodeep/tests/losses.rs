//! The Ranker interface, the grouping rule and the rank losses.

use std::sync::Arc;

use candle_core::{DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sodeep::loss::Grouping;
use sodeep::loss::{
    AuxKind, AuxTerm, MapConfig, MapLoss, RankSumConfig, RankSumLoss, RecallConfig, RecallLoss,
    Reduction, SpearmanConfig, SpearmanLoss, VseHingeLoss,
};
use sodeep::metrics;
use sodeep::rank::sodeep_rank_average;
use sodeep::ranker::{rank_with, Order, RankOptions, Scale};
#[cfg(feature = "train")]
use sodeep::train::FineTuned;
use sodeep::{Ranker, Sorter};

/// Exact ranks (ties share their mean rank, as a sorter's outputs for equal inputs do),
/// optionally limited to a fixed length: checks the layout, not gradients.
struct Exact(Option<usize>);

impl Ranker for Exact {
    fn name(&self) -> String {
        "exact".into()
    }
    fn fixed_len(&self) -> Option<usize> {
        self.0
    }
    fn rank(&self, scores: &Tensor) -> sodeep::Result<Tensor> {
        if let Some(d) = self.0 {
            assert_eq!(
                scores.dim(1).unwrap(),
                d,
                "the loss sent a row of the wrong length"
            );
        }
        let rows: Vec<Vec<f32>> = scores.to_vec2().unwrap();
        let flat: Vec<f32> = rows
            .iter()
            .flat_map(|r| sodeep_rank_average(r))
            .map(|v| v as f32)
            .collect();
        Ok(Tensor::from_vec(flat, scores.shape(), &Device::Cpu)?)
    }
}

fn randn(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn vector(v: &[f32]) -> Tensor {
    Tensor::from_slice(v, v.len(), &Device::Cpu).unwrap()
}

#[test]
fn grouping_places_every_item_once_for_any_batch_size() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for (m, d) in [(7, 10), (10, 10), (20, 10), (23, 10), (1, 10), (5, 1)] {
        let g = Grouping::new(m, None, Some(d), &mut rng).unwrap();
        assert_eq!(g.len, d);
        assert_eq!(g.groups, m.div_ceil(d), "m = {m}, d = {d}");
        assert_eq!(g.index.len(), g.groups * d);
        let mut seen = vec![0; m];
        for (slot, (&item, &w)) in g.index.iter().zip(&g.mask).enumerate() {
            if w > 0.0 {
                seen[item as usize] += 1;
                assert_eq!(g.slot[item as usize] as usize, slot);
            }
        }
        assert!(seen.iter().all(|&c| c == 1), "m = {m}, d = {d}: {seen:?}");
    }
    // any-length ranker, no lists: the identity layout
    let g = Grouping::new(9, None, None, &mut rng).unwrap();
    assert_eq!((g.groups, g.len), (1, 9));
    assert_eq!(g.index, (0..9).collect::<Vec<u32>>());
    assert!(Grouping::new(0, None, Some(4), &mut rng).is_err());
    assert!(Grouping::new(3, Some(&[0, 1]), None, &mut rng).is_err());
}

#[test]
fn grouping_never_mixes_lists() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let ids: Vec<u32> = (0..40).map(|i| [3, 1, 7][i % 3]).collect();
    for fixed in [None, Some(4), Some(20)] {
        let g = Grouping::new(ids.len(), Some(&ids), fixed, &mut rng).unwrap();
        for group in g.index.chunks(g.len) {
            let id = ids[group[0] as usize];
            assert!(group.iter().all(|&i| ids[i as usize] == id), "{fixed:?}");
        }
    }
}

#[test]
fn spearman_loss_is_zero_for_perfect_predictions_at_every_batch_size() {
    for (m, d) in [(7, 10), (10, 10), (20, 10), (23, 10)] {
        let y = randn(m, m as u64);
        let loss = SpearmanLoss::new(Arc::new(Exact(Some(d))), SpearmanConfig::default());
        let v = loss.forward(&vector(&y), &vector(&y)).unwrap();
        assert!(v.to_scalar::<f32>().unwrap().abs() < 1e-7, "m = {m}");
        // reversed predictions are maximally wrong
        let rev: Vec<f32> = y.iter().map(|v| -v).collect();
        let v = loss.forward(&vector(&rev), &vector(&y)).unwrap();
        assert!(v.to_scalar::<f32>().unwrap() > 0.05, "m = {m}");
    }
}

#[test]
fn lists_rank_within_each_list_only() {
    // two lists on different scales: each list is perfectly ordered, the union is not
    let pred = [0.1f32, 0.2, 0.3, 10.1, 10.2, 10.3];
    let target = [1.0f32, 2.0, 3.0, -3.0, -2.0, -1.0];
    let ids = [0u32, 0, 0, 1, 1, 1];
    let loss = SpearmanLoss::new(Arc::new(Exact(None)), SpearmanConfig::default());
    let within = loss
        .forward_lists(&vector(&pred), &vector(&target), &ids)
        .unwrap();
    let across = loss.forward(&vector(&pred), &vector(&target)).unwrap();
    assert!(within.to_scalar::<f32>().unwrap() < 1e-7);
    assert!(across.to_scalar::<f32>().unwrap() > 0.1);
}

#[test]
fn reductions_and_auxiliary_schedule() {
    let y = randn(12, 3);
    let p = randn(12, 4);
    let make = |reduction, aux| {
        SpearmanLoss::new(
            Arc::new(Exact(None)),
            SpearmanConfig {
                reduction,
                aux,
                seed: 0,
            },
        )
    };
    let none = make(Reduction::None, None)
        .forward(&vector(&p), &vector(&y))
        .unwrap();
    assert_eq!(none.dims(), [12]);
    let sum = make(Reduction::Sum, None)
        .forward(&vector(&p), &vector(&y))
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let mean = make(Reduction::Mean, None)
        .forward(&vector(&p), &vector(&y))
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let total: f32 = none.to_vec1::<f32>().unwrap().iter().sum();
    assert!((sum - total).abs() < 1e-5 && (mean - total / 12.0).abs() < 1e-6);
    let aux = AuxTerm {
        kind: AuxKind::L1,
        weight: 2.0,
        epochs: Some(1),
    };
    let with_aux = make(Reduction::Mean, Some(aux));
    let l1: f32 = p.iter().zip(&y).map(|(a, b)| (a - b).abs()).sum::<f32>() / 12.0;
    let first = with_aux
        .forward(&vector(&p), &vector(&y))
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!((first - (mean + 2.0 * l1)).abs() < 1e-5);
    with_aux.set_epoch(1);
    let later = with_aux
        .forward(&vector(&p), &vector(&y))
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(
        (later - mean).abs() < 1e-6,
        "the L1 term must stop after epoch 0"
    );
}

#[test]
fn rank_options_convert_order_and_scale() {
    let x = Tensor::new(&[[0.5f32, -1.0, 2.0]], &Device::Cpu).unwrap();
    let exact = Exact(None);
    let desc = rank_with(&exact, &x, RankOptions::default()).unwrap();
    let asc_raw = rank_with(
        &exact,
        &x,
        RankOptions {
            order: Order::Ascending,
            scale: Scale::Raw,
        },
    )
    .unwrap();
    let d: Vec<f32> = desc.flatten_all().unwrap().to_vec1().unwrap();
    let a: Vec<f32> = asc_raw.flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(d, vec![2.0 / 3.0, 1.0, 1.0 / 3.0]);
    assert_eq!(a, vec![2.0, 1.0, 3.0]);
}

#[test]
fn map_loss_skips_columns_without_positives() {
    let scores = Tensor::new(&[[0.9f32, 0.1], [0.2, 0.8], [0.5, 0.3]], &Device::Cpu).unwrap();
    let labels = Tensor::new(&[[1f32, 0.0], [0.0, 0.0], [0.0, 0.0]], &Device::Cpu).unwrap();
    let per_col = MapLoss::new(
        Arc::new(Exact(None)),
        MapConfig {
            reduction: Reduction::None,
            ..Default::default()
        },
    )
    .forward(&scores, &labels)
    .unwrap();
    // column 0: the positive is ranked first (1/3); column 1 has no positive
    let v: Vec<f32> = per_col.to_vec1().unwrap();
    assert!((v[0] - 1.0 / 3.0).abs() < 1e-6 && v[1] == 0.0, "{v:?}");
    let mean = MapLoss::new(Arc::new(Exact(None)), MapConfig::default())
        .forward(&scores, &labels)
        .unwrap();
    assert!((mean.to_scalar::<f32>().unwrap() - 1.0 / 3.0).abs() < 1e-6);
}

#[test]
fn recall_loss_uses_the_hardest_negative() {
    // row 0: positive best (rank 1/3), row 1: positive second, row 2: positive last
    let sim = Tensor::new(
        &[[0.9f32, 0.5, 0.1], [0.7, 0.6, 0.1], [0.9, 0.8, 0.2]],
        &Device::Cpu,
    )
    .unwrap();
    let loss = RecallLoss::new(
        Arc::new(Exact(None)),
        RecallConfig {
            margin: 0.1,
            both_directions: false,
            reduction: Reduction::None,
            seed: 0,
        },
    );
    let v: Vec<f32> = loss.forward(&sim).unwrap().to_vec1().unwrap();
    let third = 1.0 / 3.0;
    let want = [
        (0.1f32 + third - 2.0 * third).max(0.0),
        0.1 + 2.0 * third - third,
        0.1 + 1.0 - third,
    ];
    for (a, b) in v.iter().zip(want) {
        assert!((a - b).abs() < 1e-6, "{v:?} vs {want:?}");
    }
    let ranksum = RankSumLoss::new(
        Arc::new(Exact(None)),
        RankSumConfig {
            both_directions: false,
            reduction: Reduction::Sum,
            seed: 0,
        },
    );
    let s = ranksum.forward(&sim).unwrap().to_scalar::<f32>().unwrap();
    assert!((s - (third + 2.0 * third + 1.0)).abs() < 1e-6);
    assert!(loss
        .forward(&Tensor::zeros((2, 3), DType::F32, &Device::Cpu).unwrap())
        .is_err());
}

fn handcrafted() -> Arc<dyn Ranker> {
    Arc::new(Sorter::handcrafted(20.0).unwrap())
}

/// A small linear-model problem: `m` items with `k` features and a noisy linear target.
fn problem(m: usize, k: usize, seed: u64) -> (Tensor, Vec<f32>) {
    let x = randn(m * k, seed);
    let w = randn(k, seed + 100);
    let noise = randn(m, seed + 200);
    let y: Vec<f32> = (0..m)
        .map(|i| (0..k).map(|j| x[i * k + j] * w[j]).sum::<f32>() + 0.1 * noise[i])
        .collect();
    (Tensor::from_vec(x, (m, k), &Device::Cpu).unwrap(), y)
}

fn sgd(var: &Var, loss: &Tensor, lr: f64) {
    let grads = loss.backward().unwrap();
    let g = grads
        .get(var.as_tensor())
        .expect("a gradient reaches the weights");
    var.set(&(var.as_tensor() - (g * lr).unwrap()).unwrap())
        .unwrap();
}

#[test]
fn spearman_gradient_raises_spearman_through_a_fixed_size_sorter() {
    // 130 items through the 100-long shipped sorter: one full group and one padded group
    let (x, y) = problem(130, 5, 7);
    let w = Var::from_vec(randn(5, 99), (5, 1), &Device::Cpu).unwrap();
    let score = |w: &Var| -> Vec<f32> {
        x.matmul(w.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    };
    let before = metrics::spearman(&score(&w), &y);
    let ranker: Arc<dyn Ranker> = Arc::new(Sorter::load("gru-100").unwrap());
    let loss = SpearmanLoss::new(ranker, SpearmanConfig::default());
    let target = vector(&y);
    for _ in 0..30 {
        let pred = x.matmul(w.as_tensor()).unwrap();
        let l = loss.forward(&pred, &target).unwrap();
        sgd(&w, &l, 2.0);
    }
    let after = metrics::spearman(&score(&w), &y);
    assert!(after > before + 0.2 && after > 0.8, "{before} → {after}");
}

#[test]
fn map_gradient_raises_map() {
    let (x, y) = problem(60, 6, 11);
    // three label columns: above the median, top third, bottom quarter of the target
    let mut sorted = y.clone();
    sorted.sort_by(f32::total_cmp);
    let cut = |q: f32| sorted[((sorted.len() - 1) as f32 * q) as usize];
    let labels: Vec<f32> = y
        .iter()
        .flat_map(|&v| {
            [
                (v > cut(0.5)) as u8 as f32,
                (v > cut(0.66)) as u8 as f32,
                (v < cut(0.25)) as u8 as f32,
            ]
        })
        .collect();
    let lab = Tensor::from_vec(labels.clone(), (60, 3), &Device::Cpu).unwrap();
    let w = Var::from_vec(randn(18, 5), (6, 3), &Device::Cpu).unwrap();
    let map_of = |w: &Var| {
        let s: Vec<f32> = x
            .matmul(w.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let l: Vec<bool> = labels.iter().map(|&v| v > 0.5).collect();
        metrics::mean_average_precision(&s, &l, 3).unwrap()
    };
    let before = map_of(&w);
    let loss = MapLoss::new(handcrafted(), MapConfig::default());
    for _ in 0..40 {
        let l = loss
            .forward(&x.matmul(w.as_tensor()).unwrap(), &lab)
            .unwrap();
        sgd(&w, &l, 5.0);
    }
    let after = map_of(&w);
    assert!(after > before + 0.1, "{before} → {after}");
}

/// Two views of 16 items; the loss must learn a projection that pairs them.
fn pairing_run(loss: &dyn Fn(&Tensor) -> Tensor, lr: f64) -> (f64, f64) {
    let n = 16;
    let a = Tensor::from_vec(randn(n * 6, 21), (n, 6), &Device::Cpu).unwrap();
    let mix = Tensor::from_vec(randn(36, 22), (6, 6), &Device::Cpu).unwrap();
    let b = (a.matmul(&mix).unwrap()
        + Tensor::from_vec(randn(n * 6, 23), (n, 6), &Device::Cpu).unwrap() * 0.3)
        .unwrap();
    let w = Var::from_vec(randn(36, 24), (6, 6), &Device::Cpu).unwrap();
    let recall = |w: &Var| {
        let s: Vec<f32> = a
            .matmul(w.as_tensor())
            .unwrap()
            .matmul(&b.t().unwrap())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        metrics::recall_at_k(&metrics::positive_ranks(&s, n), 1)
    };
    let before = recall(&w);
    for _ in 0..60 {
        let sim = a
            .matmul(w.as_tensor())
            .unwrap()
            .matmul(&b.t().unwrap())
            .unwrap();
        sgd(&w, &loss(&sim), lr);
    }
    (before, recall(&w))
}

#[test]
fn recall_and_rank_sum_gradients_raise_recall() {
    let recall = RecallLoss::new(
        handcrafted(),
        RecallConfig {
            margin: 0.1,
            ..Default::default()
        },
    );
    let (before, after) = pairing_run(&|s| recall.forward(s).unwrap(), 0.5);
    assert!(after > before + 0.2, "recall loss: R@1 {before} → {after}");
    let ranksum = RankSumLoss::new(handcrafted(), RankSumConfig::default());
    let (before, after) = pairing_run(&|s| ranksum.forward(s).unwrap(), 0.5);
    assert!(
        after > before + 0.2,
        "rank-sum loss: R@1 {before} → {after}"
    );
    let hinge = VseHingeLoss { margin: 0.2 };
    let (before, after) = pairing_run(&|s| hinge.forward(s).unwrap(), 0.05);
    assert!(after > before + 0.2, "hinge: R@1 {before} → {after}");
}

#[cfg(feature = "train")]
#[test]
fn frozen_sorter_passes_no_gradient_to_its_weights_and_fine_tuning_helps() {
    let sorter = Sorter::load("gru-100").unwrap();
    // frozen: the input gets a gradient, no weight does (and none is a variable)
    let probe = Var::from_vec(randn(2 * 100, 30), (2, 100), &Device::Cpu).unwrap();
    let grads = sorter
        .forward(probe.as_tensor())
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert!(grads.get(probe.as_tensor()).is_some(), "no input gradient");
    assert!(!sorter.weights().is_empty());
    for (name, w) in sorter.weights() {
        assert!(!w.is_variable(), "{name} is a variable");
        assert!(grads.get(w).is_none(), "{name} received a gradient");
    }
    // heavy-tailed vectors: far from the sorter's training distributions
    let rows: Vec<f32> = randn(64 * 100, 31)
        .iter()
        .map(|v| 0.05 * v.powi(3))
        .collect();
    let x = Tensor::from_vec(rows.clone(), (64, 100), &Device::Cpu).unwrap();
    let exact = sodeep::rank::sodeep_rank_tensor(&x).unwrap();
    let tuned = FineTuned::new(sorter, 1000, 0).unwrap();
    let l1 = |r: &dyn Ranker| {
        (r.rank(&x).unwrap() - &exact)
            .unwrap()
            .abs()
            .unwrap()
            .mean_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    };
    let before = l1(&tuned);
    assert_eq!(tuned.seen(), 64);
    tuned
        .fine_tune(30, 64, 1e-3)
        .unwrap()
        .expect("vectors were kept");
    let after = l1(&tuned);
    assert!(after < before * 0.95, "fine-tuning: L1 {before} → {after}");
    // gradient to the input exists
    let xv = Var::from_tensor(&x).unwrap();
    let r = tuned.rank(xv.as_tensor()).unwrap().sum_all().unwrap();
    assert!(r.backward().unwrap().get(xv.as_tensor()).is_some());
    assert!(FineTuned::new(Sorter::handcrafted(10.0).unwrap(), 10, 0).is_err());
}

/// A `B × n` batch is B lists: the loss equals the mean of the per-row losses, and without
/// reduction it keeps the batch's shape.
#[test]
fn spearman_loss_takes_a_batch_of_lists() {
    let ranker: Arc<dyn Ranker> = sodeep::spec::parse("softrank:eps=0.1").unwrap();
    let (b, n) = (4, 7);
    let pred = Tensor::from_vec(randn(b * n, 11), (b, n), &Device::Cpu).unwrap();
    let target = Tensor::from_vec(randn(b * n, 12), (b, n), &Device::Cpu).unwrap();
    let loss = SpearmanLoss::new(ranker.clone(), SpearmanConfig::default());
    let batch: f32 = loss.forward(&pred, &target).unwrap().to_scalar().unwrap();
    let mut per_row = 0f32;
    for r in 0..b {
        let (p, t) = (pred.get(r).unwrap(), target.get(r).unwrap());
        per_row += loss.forward(&p, &t).unwrap().to_scalar::<f32>().unwrap() / b as f32;
    }
    assert!((batch - per_row).abs() < 1e-6, "{batch} vs {per_row}");
    // ranking the whole batch as one list would differ
    let flat: f32 = loss
        .forward(&pred.flatten_all().unwrap(), &target.flatten_all().unwrap())
        .unwrap()
        .to_scalar()
        .unwrap();
    assert!((flat - batch).abs() > 1e-4, "{flat} vs {batch}");
    let none = SpearmanLoss::new(
        ranker,
        SpearmanConfig {
            reduction: Reduction::None,
            ..Default::default()
        },
    );
    assert_eq!(none.forward(&pred, &target).unwrap().dims(), &[b, n]);
    assert!(loss
        .forward(&pred, &target.reshape((n, b)).unwrap())
        .is_err());
}
