//! ARCHITECTURE.md's "One `unsafe`" invariant: the workspace denies `unsafe_code`, and the
//! only place that allows it is the call into the AVX-512 fast tanh after run-time detection.

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
    let allowed = Path::new("crates/ebn-basis/src/fast_tanh.rs");
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a UTF-8 source file");
        let n = text.matches(&needle).count();
        let rel = file.strip_prefix(root).expect("under the root");
        if n > 0 {
            found.push((rel.to_path_buf(), n));
        }
    }
    assert_eq!(found, vec![(allowed.to_path_buf(), 1)], "places that allow unsafe code");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("the workspace manifest");
    assert!(manifest.contains("unsafe_code = \"deny\""), "the workspace no longer denies unsafe code");
}
