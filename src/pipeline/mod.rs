//! The live engine behind the window and `livetag listen`: a DSP thread and an inference
//! thread joined by bounded channels (see docs/ARCHITECTURE.md for the diagram).
//!
//! - The **DSP thread** owns the capture ring's reader, the display spectrogram, the
//!   resampler to the model's rate and the bundle's front-end. It sends display columns and
//!   model-input columns to the UI, and model windows to the inference thread.
//! - One **inference thread per track** owns that track's scorer (an ONNX Runtime session)
//!   and sends scores. Track 0 is the main tagger; further tracks (the speech track) run
//!   beside it on the same audio, each with its own resampler, front-end and windows.
//!
//! Nothing here ever blocks the audio thread. When a stateless model falls behind, the
//! queued, stale window is dropped in favour of the newest one and counted. A stateful
//! model (silero VAD) needs every window in order: its windows queue up, and only if the
//! queue overflows are windows dropped, counted, and the model's state reset. When the UI
//! falls behind, events are dropped and counted.

mod dsp_thread;
mod inference_thread;
pub mod stats;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::Receiver;

use crate::bundle::AudioInput;
use crate::capture::CaptureReader;
use crate::dsp::filterbank::{hz_to_mel, mel_to_hz, MelScale};
use crate::inference::{InferenceError, ModelRunner};

pub use stats::Percentiles;

/// Messages the UI can fall this far behind before some are dropped.
const MESSAGE_QUEUE: usize = 2048;
/// Windows a stateful model may fall behind before some are dropped (~2 s of silero's
/// 32 ms chunks).
const STATEFUL_QUEUE: usize = 64;

/// What a model does in a live session. Tracks, their scores and their counters are keyed
/// by role, never by position: a track that stops leaves the others' roles unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Role {
    /// The main model: its scores are the top classes, its input the model-input view.
    #[default]
    Tagger,
    /// A one-class model (silero VAD) whose probability is drawn under the spectrogram.
    Speech,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Tagger => "tagger",
            Role::Speech => "speech",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Scores model windows. [`ModelRunner`] is the real one; tests use slow stand-ins.
pub trait Scorer: Send {
    /// Appends one probability per class for one window of `rows` rows.
    fn score(
        &mut self,
        window: &[f32],
        rows: usize,
        scores: &mut Vec<f32>,
    ) -> Result<(), InferenceError>;

    /// Forgets carried state before a new stream, or after a gap in one.
    fn reset(&mut self) {}

    /// Whether scores depend on earlier windows, so that every window must be scored in
    /// order, at the model's own hop.
    fn is_stateful(&self) -> bool {
        false
    }

    /// Frames per second of a framewise output (sound event detection), if there is one.
    fn frame_rate_hz(&self) -> Option<f64> {
        None
    }

    /// Like [`score`](Self::score), and also appends the window's framewise probabilities
    /// (frames x classes) when the model has a framewise output.
    fn score_with_frames(
        &mut self,
        window: &[f32],
        rows: usize,
        scores: &mut Vec<f32>,
        _frames: &mut Vec<f32>,
    ) -> Result<(), InferenceError> {
        self.score(window, rows, scores)
    }
}

impl Scorer for ModelRunner {
    fn score(
        &mut self,
        window: &[f32],
        rows: usize,
        scores: &mut Vec<f32>,
    ) -> Result<(), InferenceError> {
        self.run(window, 1, rows, scores)
    }

    fn reset(&mut self) {
        self.reset_state();
    }

    fn is_stateful(&self) -> bool {
        self.is_stateful()
    }

    fn frame_rate_hz(&self) -> Option<f64> {
        self.frame_rate_hz()
    }

    fn score_with_frames(
        &mut self,
        window: &[f32],
        rows: usize,
        scores: &mut Vec<f32>,
        frames: &mut Vec<f32>,
    ) -> Result<(), InferenceError> {
        if self.frame_rate_hz().is_none() {
            return self.run(window, 1, rows, scores);
        }
        let mut framewise = crate::inference::FrameScores::default();
        self.run_with_frames(window, 1, rows, scores, &mut framewise)?;
        frames.extend_from_slice(&framewise.values);
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot convert {from_hz} Hz input to the model's {to_hz} Hz")]
    Resample {
        from_hz: u32,
        to_hz: u32,
        #[source]
        source: crate::audio::AudioError,
    },
    #[error("a live pipeline needs at least one model")]
    NoTrack,
    #[error("cannot build the display spectrogram")]
    Display(#[source] crate::dsp::FrontendError),
    #[error("cannot start the {name} thread")]
    Thread {
        name: &'static str,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PipelineConfig {
    /// Seconds between windows of stateless models (stateful ones use their own hop).
    pub hop_secs: f64,
    /// Rows of the display spectrogram.
    pub display_bands: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            hop_secs: 0.1,
            display_bands: 128,
        }
    }
}

/// How to draw the display spectrogram's axes.
#[derive(Debug, Clone, PartialEq)]
pub struct DisplayInfo {
    pub sample_rate_hz: u32,
    pub columns_per_sec: f64,
    pub bands: usize,
    pub fmax_hz: f64,
    /// Model-input rows per second, and values per row (0 for waveform models).
    pub model_rows_per_sec: f64,
    pub model_row_width: usize,
}

impl DisplayInfo {
    /// Centre frequency of display band `band` (0 = lowest), on the mel scale the
    /// spectrogram uses.
    pub fn band_hz(&self, band: f64) -> f64 {
        let top = hz_to_mel(self.fmax_hz, MelScale::Slaney);
        mel_to_hz(
            top * (band + 1.0) / (self.bands + 1) as f64,
            MelScale::Slaney,
        )
    }

    /// Inverse of [`band_hz`](Self::band_hz).
    pub fn hz_band(&self, hz: f64) -> f64 {
        let top = hz_to_mel(self.fmax_hz, MelScale::Slaney);
        hz_to_mel(hz, MelScale::Slaney) / top * (self.bands + 1) as f64 - 1.0
    }
}

/// One column of the display spectrogram, in dB.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrumColumn {
    /// Source time of the column's last sample, in seconds from the start of the source.
    pub end_secs: f64,
    pub db: Vec<f32>,
}

/// Model-input rows that are new since the last window.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInputRows {
    pub end_secs: f64,
    pub width: usize,
    /// `values.len() / width` rows, oldest first.
    pub values: Vec<f32>,
}

/// The scores of one live window.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveScores {
    /// Which track's model scored it.
    pub role: Role,
    /// Source time of the window's last sample, in seconds.
    pub end_secs: f64,
    pub window_secs: f64,
    /// When the window's last sample was captured (or heard, in demo mode).
    pub captured_at: Instant,
    pub inference_secs: f64,
    pub scores: Vec<f32>,
    /// The window heard digital silence: its scores describe no sound.
    pub silent: bool,
    /// Framewise probabilities (frames x classes) from the window's start, for models with
    /// a framewise output; empty otherwise.
    pub frames: Vec<f32>,
    pub frame_rate_hz: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LiveMessage {
    Spectrum(SpectrumColumn),
    ModelInput(ModelInputRows),
    Scores(LiveScores),
    /// Something went wrong for one window; the pipeline keeps going.
    Error(String),
}

/// Recent probabilities of a one-class track (the speech track): what the window's lane
/// draws and what `listen --speech` summarises per record.
#[derive(Debug, Clone, Default)]
pub struct ProbabilityTrail {
    /// (end_secs, probability), oldest first.
    points: std::collections::VecDeque<(f64, f32)>,
}

impl ProbabilityTrail {
    /// Adds a window's first score and forgets points ending more than `keep_secs` before it.
    pub fn push(&mut self, scores: &LiveScores, keep_secs: f64) {
        let probability = scores.scores.first().copied().unwrap_or(0.0);
        self.points.push_back((scores.end_secs, probability));
        let keep_after = scores.end_secs - keep_secs;
        while self
            .points
            .front()
            .is_some_and(|&(end, _)| end < keep_after)
        {
            self.points.pop_front();
        }
    }

    /// (end_secs, probability), oldest first.
    pub fn points(&self) -> impl Iterator<Item = (f64, f32)> + '_ {
        self.points.iter().copied()
    }

    pub fn latest(&self) -> Option<f32> {
        self.points.back().map(|&(_, p)| p)
    }

    /// Highest probability among windows ending inside `window`; 0 if none.
    pub fn max_in(&self, window: &LiveScores) -> f32 {
        let start = window.end_secs - window.window_secs;
        self.points()
            .filter(|&(end, _)| end > start && end <= window.end_secs)
            .map(|(_, p)| p)
            .fold(0.0, f32::max)
    }
}

/// Counters of the live path, readable from any thread.
#[derive(Debug, Default)]
pub struct PipelineStats {
    pub frames_processed: AtomicU64,
    /// Time the DSP thread spent on audio (display spectrogram, resampling, front-ends,
    /// windowing), as opposed to waiting for it.
    pub dsp_busy_ns: AtomicU64,
    /// Events the UI did not take in time.
    pub messages_dropped: AtomicU64,
    /// One per track, in the order the tracks were given.
    pub tracks: Vec<TrackStats>,
}

/// Counters of one track's windows.
#[derive(Debug, Default)]
pub struct TrackStats {
    pub role: Role,
    pub windows_made: AtomicU64,
    /// Windows never scored: stale ones replaced by newer ones because inference was busy,
    /// or, for a stateful model, windows that overflowed its queue.
    pub windows_dropped: AtomicU64,
    pub windows_scored: AtomicU64,
    pub inference_errors: AtomicU64,
    /// Time spent in the model, over all windows.
    pub busy_ns: AtomicU64,
}

impl PipelineStats {
    pub fn load(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// The counters of the track playing `role`, if the session has one.
    pub fn track(&self, role: Role) -> Option<&TrackStats> {
        self.tracks.iter().find(|t| t.role == role)
    }

    /// Dropped windows over all tracks.
    pub fn windows_dropped(&self) -> u64 {
        self.tracks
            .iter()
            .map(|t| Self::load(&t.windows_dropped))
            .sum()
    }

    /// Where a hop's worth of audio went so far, on average; `None` before any audio.
    pub fn hop_budget(&self, source_rate_hz: u32, hop_secs: f64) -> Option<HopBudget> {
        let audio_secs = Self::load(&self.frames_processed) as f64 / f64::from(source_rate_hz);
        if audio_secs <= 0.0 {
            return None;
        }
        let per_hop_ms = |busy_ns: u64| busy_ns as f64 * 1e-6 * hop_secs / audio_secs;
        let inference_ns = self.tracks.iter().map(|t| Self::load(&t.busy_ns)).sum();
        Some(HopBudget {
            hop_ms: hop_secs * 1e3,
            dsp_ms: per_hop_ms(Self::load(&self.dsp_busy_ns)),
            inference_ms: per_hop_ms(inference_ns),
        })
    }
}

/// Compute time per hop of live audio: what has to fit in the hop for the tagger to keep up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HopBudget {
    pub hop_ms: f64,
    /// The DSP thread: display spectrogram, resampling, front-ends and windows.
    pub dsp_ms: f64,
    /// Every track's model runs.
    pub inference_ms: f64,
}

impl HopBudget {
    /// Share of the hop spent computing, in percent.
    pub fn percent_of_hop(&self) -> f64 {
        100.0 * (self.dsp_ms + self.inference_ms) / self.hop_ms
    }
}

impl std::fmt::Display for HopBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "per {:.0} ms hop, front-end {:.2} ms + inference {:.2} ms = {:.2} % of the hop",
            self.hop_ms,
            self.dsp_ms,
            self.inference_ms,
            self.percent_of_hop()
        )
    }
}

/// One model run on the live audio: what its input is, and what scores it.
pub struct Track {
    pub role: Role,
    pub input: AudioInput,
    pub scorer: Box<dyn Scorer>,
}

/// A track whose inference thread ended on its own: it panicked, and its model is gone.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackLoss {
    pub role: Role,
    /// The panic's message, when it had one.
    pub message: String,
}

/// A pipeline that did not start, with the tracks it was given, so that a failed start
/// costs the caller no loaded model.
#[derive(Debug, thiserror::Error)]
#[error("the live pipeline did not start")]
pub struct StartError {
    #[source]
    pub error: PipelineError,
    /// Every track whose scorer was not lost. A scorer is lost only when its own thread
    /// cannot be spawned (std drops the closure that holds it).
    pub tracks: Vec<Track>,
}

impl std::fmt::Debug for Track {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Track")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

struct InferenceWorker {
    role: Role,
    input: AudioInput,
    thread: JoinHandle<Box<dyn Scorer>>,
}

/// The running DSP and inference threads. Dropping it stops and joins them all.
pub struct Pipeline {
    stop: Arc<AtomicBool>,
    dsp: Option<JoinHandle<CaptureReader>>,
    inference: Vec<InferenceWorker>,
    messages: Receiver<LiveMessage>,
    stats: Arc<PipelineStats>,
    display: DisplayInfo,
}

impl Pipeline {
    /// Starts the DSP thread and one inference thread per track; `tracks[0]` is the main
    /// model, whose input the model-input view shows. There must be at least one track.
    pub fn start(
        reader: CaptureReader,
        tracks: Vec<Track>,
        config: PipelineConfig,
    ) -> Result<Self, StartError> {
        if tracks.is_empty() {
            return Err(StartError {
                error: PipelineError::NoTrack,
                tracks,
            });
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(PipelineStats {
            tracks: tracks
                .iter()
                .map(|t| TrackStats {
                    role: t.role,
                    ..TrackStats::default()
                })
                .collect(),
            ..PipelineStats::default()
        });
        let (messages_tx, messages) = crossbeam_channel::bounded(MESSAGE_QUEUE);

        let mut feeds = Vec::with_capacity(tracks.len());
        let mut queues = Vec::with_capacity(tracks.len());
        for track in &tracks {
            let stateful = track.scorer.is_stateful();
            // Stateless: one slot, so the inference thread always finds the freshest window.
            let (jobs_tx, jobs_rx) =
                crossbeam_channel::bounded(if stateful { STATEFUL_QUEUE } else { 1 });
            feeds.push(dsp_thread::TrackFeed {
                role: track.role,
                input: track.input.clone(),
                stateful,
                jobs: jobs_tx,
                stale: jobs_rx.clone(),
            });
            queues.push(jobs_rx);
        }
        // Everything that can fail for a reason other than the OS's threads is checked
        // here, before any scorer leaves `tracks`.
        let dsp = match dsp_thread::DspThread::new(
            reader,
            feeds,
            config,
            messages_tx.clone(),
            Arc::clone(&stats),
        ) {
            Ok(dsp) => dsp,
            Err(error) => return Err(StartError { error, tracks }),
        };
        let display = dsp.display_info();
        let dsp_stop = Arc::clone(&stop);
        let dsp = match std::thread::Builder::new()
            .name("livetag-dsp".to_string())
            .spawn(move || dsp.run(&dsp_stop))
        {
            Ok(dsp) => dsp,
            Err(source) => {
                let error = PipelineError::Thread {
                    name: "DSP",
                    source,
                };
                return Err(StartError { error, tracks });
            }
        };
        let mut pipeline = Self {
            stop,
            dsp: Some(dsp),
            inference: Vec::new(),
            messages,
            stats,
            display,
        };
        for (index, (track, jobs_rx)) in tracks.into_iter().zip(queues).enumerate() {
            let Track {
                role,
                input,
                mut scorer,
            } = track;
            scorer.reset();
            let stop = Arc::clone(&pipeline.stop);
            let stats = Arc::clone(&pipeline.stats);
            let messages = messages_tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("livetag-inference-{role}"))
                .spawn(move || {
                    inference_thread::run(index, role, scorer, jobs_rx, messages, stats, &stop)
                });
            match spawned {
                Ok(thread) => pipeline.inference.push(InferenceWorker {
                    role,
                    input,
                    thread,
                }),
                Err(source) => {
                    let tracks = pipeline.shutdown().tracks;
                    let error = PipelineError::Thread {
                        name: "inference",
                        source,
                    };
                    return Err(StartError { error, tracks });
                }
            }
        }
        Ok(pipeline)
    }

    pub fn messages(&self) -> &Receiver<LiveMessage> {
        &self.messages
    }

    pub fn stats(&self) -> &Arc<PipelineStats> {
        &self.stats
    }

    pub fn display(&self) -> &DisplayInfo {
        &self.display
    }

    /// Roles whose inference thread has ended while the pipeline runs: it can only have
    /// panicked, since they stop only when asked.
    pub fn stopped_tracks(&self) -> Vec<Role> {
        self.inference
            .iter()
            .filter(|w| w.thread.is_finished())
            .map(|w| w.role)
            .collect()
    }

    /// The DSP thread ended while the pipeline runs: it panicked.
    pub fn dsp_stopped(&self) -> bool {
        self.dsp.as_ref().is_some_and(JoinHandle::is_finished)
    }

    /// Stops all threads and hands back what they held.
    pub fn stop(mut self) -> Stopped {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Stopped {
        self.stop.store(true, Ordering::Relaxed);
        let mut stopped = Stopped::default();
        match self.dsp.take().map(JoinHandle::join) {
            Some(Ok(reader)) => stopped.reader = Some(reader),
            Some(Err(panic)) => stopped.dsp_panic = Some(panic_message(panic.as_ref())),
            None => {}
        }
        for InferenceWorker {
            role,
            input,
            thread,
        } in self.inference.drain(..)
        {
            match thread.join() {
                Ok(scorer) => stopped.tracks.push(Track {
                    role,
                    input,
                    scorer,
                }),
                Err(panic) => stopped.lost.push(TrackLoss {
                    role,
                    message: panic_message(panic.as_ref()),
                }),
            }
        }
        stopped
    }
}

/// What a stopped pipeline hands back.
#[derive(Default)]
pub struct Stopped {
    /// The tracks whose threads ended cleanly, to serve another source.
    pub tracks: Vec<Track>,
    /// Tracks whose inference thread panicked, by role.
    pub lost: Vec<TrackLoss>,
    /// The capture reader, unless the DSP thread panicked with it.
    pub reader: Option<CaptureReader>,
    pub dsp_panic: Option<String>,
}

/// The text a panic was raised with, if it was a string.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "no message".to_string()
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// A window on its way to the inference thread.
struct WindowJob {
    /// Windows before this one were dropped: a stateful model must start afresh.
    after_gap: bool,
    /// The window is digital silence.
    silent: bool,
    window: Vec<f32>,
    rows: usize,
    end_secs: f64,
    window_secs: f64,
    captured_at: Instant,
}

/// What a stopped session hands back.
pub struct StoppedSession {
    pub tracks: Vec<Track>,
    pub lost: Vec<TrackLoss>,
    /// The source, still running, to serve the next session without opening it again.
    pub source: Option<crate::capture::LiveSource>,
    pub dsp_panic: Option<String>,
}

/// A source wired to models: what the engine runs.
pub struct LiveSession {
    // Declared first so it is dropped first: threads stop before the audio does.
    pub pipeline: Pipeline,
    pub source: crate::capture::SourceInfo,
    pub counters: Arc<crate::capture::CaptureCounters>,
    pub control: crate::capture::SourceControl,
}

impl LiveSession {
    /// Wires an open source to the tracks. Callers open the source first, so that a source
    /// that cannot be opened never costs them a running session; a pipeline that cannot
    /// start hands the tracks back.
    pub fn start(
        source: crate::capture::LiveSource,
        tracks: Vec<Track>,
        config: PipelineConfig,
    ) -> Result<Self, StartError> {
        let crate::capture::LiveSource {
            reader,
            counters,
            info,
            control,
        } = source;
        let pipeline = Pipeline::start(reader, tracks, config)?;
        Ok(Self {
            pipeline,
            source: info,
            counters,
            control,
        })
    }

    /// The demo-mode file's playback controls, when the source is a file.
    pub fn playback(&self) -> Option<&crate::capture::FilePlayback> {
        self.control.playback()
    }

    /// Stops the threads and hands back the tracks, those lost, and the source still
    /// running (unless the DSP thread panicked with its reader: then the audio stops too).
    pub fn stop(self) -> StoppedSession {
        let Self {
            pipeline,
            source,
            counters,
            control,
        } = self;
        let Stopped {
            tracks,
            lost,
            reader,
            dsp_panic,
        } = pipeline.stop();
        let source = reader.map(|reader| crate::capture::LiveSource {
            reader,
            counters,
            info: source,
            control,
        });
        StoppedSession {
            tracks,
            lost,
            source,
            dsp_panic,
        }
    }
}
