//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn livetag() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_livetag"))
}

/// Copies a bundle folder into a fresh temporary folder the test may break.
pub fn copy_bundle(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let src = repo().join("tests/models").join(name);
    let dst = tmp.path().join(name);
    copy_dir(&src, &dst);
    (tmp, dst)
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let target = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Replaces `from` with `to` in a bundle's spec; panics if `from` is absent, so a test
/// cannot silently stop testing what it claims.
pub fn edit_spec(bundle: &Path, from: &str, to: &str) {
    let path = bundle.join("bundle.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "spec has no {from:?}");
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}
