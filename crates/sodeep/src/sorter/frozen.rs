//! [`Sorter`]: a sorter loaded by name or from a folder, frozen (weights as constants,
//! evaluation mode, input checked), and serving as a [`Ranker`].

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::net::SorterNet;
use super::standardize::standardize_rows;
use crate::card::{Arch, SorterCard, SorterConfig, DEFAULT_LAMBDA};
use crate::checkpoint;
use crate::error::{check_finite, Error, Result};
use crate::ranker::Ranker;

/// A frozen sorter: weights loaded as constants, evaluation mode, input checked.
///
/// Gradients flow to the input of [`Sorter::forward`], never to the weights.
#[derive(Debug, Clone)]
pub struct Sorter {
    name: String,
    card: SorterCard,
    net: SorterNet,
    /// The weights as loaded, on the CPU.
    weights: HashMap<String, Tensor>,
    /// Where the network computes (its weights live there); inputs move to it and results
    /// move back to the input's device.
    device: Device,
}

impl Sorter {
    /// The untrained pairwise-sigmoid sorter with sharpness `lambda`.
    pub fn handcrafted(lambda: f64) -> Result<Self> {
        let mut config = SorterConfig::new(Arch::Handcrafted, 0);
        config.lambda = Some(lambda);
        config.validate()?;
        let net = SorterNet::new(&config, VarBuilder::zeros(DType::F32, &Device::Cpu))?;
        Ok(Self {
            name: format!("handcrafted:{lambda}"),
            card: SorterCard::new(config, 0),
            net,
            weights: HashMap::new(),
            device: Device::Cpu,
        })
    }

    /// Builds a sorter from its card and weight tensors; `origin` names them in errors.
    pub fn from_tensors(
        name: &str,
        card: SorterCard,
        tensors: HashMap<String, Tensor>,
        origin: &Path,
    ) -> Result<Self> {
        card.config.validate()?;
        if card.config.arch == Arch::Handcrafted {
            let lambda = card.config.lambda.unwrap_or(DEFAULT_LAMBDA);
            return Self::handcrafted(lambda);
        }
        check_weights(&card.config, &tensors, origin)?;
        let vb = VarBuilder::from_tensors(tensors.clone(), DType::F32, &Device::Cpu);
        let net = SorterNet::new(&card.config, vb).map_err(|e| Error::BadWeights {
            path: origin.to_path_buf(),
            reason: format!(
                "the weights do not fit a {} sorter with d = {}, hidden = {}: {e}",
                card.config.arch.name(),
                card.config.d,
                card.config.hidden
            ),
        })?;
        Ok(Self {
            name: name.to_string(),
            card,
            net,
            weights: tensors,
            device: Device::Cpu,
        })
    }

    /// The same sorter computing on `device` (its weights copied there). On a GPU the
    /// network runs its plain candle layers: the fused kernels are CPU code.
    pub fn to_device(&self, device: &Device) -> Result<Self> {
        let moved = self
            .weights
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.to_device(device)?)))
            .collect::<Result<HashMap<_, _>>>()?;
        let vb = VarBuilder::from_tensors(moved, DType::F32, device);
        let net = SorterNet::new(&self.card.config, vb)?;
        Ok(Self {
            net,
            device: device.clone(),
            ..self.clone()
        })
    }

    /// Where the sorter computes.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Loads a sorter folder (`sorter.safetensors` + `sorter.json`).
    pub fn load_dir(dir: &Path) -> Result<Self> {
        let (card, tensors) = checkpoint::load_sorter_files(dir)?;
        Self::from_tensors(&dir.display().to_string(), card, tensors, dir)
    }

    /// Loads a sorter by spec: `handcrafted[:LAMBDA]`, a shipped name, or a folder.
    ///
    /// A shipped name wins over a folder of the same name in the working directory (an output
    /// folder called `any-meta` must not turn `--ranker any-meta` into a load error); write
    /// `./any-meta` for the folder.
    pub fn load(spec: &str) -> Result<Self> {
        if let Some(rest) = spec.strip_prefix("handcrafted") {
            let lambda = match rest.strip_prefix(':') {
                None if rest.is_empty() => DEFAULT_LAMBDA,
                Some(l) => l.parse::<f64>().map_err(|_| {
                    Error::InvalidArgument(format!(
                        "cannot read λ in '{spec}': write handcrafted:LAMBDA, e.g. handcrafted:10"
                    ))
                })?,
                None => return Err(unknown_sorter(spec)),
            };
            return Self::handcrafted(lambda);
        }
        if let Some(shipped) = crate::registry::find(spec) {
            let tensors = candle_core::safetensors::load_buffer(shipped.weights, &Device::Cpu)
                .map_err(|e| Error::BadWeights {
                    path: format!("<shipped {}>", shipped.name).into(),
                    reason: e.to_string(),
                })?;
            let card: SorterCard =
                serde_json::from_str(shipped.card).map_err(|e| Error::BadWeights {
                    path: format!("<shipped {}>", shipped.name).into(),
                    reason: format!("bad model card: {e}"),
                })?;
            return Self::from_tensors(shipped.name, card, tensors, Path::new(shipped.name));
        }
        let path = Path::new(spec);
        if path.is_dir() {
            return Self::load_dir(path);
        }
        if path.exists() {
            return Err(Error::BadWeights {
                path: path.to_path_buf(),
                reason: "a sorter path must be a folder holding sorter.safetensors and sorter.json"
                    .into(),
            });
        }
        Err(unknown_sorter(spec))
    }

    /// The name or path it was loaded from.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its card (architecture, d, training record).
    pub fn card(&self) -> &SorterCard {
        &self.card
    }

    /// The vector length it takes, or `None` for sorters of any length (handcrafted, pairwise).
    pub fn d(&self) -> Option<usize> {
        (!self.card.config.arch.any_length()).then_some(self.card.config.d)
    }

    /// A warning when `n` lies outside the lengths the sorter was trained on (see
    /// [`SorterConfig::length_warning`]).
    pub fn length_warning(&self, n: usize) -> Option<String> {
        self.card.config.length_warning(n)
    }

    /// Its weight tensors by name (empty for the handcrafted sorter).
    pub fn weights(&self) -> &HashMap<String, Tensor> {
        &self.weights
    }

    /// The network, for callers that manage validation themselves.
    pub fn net(&self) -> &SorterNet {
        &self.net
    }

    /// Checks a `B × d` batch: two dimensions, non-empty, the sorter's d, finite values.
    pub fn check_input(&self, x: &Tensor) -> Result<()> {
        let (b, d) = match x.dims() {
            [b, d] => (*b, *d),
            other => {
                return Err(Error::InvalidArgument(format!(
                    "a sorter takes a B × d tensor, got shape {other:?}"
                )))
            }
        };
        if b == 0 || d == 0 {
            return Err(Error::Empty(format!(
                "a batch of {b} vectors of length {d}: nothing to rank"
            )));
        }
        if let Some(expected) = self.d() {
            if d != expected {
                return Err(Error::LengthMismatch {
                    row: 0,
                    got: d,
                    expected,
                });
            }
        }
        // in the input's precision: an f64 score beyond f32's range is finite, and a sorter
        // that standardises first takes it
        let flat: Vec<f64> = x.to_dtype(DType::F64)?.flatten_all()?.to_vec1()?;
        check_finite(&flat, d)?;
        if !self.standardizes() && self.card.config.arch != Arch::Handcrafted {
            if let Some(i) = flat.iter().position(|v| v.abs() > f32::MAX as f64) {
                return Err(Error::InvalidArgument(format!(
                    "score {} (vector {}, position {}) is beyond the range of f32, in which \
                     the {} sorter computes; scale the scores down",
                    flat[i],
                    i / d,
                    i % d,
                    self.card.config.arch.name()
                )));
            }
        }
        Ok(())
    }

    /// Whether the network standardises each vector first (the pairwise sorter, and the cards
    /// that say `standardize`).
    fn standardizes(&self) -> bool {
        self.card.config.standardize || self.card.config.arch == Arch::Pairwise
    }

    /// Predicted SoDeep ranks of a `B × d` batch (differentiable with respect to `x`).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.check_input(x)?;
        // the weights are f32; the handcrafted sorter has none and computes in x's dtype
        if self.card.config.arch == Arch::Handcrafted {
            return Ok(self.net.forward_t(x, false)?);
        }
        // a standardising sorter standardises in the input's precision before the cast to
        // f32, which would otherwise merge f64 scores closer than f32's spacing; the network
        // standardises its input again, which changes a standardised row only by rounding
        let z;
        let x = if self.standardizes() {
            z = standardize_rows(x)?;
            &z
        } else {
            x
        };
        let x32 = x.to_dtype(DType::F32)?.to_device(&self.device)?;
        Ok(self
            .net
            .forward_t(&x32, false)?
            .to_device(x.device())?
            .to_dtype(x.dtype())?)
    }
}

/// Every weight must be one the card's architecture reads, and finite: weights the network
/// would ignore mean that the card and the file disagree (a card with fewer layers than the
/// weights hold, an import with the wrong `--layers`).
fn check_weights(
    config: &SorterConfig,
    tensors: &HashMap<String, Tensor>,
    origin: &Path,
) -> Result<()> {
    let bad = |reason: String| Error::BadWeights {
        path: origin.to_path_buf(),
        reason,
    };
    // the names come from building the network, whose size a hostile card could make huge
    crate::memory::check(
        &format!(
            "loading a {} sorter with d = {}, hidden = {}, layers = {}",
            config.arch.name(),
            config.d,
            config.hidden,
            config.layers
        ),
        config.training_bytes(1),
    )?;
    let expected = super::net::expected_names(config)?;
    let mut extra: Vec<&String> = tensors.keys().filter(|k| !expected.contains(k)).collect();
    extra.sort();
    if !extra.is_empty() {
        let shown: Vec<&str> = extra.iter().take(5).map(|s| s.as_str()).collect();
        return Err(bad(format!(
            "{} weight(s) are not read by a {} sorter with d = {}, hidden = {}, layers = {} \
             ({}{}): the card (or --arch/--len/--hidden/--layers) and the weights disagree",
            extra.len(),
            config.arch.name(),
            config.d,
            config.hidden,
            config.layers,
            shown.join(", "),
            if extra.len() > 5 { ", …" } else { "" }
        )));
    }
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    for k in names {
        let v: Vec<f32> = tensors[k].to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        if let Some(x) = v.iter().find(|x| !x.is_finite()) {
            return Err(bad(format!("weight {k} holds a non-finite value ({x})")));
        }
    }
    Ok(())
}

fn unknown_sorter(spec: &str) -> Error {
    let mut known: Vec<String> = crate::registry::names()
        .into_iter()
        .map(String::from)
        .collect();
    known.push("handcrafted[:LAMBDA]".into());
    Error::UnknownSorter {
        name: spec.to_string(),
        known: known.join(", "),
    }
}

impl Ranker for Sorter {
    fn name(&self) -> String {
        Sorter::name(self).to_string()
    }

    fn fixed_len(&self) -> Option<usize> {
        self.d()
    }

    fn length_warning(&self, n: usize) -> Option<String> {
        Sorter::length_warning(self, n).map(|w| format!("{}: {w}", self.name))
    }

    fn rank(&self, scores: &Tensor) -> Result<Tensor> {
        self.forward(scores)
    }

    fn memory_bytes(&self, n: usize) -> u64 {
        match self.d() {
            // fixed-size nets: activations linear in n
            Some(_) => 64 * n as u64,
            // the pairwise sorter's fused op keeps O(n K) scratch per row
            None if self.card.config.arch == Arch::Pairwise => {
                16 * (n as u64) * (self.card.config.hidden as u64 + 6)
            }
            // the handcrafted sorter keeps about eight n × n f32 matrices through autodiff
            // (differences, scaled, sigmoid, and their gradients)
            None => 32u64.saturating_mul((n as u64).saturating_mul(n as u64)),
        }
    }
}
