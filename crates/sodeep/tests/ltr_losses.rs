//! NDCG through a ranker and the learning-to-rank baselines: hand-computed values, per-query
//! independence, gradients against finite differences, training, the fixed-length path and
//! input errors.

use std::sync::Arc;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sodeep::loss::{LtrConfig, LtrKind, LtrLoss, Reduction};
use sodeep::metrics::{ndcg_at_k_gain, Gain};
use sodeep::{NdcgConfig, NdcgLoss, QueryLoss, Ranker, Sorter};

const CPU: &Device = &Device::Cpu;

fn t64(v: &[f64]) -> Tensor {
    Tensor::from_slice(v, v.len(), CPU).unwrap()
}

fn scalar(t: &Tensor) -> f64 {
    t.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
}

fn values(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64).unwrap().to_vec1::<f64>().unwrap()
}

fn sharp() -> Arc<dyn Ranker> {
    sodeep::spec::parse("softrank:eps=0.0001").unwrap()
}

fn ndcg_loss(ranker: Arc<dyn Ranker>, k: Option<usize>, reduction: Reduction) -> NdcgLoss {
    NdcgLoss::new(
        ranker,
        NdcgConfig {
            k,
            reduction,
            ..NdcgConfig::default()
        },
    )
}

fn ltr(kind: LtrKind, reduction: Reduction) -> LtrLoss {
    LtrLoss::new(
        kind,
        LtrConfig {
            reduction,
            ..LtrConfig::default()
        },
    )
}

/// `log(1 + e^x)`, for the hand computations.
fn softplus(x: f64) -> f64 {
    x.exp().ln_1p()
}

fn d(p: f64) -> f64 {
    1.0 / (1.0 + p).log2()
}

#[test]
fn ndcg_loss_through_a_sharp_ranker_is_one_minus_the_metric() {
    let rel = [3.0, 2.0, 1.0, 0.0, 2.0];
    let ordered = [5.0, 4.0, 2.0, 1.0, 3.0];
    let reversed = [1.0, 2.0, 4.0, 5.0, 3.0];
    for gain in [Gain::Exponential, Gain::Linear] {
        for k in [None, Some(2)] {
            let loss = NdcgLoss::new(
                sharp(),
                NdcgConfig {
                    gain,
                    k,
                    ..NdcgConfig::default()
                },
            );
            let good = scalar(&loss.forward(&t64(&ordered), &t64(&rel)).unwrap());
            assert!(good.abs() < 1e-9, "{gain:?} k={k:?}: {good}");
            let bad = scalar(&loss.forward(&t64(&reversed), &t64(&rel)).unwrap());
            let metric = ndcg_at_k_gain(&rel, &reversed, k, gain).unwrap();
            assert!(
                (bad - (1.0 - metric)).abs() < 1e-9,
                "{gain:?} k={k:?}: {bad} vs {}",
                1.0 - metric
            );
            assert!(bad > 0.1);
        }
    }
    // by hand, k = 2, exponential gains: positions 1, 2 hold relevance 0 and 1 (gains 0, 1);
    // the ideal holds 3 and 2 (gains 7, 3)
    let metric = ndcg_at_k_gain(&rel, &reversed, Some(2), Gain::Exponential).unwrap();
    assert!((metric - (0.0 + d(2.0)) / (7.0 + 3.0 * d(2.0))).abs() < 1e-12);
}

#[test]
fn baselines_match_hand_computed_values_on_three_items() {
    let s = [0.5, 1.0, -0.5];
    let rel = [2.0, 0.0, 1.0];
    let lse = |v: &[f64]| v.iter().map(|x| x.exp()).sum::<f64>().ln();
    // mse: ((0.5 − 2)² + (1 − 0)² + (−0.5 − 1)²) / 3
    let mse = (2.25 + 1.0 + 2.25) / 3.0;
    // ranknet, pairs with rel_i > rel_j: (0, 1): s0 − s1 = −0.5; (0, 2): 1.0; (2, 1): −1.5
    let ranknet = (softplus(0.5) + softplus(-1.0) + softplus(1.5)) / 3.0;
    // lambdarank: score order 1, 0, 2 → positions p1 = 1, p0 = 2, p2 = 3; gains 3, 0, 1;
    // IDCG = 3·D(1) + 1·D(2)
    let idcg = 3.0 * d(1.0) + d(2.0);
    let lambdarank = (3.0 * (d(2.0) - d(1.0)).abs() * softplus(0.5)
        + 2.0 * (d(2.0) - d(3.0)).abs() * softplus(-1.0)
        + 1.0 * (d(3.0) - d(1.0)).abs() * softplus(1.5))
        / idcg;
    // listnet: logsumexp(s) − Σ softmax(rel)_i s_i
    let z = 2f64.exp() + 1.0 + 1f64.exp();
    let listnet = lse(&s) - (2f64.exp() * 0.5 + 1.0 * 1.0 + 1f64.exp() * -0.5) / z;
    // listmle: π = items 0, 2, 1 (relevance 2, 1, 0), s_π = 0.5, −0.5, 1.0
    let listmle =
        ((lse(&[0.5, -0.5, 1.0]) - 0.5) + (lse(&[-0.5, 1.0]) + 0.5) + (lse(&[1.0]) - 1.0)) / 3.0;
    // approxndcg, T = 1: π̂_i = 1 + Σ_{j≠i} σ(s_j − s_i)
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    let pos = |i: usize| {
        1.0 + (0..3)
            .filter(|&j| j != i)
            .map(|j| sig(s[j] - s[i]))
            .sum::<f64>()
    };
    let approx = 1.0 - (3.0 * d(pos(0)) + 0.0 * d(pos(1)) + 1.0 * d(pos(2))) / idcg;
    for (kind, want) in [
        (LtrKind::Mse, mse),
        (LtrKind::RankNet, ranknet),
        (LtrKind::LambdaRank, lambdarank),
        (LtrKind::ListNet, listnet),
        (LtrKind::ListMle, listmle),
        (LtrKind::ApproxNdcg, approx),
    ] {
        let got = scalar(
            &ltr(kind, Reduction::Mean)
                .forward(&t64(&s), &t64(&rel))
                .unwrap(),
        );
        assert!(
            (got - want).abs() < 1e-12,
            "{}: {got} vs {want}",
            kind.name()
        );
        // f32 gives the same to f32 precision
        let s32 = Tensor::new(&[0.5f32, 1.0, -0.5], CPU).unwrap();
        let r32 = Tensor::new(&[2f32, 0.0, 1.0], CPU).unwrap();
        let got32 = scalar(&ltr(kind, Reduction::Mean).forward(&s32, &r32).unwrap());
        assert!(
            (got32 - want).abs() < 1e-5,
            "{} f32: {got32} vs {want}",
            kind.name()
        );
    }
}

#[test]
fn names_round_trip() {
    for kind in LtrKind::ALL {
        assert_eq!(LtrKind::from_name(kind.name()).unwrap(), kind);
    }
    let e = LtrKind::from_name("lambdaloss").unwrap_err().to_string();
    assert!(e.contains("lambdaloss") && e.contains("approxndcg"), "{e}");
}

/// Two queries, items interleaved, of lengths 5 and 3, with ids 7 and 3 (so query 3 comes
/// first in id order).
fn two_queries() -> (Vec<f64>, Vec<f64>, Vec<u32>) {
    let s = [0.3, -1.2, 0.8, 2.0, 0.1, -0.4, 1.5, 0.9];
    let rel = [1.0, 0.0, 2.0, 1.0, 3.0, 4.0, 0.0, 2.0];
    let ids = [7, 3, 7, 7, 3, 7, 3, 7];
    (s.to_vec(), rel.to_vec(), ids.to_vec())
}

fn alone(s: &[f64], rel: &[f64], ids: &[u32], id: u32) -> (Vec<f64>, Vec<f64>) {
    let pick = |v: &[f64]| -> Vec<f64> {
        v.iter()
            .zip(ids)
            .filter(|(_, &q)| q == id)
            .map(|(&x, _)| x)
            .collect()
    };
    (pick(s), pick(rel))
}

/// A loss as a function of scores, labels and optional query ids.
type LossFn = Box<dyn Fn(&Tensor, &Tensor, Option<&[u32]>) -> Tensor>;

/// Every loss with the given reduction, named: the six baselines and NDCG through softrank.
fn every_loss(reduction: Reduction) -> Vec<(String, LossFn)> {
    let mut out: Vec<(String, LossFn)> = Vec::new();
    for kind in LtrKind::ALL {
        let loss = ltr(kind, reduction);
        out.push((
            kind.name().to_string(),
            Box::new(move |s, r, ids| match ids {
                Some(ids) => loss.forward_lists(s, r, ids).unwrap(),
                None => loss.forward(s, r).unwrap(),
            }),
        ));
    }
    for (name, k) in [("ndcg", None), ("ndcg@2", Some(2))] {
        let loss = ndcg_loss(
            sodeep::spec::parse("softrank:eps=0.5").unwrap(),
            k,
            reduction,
        );
        out.push((
            name.to_string(),
            Box::new(move |s, r, ids| match ids {
                Some(ids) => loss.forward_lists(s, r, ids).unwrap(),
                None => loss.forward(s, r).unwrap(),
            }),
        ));
    }
    out
}

#[test]
fn queries_are_independent_and_pads_change_nothing() {
    let (s, rel, ids) = two_queries();
    for (name, f) in every_loss(Reduction::None) {
        let both = values(&f(&t64(&s), &t64(&rel), Some(&ids)));
        assert_eq!(both.len(), 2, "{name}: one value per query id");
        for (at, id) in [(0, 3u32), (1, 7)] {
            let (qs, qr) = alone(&s, &rel, &ids, id);
            let one = values(&f(&t64(&qs), &t64(&qr), None));
            assert_eq!(one.len(), 1);
            assert!(
                (both[at] - one[0]).abs() < 1e-12,
                "{name}, query {id}: {} together, {} alone",
                both[at],
                one[0]
            );
        }
        // Mean and Sum agree with the per-query values (every query here has a signal)
        let mean = scalar(&every_loss(Reduction::Mean)
            .into_iter()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1(&t64(&s), &t64(&rel), Some(&ids)));
        assert!(
            (mean - (both[0] + both[1]) / 2.0).abs() < 1e-12,
            "{name}: mean {mean}"
        );
    }
}

#[test]
fn a_batch_of_rows_is_a_batch_of_queries() {
    let rows = [[0.3, -1.2, 0.8, 2.0], [0.1, -0.4, 1.5, 0.9]];
    let rels = [[1.0, 0.0, 2.0, 3.0], [3.0, 4.0, 0.0, 2.0]];
    let s = Tensor::new(&rows, CPU).unwrap();
    let r = Tensor::new(&rels, CPU).unwrap();
    for (name, f) in every_loss(Reduction::None) {
        let batch = values(&f(&s, &r, None));
        assert_eq!(batch.len(), 2, "{name}");
        for q in 0..2 {
            let one = values(&f(&t64(&rows[q]), &t64(&rels[q]), None));
            assert!((batch[q] - one[0]).abs() < 1e-12, "{name}, row {q}");
        }
    }
}

#[test]
fn queries_without_a_relevant_item_count_for_nothing() {
    let s = t64(&[0.3, -1.2, 0.8, 2.0, 0.1]);
    let rel = t64(&[1.0, 0.0, 2.0, 0.0, 0.0]);
    let ids = [0, 0, 0, 1, 1]; // query 1 has no relevant item
    let (q0s, q0r) = (t64(&[0.3, -1.2, 0.8]), t64(&[1.0, 0.0, 2.0]));
    let none = ndcg_loss(sharp(), None, Reduction::None);
    let per = values(&none.forward_lists(&s, &rel, &ids).unwrap());
    assert_eq!(per[1], 0.0);
    let mean = ndcg_loss(sharp(), None, Reduction::Mean);
    let alone = scalar(&mean.forward(&q0s, &q0r).unwrap());
    assert!((scalar(&mean.forward_lists(&s, &rel, &ids).unwrap()) - alone).abs() < 1e-12);
    assert!((per[0] - alone).abs() < 1e-12);
    for kind in [LtrKind::RankNet, LtrKind::LambdaRank, LtrKind::ApproxNdcg] {
        let with = scalar(
            &ltr(kind, Reduction::Mean)
                .forward_lists(&s, &rel, &ids)
                .unwrap(),
        );
        let without = scalar(&ltr(kind, Reduction::Mean).forward(&q0s, &q0r).unwrap());
        assert!((with - without).abs() < 1e-12, "{}", kind.name());
        let sum = scalar(
            &ltr(kind, Reduction::Sum)
                .forward_lists(&s, &rel, &ids)
                .unwrap(),
        );
        assert!((sum - without).abs() < 1e-12, "{}", kind.name());
    }
    // nothing relevant anywhere: a 0 that still backpropagates
    let v = Var::new(&[0.3f64, -1.2, 0.8], CPU).unwrap();
    let zeros = t64(&[0.0, 0.0, 0.0]);
    for mean in [
        ndcg_loss(sharp(), None, Reduction::Mean)
            .forward(v.as_tensor(), &zeros)
            .unwrap(),
        ltr(LtrKind::RankNet, Reduction::Mean)
            .forward(v.as_tensor(), &zeros)
            .unwrap(),
        ltr(LtrKind::ApproxNdcg, Reduction::Sum)
            .forward(v.as_tensor(), &zeros)
            .unwrap(),
    ] {
        assert_eq!(mean.dims(), &[] as &[usize]);
        assert_eq!(scalar(&mean), 0.0);
        let g = mean.backward().unwrap();
        assert_eq!(values(g.get(v.as_tensor()).unwrap()), vec![0.0; 3]);
    }
}

/// Central finite differences of `f` against candle's backward, in f64.
fn check_gradient(name: &str, s: &[f64], f: &dyn Fn(&Tensor) -> Tensor, tol: f64) {
    let v = Var::new(s, CPU).unwrap();
    let loss = f(v.as_tensor());
    let grads = loss.backward().unwrap();
    let analytic = values(
        grads
            .get(v.as_tensor())
            .expect("a gradient reaches the scores"),
    );
    let h = 1e-6;
    for i in 0..s.len() {
        let (mut up, mut down) = (s.to_vec(), s.to_vec());
        up[i] += h;
        down[i] -= h;
        let numeric = (scalar(&f(&t64(&up))) - scalar(&f(&t64(&down)))) / (2.0 * h);
        assert!(
            (numeric - analytic[i]).abs() < tol * (1.0 + numeric.abs()),
            "{name}: d/ds_{i} = {} by backward, {numeric} by differences",
            analytic[i]
        );
    }
}

#[test]
fn gradients_agree_with_finite_differences() {
    // two queries (lengths 5 and 3, so the second is padded), distinct scores and labels
    let s = [0.3, -1.2, 0.8, 2.0, 0.1, -0.4, 1.5, 0.9];
    let rel = t64(&[1.0, 0.0, 2.0, 4.0, 3.0, 2.0, 0.0, 1.0]);
    let ids = [0u32, 0, 0, 0, 0, 1, 1, 1];
    for kind in LtrKind::ALL {
        for k in [None, Some(2)] {
            let loss = LtrLoss::new(
                kind,
                LtrConfig {
                    k,
                    sigma: 1.7,
                    temperature: 0.6,
                    ..LtrConfig::default()
                },
            );
            let f = |x: &Tensor| loss.forward_lists(x, &rel, &ids).unwrap();
            check_gradient(&format!("{} k={k:?}", kind.name()), &s, &f, 1e-6);
        }
    }
    for k in [None, Some(2)] {
        let loss = ndcg_loss(
            sodeep::spec::parse("softrank:eps=0.5").unwrap(),
            k,
            Reduction::Mean,
        );
        let f = |x: &Tensor| loss.forward_lists(x, &rel, &ids).unwrap();
        check_gradient(&format!("ndcg softrank k={k:?}"), &s, &f, 1e-6);
    }
    // RankNet at a tie: d/ds_0 log(1 + e^{−σ(s_0 − s_1)}) = −σ/2
    let v = Var::new(&[0.0f64, 0.0], CPU).unwrap();
    let loss = ltr(LtrKind::RankNet, Reduction::Mean)
        .forward(v.as_tensor(), &t64(&[1.0, 0.0]))
        .unwrap();
    let g = values(loss.backward().unwrap().get(v.as_tensor()).unwrap());
    assert!(
        (g[0] + 0.5).abs() < 1e-12 && (g[1] - 0.5).abs() < 1e-12,
        "{g:?}"
    );
}

#[test]
fn pairwise_losses_stay_finite_for_huge_score_gaps() {
    let v = Var::new(&[-1e4f32, 1e4, 0.0], CPU).unwrap();
    let rel = Tensor::new(&[2f32, 0.0, 1.0], CPU).unwrap();
    for kind in LtrKind::ALL {
        let loss = ltr(kind, Reduction::Mean)
            .forward(v.as_tensor(), &rel)
            .unwrap();
        let value = scalar(&loss);
        assert!(value.is_finite(), "{}: {value}", kind.name());
        let g = values(loss.backward().unwrap().get(v.as_tensor()).unwrap());
        assert!(g.iter().all(|x| x.is_finite()), "{}: {g:?}", kind.name());
    }
    // every pair is the wrong way round and costs its gap: (2e4 + 1e4 + 1e4) / 3
    let ranknet = scalar(
        &ltr(LtrKind::RankNet, Reduction::Mean)
            .forward(v.as_tensor(), &rel)
            .unwrap(),
    );
    assert!((ranknet - 4e4 / 3.0).abs() < 1.0, "{ranknet}");
}

#[test]
fn listmle_shuffles_tied_labels_with_its_seed() {
    let s = t64(&[0.3, -1.2, 0.8, 2.0]);
    let rel = t64(&[1.0, 1.0, 1.0, 0.0]);
    let run = |seed: u64| -> Vec<f64> {
        let loss = LtrLoss::new(
            LtrKind::ListMle,
            LtrConfig {
                seed,
                ..LtrConfig::default()
            },
        );
        (0..6)
            .map(|_| scalar(&loss.forward(&s, &rel).unwrap()))
            .collect()
    };
    assert_eq!(run(5), run(5));
    let draws = run(5);
    assert!(
        draws.iter().any(|&x| (x - draws[0]).abs() > 1e-9),
        "ties are shuffled: {draws:?}"
    );
}

/// 20 queries of 12 items with 5 features; labels 0–4 from a noisy linear function.
struct Problem {
    x: Tensor,
    rel: Vec<f64>,
}

fn problem() -> Problem {
    let (queries, items, features) = (20, 12, 5);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let w: Vec<f64> = (0..features).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mut x = Vec::new();
    let mut rel = Vec::new();
    for _ in 0..queries * items {
        let row: Vec<f64> = (0..features).map(|_| rng.random_range(-1.0..1.0)).collect();
        let z: f64 =
            row.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() + 0.2 * rng.random_range(-1.0..1.0);
        rel.push((z * 2.0 + 2.0).round().clamp(0.0, 4.0));
        x.extend(row.into_iter().map(|v| v as f32));
    }
    Problem {
        x: Tensor::from_vec(x, (queries * items, features), CPU).unwrap(),
        rel,
    }
}

fn mean_ndcg10(scores: &[f32], rel: &[f64]) -> f64 {
    let per: Vec<f64> = scores
        .chunks(12)
        .zip(rel.chunks(12))
        .filter_map(|(s, r)| {
            let s: Vec<f64> = s.iter().map(|&v| v.into()).collect();
            ndcg_at_k_gain(r, &s, Some(10), Gain::Exponential)
        })
        .collect();
    per.iter().sum::<f64>() / per.len() as f64
}

/// Trains `s = x·w` from a seeded random start; returns mean NDCG@10 before and after.
fn train(loss: &dyn Fn(&Tensor, &Tensor) -> Tensor) -> (f64, f64) {
    let p = problem();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let w0: Vec<f32> = (0..5).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let w = Var::from_tensor(&Tensor::from_vec(w0, (5, 1), CPU).unwrap()).unwrap();
    let rel = Tensor::from_vec(
        p.rel.iter().map(|&r| r as f32).collect::<Vec<_>>(),
        (20, 12),
        CPU,
    )
    .unwrap();
    let scores = |w: &Var| {
        p.x.matmul(w.as_tensor())
            .unwrap()
            .reshape((20, 12))
            .unwrap()
    };
    let ndcg = |w: &Var| mean_ndcg10(&scores(w).flatten_all().unwrap().to_vec1().unwrap(), &p.rel);
    let before = ndcg(&w);
    let params = ParamsAdamW {
        lr: 0.05,
        weight_decay: 0.0,
        ..ParamsAdamW::default()
    };
    let mut opt = AdamW::new(vec![w.clone()], params).unwrap();
    for _ in 0..30 {
        opt.backward_step(&loss(&scores(&w), &rel)).unwrap();
    }
    (before, ndcg(&w))
}

#[test]
fn every_loss_trains_a_linear_ranker() {
    let mut report = Vec::new();
    for kind in LtrKind::ALL {
        let loss = ltr(kind, Reduction::Mean);
        let (before, after) = train(&|s, r| loss.forward(s, r).unwrap());
        report.push((kind.name().to_string(), before, after));
    }
    let any_sharp: Arc<dyn Ranker> = Arc::new(Sorter::load("any-sharp").unwrap());
    for (name, ranker) in [
        (
            "ndcg softrank",
            sodeep::spec::parse("softrank:eps=0.1").unwrap(),
        ),
        (
            "ndcg neuralsort",
            sodeep::spec::parse("neuralsort").unwrap(),
        ),
        ("ndcg any-sharp", any_sharp),
    ] {
        let loss = ndcg_loss(ranker, None, Reduction::Mean);
        let (before, after) = train(&|s, r| loss.forward(s, r).unwrap());
        report.push((name.to_string(), before, after));
    }
    for (name, before, after) in &report {
        assert!(
            *after > before + 0.15,
            "{name}: mean NDCG@10 {before:.3} → {after:.3}; all: {report:?}"
        );
    }
}

/// Softrank restricted to one length, as a learned sorter is: it fails on any other.
struct FixedLen(usize, Arc<dyn Ranker>);

impl Ranker for FixedLen {
    fn name(&self) -> String {
        format!("fixed-{}", self.0)
    }
    fn fixed_len(&self) -> Option<usize> {
        Some(self.0)
    }
    fn rank(&self, scores: &Tensor) -> sodeep::Result<Tensor> {
        let n = scores.dim(1)?;
        if n != self.0 {
            return Err(sodeep::Error::LengthMismatch {
                row: 0,
                got: n,
                expected: self.0,
            });
        }
        self.1.rank(scores)
    }
}

#[test]
fn fixed_length_rankers_take_queries_of_any_length() {
    let fixed: Arc<dyn Ranker> = Arc::new(FixedLen(
        8,
        sodeep::spec::parse("softrank:eps=0.5").unwrap(),
    ));
    let any = sodeep::spec::parse("softrank:eps=0.5").unwrap();
    // queries of 3, 8 and 11 items: shorter than, equal to and longer than d
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let lens = [3usize, 8, 11];
    let ids: Vec<u32> = lens
        .iter()
        .enumerate()
        .flat_map(|(q, &n)| vec![q as u32; n])
        .collect();
    let s: Vec<f64> = ids.iter().map(|_| rng.random_range(-2.0..2.0)).collect();
    let rel: Vec<f64> = ids
        .iter()
        .map(|_| f64::from(rng.random_range(0u8..4)))
        .collect();
    let v = Var::new(s.as_slice(), CPU).unwrap();
    let per = ndcg_loss(fixed.clone(), None, Reduction::None)
        .forward_lists(v.as_tensor(), &t64(&rel), &ids)
        .unwrap();
    let per_v = values(&per);
    assert!(
        per_v
            .iter()
            .all(|x| x.is_finite() && (0.0..=1.0).contains(x)),
        "{per_v:?}"
    );
    // the query of length d goes to the sorter unpadded: exactly the any-length value
    let exact = values(
        &ndcg_loss(any, None, Reduction::None)
            .forward_lists(&t64(&s), &t64(&rel), &ids)
            .unwrap(),
    );
    assert!(
        (per_v[1] - exact[1]).abs() < 1e-12,
        "{} vs {}",
        per_v[1],
        exact[1]
    );
    let g = values(
        per.sum_all()
            .unwrap()
            .backward()
            .unwrap()
            .get(v.as_tensor())
            .unwrap(),
    );
    assert!(
        g.iter().all(|x| x.is_finite()) && g.iter().any(|&x| x != 0.0),
        "{g:?}"
    );
    // a short query in the right order scores better than reversed
    let loss = ndcg_loss(fixed, None, Reduction::Mean);
    let rel = t64(&[3.0, 2.0, 1.0, 0.0]);
    let good = scalar(&loss.forward(&t64(&[4.0, 3.0, 2.0, 1.0]), &rel).unwrap());
    let bad = scalar(&loss.forward(&t64(&[1.0, 2.0, 3.0, 4.0]), &rel).unwrap());
    assert!(good < bad, "{good} vs {bad}");
}

#[test]
fn a_learned_fixed_length_sorter_takes_a_short_query() {
    let cnn = Arc::new(Sorter::load("cnn-100").unwrap());
    assert_eq!(cnn.fixed_len(), Some(100));
    let v = Var::new(&[0.3f32, -1.2, 0.8, 2.0, 0.1, -0.4, 1.5], CPU).unwrap();
    let rel = Tensor::new(&[1f32, 0.0, 2.0, 4.0, 3.0, 0.0, 1.0], CPU).unwrap();
    let loss = ndcg_loss(cnn, Some(5), Reduction::Mean)
        .forward(v.as_tensor(), &rel)
        .unwrap();
    let value = scalar(&loss);
    assert!(value.is_finite() && (0.0..=1.0).contains(&value), "{value}");
    let g = values(loss.backward().unwrap().get(v.as_tensor()).unwrap());
    assert!(
        g.iter().all(|x| x.is_finite()) && g.iter().any(|&x| x != 0.0),
        "{g:?}"
    );
}

fn err_of(r: sodeep::Result<Tensor>) -> String {
    match r {
        Ok(t) => panic!("expected an error, got {t}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_input_is_an_error_that_says_what_is_wrong() {
    let s = t64(&[0.1, 0.2, 0.3]);
    let ndcg = ndcg_loss(sharp(), None, Reduction::Mean);
    let ranknet = ltr(LtrKind::RankNet, Reduction::Mean);
    let cases: Vec<(Tensor, Tensor, Option<Vec<u32>>, &str)> = vec![
        (s.clone(), t64(&[1.0, 0.0]), None, "relevance labels"),
        (s.clone(), t64(&[1.0, -1.0, 0.0]), None, "≥ 0"),
        (s.clone(), t64(&[1.0, f64::NAN, 0.0]), None, "finite"),
        (s.clone(), t64(&[1.0, f64::INFINITY, 0.0]), None, "finite"),
        (
            s.clone(),
            t64(&[1.0, 0.0, 2.0]),
            Some(vec![0, 1]),
            "query ids",
        ),
        (t64(&[]), t64(&[]), None, "no item"),
        (
            Tensor::zeros((2, 3), DType::F64, CPU).unwrap(),
            t64(&[1.0, 0.0, 2.0]),
            None,
            "batch",
        ),
        (
            Tensor::zeros((2, 3, 1), DType::F64, CPU).unwrap(),
            t64(&[1.0, 0.0, 2.0]),
            None,
            "vector",
        ),
    ];
    for (scores, rel, ids, what) in &cases {
        for (name, e) in [
            (
                "ndcg",
                match ids {
                    Some(ids) => err_of(ndcg.forward_lists(scores, rel, ids)),
                    None => err_of(ndcg.forward(scores, rel)),
                },
            ),
            (
                "ranknet",
                match ids {
                    Some(ids) => err_of(ranknet.forward_lists(scores, rel, ids)),
                    None => err_of(ranknet.forward(scores, rel)),
                },
            ),
        ] {
            assert!(e.contains(what), "{name}: '{e}' should mention '{what}'");
        }
    }
    let rel = t64(&[1.0, 0.0, 2.0]);
    for (config, what) in [
        (
            LtrConfig {
                sigma: 0.0,
                ..LtrConfig::default()
            },
            "sigma",
        ),
        (
            LtrConfig {
                sigma: -1.0,
                ..LtrConfig::default()
            },
            "sigma",
        ),
        (
            LtrConfig {
                sigma: f64::NAN,
                ..LtrConfig::default()
            },
            "sigma",
        ),
        (
            LtrConfig {
                temperature: 0.0,
                ..LtrConfig::default()
            },
            "temperature",
        ),
        (
            LtrConfig {
                temperature: f64::INFINITY,
                ..LtrConfig::default()
            },
            "temperature",
        ),
        (
            LtrConfig {
                k: Some(0),
                ..LtrConfig::default()
            },
            "k = 0",
        ),
    ] {
        for kind in LtrKind::ALL {
            let e = err_of(LtrLoss::new(kind, config).forward(&s, &rel));
            assert!(
                e.contains(what),
                "{}: '{e}' should mention '{what}'",
                kind.name()
            );
        }
    }
    let e = err_of(ndcg_loss(sharp(), Some(0), Reduction::Mean).forward(&s, &rel));
    assert!(e.contains("k = 0"), "{e}");
}

/// Labels whose exponential gain overflows (from 1024) or is inexact (above 53) are an error
/// naming the label, not a NaN loss; the linear gain and the losses without gains take them.
#[test]
fn labels_beyond_the_exponential_gain_are_an_error_not_nan() {
    let s = t64(&[0.1, 0.2, 0.3]);
    for label in [54.0, 1024.0, 2000.0] {
        let rel = t64(&[label, 0.0, 1.0]);
        let ndcg = err_of(ndcg_loss(sharp(), None, Reduction::Mean).forward(&s, &rel));
        let lambdarank = err_of(ltr(LtrKind::LambdaRank, Reduction::Mean).forward(&s, &rel));
        let approx = err_of(ltr(LtrKind::ApproxNdcg, Reduction::Mean).forward(&s, &rel));
        for e in [ndcg, lambdarank, approx] {
            assert!(
                e.contains("relevance label 0 is") && e.contains("53"),
                "{e}"
            );
        }
        let linear = LtrLoss::new(
            LtrKind::LambdaRank,
            LtrConfig {
                gain: Gain::Linear,
                ..LtrConfig::default()
            },
        );
        assert!(scalar(&linear.forward(&s, &rel).unwrap()).is_finite());
        let ranknet = ltr(LtrKind::RankNet, Reduction::Mean).forward(&s, &rel);
        assert!(scalar(&ranknet.unwrap()).is_finite());
    }
}
