//! The shipped sorters, found by name (or alias) in the embedded `sodeep-weights` crate.

pub use sodeep_weights::ShippedSorter;

use crate::card::SorterCard;

/// The shipped sorter called `name`, following aliases.
pub fn find(name: &str) -> Option<&'static ShippedSorter> {
    let target = sodeep_weights::ALIASES
        .iter()
        .find(|(a, _)| *a == name)
        .map(|(_, t)| *t)
        .unwrap_or(name);
    sodeep_weights::SORTERS.iter().find(|s| s.name == target)
}

/// Every name a shipped sorter loads by: the sorters, then the aliases.
pub fn names() -> Vec<&'static str> {
    sodeep_weights::SORTERS
        .iter()
        .map(|s| s.name)
        .chain(sodeep_weights::ALIASES.iter().map(|(a, _)| *a))
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
    sodeep_weights::SORTERS
        .iter()
        .map(|s| Listing {
            name: s.name,
            aliases: sodeep_weights::ALIASES
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
