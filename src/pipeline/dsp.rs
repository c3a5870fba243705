//! The DSP thread: capture ring → display spectrogram, and → resampler → front-end →
//! model windows.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::{
    DisplayInfo, ModelInputRows, PipelineConfig, PipelineError, PipelineEvent, PipelineStats,
    SpectrumColumn, WindowJob,
};
use crate::audio::StreamResampler;
use crate::bundle::{AudioInput, InputKind};
use crate::capture::CaptureReader;
use crate::dsp::filterbank::{MelNorm, MelScale};
use crate::dsp::stft::{PadMode, WindowKind};
use crate::dsp::stream::WindowStream;
use crate::dsp::window::Window;
use crate::dsp::{Frontend, FrontendSpec, StepSpec};

/// Samples taken from the ring per step: small, so windows leave as soon as they are whole.
const READ_FRAMES: usize = 256;
/// How long to wait for audio when the ring is empty.
const IDLE_SLEEP: Duration = Duration::from_millis(2);
/// Display spectrogram: one column per 10 ms.
const DISPLAY_COLUMNS_PER_SEC: u32 = 100;

/// The display spectrogram: mel power in dB re full scale, over the source's whole band.
struct DisplayTap {
    frontend: Frontend,
    hop_samples: usize,
    n_fft: usize,
    sample_rate_hz: u32,
    columns: u64,
}

impl DisplayTap {
    fn new(sample_rate_hz: u32, bands: usize) -> Result<Self, PipelineError> {
        // ~40 ms frames keep the lowest mel bands wider than an FFT bin.
        let n_fft = ((sample_rate_hz as f64 * 0.04) as usize).next_power_of_two();
        let hop_samples = (sample_rate_hz / DISPLAY_COLUMNS_PER_SEC).max(1) as usize;
        let spec = FrontendSpec {
            n_fft,
            win_length: None,
            hop_samples,
            window: WindowKind::Hann,
            center: false,
            pad_mode: Some(PadMode::Constant),
            power: 2.0,
            drop_nyquist: false,
            steps: vec![
                StepSpec::Mel {
                    n_bands: bands,
                    fmin_hz: 0.0,
                    fmax_hz: sample_rate_hz as f64 / 2.0,
                    scale: MelScale::Slaney,
                    norm: MelNorm::None,
                },
                StepSpec::Db {
                    reference: 1.0,
                    amin: 1e-10,
                    top_db: None,
                },
                // dB relative to full scale: a full-scale sine's Hann-windowed peak bin has
                // magnitude n_fft / 4.
                StepSpec::Affine {
                    scale: 1.0,
                    offset: -20.0 * (n_fft as f32 / 4.0).log10(),
                },
            ],
        };
        let frontend = Frontend::new(&spec, sample_rate_hz)
            .map_err(|e| PipelineError::Display(e.to_string()))?;
        Ok(Self {
            frontend,
            hop_samples,
            n_fft,
            sample_rate_hz,
            columns: 0,
        })
    }

    fn push(&mut self, samples: &[f32], mut on_column: impl FnMut(SpectrumColumn)) {
        let Self {
            frontend,
            hop_samples,
            n_fft,
            sample_rate_hz,
            columns,
        } = self;
        frontend.push(samples, |frame| {
            let end_sample = *columns * *hop_samples as u64 + *n_fft as u64;
            *columns += 1;
            on_column(SpectrumColumn {
                end_secs: end_sample as f64 / *sample_rate_hz as f64,
                db: frame.to_vec(),
            });
        });
    }
}

/// Maps model rows to source time.
struct Timing {
    source_rate_hz: f64,
    model_rate_hz: f64,
    /// Samples after a frame's first sample that it still covers (0 for waveform rows).
    frame_reach_samples: u64,
    hop_samples: u64,
    /// Rows of silence put in front of the audio (waveform models with a context lead-in).
    lead_in_rows: u64,
}

impl Timing {
    fn new(input: &AudioInput, source_rate_hz: u32) -> Self {
        let (frame_reach_samples, hop_samples, lead_in_rows) = match &input.kind {
            InputKind::Features { frontend, .. } => {
                let reach = if frontend.center {
                    frontend.n_fft / 2
                } else {
                    frontend.n_fft
                };
                (reach as u64, frontend.hop_samples as u64, 0)
            }
            InputKind::Waveform { lead_in_samples } => (1, 1, *lead_in_samples as u64),
        };
        Self {
            source_rate_hz: source_rate_hz as f64,
            model_rate_hz: input.sample_rate_hz as f64,
            frame_reach_samples,
            hop_samples,
            lead_in_rows,
        }
    }

    /// Source frame index of the last sample behind rows `..end_row`.
    fn last_source_frame(&self, end_row: u64) -> u64 {
        let last_row = end_row.saturating_sub(1 + self.lead_in_rows);
        let model_samples = last_row * self.hop_samples + self.frame_reach_samples;
        let source = model_samples as f64 * self.source_rate_hz / self.model_rate_hz;
        (source.round() as u64).saturating_sub(1)
    }
}

/// Where windows go: to the inference thread, and their new rows to the UI.
struct WindowSink {
    jobs: Sender<WindowJob>,
    /// The inference side's receiver, used to take back a stale queued window.
    stale: Receiver<WindowJob>,
    events: Sender<PipelineEvent>,
    stats: Arc<PipelineStats>,
    timing: Timing,
    seconds_per_row: f64,
    width: usize,
    shows_rows: bool,
    rows_shown: u64,
}

impl WindowSink {
    fn take(&mut self, window: Window<'_>, reader: &mut CaptureReader) {
        self.stats.windows_made.fetch_add(1, Ordering::Relaxed);
        let last_frame = self.timing.last_source_frame(window.end_row);
        let end_secs = (last_frame + 1) as f64 / self.timing.source_rate_hz;
        let Some(captured_at) = reader.captured_at(last_frame) else {
            // No timing mark has arrived yet (only possible in the stream's first
            // callback): the window cannot be dated, so it is dropped, and counted.
            self.stats.windows_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if self.shows_rows {
            let first = self.rows_shown.max(window.start_row);
            if first < window.end_row {
                let offset = (first - window.start_row) as usize * self.width;
                send_event(
                    &self.events,
                    &self.stats,
                    PipelineEvent::ModelInput(ModelInputRows {
                        end_secs,
                        width: self.width,
                        values: window.data[offset..].to_vec(),
                    }),
                );
                self.rows_shown = window.end_row;
            }
        }
        let job = WindowJob {
            window: window.data.to_vec(),
            rows: window.rows(),
            end_secs,
            window_secs: window.rows() as f64 * self.seconds_per_row,
            captured_at,
        };
        match self.jobs.try_send(job) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(job)) => {
                // The queued window is older than this one: drop it, not the fresh one.
                if self.stale.try_recv().is_ok() {
                    self.stats.windows_dropped.fetch_add(1, Ordering::Relaxed);
                }
                if self.jobs.try_send(job).is_err() {
                    self.stats.windows_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

pub(super) fn send_event(
    events: &Sender<PipelineEvent>,
    stats: &PipelineStats,
    event: PipelineEvent,
) {
    if let Err(TrySendError::Full(_)) = events.try_send(event) {
        stats.events_dropped.fetch_add(1, Ordering::Relaxed);
    }
}

pub(super) struct DspThread {
    reader: CaptureReader,
    display: DisplayTap,
    resampler: StreamResampler,
    stream: WindowStream,
    sink: WindowSink,
    info: DisplayInfo,
}

impl DspThread {
    pub(super) fn new(
        reader: CaptureReader,
        input: &AudioInput,
        config: PipelineConfig,
        jobs: Sender<WindowJob>,
        stale: Receiver<WindowJob>,
        events: Sender<PipelineEvent>,
        stats: Arc<PipelineStats>,
    ) -> Result<Self, PipelineError> {
        let source_rate_hz = reader.sample_rate_hz();
        let resampler =
            StreamResampler::new(source_rate_hz, input.sample_rate_hz).map_err(|e| {
                PipelineError::Resample {
                    from_hz: source_rate_hz,
                    to_hz: input.sample_rate_hz,
                    reason: e.to_string(),
                }
            })?;
        let display = DisplayTap::new(source_rate_hz, config.display_bands)?;
        let hop_rows = ((config.hop_secs / input.seconds_per_row()).round() as usize).max(1);
        let shows_rows = matches!(input.kind, InputKind::Features { .. });
        let width = input.row_width();
        let info = DisplayInfo {
            sample_rate_hz: source_rate_hz,
            columns_per_sec: source_rate_hz as f64 / display.hop_samples as f64,
            bands: config.display_bands,
            fmax_hz: source_rate_hz as f64 / 2.0,
            model_rows_per_sec: 1.0 / input.seconds_per_row(),
            model_row_width: if shows_rows { width } else { 0 },
        };
        Ok(Self {
            reader,
            display,
            resampler,
            stream: WindowStream::new(input, hop_rows, true),
            sink: WindowSink {
                jobs,
                stale,
                events,
                stats,
                timing: Timing::new(input, source_rate_hz),
                seconds_per_row: input.seconds_per_row(),
                width,
                shows_rows,
                rows_shown: 0,
            },
            info,
        })
    }

    pub(super) fn display_info(&self) -> DisplayInfo {
        self.info.clone()
    }

    pub(super) fn run(mut self, stop: &AtomicBool) {
        let mut block = vec![0.0f32; READ_FRAMES];
        while !stop.load(Ordering::Relaxed) {
            let n = self.reader.read(&mut block);
            if n == 0 {
                std::thread::sleep(IDLE_SLEEP);
                continue;
            }
            let samples = &block[..n];
            let sink = &mut self.sink;
            self.display.push(samples, |column| {
                send_event(&sink.events, &sink.stats, PipelineEvent::Spectrum(column))
            });
            let reader = &mut self.reader;
            let stream = &mut self.stream;
            self.resampler.push(samples, |model_samples| {
                stream.push(model_samples, |window| sink.take(window, reader));
            });
            sink.stats
                .frames_processed
                .fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}
