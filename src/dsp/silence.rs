//! Whether a model window heard nothing at all. Digital silence gives a model an input it
//! was never trained to judge (musicnn calls it "guitar 0.31, quiet 0.26"), so results say
//! "silent" instead of presenting such scores as findings.

use super::input::{AudioInput, InputKind};
use super::Frontend;

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
