//! Rank metrics as pure functions on slices: correlation (Spearman, Pearson, Kendall tau-b),
//! average precision and mAP, NDCG@k (linear or exponential gains), reciprocal rank, and
//! Recall@K / median rank on similarity matrices.
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

/// The gain of a relevance label in DCG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Gain {
    /// `2^rel − 1` (default): the usual gain of learning-to-rank benchmarks, which rewards a
    /// highly relevant item far more than a marginally relevant one.
    #[default]
    Exponential,
    /// `rel` (scikit-learn's `ndcg_score`).
    Linear,
}

/// The largest label the exponential gain takes: `2^53 − 1` is the largest gain that f64
/// holds exactly, and DCG sums of such gains stay finite (labels from 1024 on made the gain
/// infinite and NDCG NaN). Larger grades are better served by [`Gain::Linear`].
pub const MAX_EXPONENTIAL_LABEL: f64 = 53.0;

impl Gain {
    /// Refuses labels this gain cannot use: above [`MAX_EXPONENTIAL_LABEL`] for the
    /// exponential gain, whose `2^rel − 1` would be inexact or overflow. The losses that weigh
    /// items by gain call it, so a label out of range is an error rather than a NaN loss.
    pub fn check_labels(self, labels: &[f64]) -> crate::error::Result<()> {
        if self == Self::Linear {
            return Ok(());
        }
        match labels.iter().position(|&r| r > MAX_EXPONENTIAL_LABEL) {
            None => Ok(()),
            Some(i) => Err(crate::error::Error::InvalidArgument(format!(
                "relevance label {i} is {}: the exponential gain 2^rel − 1 takes labels up to \
                 {MAX_EXPONENTIAL_LABEL} (beyond, it is inexact and overflows from 1024); map \
                 the grades onto a smaller range, or use the linear gain",
                labels[i]
            ))),
        }
    }

    /// The gain of relevance `rel` (for the exponential gain, labels up to
    /// [`MAX_EXPONENTIAL_LABEL`]; see [`Gain::check_labels`]).
    pub fn apply(self, rel: f64) -> f64 {
        match self {
            Self::Exponential => rel.exp2() - 1.0,
            Self::Linear => rel,
        }
    }

    /// Parses `exp` or `linear`.
    pub fn from_name(name: &str) -> crate::error::Result<Self> {
        match name {
            "exp" => Ok(Self::Exponential),
            "linear" => Ok(Self::Linear),
            other => Err(crate::error::Error::InvalidArgument(format!(
                "unknown gain '{other}': use exp (2^rel − 1) or linear (rel)"
            ))),
        }
    }

    /// `exp` or `linear`, as [`Gain::from_name`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Exponential => "exp",
            Self::Linear => "linear",
        }
    }
}

/// The log2 discount of 1-based position `p`: `1 / log2(1 + p)`.
pub(crate) fn discount(p: f64) -> f64 {
    1.0 / (1.0 + p).log2()
}

/// The ideal DCG of `gains`: the largest gains at the first `k` positions.
pub(crate) fn ideal_dcg(gains: &[f64], k: usize) -> f64 {
    let mut ideal = gains.to_vec();
    ideal.sort_by(|a, b| b.total_cmp(a));
    ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, g)| g / ((i + 2) as f64).log2())
        .sum()
}

/// Tie-averaged DCG over ideal DCG, `None` when the ideal DCG is 0.
fn ndcg_of_gains(gains: &[f64], scores: &[f64], k: usize) -> Option<f64> {
    let idcg = ideal_dcg(gains, k);
    (idcg != 0.0).then(|| tie_averaged_dcg(gains, scores, k) / idcg)
}

/// NDCG@k with linear gains and log2 discount, ties averaged as in scikit-learn's `ndcg_score`.
/// `k = None` uses the whole list. Returns 0 when every relevance is 0.
pub fn ndcg_at_k<T: Copy + Into<f64>>(relevance: &[T], scores: &[T], k: Option<usize>) -> f64 {
    let (rel, s) = (to_f64(relevance), to_f64(scores));
    let k = k.unwrap_or(rel.len());
    ndcg_of_gains(&rel, &s, k).unwrap_or(0.0)
}

/// NDCG@k with the given gain: `Σ_p G(rel_(p)) / log2(1 + p)` over the first k positions p of
/// the descending score order, over the same sum for the ideal order. Tied scores share the
/// mean gain of their group, as in [`ndcg_at_k`]. `k = None` uses the whole list.
///
/// `None` when the ideal DCG is 0 (no relevant item, or `k = Some(0)`) or when the lengths
/// differ: the caller decides what such a query counts as.
///
/// ```
/// use sodeep::metrics::{ndcg_at_k_gain, Gain};
/// // relevance 2 ranked second, 1 first: (1/1 + 3/log2 3) / (3/1 + 1/log2 3)
/// let v = ndcg_at_k_gain(&[1.0, 2.0], &[0.9, 0.1], None, Gain::Exponential).unwrap();
/// let l3 = 3f64.log2();
/// assert!((v - (1.0 + 3.0 / l3) / (3.0 + 1.0 / l3)).abs() < 1e-12);
/// assert!(ndcg_at_k_gain(&[0.0, 0.0], &[0.9, 0.1], None, Gain::Exponential).is_none());
/// ```
pub fn ndcg_at_k_gain<T: Copy + Into<f64>>(
    relevance: &[T],
    scores: &[T],
    k: Option<usize>,
    gain: Gain,
) -> Option<f64> {
    if relevance.len() != scores.len() {
        return None;
    }
    let gains: Vec<f64> = relevance.iter().map(|&r| gain.apply(r.into())).collect();
    let k = k.unwrap_or(gains.len());
    ndcg_of_gains(&gains, &to_f64(scores), k)
}

/// Reciprocal rank: `1 / p`, p the 1-based position of the first relevant item in descending
/// score order. Ties count against the model: a non-relevant item scored exactly like a
/// relevant one ranks ahead of it. `None` when nothing is relevant or the lengths differ.
///
/// ```
/// use sodeep::metrics::reciprocal_rank;
/// assert_eq!(reciprocal_rank(&[0.9f64, 0.5, 0.1], &[false, true, false]), Some(0.5));
/// // tied with a non-relevant item: second, not first
/// assert_eq!(reciprocal_rank(&[0.5f64, 0.5], &[true, false]), Some(0.5));
/// ```
pub fn reciprocal_rank<T: Copy + Into<f64>>(scores: &[T], relevant: &[bool]) -> Option<f64> {
    if scores.len() != relevant.len() {
        return None;
    }
    let s = to_f64(scores);
    // the best-scored relevant item comes first among the relevant ones
    let best = (0..s.len())
        .filter(|&i| relevant[i])
        .map(|i| s[i])
        .max_by(|a, b| a.total_cmp(b))?;
    let ahead = (0..s.len())
        .filter(|&j| match s[j].total_cmp(&best) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => !relevant[j],
            std::cmp::Ordering::Less => false,
        })
        .count();
    Some(1.0 / (1 + ahead) as f64)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_gains_on_four_items() {
        // scores order the items 0, 1, 2, 3; relevance 3, 0, 2, 1 → gains 7, 0, 3, 1
        let rel = [3.0, 0.0, 2.0, 1.0];
        let scores = [0.9, 0.8, 0.7, 0.6];
        let d = |p: f64| 1.0 / (1.0 + p).log2();
        let dcg = 7.0 * d(1.0) + 0.0 * d(2.0) + 3.0 * d(3.0) + 1.0 * d(4.0);
        let idcg = 7.0 * d(1.0) + 3.0 * d(2.0) + 1.0 * d(3.0);
        let v = ndcg_at_k_gain(&rel, &scores, None, Gain::Exponential).unwrap();
        assert!((v - dcg / idcg).abs() < 1e-12, "{v} vs {}", dcg / idcg);
        // top 2: 7·1 + 0 against 7·1 + 3/log2 3
        let v2 = ndcg_at_k_gain(&rel, &scores, Some(2), Gain::Exponential).unwrap();
        assert!((v2 - 7.0 / (7.0 + 3.0 * d(2.0))).abs() < 1e-12);
    }

    #[test]
    fn linear_gain_matches_the_existing_ndcg() {
        let rel = [3.0, 0.0, 2.0, 1.0, 2.0];
        let scores = [0.1, 0.5, 0.5, 0.9, 0.2]; // a tie between items 1 and 2
        for k in [None, Some(1), Some(2), Some(3), Some(5), Some(9)] {
            let a = ndcg_at_k(&rel, &scores, k);
            let b = ndcg_at_k_gain(&rel, &scores, k, Gain::Linear).unwrap();
            assert_eq!(a.to_bits(), b.to_bits(), "k = {k:?}");
        }
    }

    #[test]
    fn ties_average_the_gains() {
        // both items tied: each position gets the mean gain (3 + 0) / 2
        let d = |p: f64| 1.0 / (1.0 + p).log2();
        let v = ndcg_at_k_gain(&[2.0, 0.0], &[0.5, 0.5], None, Gain::Exponential).unwrap();
        assert!((v - 1.5 * (d(1.0) + d(2.0)) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn no_relevant_item_is_none_for_the_gain_form_and_zero_for_the_linear_one() {
        assert!(ndcg_at_k_gain(&[0.0, 0.0], &[1.0, 2.0], None, Gain::Exponential).is_none());
        assert!(ndcg_at_k_gain(&[1.0, 0.0], &[1.0, 2.0], Some(0), Gain::Linear).is_none());
        assert!(ndcg_at_k_gain(&[1.0], &[1.0, 2.0], None, Gain::Linear).is_none());
        assert_eq!(ndcg_at_k(&[0.0, 0.0], &[1.0, 2.0], None), 0.0);
    }

    #[test]
    fn gain_names_round_trip() {
        for g in [Gain::Exponential, Gain::Linear] {
            assert_eq!(Gain::from_name(g.name()).unwrap(), g);
        }
        assert_eq!(Gain::default(), Gain::Exponential);
        assert_eq!(Gain::Exponential.apply(3.0), 7.0);
        assert_eq!(Gain::Linear.apply(3.0), 3.0);
        // labels whose exponential gain overflows (1024) or is inexact (54) are refused
        for bad in [54.0, 1024.0, 2000.0] {
            let e = Gain::Exponential.check_labels(&[1.0, bad]).unwrap_err();
            assert!(e.to_string().contains("relevance label 1 is"), "{e}");
        }
        assert!(Gain::Exponential.check_labels(&[0.0, 53.0]).is_ok());
        assert!(Gain::Linear.check_labels(&[1e30]).is_ok());
        assert!(Gain::from_name("exponential").is_err());
    }

    #[test]
    fn reciprocal_rank_counts_ties_pessimistically() {
        assert_eq!(
            reciprocal_rank(&[0.1f64, 0.9, 0.5], &[true, false, false]),
            Some(1.0 / 3.0)
        );
        assert_eq!(
            reciprocal_rank(&[0.1f64, 0.9, 0.5], &[true, false, true]),
            Some(0.5)
        );
        // tied with two non-relevant items, one relevant tie does not count against
        assert_eq!(
            reciprocal_rank(&[0.5f64, 0.5, 0.5, 0.5], &[true, true, false, false]),
            Some(1.0 / 3.0)
        );
        assert_eq!(reciprocal_rank(&[0.5f64, 0.4], &[false, false]), None);
        assert_eq!(reciprocal_rank(&[0.5f64], &[false, true]), None);
    }
}
