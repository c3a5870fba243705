//! `tag_file` (decode, mix, resample and tag chunk by chunk, as `livetag tag` does) gives
//! exactly what the whole-file path gives (`load_mono` then `tag_samples`): the same
//! windows, the same start and end times and bit-identical scores, for files whose tails
//! land on every window-alignment case, with and without resampling, for a features model,
//! a waveform model and a stateful one. And the windows of the shipped bundles' streams
//! are flagged silent exactly when the audio is digital silence.

mod common;

use std::path::Path;

use common::repo;
use livetag::bundle::Bundle;
use livetag::dsp::input::{AudioInput, InputKind};
use livetag::dsp::silence::SilenceCheck;
use livetag::dsp::stream::WindowStream;
use livetag::inference::{ModelRunner, SessionOptions};
use livetag::tagger::{tag_file, tag_samples, TagSettings, WindowScores};

fn open(dir: &Path) -> (Bundle, ModelRunner) {
    let bundle = Bundle::load(dir).unwrap();
    let runtime = livetag::inference::runtime(None).unwrap();
    let options = SessionOptions {
        threads: Some(1),
        ..Default::default()
    };
    let runner = ModelRunner::new(&runtime, &bundle, &options).unwrap();
    (bundle, runner)
}

/// Samples at the model's rate that make exactly `rows` rows.
fn samples_for_rows(input: &AudioInput, rows: usize) -> usize {
    match &input.kind {
        InputKind::Features { frontend, .. } => frontend.stft_params().samples_for_frames(rows),
        InputKind::Waveform { lead_in_samples } => rows - lead_in_samples,
    }
}

/// Lengths in model samples for each tail case: shorter than the minimum; between the
/// minimum and a window; exactly a window; a window and two hops; that and a tail.
fn tail_cases(input: &AudioInput, hop_rows: usize) -> Vec<(&'static str, usize)> {
    let min = input.min_rows.max(3);
    let window = input.window_rows;
    let rows = [
        ("shorter than min", min - 2),
        ("between min and window", (min + window) / 2),
        ("exactly a window", window),
        ("window + 2 hops", window + 2 * hop_rows),
        (
            "window + 2 hops + tail",
            window + 2 * hop_rows + hop_rows / 3 + 1,
        ),
    ];
    rows.into_iter()
        .map(|(name, rows)| (name, samples_for_rows(input, rows.max(1)).max(1)))
        .collect()
}

/// `round(frames * to / from)`, as the resampler sizes its output.
fn resampled_len(frames: usize, from: u32, to: u32) -> usize {
    ((frames as u128 * u128::from(to) + u128::from(from) / 2) / u128::from(from)) as usize
}

/// Source frames at `from` Hz that resample to exactly `target` samples at `to` Hz.
fn source_frames_for(target: usize, from: u32, to: u32) -> usize {
    let guess = (target as u128 * u128::from(from) / u128::from(to)) as usize;
    (guess.saturating_sub(4)..guess + 8)
        .find(|&n| resampled_len(n, from, to) == target)
        .unwrap_or_else(|| panic!("no length at {from} Hz resamples to {target} at {to} Hz"))
}

/// A tone with a little deterministic noise; stereo channels differ.
fn write_wav(path: &Path, rate: u32, channels: u16, frames: usize) {
    let float = channels == 1;
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: if float { 32 } else { 16 },
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    let mut seed = 0x2545_f491_u32;
    for n in 0..frames {
        let t = n as f32 / rate as f32;
        for c in 0..channels {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            let freq = 440.0 * (1.0 + f32::from(c)) + 700.0 * t;
            let value = 0.4 * (std::f32::consts::TAU * freq * t).sin() + 0.1 * noise;
            if float {
                writer.write_sample(value).unwrap();
            } else {
                writer.write_sample((value * 32767.0) as i16).unwrap();
            }
        }
    }
    writer.finalize().unwrap();
}

fn whole_file(runner: &mut ModelRunner, bundle: &Bundle, path: &Path) -> Vec<WindowScores> {
    let samples = livetag::audio::load_mono(path, bundle.input.sample_rate_hz).unwrap();
    let settings = TagSettings::new(&bundle.input, None, 4);
    let mut out = Vec::new();
    tag_samples(
        runner,
        &bundle.input,
        &samples,
        settings,
        |_| {},
        |w| out.push(w),
    )
    .unwrap();
    out
}

fn streamed(runner: &mut ModelRunner, bundle: &Bundle, path: &Path) -> (Vec<WindowScores>, usize) {
    let settings = TagSettings::new(&bundle.input, None, 4);
    let mut out = Vec::new();
    let tagged = tag_file(
        runner,
        &bundle.input,
        path,
        settings,
        |_| {},
        |w| out.push(w),
    )
    .unwrap();
    (out, tagged.samples)
}

/// Every tail case, at the model's own rate (mono float) and at 44.1 kHz (stereo 16-bit,
/// resampled).
fn check_model(dir: &Path) {
    let (bundle, mut runner) = open(dir);
    let model_rate = bundle.input.sample_rate_hz;
    let hop_rows = if runner.is_stateful() {
        bundle.input.hop_rows
    } else {
        TagSettings::new(&bundle.input, None, 4).hop_rows
    };
    let tmp = tempfile::tempdir().unwrap();
    for (case, model_samples) in tail_cases(&bundle.input, hop_rows) {
        for (rate, channels) in [(model_rate, 1u16), (44_100, 2)] {
            let frames = if rate == model_rate {
                model_samples
            } else {
                source_frames_for(model_samples, rate, model_rate)
            };
            let path = tmp.path().join(format!("{model_samples}_{rate}.wav"));
            write_wav(&path, rate, channels, frames);
            let what = format!(
                "{}: {case} ({model_samples} samples), {rate} Hz",
                bundle.name()
            );

            let want = whole_file(&mut runner, &bundle, &path);
            let (got, got_samples) = streamed(&mut runner, &bundle, &path);
            assert_eq!(got_samples, model_samples, "{what}: length");
            assert!(!want.is_empty(), "{what}: no windows");
            assert_eq!(got.len(), want.len(), "{what}: window count");
            for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    g.start_secs == w.start_secs && g.end_secs == w.end_secs,
                    "{what}: window {k} spans {}..{} vs {}..{}",
                    g.start_secs,
                    g.end_secs,
                    w.start_secs,
                    w.end_secs
                );
                assert!(g.scores == w.scores, "{what}: window {k} scores differ");
            }
        }
    }
}

#[test]
fn features_model_streams_exactly() {
    check_model(&repo().join("tests/models/tiny-tone"));
}

#[test]
fn stateful_model_streams_exactly() {
    check_model(&repo().join("tests/models/tiny-state"));
}

#[test]
fn waveform_model_streams_exactly() {
    check_model(&repo().join("models/ced-tiny"));
}

/// Longer than one decoder chunk and with resampling, so windows straddle chunk and
/// resampler-block boundaries many times.
#[test]
fn a_long_file_streams_exactly() {
    let (bundle, mut runner) = open(&repo().join("tests/models/tiny-tone"));
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("long.wav");
    write_wav(&path, 44_100, 2, 44_100 * 20 + 123);
    let want = whole_file(&mut runner, &bundle, &path);
    let (got, _) = streamed(&mut runner, &bundle, &path);
    assert!(want.len() > 50, "{} windows", want.len());
    assert!(
        got == want,
        "streamed windows differ from the whole-file ones"
    );
}

/// Bad audio part-way fails at the chunk that holds it, naming the file and the time; the
/// windows before it have been handed over by then.
#[test]
fn nan_part_way_is_an_error_naming_the_file_and_time() {
    let (bundle, mut runner) = open(&repo().join("tests/models/tiny-tone"));
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("nan_at_20s.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(&path, spec).unwrap();
    for n in 0..8000 * 30 {
        let value = if n == 8000 * 20 {
            f32::NAN
        } else {
            0.3 * (n as f32 * 0.2).sin()
        };
        writer.write_sample(value).unwrap();
    }
    writer.finalize().unwrap();
    let settings = TagSettings::new(&bundle.input, None, 4);
    let mut windows = Vec::new();
    let error = tag_file(
        &mut runner,
        &bundle.input,
        &path,
        settings,
        |_| {},
        |w| windows.push(w),
    )
    .expect_err("NaN at 20 s");
    let message = error.to_string();
    assert!(
        message.contains(&path.display().to_string())
            && message.contains("1 non-finite (NaN or infinite) samples, the first at 20.000 s"),
        "{message}"
    );
    assert!(!windows.is_empty() && windows.iter().all(|w| w.end_secs <= 20.0));
}

/// Each window of `samples`, silent or not, as the tagger flags them.
fn silent_windows(input: &AudioInput, samples: &[f32]) -> Vec<bool> {
    let check = SilenceCheck::new(input);
    let mut stream = WindowStream::new(input, input.hop_rows, false, false);
    let mut silent = Vec::new();
    stream.push(samples, |w| silent.push(check.is_silent(w.data)));
    stream.finish(|w| silent.push(check.is_silent(w.data)));
    silent
}

/// Real front-ends (mel dB, musicnn's log mel, a waveform model's samples): what digital
/// silence makes is silent, and a tone at -80 dBFS is not. No ONNX Runtime needed.
#[test]
fn digital_silence_is_silent_and_any_sound_is_not() {
    for bundle in [
        "tests/models/tiny-tone",
        "models/musicnn-mtt",
        "models/ced-tiny",
    ] {
        let bundle = Bundle::load(&repo().join(bundle)).unwrap();
        let input = bundle.input.clone();
        let rate = input.sample_rate_hz as usize;
        // Two windows' worth: silence, then a faint tone at -80 dBFS.
        let seconds = 2.0 * input.window_rows as f64 * input.seconds_per_row();
        let n = (seconds * rate as f64).ceil() as usize + rate;
        let silence = vec![0.0f32; n];
        let faint: Vec<f32> = (0..n)
            .map(|i| 1e-4 * (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / rate as f32).sin())
            .collect();
        let quiet = silent_windows(&input, &silence);
        assert!(
            !quiet.is_empty() && quiet.iter().all(|&s| s),
            "{}: {quiet:?}",
            bundle.name()
        );
        let heard = silent_windows(&input, &faint);
        assert!(heard.iter().all(|&s| !s), "{}: {heard:?}", bundle.name());
    }
}
