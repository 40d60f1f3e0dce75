//! ARCHITECTURE.md's "unsafe only to enter an AVX-512 kernel": the workspace denies
//! `unsafe_code`; the places that allow it are the listed files, each right after the
//! run-time check for AVX-512F.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn unsafe_code_is_allowed_in_one_place_only() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root");
    let mut files = Vec::new();
    for dir in ["crates", "xtask", "examples"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 50, "the walk found only {} Rust files", files.len());
    let needle = ["allow(", "unsafe_code)"].concat(); // not spelled out, so this file passes
    let check = ["is_x86_feature_detected!(", "\"avx512f\")"].concat();
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a UTF-8 source file");
        let lines: Vec<&str> = text.lines().collect();
        let rel = file.strip_prefix(root).expect("under the root").to_string_lossy().replace('\\', "/");
        for (at, line) in lines.iter().enumerate() {
            if line.contains(&needle) {
                let before = &lines[at.saturating_sub(6)..at];
                assert!(
                    before.iter().any(|l| l.contains(&check)),
                    "{rel}:{}: unsafe code allowed without the AVX-512F check in the 6 lines before",
                    at + 1
                );
                found.push(rel.clone());
            }
        }
    }
    let expected = [
        "crates/ebn-basis/src/fast_tanh.rs",         // tanh_of_sums
        "crates/ebn-basis/src/fast_tanh.rs",         // drive_step
        "crates/ebn-engine/src/kernels/membrane.rs", // the one-pass blocks
        "crates/ebn-engine/src/kernels/membrane.rs", // their test against the portable loop
    ];
    found.sort();
    assert_eq!(found, expected, "places that allow unsafe code");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("the workspace manifest");
    assert!(manifest.contains("unsafe_code = \"deny\""), "the workspace no longer denies unsafe code");
}
