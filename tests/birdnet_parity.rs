//! livetag (raw 48 kHz samples + ONNX Runtime on the converted graph) against BirdNET's own
//! pipeline, the TFLite interpreter (`livetag_tools.reference.birdnet`), on six
//! synthesised clips. Targets: identical top-5 and max |difference in probability| <= 2e-3.
//!
//! BirdNET's licence (CC BY-NC-SA 4.0) keeps it out of the repository, so the bundle comes
//! from `livetag models fetch birdnet` (livetag's cache) or `$LIVETAG_BIRDNET_BUNDLE`.
//! `tools/test.sh` fetches it and sets `LIVETAG_REQUIRE_BIRDNET=1`, so in CI a missing
//! bundle fails instead of skipping.

mod common;

use common::{floats, max_abs_diff, read_json, repo};
use livetag::bundle::Bundle;
use livetag::inference::{ModelRunner, SessionOptions};
use livetag::scores::top_k;
use livetag::tagger::{tag_samples, TagSettings};

const CLIPS: [&str; 6] = ["whistle", "flute440", "noise", "drums", "chirp", "speech"];

fn bundle_dir() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("LIVETAG_BIRDNET_BUNDLE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| livetag::cache::cache_dir().join("models/birdnet-v2.4"));
    dir.join("bundle.toml").is_file().then_some(dir)
}

#[test]
fn birdnet_matches_the_tflite_interpreter() {
    let Some(dir) = bundle_dir() else {
        assert!(
            std::env::var_os("LIVETAG_REQUIRE_BIRDNET").is_none(),
            "no BirdNET bundle: run `livetag models fetch birdnet`"
        );
        eprintln!("skipped: no BirdNET bundle (`livetag models fetch birdnet` makes one)");
        return;
    };
    let bundle = Bundle::load(&dir).unwrap();
    let runtime = livetag::inference::runtime(None).unwrap();
    let options = SessionOptions {
        threads: Some(1),
        ..Default::default()
    };
    let mut runner = ModelRunner::new(&runtime, &bundle, &options).unwrap();
    let fixtures = repo().join("tests/fixtures/birdnet");
    let mut worst = 0.0f32;
    for clip in CLIPS {
        let expected = read_json(&fixtures.join(format!("{clip}.expected.json")));
        let samples =
            livetag::audio::load_mono(&fixtures.join(format!("{clip}.wav")), 48_000).unwrap();
        let mut got = Vec::new();
        // birdnetlib's chunks: 3 s, no overlap.
        let settings = TagSettings {
            hop_rows: bundle.input.window_rows,
            batch_size: 2,
        };
        tag_samples(
            &mut runner,
            &bundle.input,
            &samples,
            settings,
            |_| {},
            |w| got.push(w),
        )
        .unwrap();
        let windows = expected["windows"].as_array().unwrap();
        assert_eq!(got.len(), windows.len(), "{clip}");
        for (index, (window, want)) in got.iter().zip(windows).enumerate() {
            let want_scores = floats(&want["probabilities"]);
            let diff = max_abs_diff(&window.scores, &want_scores);
            let want_top5: Vec<usize> = want["top5"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            let top5 = top_k(&window.scores, 5);
            println!(
                "{clip} window {index}: max |dprob| {diff:.2e}, top-1 {}",
                bundle.labels[top5[0]]
            );
            assert!(diff <= 2e-3, "{clip} window {index}: max |dprob| {diff}");
            assert_eq!(top5, want_top5, "{clip} window {index}: top-5 differs");
            worst = worst.max(diff);
        }
    }
    println!("birdnet parity: worst max |dprob| {worst:.2e}");
}
