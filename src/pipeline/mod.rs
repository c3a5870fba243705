//! The live engine behind the window and `livetag listen`: a DSP thread and an inference
//! thread joined by bounded channels (see docs/ARCHITECTURE.md for the diagram).
//!
//! - The **DSP thread** owns the capture ring's reader, the display spectrogram, the
//!   resampler to the model's rate and the bundle's front-end. It sends display columns and
//!   model-input columns to the UI, and model windows to the inference thread.
//! - The **inference thread** owns the scorer (an ONNX Runtime session) and sends scores.
//!
//! Nothing here ever blocks the audio thread. When inference falls behind, the queued,
//! stale window is dropped in favour of the newest one and counted; when the UI falls
//! behind, events are dropped and counted.

mod dsp;
mod infer;
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

/// Events the UI can fall this far behind before some are dropped.
const EVENT_QUEUE: usize = 2048;

/// Scores model windows. [`ModelRunner`] is the real one; tests use slow stand-ins.
pub trait Scorer: Send {
    /// Appends one probability per class for one window of `rows` rows.
    fn score(
        &mut self,
        window: &[f32],
        rows: usize,
        scores: &mut Vec<f32>,
    ) -> Result<(), InferenceError>;

    /// Forgets carried state before a new stream.
    fn reset(&mut self) {}
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
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot convert {from_hz} Hz input to the model's {to_hz} Hz: {reason}")]
    Resample {
        from_hz: u32,
        to_hz: u32,
        reason: String,
    },
    #[error("cannot build the display spectrogram: {0}")]
    Display(String),
    #[error("cannot start the {name} thread: {source}")]
    Thread {
        name: &'static str,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PipelineConfig {
    /// Seconds between model windows.
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
    /// Source time of the window's last sample, in seconds.
    pub end_secs: f64,
    pub window_secs: f64,
    /// When the window's last sample was captured (or heard, in demo mode).
    pub captured_at: Instant,
    pub inference_secs: f64,
    pub scores: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PipelineEvent {
    Spectrum(SpectrumColumn),
    ModelInput(ModelInputRows),
    Scores(LiveScores),
    /// Something went wrong for one window; the pipeline keeps going.
    Error(String),
}

/// Counters of the live path, readable from any thread.
#[derive(Debug, Default)]
pub struct PipelineStats {
    pub frames_processed: AtomicU64,
    pub windows_made: AtomicU64,
    /// Stale windows replaced by newer ones because inference was busy.
    pub windows_dropped: AtomicU64,
    pub windows_scored: AtomicU64,
    pub inference_errors: AtomicU64,
    /// Events the UI did not take in time.
    pub events_dropped: AtomicU64,
}

impl PipelineStats {
    pub fn load(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// The running DSP and inference threads. Dropping it stops and joins both.
pub struct Pipeline {
    stop: Arc<AtomicBool>,
    dsp: Option<JoinHandle<()>>,
    inference: Option<JoinHandle<Box<dyn Scorer>>>,
    events: Receiver<PipelineEvent>,
    stats: Arc<PipelineStats>,
    display: DisplayInfo,
}

impl Pipeline {
    pub fn start(
        reader: CaptureReader,
        input: &AudioInput,
        mut scorer: Box<dyn Scorer>,
        config: PipelineConfig,
    ) -> Result<Self, PipelineError> {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(PipelineStats::default());
        let (events_tx, events) = crossbeam_channel::bounded(EVENT_QUEUE);
        // One slot: the inference thread always finds the freshest window.
        let (jobs_tx, jobs_rx) = crossbeam_channel::bounded(1);

        let dsp = dsp::DspThread::new(
            reader,
            input,
            config,
            jobs_tx,
            jobs_rx.clone(),
            events_tx.clone(),
            Arc::clone(&stats),
        )?;
        let display = dsp.display_info();
        let dsp_stop = Arc::clone(&stop);
        let dsp = std::thread::Builder::new()
            .name("livetag-dsp".to_string())
            .spawn(move || dsp.run(&dsp_stop))
            .map_err(|source| PipelineError::Thread {
                name: "DSP",
                source,
            })?;
        let mut pipeline = Self {
            stop,
            dsp: Some(dsp),
            inference: None,
            events,
            stats,
            display,
        };
        let infer_stop = Arc::clone(&pipeline.stop);
        let infer_stats = Arc::clone(&pipeline.stats);
        scorer.reset();
        let inference = std::thread::Builder::new()
            .name("livetag-inference".to_string())
            .spawn(move || infer::run(scorer, jobs_rx, events_tx, infer_stats, &infer_stop))
            .map_err(|source| PipelineError::Thread {
                name: "inference",
                source,
            })?;
        pipeline.inference = Some(inference);
        Ok(pipeline)
    }

    pub fn events(&self) -> &Receiver<PipelineEvent> {
        &self.events
    }

    pub fn stats(&self) -> &Arc<PipelineStats> {
        &self.stats
    }

    pub fn display(&self) -> &DisplayInfo {
        &self.display
    }

    /// Stops both threads and hands back the scorer, to serve another source.
    pub fn into_scorer(mut self) -> Option<Box<dyn Scorer>> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Option<Box<dyn Scorer>> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(dsp) = self.dsp.take() {
            let _ = dsp.join();
        }
        self.inference.take().and_then(|thread| thread.join().ok())
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// A window on its way to the inference thread.
struct WindowJob {
    window: Vec<f32>,
    rows: usize,
    end_secs: f64,
    window_secs: f64,
    captured_at: Instant,
}

/// A source wired to a model: what the window and `livetag listen` run.
pub struct LiveSession {
    // Declared first so it is dropped first: threads stop before the audio does.
    pub pipeline: Pipeline,
    pub source: crate::capture::SourceInfo,
    pub counters: Arc<crate::capture::CaptureCounters>,
    pub control: crate::capture::SourceControl,
}

impl LiveSession {
    /// Wires an open source to a scorer. Callers open the source first, so that a source
    /// that cannot be opened never costs them a running session.
    pub fn start(
        source: crate::capture::LiveSource,
        input: &AudioInput,
        scorer: Box<dyn Scorer>,
        config: PipelineConfig,
    ) -> Result<Self, PipelineError> {
        let crate::capture::LiveSource {
            reader,
            counters,
            info,
            control,
        } = source;
        let pipeline = Pipeline::start(reader, input, scorer, config)?;
        Ok(Self {
            pipeline,
            source: info,
            counters,
            control,
        })
    }
}

impl LiveSession {
    /// The demo-mode file's playback controls, when the source is a file.
    pub fn playback(&self) -> Option<&crate::capture::FilePlayback> {
        match &self.control {
            crate::capture::SourceControl::File(playback) => Some(playback),
            crate::capture::SourceControl::Device(_) => None,
        }
    }

    /// Stops the threads, then the audio, and hands back the scorer.
    pub fn stop(self) -> Option<Box<dyn Scorer>> {
        let Self {
            pipeline, control, ..
        } = self;
        let scorer = pipeline.into_scorer();
        drop(control);
        scorer
    }
}
