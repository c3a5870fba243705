//! livetag (Rust front-end + ONNX Runtime) against musicnn's own TensorFlow pipeline, for
//! both bundled checkpoints (MTT and MSD), on clips `python -m livetag_tools.reference.musicnn`
//! synthesised (whistle, flute-like tone, noise, drums, chirp, speech). Targets: max
//! |difference in probability| <= 1e-3 and identical top-5.

mod common;

use common::repo;
use livetag::bundle::Bundle;
use livetag::inference::{ModelRunner, SessionOptions};
use livetag::tagger::{tag_samples, TagSettings};

const CLIPS: [&str; 6] = ["whistle", "flute440", "noise", "drums", "chirp", "speech"];

fn top5(scores: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order.truncate(5);
    order
}

#[test]
fn musicnn_mtt_matches_its_tensorflow_pipeline() {
    check_against_tensorflow("musicnn-mtt", "musicnn");
}

#[test]
fn musicnn_msd_matches_its_tensorflow_pipeline() {
    check_against_tensorflow("musicnn-msd", "musicnn-msd");
}

fn check_against_tensorflow(model: &str, fixtures: &str) {
    let bundle = Bundle::load(&repo().join("models").join(model)).unwrap();
    let runtime = livetag::inference::runtime(None).unwrap();
    let mut runner = ModelRunner::new(
        &runtime,
        &bundle,
        &SessionOptions {
            threads: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    // musicnn tags non-overlapping 187-frame patches.
    let settings = TagSettings {
        hop_rows: 187,
        batch_size: 4,
    };
    let mut worst = 0.0f32;
    for clip in CLIPS {
        let dir = repo().join("tests/fixtures").join(fixtures);
        let expected: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{clip}.expected.json"))).unwrap(),
        )
        .unwrap();
        let wav = dir.join(expected["wav"].as_str().unwrap());
        let samples = livetag::audio::load_mono(&wav, 16_000).unwrap();
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
        let patches = expected["probabilities"].as_array().unwrap();
        // musicnn drops the last partial patch; livetag adds one aligned to the end, which has
        // no TensorFlow counterpart.
        assert!(
            windows.len() >= patches.len(),
            "{clip}: {} windows, {} patches",
            windows.len(),
            patches.len()
        );
        for (index, (window, patch)) in windows.iter().zip(patches).enumerate() {
            let want: Vec<f32> = patch
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            let diff = common::max_abs_diff(&window.scores, &want);
            println!(
                "{clip} patch {index}: max |dprob| {diff:.2e}, top-1 {}",
                bundle.labels[top5(&window.scores)[0]]
            );
            worst = worst.max(diff);
            assert!(diff <= 1e-3, "{clip} patch {index}: max |dprob| {diff}");
            assert_eq!(
                top5(&window.scores),
                top5(&want),
                "{clip} patch {index}: top-5 differs"
            );
        }
    }
    println!("{model} parity: worst max |dprob| {worst:.2e}");
}

#[test]
fn a_synthesised_whistle_is_tagged_flute() {
    let clip = repo().join("assets/whistle.wav");
    let out = common::livetag()
        .args(["tag", "--model", "musicnn-mtt", "--top-k", "3"])
        .arg(&clip)
        .env("LIVETAG_MODEL_PATH", repo().join("models"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(record["top"][0]["label"], "flute", "{line}");
    }
}
