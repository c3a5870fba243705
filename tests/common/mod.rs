//! Shared helpers for the integration tests.
#![allow(dead_code)]

pub mod pulse;
pub mod window;

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

pub fn copy_dir(src: &Path, dst: &Path) {
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

/// A shipped bundle and a one-thread CPU-or-CUDA runner for it.
pub fn open_shipped(name: &str) -> (livetag::bundle::Bundle, livetag::inference::ModelRunner) {
    let bundle = livetag::bundle::Bundle::load(&repo().join("models").join(name)).unwrap();
    let runtime = livetag::inference::runtime(None).unwrap();
    let options = livetag::inference::SessionOptions {
        threads: Some(1),
        ..Default::default()
    };
    let runner = livetag::inference::ModelRunner::new(&runtime, &bundle, &options).unwrap();
    (bundle, runner)
}

/// A reference fixture's JSON.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// A JSON array of numbers.
pub fn floats(value: &serde_json::Value) -> Vec<f32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

/// Largest absolute difference between two score rows of the same length.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "score rows of different lengths");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Every window livetag scores in `samples` (mono, at the model's rate), in order.
pub fn tag_windows(
    runner: &mut livetag::inference::ModelRunner,
    input: &livetag::dsp::input::AudioInput,
    samples: &[f32],
    settings: livetag::tagger::TagSettings,
) -> Vec<livetag::tagger::WindowScores> {
    let mut windows = Vec::new();
    livetag::tagger::tag_samples(
        runner,
        input,
        samples,
        settings,
        |_| {},
        |w| windows.push(w),
    )
    .unwrap();
    windows
}
