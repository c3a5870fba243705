//! PyTorch exports (`tools/export.py`) against livetag: every architecture's bundle, run
//! through livetag's ModelRunner (ONNX Runtime), must give PyTorch's outputs within the
//! tolerance in its parity.json (1e-4) on every stored input length, and tag a real clip.
//!
//! The bundles are made by `tools/export.py --arch all --random-weights --reference --out
//! target/exports` (torch is the exporter's dependency only). `tools/test.sh` makes them and
//! sets `LIVETAG_REQUIRE_EXPORTS=1`, so in CI a missing export fails instead of skipping.

mod common;

use std::path::{Path, PathBuf};

use common::{max_abs_diff, read_json, repo};
use livetag::bundle::Bundle;
use livetag::inference::{ModelRunner, SessionOptions};
use livetag::tagger::{tag_samples, TagSettings};

fn exports_dir() -> PathBuf {
    std::env::var_os("LIVETAG_EXPORTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/exports"))
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Flattens a nested JSON array of numbers.
fn flatten(value: &serde_json::Value, out: &mut Vec<f32>) {
    match value.as_array() {
        Some(items) => items.iter().for_each(|v| flatten(v, out)),
        None => out.push(value.as_f64().unwrap() as f32),
    }
}

#[test]
fn every_export_matches_pytorch_and_tags_a_clip() {
    let dir = exports_dir();
    let mut bundles: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("parity.json").is_file())
                .collect()
        })
        .unwrap_or_default();
    bundles.sort();
    if bundles.is_empty() {
        assert!(
            std::env::var_os("LIVETAG_REQUIRE_EXPORTS").is_none(),
            "no exports in {}: run tools/export.py --arch all --random-weights --reference --out {}",
            dir.display(),
            dir.display()
        );
        eprintln!("skipped: no exports in {}", dir.display());
        return;
    }
    let runtime = livetag::inference::runtime(None).unwrap();
    let options = SessionOptions {
        threads: Some(1),
        ..Default::default()
    };
    let whistle = repo().join("assets/whistle.wav");
    for path in bundles {
        let bundle = Bundle::load(&path).unwrap();
        let mut runner = ModelRunner::new(&runtime, &bundle, &options).unwrap();
        let parity = read_json(&path.join("parity.json"));
        let tolerance = parity["tolerance"].as_f64().unwrap() as f32;
        let output = &bundle.primary_output().name;
        let mut worst = 0.0f32;
        let mut lengths = Vec::new();
        for case in parity["cases"].as_array().unwrap() {
            let input = &case["input_files"][&bundle.input.name];
            let shape: Vec<usize> = input["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect();
            let data = read_f32(&path.join(input["file"].as_str().unwrap()));
            let (batch, rows) = (shape[0], shape[1]);
            let mut scores = Vec::new();
            runner.run(&data, batch, rows, &mut scores).unwrap();
            let mut want = Vec::new();
            flatten(&case["outputs"][output], &mut want);
            let diff = max_abs_diff(&scores, &want);
            assert!(
                diff <= tolerance,
                "{}: {}: max |diff| {diff} > {tolerance}",
                bundle.name(),
                case["label"]
            );
            worst = worst.max(diff);
            lengths.push(rows);
        }
        assert!(lengths.len() >= 3, "{}: {lengths:?}", bundle.name());
        // A real clip through the whole file path: decode, resample, windows, batches.
        let samples = livetag::audio::load_mono(&whistle, bundle.input.sample_rate_hz).unwrap();
        let settings = TagSettings::new(&bundle.input, None, 4);
        let mut windows = Vec::new();
        tag_samples(
            &mut runner,
            &bundle.input,
            &samples,
            settings,
            |_| {},
            |w| windows.push(w),
        )
        .unwrap();
        assert!(!windows.is_empty(), "{}", bundle.name());
        assert!(windows.iter().all(
            |w| w.scores.len() == bundle.labels.len() && w.scores.iter().all(|s| s.is_finite())
        ));
        let min_secs = bundle.input.min_rows as f64 * bundle.input.seconds_per_row();
        println!(
            "{}: max |livetag - PyTorch| {worst:.2e} over lengths {lengths:?} rows; minimum {min_secs:.3} s; {} windows of the whistle",
            bundle.name(),
            windows.len()
        );
    }
}
