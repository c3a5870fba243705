//! The DSP thread: capture ring → display spectrogram, and, for each track, → resampler →
//! front-end → model windows.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::{
    DisplayInfo, LiveMessage, ModelInputRows, PipelineConfig, PipelineError, PipelineStats, Role,
    SpectrumColumn, TrackStats, WindowJob,
};
use crate::audio::StreamResampler;
use crate::bundle::{AudioInput, InputKind};
use crate::capture::CaptureReader;
use crate::dsp::filterbank::{MelNorm, MelScale};
use crate::dsp::silence::SilenceCheck;
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
        let frontend = Frontend::new(&spec, sample_rate_hz).map_err(PipelineError::Display)?;
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
    /// Frames the reader had delivered before this pipeline started: a source kept across
    /// a restart counts its frames from its own start, the pipeline from its own.
    first_frame: u64,
}

impl Timing {
    fn new(input: &AudioInput, source_rate_hz: u32, first_frame: u64) -> Self {
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
            first_frame,
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

/// Where one track's windows go: to its inference thread, and (track 0) their new rows to
/// the UI.
struct WindowSink {
    track: usize,
    jobs: Sender<WindowJob>,
    /// The inference side's receiver, used to take back a stale queued window.
    stale: Receiver<WindowJob>,
    stateful: bool,
    /// A window was dropped since the last one queued (stateful models only).
    gap: bool,
    events: Sender<LiveMessage>,
    stats: Arc<PipelineStats>,
    timing: Timing,
    seconds_per_row: f64,
    width: usize,
    shows_rows: bool,
    rows_shown: u64,
    silence: SilenceCheck,
}

impl WindowSink {
    fn counters(&self) -> &TrackStats {
        &self.stats.tracks[self.track]
    }

    fn take(&mut self, window: Window<'_>, reader: &mut CaptureReader) {
        self.counters().windows_made.fetch_add(1, Ordering::Relaxed);
        let last_frame = self.timing.last_source_frame(window.end_row);
        let end_secs = (last_frame + 1) as f64 / self.timing.source_rate_hz;
        let Some(captured_at) = reader.captured_at(self.timing.first_frame + last_frame) else {
            // No timing mark has arrived yet (only possible in the stream's first
            // callback): the window cannot be dated, so it is dropped, and counted.
            self.drop_window();
            return;
        };
        if self.shows_rows {
            let first = self.rows_shown.max(window.start_row);
            if first < window.end_row {
                let offset = (first - window.start_row) as usize * self.width;
                send_event(
                    &self.events,
                    &self.stats,
                    LiveMessage::ModelInput(ModelInputRows {
                        end_secs,
                        width: self.width,
                        values: window.data[offset..].to_vec(),
                    }),
                );
                self.rows_shown = window.end_row;
            }
        }
        let job = WindowJob {
            silent: self.silence.is_silent(window.data),
            after_gap: self.gap,
            window: window.data.to_vec(),
            rows: window.rows(),
            end_secs,
            window_secs: window.rows() as f64 * self.seconds_per_row,
            captured_at,
        };
        match self.jobs.try_send(job) {
            Ok(()) => self.gap = false,
            Err(TrySendError::Disconnected(_)) => {}
            // A stateful model's queue is full: this window is lost, and the model must
            // start afresh after it.
            Err(TrySendError::Full(_)) if self.stateful => self.drop_window(),
            Err(TrySendError::Full(job)) => {
                // The queued window is older than this one: drop it, not the fresh one.
                if self.stale.try_recv().is_ok() {
                    self.drop_window();
                }
                if self.jobs.try_send(job).is_err() {
                    self.drop_window();
                }
            }
        }
    }

    fn drop_window(&mut self) {
        self.counters()
            .windows_dropped
            .fetch_add(1, Ordering::Relaxed);
        self.gap = self.stateful;
    }
}

/// What the DSP thread needs to feed one track.
pub(super) struct TrackFeed {
    pub role: Role,
    pub input: AudioInput,
    pub stateful: bool,
    pub jobs: Sender<WindowJob>,
    pub stale: Receiver<WindowJob>,
}

/// One track's path from source-rate audio to model windows.
struct ModelTrack {
    stream: WindowStream,
    sink: WindowSink,
}

/// One resampler per model rate, shared by the tracks at that rate (musicnn and silero
/// both take 16 kHz), so the same audio is not converted twice.
struct RateGroup {
    rate_hz: u32,
    resampler: StreamResampler,
    tracks: Vec<ModelTrack>,
}

pub(super) fn send_event(events: &Sender<LiveMessage>, stats: &PipelineStats, event: LiveMessage) {
    if let Err(TrySendError::Full(_)) = events.try_send(event) {
        stats.messages_dropped.fetch_add(1, Ordering::Relaxed);
    }
}

pub(super) struct DspThread {
    reader: CaptureReader,
    display: DisplayTap,
    /// Model tracks, grouped by the rate they are resampled to.
    groups: Vec<RateGroup>,
    events: Sender<LiveMessage>,
    stats: Arc<PipelineStats>,
    info: DisplayInfo,
}

impl DspThread {
    pub(super) fn new(
        reader: CaptureReader,
        feeds: Vec<TrackFeed>,
        config: PipelineConfig,
        events: Sender<LiveMessage>,
        stats: Arc<PipelineStats>,
    ) -> Result<Self, PipelineError> {
        let source_rate_hz = reader.sample_rate_hz();
        let first_frame = reader.frames_read();
        let display = DisplayTap::new(source_rate_hz, config.display_bands)?;
        // The tagger's input is what the model-input view shows.
        let main = feeds
            .iter()
            .find(|f| f.role == Role::Tagger)
            .or(feeds.first());
        let Some(main_input) = main.map(|feed| &feed.input) else {
            return Err(PipelineError::NoTrack);
        };
        let main_shows_rows = matches!(main_input.kind, InputKind::Features { .. });
        let info = DisplayInfo {
            sample_rate_hz: source_rate_hz,
            columns_per_sec: source_rate_hz as f64 / display.hop_samples as f64,
            bands: config.display_bands,
            fmax_hz: source_rate_hz as f64 / 2.0,
            model_rows_per_sec: 1.0 / main_input.seconds_per_row(),
            model_row_width: if main_shows_rows {
                main_input.row_width()
            } else {
                0
            },
        };
        let mut groups: Vec<RateGroup> = Vec::new();
        for (track, feed) in feeds.into_iter().enumerate() {
            let input = &feed.input;
            let rate_hz = input.sample_rate_hz;
            let index = match groups.iter().position(|g| g.rate_hz == rate_hz) {
                Some(index) => index,
                None => {
                    let resampler = StreamResampler::new(source_rate_hz, input.sample_rate_hz)
                        .map_err(|e| PipelineError::Resample {
                            from_hz: source_rate_hz,
                            to_hz: input.sample_rate_hz,
                            source: e,
                        })?;
                    groups.push(RateGroup {
                        rate_hz,
                        resampler,
                        tracks: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            let group = &mut groups[index];
            // A stateful model sees every window at its own hop; the others at the
            // configured rate.
            let hop_rows = if feed.stateful {
                input.hop_rows
            } else {
                ((config.hop_secs / input.seconds_per_row()).round() as usize).max(1)
            };
            group.tracks.push(ModelTrack {
                stream: WindowStream::new(input, hop_rows, true, feed.stateful),
                sink: WindowSink {
                    silence: SilenceCheck::new(input),
                    track,
                    jobs: feed.jobs,
                    stale: feed.stale,
                    stateful: feed.stateful,
                    gap: false,
                    events: events.clone(),
                    stats: Arc::clone(&stats),
                    timing: Timing::new(input, source_rate_hz, first_frame),
                    seconds_per_row: input.seconds_per_row(),
                    width: input.row_width(),
                    shows_rows: feed.role == Role::Tagger && main_shows_rows,
                    rows_shown: 0,
                },
            });
        }
        Ok(Self {
            reader,
            display,
            groups,
            events,
            stats,
            info,
        })
    }

    pub(super) fn display_info(&self) -> DisplayInfo {
        self.info.clone()
    }

    /// Runs until `stop`, then hands the reader back, so the source can serve the next
    /// pipeline.
    pub(super) fn run(mut self, stop: &AtomicBool) -> CaptureReader {
        let mut block = vec![0.0f32; READ_FRAMES];
        while !stop.load(Ordering::Relaxed) {
            let n = self.reader.read(&mut block);
            if n == 0 {
                std::thread::sleep(IDLE_SLEEP);
                continue;
            }
            let started = Instant::now();
            let samples = &block[..n];
            let (events, stats) = (&self.events, &self.stats);
            self.display.push(samples, |column| {
                send_event(events, stats, LiveMessage::Spectrum(column))
            });
            let reader = &mut self.reader;
            for RateGroup {
                resampler, tracks, ..
            } in &mut self.groups
            {
                resampler.push(samples, |model_samples| {
                    for ModelTrack { stream, sink } in tracks.iter_mut() {
                        stream.push(model_samples, |window| sink.take(window, reader));
                    }
                });
            }
            stats
                .frames_processed
                .fetch_add(n as u64, Ordering::Relaxed);
            stats
                .dsp_busy_ns
                .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
        self.reader
    }
}
