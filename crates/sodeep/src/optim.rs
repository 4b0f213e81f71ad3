//! Adam whose state can be saved and restored, for bit-exact resumption of training, and the
//! learning-rate schedules.
//!
//! Adam (PyTorch's `torch.optim.Adam` without weight decay; candle-nn's `AdamW` keeps its moments
//! private and decays weights by default): `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
//! `θ ← θ − lr · (m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε)`.
//!
//! ```
//! use candle_core::{Device, Tensor, Var};
//! use candle_nn::VarMap;
//! use sodeep::optim::{Adam, AdamConfig, LrSchedule};
//! let varmap = VarMap::new();
//! let w = Var::new(&[1f32, -2.0], &Device::Cpu)?;
//! varmap.data().lock().unwrap().insert("w".into(), w.clone());
//! let mut adam = Adam::new(&varmap, AdamConfig::default())?;
//! let loss = w.as_tensor().sqr()?.sum_all()?; // gradient 2w
//! adam.step(&loss.backward()?, 0.1)?;
//! // Adam's first step moves each weight by lr against the sign of its gradient
//! let moved = w.as_tensor().to_vec1::<f32>()?;
//! assert!((moved[0] - 0.9).abs() < 1e-6 && (moved[1] + 1.9).abs() < 1e-6);
//! // the schedules: halving every 100 steps, and a cosine down to a floor
//! assert_eq!(LrSchedule::Halving { lr: 1e-3, every: 100 }.at(250), 2.5e-4);
//! let cosine = LrSchedule::Cosine { lr: 1e-3, steps: 100, last: 5e-5 };
//! assert_eq!((cosine.at(0), cosine.at(100)), (1e-3, 5e-5));
//! # Ok::<(), sodeep::Error>(())
//! ```

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;

use crate::error::{Error, Result};
use crate::kernels::{self, adam::AdamCoefs};

/// A learning rate as a function of the step (0-based).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LrSchedule {
    /// `lr` at every step.
    Constant {
        /// The learning rate.
        lr: f64,
    },
    /// `lr · 0.5^⌊step / every⌋`; `every = 0` never halves. It depends on the step alone, so a
    /// resumed run continues the same schedule.
    Halving {
        /// The learning rate at step 0.
        lr: f64,
        /// Steps between halvings.
        every: usize,
    },
    /// A cosine from `lr` at step 0 down to `last` at `steps`:
    /// `last + (lr − last) · (1 + cos(π·step/steps)) / 2`.
    Cosine {
        /// The learning rate at step 0.
        lr: f64,
        /// The step where `last` is reached.
        steps: usize,
        /// The learning rate at `steps`.
        last: f64,
    },
}

impl LrSchedule {
    /// The learning rate at `step`.
    pub fn at(&self, step: usize) -> f64 {
        match *self {
            Self::Constant { lr } => lr,
            Self::Halving { lr, every } => match step.checked_div(every) {
                None => lr,
                Some(halvings) => lr * 0.5f64.powi(halvings as i32),
            },
            Self::Cosine { lr, steps, last } => {
                let t = step as f64 / steps.max(1) as f64;
                last + (lr - last) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }
}

/// One step of [`kernels::adam`] on a CPU f32 variable: the same bits as the candle expression of
/// [`Adam::step`], in one pass instead of eleven tensor ops. Returns the new moments.
fn fused_step(
    var: &Var,
    g: &Tensor,
    m: &Tensor,
    v: &Tensor,
    c: AdamCoefs,
) -> Result<(Tensor, Tensor)> {
    let read = |t: &Tensor| -> candle_core::Result<Vec<f32>> {
        let t = t.contiguous()?;
        let data = kernels::storage::read_f32(&t)?;
        Ok(data.get().to_vec())
    };
    let (mut theta, mut mv, mut vv) = (read(var.as_tensor())?, read(m)?, read(v)?);
    let g = g.contiguous()?;
    let gv = kernels::storage::read_f32(&g)?;
    let threads = candle_core::utils::get_num_threads();
    kernels::adam::adam(&mut theta, gv.get(), &mut mv, &mut vv, c, threads);
    let dev = var.device();
    var.set(&Tensor::from_vec(theta, var.shape(), dev)?)?;
    Ok((
        Tensor::from_vec(mv, var.shape(), dev)?,
        Tensor::from_vec(vv, var.shape(), dev)?,
    ))
}

/// Adam's constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Denominator guard.
    pub eps: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// Adam over the variables of a `VarMap`, in name order.
#[derive(Debug)]
pub struct Adam {
    config: AdamConfig,
    vars: Vec<(String, Var)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    step: usize,
}

impl Adam {
    /// Adam over every variable of `varmap`, with zero moments.
    pub fn new(varmap: &VarMap, config: AdamConfig) -> Result<Self> {
        let mut vars: Vec<(String, Var)> = varmap
            .data()
            .lock()
            .expect("var map lock")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let zeros = |v: &Var| Tensor::zeros(v.shape(), DType::F32, v.device());
        let m = vars
            .iter()
            .map(|(_, v)| zeros(v))
            .collect::<candle_core::Result<_>>()?;
        let v = vars
            .iter()
            .map(|(_, v)| zeros(v))
            .collect::<candle_core::Result<_>>()?;
        Ok(Self {
            config,
            vars,
            m,
            v,
            step: 0,
        })
    }

    /// Number of updates applied.
    pub fn step_count(&self) -> usize {
        self.step
    }

    /// Applies one update with learning rate `lr`. Variables without a gradient (BatchNorm
    /// running statistics) are left alone.
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<()> {
        self.step += 1;
        let AdamConfig { beta1, beta2, eps } = self.config;
        let t = self.step as i32;
        let (bc1, bc2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
        for (i, (_, var)) in self.vars.iter().enumerate() {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            // Gradients carry the graph of their step; keeping them in the moments would
            // chain every step's graph to the next and leak memory.
            let g = g.detach();
            if kernels::fused_applies(var.as_tensor()) && g.dtype() == DType::F32 {
                let c = AdamCoefs::new(beta1, beta2, eps, lr, t);
                let (m, v) = fused_step(var, &g, &self.m[i], &self.v[i], c)?;
                self.m[i] = m;
                self.v[i] = v;
                continue;
            }
            let m = ((&self.m[i] * beta1)? + (&g * (1.0 - beta1))?)?;
            let v = ((&self.v[i] * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
            let denom = ((&v / bc2)?.sqrt()? + eps)?;
            let update = ((&m / bc1)? / denom)?;
            var.set(&(var.as_tensor() - (update * lr)?)?)?;
            self.m[i] = m;
            self.v[i] = v;
        }
        Ok(())
    }

    /// The state as named tensors: `m.NAME`, `v.NAME` and `step`.
    pub fn state(&self) -> Result<HashMap<String, Tensor>> {
        let mut out = HashMap::new();
        for (i, (name, _)) in self.vars.iter().enumerate() {
            out.insert(format!("m.{name}"), self.m[i].to_device(&Device::Cpu)?);
            out.insert(format!("v.{name}"), self.v[i].to_device(&Device::Cpu)?);
        }
        out.insert(
            "step".into(),
            Tensor::new(&[self.step as i64], &Device::Cpu)?,
        );
        Ok(out)
    }

    /// Restores a state written by [`Adam::state`].
    pub fn load_state(&mut self, state: &HashMap<String, Tensor>) -> Result<()> {
        let missing = |k: &str| Error::InvalidArgument(format!("optimizer state lacks {k}"));
        for (i, (name, var)) in self.vars.iter().enumerate() {
            for (slot, prefix) in [(&mut self.m[i], "m"), (&mut self.v[i], "v")] {
                let key = format!("{prefix}.{name}");
                let t = state.get(&key).ok_or_else(|| missing(&key))?;
                if t.shape() != var.shape() {
                    return Err(Error::InvalidArgument(format!(
                        "optimizer state {key} has shape {:?}, the weight has {:?}",
                        t.dims(),
                        var.dims()
                    )));
                }
                *slot = t.to_dtype(DType::F32)?.to_device(var.device())?;
            }
        }
        let step = state.get("step").ok_or_else(|| missing("step"))?;
        self.step = step.to_dtype(DType::I64)?.to_vec1::<i64>()?[0] as usize;
        Ok(())
    }
}

#[cfg(test)]
mod fused_tests {
    use super::*;

    /// The fused CPU step gives the bits of the candle expression it replaces, over several steps
    /// (so that the bias corrections change), values of mixed sign and size, and zeros.
    #[test]
    fn fused_step_matches_the_candle_expression_bit_for_bit() {
        let dev = Device::Cpu;
        let n = 70_001; // more than one thread's share, and not a multiple of the vector width
        let init: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f32 * 0.01 - 5.0)
            .collect();
        let varmap = VarMap::new();
        let var = Var::from_vec(init.clone(), n, &dev).unwrap();
        varmap
            .data()
            .lock()
            .unwrap()
            .insert("w".into(), var.clone());
        let mut adam = Adam::new(&varmap, AdamConfig::default()).unwrap();
        let (beta1, beta2, eps) = (0.9f64, 0.999f64, 1e-8);
        let mut theta = Tensor::from_vec(init, n, &dev).unwrap();
        let (mut m, mut v) = (theta.zeros_like().unwrap(), theta.zeros_like().unwrap());
        for step in 1..=3i32 {
            let gv: Vec<f32> = (0..n)
                .map(|i| match i % 5 {
                    0 => 0.0,
                    1 => -1e-6 * step as f32,
                    _ => ((i * 31 + step as usize) % 97) as f32 * 0.37 - 17.0,
                })
                .collect();
            let g = Tensor::from_vec(gv, n, &dev).unwrap();
            let loss = (var.as_tensor() * &g).unwrap().sum_all().unwrap();
            let grads = loss.backward().unwrap();
            let lr = 1e-3 * step as f64;
            adam.step(&grads, lr).unwrap();
            // the candle expression, as Adam::step writes it for other devices
            let (bc1, bc2) = (1.0 - beta1.powi(step), 1.0 - beta2.powi(step));
            m = ((&m * beta1).unwrap() + (&g * (1.0 - beta1)).unwrap()).unwrap();
            v = ((&v * beta2).unwrap() + (g.sqr().unwrap() * (1.0 - beta2)).unwrap()).unwrap();
            let denom = ((&v / bc2).unwrap().sqrt().unwrap() + eps).unwrap();
            let update = ((&m / bc1).unwrap() / denom).unwrap();
            theta = (&theta - (update * lr).unwrap()).unwrap();
            let bits = |t: &Tensor| -> Vec<u32> {
                t.to_vec1::<f32>()
                    .unwrap()
                    .iter()
                    .map(|x| x.to_bits())
                    .collect()
            };
            assert_eq!(bits(var.as_tensor()), bits(&theta), "weights, step {step}");
            assert_eq!(bits(&adam.m[0]), bits(&m), "first moment, step {step}");
            assert_eq!(bits(&adam.v[0]), bits(&v), "second moment, step {step}");
        }
    }
}
