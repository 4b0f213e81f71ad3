//! Embeds every folder of `weights/` that holds `sorter.safetensors` and `sorter.json`, and the
//! aliases listed in `weights/aliases.txt` (`alias = target`, one per line).

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let root = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("weights");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut names = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&root) {
        for e in entries.flatten() {
            let p = e.path();
            println!("cargo:rerun-if-changed={}", p.display());
            if p.join("sorter.safetensors").is_file() && p.join("sorter.json").is_file() {
                println!(
                    "cargo:rerun-if-changed={}",
                    p.join("sorter.safetensors").display()
                );
                println!("cargo:rerun-if-changed={}", p.join("sorter.json").display());
                names.push(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    names.sort();
    let mut src = String::from(
        "/// The embedded sorters, sorted by name.\npub const SORTERS: &[ShippedSorter] = &[\n",
    );
    for n in &names {
        let dir = root.join(n);
        writeln!(
            src,
            "    ShippedSorter {{ name: {n:?}, card: include_str!({:?}), weights: include_bytes!({:?}) }},",
            dir.join("sorter.json").display().to_string(),
            dir.join("sorter.safetensors").display().to_string()
        )
        .unwrap();
    }
    src.push_str(
        "];\n/// Alternative names: `(alias, target)`.\npub const ALIASES: &[(&str, &str)] = &[\n",
    );
    let aliases = root.join("aliases.txt");
    println!("cargo:rerun-if-changed={}", aliases.display());
    if let Ok(text) = std::fs::read_to_string(&aliases) {
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            if let Some((a, t)) = line.split_once('=') {
                let (a, t) = (a.trim(), t.trim());
                assert!(
                    names.iter().any(|n| n == t),
                    "alias {a} points to unknown sorter {t}"
                );
                writeln!(src, "    ({a:?}, {t:?}),").unwrap();
            }
        }
    }
    src.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("shipped.rs");
    std::fs::write(out, src).unwrap();
}
