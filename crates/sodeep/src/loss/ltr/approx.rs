//! `approxndcg`: NDCG with each position replaced by a smooth count of the items scored
//! above, `π̂_i = 1 + Σ_{j≠i} σ((s_j − s_i)/T)`, and `L_q = 1 − Σ_i G(rel_i) D(π̂_i) / IDCG_q`.

use candle_nn::ops::sigmoid;

use super::layout::{Layout, PerQuery};
use crate::error::Result;
use crate::loss::ndcg::discount_tensor;
use crate::metrics::{ideal_dcg, Gain};

pub(super) fn approx_ndcg(
    l: &Layout,
    temperature: f64,
    gain: Gain,
    k: Option<usize>,
) -> Result<PerQuery> {
    let (groups, len) = (l.groups, l.len);
    // others[g, i, j]: item j counts in item i's position when it is real and not i itself
    let mut others = vec![0.0; groups * len * len];
    let mut w = vec![0.0; groups * len];
    let mut signal = vec![false; groups];
    for g in 0..groups {
        let real = l.real_slots(g);
        for &i in &real {
            for &j in &real {
                if i != j {
                    others[(g * len + i) * len + j] = 1.0;
                }
            }
        }
        let gains: Vec<f64> = real
            .iter()
            .map(|&j| gain.apply(l.rel[g * len + j]))
            .collect();
        let idcg = ideal_dcg(&gains, k.unwrap_or(real.len()));
        if idcg > 0.0 {
            signal[g] = true;
            for (&j, gj) in real.iter().zip(&gains) {
                w[g * len + j] = gj / idcg;
            }
        }
    }
    let others = l.constant(others, (groups, len, len))?;
    let w = l.constant(w, (groups, len))?;
    // diff[g, i, j] = s_j − s_i
    let diff = l.s.unsqueeze(1)?.broadcast_sub(&l.s.unsqueeze(2)?)?;
    let above = (sigmoid(&(diff / temperature)?)? * others)?.sum(2)?;
    let d = discount_tensor(&(above + 1.0)?, k)?;
    let values = (d * w)?.sum(1)?.affine(-1.0, 1.0)?;
    Ok(PerQuery { values, signal })
}
