//! What each `sodeep` subcommand does once its arguments are parsed: one function per subcommand
//! that runs the work and prints its output (tables, JSON, progress). The command-line crate only
//! parses arguments and calls these.

pub mod bench;
pub mod experiments;
pub mod meta;
mod output;
pub mod progress;
pub mod rank;
pub mod sorters;
