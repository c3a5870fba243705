//! Audio sources for the live path: a microphone (cpal input stream) or an audio file
//! played in real time ("demo mode"). Either way, samples arrive mono through the same
//! [`CaptureReader`], with the instant each was captured (or heard).
//!
//! A [`LiveSource`] is `Send` (checked when this module compiles): it may be opened on one
//! thread and kept by another. Its reader goes on to the DSP thread; its control only keeps
//! the audio running.

pub mod device;
pub mod file;
mod ring;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub use device::{list_inputs, open_input, InputDeviceInfo};
pub use file::{open_file, FilePlayback, PlaybackStatus};
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
    /// Every candidate failed; this is the last one tried and why.
    #[error("cannot open input device {device}")]
    Open {
        device: String,
        #[source]
        source: cpal::Error,
    },
    /// The file could not be decoded, held no audio, or could not be resampled to the
    /// output device's rate.
    #[error("cannot play {}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: crate::audio::AudioError,
    },
    /// The file decoded, but the default output device would not play it.
    #[error("cannot play {} on the default output device", path.display())]
    Output {
        path: PathBuf,
        #[source]
        source: cpal::Error,
    },
    /// The thread that feeds a file in real time when nothing plays it would not start.
    #[error("cannot start the thread that paces {}", path.display())]
    Pacer {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
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
    /// Kept running by something else (tests' stand-in sources).
    Custom(Box<dyn std::any::Any + Send>),
}

impl SourceControl {
    /// The demo-mode file's playback controls, when the source is a file. Callers that
    /// use this instead of matching keep compiling when a kind of source is added.
    pub fn playback(&self) -> Option<&FilePlayback> {
        match self {
            SourceControl::File(playback) => Some(playback),
            SourceControl::Device(_) | SourceControl::Custom(_) => None,
        }
    }
}

/// A running source and the reader of its samples.
pub struct LiveSource {
    pub reader: CaptureReader,
    pub counters: Arc<CaptureCounters>,
    pub info: SourceInfo,
    pub control: SourceControl,
}

// A source is opened on one thread and may be handed to another (the engine's); cpal's
// streams on this platform, the file player's handle and the reader all allow it. This
// stops the build if one of them stops allowing it.
const _: fn() = || {
    fn is_send<T: Send>() {}
    is_send::<LiveSource>();
};

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

/// The error callback of every stream, as cpal gets it. It may run on the audio thread, so
/// it only touches atomics, under the same check as the data callbacks. Public only so that
/// `tests/realtime.rs` can run it under the allocation check.
#[doc(hidden)]
pub fn stream_error_callback(
    counters: Arc<CaptureCounters>,
) -> impl FnMut(cpal::Error) + Send + 'static {
    // `error` is dropped after the check, not inside it: cpal made it, and a message it
    // formatted is cpal's allocation, not ours.
    move |error: cpal::Error| {
        checked_audio_callback(&counters, || note_stream_error(&counters, &error))
    }
}

/// Counts a stream error: atomics only. Every kind lands somewhere; see
/// [`StreamNotice::of_kind`].
fn note_stream_error(counters: &CaptureCounters, error: &cpal::Error) {
    let kind = error.kind();
    let code = error_code(kind);
    // The code is stored before the count is bumped (Release), so a reader that sees the new
    // count (Acquire) also sees this code or a newer one.
    counters.last_error.store(code, Ordering::Relaxed);
    match StreamNotice::of_kind(kind) {
        StreamNotice::Xrun => {
            counters.xruns.fetch_add(1, Ordering::Release);
        }
        StreamNotice::DeviceLost => counters.device_lost.store(true, Ordering::Release),
        StreamNotice::DeviceChanged => {
            counters.device_changed.fetch_add(1, Ordering::Release);
        }
        StreamNotice::RealtimeDenied => counters.realtime_denied.store(true, Ordering::Release),
        StreamNotice::BackendError(_) => {
            counters.last_backend_error.store(code, Ordering::Relaxed);
            counters.backend_errors.fetch_add(1, Ordering::Release);
        }
    }
}

/// Every kind cpal 0.18 defines; a kind's code is its index here plus one, so that 0 can mean
/// "none yet". The order is part of nothing outside this process.
const ERROR_KINDS: [cpal::ErrorKind; 14] = [
    cpal::ErrorKind::DeviceBusy,
    cpal::ErrorKind::DeviceChanged,
    cpal::ErrorKind::DeviceNotAvailable,
    cpal::ErrorKind::HostUnavailable,
    cpal::ErrorKind::InvalidInput,
    cpal::ErrorKind::PermissionDenied,
    cpal::ErrorKind::RealtimeDenied,
    cpal::ErrorKind::ResourceExhausted,
    cpal::ErrorKind::StreamInvalidated,
    cpal::ErrorKind::UnsupportedConfig,
    cpal::ErrorKind::UnsupportedOperation,
    cpal::ErrorKind::Xrun,
    cpal::ErrorKind::BackendError,
    cpal::ErrorKind::Other,
];

/// The code of a kind a later cpal adds (`ErrorKind` is non-exhaustive); read back as `Other`.
const UNKNOWN_ERROR_CODE: u8 = u8::MAX;

fn error_code(kind: cpal::ErrorKind) -> u8 {
    match ERROR_KINDS.iter().position(|&known| known == kind) {
        Some(index) => index as u8 + 1,
        None => UNKNOWN_ERROR_CODE,
    }
}

fn error_kind(code: u8) -> Option<cpal::ErrorKind> {
    match code {
        0 => None,
        UNKNOWN_ERROR_CODE => Some(cpal::ErrorKind::Other),
        code => ERROR_KINDS.get(usize::from(code) - 1).copied(),
    }
}

/// Something a running stream's host reported, as the user should hear of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamNotice {
    /// A buffer under- or overrun: some audio was lost (counted in `xruns`).
    Xrun,
    /// The device, its stream or the whole sound server went away: the source has stopped
    /// and must be opened again (`device_lost`).
    DeviceLost,
    /// The default device changed and the stream followed it (`device_changed`).
    DeviceChanged,
    /// The audio thread was refused real-time scheduling (`realtime_denied`).
    RealtimeDenied,
    /// Any other error, with its kind (`backend_errors`).
    BackendError(cpal::ErrorKind),
}

impl StreamNotice {
    /// Which notice, and so which counter, an error of `kind` is.
    pub fn of_kind(kind: cpal::ErrorKind) -> Self {
        use cpal::ErrorKind;
        match kind {
            ErrorKind::Xrun => Self::Xrun,
            ErrorKind::DeviceNotAvailable
            | ErrorKind::StreamInvalidated
            | ErrorKind::HostUnavailable => Self::DeviceLost,
            ErrorKind::DeviceChanged => Self::DeviceChanged,
            ErrorKind::RealtimeDenied => Self::RealtimeDenied,
            other => Self::BackendError(other),
        }
    }
}

impl std::fmt::Display for StreamNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Xrun => f.write_str(
                "the audio host reported a buffer under- or overrun: some audio was lost",
            ),
            Self::DeviceLost => {
                f.write_str("the audio device went away or its stream stopped working")
            }
            // Said of "the audio device", not "the input device": demo mode's output stream
            // follows the default output the same way.
            Self::DeviceChanged => {
                f.write_str("the audio device changed (the stream follows the new default)")
            }
            Self::RealtimeDenied => {
                f.write_str("real-time scheduling was refused: audio may glitch under load")
            }
            Self::BackendError(kind) => write!(
                f,
                "the audio backend reported an error: {}",
                kind_text(*kind)
            ),
        }
    }
}

/// A kind in a few words, to follow a colon (cpal's own text is whole capitalised sentences).
fn kind_text(kind: cpal::ErrorKind) -> &'static str {
    use cpal::ErrorKind;
    match kind {
        ErrorKind::DeviceBusy => "the device is busy (another program may be using it)",
        ErrorKind::DeviceChanged => "the device changed",
        ErrorKind::DeviceNotAvailable => "the device is not available",
        ErrorKind::HostUnavailable => "the sound server is not available",
        ErrorKind::InvalidInput => "invalid input",
        ErrorKind::PermissionDenied => "permission denied",
        ErrorKind::RealtimeDenied => "real-time scheduling was refused",
        ErrorKind::ResourceExhausted => "a system resource limit was reached",
        ErrorKind::StreamInvalidated => "the stream is no longer valid",
        ErrorKind::UnsupportedConfig => "the stream configuration is not supported",
        ErrorKind::UnsupportedOperation => "the operation is not supported",
        ErrorKind::Xrun => "a buffer under- or overrun",
        ErrorKind::BackendError => "an unclassified error from the platform's audio API",
        ErrorKind::Other => "an error of no particular kind",
        _ => "an error of a kind this build does not know",
    }
}

/// A snapshot of [`CaptureCounters`]' stream events, for polling: keep the last one and ask
/// [`StreamNotices::news_since`] what changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamNotices {
    pub xruns: u64,
    pub device_lost: bool,
    pub device_changed: u64,
    pub realtime_denied: bool,
    pub backend_errors: u64,
    /// The kind of the most recent error of any kind.
    pub last_error: Option<cpal::ErrorKind>,
    /// The kind of the most recent error counted in `backend_errors`.
    pub last_backend_error: Option<cpal::ErrorKind>,
    /// Allocator calls inside audio callbacks (debug builds only; a bug when not 0).
    pub callback_allocations: u64,
}

impl CaptureCounters {
    /// The stream events so far. Allocation free, so any thread may poll it.
    pub fn stream_notices(&self) -> StreamNotices {
        // Counts first (Acquire), codes after: a code is never older than the count it
        // explains (see `note_stream_error`).
        let xruns = self.xruns.load(Ordering::Acquire);
        let device_lost = self.device_lost.load(Ordering::Acquire);
        let device_changed = self.device_changed.load(Ordering::Acquire);
        let realtime_denied = self.realtime_denied.load(Ordering::Acquire);
        let backend_errors = self.backend_errors.load(Ordering::Acquire);
        StreamNotices {
            xruns,
            device_lost,
            device_changed,
            realtime_denied,
            backend_errors,
            last_error: error_kind(self.last_error.load(Ordering::Relaxed)),
            last_backend_error: error_kind(self.last_backend_error.load(Ordering::Relaxed)),
            callback_allocations: self.callback_allocations.load(Ordering::Relaxed),
        }
    }
}

impl StreamNotices {
    /// What to tell the user about the events since `earlier`, each once, the most serious
    /// first. Xruns are left out: they come in bursts and are a rate for a status line, not
    /// a message each. Several backend errors since `earlier` give one notice, of the
    /// latest kind.
    pub fn news_since(&self, earlier: &StreamNotices) -> Vec<StreamNotice> {
        let mut news = Vec::new();
        if self.device_lost && !earlier.device_lost {
            news.push(StreamNotice::DeviceLost);
        }
        if self.backend_errors > earlier.backend_errors {
            news.push(StreamNotice::BackendError(
                self.last_backend_error.unwrap_or(cpal::ErrorKind::Other),
            ));
        }
        if self.device_changed > earlier.device_changed {
            news.push(StreamNotice::DeviceChanged);
        }
        if self.realtime_denied && !earlier.realtime_denied {
            news.push(StreamNotice::RealtimeDenied);
        }
        news
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::AudioError;
    use cpal::ErrorKind;
    use std::error::Error as _;

    /// The binary prints an error's chain once each (`report` in main.rs): a message that
    /// quoted its source would print it twice wherever the chain is not deduplicated.
    fn assert_cause_said_once(error: &CaptureError) {
        let top = error.to_string();
        let cause = error.source().expect("a source").to_string();
        assert!(!top.contains(&cause), "{top:?} repeats {cause:?}");
    }

    #[test]
    fn a_file_that_cannot_be_played_keeps_the_decoder_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.wav");
        let empty = dir.path().join("empty.wav");
        std::fs::write(&empty, b"").unwrap();
        for (path, audible) in [(&missing, false), (&empty, true)] {
            let Err(error) = open_file(path, audible) else {
                panic!("{} opened", path.display());
            };
            match &error {
                CaptureError::File {
                    path: reported,
                    source: AudioError::Open { .. } | AudioError::Empty { .. },
                } => assert_eq!(reported, path),
                other => panic!("{}: {other:?}", path.display()),
            }
            assert_cause_said_once(&error);
            assert!(error.to_string().contains(&*path.to_string_lossy()));
        }
    }

    #[test]
    fn device_errors_keep_cpals_error() {
        let open = CaptureError::Open {
            device: "alsa:hw:1".to_string(),
            source: cpal::Error::with_message(
                ErrorKind::DeviceNotAvailable,
                "the device is no longer listed by its host",
            ),
        };
        assert_eq!(open.to_string(), "cannot open input device alsa:hw:1");
        assert_cause_said_once(&open);
        let output = CaptureError::Output {
            path: PathBuf::from("song.ogg"),
            source: device::unsupported_format(cpal::SampleFormat::I24),
        };
        assert_cause_said_once(&output);
        let source = output
            .source()
            .and_then(|source| source.downcast_ref::<cpal::Error>())
            .expect("cpal's error as the source");
        assert_eq!(source.kind(), ErrorKind::UnsupportedConfig);
        assert!(source.to_string().contains("i24"), "{source}");
    }

    /// Every kind cpal 0.18.2 defines and where it must land, written out independently of
    /// `ERROR_KINDS`: a kind missing there would come back as `Other` and fail below.
    const EXPECTED: [(ErrorKind, StreamNotice); 14] = [
        (
            ErrorKind::DeviceBusy,
            StreamNotice::BackendError(ErrorKind::DeviceBusy),
        ),
        (ErrorKind::DeviceChanged, StreamNotice::DeviceChanged),
        (ErrorKind::DeviceNotAvailable, StreamNotice::DeviceLost),
        (ErrorKind::HostUnavailable, StreamNotice::DeviceLost),
        (
            ErrorKind::InvalidInput,
            StreamNotice::BackendError(ErrorKind::InvalidInput),
        ),
        (
            ErrorKind::PermissionDenied,
            StreamNotice::BackendError(ErrorKind::PermissionDenied),
        ),
        (ErrorKind::RealtimeDenied, StreamNotice::RealtimeDenied),
        (
            ErrorKind::ResourceExhausted,
            StreamNotice::BackendError(ErrorKind::ResourceExhausted),
        ),
        (ErrorKind::StreamInvalidated, StreamNotice::DeviceLost),
        (
            ErrorKind::UnsupportedConfig,
            StreamNotice::BackendError(ErrorKind::UnsupportedConfig),
        ),
        (
            ErrorKind::UnsupportedOperation,
            StreamNotice::BackendError(ErrorKind::UnsupportedOperation),
        ),
        (ErrorKind::Xrun, StreamNotice::Xrun),
        (
            ErrorKind::BackendError,
            StreamNotice::BackendError(ErrorKind::BackendError),
        ),
        (
            ErrorKind::Other,
            StreamNotice::BackendError(ErrorKind::Other),
        ),
    ];

    #[test]
    fn every_error_kind_lands_in_its_counter() {
        for (kind, notice) in EXPECTED {
            assert_eq!(StreamNotice::of_kind(kind), notice, "{kind:?}");
            let counters = CaptureCounters::default();
            let quiet = counters.stream_notices();
            assert_eq!(quiet, StreamNotices::default());
            // Once without a message and once with, as backends send both.
            note_stream_error(&counters, &cpal::Error::new(kind));
            note_stream_error(
                &counters,
                &cpal::Error::with_message(kind, "from the backend"),
            );
            let seen = counters.stream_notices();
            assert_eq!(seen.last_error, Some(kind), "{kind:?}");
            let expected = match notice {
                StreamNotice::Xrun => StreamNotices { xruns: 2, ..quiet },
                StreamNotice::DeviceLost => StreamNotices {
                    device_lost: true,
                    ..quiet
                },
                StreamNotice::DeviceChanged => StreamNotices {
                    device_changed: 2,
                    ..quiet
                },
                StreamNotice::RealtimeDenied => StreamNotices {
                    realtime_denied: true,
                    ..quiet
                },
                StreamNotice::BackendError(_) => StreamNotices {
                    backend_errors: 2,
                    last_backend_error: Some(kind),
                    ..quiet
                },
            };
            assert_eq!(
                seen,
                StreamNotices {
                    last_error: Some(kind),
                    ..expected
                },
                "{kind:?}"
            );
        }
    }

    #[test]
    fn error_codes_round_trip_and_zero_means_none() {
        assert_eq!(error_kind(0), None);
        let mut codes: Vec<u8> = EXPECTED.iter().map(|&(kind, _)| error_code(kind)).collect();
        for (&(kind, _), &code) in EXPECTED.iter().zip(&codes) {
            assert_ne!(code, 0, "{kind:?}");
            assert_ne!(code, UNKNOWN_ERROR_CODE, "{kind:?} has no code of its own");
            assert_eq!(error_kind(code), Some(kind));
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), EXPECTED.len(), "codes are distinct");
        assert_eq!(error_kind(UNKNOWN_ERROR_CODE), Some(ErrorKind::Other));
    }

    #[test]
    fn notices_read_as_user_messages() {
        assert_eq!(
            StreamNotice::DeviceChanged.to_string(),
            "the audio device changed (the stream follows the new default)"
        );
        assert_eq!(
            StreamNotice::RealtimeDenied.to_string(),
            "real-time scheduling was refused: audio may glitch under load"
        );
        assert_eq!(
            StreamNotice::BackendError(ErrorKind::DeviceBusy).to_string(),
            "the audio backend reported an error: the device is busy (another program may be using it)"
        );
        // Every notice has its own words, and no kind falls through to the unknown text.
        let mut texts: Vec<String> = EXPECTED
            .iter()
            .map(|&(kind, _)| StreamNotice::BackendError(kind).to_string())
            .collect();
        assert!(texts
            .iter()
            .all(|t| !t.ends_with("an error of a kind this build does not know")));
        texts.sort();
        texts.dedup();
        assert_eq!(texts.len(), EXPECTED.len());
    }

    #[test]
    fn news_since_tells_each_change_once() {
        let counters = CaptureCounters::default();
        let start = counters.stream_notices();
        note_stream_error(&counters, &cpal::Error::new(ErrorKind::Xrun));
        let after_xrun = counters.stream_notices();
        assert_eq!(after_xrun.news_since(&start), []);

        note_stream_error(&counters, &cpal::Error::new(ErrorKind::RealtimeDenied));
        note_stream_error(&counters, &cpal::Error::new(ErrorKind::DeviceBusy));
        note_stream_error(&counters, &cpal::Error::new(ErrorKind::PermissionDenied));
        // The latest error of all is an xrun; the backend notice still names its own kind.
        note_stream_error(&counters, &cpal::Error::new(ErrorKind::Xrun));
        note_stream_error(&counters, &cpal::Error::new(ErrorKind::DeviceChanged));
        let now = counters.stream_notices();
        assert_eq!(now.last_error, Some(ErrorKind::DeviceChanged));
        assert_eq!(
            now.news_since(&after_xrun),
            [
                StreamNotice::BackendError(ErrorKind::PermissionDenied),
                StreamNotice::DeviceChanged,
                StreamNotice::RealtimeDenied,
            ]
        );
        assert_eq!(now.news_since(&now), []);

        note_stream_error(&counters, &cpal::Error::new(ErrorKind::StreamInvalidated));
        note_stream_error(&counters, &cpal::Error::new(ErrorKind::RealtimeDenied));
        let lost = counters.stream_notices();
        assert_eq!(lost.news_since(&now), [StreamNotice::DeviceLost]);
    }
}
