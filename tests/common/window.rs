//! The real window under a virtual X display: Xvfb, and the layout the app writes beside
//! a `--screenshot`, to check the picture region by region.
//!
//! Needs Xvfb. With LIVETAG_WINDOW_TEST=1 (as in CI) a missing Xvfb fails the test;
//! otherwise the test says it is skipped.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `livetag` on `display` with fresh settings in `settings_home`, so a developer's saved
/// choices cannot change the picture.
pub fn livetag_on(display: &str, settings_home: &std::path::Path) -> Command {
    let mut command = super::livetag();
    command
        .env("DISPLAY", display)
        .env("XDG_DATA_HOME", settings_home)
        .env("XDG_CONFIG_HOME", settings_home);
    command
}

/// Asks for the tests to fail, rather than skip, when Xvfb cannot start.
pub const REQUIRED_ENV: &str = "LIVETAG_WINDOW_TEST";

/// The running server; dropping it stops it.
pub struct Xvfb(Child);

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts Xvfb on `display` (pick one unlikely to clash with a desktop session, and one
/// per test file, since test binaries may run side by side), or says the test is skipped.
pub fn start_xvfb(display: &str) -> Option<Xvfb> {
    let child = Command::new("Xvfb")
        .args([display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match child {
        Ok(child) => {
            std::thread::sleep(Duration::from_millis(800));
            Some(Xvfb(child))
        }
        Err(error) => {
            assert!(
                std::env::var(REQUIRED_ENV).as_deref() != Ok("1"),
                "{REQUIRED_ENV}=1 but Xvfb cannot start: {error}"
            );
            eprintln!("skipped: Xvfb is not installed ({error})");
            None
        }
    }
}

/// Where the last frame drew what, in points (`<png>.json` beside the screenshot).
#[derive(serde::Deserialize)]
pub struct Layout {
    pub pixels_per_point: f32,
    pub spectrogram: [f32; 4],
    pub bars: Vec<(String, [f32; 4])>,
    /// Labels of the sound event spans drawn on the timeline.
    #[serde(default)]
    pub event_spans: Vec<String>,
}

impl Layout {
    /// The layout written beside the screenshot `png`.
    pub fn beside(png: &std::path::Path) -> Self {
        let path = png.with_extension("json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap()
    }

    /// `rect` in whole pixels inside it: `(x0, y0, x1, y1)`.
    pub fn pixel_rect(&self, rect: [f32; 4]) -> (u32, u32, u32, u32) {
        let s = self.pixels_per_point;
        (
            (rect[0] * s).ceil() as u32,
            (rect[1] * s).ceil() as u32,
            (rect[2] * s).floor() as u32,
            (rect[3] * s).floor() as u32,
        )
    }
}
