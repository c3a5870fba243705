//! Front-end parity: livetag's Rust front-ends against librosa / madmom reference features
//! written by `livetag_tools.reference.frontend` (committed fixtures, so no Python is needed).
//!
//! Error measure: `|rust - reference| / max(|reference|, 1)`, i.e. relative error on log
//! values of magnitude above 1 and absolute error below (log values cross zero, where a
//! purely relative error means nothing). Target: at most 1e-4.

#[path = "common/frontend_fixtures.rs"]
mod frontend_fixtures;

use frontend_fixtures::{read_f32, CASES};
use livetag::dsp::{Frontend, FrontendSpec};

const TOLERANCE: f64 = 1e-4;

struct Fixture {
    sample_rate_hz: u32,
    spec: FrontendSpec,
    input: Vec<f32>,
    expected: Vec<f32>,
    frames: usize,
    bands: usize,
    /// Frames before the loudest one may differ under `top_db` (causal running maximum).
    first_comparable_frame: usize,
}

fn fixture(name: &str) -> Fixture {
    let dir = frontend_fixtures::dir(name);
    let (spec, sample_rate_hz) = frontend_fixtures::spec(name);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    let uses_top_db = spec.steps.iter().any(|s| {
        matches!(
            s,
            livetag::dsp::StepSpec::Db {
                top_db: Some(_),
                ..
            } | livetag::dsp::StepSpec::AWeightingDb {
                top_db: Some(_),
                ..
            }
        )
    });
    Fixture {
        sample_rate_hz,
        spec,
        input: read_f32(&dir.join("input.f32")),
        expected: read_f32(&dir.join("expected.f32")),
        frames: meta["frames"].as_u64().unwrap() as usize,
        bands: meta["bands"].as_u64().unwrap() as usize,
        first_comparable_frame: if uses_top_db {
            meta["peak_frame"].as_u64().unwrap() as usize
        } else {
            0
        },
    }
}

/// Largest error over the compared frames.
fn max_error(fixture: &Fixture, actual: &[f32]) -> (f64, usize) {
    let start = fixture.first_comparable_frame * fixture.bands;
    let end = fixture.frames * fixture.bands;
    let mut worst = (0.0, 0);
    for (i, (&a, &b)) in actual[start..end]
        .iter()
        .zip(&fixture.expected[start..end])
        .enumerate()
    {
        let (a, b) = (f64::from(a), f64::from(b));
        let err = (a - b).abs() / b.abs().max(1.0);
        if err > worst.0 || err.is_nan() {
            worst = (err, (start + i) / fixture.bands);
        }
    }
    worst
}

fn check_parity(name: &str) {
    let fixture = fixture(name);
    let mut frontend = Frontend::new(&fixture.spec, fixture.sample_rate_hz).unwrap();
    assert_eq!(frontend.n_bands(), fixture.bands, "{name}: band count");
    let offline = frontend.compute(&fixture.input);
    assert!(
        offline.len() >= fixture.frames * fixture.bands,
        "{name}: {} frames, reference has {}",
        offline.len() / fixture.bands,
        fixture.frames
    );
    let (error, frame) = max_error(&fixture, &offline);
    println!(
        "{name}: max error {error:.2e} (frame {frame}) over {} frames",
        fixture.frames
    );
    assert!(
        error <= TOLERANCE,
        "{name}: error {error:.3e} at frame {frame}"
    );
}

#[test]
fn librosa_mel_slaney_db_matches_librosa() {
    check_parity("librosa_mel_slaney_db");
}

#[test]
fn librosa_mel_htk_log_matches_librosa() {
    check_parity("librosa_mel_htk_log");
}

#[test]
fn panns_logmel_matches_torchlibrosa_formulas() {
    check_parity("panns_logmel");
}

/// musicnn rounds mel power to float16 before `log10(1 + 10000 x)`. Rust and NumPy agree
/// before rounding to ~2e-7 (float32 FFT rounding), so a value that sits on a float16
/// rounding boundary can land one half-float step away. Those are counted and bounded;
/// every other value must meet the tolerance.
#[test]
fn musicnn_logmel_with_float16_matches_librosa() {
    let fixture = fixture("musicnn");
    let mut frontend = Frontend::new(&fixture.spec, fixture.sample_rate_hz).unwrap();
    let actual = frontend.compute(&fixture.input);
    // Undo log10(1 + 10000 x) to get back the float16 values both sides rounded to.
    let to_half_bits =
        |v: f32| half::f16::from_f64((10f64.powf(f64::from(v)) - 1.0) / 10000.0).to_bits();
    let (mut flips, mut worst) = (0usize, 0.0f64);
    let n = fixture.frames * fixture.bands;
    for (&a, &b) in actual[..n].iter().zip(&fixture.expected[..n]) {
        let (ha, hb) = (to_half_bits(a), to_half_bits(b));
        if ha == hb {
            let err = f64::from((a - b).abs()) / f64::from(b.abs()).max(1.0);
            worst = worst.max(err);
        } else {
            assert_eq!(
                ha.abs_diff(hb),
                1,
                "a float16 value differs by more than one step"
            );
            flips += 1;
        }
    }
    println!("musicnn: max error {worst:.2e} where float16 agrees; {flips} of {n} values one float16 step apart");
    assert!(worst <= TOLERANCE, "musicnn: error {worst:.3e}");
    assert!(
        flips * 200 <= n,
        "musicnn: {flips} float16 rounding flips of {n} values"
    );
}

#[test]
fn dorfer_v1_perceptual_mel_matches_librosa_after_the_peak() {
    check_parity("dorfer_v1");
}

/// The DCASE 2018 Task 2 baseline's log-mel (symmetric Hamming, scipy's magnitude
/// spectrogram, ln(x + 1e-8)), as its exporter declares it.
#[test]
fn kong_dcase2018_logmel_matches_the_baselines_scipy_formula() {
    check_parity("kong_dcase2018_logmel");
}

#[test]
fn dorfer_v2_log_filterbank_matches_madmom() {
    check_parity("dorfer_v2");
}

#[test]
fn top_db_matches_librosa_from_the_loudest_frame_on() {
    check_parity("streaming_db_top_db");
}

/// Pushing audio in uneven chunks gives bit-identical frames to the whole-signal run.
#[test]
fn streaming_equals_offline_for_every_frontend() {
    for name in CASES.into_iter().chain(["streaming_db_top_db"]) {
        let fixture = fixture(name);
        let mut frontend = Frontend::new(&fixture.spec, fixture.sample_rate_hz).unwrap();
        let offline = frontend.compute(&fixture.input);
        for chunk in [1usize, 7, 160, 441, 4096] {
            let mut streamed = Vec::new();
            for piece in fixture.input.chunks(chunk) {
                frontend.push(piece, |frame| streamed.extend_from_slice(frame));
            }
            frontend.finish(|frame| streamed.extend_from_slice(frame));
            assert_eq!(
                streamed.len(),
                offline.len(),
                "{name}, chunk {chunk}: frame count"
            );
            assert!(
                streamed
                    .iter()
                    .zip(&offline)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{name}, chunk {chunk}: streamed frames differ from offline"
            );
        }
    }
}
