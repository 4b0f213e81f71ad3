//! `ranknet` and `lambdarank`: a logistic loss on every pair `(i, j)` of one query with
//! `rel_i > rel_j`, `log(1 + exp(−σ(s_i − s_j)))`, averaged over the query's pairs (RankNet) or
//! weighted by `|ΔNDCG_ij|` and summed (LambdaRank, as in Burges 2010 and LightGBM).

use candle_core::Tensor;

use super::layout::{Layout, PerQuery};
use crate::error::Result;
use crate::metrics::{discount, ideal_dcg, Gain};

/// `log(1 + e^x)` without overflow: with `a = min(x, 0)` and `b = max(x, 0)` (one of them is 0),
/// `log(1 + e^x) = b + log(e^a + e^{−b})`, whose exponentials never exceed 1 and whose
/// argument of the log is at least 1. At `x = 0` candle splits the gradient of min and max
/// evenly, which gives the exact derivative 1/2.
pub(super) fn softplus(x: &Tensor) -> Result<Tensor> {
    let a = x.minimum(0.0)?;
    let b = x.maximum(0.0)?;
    Ok((&b + (a.exp()? + b.neg()?.exp()?)?.log()?)?)
}

/// RankNet when `lambda` is `None`; LambdaRank with the gain and cutoff of the NDCG it targets.
pub(super) fn pairwise(
    l: &Layout,
    sigma: f64,
    lambda: Option<(Gain, Option<usize>)>,
) -> Result<PerQuery> {
    let (groups, len) = (l.groups, l.len);
    let scores = match lambda {
        Some(_) => l.host_scores()?,
        None => Vec::new(),
    };
    let mut w = vec![0.0; groups * len * len];
    let mut signal = vec![false; groups];
    for g in 0..groups {
        let real = l.real_slots(g);
        let rel = |j: usize| l.rel[g * len + j];
        let pairs: Vec<(usize, usize)> = real
            .iter()
            .flat_map(|&i| real.iter().map(move |&j| (i, j)))
            .filter(|&(i, j)| rel(i) > rel(j))
            .collect();
        if pairs.is_empty() {
            continue;
        }
        signal[g] = true;
        match lambda {
            None => {
                let each = 1.0 / pairs.len() as f64;
                for (i, j) in pairs {
                    w[(g * len + i) * len + j] = each;
                }
            }
            Some((gain, k)) => {
                // positions in the current score order, ties by item index
                let mut order = real.clone();
                let s = |j: usize| scores[g * len + j];
                let item = |j: usize| l.item[g * len + j];
                order.sort_by(|&a, &b| s(b).total_cmp(&s(a)).then(item(a).cmp(&item(b))));
                let k = k.unwrap_or(real.len());
                let mut d = vec![0.0; len];
                for (p, &j) in order.iter().enumerate() {
                    if p < k {
                        d[j] = discount((p + 1) as f64);
                    }
                }
                let gains: Vec<f64> = (0..len).map(|j| gain.apply(rel(j))).collect();
                let real_gains: Vec<f64> = real.iter().map(|&j| gains[j]).collect();
                let idcg = ideal_dcg(&real_gains, k);
                if idcg > 0.0 {
                    for (i, j) in pairs {
                        w[(g * len + i) * len + j] =
                            (gains[i] - gains[j]).abs() * (d[i] - d[j]).abs() / idcg;
                    }
                }
            }
        }
    }
    let w = l.constant(w, (groups, len, len))?;
    // diff[g, i, j] = s_i − s_j
    let diff = l.s.unsqueeze(2)?.broadcast_sub(&l.s.unsqueeze(1)?)?;
    let term = softplus(&(diff * -sigma)?)?;
    let values = (term * w)?.flatten_from(1)?.sum(1)?;
    Ok(PerQuery { values, signal })
}
