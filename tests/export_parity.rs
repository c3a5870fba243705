//! PyTorch exports (`python -m livetag_tools.export`) against livetag: every architecture's
//! bundle, run through livetag's ModelRunner (ONNX Runtime), must give PyTorch's outputs
//! within the tolerance in its parity.json (1e-4) on every stored input length, and tag a
//! real clip.
//!
//! The bundles are made, from tools/ (`tools/venv.sh export` gives the venv: torch is the
//! exporter's dependency only), by `python -m livetag_tools.export --arch all
//! --random-weights --reference --out ../target/exports`. `tools/test.sh` makes them and
//! sets `LIVETAG_REQUIRE_EXPORTS=1`, so in CI a missing export fails instead of skipping.

mod common;

use std::path::{Path, PathBuf};

use common::{max_abs_diff, read_json, repo};
use livetag::bundle::{Activation, Axis, Bundle, OutputSpec, OutputValues};
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

/// A stored input in the model's own layout (e.g. `[batch, channel, feature, time]`) as the
/// time-major rows ModelRunner takes: (batch, rows, values).
fn time_major(layout: &[Axis], shape: &[usize], stored: &[f32]) -> (usize, usize, Vec<f32>) {
    let axis = |wanted: Axis| layout.iter().position(|a| *a == wanted);
    let batch = shape[axis(Axis::Batch).unwrap()];
    let rows = shape[axis(Axis::Time).unwrap()];
    let width = axis(Axis::Feature).map_or(1, |f| shape[f]);
    let strides: Vec<usize> = (0..shape.len())
        .map(|i| shape[i + 1..].iter().product())
        .collect();
    let mut data = Vec::with_capacity(stored.len());
    for b in 0..batch {
        for t in 0..rows {
            for f in 0..width {
                let mut index = 0;
                for (i, a) in layout.iter().enumerate() {
                    index += strides[i]
                        * match a {
                            Axis::Batch => b,
                            Axis::Time => t,
                            Axis::Feature => f,
                            Axis::Channel => 0,
                        };
                }
                data.push(stored[index]);
            }
        }
    }
    (batch, rows, data)
}

/// PyTorch's raw outputs as the probabilities livetag reports: logits go through the
/// bundle's activation, one row of `classes` at a time.
fn as_probabilities(output: &OutputSpec, raw: &[f32], classes: usize) -> Vec<f32> {
    if output.values == OutputValues::Probabilities {
        return raw.to_vec();
    }
    raw.chunks(classes)
        .flat_map(|row| {
            let row: Vec<f64> = row
                .iter()
                .map(|&v| {
                    let clip = output.logit_clip.unwrap_or(f32::INFINITY);
                    f64::from(v.clamp(-clip, clip))
                })
                .collect();
            match output.activation {
                Activation::Sigmoid => row
                    .iter()
                    .map(|v| (1.0 / (1.0 + (-v).exp())) as f32)
                    .collect::<Vec<_>>(),
                Activation::Softmax => {
                    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let sum: f64 = row.iter().map(|v| (v - max).exp()).sum();
                    row.iter().map(|v| ((v - max).exp() / sum) as f32).collect()
                }
            }
        })
        .collect()
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
            "no exports in {}: run `python -m livetag_tools.export --arch all --random-weights \
             --reference --out {}` from tools/",
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
            let stored = read_f32(&path.join(input["file"].as_str().unwrap()));
            let (batch, rows, data) = time_major(&bundle.input.layout, &shape, &stored);
            if rows < bundle.input.min_rows {
                // The network runs there, but the bundle refuses it: its minimum is a choice.
                continue;
            }
            let mut scores = Vec::new();
            let framewise = bundle.framewise_output().map(|o| o.name.clone());
            match &framewise {
                Some(name) => {
                    let mut frames = livetag::inference::FrameScores::default();
                    runner
                        .run_with_frames(&data, batch, rows, &mut scores, &mut frames)
                        .unwrap();
                    let mut want = Vec::new();
                    flatten(&case["outputs"][name], &mut want);
                    let diff = max_abs_diff(&frames.values, &want);
                    assert!(diff <= tolerance, "{}: framewise {diff}", bundle.name());
                    worst = worst.max(diff);
                }
                None => runner.run(&data, batch, rows, &mut scores).unwrap(),
            }
            let mut want = Vec::new();
            flatten(&case["outputs"][output], &mut want);
            let want = as_probabilities(bundle.primary_output(), &want, bundle.labels.len());
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
        assert!(
            lengths.contains(&bundle.input.min_rows)
                || lengths.iter().all(|&r| r >= bundle.input.min_rows)
        );
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

/// The DCASE 2024 Task 1 baseline's card shows its authors' complexity figures: 61,148
/// parameters, and 29,416,448 multiply-accumulates in its convolutions for a 1 s clip (the
/// NeSsi count, 29,419,156, adds 2 per BatchNorm channel, which the export folds away).
#[test]
fn the_dcase2024_t1_card_reports_its_complexity() {
    let dir = exports_dir().join("dcase2024_t1_baseline");
    if !dir.join("bundle.toml").is_file() {
        assert!(
            std::env::var_os("LIVETAG_REQUIRE_EXPORTS").is_none(),
            "no export in {}",
            dir.display()
        );
        return;
    }
    let bundle = Bundle::load(&dir).unwrap();
    let runtime = livetag::inference::runtime(None).unwrap();
    let options = SessionOptions {
        threads: Some(1),
        ..Default::default()
    };
    let compute = livetag::inference::profile::measure(&runtime, &bundle, &options).unwrap();
    assert_eq!(compute.window_rows, 65);
    assert_eq!(compute.macs_per_window, 29_416_448);
    assert_eq!(compute.macs_by_op.keys().collect::<Vec<_>>(), ["Conv"]);
    let card = livetag::inference::profile::ModelCard::new(&bundle, "CPU".into(), Ok(compute));
    let rows = card.rows();
    assert!(rows[0].1.starts_with("61,148 as trained"), "{:?}", rows[0]);
    assert!(
        rows[3].1.contains("29.42 M per 1.02 s window"),
        "{:?}",
        rows[3]
    );
}
