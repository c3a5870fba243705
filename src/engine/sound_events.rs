//! Sound events found live in the tagger's framewise output. The engine runs this, not a
//! view, so the window and `listen --headless` see the same decisions.

use crate::pipeline::LiveScores;
use crate::scores::FrameStitcher;
use crate::sed::{Decision, Event, EventDetector, EventSettings};

/// Stitches live windows into one frame sequence and runs the event detector over it.
pub struct LiveEventFinder {
    stitcher: FrameStitcher,
    detector: EventDetector,
    n_classes: usize,
    frame_secs: f64,
    last_frame_secs: Option<f64>,
}

impl LiveEventFinder {
    /// `frame_rate_hz` frames a second, post-processed with `settings` (the bundle's:
    /// [`crate::bundle::Bundle::event_settings`]).
    pub fn new(
        labels: Vec<String>,
        frame_rate_hz: f64,
        settings: &EventSettings,
    ) -> Result<Self, crate::sed::SedError> {
        let n_classes = labels.len();
        let detector = EventDetector::new(labels, frame_rate_hz, settings)?;
        Ok(Self {
            stitcher: FrameStitcher::new(frame_rate_hz, f64::INFINITY),
            detector,
            n_classes,
            frame_secs: 1.0 / frame_rate_hz,
            last_frame_secs: None,
        })
    }

    /// How late decisions come: the median filter's delay.
    pub fn delay_secs(&self) -> f64 {
        self.detector.delay_secs()
    }

    /// Events whose onset is decided and whose end is not yet, ending at their last frame.
    pub fn open_events(&self, labels: &[String]) -> Vec<Event> {
        self.detector
            .open_events()
            .into_iter()
            .map(|open| Event {
                label_index: open.label_index,
                label: labels[open.label_index].clone(),
                onset_secs: open.onset_secs,
                offset_secs: open.last_secs,
                peak: open.peak,
            })
            .collect()
    }

    /// Feeds the frames of a window that no earlier window gave, and returns every decision
    /// they complete. Frames lost to dropped windows leave a gap, which ends the events
    /// open before it.
    pub fn push(&mut self, scores: &LiveScores) -> Vec<Decision> {
        let start_secs = scores.end_secs - scores.window_secs;
        let Self {
            stitcher,
            detector,
            frame_secs,
            last_frame_secs,
            n_classes,
        } = self;
        let mut decisions = Vec::new();
        stitcher.window(start_secs, &scores.frames, *n_classes, |row| {
            if last_frame_secs.is_some_and(|last| row.time_secs - last > 1.5 * *frame_secs) {
                decisions.extend(detector.finish());
            }
            *last_frame_secs = Some(row.time_secs);
            decisions.extend(detector.push(row.time_secs, row.scores));
        });
        decisions
    }
}
