//! Audio sources for the live path: a microphone (cpal input stream) or an audio file
//! played in real time ("demo mode"). Either way, samples arrive mono through the same
//! [`CaptureReader`], with the instant each was captured (or heard).
//!
//! Sources hold platform streams, which stay on the thread that opened them; only the
//! reader travels to the DSP thread.

pub mod device;
pub mod file;
mod ring;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub use device::{list_inputs, open_input, InputDeviceInfo};
pub use file::{open_file, FilePlayback};
pub use ring::{capture_ring, CaptureCounters, CaptureReader, CaptureWriter};

/// Seconds of audio the ring holds before the audio thread has to drop samples.
pub const RING_SECONDS: f64 = 4.0;

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(
        "no input device found (is a sound server running? `livetag devices` lists what cpal sees)"
    )]
    NoInputDevice,
    #[error("no input device matches \"{query}\"; known devices: {}", if known.is_empty() { "none".to_string() } else { known.join(", ") })]
    DeviceNotFound { query: String, known: Vec<String> },
    #[error("cannot open input device {device}: {reason}")]
    Open { device: String, reason: String },
    #[error("cannot play {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Microphone,
    File,
}

/// What the status bar says about a source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    pub kind: SourceKind,
    /// Device id, or the file's path.
    pub label: String,
    pub sample_rate_hz: u32,
    pub channels: u16,
}

/// Keeps the source running; dropping it stops the audio.
pub enum SourceControl {
    Device(cpal::Stream),
    File(FilePlayback),
}

/// A running source and the reader of its samples.
pub struct LiveSource {
    pub reader: CaptureReader,
    pub counters: Arc<CaptureCounters>,
    pub info: SourceInfo,
    pub control: SourceControl,
}

/// Runs the body of an audio callback. In builds with debug assertions the body runs under
/// `assert_no_alloc` (in its warn mode, so a violation is counted, not fatal), and any
/// allocator calls it made are added to [`CaptureCounters::callback_allocations`]; release
/// builds run the body alone and pay nothing.
///
/// Every closure that cpal (or the file pacer) calls with audio goes through here. Public
/// only so that `tests/realtime.rs` can prove that a violation is counted.
#[doc(hidden)]
#[inline]
pub fn checked_audio_callback<R>(counters: &CaptureCounters, body: impl FnOnce() -> R) -> R {
    #[cfg(debug_assertions)]
    {
        // The violation count is a thread-local integer: reading it does not allocate.
        let before = assert_no_alloc::violation_count();
        let result = assert_no_alloc::assert_no_alloc(body);
        let violations = assert_no_alloc::violation_count().wrapping_sub(before);
        if violations > 0 {
            counters
                .callback_allocations
                .fetch_add(u64::from(violations), Ordering::Relaxed);
        }
        result
    }
    #[cfg(not(debug_assertions))]
    {
        let _ = counters;
        body()
    }
}

/// The error callback of every stream: counters only, since it may run on the audio thread.
fn note_stream_error(counters: &CaptureCounters, error: &cpal::Error) {
    match error.kind() {
        cpal::ErrorKind::Xrun => {
            counters.xruns.fetch_add(1, Ordering::Relaxed);
        }
        cpal::ErrorKind::DeviceNotAvailable
        | cpal::ErrorKind::StreamInvalidated
        | cpal::ErrorKind::HostUnavailable => counters.device_lost.store(true, Ordering::Relaxed),
        _ => {}
    }
}

/// Which source to open.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceRequest {
    /// A microphone: an id or part of a name, or `None` for the default input.
    Microphone(Option<String>),
    /// Demo mode. `audible`: also play it to the default output device.
    File { path: PathBuf, audible: bool },
}

impl SourceRequest {
    pub fn open(&self) -> Result<LiveSource, CaptureError> {
        match self {
            SourceRequest::Microphone(query) => open_input(query.as_deref()),
            SourceRequest::File { path, audible } => open_file(path, *audible),
        }
    }
}
