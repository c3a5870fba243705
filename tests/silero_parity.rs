//! livetag (its waveform windowing with lead-in, carried state and constants, ONNX Runtime)
//! against silero VAD's own wrapper (`OnnxWrapper` driven by `get_speech_timestamps`, run
//! with torch by `python -m livetag_tools.reference.silero`), chunk by chunk, on six
//! synthesised clips.
//! Target: max |difference in probability| <= 1e-3, and speech found only in speech.

mod common;

use common::{floats, open_shipped, read_json, repo};
use livetag::tagger::{tag_samples, TagSettings};

const CLIPS: [&str; 6] = ["speech", "whistle", "flute440", "noise", "drums", "chirp"];

#[test]
fn silero_matches_its_own_wrapper_chunk_by_chunk() {
    let (bundle, mut runner) = open_shipped("silero-vad");
    let dir = repo().join("tests/fixtures/silero");
    let mut worst = 0.0f32;
    for clip in CLIPS {
        let expected = read_json(&dir.join(format!("{clip}.expected.json")));
        let want = floats(&expected["probabilities"]);
        let samples = livetag::audio::load_mono(&dir.join(format!("{clip}.wav")), 16_000).unwrap();
        let mut got = Vec::new();
        // Any hop asked for is overridden: a stateful model runs at its own.
        let settings = TagSettings {
            hop_rows: 1000,
            batch_size: 8,
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
        assert_eq!(
            got.len(),
            want.len(),
            "{clip}: one window per 512-sample chunk"
        );
        let mut diff = 0.0f32;
        for (index, (window, &p)) in got.iter().zip(&want).enumerate() {
            // Window k ends where silero's chunk k ends (the last one zero-padded).
            let chunk_end_secs = (index + 1) as f64 * 512.0 / 16_000.0;
            assert!(
                (window.end_secs - chunk_end_secs).abs() < 1e-9,
                "{clip} {index}"
            );
            diff = diff.max((window.scores[0] - p).abs());
        }
        let mean = got.iter().map(|w| w.scores[0]).sum::<f32>() / got.len() as f32;
        println!(
            "{clip}: {} chunks, max |dprob| {diff:.2e}, mean speech probability {mean:.3}",
            got.len()
        );
        assert!(diff <= 1e-3, "{clip}: max |dprob| {diff}");
        if clip == "speech" {
            assert!(mean > 0.8, "speech: mean {mean}");
        } else {
            assert!(mean < 0.05, "{clip}: mean {mean}");
        }
        worst = worst.max(diff);
    }
    println!("silero parity: worst max |dprob| {worst:.2e}");
}
