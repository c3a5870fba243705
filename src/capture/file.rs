//! Demo mode: an audio file played in real time, looping, to the default output device
//! when there is one, and fed into the live path in step with what is heard. Without an
//! output device a pacer thread feeds it at the same rate.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample, StreamConfig};

use crate::audio::AudioError;

use super::device::{default_output, stream_config, unsupported_format};
use super::ring::{capture_ring, CaptureWriter};
use super::{
    checked_audio_callback, CaptureError, LiveSource, SourceControl, SourceInfo, SourceKind,
    RING_SECONDS,
};

/// The pacer's step when there is no output device.
const PACER_STEP: Duration = Duration::from_millis(10);

#[derive(Debug, Default)]
struct PlayState {
    position_frames: AtomicU64,
    paused: AtomicBool,
    stop: AtomicBool,
}

/// Handle of a playing file: position, seeking and pausing. Dropping it stops playback.
pub struct FilePlayback {
    state: Arc<PlayState>,
    sample_rate_hz: u32,
    total_frames: u64,
    stream: Option<cpal::Stream>,
    pacer: Option<JoinHandle<()>>,
}

impl FilePlayback {
    pub fn duration_secs(&self) -> f64 {
        self.total_frames as f64 / self.sample_rate_hz as f64
    }

    pub fn position_secs(&self) -> f64 {
        self.state.position_frames.load(Ordering::Relaxed) as f64 / self.sample_rate_hz as f64
    }

    pub fn seek(&self, secs: f64) {
        let frame = (secs.max(0.0) * self.sample_rate_hz as f64) as u64;
        self.state.position_frames.store(
            frame.min(self.total_frames.saturating_sub(1)),
            Ordering::Relaxed,
        );
    }

    pub fn set_paused(&self, paused: bool) {
        self.state.paused.store(paused, Ordering::Relaxed);
    }

    pub fn is_paused(&self) -> bool {
        self.state.paused.load(Ordering::Relaxed)
    }

    /// True when the sound is played to an output device (else it is only analysed).
    pub fn is_audible(&self) -> bool {
        self.stream.is_some()
    }

    /// A read-only view of the playback that other threads can keep.
    pub fn status(&self) -> PlaybackStatus {
        PlaybackStatus {
            state: Arc::clone(&self.state),
            sample_rate_hz: self.sample_rate_hz,
            total_frames: self.total_frames,
            audible: self.is_audible(),
        }
    }
}

/// Where a playing file is, read from atomics: the window's seek bar reads it every frame
/// while the engine thread owns the playback.
#[derive(Debug, Clone)]
pub struct PlaybackStatus {
    state: Arc<PlayState>,
    sample_rate_hz: u32,
    total_frames: u64,
    audible: bool,
}

impl PlaybackStatus {
    pub fn duration_secs(&self) -> f64 {
        self.total_frames as f64 / self.sample_rate_hz as f64
    }

    pub fn position_secs(&self) -> f64 {
        self.state.position_frames.load(Ordering::Relaxed) as f64 / self.sample_rate_hz as f64
    }

    pub fn is_paused(&self) -> bool {
        self.state.paused.load(Ordering::Relaxed)
    }

    pub fn is_audible(&self) -> bool {
        self.audible
    }
}

impl Drop for FilePlayback {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
        self.stream.take();
        if let Some(pacer) = self.pacer.take() {
            let _ = pacer.join();
        }
    }
}

/// Reads the file in order, looping, and hands each block to the capture ring.
struct Player {
    samples: Arc<[f32]>,
    state: Arc<PlayState>,
    writer: CaptureWriter,
}

impl Player {
    /// Takes the next `frames` frames (fewer at the loop point), queues them for analysis,
    /// and returns them; `None` while paused.
    fn next_block(&mut self, frames: usize, ahead: Duration) -> Option<&[f32]> {
        if self.state.paused.load(Ordering::Relaxed) {
            return None;
        }
        let total = self.samples.len();
        let mut start = self.state.position_frames.load(Ordering::Relaxed) as usize;
        if start >= total {
            start = 0;
        }
        let end = (start + frames).min(total);
        self.state
            .position_frames
            .store(if end >= total { 0 } else { end } as u64, Ordering::Relaxed);
        let block = &self.samples[start..end];
        self.writer.write_mono(block, ahead);
        Some(block)
    }
}

/// Decodes `path` and starts playing it. With `audible` false, or with no output device,
/// the file is only analysed, paced by a thread.
pub fn open_file(path: &Path, audible: bool) -> Result<LiveSource, CaptureError> {
    let file_error = |source| CaptureError::File {
        path: path.to_path_buf(),
        source,
    };
    let decoded = crate::audio::decode_file(path).map_err(file_error)?;
    if decoded.samples.is_empty() {
        return Err(file_error(AudioError::Empty {
            path: path.to_path_buf(),
        }));
    }
    let output = if audible { default_output() } else { None };
    let (samples, sample_rate_hz) = match &output {
        Some((_, supported)) if supported.sample_rate() != decoded.sample_rate_hz => {
            let rate = supported.sample_rate();
            let resampled = crate::audio::resample(&decoded.samples, decoded.sample_rate_hz, rate)
                .map_err(file_error)?;
            (resampled, rate)
        }
        _ => (decoded.samples, decoded.sample_rate_hz),
    };
    let total_frames = samples.len() as u64;
    let samples: Arc<[f32]> = samples.into();
    let state = Arc::new(PlayState::default());
    let (writer, reader) = capture_ring(sample_rate_hz, RING_SECONDS);
    let counters = writer.counters().clone();
    let player = Player {
        samples,
        state: Arc::clone(&state),
        writer,
    };

    let (stream, pacer) = match output {
        Some((device, supported)) => {
            let config = stream_config(&supported);
            let output_error = |source| CaptureError::Output {
                path: path.to_path_buf(),
                source,
            };
            let stream = build_output(&device, config, supported.sample_format(), player)
                .map_err(output_error)?;
            stream.play().map_err(output_error)?;
            (Some(stream), None)
        }
        None => {
            let pacer = std::thread::Builder::new()
                .name("livetag-file-pacer".to_string())
                .spawn(move || pace(player, sample_rate_hz))
                .map_err(|source| CaptureError::Pacer {
                    path: path.to_path_buf(),
                    source,
                })?;
            (None, Some(pacer))
        }
    };
    Ok(LiveSource {
        reader,
        counters,
        info: SourceInfo {
            kind: SourceKind::File,
            label: path.display().to_string(),
            sample_rate_hz,
            channels: decoded.channels,
        },
        control: SourceControl::File(FilePlayback {
            state,
            sample_rate_hz,
            total_frames,
            stream,
            pacer,
        }),
    })
}

/// Feeds the file at real-time speed when nothing plays it.
fn pace(mut player: Player, sample_rate_hz: u32) {
    let counters = player.writer.counters().clone();
    let mut started = Instant::now();
    let mut fed_frames = 0u64;
    while !player.state.stop.load(Ordering::Relaxed) {
        std::thread::sleep(PACER_STEP);
        if player.state.paused.load(Ordering::Relaxed) {
            started = Instant::now();
            fed_frames = 0;
            continue;
        }
        let due = (started.elapsed().as_secs_f64() * sample_rate_hz as f64) as u64;
        // Each tick's writes are this source's audio callback: they get the same check.
        checked_audio_callback(&counters, || {
            while fed_frames < due {
                let want = (due - fed_frames) as usize;
                match player.next_block(want, Duration::ZERO) {
                    Some(block) => fed_frames += block.len() as u64,
                    None => break,
                }
            }
        });
    }
}

fn build_output(
    device: &cpal::Device,
    config: StreamConfig,
    format: SampleFormat,
    player: Player,
) -> Result<cpal::Stream, cpal::Error> {
    match format {
        SampleFormat::F32 => build_typed_output::<f32>(device, config, player),
        SampleFormat::I16 => build_typed_output::<i16>(device, config, player),
        SampleFormat::I32 => build_typed_output::<i32>(device, config, player),
        SampleFormat::U16 => build_typed_output::<u16>(device, config, player),
        SampleFormat::U8 => build_typed_output::<u8>(device, config, player),
        SampleFormat::F64 => build_typed_output::<f64>(device, config, player),
        other => Err(unsupported_format(other)),
    }
}

fn build_typed_output<T>(
    device: &cpal::Device,
    config: StreamConfig,
    player: Player,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32> + Send + 'static,
{
    let counters = player.writer.counters().clone();
    device.build_output_stream::<T, _, _>(
        config,
        playback_callback::<T>(player, config.channels as usize),
        super::stream_error_callback(counters),
        None,
    )
}

/// The data callback of demo mode's output stream, as cpal gets it, playing `samples`
/// from the start, looping, into `channels` interleaved channels. Public only so that
/// `tests/realtime.rs` can run this very closure under the allocation check.
#[doc(hidden)]
pub fn output_callback<T>(
    samples: Arc<[f32]>,
    writer: CaptureWriter,
    channels: usize,
) -> impl FnMut(&mut [T], &cpal::OutputCallbackInfo) + Send + 'static
where
    T: SizedSample + FromSample<f32> + Send + 'static,
{
    let player = Player {
        samples,
        state: Arc::new(PlayState::default()),
        writer,
    };
    playback_callback(player, channels)
}

fn playback_callback<T>(
    mut player: Player,
    channels: usize,
) -> impl FnMut(&mut [T], &cpal::OutputCallbackInfo) + Send + 'static
where
    T: SizedSample + FromSample<f32> + Send + 'static,
{
    let channels = channels.max(1);
    let counters = player.writer.counters().clone();
    move |data: &mut [T], info: &cpal::OutputCallbackInfo| {
        checked_audio_callback(&counters, || {
            let stamp = info.timestamp();
            let ahead = stamp.playback.duration_since(stamp.callback);
            let mut frames = data.chunks_exact_mut(channels);
            let mut wanted = frames.len();
            while wanted > 0 {
                let Some(block) = player.next_block(wanted, ahead) else {
                    break;
                };
                wanted -= block.len();
                for (&value, frame) in block.iter().zip(&mut frames) {
                    frame.fill(T::from_sample(value));
                }
            }
            for frame in frames {
                frame.fill(T::EQUILIBRIUM);
            }
        })
    }
}
