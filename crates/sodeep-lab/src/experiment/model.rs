//! The models the experiments train, the shared optimiser step and training loop, and linear
//! predictions (the
//! ridge baseline is [`super::ridge`]).

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::Matrix;
use crate::error::{Error, Result};

/// A ReLU multi-layer perceptron; `dims = [in, hidden..., out]` (two entries: a linear model).
#[derive(Debug, Clone)]
pub struct Mlp {
    layers: Vec<(Var, Var)>,
}

impl Mlp {
    /// PyTorch's default initialisation, U(±1/√fan_in) for weights and biases, drawn from a
    /// seeded stream (candle's CPU generator cannot be seeded).
    pub fn new(dims: &[usize], rng: &mut ChaCha8Rng) -> Result<Self> {
        if dims.len() < 2 || dims.contains(&0) {
            return Err(Error::InvalidArgument(format!(
                "an MLP needs at least an input and an output size, all positive, got {dims:?}"
            )));
        }
        // weights and biases, their gradients, AdamW's two moments and the best snapshot
        let params: f64 = dims
            .windows(2)
            .map(|w| (w[0] as f64 + 1.0) * w[1] as f64)
            .sum();
        sodeep::memory::check(
            &format!("an MLP of widths {dims:?}"),
            (params * 4.0 * 5.0) as u64,
        )?;
        let mut layers = Vec::new();
        for pair in dims.windows(2) {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            let b = 1.0 / (fan_in as f32).sqrt();
            let mut draw =
                |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-b..=b)).collect() };
            let w = Var::from_vec(draw(fan_in * fan_out), (fan_out, fan_in), &Device::Cpu)?;
            let bias = Var::from_vec(draw(fan_out), fan_out, &Device::Cpu)?;
            layers.push((w, bias));
        }
        Ok(Self { layers })
    }

    /// `B × in` → `B × out`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        for (k, (w, b)) in self.layers.iter().enumerate() {
            h = h
                .matmul(&w.as_tensor().t()?)?
                .broadcast_add(b.as_tensor())?;
            if k + 1 < self.layers.len() {
                h = h.relu()?;
            }
        }
        Ok(h)
    }

    /// Its trainable variables.
    pub fn vars(&self) -> Vec<Var> {
        self.layers
            .iter()
            .flat_map(|(w, b)| [w.clone(), b.clone()])
            .collect()
    }
}

/// Training settings shared by every run of an experiment.
#[derive(Debug, Clone, Copy)]
pub struct FitConfig {
    /// Passes over the training split.
    pub epochs: usize,
    /// Examples per step.
    pub batch: usize,
    /// Adam(W) learning rate.
    pub lr: f64,
    /// Decoupled weight decay (0: plain Adam).
    pub weight_decay: f64,
    /// Seed of the batch order.
    pub seed: u64,
    /// Batches smaller than this are skipped (2 where a lone example has nothing to rank).
    pub min_batch: usize,
}

/// What a training run achieved.
#[derive(Debug, Clone)]
pub struct Fit {
    /// The best validation metric over the epochs (its weights are restored).
    pub best_val: f64,
    /// The epoch (0-based) of the best validation metric.
    pub best_epoch: usize,
    /// The validation metric after each epoch.
    pub curve: Vec<f64>,
}

/// The optimiser step every model of the lab trains with (the experiments' [`fit`] and the
/// digit-sort jobs): AdamW on `vars`, after a check that the loss is finite, since a NaN
/// step would silently wreck every weight.
pub struct Trainer {
    opt: AdamW,
    lr: f64,
}

impl Trainer {
    /// AdamW at `lr` with decoupled weight decay `weight_decay` (0: plain Adam).
    pub fn new(vars: &[Var], lr: f64, weight_decay: f64) -> Result<Self> {
        let opt = AdamW::new(
            vars.to_vec(),
            ParamsAdamW {
                lr,
                weight_decay,
                ..Default::default()
            },
        )?;
        Ok(Self { opt, lr })
    }

    /// Sets the learning rate of the next steps (a schedule).
    pub fn set_lr(&mut self, lr: f64) {
        self.opt.set_learning_rate(lr);
        self.lr = lr;
    }

    /// One step on `loss`; returns its value. A loss that is not finite is an error that says
    /// where (`at`, e.g. "at epoch 3") and to lower the learning rate.
    pub fn step(&mut self, loss: &Tensor, at: impl FnOnce() -> String) -> Result<f64> {
        let value = self.finite(loss, at)?;
        self.opt.backward_step(loss)?;
        Ok(value)
    }

    /// The loss's value, or an error that says where (`at`) when it is not finite.
    fn finite(&self, loss: &Tensor, at: impl FnOnce() -> String) -> Result<f64> {
        let value = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        if !value.is_finite() {
            return Err(Error::InvalidArgument(format!(
                "the loss became {value} {} (learning rate {}): lower the learning rate",
                at(),
                self.lr
            )));
        }
        Ok(value)
    }

    /// One step on the sum of several losses, each backpropagated on its own so that only
    /// one part's activations are alive at a time (gradient accumulation); `parts` yields the
    /// losses, already weighted so that they add up to the step's loss. Returns the sum.
    pub fn step_accumulated(
        &mut self,
        vars: &[Var],
        parts: impl IntoIterator<Item = Result<Tensor>>,
        at: impl Fn() -> String,
    ) -> Result<f64> {
        let mut total = 0.0;
        let mut sum: Option<candle_core::backprop::GradStore> = None;
        for part in parts {
            let loss = part?;
            total += self.finite(&loss, &at)?;
            let grads = loss.backward()?;
            match &mut sum {
                None => sum = Some(grads),
                Some(acc) => {
                    for v in vars {
                        if let Some(g) = grads.get(v.as_tensor()) {
                            let merged = match acc.remove(v.as_tensor()) {
                                Some(a) => (a + g)?,
                                None => g.clone(),
                            };
                            acc.insert(v.as_tensor(), merged);
                        }
                    }
                }
            }
        }
        if let Some(grads) = sum {
            self.opt.step(&grads)?;
        }
        Ok(total)
    }
}

/// Trains `vars` with AdamW: each epoch shuffles `0..n_train` into batches and calls
/// `step(batch_indices, epoch)` for the loss, then `end_epoch(epoch)` and `validate()` (higher is
/// better). The weights of the best validation epoch are restored at the end, so the caller's
/// test evaluation uses the epoch that validation chose.
pub fn fit(
    vars: &[Var],
    n_train: usize,
    cfg: FitConfig,
    mut step: impl FnMut(&[usize], usize) -> Result<Tensor>,
    mut end_epoch: impl FnMut(usize) -> Result<()>,
    mut validate: impl FnMut() -> Result<f64>,
) -> Result<Fit> {
    if n_train == 0 {
        return Err(Error::Empty("no training example".into()));
    }
    let mut trainer = Trainer::new(vars, cfg.lr, cfg.weight_decay)?;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut order: Vec<usize> = (0..n_train).collect();
    let snapshot = |vars: &[Var]| -> Result<Vec<Tensor>> {
        Ok(vars
            .iter()
            .map(|v| v.as_tensor().copy())
            .collect::<candle_core::Result<_>>()?)
    };
    let mut best = (f64::NEG_INFINITY, 0, snapshot(vars)?);
    let mut curve = Vec::new();
    for epoch in 0..cfg.epochs {
        order.shuffle(&mut rng);
        for batch in order.chunks(cfg.batch.max(1)) {
            // a lone example has no rank: skip it rather than feed a degenerate batch
            if batch.len() < cfg.min_batch && n_train >= cfg.min_batch {
                continue;
            }
            trainer.step(&step(batch, epoch)?, || format!("at epoch {epoch}"))?;
        }
        end_epoch(epoch)?;
        let v = validate()?;
        curve.push(v);
        if v > best.0 {
            best = (v, epoch, snapshot(vars)?);
        }
    }
    for (var, saved) in vars.iter().zip(&best.2) {
        var.set(saved)?;
    }
    Ok(Fit {
        best_val: best.0,
        best_epoch: best.1,
        curve,
    })
}

/// The indices of a batch as a tensor, for `index_select`.
pub fn batch_index(batch: &[usize]) -> Result<Tensor> {
    let idx: Vec<u32> = batch.iter().map(|&i| i as u32).collect();
    Ok(Tensor::from_vec(idx, batch.len(), &Device::Cpu)?)
}

/// Column means and standard deviations of `x` (a constant column gets 1, not 0).
pub fn column_stats(x: &Matrix) -> (Vec<f32>, Vec<f32>) {
    let n = x.rows.max(1) as f64;
    let mut mean = vec![0f64; x.cols];
    let mut var = vec![0f64; x.cols];
    for r in 0..x.rows {
        for (c, &v) in x.row(r).iter().enumerate() {
            mean[c] += v as f64 / n;
        }
    }
    for r in 0..x.rows {
        for (c, &v) in x.row(r).iter().enumerate() {
            var[c] += (v as f64 - mean[c]).powi(2) / n;
        }
    }
    let std = var
        .iter()
        .map(|&v| if v > 1e-12 { v.sqrt() as f32 } else { 1.0 })
        .collect();
    (mean.into_iter().map(|m| m as f32).collect(), std)
}

/// `(x − mean) / std` per column, as a tensor.
pub fn standardized(x: &Matrix, mean: &[f32], std: &[f32]) -> Result<Tensor> {
    let mut data = x.data.clone();
    for row in data.chunks_mut(x.cols.max(1)) {
        for ((v, m), s) in row.iter_mut().zip(mean).zip(std) {
            *v = (*v - m) / s;
        }
    }
    Ok(Tensor::from_vec(data, (x.rows, x.cols), &Device::Cpu)?)
}

/// Predictions `x w + intercept` of a linear model.
pub fn linear_predict(x: &Matrix, w: &[f64], intercept: f64) -> Vec<f32> {
    (0..x.rows)
        .map(|r| {
            (x.row(r)
                .iter()
                .zip(w)
                .map(|(&v, w)| v as f64 * w)
                .sum::<f64>()
                + intercept) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accumulated_step_equals_one_step_on_the_summed_loss() {
        let start = Tensor::new(&[1f32, -2.0, 0.5], &Device::Cpu).unwrap();
        let x = Tensor::new(&[[1f32, 2.0, 3.0], [-1.0, 0.5, 2.0]], &Device::Cpu).unwrap();
        let loss_of = |w: &Var, rows: std::ops::Range<usize>| -> Result<Tensor> {
            let part = x.narrow(0, rows.start, rows.len())?;
            Ok(part.broadcast_mul(w.as_tensor())?.sqr()?.sum_all()?)
        };
        let (a, b) = (
            Var::from_tensor(&start).unwrap(),
            Var::from_tensor(&start).unwrap(),
        );
        let mut one = Trainer::new(std::slice::from_ref(&a), 0.1, 0.0).unwrap();
        let mut acc = Trainer::new(std::slice::from_ref(&b), 0.1, 0.0).unwrap();
        for _ in 0..3 {
            let whole = loss_of(&a, 0..2).unwrap();
            let v1 = one.step(&whole, String::new).unwrap();
            let parts = [loss_of(&b, 0..1), loss_of(&b, 1..2)];
            let v2 = acc
                .step_accumulated(std::slice::from_ref(&b), parts, String::new)
                .unwrap();
            assert!((v1 - v2).abs() < 1e-5, "{v1} vs {v2}");
        }
        let (wa, wb) = (
            a.as_tensor().to_vec1::<f32>().unwrap(),
            b.as_tensor().to_vec1::<f32>().unwrap(),
        );
        for (p, q) in wa.iter().zip(&wb) {
            assert!((p - q).abs() < 1e-6, "{wa:?} vs {wb:?}");
        }
        assert_ne!(wa, start.to_vec1::<f32>().unwrap());
        let nan = [Ok((b.as_tensor().sum_all().unwrap() * f64::NAN).unwrap())];
        assert!(acc
            .step_accumulated(std::slice::from_ref(&b), nan, String::new)
            .unwrap_err()
            .to_string()
            .contains("lower the learning rate"));
    }

    #[test]
    fn a_loss_that_is_not_finite_stops_training_without_touching_the_weights() {
        let w = Var::from_vec(vec![1f32, 2.0], 2, &Device::Cpu).unwrap();
        let mut trainer = Trainer::new(std::slice::from_ref(&w), 0.1, 0.0).unwrap();
        let loss = (w.as_tensor().sum_all().unwrap() * f64::NAN).unwrap();
        let err = trainer.step(&loss, || "at step 7".into()).unwrap_err();
        assert!(
            err.to_string().contains("at step 7")
                && err.to_string().contains("lower the learning rate"),
            "{err}"
        );
        assert_eq!(w.as_tensor().to_vec1::<f32>().unwrap(), vec![1.0, 2.0]);
        // a finite loss moves them
        let value = trainer
            .step(&w.as_tensor().sum_all().unwrap(), || unreachable!())
            .unwrap();
        assert_eq!(value, 3.0);
        assert!(w.as_tensor().to_vec1::<f32>().unwrap()[0] < 1.0);
    }
}
