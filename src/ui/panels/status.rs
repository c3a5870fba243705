//! The status bar: source, model and provider, live window, timing, and what was lost.

use std::sync::atomic::Ordering;

use eframe::egui;

use crate::engine::{SessionInfo, SessionState};
use crate::pipeline::Percentiles;

/// The status bar's figures, already formatted where that is simpler.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusLine {
    pub source: String,
    pub model: String,
    pub provider: String,
    /// Live window, hop, and the share of each hop the front-end and models take.
    pub window: String,
    /// "p50/p99" in ms.
    pub inference_ms: String,
    pub latency_ms: String,
    pub dropped_windows: u64,
    pub xruns: u64,
    pub overflow_frames: u64,
}

impl StatusLine {
    /// The figures of a running session; `latency` and `inference` as the view measured.
    pub fn of(session: &SessionInfo, latency_ms: &Percentiles, inference_ms: &Percentiles) -> Self {
        let stats = &session.stats;
        let source_rate_hz = session.source.sample_rate_hz;
        Self {
            source: format!("{} @ {} Hz", session.source.label, source_rate_hz),
            model: match &session.speech {
                Some(speech) => format!("{} + {}", session.tagger.name(), speech.name()),
                None => session.tagger.name().to_string(),
            },
            provider: session.provider.clone(),
            window: format!(
                "{:.2} s window every {:.0} ms{}",
                session.live.window_secs,
                session.live.hop_secs * 1e3,
                stats
                    .hop_budget(source_rate_hz, session.live.hop_secs)
                    .map(|b| format!(", {:.0} % of each hop spent", b.percent_of_hop()))
                    .unwrap_or_default()
            ),
            inference_ms: percentiles(inference_ms),
            latency_ms: percentiles(latency_ms),
            dropped_windows: stats.windows_dropped(),
            xruns: session.counters.xruns.load(Ordering::Relaxed),
            overflow_frames: session.counters.overflow_frames.load(Ordering::Relaxed),
        }
    }

    pub fn ui(&self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.label(format!("source {}", self.source));
            ui.separator();
            ui.label(format!("model {} on {}", self.model, self.provider));
            ui.separator();
            ui.label(&self.window);
            ui.separator();
            ui.label(format!("inference p50/p99 {} ms", self.inference_ms));
            ui.separator();
            ui.label(format!("capture-to-screen p50/p99 {} ms", self.latency_ms));
            ui.separator();
            let problems = self.dropped_windows + self.xruns + self.overflow_frames > 0;
            let colour = if problems {
                ui.visuals().warn_fg_color
            } else {
                ui.visuals().text_color()
            };
            ui.colored_label(
                colour,
                format!(
                    "dropped windows {}, xruns {}, lost frames {}",
                    self.dropped_windows, self.xruns, self.overflow_frames
                ),
            );
        });
    }
}

/// The bottom bar: the running session's figures, else what the engine is doing.
pub struct StatusBar;

impl StatusBar {
    pub fn ui(ui: &mut egui::Ui, state: SessionState, line: Option<StatusLine>) {
        match (state, line) {
            (SessionState::Running, Some(line)) => line.ui(ui),
            (state, Some(line)) => {
                ui.horizontal(|ui| {
                    ui.colored_label(ui.visuals().warn_fg_color, state.to_string());
                    ui.separator();
                    line.ui(ui);
                });
            }
            (state, None) => {
                ui.label(state.to_string());
            }
        }
    }
}

/// "p50/p99", or "-" before any value.
pub fn percentiles(values: &Percentiles) -> String {
    match (values.percentile(50.0), values.percentile(99.0)) {
        (Some(p50), Some(p99)) => format!("{p50:.0}/{p99:.0}"),
        _ => "-".to_string(),
    }
}
