//! The relaxed comparator: the CDF that blends a pair's min and max (logistic, logistic_phi,
//! Cauchy, reciprocal).

use crate::error::{Error, Result};

/// The exponent λ of the `logistic_phi` distribution (diffsort's `art_lambda` default).
pub const ART_LAMBDA: f64 = 0.25;

/// The `|Δ| + ε` guard of `logistic_phi` (diffsort's 1e-10).
pub(super) const PHI_EPS: f64 = 1e-10;

/// The sigmoid `f` that turns a difference into a mixing weight `α = f(s·Δ)`,
/// `Δ = x_hi − x_lo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Distribution {
    /// `α = σ(s·Δ)` (the 2021 paper).
    Logistic,
    /// `α = σ(s·Δ / (|Δ| + 1e-10)^λ)`, λ = [`ART_LAMBDA`]: logistic with "activation
    /// replacement trick", steeper near Δ = 0.
    LogisticPhi,
    /// `α = atan(s·Δ)/π + ½`: monotonic (2022 paper); diffsort's default.
    Cauchy,
    /// `α = ½·(s·Δ/(2 + |s·Δ|) + 1)`: monotonic (2022 paper).
    Reciprocal,
}

impl Distribution {
    /// The names `parse` accepts, in this order.
    pub const NAMES: [&'static str; 4] = ["logistic", "logistic_phi", "cauchy", "reciprocal"];

    /// The name used in ranker specs.
    pub fn name(self) -> &'static str {
        match self {
            Distribution::Logistic => "logistic",
            Distribution::LogisticPhi => "logistic_phi",
            Distribution::Cauchy => "cauchy",
            Distribution::Reciprocal => "reciprocal",
        }
    }

    /// The distribution called `name` (one of [`Distribution::NAMES`]).
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "logistic" => Ok(Distribution::Logistic),
            "logistic_phi" => Ok(Distribution::LogisticPhi),
            "cauchy" => Ok(Distribution::Cauchy),
            "reciprocal" => Ok(Distribution::Reciprocal),
            _ => Err(Error::InvalidArgument(format!(
                "diffsort: unknown distribution '{name}': use one of {}",
                Distribution::NAMES.join(", ")
            ))),
        }
    }

    /// `(α, dα/dΔ)` at `Δ = x_hi − x_lo` for steepness `s`.
    #[inline]
    pub fn alpha(self, delta: f64, s: f64) -> (f64, f64) {
        let v = s * delta;
        // |Δ| or s·Δ overflowing: the comparator is hard, with no slope (avoids ∞/∞ = NaN)
        if !v.is_finite() {
            return (if v > 0.0 { 1.0 } else { 0.0 }, 0.0);
        }
        match self {
            Distribution::Logistic => {
                let a = sigmoid(v);
                (a, s * a * (1.0 - a))
            }
            Distribution::LogisticPhi => {
                let ad = delta.abs() + PHI_EPS;
                // (|Δ|+ε)^−λ with λ = ART_LAMBDA = ¼: 1/√√ is several times faster than powf
                let scale = 1.0 / ad.sqrt().sqrt();
                let a = sigmoid(v * scale);
                // d/dΔ [s·Δ·(|Δ|+ε)^−λ] = s·(|Δ|+ε)^−λ · (1 − λ·|Δ|/(|Δ|+ε))
                let du = s * scale * (1.0 - ART_LAMBDA * delta.abs() / ad);
                (a, a * (1.0 - a) * du)
            }
            Distribution::Cauchy => (
                v.atan() / std::f64::consts::PI + 0.5,
                s / (std::f64::consts::PI * (1.0 + v * v)),
            ),
            Distribution::Reciprocal => {
                let d = 2.0 + v.abs();
                // d/dv [v/(2+|v|)] = 2/(2+|v|)²
                (0.5 * (v / d + 1.0), s / (d * d))
            }
        }
    }
}

/// The logistic function without overflow for large |v|.
#[inline]
pub(super) fn sigmoid(v: f64) -> f64 {
    if v >= 0.0 {
        1.0 / (1.0 + (-v).exp())
    } else {
        let e = v.exp();
        e / (1.0 + e)
    }
}
