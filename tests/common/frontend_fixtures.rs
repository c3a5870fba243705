//! Reading the front-end reference fixtures of `livetag_tools.reference.frontend`
//! (`tests/fixtures/frontend/<case>/`). Shared by the parity tests and the benchmark.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use livetag::dsp::FrontendSpec;

/// The reference front-ends, one per fixture folder (`streaming_db_top_db` is a variant of
/// the first, kept for the `top_db` test only).
pub const CASES: [&str; 7] = [
    "librosa_mel_slaney_db",
    "librosa_mel_htk_log",
    "panns_logmel",
    "musicnn",
    "dorfer_v1",
    "dorfer_v2",
    "kong_dcase2018_logmel",
];

#[derive(serde::Deserialize)]
struct FixtureToml {
    sample_rate_hz: u32,
    frontend: FrontendSpec,
}

pub fn dir(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/frontend")
        .join(case)
}

/// The case's `[frontend]` and sample rate.
pub fn spec(case: &str) -> (FrontendSpec, u32) {
    let path = dir(case).join("frontend.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let parsed: FixtureToml =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (parsed.frontend, parsed.sample_rate_hz)
}

/// Raw little-endian float32 values.
pub fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}
