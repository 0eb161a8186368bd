//! The identity of the source a binary is built from, for the rendered
//! tree's manifest: a render is a function of its inputs and of this
//! source, so a manifest that names both lets `check` prove a tree current
//! without rendering it again (`write::Manifest::source`). Only files that
//! decide what a render writes count, with line endings normalised, so the
//! same commit gives the same identity on every machine.

use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};

const FOLDERS: [&str; 2] = ["src", "schemas"];
const FILES: [&str; 3] = ["Cargo.toml", "Cargo.lock", "build.rs"];

fn main() {
    let mut paths: Vec<String> = FILES.iter().map(|f| (*f).to_owned()).collect();
    for folder in FOLDERS {
        println!("cargo:rerun-if-changed={folder}");
        for entry in walkdir::WalkDir::new(folder).sort_by_file_name() {
            let entry = entry.expect("the source tree is readable");
            if entry.file_type().is_file() {
                paths.push(entry.path().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    paths.sort();
    let mut hash = Sha256::new();
    for path in &paths {
        println!("cargo:rerun-if-changed={path}");
        let bytes = fs::read(Path::new(path)).expect("a source file is readable");
        let text = String::from_utf8_lossy(&bytes).replace("\r\n", "\n");
        hash.update(format!("{path}\0{}\0", text.len()));
        hash.update(text);
    }
    let id: String = hash.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("cargo:rustc-env=SLIPWAY_SOURCE_ID={id}");
}
