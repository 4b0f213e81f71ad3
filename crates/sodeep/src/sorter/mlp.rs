//! A fully connected sorter: `d → hidden → hidden → d` with ReLU (hidden = 2048 by default).

use candle_core::{Module, Result, Tensor};
use candle_nn::{linear, Linear, VarBuilder};

/// Configuration of [`MlpSorter`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MlpSorterConfig {
    /// Vector length.
    pub d: usize,
    /// Width of the two hidden layers.
    pub hidden: usize,
}

/// An MLP sorter (`fc1`, `fc2`, `fc3`).
#[derive(Debug, Clone)]
pub struct MlpSorter {
    config: MlpSorterConfig,
    fc: [Linear; 3],
}

impl MlpSorter {
    /// Loads or creates the weights.
    pub fn new(config: MlpSorterConfig, vb: VarBuilder) -> Result<Self> {
        let (d, h) = (config.d, config.hidden);
        Ok(Self {
            config,
            fc: [
                linear(d, h, vb.pp("fc1"))?,
                linear(h, h, vb.pp("fc2"))?,
                linear(h, d, vb.pp("fc3"))?,
            ],
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MlpSorterConfig {
        &self.config
    }
}

impl Module for MlpSorter {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.fc[0].forward(x)?.relu()?;
        let h = self.fc[1].forward(&h)?.relu()?;
        self.fc[2].forward(&h)
    }
}
