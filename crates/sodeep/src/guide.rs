//! The README and the guide's pages in `docs/`, compiled only for `cargo test --doc`: every
//! Rust example in them compiles and runs as a doctest, so the documentation cannot drift from
//! the library. One item per page, named after it. The pages whose examples load shipped sorters
//! by name are left out of a build without the `weights` feature, which has none.

#[doc = include_str!("../../../README.md")]
pub struct Readme;

#[doc = include_str!("../../../docs/README.md")]
pub struct GuideIndex;

#[doc = include_str!("../../../docs/rankers.md")]
pub struct Rankers;

#[cfg(feature = "weights")]
#[doc = include_str!("../../../docs/sorters-and-training.md")]
pub struct SortersAndTraining;

#[cfg(feature = "weights")]
#[doc = include_str!("../../../docs/losses.md")]
pub struct Losses;

#[doc = include_str!("../../../docs/experiments-and-reproduction.md")]
pub struct ExperimentsAndReproduction;

#[doc = include_str!("../../../docs/learning-to-rank.md")]
pub struct LearningToRank;

#[doc = include_str!("../../../docs/python.md")]
pub struct Python;

#[doc = include_str!("../../../docs/speed.md")]
pub struct Speed;

#[doc = include_str!("../../../docs/reliability.md")]
pub struct Reliability;

#[doc = include_str!("../../../docs/gpu.md")]
pub struct Gpu;

#[doc = include_str!("../../../docs/commands-and-layout.md")]
pub struct CommandsAndLayout;

#[doc = include_str!("../../../docs/NOTES.md")]
pub struct Notes;
