//! Adam whose state can be saved and restored, for bit-exact resumption of training.
//!
//! candle-nn's `AdamW` keeps its moments private and decays weights by default; this one is
//! plain Adam (PyTorch's `torch.optim.Adam` without weight decay).

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;

use crate::error::{Error, Result};

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
