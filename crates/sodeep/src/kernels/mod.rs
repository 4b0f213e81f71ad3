//! Fused CPU kernels, each a candle custom op with a hand-written backward pass. The plain
//! candle implementation of the same layer stays in `sorter/` as the reference that the tests
//! compare against.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use sodeep::kernels::lstm::bilstm_layer;
//! // one bidirectional LSTM layer: x is B × T × I, w is 2 × 4H × (I + H), b is 2 × 4H
//! let (b, t, i, h) = (2, 5, 1, 3);
//! let x = Tensor::ones((b, t, i), candle_core::DType::F32, &Device::Cpu)?;
//! let w = Tensor::full(0.1f32, (2, 4 * h, i + h), &Device::Cpu)?;
//! let bias = Tensor::zeros((2, 4 * h), candle_core::DType::F32, &Device::Cpu)?;
//! let y = bilstm_layer(&x, &w, &bias)?;
//! assert_eq!(y.dims(), &[b, t, 2 * h]);
//! assert!(sodeep::kernels::simd_level() <= sodeep::kernels::SimdLevel::detected());
//! # Ok::<(), candle_core::Error>(())
//! ```

#[cfg(feature = "train")]
pub(crate) mod adam;
pub mod batchnorm;
pub(crate) mod birnn;
pub mod conv;
pub mod dense;
pub mod gru;
pub(crate) mod linalg;
pub mod lstm;
pub mod pairwise;
pub mod pool;
pub(crate) mod simd;
pub(crate) mod storage;

pub use simd::{force_simd_level, simd_level, SimdLevel};
pub use storage::fused_applies;
