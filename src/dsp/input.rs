//! The model's audio input, resolved: what [`WindowStream`](super::stream::WindowStream)
//! cuts windows for and [`SilenceCheck`](super::silence::SilenceCheck) judges. A bundle's
//! `[input]` and `[frontend]` resolve to an [`AudioInput`] once, at load (`bundle`); it is
//! described here, below `bundle`, so that signal processing does not depend on how models
//! are packaged.

use serde::{Deserialize, Serialize};

use super::{Frontend, FrontendSpec};

/// Axis names of the audio input tensor (`[input] layout` in `bundle.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Axis {
    Batch,
    Channel,
    Time,
    Feature,
}

/// How the audio input is fed.
#[derive(Debug, Clone, PartialEq)]
pub enum InputKind {
    /// Feature frames of `n_bands` values, from the bundle's front-end.
    Features {
        frontend: FrontendSpec,
        n_bands: usize,
    },
    /// Raw samples, after `lead_in_samples` zeros.
    Waveform { lead_in_samples: usize },
}

/// The audio input, resolved: all lengths are in rows (frames, or samples for waveforms).
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInput {
    pub name: String,
    pub sample_rate_hz: u32,
    pub layout: Vec<Axis>,
    pub kind: InputKind,
    pub window_rows: usize,
    pub min_rows: usize,
    /// The longest window the graph accepts (`max_samples`); `window_rows` unless the bundle
    /// says more. Live windows may be set anywhere in `min_rows ..= max_rows`.
    pub max_rows: usize,
    pub hop_rows: usize,
    /// `None` when the batch axis is dynamic.
    pub max_batch: Option<usize>,
}

impl AudioInput {
    /// Values per row: bands per frame, or 1 for samples.
    pub fn row_width(&self) -> usize {
        match &self.kind {
            InputKind::Features { n_bands, .. } => *n_bands,
            InputKind::Waveform { .. } => 1,
        }
    }

    /// Samples of audio per row.
    pub fn row_samples(&self) -> usize {
        match &self.kind {
            InputKind::Features { frontend, .. } => frontend.hop_samples,
            InputKind::Waveform { .. } => 1,
        }
    }

    pub fn seconds_per_row(&self) -> f64 {
        self.row_samples() as f64 / f64::from(self.sample_rate_hz)
    }

    pub fn is_variable_length(&self) -> bool {
        self.min_rows < self.window_rows
    }

    /// The same input with windows of `secs` seconds, clamped to what the model accepts.
    pub fn with_window_secs(&self, secs: f64) -> Self {
        let rows = (secs / self.seconds_per_row()).round();
        let rows = if rows.is_finite() {
            rows as usize
        } else {
            self.window_rows
        };
        Self {
            window_rows: rows.clamp(self.min_rows, self.max_rows),
            ..self.clone()
        }
    }

    /// Shortest and longest window, in seconds.
    pub fn window_secs_range(&self) -> (f64, f64) {
        let per_row = self.seconds_per_row();
        (
            self.min_rows as f64 * per_row,
            self.max_rows as f64 * per_row,
        )
    }

    /// Builds a fresh front-end (features input only).
    pub fn frontend(&self) -> Option<Frontend> {
        match &self.kind {
            // The spec was built once at load, so building it again cannot fail.
            InputKind::Features { frontend, .. } => {
                Frontend::new(frontend, self.sample_rate_hz).ok()
            }
            InputKind::Waveform { .. } => None,
        }
    }
}
