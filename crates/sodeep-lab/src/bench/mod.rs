//! Benchmarks beside their PyTorch references: [`sorters`] times the sorters' training and
//! inference steps, [`rankers`] every differentiable ranker on the same work.

pub mod rankers;
pub mod sorters;
mod worker;

pub use sorters::{
    bench_sorters, step_peak_bytes, BenchConfig, BenchReport, CaseResult, MemoryResult, CASES,
};
