//! The README's Rust quick start is `examples/quick_start.rs`, which `cargo test` builds: the two
//! must not drift apart.

#[test]
fn readme_quick_start_is_the_example() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let example =
        std::fs::read_to_string(format!("{root}/crates/sodeep/examples/quick_start.rs")).unwrap();
    let section = &readme[readme
        .find("## Quick start (Rust)")
        .expect("a quick start section")..];
    let start = section.find("```rust\n").expect("a rust block") + "```rust\n".len();
    let block = &section[start..start + section[start..].find("```").unwrap()];
    assert_eq!(block.trim_end(), example.trim_end());
}
