//! [`FineTuned`]: a learned sorter that keeps training on the vectors it ranks (the paper's
//! optional fine-tuning), with the loss of [`super::step`], `mean |f(x) − r*(x)|`.

use std::sync::{Mutex, RwLock};

use candle_core::{DType, Device, Tensor};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::step::l1_step;
use crate::error::{Error, Result};
use crate::optim::{Adam, AdamConfig};
use crate::rank::sodeep_rank_rows;
use crate::ranker::Ranker;
use crate::sorter::{read_loss, Sorter, SorterNet};

/// A learned sorter that can be fine-tuned while it serves as a ranker (the paper's optional
/// step): it keeps the score vectors it is asked to rank and, on request, trains on them with
/// an L1 loss against their exact ranks.
///
/// Ranking itself stays frozen: gradients reach the scores, never the sorter's weights, so a
/// model's optimiser never moves the sorter. Only [`FineTuned::fine_tune`] does.
pub struct FineTuned {
    current: RwLock<Sorter>,
    state: Mutex<TuneState>,
    capacity: usize,
}

struct TuneState {
    varmap: candle_nn::VarMap,
    net: SorterNet,
    adam: Adam,
    seen: Vec<Vec<f32>>,
    next: usize,
    rng: ChaCha8Rng,
}

impl FineTuned {
    /// Wraps `sorter`, keeping at most `capacity` of the vectors it ranks.
    pub fn new(sorter: Sorter, capacity: usize, seed: u64) -> Result<Self> {
        use rand::SeedableRng;
        if sorter.d().is_none() {
            return Err(Error::InvalidArgument(
                "the handcrafted sorter has no weights to fine-tune".into(),
            ));
        }
        let varmap = candle_nn::VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let net = SorterNet::new(&sorter.card().config, vb)?;
        {
            let vars = varmap.data().lock().expect("var map lock");
            for (name, var) in vars.iter() {
                let w = sorter
                    .weights()
                    .get(name)
                    .ok_or_else(|| Error::BadWeights {
                        path: sorter.name().into(),
                        reason: format!("no tensor {name} to fine-tune"),
                    })?;
                var.set(w)?;
            }
        }
        let adam = Adam::new(&varmap, AdamConfig::default())?;
        Ok(Self {
            current: RwLock::new(sorter),
            state: Mutex::new(TuneState {
                varmap,
                net,
                adam,
                seen: Vec::new(),
                next: 0,
                rng: ChaCha8Rng::seed_from_u64(seed),
            }),
            capacity: capacity.max(1),
        })
    }

    /// Number of score vectors kept so far.
    pub fn seen(&self) -> usize {
        self.state.lock().expect("fine-tune lock").seen.len()
    }

    /// Trains the sorter for `steps` steps of `batch` kept vectors at learning rate `lr`
    /// (L1 against the exact ranks), then serves the new weights. Returns the mean L1 of the
    /// last step, or `None` when no vector has been kept yet.
    pub fn fine_tune(&self, steps: usize, batch: usize, lr: f64) -> Result<Option<f64>> {
        let mut st = self.state.lock().expect("fine-tune lock");
        if st.seen.is_empty() || steps == 0 {
            return Ok(None);
        }
        let d = st.seen[0].len();
        let mut last = None;
        for _ in 0..steps {
            let kept = st.seen.len();
            let rows: Vec<usize> = (0..batch.max(1))
                .map(|_| st.rng.random_range(0..kept))
                .collect();
            let flat: Vec<f32> = rows.iter().flat_map(|&r| st.seen[r].clone()).collect();
            let target = sodeep_rank_rows(&flat, d);
            let x = Tensor::from_vec(flat, (rows.len(), d), &Device::Cpu)?;
            let y = Tensor::from_vec(target, (rows.len(), d), &Device::Cpu)?;
            let TuneState { net, adam, .. } = &mut *st;
            last = Some(read_loss(&l1_step(net, adam, &x, &y, lr, false)?)?);
        }
        let tensors = st
            .varmap
            .data()
            .lock()
            .expect("var map lock")
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.as_tensor().copy()?)))
            .collect::<candle_core::Result<_>>()?;
        let mut current = self.current.write().expect("sorter lock");
        let updated = Sorter::from_tensors(
            current.name(),
            current.card().clone(),
            tensors,
            std::path::Path::new(current.name()),
        )?;
        *current = updated;
        Ok(last)
    }
}

impl Ranker for FineTuned {
    fn name(&self) -> String {
        format!(
            "{}+finetune",
            self.current.read().expect("sorter lock").name()
        )
    }

    fn fixed_len(&self) -> Option<usize> {
        self.current.read().expect("sorter lock").d()
    }

    fn rank(&self, scores: &Tensor) -> Result<Tensor> {
        let sorter = self.current.read().expect("sorter lock").clone();
        let ranks = sorter.forward(scores)?;
        let rows: Vec<Vec<f32>> = scores.to_dtype(DType::F32)?.to_vec2()?;
        let mut st = self.state.lock().expect("fine-tune lock");
        for row in rows {
            // a ring buffer: the newest vectors replace the oldest once full
            if st.seen.len() < self.capacity {
                st.seen.push(row);
            } else {
                let at = st.next;
                st.seen[at] = row;
                st.next = (at + 1) % self.capacity;
            }
        }
        Ok(ranks)
    }
}
