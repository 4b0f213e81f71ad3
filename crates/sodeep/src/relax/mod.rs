//! Analytic differentiable rankers, one file each, forward and backward side by side.
//!
//! | module | method | cost per row |
//! |---|---|---|
//! | [`softrank`] | soft ranks and soft sort by projection onto the permutahedron (Blondel et al. 2020) | O(n log n) |
//! | [`blackbox`] | exact ranks forward, perturbed re-ranking backward (Rolínek et al. 2020) | O(n log n) |
//! | [`diffsort`] | differentiable sorting networks, odd-even and bitonic (Petersen et al. 2021, 2022) | O(n²) odd-even, O(n log² n) bitonic |
//! | [`neuralsort`] | relaxed permutations as row softmaxes: NeuralSort (Grover et al. 2019) and SoftSort (Prillo & Eisenschlos 2020) | O(n²) |
//! | [`sinkhorn`] | soft ranks by entropic optimal transport, unrolled Sinkhorn iterations (Cuturi et al. 2019) | O(iters·n²) |
//!
//! Every method here is a pure per-row map `x ∈ ℝⁿ → y` with a hand-written vector–Jacobian
//! product, written as a [`RowMap`]. [`apply_rows`] turns one into a candle op on a `B × n`
//! tensor (f32 or f64, any B and n): it checks the input (2-D, non-empty, finite), runs the rows
//! in parallel on rayon's pool, and wires the VJP into candle's autograd.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use sodeep::relax::neuralsort::NeuralSort;
//! use sodeep::Ranker;
//! // NeuralSort's relaxed permutation P: row k weighs the inputs for the k-th largest score
//! let x = Tensor::new(&[[0.3f64, -1.0, 2.0]], &Device::Cpu)?;
//! let p = NeuralSort::new(0.01)?.permutation(&x)?.unwrap().to_vec3::<f64>()?;
//! assert!((p[0][0][2] - 1.0).abs() < 1e-6); // the largest score is input 2
//! # Ok::<(), sodeep::Error>(())
//! ```

pub mod blackbox;
pub mod diffsort;
pub mod neuralsort;
pub mod permutation;
pub mod row_op;
pub mod sinkhorn;
pub mod softrank;

pub use permutation::{ranks_from_permutation, ranks_from_permutation_vjp};
pub use row_op::{apply_rows, positive, RowMap, Tape};
