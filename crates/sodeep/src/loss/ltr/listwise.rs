//! `listnet` (top-one cross-entropy) and `listmle` (Plackett–Luce likelihood of the label
//! order), with log-sum-exps shifted by the largest score they cover so that no exponential
//! exceeds 1.

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use candle_core::Tensor;

use super::layout::{Layout, PerQuery};
use crate::error::Result;

/// `L_q = −Σ_i softmax(rel)_i · log_softmax(s)_i = logsumexp(s) − Σ_i softmax(rel)_i s_i`.
pub(super) fn listnet(l: &Layout) -> Result<PerQuery> {
    let (groups, len) = (l.groups, l.len);
    let mut target = vec![0.0; groups * len];
    for g in 0..groups {
        let real = l.real_slots(g);
        let top = real
            .iter()
            .map(|&j| l.rel[g * len + j])
            .fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = real
            .iter()
            .map(|&j| (l.rel[g * len + j] - top).exp())
            .collect();
        let total: f64 = e.iter().sum();
        for (&j, ej) in real.iter().zip(&e) {
            target[g * len + j] = ej / total;
        }
    }
    let target = l.constant(target, (groups, len))?;
    let mask = l.constant(l.mask.clone(), (groups, len))?;
    // pads are copies of real items, so the row maximum is a real item's score
    let c = l.s.max_keepdim(1)?.detach();
    let sum_exp = (l.s.broadcast_sub(&c)?.exp()? * mask)?.sum_keepdim(1)?;
    let lse = (sum_exp.log()? + c)?.squeeze(1)?;
    let values = (lse - (&l.s * target)?.sum(1)?)?;
    Ok(PerQuery {
        values,
        signal: vec![true; groups],
    })
}

/// `L_q = Σ_k [log Σ_{j≥k} exp(s_{π_j}) − s_{π_k}] / n_q`, π the items by relevance
/// descending (ties shuffled with `rng`). Each suffix log-sum-exp is shifted by the largest
/// score of its suffix.
pub(super) fn listmle(l: &Layout, rng: &mut ChaCha8Rng) -> Result<PerQuery> {
    let (groups, len) = (l.groups, l.len);
    let scores = l.host_scores()?;
    let mut idx = vec![0u32; groups * len];
    let mut real_k = vec![0.0; groups * len];
    let mut shift = vec![0.0; groups * len];
    let mut suffix = vec![0.0; groups * len * len];
    let mut per_len = vec![0.0; groups];
    for g in 0..groups {
        let mut order = l.real_slots(g);
        order.shuffle(rng);
        // a stable sort keeps the shuffled order among equal labels
        order.sort_by(|&a, &b| l.rel[g * len + b].total_cmp(&l.rel[g * len + a]));
        let n = order.len();
        per_len[g] = 1.0 / n as f64;
        let mut best = f64::NEG_INFINITY;
        for k in (0..len).rev() {
            let at = g * len + k;
            // pad positions repeat the first item; they are masked out below
            let slot = order[if k < n { k } else { 0 }];
            idx[at] = l.item[g * len + slot];
            if k < n {
                real_k[at] = 1.0;
                best = best.max(scores[g * len + slot]);
                shift[at] = best;
                for j in k..n {
                    suffix[at * len + j] = 1.0;
                }
            }
        }
    }
    let dev = l.device();
    let s_pi = l
        .flat
        .index_select(&Tensor::from_vec(idx, groups * len, dev)?, 0)?
        .reshape((groups, len))?;
    let real_k = l.constant(real_k, (groups, len))?;
    let shift = l.constant(shift, (groups, len))?;
    let suffix = l.constant(suffix, (groups, len, len))?;
    // z[g, k, j] = s_{π_j} − shift_k on the suffix j ≥ k, 0 elsewhere (then masked)
    let z = (s_pi.unsqueeze(1)?.broadcast_sub(&shift.unsqueeze(2)?)? * &suffix)?;
    // pad positions have an empty suffix: adding 1 keeps their log finite (and 0)
    let sum_exp = ((z.exp()? * suffix)?.sum(2)? + real_k.affine(-1.0, 1.0)?)?;
    let lse = (sum_exp.log()? + shift)?;
    let terms = ((lse - &s_pi)? * real_k)?.sum(1)?;
    let values = (terms * l.constant(per_len, groups)?)?;
    Ok(PerQuery {
        values,
        signal: vec![true; groups],
    })
}
