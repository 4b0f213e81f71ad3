//! How the learning-to-rank losses see a batch: the queries laid out one per row of a `G × L`
//! grid (pads masked out), and one value per query with whether it carries a signal.

use candle_core::{DType, Device, Tensor};

use crate::error::Result;
use crate::loss::grouping::Grouping;
use crate::loss::ndcg::Queries;

/// One value per query (`G`) and whether the query carries a signal.
pub(super) struct PerQuery {
    pub(super) values: Tensor,
    pub(super) signal: Vec<bool>,
}

/// The queries laid out one per row of `G × L` slots.
pub(super) struct Layout {
    /// G, one group per query, in increasing id order.
    pub(super) groups: usize,
    /// L, the longest query's length.
    pub(super) len: usize,
    /// The m scores, 1-D.
    pub(super) flat: Tensor,
    /// The scores laid out, `G × L`.
    pub(super) s: Tensor,
    /// `G·L`: 1 for a real item, 0 for a pad.
    pub(super) mask: Vec<f64>,
    /// `G·L`: the label of the item in each slot.
    pub(super) rel: Vec<f64>,
    /// `G·L`: the item in each slot.
    pub(super) item: Vec<u32>,
    /// The number of real items of each query.
    pub(super) count: Vec<usize>,
}

impl Layout {
    pub(super) fn new(batch: &Queries, g: &Grouping) -> Result<Self> {
        let mask: Vec<f64> = g.mask.iter().map(|&w| f64::from(w)).collect();
        let count = mask
            .chunks(g.len)
            .map(|row| row.iter().filter(|&&w| w > 0.0).count())
            .collect();
        Ok(Self {
            groups: g.groups,
            len: g.len,
            flat: batch.scores.clone(),
            s: g.gather(&batch.scores)?,
            rel: g.index.iter().map(|&i| batch.rel[i as usize]).collect(),
            item: g.index.clone(),
            mask,
            count,
        })
    }

    pub(super) fn device(&self) -> &Device {
        self.flat.device()
    }

    /// A constant tensor of the scores' dtype.
    pub(super) fn constant<S: Into<candle_core::Shape>>(
        &self,
        values: Vec<f64>,
        shape: S,
    ) -> Result<Tensor> {
        Ok(Tensor::from_vec(values, shape, self.device())?.to_dtype(self.flat.dtype())?)
    }

    /// Whether slot `j` of group `g` holds a real item.
    pub(super) fn real(&self, g: usize, j: usize) -> bool {
        self.mask[g * self.len + j] > 0.0
    }

    /// The slots of group `g` that hold real items.
    pub(super) fn real_slots(&self, g: usize) -> Vec<usize> {
        (0..self.len).filter(|&j| self.real(g, j)).collect()
    }

    /// The laid-out scores on the host, detached.
    pub(super) fn host_scores(&self) -> Result<Vec<f64>> {
        Ok(self
            .s
            .detach()
            .to_dtype(DType::F64)?
            .flatten_all()?
            .to_vec1()?)
    }
}
