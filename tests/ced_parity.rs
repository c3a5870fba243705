//! CED-tiny through livetag (WAV decoding, windowing, padding of a short clip, the tail
//! window, batching) against the original `tiny.onnx` run by onnxruntime in Python, one
//! window per call (`python -m livetag_tools.convert.ced --fixtures`), on clips whose lengths
//! hit each windowing case. Target: max |difference in probability| <= 1e-5 on every window.

mod common;

use common::{floats, max_abs_diff, open_shipped, read_json, repo, tag_windows};
use livetag::tagger::TagSettings;

const CLIPS: [&str; 5] = [
    "whistle-0.3s",
    "speech-3.3s",
    "drums-11.45s",
    "speech-12.7s",
    "noise-1s",
];

#[test]
fn ced_tiny_matches_onnxruntime_on_the_original_model() {
    let (bundle, mut runner) = open_shipped("ced-tiny");
    let dir = repo().join("tests/fixtures/ced-tiny");
    let mut worst = 0.0f32;
    for clip in CLIPS {
        let expected = read_json(&dir.join(format!("{clip}.expected.json")));
        let want: Vec<Vec<f32>> = expected["scores"]
            .as_array()
            .unwrap()
            .iter()
            .map(floats)
            .collect();
        let samples = livetag::audio::load_mono(&dir.join(format!("{clip}.wav")), 16_000).unwrap();
        // Batches of 4 (the CLI's CPU default): the two long clips put 3 and 4 windows in
        // one call, so batching is exercised, not only single windows.
        let settings = TagSettings::new(&bundle.input, None, 4);
        let got = tag_windows(&mut runner, &bundle.input, &samples, settings);
        let windows = expected["windows"].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{clip}: window count");
        let mut diff = 0.0f32;
        for (index, (window, row)) in got.iter().zip(&want).enumerate() {
            let start = windows[index]["start_samples"].as_u64().unwrap() as f64 / 16_000.0;
            assert!(
                (window.start_secs - start).abs() < 1e-9,
                "{clip} window {index}: starts at {} s, Python's at {start} s",
                window.start_secs
            );
            diff = diff.max(max_abs_diff(&window.scores, row));
        }
        println!("{clip}: {} windows, max |dprob| {diff:.2e}", got.len());
        assert!(diff <= 1e-5, "{clip}: max |dprob| {diff}");
        worst = worst.max(diff);
    }
    println!("ced-tiny parity: worst max |dprob| {worst:.2e}");
}

#[test]
fn ced_tiny_joins_the_audioset_ontology() {
    let (bundle, _) = open_shipped("ced-tiny");
    assert_eq!(bundle.labels.len(), 527);
    assert_eq!(bundle.labels[0], "Speech");
    let ontology = bundle
        .hierarchy
        .ontology()
        .expect("ced-tiny names an ontology");
    assert_eq!(ontology.name, "audioset");
    let index = |name: &str| bundle.labels.iter().position(|l| l == name).unwrap();
    assert!(bundle
        .hierarchy
        .is_self_or_ancestor(index("Dog"), index("Bark")));
    assert!(bundle
        .hierarchy
        .is_self_or_ancestor(index("Speech"), index("Speech synthesizer")));
    assert!(!bundle
        .hierarchy
        .is_self_or_ancestor(index("Music"), index("Bark")));
}
