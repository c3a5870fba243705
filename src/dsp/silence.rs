//! Whether a model window heard nothing at all. Digital silence gives a model an input it
//! was never trained to judge (musicnn calls it "guitar 0.31, quiet 0.26"), so results say
//! "silent" instead of presenting such scores as findings.

use super::Frontend;
use crate::bundle::{AudioInput, InputKind};

/// Recognises the model input that digital silence produces: all-zero samples for a
/// waveform model, and for a features model every frame equal to the frame its front-end
/// makes from zeros. Exact comparison: any sound at all, however faint, is not silence.
#[derive(Debug, Clone, PartialEq)]
pub struct SilenceCheck {
    row: Vec<f32>,
}

impl SilenceCheck {
    pub fn new(input: &AudioInput) -> Self {
        let row = match (&input.kind, input.frontend()) {
            (InputKind::Features { frontend: spec, .. }, Some(mut frontend)) => {
                steady_silent_frame(&mut frontend, spec.stft_params().n_fft)
                    // NaN equals nothing: a front-end that makes no frame flags no silence.
                    .unwrap_or_else(|| vec![f32::NAN; input.row_width()])
            }
            _ => vec![0.0; input.row_width()],
        };
        Self { row }
    }

    /// `window` is rows of the model's input, time-major, as [`super::window::Window`] holds
    /// them.
    pub fn is_silent(&self, window: &[f32]) -> bool {
        match self.row.as_slice() {
            // Waveform models: one value per row, so compare values, not one-value slices.
            [value] => !window.is_empty() && window.iter().all(|x| x == value),
            row => {
                !window.is_empty()
                    && window.len() % row.len() == 0
                    && window.chunks_exact(row.len()).all(|r| r == row)
            }
        }
    }
}

/// A frame well inside a stretch of zeros, past any edge effects of the first frames.
fn steady_silent_frame(frontend: &mut Frontend, n_fft: usize) -> Option<Vec<f32>> {
    let zeros = vec![0.0f32; 4 * n_fft.max(1)];
    let mut last = None;
    for _ in 0..4 {
        frontend.push(&zeros, |frame| last = Some(frame.to_vec()));
    }
    frontend.reset();
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::Bundle;
    use crate::dsp::stream::WindowStream;

    fn windows_of(input: &AudioInput, samples: &[f32]) -> Vec<bool> {
        let check = SilenceCheck::new(input);
        let mut stream = WindowStream::new(input, input.hop_rows, false, false);
        let mut silent = Vec::new();
        stream.push(samples, |w| silent.push(check.is_silent(w.data)));
        stream.finish(|w| silent.push(check.is_silent(w.data)));
        silent
    }

    #[test]
    fn digital_silence_is_silent_and_any_sound_is_not() {
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for bundle in [
            "tests/models/tiny-tone",
            "models/musicnn-mtt",
            "models/ced-tiny",
        ] {
            let bundle = Bundle::load(&repo.join(bundle)).unwrap();
            let input = bundle.input.clone();
            let rate = input.sample_rate_hz as usize;
            // Two windows' worth: silence, then a faint tone at -80 dBFS.
            let seconds = 2.0 * input.window_rows as f64 * input.seconds_per_row();
            let n = (seconds * rate as f64).ceil() as usize + rate;
            let silence = vec![0.0f32; n];
            let faint: Vec<f32> = (0..n)
                .map(|i| 1e-4 * (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / rate as f32).sin())
                .collect();
            let quiet = windows_of(&input, &silence);
            assert!(
                !quiet.is_empty() && quiet.iter().all(|&s| s),
                "{}: {quiet:?}",
                bundle.name()
            );
            let heard = windows_of(&input, &faint);
            assert!(heard.iter().all(|&s| !s), "{}: {heard:?}", bundle.name());
        }
    }
}
