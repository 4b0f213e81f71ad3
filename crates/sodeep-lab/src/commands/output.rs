//! Results on stdout as JSON.

use serde::Serialize;

use crate::error::{Error, Result};

/// Prints `value` as pretty JSON on stdout.
pub(crate) fn print_json(value: &impl Serialize) -> Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).map_err(Error::Serialize)?
    );
    Ok(())
}

/// Prints `value` as JSON on one line of stdout.
pub(crate) fn print_json_line(value: &impl Serialize) -> Result<()> {
    println!(
        "{}",
        serde_json::to_string(value).map_err(Error::Serialize)?
    );
    Ok(())
}
