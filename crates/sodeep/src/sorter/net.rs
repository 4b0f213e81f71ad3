//! [`SorterNet`]: the network of any architecture behind one type, its fresh initialisation,
//! and its parameter count.

use std::collections::HashMap;

use candle_core::{DType, Device, Module, ModuleT, Tensor};
use candle_nn::{VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::cnn::{CnnSorter, CnnSorterConfig};
use super::gru::{GruSorter, GruSorterConfig};
use super::handcrafted::Handcrafted;
use super::lstm::{LstmSorter, LstmSorterConfig};
use super::mlp::{MlpSorter, MlpSorterConfig};
use super::pairwise::{PairwiseSorter, PairwiseSorterConfig};
use super::standardize::standardize_rows;
use crate::card::{Arch, SorterConfig, DEFAULT_LAMBDA};
use crate::error::Result;

/// The network of any architecture, with the optional input standardisation.
#[derive(Debug, Clone)]
pub struct SorterNet {
    standardize: bool,
    net: Net,
}

/// The architecture-specific network.
#[derive(Debug, Clone)]
pub enum Net {
    /// `lstm` and `lstm-large`.
    Lstm(LstmSorter),
    /// `gru`.
    Gru(GruSorter),
    /// `cnn`.
    Cnn(CnnSorter),
    /// `mlp`.
    Mlp(MlpSorter),
    /// `handcrafted`.
    Handcrafted(Handcrafted),
    /// `pairwise`.
    Pairwise(PairwiseSorter),
}

impl SorterNet {
    /// Builds the network, loading or creating its weights through `vb`.
    pub fn new(cfg: &SorterConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        let (d, hidden, layers) = (cfg.d, cfg.hidden, cfg.layers);
        let net = match cfg.arch {
            Arch::Lstm | Arch::LstmLarge => Net::Lstm(LstmSorter::new(
                LstmSorterConfig {
                    d,
                    hidden,
                    layers,
                    head: cfg.head,
                },
                vb,
            )?),
            Arch::Gru => Net::Gru(GruSorter::new(GruSorterConfig { d, hidden, layers }, vb)?),
            Arch::Cnn => Net::Cnn(CnnSorter::new(
                CnnSorterConfig {
                    d,
                    channels: hidden,
                },
                vb,
            )?),
            Arch::Mlp => Net::Mlp(MlpSorter::new(MlpSorterConfig { d, hidden }, vb)?),
            Arch::Handcrafted => Net::Handcrafted(Handcrafted {
                lambda: cfg.lambda.unwrap_or(DEFAULT_LAMBDA),
            }),
            Arch::Pairwise => Net::Pairwise(PairwiseSorter::new(
                PairwiseSorterConfig {
                    comparators: hidden,
                    max_sharpness: cfg.lambda.unwrap_or(f64::INFINITY),
                },
                vb,
            )?),
        };
        Ok(Self {
            standardize: cfg.standardize,
            net,
        })
    }

    /// The architecture-specific network.
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// `B × d` scores → `B × d` predicted ranks. `train` matters only for BatchNorm.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let z;
        let x = if self.standardize {
            z = standardize_rows(x)?;
            &z
        } else {
            x
        };
        match &self.net {
            Net::Lstm(m) => m.forward(x),
            Net::Gru(m) => m.forward(x),
            Net::Cnn(m) => m.forward_t(x, train),
            Net::Mlp(m) => m.forward(x),
            Net::Handcrafted(m) => m.forward(x),
            Net::Pairwise(m) => m.forward(x),
        }
    }
}

/// The value of a scalar loss tensor (such as `train::l1_step`'s) (on a GPU, this waits for the
/// device).
pub fn read_loss(loss: &Tensor) -> Result<f64> {
    Ok(loss.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}

/// Creates the variables of a fresh sorter, initialised from `seed` with PyTorch's default
/// schemes: recurrent weights U(±1/√h), conv and linear weights and biases U(±1/√fan_in),
/// BatchNorm weight 1, bias 0, running mean 0, running variance 1.
///
/// candle's CPU random generator cannot be seeded, so the values are drawn here, in name order.
pub fn init_sorter(cfg: &SorterConfig, seed: u64) -> Result<(VarMap, SorterNet)> {
    cfg.validate()?;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let net = SorterNet::new(cfg, vb)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let vars = varmap.data().lock().expect("var map lock").clone();
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    let shapes: HashMap<&str, Vec<usize>> = vars
        .iter()
        .map(|(k, v)| (k.as_str(), v.dims().to_vec()))
        .collect();
    for name in names {
        let var = &vars[name];
        let n = var.elem_count();
        let leaf = name.rsplit('.').next().unwrap_or(name);
        let constant = match leaf {
            "running_mean" => Some(0.0),
            "running_var" => Some(1.0),
            "weight" if name.contains(".bn.") => Some(1.0),
            "bias" if name.contains(".bn.") => Some(0.0),
            _ => None,
        };
        let values: Vec<f32> = match constant {
            Some(c) => vec![c; n],
            None => {
                let bound = if leaf.starts_with("weight_") || leaf.starts_with("bias_") {
                    1.0 / (cfg.hidden as f64).sqrt()
                } else {
                    let wname = format!("{}weight", &name[..name.len() - leaf.len()]);
                    let wshape = shapes.get(wname.as_str()).unwrap_or(&shapes[name.as_str()]);
                    let fan_in: usize = wshape.iter().skip(1).product::<usize>().max(1);
                    1.0 / (fan_in as f64).sqrt()
                };
                let b = bound as f32;
                (0..n).map(|_| rng.random_range(-b..=b)).collect()
            }
        };
        var.set(&Tensor::from_vec(values, var.shape(), &Device::Cpu)?)?;
    }
    Ok((varmap, net))
}

/// The weight names an architecture reads, sorted.
pub fn expected_names(config: &SorterConfig) -> Result<Vec<String>> {
    let (varmap, _) = init_sorter(config, 0)?;
    let mut names: Vec<String> = varmap
        .data()
        .lock()
        .expect("var map lock")
        .keys()
        .cloned()
        .collect();
    names.sort();
    Ok(names)
}

/// Number of trainable parameters among `tensors` (BatchNorm running statistics excluded).
pub fn parameter_count<'a>(tensors: impl IntoIterator<Item = (&'a String, &'a Tensor)>) -> usize {
    tensors
        .into_iter()
        .filter(|(k, _)| !k.ends_with("running_mean") && !k.ends_with("running_var"))
        .map(|(_, t)| t.elem_count())
        .sum()
}
