//! Sound event detection post-processing: framewise class probabilities in, events out.
//!
//! Per class, in this order:
//!
//! 1. **Median filter** over `median_frames` frames (odd; 1 = off), centred on the frame.
//!    At the edges of a stream the track is mirrored about its first and last frames
//!    (`d c b a | a b c d | d c b a`, the default `mode = "reflect"` of
//!    `scipy.ndimage.median_filter`). [`median_filter`] is the whole-track version.
//! 2. **Hysteresis**: an event starts at the first frame whose filtered probability is
//!    `>= on` and lasts while it stays `>= off` (`off <= on`); its offset is the end of its
//!    last frame (last frame's time + 1 / frame rate). A track that rises above `off` but
//!    never reaches `on` makes no candidate at all.
//! 3. **Minimum gap** (optional, `min_gap_secs > 0`): a candidate that starts less than
//!    `min_gap_secs` after the previous one of the same class ended is merged into it
//!    (dcase_util's order: gaps are closed first, then lengths are checked).
//! 4. **Minimum duration**: a candidate shorter than `min_duration_secs` is rejected.
//!
//! [`EventDetector`] does all of this streaming: push one framewise row at a time, get back
//! every [`Decision`] it could make, accepted events *and* rejected candidates with their
//! reason, and merges, so that a live log can show that nothing was filtered silently.
//!
//! **Delay.** The live median filter is the same centred filter, run with a fixed delay:
//! frame `t` is filtered, and decided on, when frame `t + h` has arrived, where
//! `h = (median_frames - 1) / 2` (the largest over the classes): [`EventDetector::delay_secs`].
//! An event's fate is known when it ends, `h` frames later; with a minimum gap, another
//! `min_gap_secs` later (a following candidate might still merge with it). Because the
//! streaming filter mirrors the start of the stream exactly as the offline one does, and
//! [`EventDetector::finish`] mirrors the end, streaming a file and filtering it whole give
//! the same events; a test holds them to it.
//!
//! Timing comparisons (durations, gaps) allow 1 µs of slack, so that frame times that are
//! sums of floating-point steps do not turn 0.2 s into 0.19999999999999 s.

pub mod export;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

pub use export::{EventFormat, EventWriter, UnknownEventFormat};

/// Slack for comparing times built from floating-point frame steps.
const TIME_SLACK_SECS: f64 = 1e-6;

/// The longest median filter: 10 s of frames at 100 Hz. The detector holds half a filter of
/// rows and sorts a whole filter per class and frame, so a length from a typo
/// (100000001) took minutes and hundreds of MB.
pub const MAX_MEDIAN_FRAMES: usize = 1001;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SedError {
    /// `what` names the settings ("defaults", a label).
    #[error("{what}: {problem}")]
    Settings {
        what: String,
        problem: SettingsProblem,
    },
    #[error("frame rate must be positive and finite, got {0}")]
    FrameRate(f64),
    #[error("class override `{text}`: {problem}")]
    Override {
        text: String,
        problem: OverrideProblem,
    },
}

/// Why a class's settings are refused ([`SedError::Settings`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SettingsProblem {
    #[error("thresholds must be numbers, got on {on} and off {off}")]
    Thresholds { on: f32, off: f32 },
    #[error("the offset threshold ({off}) must not exceed the onset threshold ({on})")]
    OffAboveOn { on: f32, off: f32 },
    #[error("the median filter needs an odd number of frames (1 = off), got {0}")]
    EvenMedian(usize),
    #[error("the median filter is at most {MAX_MEDIAN_FRAMES} frames (10 s at 100 Hz), got {0}")]
    MedianTooLong(usize),
    #[error("minimum duration must be >= 0 s, got {0}")]
    MinDuration(f64),
    #[error("minimum gap must be >= 0 s, got {0}")]
    MinGap(f64),
    #[error("an override names class {index}, but there are {labels} labels")]
    NoSuchClass { index: usize, labels: usize },
}

/// Why a `LABEL:key=value,...` override does not parse ([`SedError::Override`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideProblem {
    #[error("expected LABEL:key=value,... (keys: on, off, median, min, gap)")]
    NoLabel,
    #[error("the label is empty")]
    EmptyLabel,
    #[error("`{0}` is not key=value")]
    NotKeyValue(String),
    #[error("`{key}` needs a number, got `{value}`")]
    NotANumber { key: String, value: String },
    #[error("`median` needs a whole number of frames, got `{0}`")]
    MedianNotWhole(String),
    #[error("unknown key `{0}` (keys: on, off, median, min, gap)")]
    UnknownKey(String),
}

/// Post-processing settings of one class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassSettings {
    /// Onset threshold: an event starts when the filtered probability reaches it.
    pub on: f32,
    /// Offset threshold (`<= on`): the event lasts while the probability stays at or above it.
    pub off: f32,
    /// Median filter length in frames; odd; 1 turns the filter off.
    pub median_frames: usize,
    /// Shorter candidates are rejected.
    pub min_duration_secs: f64,
    /// Candidates separated by less than this are merged; 0 never merges.
    pub min_gap_secs: f64,
}

impl Default for ClassSettings {
    fn default() -> Self {
        Self {
            on: 0.5,
            off: 0.3,
            median_frames: 5,
            min_duration_secs: 0.2,
            min_gap_secs: 0.0,
        }
    }
}

impl ClassSettings {
    /// Checks the settings; `what` names them in the error ("defaults", a label).
    pub fn validate(&self, what: &str) -> Result<(), SedError> {
        let bad = |problem: SettingsProblem| {
            Err(SedError::Settings {
                what: what.to_string(),
                problem,
            })
        };
        let (on, off) = (self.on, self.off);
        if !(on.is_finite() && off.is_finite()) {
            return bad(SettingsProblem::Thresholds { on, off });
        }
        if off > on {
            return bad(SettingsProblem::OffAboveOn { on, off });
        }
        if self.median_frames == 0 || self.median_frames % 2 == 0 {
            return bad(SettingsProblem::EvenMedian(self.median_frames));
        }
        if self.median_frames > MAX_MEDIAN_FRAMES {
            return bad(SettingsProblem::MedianTooLong(self.median_frames));
        }
        if !(self.min_duration_secs >= 0.0 && self.min_duration_secs.is_finite()) {
            return bad(SettingsProblem::MinDuration(self.min_duration_secs));
        }
        if !(self.min_gap_secs >= 0.0 && self.min_gap_secs.is_finite()) {
            return bad(SettingsProblem::MinGap(self.min_gap_secs));
        }
        Ok(())
    }

    fn half_window(&self) -> usize {
        (self.median_frames.max(1) - 1) / 2
    }
}

/// Settings for every class: defaults, and overrides by class index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventSettings {
    pub default: ClassSettings,
    pub per_class: BTreeMap<usize, ClassSettings>,
}

impl EventSettings {
    pub fn new(default: ClassSettings) -> Self {
        Self {
            default,
            per_class: BTreeMap::new(),
        }
    }

    /// The settings that apply to class `index`.
    pub fn for_class(&self, index: usize) -> &ClassSettings {
        self.per_class.get(&index).unwrap_or(&self.default)
    }

    pub fn set_class(&mut self, index: usize, settings: ClassSettings) {
        self.per_class.insert(index, settings);
    }
}

/// A per-class override as typed on a command line:
/// `LABEL:on=0.6,off=0.4,median=7,min=0.3,gap=0.1` (any subset of the keys). The label is
/// everything before the last `:`, so labels with commas or spaces work.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClassOverride {
    pub label: String,
    pub on: Option<f32>,
    pub off: Option<f32>,
    pub median_frames: Option<usize>,
    pub min_duration_secs: Option<f64>,
    pub min_gap_secs: Option<f64>,
}

impl ClassOverride {
    /// `base` with this override's values in place of its own.
    pub fn apply(&self, base: ClassSettings) -> ClassSettings {
        ClassSettings {
            on: self.on.unwrap_or(base.on),
            off: self.off.unwrap_or(base.off),
            median_frames: self.median_frames.unwrap_or(base.median_frames),
            min_duration_secs: self.min_duration_secs.unwrap_or(base.min_duration_secs),
            min_gap_secs: self.min_gap_secs.unwrap_or(base.min_gap_secs),
        }
    }
}

impl std::str::FromStr for ClassOverride {
    type Err = SedError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |problem: OverrideProblem| SedError::Override {
            text: text.to_string(),
            problem,
        };
        let (label, pairs) = text
            .rsplit_once(':')
            .ok_or_else(|| bad(OverrideProblem::NoLabel))?;
        let label = label.trim();
        if label.is_empty() {
            return Err(bad(OverrideProblem::EmptyLabel));
        }
        let mut result = ClassOverride {
            label: label.to_string(),
            ..Default::default()
        };
        for pair in pairs.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| bad(OverrideProblem::NotKeyValue(pair.to_string())))?;
            let (key, value) = (key.trim(), value.trim());
            let number = || {
                value.parse::<f64>().map_err(|_| {
                    bad(OverrideProblem::NotANumber {
                        key: key.to_string(),
                        value: value.to_string(),
                    })
                })
            };
            match key {
                "on" => result.on = Some(number()? as f32),
                "off" => result.off = Some(number()? as f32),
                "median" => {
                    result.median_frames = Some(
                        value
                            .parse()
                            .map_err(|_| bad(OverrideProblem::MedianNotWhole(value.to_string())))?,
                    )
                }
                "min" => result.min_duration_secs = Some(number()?),
                "gap" => result.min_gap_secs = Some(number()?),
                _ => return Err(bad(OverrideProblem::UnknownKey(key.to_string()))),
            }
        }
        Ok(result)
    }
}

/// A detected sound event.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Event {
    pub label_index: usize,
    pub label: String,
    pub onset_secs: f64,
    pub offset_secs: f64,
    /// Highest median-filtered probability inside the event.
    pub peak: f32,
}

impl Event {
    pub fn duration_secs(&self) -> f64 {
        self.offset_secs - self.onset_secs
    }
}

/// Why a candidate was not accepted.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejection {
    TooShort { duration_secs: f64, min_secs: f64 },
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::TooShort {
                duration_secs,
                min_secs,
            } => write!(f, "too short: {duration_secs:.2} s < {min_secs:.2} s min"),
        }
    }
}

/// One thing the detector decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// An event that passed every filter.
    Accepted(Event),
    /// A candidate that crossed the onset threshold but was filtered out.
    Rejected { candidate: Event, reason: Rejection },
    /// Two candidates of one class joined because the gap between them was below the
    /// minimum; the joined candidate is decided later.
    Merged {
        label_index: usize,
        label: String,
        /// End of the earlier candidate.
        gap_start_secs: f64,
        gap_secs: f64,
        min_gap_secs: f64,
    },
}

impl Decision {
    /// The event, when this decision accepts one.
    pub fn accepted(&self) -> Option<&Event> {
        match self {
            Decision::Accepted(event) => Some(event),
            _ => None,
        }
    }

    pub fn label_index(&self) -> usize {
        match self {
            Decision::Accepted(event)
            | Decision::Rejected {
                candidate: event, ..
            } => event.label_index,
            Decision::Merged { label_index, .. } => *label_index,
        }
    }
}

/// One line for a decision log, e.g.
/// `rejected high 2.600-2.750 s (peak 0.990): too short: 0.15 s < 0.20 s min`.
impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let span = |f: &mut fmt::Formatter<'_>, e: &Event| {
            write!(
                f,
                "{} {:.3}-{:.3} s (peak {:.3})",
                e.label, e.onset_secs, e.offset_secs, e.peak
            )
        };
        match self {
            Decision::Accepted(event) => {
                write!(f, "accepted ")?;
                span(f, event)
            }
            Decision::Rejected { candidate, reason } => {
                write!(f, "rejected ")?;
                span(f, candidate)?;
                write!(f, ": {reason}")
            }
            Decision::Merged {
                label,
                gap_start_secs,
                gap_secs,
                min_gap_secs,
                ..
            } => write!(
                f,
                "merged {label} across {gap_start_secs:.3}-{:.3} s: gap {gap_secs:.2} s < {min_gap_secs:.2} s min gap",
                gap_start_secs + gap_secs
            ),
        }
    }
}

/// An event still in progress (its onset is decided, its offset not yet).
#[derive(Debug, Clone, PartialEq)]
pub struct OpenEvent {
    pub label_index: usize,
    pub onset_secs: f64,
    /// End of the last frame seen above the offset threshold.
    pub last_secs: f64,
    pub peak: f32,
}

#[derive(Debug, Clone, PartialEq)]
struct Open {
    onset_secs: f64,
    /// Time of the last frame at or above `off`.
    last_frame_secs: f64,
    peak: f32,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct ClassTrack {
    open: Option<Open>,
    /// Ended, but within `min_gap_secs` of a possible next onset.
    pending: Option<Event>,
}

/// The streaming post-processor. Push framewise rows (one probability per label) with the
/// time each frame starts; each push returns the decisions it made possible, and
/// [`EventDetector::finish`] the rest. Decisions come in time order per class; classes
/// deciding on the same frame come in label order.
///
/// Pushed frames are taken to be consecutive (the median filter counts frames, not
/// seconds). After a gap in a live stream (windows dropped), call
/// [`EventDetector::finish`] to decide what was open and start afresh.
///
/// Live use: give each frame of [`crate::scores::FrameStitcher`] to
/// [`EventDetector::push`]; log every returned [`Decision`] (its `Display` is one line);
/// draw [`EventDetector::open_events`] as events in progress and
/// [`EventDetector::filtered`] as the smoothed track the thresholds see, both
/// [`EventDetector::delay_secs`] behind the newest audio.
#[derive(Debug, Clone)]
pub struct EventDetector {
    labels: Vec<String>,
    settings: Vec<ClassSettings>,
    halves: Vec<usize>,
    /// Frames between a frame's arrival and its decision: the largest half window.
    delay_frames: usize,
    frame_secs: f64,
    /// Rows from frame `buf_start` on, `labels.len()` values each, and their times.
    buf: VecDeque<f32>,
    times: VecDeque<f64>,
    buf_start: u64,
    /// Frames pushed so far.
    pushed: u64,
    /// Frames filtered and decided so far.
    processed: u64,
    tracks: Vec<ClassTrack>,
    filtered: Vec<f32>,
    filtered_secs: Option<f64>,
    scratch: Vec<f32>,
    /// Every filtered row, for the tests that hold streaming to the offline filter.
    #[cfg(test)]
    trace: Vec<Vec<f32>>,
}

impl EventDetector {
    /// `labels` in output order; `frame_rate_hz` of the framewise output.
    pub fn new(
        labels: Vec<String>,
        frame_rate_hz: f64,
        settings: &EventSettings,
    ) -> Result<Self, SedError> {
        if !(frame_rate_hz > 0.0 && frame_rate_hz.is_finite()) {
            return Err(SedError::FrameRate(frame_rate_hz));
        }
        settings.default.validate("default event settings")?;
        let mut resolved = Vec::with_capacity(labels.len());
        for (index, label) in labels.iter().enumerate() {
            let class = *settings.for_class(index);
            class.validate(&format!("event settings for `{label}`"))?;
            resolved.push(class);
        }
        if let Some(&index) = settings.per_class.keys().find(|&&i| i >= labels.len()) {
            return Err(SedError::Settings {
                what: "event settings".into(),
                problem: SettingsProblem::NoSuchClass {
                    index,
                    labels: labels.len(),
                },
            });
        }
        let halves: Vec<usize> = resolved.iter().map(ClassSettings::half_window).collect();
        let n = labels.len();
        Ok(Self {
            delay_frames: halves.iter().copied().max().unwrap_or(0),
            halves,
            settings: resolved,
            frame_secs: 1.0 / frame_rate_hz,
            buf: VecDeque::new(),
            times: VecDeque::new(),
            buf_start: 0,
            pushed: 0,
            processed: 0,
            tracks: vec![ClassTrack::default(); n],
            filtered: vec![0.0; n],
            filtered_secs: None,
            scratch: Vec::new(),
            #[cfg(test)]
            trace: Vec::new(),
            labels,
        })
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The settings in force for class `index`.
    pub fn settings(&self, index: usize) -> &ClassSettings {
        &self.settings[index]
    }

    /// How far behind the newest frame decisions are: frames are filtered (and events
    /// opened or closed) `delay_frames` frames after they arrive.
    pub fn delay_frames(&self) -> usize {
        self.delay_frames
    }

    /// [`EventDetector::delay_frames`] in seconds. A candidate's acceptance or rejection
    /// comes this long after its last frame, plus its class's `min_gap_secs`.
    pub fn delay_secs(&self) -> f64 {
        self.delay_frames as f64 * self.frame_secs
    }

    /// The newest filtered row and its time: what the thresholds were compared with.
    pub fn filtered(&self) -> Option<(f64, &[f32])> {
        self.filtered_secs.map(|t| (t, self.filtered.as_slice()))
    }

    /// Events whose onset is decided and whose end is not, in label order.
    pub fn open_events(&self) -> Vec<OpenEvent> {
        self.tracks
            .iter()
            .enumerate()
            .filter_map(|(label_index, track)| {
                let open = track.open.as_ref()?;
                Some(OpenEvent {
                    label_index,
                    onset_secs: open.onset_secs,
                    last_secs: open.last_frame_secs + self.frame_secs,
                    peak: open.peak,
                })
            })
            .collect()
    }

    /// Forgets everything, for a new stream; undecided candidates are dropped (call
    /// [`EventDetector::finish`] first to decide them).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.times.clear();
        self.buf_start = 0;
        self.pushed = 0;
        self.processed = 0;
        self.tracks
            .iter_mut()
            .for_each(|t| *t = ClassTrack::default());
        self.filtered.fill(0.0);
        self.filtered_secs = None;
    }

    /// Adds the frame starting at `time_secs` (times must increase) with one probability
    /// per label (non-finite values count as 0). Returns the decisions this frame made
    /// possible (none, usually).
    ///
    /// # Panics
    /// If `row` does not hold one value per label.
    pub fn push(&mut self, time_secs: f64, row: &[f32]) -> Vec<Decision> {
        assert_eq!(
            row.len(),
            self.labels.len(),
            "a framewise row needs one probability per label"
        );
        self.buf
            .extend(row.iter().map(|&v| if v.is_finite() { v } else { 0.0 }));
        self.times.push_back(time_secs);
        self.pushed += 1;
        let mut decisions = Vec::new();
        while self.processed + (self.delay_frames as u64) < self.pushed {
            self.process_next(None, &mut decisions);
        }
        self.trim();
        decisions
    }

    /// Ends the stream: filters the last frames (mirroring the end), closes open events,
    /// decides every candidate, and resets for a new stream.
    pub fn finish(&mut self) -> Vec<Decision> {
        let mut decisions = Vec::new();
        let total = self.pushed;
        while self.processed < total {
            self.process_next(Some(total), &mut decisions);
        }
        for index in 0..self.tracks.len() {
            if let Some(open) = self.tracks[index].open.take() {
                let candidate = self.candidate(index, &open);
                self.ended(index, candidate, &mut decisions);
            }
            if let Some(pending) = self.tracks[index].pending.take() {
                decisions.push(self.decide(pending));
            }
        }
        self.reset();
        decisions
    }

    /// Convenience for a whole track: pushes every row (`rows` holds `times.len()` rows of
    /// one value per label) and finishes.
    pub fn run_all(&mut self, times: &[f64], rows: &[f32]) -> Vec<Decision> {
        let n = self.labels.len().max(1);
        let mut decisions = Vec::new();
        for (&time, row) in times.iter().zip(rows.chunks_exact(n)) {
            decisions.extend(self.push(time, row));
        }
        decisions.extend(self.finish());
        decisions
    }

    /// The raw value of frame `index` of class `class`, mirrored at the start (and at
    /// the end when `total` frames are known).
    fn value(&self, index: i64, class: usize, total: Option<u64>) -> f32 {
        let mapped = reflect(index, total);
        let row = (mapped - self.buf_start) as usize;
        self.buf[row * self.labels.len() + class]
    }

    /// Filters frame `processed` and runs every class's decisions on it.
    fn process_next(&mut self, total: Option<u64>, decisions: &mut Vec<Decision>) {
        let frame = self.processed;
        let time = self.times[(frame - self.buf_start) as usize];
        for class in 0..self.labels.len() {
            let half = self.halves[class] as i64;
            let mut scratch = std::mem::take(&mut self.scratch);
            scratch.clear();
            scratch.extend(
                (frame as i64 - half..=frame as i64 + half).map(|i| self.value(i, class, total)),
            );
            let (_, median, _) = scratch.select_nth_unstable_by(half as usize, f32::total_cmp);
            let value = *median;
            self.scratch = scratch;
            self.filtered[class] = value;
            self.step(class, time, value, decisions);
        }
        self.filtered_secs = Some(time);
        self.processed += 1;
        #[cfg(test)]
        self.trace.push(self.filtered.clone());
    }

    /// Hysteresis, merging and the duration check for one filtered value.
    fn step(&mut self, class: usize, time: f64, value: f32, decisions: &mut Vec<Decision>) {
        let settings = self.settings[class];
        if let Some(mut open) = self.tracks[class].open.take() {
            if value >= settings.off {
                open.last_frame_secs = time;
                open.peak = open.peak.max(value);
                self.tracks[class].open = Some(open);
            } else {
                let candidate = self.candidate(class, &open);
                self.ended(class, candidate, decisions);
            }
            return;
        }
        // No event open: a pending candidate is final once no onset can merge with it.
        let track = &mut self.tracks[class];
        let gap_closed =
            |p: &Event| time - p.offset_secs >= settings.min_gap_secs - TIME_SLACK_SECS;
        if let Some(pending) = track.pending.take_if(|p| gap_closed(p)) {
            decisions.push(self.decide(pending));
        }
        if value < settings.on {
            return;
        }
        let open = match self.tracks[class].pending.take() {
            Some(pending) => {
                decisions.push(Decision::Merged {
                    label_index: class,
                    label: self.labels[class].clone(),
                    gap_start_secs: pending.offset_secs,
                    gap_secs: time - pending.offset_secs,
                    min_gap_secs: settings.min_gap_secs,
                });
                Open {
                    onset_secs: pending.onset_secs,
                    last_frame_secs: time,
                    peak: pending.peak.max(value),
                }
            }
            None => Open {
                onset_secs: time,
                last_frame_secs: time,
                peak: value,
            },
        };
        self.tracks[class].open = Some(open);
    }

    fn candidate(&self, class: usize, open: &Open) -> Event {
        Event {
            label_index: class,
            label: self.labels[class].clone(),
            onset_secs: open.onset_secs,
            offset_secs: open.last_frame_secs + self.frame_secs,
            peak: open.peak,
        }
    }

    /// A candidate has ended: decide it now, or hold it while a merge is possible.
    fn ended(&mut self, class: usize, candidate: Event, decisions: &mut Vec<Decision>) {
        if self.settings[class].min_gap_secs > 0.0 {
            self.tracks[class].pending = Some(candidate);
        } else {
            decisions.push(self.decide(candidate));
        }
    }

    fn decide(&self, candidate: Event) -> Decision {
        let min_secs = self.settings[candidate.label_index].min_duration_secs;
        let duration_secs = candidate.duration_secs();
        if duration_secs < min_secs - TIME_SLACK_SECS {
            Decision::Rejected {
                candidate,
                reason: Rejection::TooShort {
                    duration_secs,
                    min_secs,
                },
            }
        } else {
            Decision::Accepted(candidate)
        }
    }

    /// Drops rows no future filter window can reach.
    fn trim(&mut self) {
        let keep_from = self.processed.saturating_sub(self.delay_frames as u64);
        let n = self.labels.len();
        while self.buf_start < keep_from {
            self.buf.drain(..n);
            self.times.pop_front();
            self.buf_start += 1;
        }
    }
}

/// Index `i` mirrored into `0..total` (`scipy.ndimage`'s `reflect`: the edge frame is
/// repeated, and a track shorter than the window is mirrored again). Without `total`,
/// only the start is mirrored.
fn reflect(index: i64, total: Option<u64>) -> u64 {
    match total {
        Some(total) => {
            let n = total.max(1) as i64;
            let m = index.rem_euclid(2 * n);
            (if m >= n { 2 * n - 1 - m } else { m }) as u64
        }
        None if index < 0 => (-index - 1) as u64,
        None => index as u64,
    }
}

/// Median filter of a whole track over `window` frames (odd), centred, with the edges
/// mirrored as `scipy.ndimage.median_filter(track, window, mode="reflect")` does.
pub fn median_filter(track: &[f32], window: usize) -> Vec<f32> {
    let half = (window.max(1) - 1) / 2;
    let n = track.len() as u64;
    let mut scratch = Vec::with_capacity(2 * half + 1);
    (0..track.len() as i64)
        .map(|j| {
            scratch.clear();
            scratch.extend(
                (j - half as i64..=j + half as i64).map(|i| track[reflect(i, Some(n)) as usize]),
            );
            *scratch.select_nth_unstable_by(half, f32::total_cmp).1
        })
        .collect()
}

/// The accepted events among `decisions`, ordered by onset, then label index.
pub fn accepted_events(decisions: &[Decision]) -> Vec<Event> {
    let mut events: Vec<Event> = decisions
        .iter()
        .filter_map(Decision::accepted)
        .cloned()
        .collect();
    events.sort_by(|a, b| {
        a.onset_secs
            .total_cmp(&b.onset_secs)
            .then(a.label_index.cmp(&b.label_index))
    });
    events
}

#[cfg(test)]
mod tests;
