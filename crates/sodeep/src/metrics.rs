//! Rank metrics as pure functions on slices: correlation (Spearman, Pearson, Kendall tau-b),
//! average precision and mAP, NDCG@k, and Recall@K / median rank on similarity matrices.
//!
//! Conventions follow scipy and scikit-learn so that figures compare one to one; the tests check
//! them against values computed with those libraries.
//!
//! Spearman's ρ is Pearson's correlation of the average ranks; AP is
//! `Σ_k P@k · rel_k / #relevant` over the positions k of the descending order.
//!
//! ```
//! use sodeep::metrics::{average_precision, spearman};
//! assert!((spearman(&[1.0f64, 2.0, 3.0, 4.0], &[10.0, 20.0, 30.0, 40.0]) - 1.0).abs() < 1e-12);
//! // relevant items ranked 1st and 3rd: AP = (1/1 + 2/3) / 2
//! let ap = average_precision(&[0.9f64, 0.8, 0.7], &[true, false, true]).unwrap();
//! assert!((ap - 5.0 / 6.0).abs() < 1e-12);
//! ```

use crate::rank::{rank_ascending, TieMethod};

fn to_f64<T: Copy + Into<f64>>(x: &[T]) -> Vec<f64> {
    x.iter().map(|&v| v.into()).collect()
}

/// Pearson correlation. `NaN` when either input is constant or the lengths differ.
pub fn pearson<T: Copy + Into<f64>>(x: &[T], y: &[T]) -> f64 {
    if x.len() != y.len() || x.is_empty() {
        return f64::NAN;
    }
    let (x, y) = (to_f64(x), to_f64(y));
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(&y) {
        let (da, db) = (a - mx, b - my);
        sxy += da * db;
        sxx += da * da;
        syy += db * db;
    }
    if sxx == 0.0 || syy == 0.0 {
        return f64::NAN;
    }
    (sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0)
}

/// Spearman correlation: Pearson on average ranks (ties share their mean rank).
pub fn spearman<T: Copy + Into<f64>>(x: &[T], y: &[T]) -> f64 {
    pearson(
        &rank_ascending(x, TieMethod::Average),
        &rank_ascending(y, TieMethod::Average),
    )
}

/// Kendall tau-b, which corrects for ties in either variable. `NaN` if either is constant.
pub fn kendall_tau_b<T: Copy + Into<f64>>(x: &[T], y: &[T]) -> f64 {
    if x.len() != y.len() || x.len() < 2 {
        return f64::NAN;
    }
    let (x, y) = (to_f64(x), to_f64(y));
    let n = x.len();
    let (mut s, mut tied_x, mut tied_y) = (0i64, 0i64, 0i64);
    for i in 0..n {
        for j in (i + 1)..n {
            let dx = x[i].total_cmp(&x[j]) as i64;
            let dy = y[i].total_cmp(&y[j]) as i64;
            s += dx * dy;
            tied_x += (dx == 0) as i64;
            tied_y += (dy == 0) as i64;
        }
    }
    let n0 = (n * (n - 1) / 2) as i64;
    let denom = ((n0 - tied_x) as f64 * (n0 - tied_y) as f64).sqrt();
    if denom == 0.0 {
        return f64::NAN;
    }
    s as f64 / denom
}

/// Average precision of `scores` for binary `labels`, as scikit-learn computes it:
/// `Σ_k (R_k − R_{k−1}) P_k` over the distinct score thresholds, tied scores entering together.
/// `None` when there is no positive.
pub fn average_precision<T: Copy + Into<f64>>(scores: &[T], labels: &[bool]) -> Option<f64> {
    let positives = labels.iter().filter(|&&l| l).count();
    if positives == 0 || scores.len() != labels.len() {
        return None;
    }
    let s = to_f64(scores);
    let mut order: Vec<usize> = (0..s.len()).collect();
    order.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
    let (mut tp, mut fp, mut ap, mut prev_recall) = (0usize, 0usize, 0.0, 0.0);
    let mut k = 0;
    while k < order.len() {
        let v = s[order[k]];
        while k < order.len() && s[order[k]] == v {
            if labels[order[k]] {
                tp += 1;
            } else {
                fp += 1;
            }
            k += 1;
        }
        let recall = tp as f64 / positives as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    Some(ap)
}

/// Mean average precision over label columns (macro average). `scores` and `labels` are
/// row-major `n × c`; columns without a positive are skipped. `None` if no column has one.
pub fn mean_average_precision<T: Copy + Into<f64>>(
    scores: &[T],
    labels: &[bool],
    columns: usize,
) -> Option<f64> {
    if columns == 0 || scores.len() != labels.len() || !scores.len().is_multiple_of(columns) {
        return None;
    }
    let n = scores.len() / columns;
    let mut sum = 0.0;
    let mut counted = 0;
    for c in 0..columns {
        let col_s: Vec<f64> = (0..n).map(|r| scores[r * columns + c].into()).collect();
        let col_l: Vec<bool> = (0..n).map(|r| labels[r * columns + c]).collect();
        if let Some(ap) = average_precision(&col_s, &col_l) {
            sum += ap;
            counted += 1;
        }
    }
    (counted > 0).then(|| sum / counted as f64)
}

/// DCG with scikit-learn's tie averaging: tied scores share the mean gain of their group,
/// spread over the discounts of the positions they span. Positions past `k` are not counted.
fn tie_averaged_dcg(relevance: &[f64], scores: &[f64], k: usize) -> f64 {
    let n = scores.len();
    let discount_cumsum: Vec<f64> = (0..n)
        .scan(0.0, |acc, i| {
            if i < k {
                *acc += 1.0 / ((i + 2) as f64).log2();
            }
            Some(*acc)
        })
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut dcg, mut start, mut prev_cum) = (0.0, 0, 0.0);
    while start < n {
        let v = scores[order[start]];
        let mut end = start;
        let mut gain = 0.0;
        while end < n && scores[order[end]] == v {
            gain += relevance[order[end]];
            end += 1;
        }
        let mean_gain = gain / (end - start) as f64;
        let cum = discount_cumsum[end - 1];
        dcg += mean_gain * (cum - prev_cum);
        prev_cum = cum;
        start = end;
    }
    dcg
}

/// NDCG@k with linear gains and log2 discount, ties averaged as in scikit-learn's `ndcg_score`.
/// `k = None` uses the whole list. Returns 0 when every relevance is 0.
pub fn ndcg_at_k<T: Copy + Into<f64>>(relevance: &[T], scores: &[T], k: Option<usize>) -> f64 {
    let (rel, s) = (to_f64(relevance), to_f64(scores));
    let k = k.unwrap_or(rel.len());
    let dcg = tie_averaged_dcg(&rel, &s, k);
    let mut ideal = rel.clone();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, g)| g / ((i + 2) as f64).log2())
        .sum();
    if idcg == 0.0 {
        0.0
    } else {
        dcg / idcg
    }
}

/// For a square similarity matrix (row-major `n × n`) whose positive for query `i` is column `i`:
/// the 1-based rank of each positive, `1 + #{j ≠ i : s[i][j] ≥ s[i][i]}`.
///
/// Ties count against the model (the pessimistic rule): a negative scored exactly like the
/// positive ranks above it, so a constant embedding gets rank n for every query, not 1.
pub fn positive_ranks<T: Copy + Into<f64>>(similarity: &[T], n: usize) -> Vec<usize> {
    (0..n)
        .map(|i| {
            let row = &similarity[i * n..(i + 1) * n];
            let pos: f64 = row[i].into();
            1 + row
                .iter()
                .enumerate()
                .filter(|&(j, &v)| j != i && v.into() >= pos)
                .count()
        })
        .collect()
}

/// Fraction of queries whose positive ranks within the top `k` (see [`positive_ranks`]).
pub fn recall_at_k(positive_ranks: &[usize], k: usize) -> f64 {
    if positive_ranks.is_empty() {
        return f64::NAN;
    }
    positive_ranks.iter().filter(|&&r| r <= k).count() as f64 / positive_ranks.len() as f64
}

/// Median of the positive ranks (mean of the two middle ones for an even count).
pub fn median_rank(positive_ranks: &[usize]) -> f64 {
    if positive_ranks.is_empty() {
        return f64::NAN;
    }
    let mut r = positive_ranks.to_vec();
    r.sort_unstable();
    let m = r.len() / 2;
    if r.len() % 2 == 1 {
        r[m] as f64
    } else {
        (r[m - 1] + r[m]) as f64 / 2.0
    }
}

/// Mean absolute error between two equally long slices (the paper's sorter L1).
pub fn mean_abs_error<T: Copy + Into<f64>>(a: &[T], b: &[T]) -> f64 {
    let n = a.len().min(b.len());
    if n == 0 {
        return f64::NAN;
    }
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x.into() - y.into()).abs())
        .sum::<f64>()
        / n as f64
}
