//! Exact ranks and metrics against scipy / scikit-learn (fixtures), plus properties.

use std::path::Path;

use proptest::prelude::*;
use serde_json::Value;
use sodeep::metrics::*;
use sodeep::rank::{rank_ascending, sodeep_rank, sodeep_rank_tensor, TieMethod};

fn load(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn vecf(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() <= 1e-9, "{what}: {a} vs {b}");
}

fn close_all(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: length");
    for (x, y) in a.iter().zip(b) {
        // the SoDeep ranks in the fixture are printed with 12 decimals
        assert!(
            (x - y).abs() <= 1e-9 + 1e-12 * 1000.0,
            "{what}: {a:?} vs {b:?}"
        );
    }
}

#[test]
fn ranks_match_fixture() {
    let f = load("ranks.json");
    for case in f["cases"].as_array().unwrap() {
        let s = vecf(&case["scores"]);
        close_all(
            &sodeep_rank(&s),
            &vecf(&case["sodeep_rank_desc_normalized"]),
            "sodeep",
        );
        for (key, m) in [
            ("rank_asc_ordinal", TieMethod::Ordinal),
            ("rank_asc_average", TieMethod::Average),
            ("rank_asc_min", TieMethod::Min),
        ] {
            close_all(&rank_ascending(&s, m), &vecf(&case[key]), key);
        }
        // f32 input gives the same ranks when the values stay distinct in f32
        let s32: Vec<f32> = s.iter().map(|&v| v as f32).collect();
        let t =
            candle_core::Tensor::from_vec(s32.clone(), (1, s32.len()), &candle_core::Device::Cpu)
                .unwrap();
        let r: Vec<Vec<f32>> = sodeep_rank_tensor(&t).unwrap().to_vec2().unwrap();
        let want = sodeep_rank(&s32);
        for (a, b) in r[0].iter().zip(&want) {
            assert!((*a as f64 - b).abs() < 1e-6);
        }
    }
}

#[test]
fn correlations_match_scipy() {
    let f = load("metrics.json");
    for c in f["correlation"].as_array().unwrap() {
        let (x, y) = (vecf(&c["x"]), vecf(&c["y"]));
        close(
            spearman(&x, &y),
            c["spearman"].as_f64().unwrap(),
            "spearman",
        );
        close(pearson(&x, &y), c["pearson"].as_f64().unwrap(), "pearson");
        close(
            kendall_tau_b(&x, &y),
            c["kendall_tau_b"].as_f64().unwrap(),
            "kendall",
        );
    }
}

fn labels(v: &Value) -> Vec<bool> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() > 0.5)
        .collect()
}

#[test]
fn average_precision_and_map_match_sklearn() {
    let f = load("metrics.json");
    let cases = f["average_precision"].as_array().unwrap();
    for c in cases {
        let ap = average_precision(&vecf(&c["scores"]), &labels(&c["labels"])).unwrap();
        close(ap, c["average_precision"].as_f64().unwrap(), "ap");
    }
    // mAP over columns = mean of the per-column APs; build a 2-column matrix from two
    // equally long cases, plus a column without positives that must be skipped.
    let n = 10;
    let (a, b) = (&cases[1], &cases[1]);
    let (sa, la, sb, lb) = (
        vecf(&a["scores"]),
        labels(&a["labels"]),
        vecf(&b["scores"]),
        labels(&b["labels"]),
    );
    let mut s = Vec::new();
    let mut l = Vec::new();
    for r in 0..n {
        s.extend([sa[r], -sb[r], 0.3]);
        l.extend([la[r], lb[r], false]);
    }
    let ap_b = average_precision(&sb.iter().map(|v| -v).collect::<Vec<_>>(), &lb).unwrap();
    let want = (a["average_precision"].as_f64().unwrap() + ap_b) / 2.0;
    close(mean_average_precision(&s, &l, 3).unwrap(), want, "map");
    assert!(average_precision(&[0.1, 0.2], &[false, false]).is_none());
}

#[test]
fn ndcg_matches_sklearn() {
    let f = load("metrics.json");
    for c in f["ndcg"].as_array().unwrap() {
        let (rel, s) = (vecf(&c["relevance"]), vecf(&c["scores"]));
        for (key, k) in [
            ("ndcg@1", Some(1)),
            ("ndcg@3", Some(3)),
            ("ndcg@5", Some(5)),
            ("ndcg@10", Some(10)),
            ("ndcg@all", None),
        ] {
            close(ndcg_at_k(&rel, &s, k), c[key].as_f64().unwrap(), key);
        }
    }
}

#[test]
fn recall_and_median_rank_match_fixture() {
    let f = load("metrics.json");
    for c in f["recall"].as_array().unwrap() {
        let rows = c["similarity"].as_array().unwrap();
        let n = rows.len();
        let flat: Vec<f64> = rows.iter().flat_map(vecf).collect();
        let ranks = positive_ranks(&flat, n);
        let want: Vec<usize> = vecf(&c["rank_of_positive_1based"])
            .iter()
            .map(|&v| v as usize)
            .collect();
        assert_eq!(ranks, want);
        for (key, k) in [("recall@1", 1), ("recall@5", 5), ("recall@10", 10)] {
            close(recall_at_k(&ranks, k), c[key].as_f64().unwrap(), key);
        }
        close(
            median_rank(&ranks),
            c["median_rank"].as_f64().unwrap(),
            "median",
        );
    }
}

#[test]
fn full_ties_follow_the_index_rule() {
    assert_eq!(sodeep_rank(&[2.0f64; 4]), vec![0.25, 0.5, 0.75, 1.0]);
    assert_eq!(
        rank_ascending(&[2.0f64; 3], TieMethod::Average),
        vec![2.0; 3]
    );
}

proptest! {
    #[test]
    fn sodeep_rank_is_a_permutation(v in prop::collection::vec(-1e3f64..1e3, 1..60)) {
        let d = v.len() as f64;
        let r = sodeep_rank(&v);
        let mut k: Vec<usize> = r.iter().map(|x| (x * d).round() as usize).collect();
        k.sort_unstable();
        prop_assert_eq!(k, (1..=v.len()).collect::<Vec<_>>());
        // larger score, smaller rank
        for i in 0..v.len() { for j in 0..v.len() {
            if v[i] > v[j] { prop_assert!(r[i] < r[j]); }
        }}
        // ordinal ascending rank and SoDeep rank mirror each other when values are distinct
        let asc = rank_ascending(&v, TieMethod::Average);
        let mn = rank_ascending(&v, TieMethod::Min);
        for i in 0..v.len() { prop_assert!(mn[i] <= asc[i]); }
    }

    #[test]
    fn spearman_of_monotone_map_is_one(v in prop::collection::vec(-10f64..10.0, 3..40)) {
        let w: Vec<f64> = v.iter().map(|x| x.powi(3) + 2.0 * x).collect();
        let r = spearman(&v, &w);
        prop_assume!(!r.is_nan());
        prop_assert!((r - 1.0).abs() < 1e-9);
        prop_assert!((kendall_tau_b(&v, &w) - 1.0).abs() < 1e-9);
    }
}

#[test]
fn retrieval_ties_count_against_the_model() {
    // a constant embedding: every similarity equal; no query may look solved
    let n = 4;
    let flat = vec![0.5f64; n * n];
    let ranks = positive_ranks(&flat, n);
    assert_eq!(ranks, vec![n; n]);
    assert_eq!(recall_at_k(&ranks, 1), 0.0);
    assert_eq!(median_rank(&ranks), n as f64);
    // one tie with the positive: rank 2
    let flat = [1.0f64, 1.0, 0.0, 0.0, 1.0, 0.5, 0.2, 0.9, 0.3];
    assert_eq!(positive_ranks(&flat, 3), vec![2, 1, 2]);
}

#[test]
fn argsort_breaks_ties_by_index_at_every_length() {
    // long rows of f32 values take the radix sort, short ones the comparison sort: both must
    // give the stable descending order (ties by index), negative zeros and extremes included
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    for n in [1, 2, 255, 256, 257, 1000, 4099] {
        for levels in [3u32, 1000, u32::MAX] {
            let x: Vec<f64> = (0..n)
                .map(|i| match i % 97 {
                    0 => -0.0,
                    1 => f64::from(f32::MAX),
                    2 => f64::from(f32::MIN),
                    _ => f64::from((rng.random_range(0..levels) as f32 - 500.0) * 0.37),
                })
                .collect();
            let mut want: Vec<usize> = (0..n).collect();
            // a stable sort on the descending values (−0 below +0, as IEEE total order has it)
            want.sort_by(|&a, &b| x[b].total_cmp(&x[a]));
            assert_eq!(
                sodeep::rank::argsort_desc(&x),
                want,
                "n = {n}, {levels} levels"
            );
        }
    }
}
