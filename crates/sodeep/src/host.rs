//! What machine a figure was measured on: the CPU model, its vector instruction sets, and which
//! of them the kernels use. Benchmarks and model cards record it, so that figures from different
//! hosts are never mixed.
//!
//! ```
//! let host = sodeep::host::Host::detect();
//! assert!(host.cores >= 1);
//! assert!(["portable", "avx2", "avx512"].contains(&host.simd.as_str()));
//! assert!(host.summary().contains("cores"));
//! ```

use serde::{Deserialize, Serialize};

use crate::kernels::simd_level;

/// The CPU flags (as `/proc/cpuinfo` names them) that decide which kernels run.
const FLAGS: [&str; 12] = [
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512dq",
    "avx512vl",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
];

/// A description of this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    /// The CPU model (`/proc/cpuinfo`'s "model name"), or the architecture where that is unknown.
    pub cpu_model: String,
    /// Logical cores available to this process.
    pub cores: usize,
    /// The target architecture (`x86_64`, `aarch64`, …).
    pub arch: String,
    /// Which of the vector flags that matter here the CPU has.
    pub flags: Vec<String>,
    /// The level the fused kernels' own loops run at ([`crate::kernels::SimdLevel::name`]).
    pub simd: String,
    /// The micro-kernel family the `gemm` crate picks for f32 on this CPU: `avx512f`, `fma`,
    /// `neon` or `scalar`.
    pub gemm: String,
}

impl Host {
    /// Reads this machine's description.
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |name: &str| {
            cpuinfo
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        };
        let cpu_flags = field("flags").unwrap_or_default();
        let have: Vec<&str> = cpu_flags.split_whitespace().collect();
        Self {
            cpu_model: field("model name").unwrap_or_else(|| std::env::consts::ARCH.to_string()),
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            arch: std::env::consts::ARCH.to_string(),
            flags: FLAGS
                .iter()
                .filter(|f| have.contains(f))
                .map(|f| f.to_string())
                .collect(),
            simd: simd_level().name().to_string(),
            gemm: gemm_kernel().to_string(),
        }
    }

    /// One line: the CPU model, the core count and the kernels in use.
    pub fn summary(&self) -> String {
        format!(
            "{}, {} cores (kernels: {}, gemm: {})",
            self.cpu_model, self.cores, self.simd, self.gemm
        )
    }
}

/// The f32 micro-kernel family the `gemm` crate dispatches to, by the same test it makes: with its
/// `x86-v4` feature (which this crate enables), AVX-512 F when the CPU has it, else FMA.
fn gemm_kernel() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            return "avx512f";
        }
        if std::is_x86_feature_detected!("fma") {
            return "fma";
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            return "neon";
        }
    }
    "scalar"
}
