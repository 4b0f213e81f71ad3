//! torchsort's two functions on candle tensors, with torchsort's conventions: for each row `x` of
//! a `B × n` tensor,
//!
//! - `soft_rank(x)` is the projection of `−x/ε` onto the permutahedron of `(n, n−1, …, 1)`:
//!   **ascending** ranks in raw units, `≈ 1` for the smallest score and `≈ n` for the largest;
//! - `soft_sort(x)` is the projection of `x/ε` onto the permutahedron of the sorted `x`: the
//!   scores **sorted ascending**, softly.
//!
//! ε is `regularization_strength`: as ε → 0 both become the exact ranks and sort. Regularisation
//! is L2 (torchsort's default); [`soft_rank_with`] and [`soft_sort_with`] also take KL. Values and
//! gradients equal torchsort 0.1.10's within 1e-6 (`tests/softrank.rs`, against its fixtures).
//!
//! The [`crate::Ranker`] trait keeps the SoDeep convention instead (descending, normalised: the
//! largest score gets `1/n`); [`crate::ranker::rank_with`] converts.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! let x = Tensor::new(&[[0.3f32, -1.0, 2.0]], &Device::Cpu)?;
//! let r = sodeep::soft_rank(&x, 1e-3)?.to_vec2::<f32>()?;
//! assert_eq!(r, vec![vec![2.0, 1.0, 3.0]]); // ascending ranks, 1..n
//! let s = sodeep::soft_sort(&x, 1e-3)?.to_vec2::<f32>()?;
//! assert_eq!(s, vec![vec![-1.0, 0.3, 2.0]]);
//! # Ok::<(), sodeep::Error>(())
//! ```

use candle_core::Tensor;

use crate::error::Result;
use crate::relax::row_op::apply_rows;
use crate::relax::softrank::{Ascending, Regularization, SoftRank};

/// torchsort's `soft_rank(x, regularization_strength=ε)` (L2) on every row of a `B × n` tensor:
/// ascending soft ranks in 1..n, differentiable. f32 or f64.
pub fn soft_rank(x: &Tensor, regularization_strength: f64) -> Result<Tensor> {
    soft_rank_with(x, regularization_strength, Regularization::L2)
}

/// torchsort's `soft_sort(x, regularization_strength=ε)` (L2) on every row of a `B × n` tensor:
/// the row sorted ascending, softly, differentiable. f32 or f64.
pub fn soft_sort(x: &Tensor, regularization_strength: f64) -> Result<Tensor> {
    soft_sort_with(x, regularization_strength, Regularization::L2)
}

/// [`soft_rank`] with either regularisation (torchsort's `regularization="l2"` or `"kl"`).
pub fn soft_rank_with(
    x: &Tensor,
    regularization_strength: f64,
    reg: Regularization,
) -> Result<Tensor> {
    let of = SoftRank::new(regularization_strength, reg)?;
    apply_rows(&Ascending { of, sort: false }, x)
}

/// [`soft_sort`] with either regularisation.
pub fn soft_sort_with(
    x: &Tensor,
    regularization_strength: f64,
    reg: Regularization,
) -> Result<Tensor> {
    let of = SoftRank::new(regularization_strength, reg)?;
    apply_rows(&Ascending { of, sort: true }, x)
}
