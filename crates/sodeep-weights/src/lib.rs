//! Pretrained SoDeep sorters, embedded in the binary so that they load by name from any
//! directory. The `sodeep` crate reads them through its sorter registry.
//!
//! Each sorter is a folder of `weights/` with `sorter.safetensors` (the weights) and
//! `sorter.json` (its model card); `weights/aliases.txt` adds alternative names.

/// One embedded sorter.
#[derive(Debug, Clone, Copy)]
pub struct ShippedSorter {
    /// The name it loads by (its folder's name).
    pub name: &'static str,
    /// The model card, JSON.
    pub card: &'static str,
    /// The safetensors file.
    pub weights: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/shipped.rs"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_point_to_embedded_sorters() {
        for (alias, target) in ALIASES {
            assert!(
                SORTERS.iter().any(|s| s.name == *target),
                "{alias} -> {target}"
            );
            assert!(
                SORTERS.iter().all(|s| s.name != *alias),
                "{alias} shadows a sorter"
            );
        }
    }
}
