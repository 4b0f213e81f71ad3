//! Branch-free activations that the compiler turns into vector code, and a way to compile a hot
//! loop once per instruction set and pick the best one the CPU has at run time, so that the binary
//! still runs on any x86-64 machine (and builds on any architecture, where the loops run as plain
//! code).
//!
//! The levels are [`SimdLevel::Avx512`] (512-bit registers: AVX-512 F/BW/DQ/VL), [`SimdLevel::Avx2`]
//! (AVX2 + FMA) and [`SimdLevel::Portable`]. The environment variable
//! `SODEEP_SIMD=portable|avx2|avx512`, read once, lowers the level (it never raises it above what
//! the CPU has); so does [`force_simd_level`]. The `gemm` crate, which the kernels call for their
//! matrix products, picks its own micro-kernel by the same CPU detection, and is not affected by
//! either.

use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction set the vectorised loops are compiled for, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SimdLevel {
    /// Plain code, whatever the target's baseline allows (SSE2 on x86-64).
    Portable,
    /// AVX2 with FMA, 256-bit registers.
    Avx2,
    /// AVX-512 F, BW, DQ and VL, 512-bit registers.
    Avx512,
}

impl SimdLevel {
    /// The level's name, as `SODEEP_SIMD` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Portable => "portable",
            Self::Avx2 => "avx2",
            Self::Avx512 => "avx512",
        }
    }

    /// Parses a name of [`SimdLevel::name`].
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "portable" => Some(Self::Portable),
            "avx2" => Some(Self::Avx2),
            "avx512" => Some(Self::Avx512),
            _ => None,
        }
    }

    /// The best level this CPU supports.
    pub fn detected() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512dq")
                && std::is_x86_feature_detected!("avx512vl")
                && std::is_x86_feature_detected!("fma")
            {
                return Self::Avx512;
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                return Self::Avx2;
            }
        }
        Self::Portable
    }

    fn from_u8(v: u8) -> Self {
        match v {
            2 => Self::Avx512,
            1 => Self::Avx2,
            _ => Self::Portable,
        }
    }
}

/// The level in effect, [`UNSET`] until first asked.
static LEVEL: AtomicU8 = AtomicU8::new(UNSET);
const UNSET: u8 = u8::MAX;

/// The level the vectorised loops run at: the CPU's best, lowered by `SODEEP_SIMD` or
/// [`force_simd_level`].
#[inline]
pub fn simd_level() -> SimdLevel {
    match LEVEL.load(Ordering::Relaxed) {
        UNSET => {
            let detected = SimdLevel::detected();
            let wanted = std::env::var("SODEEP_SIMD")
                .ok()
                .and_then(|v| SimdLevel::parse(&v))
                .unwrap_or(detected);
            let level = wanted.min(detected);
            LEVEL.store(level as u8, Ordering::Relaxed);
            level
        }
        v => SimdLevel::from_u8(v),
    }
}

/// Runs the vectorised loops at `level`, or at the CPU's best if that is lower; returns the level
/// now in effect. Meant for tests and benchmarks that compare levels in one process.
pub fn force_simd_level(level: SimdLevel) -> SimdLevel {
    let level = level.min(SimdLevel::detected());
    LEVEL.store(level as u8, Ordering::Relaxed);
    level
}

const LOG2E: f32 = std::f32::consts::LOG2_E;
// ln 2 split in a part exact in f32 and the rest, so that `x − n·ln 2` loses no bits.
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
// 1.5 · 2²³: adding it rounds to an integer held in the low mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// `e^x` within 2 ulp on [−87, 88] (clamped outside), without branches.
///
/// `e^x = 2ⁿ · e^r` with `n = round(x / ln 2)`, `|r| ≤ ln 2 / 2`; `e^r` is its degree-6 Taylor
/// polynomial (truncation error below 1.3e-7 relative).
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + ROUND_MAGIC;
    let n = t - ROUND_MAGIC;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // t's low mantissa bits hold n (two's complement); add the exponent bias and shift into place
    let scale = f32::from_bits(
        t.to_bits()
            .wrapping_sub(ROUND_MAGIC.to_bits())
            .wrapping_add(127)
            << 23,
    );
    p * scale
}

/// The logistic function `1 / (1 + e^−x)`.
#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `tanh x = 1 − 2 / (1 + e^2x)`: saturates cleanly at ±1, absolute error about 1e-7.
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / (1.0 + exp(2.0 * x))
}

/// Defines `fn $name(args)` that runs the `#[inline(always)]` function `$body(args)`, compiled
/// once per [`SimdLevel`] and dispatched on [`simd_level`]. The loops in `$body` and the helpers
/// above are then vectorised for the registers of each level; a closure would not do, because it
/// is not inlined into the function that carries the target features.
macro_rules! vectorized {
    ($(#[$m:meta])* fn $name:ident = $body:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?) => {
        $(#[$m])*
        fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2_fma($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                match $crate::kernels::simd::simd_level() {
                    // SAFETY: simd_level never exceeds the features the CPU was detected to have.
                    $crate::kernels::simd::SimdLevel::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    $crate::kernels::simd::SimdLevel::Avx2 => return unsafe { avx2_fma($($arg),*) },
                    $crate::kernels::simd::SimdLevel::Portable => {}
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use vectorized;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std_within_a_few_ulp() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let (a, b) = (exp(x) as f64, (x as f64).exp());
            worst = worst.max(((a - b) / b).abs());
            x += 0.0137;
        }
        assert!(worst < 3e-7, "worst relative error {worst}");
    }

    #[test]
    fn activations_match_std_and_saturate() {
        for i in -4000..=4000 {
            let x = i as f32 * 0.01;
            assert!((sigmoid(x) as f64 - 1.0 / (1.0 + (-x as f64).exp())).abs() < 2e-7);
            assert!(
                (tanh(x) as f64 - (x as f64).tanh()).abs() < 3e-7,
                "tanh({x})"
            );
        }
        for x in [-1e30f32, -200.0, 200.0, 1e30, f32::MAX, f32::MIN] {
            assert!(sigmoid(x).is_finite() && tanh(x).is_finite());
        }
        assert!(sigmoid(-200.0) < 1e-37 && sigmoid(200.0) == 1.0);
        assert_eq!(tanh(200.0), 1.0);
        assert_eq!(tanh(-200.0), -1.0);
    }

    #[inline(always)]
    fn exp_all_body(v: &mut [f32]) {
        for x in v {
            *x = exp(*x);
        }
    }
    vectorized!(fn exp_all = exp_all_body(v: &mut [f32]));

    #[test]
    fn vectorized_functions_compute_the_body_at_every_level() {
        let input: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) * 0.173).collect();
        let best = SimdLevel::detected();
        let mut results = Vec::new();
        for level in [SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512] {
            if force_simd_level(level) != level {
                continue;
            }
            let mut v = input.clone();
            exp_all(&mut v);
            results.push((level, v));
        }
        force_simd_level(best);
        assert_eq!(results.last().map(|r| r.0), Some(best));
        let (_, portable) = &results[0];
        assert!((portable[500 + 6] - (6.0f32 * 0.173).exp()).abs() < 1e-6);
        for (level, v) in &results {
            // the same operations in the same order: vector code gives the scalar code's bits
            assert_eq!(v, portable, "{level:?}");
        }
    }

    #[test]
    fn levels_parse_and_never_exceed_the_cpu() {
        for level in [SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512] {
            assert_eq!(SimdLevel::parse(level.name()), Some(level));
        }
        assert_eq!(SimdLevel::parse("sse9"), None);
        assert!(force_simd_level(SimdLevel::Avx512) <= SimdLevel::detected());
        force_simd_level(SimdLevel::detected());
    }
}
