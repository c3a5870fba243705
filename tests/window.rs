//! The real window under a virtual X display: demo mode on the whistle clip for a few
//! seconds, then a screenshot taken by the app itself, checked region by region with the
//! layout the app writes beside it. The PNG stays at target/artifacts/live-window.png.
//!
//! Needs Xvfb. With LIVETAG_WINDOW_TEST=1 (as in CI) a missing Xvfb fails the test;
//! otherwise the test says it is skipped.

mod common;

use std::path::Path;

use common::window::Layout;

/// Display number unlikely to clash with a desktop session.
const DISPLAY: &str = ":97";

#[test]
fn demo_mode_window_draws_the_spectrogram_and_hears_speech_on_the_default_model() {
    let Some(_xvfb) = common::window::start_xvfb(DISPLAY) else {
        return;
    };
    let artifacts = common::repo().join("target/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let png = artifacts.join("live-window.png");
    let _ = std::fs::remove_file(&png);
    let config_home = tempfile::tempdir().unwrap();
    let output = common::window::livetag_on(DISPLAY, config_home.path())
        .args(["listen", "--file"])
        .arg(common::repo().join("tests/fixtures/ced-tiny/speech-12.7s.wav"))
        .args(["--mute", "--duration", "5s", "--screenshot"])
        .arg(&png)
        .output()
        .expect("run livetag");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "livetag failed: {stderr}");
    assert!(png.is_file(), "no screenshot; stderr: {stderr}");

    let layout = Layout::beside(&png);
    let image = image::open(&png).unwrap().to_rgb8();

    // The spectrogram shows sound: most of its recent half is not black, and it varies.
    let (x0, y0, x1, y1) = layout.pixel_rect(layout.spectrogram);
    assert!(
        x1 > x0 + 100 && y1 > y0 + 100,
        "spectrogram too small: {x0},{y0}-{x1},{y1}"
    );
    let recent = (x0 + (x1 - x0) * 3 / 4)..x1;
    let (mut lit, mut total, mut sum, mut sum_sq) = (0u64, 0u64, 0f64, 0f64);
    for x in recent {
        for y in y0..y1 {
            let [r, g, b] = image.get_pixel(x, y).0;
            let level = (r as f64 + g as f64 + b as f64) / 3.0;
            lit += u64::from(level > 20.0);
            total += 1;
            sum += level;
            sum_sq += level * level;
        }
    }
    let mean = sum / total as f64;
    let std = (sum_sq / total as f64 - mean * mean).sqrt();
    assert!(
        lit * 10 > total * 8,
        "spectrogram mostly blank: {lit} of {total} pixels lit"
    );
    assert!(std > 10.0, "spectrogram flat: pixel std {std:.1}");

    // The top bar is a speech class of the default model (CED-tiny calls espeak-ng a
    // speech synthesizer), and text was drawn in it.
    let (label, rect) = layout.bars.first().expect("no bars drawn");
    assert!(
        ["Speech", "Speech synthesizer", "Male speech, man speaking"].contains(&label.as_str()),
        "bars: {:?}",
        layout.bars
    );
    let (x0, y0, x1, y1) = layout.pixel_rect(*rect);
    let text_pixels = (x0..x0 + (x1 - x0) / 3)
        .flat_map(|x| (y0..y1).map(move |y| (x, y)))
        .filter(|&(x, y)| {
            let [r, g, b] = image.get_pixel(x, y).0;
            r.min(g).min(b) > 180
        })
        .count();
    assert!(
        text_pixels > 15,
        "no label text in the top bar ({text_pixels} bright pixels)"
    );
    assert!(Path::new(&png).metadata().unwrap().len() > 10_000);
}
