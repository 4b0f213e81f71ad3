//! Analytic differentiable rankers, one file each, forward and backward side by side.
//!
//! So far: [`softrank`], the soft ranks of Blondel et al. 2020 (projection onto the
//! permutahedron by isotonic regression).

pub mod softrank;
