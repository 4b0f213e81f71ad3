//! `mse`: `L_q = mean_i (s_i − rel_i)²` over the real items of the query.

use super::layout::{Layout, PerQuery};
use crate::error::Result;

pub(super) fn mse(l: &Layout) -> Result<PerQuery> {
    let w: Vec<f64> = (0..l.groups * l.len)
        .map(|slot| l.mask[slot] / l.count[slot / l.len] as f64)
        .collect();
    let w = l.constant(w, (l.groups, l.len))?;
    let rel = l.constant(l.rel.clone(), (l.groups, l.len))?;
    let values = ((&l.s - rel)?.sqr()? * w)?.sum(1)?;
    Ok(PerQuery {
        values,
        signal: vec![true; l.groups],
    })
}
