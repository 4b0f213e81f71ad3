//! The shipped sorters, found by name (or alias) in the embedded `sodeep-weights` crate. Built
//! without the default `weights` feature, the library ships none: sorters then load from folders
//! only, and the lists below are empty.
//!
//! ```
//! // with the default features, the flagship loads by name
//! if cfg!(feature = "weights") {
//!     assert!(sodeep::registry::find("best-100").is_some());
//! }
//! assert!(sodeep::registry::find("no-such-sorter").is_none());
//! ```

#[cfg(feature = "weights")]
pub use sodeep_weights::ShippedSorter;

use crate::card::SorterCard;

/// One embedded sorter (none in a build without the `weights` feature).
#[cfg(not(feature = "weights"))]
#[derive(Debug, Clone, Copy)]
pub struct ShippedSorter {
    /// The name it loads by.
    pub name: &'static str,
    /// The model card, JSON.
    pub card: &'static str,
    /// The safetensors file.
    pub weights: &'static [u8],
}

#[cfg(feature = "weights")]
use sodeep_weights::{ALIASES, SORTERS};

#[cfg(not(feature = "weights"))]
const SORTERS: &[ShippedSorter] = &[];
#[cfg(not(feature = "weights"))]
const ALIASES: &[(&str, &str)] = &[];

/// The shipped sorter called `name`, following aliases.
pub fn find(name: &str) -> Option<&'static ShippedSorter> {
    let target = ALIASES
        .iter()
        .find(|(a, _)| *a == name)
        .map(|(_, t)| *t)
        .unwrap_or(name);
    SORTERS.iter().find(|s| s.name == target)
}

/// Every name a shipped sorter loads by: the sorters, then the aliases.
pub fn names() -> Vec<&'static str> {
    SORTERS
        .iter()
        .map(|s| s.name)
        .chain(ALIASES.iter().map(|(a, _)| *a))
        .collect()
}

/// One row of `sodeep list-sorters`.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The sorter's name.
    pub name: &'static str,
    /// Aliases that point to it.
    pub aliases: Vec<&'static str>,
    /// Its parsed model card (`None` if the embedded card is malformed).
    pub card: Option<SorterCard>,
    /// The raw card.
    pub card_json: &'static str,
    /// Size of the weights file in bytes.
    pub weight_bytes: usize,
}

/// The shipped sorters with their model cards.
pub fn list() -> Vec<Listing> {
    SORTERS
        .iter()
        .map(|s| Listing {
            name: s.name,
            aliases: ALIASES
                .iter()
                .filter(|(_, t)| *t == s.name)
                .map(|(a, _)| *a)
                .collect(),
            card: serde_json::from_str(s.card).ok(),
            card_json: s.card,
            weight_bytes: s.weights.len(),
        })
        .collect()
}
