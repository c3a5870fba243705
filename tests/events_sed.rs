//! Sound event detection end to end on `tests/models/tiny-sed` and its clip
//! `tests/fixtures/tiny/sed.wav` (both from `tools/make_tiny_models.py`, whose docstring
//! lists the clip's tones).
//! Needs the ONNX Runtime library that `tools/setup.sh` installs.

mod common;

use std::path::PathBuf;

use common::{floats, read_json, repo};
use livetag::events::{ClassSettings, Decision, EventDetector, EventSettings};
use livetag::tagger::{detect_events, tag_samples_with_frames, TagSettings};

fn tiny_sed() -> PathBuf {
    repo().join("tests/models/tiny-sed")
}

fn sed_wav() -> PathBuf {
    repo().join("tests/fixtures/tiny/sed.wav")
}

fn open_tiny_sed() -> (livetag::bundle::Bundle, livetag::inference::ModelRunner) {
    let bundle = livetag::bundle::Bundle::load(&tiny_sed()).unwrap();
    let runtime = livetag::inference::runtime(None).unwrap();
    let options = livetag::inference::SessionOptions {
        device: livetag::inference::DevicePreference::Cpu,
        threads: Some(1),
    };
    let runner = livetag::inference::ModelRunner::new(&runtime, &bundle, &options).unwrap();
    (bundle, runner)
}

/// The framewise rows livetag hands over are the model's frames on the 50 ms grid, equal
/// to the NumPy computation in `tools/make_tiny_models.py`, whatever the hop: with
/// overlapping windows each frame comes once, from the first window that covers it.
#[test]
fn framewise_rows_have_absolute_times_and_the_reference_values() {
    let (bundle, mut runner) = open_tiny_sed();
    assert_eq!(runner.frame_rate_hz(), Some(20.0));
    let expected = read_json(&repo().join("tests/fixtures/tiny/sed.frames.json"));
    let expected: Vec<Vec<f32>> = expected["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect();
    assert_eq!(expected.len(), 80, "4 s at 20 frames per second");
    let samples = livetag::audio::load_mono(&sed_wav(), 8000).unwrap();
    // The bundle's hop (0.5 s), 0.25 s, and no overlap; batches of 1 and 3.
    for (hop_secs, batch) in [(None, 3), (Some(0.25), 1), (Some(1.0), 3)] {
        let settings = TagSettings::new(&bundle.input, hop_secs, batch);
        let mut frames: Vec<(u64, f64, Vec<f32>)> = Vec::new();
        let mut windows = Vec::new();
        tag_samples_with_frames(
            &mut runner,
            &bundle.input,
            &samples,
            settings,
            |_| {},
            |w| windows.push(w),
            |f| frames.push((f.index, f.time_secs, f.scores.to_vec())),
        )
        .unwrap();
        assert_eq!(frames.len(), 80, "hop {hop_secs:?}");
        for (k, (index, time, scores)) in frames.iter().enumerate() {
            assert_eq!(*index, k as u64);
            assert!((time - k as f64 * 0.05).abs() < 1e-9, "frame {k} at {time}");
            let diff = common::max_abs_diff(scores, &expected[k]);
            assert!(
                diff < 1e-4,
                "frame {k}, hop {hop_secs:?}: {scores:?} vs {:?}",
                expected[k]
            );
        }
        // The clip output (the primary one) is still there: each window's maximum frame.
        let first = &windows[0];
        assert_eq!((first.start_secs, first.end_secs), (0.0, 1.0));
        for class in 0..2 {
            let max = expected[..20].iter().map(|r| r[class]).fold(0.0, f32::max);
            assert!((first.scores[class] - max).abs() < 1e-4);
        }
    }
}

#[test]
fn streaming_detection_finds_the_clip_events() {
    let (bundle, mut runner) = open_tiny_sed();
    let samples = livetag::audio::load_mono(&sed_wav(), 8000).unwrap();
    let mut detector =
        EventDetector::new(bundle.labels.clone(), 20.0, &EventSettings::default()).unwrap();
    assert!(
        (detector.delay_secs() - 0.1).abs() < 1e-12,
        "5-frame median"
    );
    let settings = TagSettings::new(&bundle.input, None, 4);
    let decisions = detect_events(
        &mut runner,
        &bundle.input,
        &samples,
        settings,
        &mut detector,
        |_| {},
        |_| {},
    )
    .unwrap();
    let lines: Vec<String> = decisions.iter().map(Decision::to_string).collect();
    assert_eq!(
        lines,
        [
            "accepted low 0.500-2.000 s (peak 0.990)",
            "rejected high 2.600-2.750 s (peak 0.990): too short: 0.15 s < 0.20 s min",
            "accepted high 3.000-3.800 s (peak 0.990)",
        ]
    );
    // Without the median filter the 2-frame gap at 3.30-3.40 splits the last event, and
    // without hysteresis (off = on) the quiet tail of the first one (p 0.40) is cut off.
    let raw = EventSettings::new(ClassSettings {
        median_frames: 1,
        off: 0.5,
        ..ClassSettings::default()
    });
    let mut detector = EventDetector::new(bundle.labels.clone(), 20.0, &raw).unwrap();
    let decisions = detect_events(
        &mut runner,
        &bundle.input,
        &samples,
        settings,
        &mut detector,
        |_| {},
        |_| {},
    )
    .unwrap();
    let lines: Vec<String> = decisions.iter().map(Decision::to_string).collect();
    assert_eq!(
        lines,
        [
            "accepted low 0.500-1.500 s (peak 0.990)",
            "rejected high 2.600-2.750 s (peak 0.990): too short: 0.15 s < 0.20 s min",
            "accepted high 3.000-3.300 s (peak 0.990)",
            "accepted high 3.400-3.800 s (peak 0.990)",
        ]
    );
}
