//! File decoding and resampling: round trips on committed fixtures (made by
//! tools/make_audio_fixtures.sh), in-memory resampler checks and error handling.

use std::f32::consts::PI;
use std::path::{Path, PathBuf};

use livetag::audio::{decode_file, load_mono, resample, AudioError, DecodedAudio};
use realfft::RealFftPlanner;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audio")
        .join(name)
}

fn decode_fixture(name: &str) -> DecodedAudio {
    let path = fixture(name);
    decode_file(&path).unwrap_or_else(|err| panic!("decoding {name}: {err}"))
}

fn sine(freq_hz: f32, rate_hz: u32, frames: usize, amplitude: f32) -> Vec<f32> {
    (0..frames)
        .map(|n| amplitude * (2.0 * PI * freq_hz * n as f32 / rate_hz as f32).sin())
        .collect()
}

/// Hann-windowed magnitude spectrum, normalised so a full-scale sine of amplitude A peaks
/// near A. Returns (magnitudes, bin width in Hz).
fn spectrum(samples: &[f32], rate_hz: u32) -> (Vec<f32>, f32) {
    let len = samples.len();
    let mut planner = RealFftPlanner::<f32>::new();
    let fft = planner.plan_fft_forward(len);
    let mut input: Vec<f32> = samples
        .iter()
        .enumerate()
        .map(|(n, s)| s * (0.5 - 0.5 * (2.0 * PI * n as f32 / len as f32).cos()))
        .collect();
    let mut output = fft.make_output_vec();
    fft.process(&mut input, &mut output).expect("fft");
    // Hann window coherent gain is 0.5, and a real sine splits its energy in two.
    let scale = 4.0 / len as f32;
    let magnitudes = output.iter().map(|c| c.norm() * scale).collect();
    (magnitudes, rate_hz as f32 / len as f32)
}

/// Frequency of the strongest bin, and the bin width.
fn dominant_frequency_hz(samples: &[f32], rate_hz: u32) -> (f32, f32) {
    let (magnitudes, bin_hz) = spectrum(samples, rate_hz);
    let peak_bin = magnitudes
        .iter()
        .enumerate()
        .skip(1) // ignore DC
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(bin, _)| bin)
        .expect("non-empty spectrum");
    (peak_bin as f32 * bin_hz, bin_hz)
}

/// Largest magnitude within one bin of `freq_hz`.
fn magnitude_near(samples: &[f32], rate_hz: u32, freq_hz: f32) -> f32 {
    let (magnitudes, bin_hz) = spectrum(samples, rate_hz);
    let centre = (freq_hz / bin_hz).round() as usize;
    magnitudes[centre - 1..=centre + 1]
        .iter()
        .copied()
        .fold(0.0, f32::max)
}

fn assert_tone(samples: &[f32], rate_hz: u32, expected_hz: f32, what: &str) {
    let (found_hz, bin_hz) = dominant_frequency_hz(samples, rate_hz);
    assert!(
        (found_hz - expected_hz).abs() <= bin_hz,
        "{what}: dominant {found_hz} Hz, expected {expected_hz} Hz (bin {bin_hz} Hz)"
    );
}

fn rms(samples: &[f32]) -> f32 {
    (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt()
}

fn assert_path_in_message(err: &AudioError, path: &Path) {
    let message = err.to_string();
    let shown = path.display().to_string();
    assert!(
        message.contains(&shown),
        "message {message:?} should name {shown:?}"
    );
}

// ---------------------------------------------------------------- fixtures

#[test]
fn wav_mono_16bit_round_trip() {
    let audio = decode_fixture("tone440_mono_44100.wav");
    assert_eq!(audio.sample_rate_hz, 44_100);
    assert_eq!(audio.channels, 1);
    // 0.5 s of PCM: exact.
    assert_eq!(audio.samples.len(), 22_050);
    assert_tone(&audio.samples, 44_100, 440.0, "wav");
    let amplitude = rms(&audio.samples) * 2f32.sqrt();
    assert!((amplitude - 0.5).abs() < 0.01, "amplitude {amplitude}");
}

#[test]
fn flac_round_trip() {
    let audio = decode_fixture("tone1000_mono_48000.flac");
    assert_eq!(audio.sample_rate_hz, 48_000);
    assert_eq!(audio.channels, 1);
    // Lossless: exactly 1.0 s.
    assert_eq!(audio.samples.len(), 48_000);
    assert_tone(&audio.samples, 48_000, 1000.0, "flac");
}

#[test]
fn ogg_vorbis_stereo_round_trip() {
    let audio = decode_fixture("tone440_stereo_44100.ogg");
    assert_eq!(audio.sample_rate_hz, 44_100);
    assert_eq!(audio.channels, 2);
    // Vorbis granule positions give the exact length (gapless).
    assert_eq!(audio.samples.len(), 44_100);
    assert_tone(&audio.samples, 44_100, 440.0, "ogg");
    // Identical channels: the average keeps the amplitude.
    let amplitude = magnitude_near(&audio.samples, 44_100, 440.0);
    assert!((amplitude - 0.5).abs() < 0.05, "amplitude {amplitude}");
}

#[test]
fn mp3_round_trip_is_gapless() {
    let audio = decode_fixture("tone440_mono_44100.mp3");
    assert_eq!(audio.sample_rate_hz, 44_100);
    assert_eq!(audio.channels, 1);
    // The LAME header records encoder delay and padding, which symphonia trims, so the
    // decoded length is exactly the encoded 1.0 s (without gapless it would be ~1.07 s).
    assert_eq!(audio.samples.len(), 44_100);
    assert_tone(&audio.samples, 44_100, 440.0, "mp3");
    // Delay trimming also keeps the tone aligned: the signal starts (almost) at once.
    let first_loud = audio.samples.iter().position(|s| s.abs() > 0.1);
    assert!(
        first_loud.is_some_and(|n| n < 20),
        "tone should start at once, first loud sample {first_loud:?}"
    );
}

#[test]
fn stereo_mixes_both_channels_to_mono() {
    let path = fixture("tone440L_660R_stereo_48000.wav");

    // The fixture itself: left 440 Hz, right 660 Hz.
    let mut reader = hound::WavReader::open(&path).expect("hound opens fixture");
    let interleaved: Vec<f32> = reader
        .samples::<i16>()
        .map(|s| f32::from(s.expect("sample")) / 32768.0)
        .collect();
    let left: Vec<f32> = interleaved.iter().step_by(2).copied().collect();
    let right: Vec<f32> = interleaved.iter().skip(1).step_by(2).copied().collect();
    assert_tone(&left, 48_000, 440.0, "fixture left");
    assert_tone(&right, 48_000, 660.0, "fixture right");

    let audio = decode_file(&path).expect("decode");
    assert_eq!(audio.channels, 2);
    assert_eq!(audio.sample_rate_hz, 48_000);
    assert_eq!(audio.samples.len(), 24_000);
    // Average of the channels: each tone at half its 0.5 amplitude.
    for freq_hz in [440.0, 660.0] {
        let magnitude = magnitude_near(&audio.samples, 48_000, freq_hz);
        assert!(
            (magnitude - 0.25).abs() < 0.02,
            "{freq_hz} Hz magnitude {magnitude}"
        );
    }
    for (n, mono) in audio.samples.iter().enumerate() {
        let expected = 0.5 * (left[n] + right[n]);
        assert!((mono - expected).abs() < 1e-6, "frame {n}");
    }
}

#[test]
fn load_mono_resamples_to_target() {
    let samples = load_mono(&fixture("tone440_mono_44100.wav"), 16_000).expect("load");
    assert_eq!(samples.len(), 8_000); // 0.5 s
    assert_tone(&samples, 16_000, 440.0, "load_mono");

    let same_rate = load_mono(&fixture("tone1000_mono_48000.flac"), 48_000).expect("load");
    assert_eq!(
        same_rate,
        decode_fixture("tone1000_mono_48000.flac").samples
    );
}

// --------------------------------------------------------------- resampler

#[test]
fn resample_keeps_frequency_and_exact_length() {
    let input = sine(440.0, 44_100, 44_100, 0.5);
    let output = resample(&input, 44_100, 16_000).expect("resample");
    assert_eq!(output.len(), 16_000);
    assert_tone(&output, 16_000, 440.0, "44100->16000");
    let middle = &output[1_000..15_000];
    let amplitude = rms(middle) * 2f32.sqrt();
    assert!((amplitude - 0.5).abs() < 0.005, "amplitude {amplitude}");

    // Lengths that do not divide evenly are rounded to nearest.
    for (len, from, to, expected) in [
        (44_101, 44_100, 16_000, 16_000), // 16000.36
        (44_123, 44_100, 16_000, 16_008), // 16008.34
        (1_001, 48_000, 32_000, 667),     // 667.33
        (1_001, 22_050, 16_000, 726),     // 726.35
        (1_001, 8_000, 48_000, 6_006),
    ] {
        let out = resample(&vec![0.1; len], from, to).expect("resample");
        assert_eq!(out.len(), expected, "{len} frames {from}->{to}");
    }
}

#[test]
fn resample_same_rate_is_a_copy() {
    let input = sine(440.0, 16_000, 1234, 0.5);
    assert_eq!(resample(&input, 16_000, 16_000).expect("resample"), input);
    assert!(resample(&[], 44_100, 16_000).expect("empty").is_empty());
}

const RATE_PAIRS: [(u32, u32); 6] = [
    (44_100, 16_000),
    (48_000, 32_000),
    (22_050, 16_000),
    (8_000, 48_000),
    (16_000, 48_000),
    (192_000, 44_100),
];

#[test]
fn resample_preserves_impulse_timing() {
    for (from, to) in RATE_PAIRS {
        let mut input = vec![0.0f32; from as usize];
        input[from as usize / 2] = 1.0; // t = 0.5 s
        let output = resample(&input, from, to).expect("resample");
        let peak = output
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .map(|(n, _)| n)
            .expect("non-empty");
        let expected = to as usize / 2;
        println!("{from}->{to}: impulse at {peak}, expected {expected}");
        assert!(
            peak.abs_diff(expected) <= 1,
            "{from}->{to}: impulse at {peak}, expected {expected}"
        );
    }
}

#[test]
fn resample_preserves_tone_onset_timing() {
    for (from, to) in RATE_PAIRS {
        // Silence, then a 500 Hz cosine from exactly 0.5 s (starting at its peak).
        let onset = from as usize / 2;
        let input: Vec<f32> = (0..from as usize)
            .map(|n| {
                if n < onset {
                    0.0
                } else {
                    0.5 * (2.0 * PI * 500.0 * (n - onset) as f32 / from as f32).cos()
                }
            })
            .collect();
        let output = resample(&input, from, to).expect("resample");
        // A band-limited step crosses half level midway between the last silent sample and
        // the first loud one, i.e. at input time (onset - 0.5) / from. Ringing before the
        // edge (Gibbs, ~9%) stays below the half-level threshold.
        let found = output
            .iter()
            .position(|s| s.abs() > 0.25)
            .expect("tone present");
        let expected = (onset as f64 - 0.5) * f64::from(to) / f64::from(from);
        println!("{from}->{to}: onset at {found}, expected {expected:.2}");
        assert!(
            (found as f64 - expected).abs() <= 2.0,
            "{from}->{to}: onset at {found}, expected {expected:.2}"
        );
    }
}

#[test]
fn resample_up_and_down_recovers_signal() {
    let rate_hz = 16_000;
    let frames = 2 * rate_hz as usize;
    let input: Vec<f32> = sine(440.0, rate_hz, frames, 0.3)
        .iter()
        .zip(sine(1_234.5, rate_hz, frames, 0.2))
        .zip(sine(3_000.0, rate_hz, frames, 0.1))
        .map(|((a, b), c)| a + b + c)
        .collect();
    let up = resample(&input, rate_hz, 48_000).expect("up");
    assert_eq!(up.len(), 3 * frames);
    let back = resample(&up, 48_000, rate_hz).expect("down");
    assert_eq!(back.len(), frames);

    // Skip 0.1 s at each end, where the signal is cut off abruptly.
    let margin = rate_hz as usize / 10;
    let range = margin..frames - margin;
    let max_error = range
        .clone()
        .map(|n| (back[n] - input[n]).abs())
        .fold(0.0f32, f32::max);
    let errors: Vec<f32> = range.clone().map(|n| back[n] - input[n]).collect();
    let snr_db = 20.0 * (rms(&input[range]) / rms(&errors)).log10();
    println!("16k->48k->16k: max abs error {max_error:.2e}, SNR {snr_db:.1} dB");
    // Measured: 4.5e-5 and 87 dB (f32 processing).
    assert!(max_error < 2e-4, "max abs error {max_error}");
    assert!(snr_db > 80.0, "SNR {snr_db} dB");
}

// ------------------------------------------------------------------ errors

#[test]
fn missing_file_is_open_error() {
    let path = fixture("does_not_exist.wav");
    let err = decode_file(&path).expect_err("missing file");
    assert!(matches!(err, AudioError::Open { .. }), "{err:?}");
    assert_path_in_message(&err, &path);
    let err = load_mono(&path, 16_000).expect_err("missing file");
    assert!(matches!(err, AudioError::Open { .. }), "{err:?}");
}

#[test]
fn directory_is_open_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = decode_file(dir.path()).expect_err("directory");
    assert!(matches!(err, AudioError::Open { .. }), "{err:?}");
    assert_path_in_message(&err, dir.path());
}

#[test]
fn empty_file_is_empty_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("empty.wav");
    std::fs::write(&path, b"").expect("write");
    let err = decode_file(&path).expect_err("empty file");
    assert!(matches!(err, AudioError::Empty { .. }), "{err:?}");
    assert_path_in_message(&err, &path);
}

/// Deterministic pseudo-random bytes (64-bit LCG, high bytes).
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 56) as u8
        })
        .collect()
}

#[test]
fn random_bytes_are_unsupported() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, seed) in [("noise.bin", 1), ("noise.wav", 2), ("noise.mp3", 3)] {
        let path = dir.path().join(name);
        std::fs::write(&path, random_bytes(16_384, seed)).expect("write");
        let err = decode_file(&path).expect_err("random bytes");
        assert!(
            matches!(err, AudioError::Unsupported { .. }),
            "{name}: {err:?}"
        );
        assert_path_in_message(&err, &path);
    }
}

fn write_wav_16k(path: &Path, samples: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).expect("create wav");
    for s in samples {
        writer
            .write_sample((s * 32767.0).round() as i16)
            .expect("write sample");
    }
    writer.finalize().expect("finalize");
}

#[test]
fn truncated_wav_decodes_what_exists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("truncated.wav");
    write_wav_16k(&path, &sine(440.0, 16_000, 16_000, 0.5));
    let full = std::fs::read(&path).expect("read");
    // Header (44 bytes) still announces 1.0 s; keep 0.3 s of data plus half a sample.
    let kept_frames = 4_800;
    std::fs::write(&path, &full[..44 + 2 * kept_frames + 1]).expect("truncate");

    let audio = decode_file(&path).expect("truncated wav decodes");
    assert_eq!(audio.sample_rate_hz, 16_000);
    assert_eq!(audio.samples.len(), kept_frames);
    assert_tone(&audio.samples, 16_000, 440.0, "truncated wav");
}

#[test]
fn wav_cut_inside_header_is_corrupt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("header_only.wav");
    write_wav_16k(&path, &sine(440.0, 16_000, 1_600, 0.5));
    let full = std::fs::read(&path).expect("read");
    // Inside the fmt chunk, and exactly at the end of the 44-byte header.
    for cut in [12, 30, 44] {
        std::fs::write(&path, &full[..cut]).expect("truncate");
        let err = decode_file(&path).expect_err("header-only wav");
        assert!(
            matches!(err, AudioError::Corrupt { .. }),
            "cut at {cut}: {err:?}"
        );
        assert_path_in_message(&err, &path);
    }
}

#[test]
fn wav_without_samples_is_empty() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("no_samples.wav");
    write_wav_16k(&path, &[]);
    let err = decode_file(&path).expect_err("wav without samples");
    assert!(matches!(err, AudioError::Empty { .. }), "{err:?}");
    assert_path_in_message(&err, &path);
}

#[test]
fn truncated_compressed_files_decode_what_exists() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, full_frames) in [
        ("tone440_mono_44100.mp3", 44_100),
        ("tone1000_mono_48000.flac", 48_000),
    ] {
        let full = std::fs::read(fixture(name)).expect("read fixture");
        let path = dir.path().join(name);
        std::fs::write(&path, &full[..full.len() / 2]).expect("truncate");
        let audio = decode_file(&path).unwrap_or_else(|err| panic!("{name}: {err}"));
        // Roughly half survives; the partial last frame is dropped.
        let kept = audio.samples.len();
        assert!(
            (full_frames * 2 / 5..=full_frames * 3 / 5).contains(&kept),
            "{name}: kept {kept} of {full_frames}"
        );
    }

    // Ogg pages are all-or-nothing, and this short fixture keeps all its audio in a single
    // page, so a cut anywhere leaves no complete audio.
    let full = std::fs::read(fixture("tone440_stereo_44100.ogg")).expect("read fixture");
    let path = dir.path().join("cut.ogg");
    std::fs::write(&path, &full[..full.len() * 9 / 10]).expect("truncate");
    let err = decode_file(&path).expect_err("cut ogg");
    assert!(matches!(err, AudioError::Corrupt { .. }), "{err:?}");
    assert_path_in_message(&err, &path);
}

#[test]
fn float_wav_with_nan_is_non_finite_error() {
    let path = fixture("nan_float32.wav");
    let err = decode_file(&path).expect_err("NaN wav");
    // The fixture holds 3 NaN and 1 +inf.
    assert!(
        matches!(err, AudioError::NonFinite { count: 4, .. }),
        "{err:?}"
    );
    assert_path_in_message(&err, &path);
}

#[test]
fn bad_target_rate_names_the_file() {
    let path = fixture("tone440_mono_44100.wav");
    let err = load_mono(&path, 0).expect_err("rate 0");
    assert!(matches!(err, AudioError::Resample { .. }), "{err:?}");
    assert_path_in_message(&err, &path);
}
