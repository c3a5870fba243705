//! From samples to model windows: the bundle's front-end (or the raw samples, for
//! waveform models) followed by the [`Windower`]. Files and the live path use this same
//! type, so a clip gives the same windows whether it is tagged from disk or heard live.

use super::input::{AudioInput, InputKind};
use super::window::{Window, WindowPlan, Windower};
use super::Frontend;

/// Zeros for the lead-in, pushed in pieces so no allocation is needed.
const ZEROS: [f32; 256] = [0.0; 256];

/// Converts row indices of a stream to seconds of input audio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeBase {
    pub seconds_per_row: f64,
    /// Rows of lead-in before the first audio sample.
    pub rows_before_audio: u64,
}

impl TimeBase {
    pub fn seconds(&self, row: u64) -> f64 {
        row.saturating_sub(self.rows_before_audio) as f64 * self.seconds_per_row
    }
}

pub struct WindowStream {
    frontend: Option<Frontend>,
    windower: Windower,
    lead_in_samples: usize,
    lead_in_pending: bool,
    time_base: TimeBase,
}

impl WindowStream {
    /// `hop_rows` overrides the bundle's hop; `grow_from_min` starts variable-length models
    /// early (live use); `stateful` models get a zero-padded tail instead of one aligned to
    /// the end, which would feed rows to their state twice.
    pub fn new(input: &AudioInput, hop_rows: usize, grow_from_min: bool, stateful: bool) -> Self {
        let plan = WindowPlan {
            window_rows: input.window_rows,
            min_rows: input.min_rows,
            hop_rows: hop_rows.max(1),
            grow_from_min: grow_from_min && input.is_variable_length(),
            zero_padded_tail: stateful,
        };
        let lead_in_samples = match input.kind {
            InputKind::Waveform { lead_in_samples } => lead_in_samples,
            InputKind::Features { .. } => 0,
        };
        Self {
            frontend: input.frontend(),
            windower: Windower::new(plan, input.row_width()),
            lead_in_samples,
            lead_in_pending: lead_in_samples > 0,
            time_base: TimeBase {
                seconds_per_row: input.seconds_per_row(),
                rows_before_audio: lead_in_samples as u64,
            },
        }
    }

    pub fn time_base(&self) -> TimeBase {
        self.time_base
    }

    /// Feeds samples at the model's rate; `on_window` receives each completed window.
    pub fn push(&mut self, samples: &[f32], mut on_window: impl FnMut(Window<'_>)) {
        if self.lead_in_pending {
            self.lead_in_pending = false;
            let mut left = self.lead_in_samples;
            while left > 0 {
                let n = left.min(ZEROS.len());
                self.push_rows(&ZEROS[..n], &mut on_window);
                left -= n;
            }
        }
        self.push_rows(samples, &mut on_window);
    }

    /// Ends the stream: flushes the front-end's end padding and a last window for any
    /// uncovered tail, then resets for a new stream.
    pub fn finish(&mut self, mut on_window: impl FnMut(Window<'_>)) {
        let Self {
            frontend, windower, ..
        } = self;
        if let Some(frontend) = frontend {
            frontend.finish(|frame| windower.push(frame, &mut on_window));
        }
        windower.finish(&mut on_window);
        self.reset();
    }

    pub fn reset(&mut self) {
        if let Some(frontend) = &mut self.frontend {
            frontend.reset();
        }
        self.windower.reset();
        self.lead_in_pending = self.lead_in_samples > 0;
    }

    fn push_rows(&mut self, samples: &[f32], on_window: &mut impl FnMut(Window<'_>)) {
        let Self {
            frontend, windower, ..
        } = self;
        match frontend {
            Some(frontend) => frontend.push(samples, |frame| windower.push(frame, &mut *on_window)),
            None => windower.push(samples, on_window),
        }
    }
}
