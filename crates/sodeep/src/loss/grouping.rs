//! Ranking a batch of any size: how a loss lays out m scored items for a ranker.
//!
//! Learned sorters read vectors of a fixed length d, while a user's batch holds m scores (or m
//! rows of a list). [`Grouping`] is the rule that reconciles the two; the losses of [`crate::loss`]
//! apply it for every ranker:
//! 1. The m items form lists: one list of all m, or one list per distinct group id (one query,
//!    one user, ...). Ranks are only ever compared within a list.
//! 2. The group length L is the ranker's fixed length d, or, for rankers that take any length,
//!    the length of the longest list.
//! 3. A list longer than L is shuffled (seeded) and cut into chunks of L; the last chunk and
//!    every shorter list are padded to L with copies of members drawn at random from the same
//!    list.
//! 4. Predictions and targets go through the same grouping, so both sides see the same padded
//!    groups; pads are masked out of every loss, and each real item counts exactly once.
//!
//! With an any-length ranker and no group ids this is the identity: one group of all m items.

use candle_core::{DType, Device, Tensor};
use rand::seq::SliceRandom;
use rand::Rng;

use std::sync::Mutex;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};

/// How m items are laid out in `groups × len` slots for ranking (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Grouping {
    /// Number of groups G.
    pub groups: usize,
    /// Slots per group L.
    pub len: usize,
    /// `G·L` item indices, row-major: which item fills each slot.
    pub index: Vec<u32>,
    /// `G·L` weights: 1 for the slot that holds an item's own copy, 0 for a pad.
    pub mask: Vec<f32>,
    /// For each of the m items, the slot (`g·L + position`) of its own copy.
    pub slot: Vec<u32>,
}

/// The items of each list id: lists in increasing id order, items in index order.
pub(super) fn members_by_id(ids: &[u32]) -> Vec<Vec<u32>> {
    let mut by_id: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
    for (i, &id) in ids.iter().enumerate() {
        by_id.entry(id).or_default().push(i as u32);
    }
    by_id.into_values().collect()
}

impl Grouping {
    /// Lays out `m` items. `lists` gives one id per item (or `None` for a single list),
    /// `fixed_len` is the ranker's fixed length (or `None` for any length), and `rng` drives
    /// the shuffle and the pads.
    pub fn new(
        m: usize,
        lists: Option<&[u32]>,
        fixed_len: Option<usize>,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        if m == 0 {
            return Err(Error::Empty("no item to rank".into()));
        }
        let members: Vec<Vec<u32>> = match lists {
            None => vec![(0..m as u32).collect()],
            Some(ids) => {
                if ids.len() != m {
                    return Err(Error::InvalidArgument(format!(
                        "{} group ids for {m} items: give one id per item",
                        ids.len()
                    )));
                }
                members_by_id(ids)
            }
        };
        let longest = members.iter().map(Vec::len).max().unwrap_or(1);
        let len = match fixed_len {
            Some(0) => {
                return Err(Error::InvalidArgument(
                    "a ranker with a fixed length of 0".into(),
                ))
            }
            Some(d) => d,
            None => longest,
        };
        let mut index = Vec::new();
        let mut mask = Vec::new();
        let mut slot = vec![0u32; m];
        for mut list in members {
            if list.len() > len {
                list.shuffle(rng);
            }
            for chunk in list.chunks(len) {
                let base = index.len() as u32;
                for (k, &item) in chunk.iter().enumerate() {
                    slot[item as usize] = base + k as u32;
                    index.push(item);
                    mask.push(1.0);
                }
                for _ in chunk.len()..len {
                    index.push(list[rng.random_range(0..list.len())]);
                    mask.push(0.0);
                }
            }
        }
        Ok(Self {
            groups: index.len() / len,
            len,
            index,
            mask,
            slot,
        })
    }

    /// Lays out `values` (`m` or `m × k`) as `G × L` (or `G × L × k`).
    pub fn gather(&self, values: &Tensor) -> Result<Tensor> {
        let idx = Tensor::from_slice(&self.index, self.index.len(), values.device())?;
        let picked = values.index_select(&idx, 0)?;
        let mut shape = vec![self.groups, self.len];
        shape.extend_from_slice(&values.dims()[1..]);
        Ok(picked.reshape(shape)?)
    }

    /// The pad mask as a `G × L` tensor.
    pub fn mask_tensor(&self, dtype: DType, device: &Device) -> Result<Tensor> {
        Ok(Tensor::from_slice(&self.mask, (self.groups, self.len), device)?.to_dtype(dtype)?)
    }

    /// Takes a `G × L` per-slot tensor back to the m items, in their original order.
    pub fn scatter_back(&self, per_slot: &Tensor) -> Result<Tensor> {
        let idx = Tensor::from_slice(&self.slot, self.slot.len(), per_slot.device())?;
        Ok(per_slot.flatten_all()?.index_select(&idx, 0)?)
    }
}

/// A per-loss random stream for the grouping's shuffles and pads.
pub(super) fn stream(seed: u64) -> Mutex<ChaCha8Rng> {
    Mutex::new(ChaCha8Rng::seed_from_u64(seed))
}

pub(super) fn grouping(
    rng: &Mutex<ChaCha8Rng>,
    m: usize,
    lists: Option<&[u32]>,
    fixed: Option<usize>,
) -> Result<Grouping> {
    let mut rng = rng.lock().expect("loss rng lock");
    Grouping::new(m, lists, fixed, &mut *rng)
}
