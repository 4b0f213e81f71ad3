//! Fused CPU kernels, each a candle custom op with a hand-written backward pass. The plain
//! candle implementation of the same layer stays in `sorter/` as the reference that the tests
//! compare against.

pub(crate) mod adam;
pub mod batchnorm;
pub(crate) mod birnn;
pub mod conv;
pub mod dense;
pub mod gru;
pub(crate) mod linalg;
pub mod lstm;
pub(crate) mod simd;
pub(crate) mod storage;

pub use simd::{force_simd_level, simd_level, SimdLevel};
pub use storage::fused_applies;
