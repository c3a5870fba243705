//! The live engine: one session of sources, models and tracks, run for the window and for
//! `livetag listen --headless` alike.
//!
//! Front ends talk to it only through messages. They send [`Command`]s; the engine thread
//! applies them and answers with [`Update`]s (what changed: models, sessions, problems) and
//! a stream of [`LiveUpdate`]s (spectrum columns, model input, scores by role, sound-event
//! decisions). Everything that can block, opening a device, decoding a demo file, reading
//! bundles, runs on the engine's own threads, so a front end never waits.
//!
//! The session's life is the explicit state machine in [`state`]: Idle, Loading, Opening,
//! Running, Recovering. A lost source is retried with a growing delay, and the models wait
//! meanwhile, ready for the source's return.

mod controller;
pub mod models;
mod sound_events;
pub mod state;

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use crate::bundle::Bundle;
use crate::capture::{
    CaptureCounters, CaptureError, InputDeviceInfo, LiveSource, PlaybackStatus, SourceInfo,
    SourceRequest,
};
use crate::inference::profile::ModelCard;
use crate::pipeline::{DisplayInfo, LiveMessage, PipelineStats};
use crate::sed::{Decision, Event};

pub use crate::pipeline::Role;
pub use models::{InstalledModel, LoadedModel, ModelError, ModelOptions};
pub use sound_events::LiveEventFinder;
pub use state::{Backoff, SessionState};

/// Live updates a front end may fall this far behind before some are dropped (counted in
/// [`EngineHandle::live_dropped`]).
const LIVE_QUEUE: usize = 4096;

/// What a front end asks of the engine. Each is applied in order, between frames.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Load `model` (a bundle folder or an installed name) for `role`. A running session
    /// switches to it once it is loaded; until then the old model keeps running.
    LoadModel { role: Role, model: String },
    /// Run the speech track beside the tagger, or not; its model loads the first time.
    SetSpeechTrack(bool),
    /// Listen to this source. A session that runs keeps running until the new source opens;
    /// one that does not open is reported and changes nothing.
    SetSource(SourceRequest),
    /// The tagger's live window and hop for `model` (`None`: the bundle's own); restarts on
    /// the same source when that model runs.
    SetLiveWindow {
        model: String,
        live: Option<LiveWindow>,
    },
    /// Pause or resume a demo file.
    SetPaused(bool),
    /// Move a demo file to this many seconds.
    Seek(f64),
    /// Answered by [`Update::Devices`].
    ListDevices,
    /// Answered by [`Update::InstalledModels`].
    ListInstalledModels,
    /// Stops the session and the engine thread.
    Shutdown,
}

/// Window length and hop of a model's live predictions.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LiveWindow {
    pub window_secs: f64,
    pub hop_secs: f64,
}

/// What changed in the engine. Rare: the live data comes as [`LiveUpdate`]s.
#[derive(Debug, Clone)]
pub enum Update {
    /// The session state machine moved.
    State(SessionState),
    ModelLoading {
        role: Role,
        model: String,
    },
    ModelReady {
        role: Role,
        bundle: Arc<Bundle>,
    },
    /// `error` is the whole cause chain, each cause once.
    ModelFailed {
        role: Role,
        model: String,
        error: String,
    },
    /// The models and the source were ready but the session did not start (for example a
    /// source rate no resampler takes); it is retried like a lost source.
    SessionFailed {
        error: String,
    },
    /// A session started (first, after a switch, or on recovery).
    SessionStarted(Arc<SessionInfo>),
    /// A source asked for did not open; what ran before keeps running, if anything did.
    /// The error names the source.
    SourceFailed {
        error: String,
    },
    /// The running source went away (device unplugged, sound server gone, no audio).
    SourceLost {
        source: String,
        problem: String,
    },
    /// A reconnection attempt failed; the next comes in `retry_in`.
    RetryFailed {
        attempt: u32,
        retry_in: Duration,
        error: String,
    },
    /// The source is back, `outage` after it was lost: about that much audio was not heard.
    Recovered {
        source: String,
        outage: Duration,
    },
    /// A track's inference thread panicked. Its model is being reloaded for the same role.
    TrackLost {
        role: Role,
        message: String,
    },
    /// Something the audio stream reported: an xrun burst, a device change, a refused
    /// real-time priority, a backend error.
    StreamNotice(String),
    /// An error to show that changes nothing else (for example a window that failed).
    Problem(String),
    Devices(Vec<InputDeviceInfo>),
    InstalledModels(Vec<InstalledModel>),
}

/// The live data of the running session.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveUpdate {
    Pipeline(LiveMessage),
    /// Sound events on the tagger's framewise output, after one of its windows: the
    /// decisions it completed (accepted, rejected, merged) and the events still open.
    SoundEvents {
        decisions: Vec<Decision>,
        open: Vec<Event>,
    },
}

/// What a started session runs, for the front ends to show.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub request: SourceRequest,
    pub source: SourceInfo,
    pub tagger: Arc<Bundle>,
    pub provider: String,
    pub card: Option<ModelCard>,
    pub speech: Option<Arc<Bundle>>,
    /// The tagger's live window and hop in this session.
    pub live: LiveWindow,
    pub display: DisplayInfo,
    pub stats: Arc<PipelineStats>,
    pub counters: Arc<CaptureCounters>,
    /// A demo file's position, when the source is one.
    pub playback: Option<PlaybackStatus>,
    /// Sound events are found live (the tagger has a framewise output): how late their
    /// decisions come.
    pub event_delay_secs: Option<f64>,
}

/// Where the engine gets sources and models. [`SystemBackend`] is the real one; tests use
/// stand-ins that need no sound card and no ONNX Runtime.
pub trait Backend: Send + Sync + 'static {
    fn open_source(&self, request: &SourceRequest) -> Result<LiveSource, CaptureError>;
    fn load_model(&self, role: Role, model: &str) -> Result<LoadedModel, ModelError>;
    fn list_devices(&self) -> Vec<InputDeviceInfo>;
    fn list_installed(&self) -> Vec<InstalledModel>;
}

/// cpal devices, demo files and installed bundles on ONNX Runtime.
#[derive(Debug, Clone, Default)]
pub struct SystemBackend {
    pub models: ModelOptions,
    /// Measure the tagger's model card when it loads (the window shows it).
    pub cards: bool,
    pub installed: Arc<models::InstalledCache>,
}

impl Backend for SystemBackend {
    fn open_source(&self, request: &SourceRequest) -> Result<LiveSource, CaptureError> {
        request.open()
    }

    fn load_model(&self, role: Role, model: &str) -> Result<LoadedModel, ModelError> {
        models::load_for_role(role, model, &self.models, self.cards)
    }

    fn list_devices(&self) -> Vec<InputDeviceInfo> {
        crate::capture::list_inputs()
    }

    fn list_installed(&self) -> Vec<InstalledModel> {
        self.installed.list()
    }
}

/// How the engine starts: what the command line asked for.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// `--hop-secs` and `--window-secs`: they win over saved live windows until a
    /// [`Command::SetLiveWindow`].
    pub hop_secs: Option<f64>,
    pub window_secs: Option<f64>,
    /// Live windows chosen earlier, by bundle name.
    pub live_windows: std::collections::BTreeMap<String, LiveWindow>,
    /// The speech track's model (default: silero VAD).
    pub speech_model: Option<String>,
    /// The first retry after a lost source, and the longest wait between retries.
    pub backoff: Backoff,
}

/// The front end's side of a running engine. Dropping it shuts the engine down.
pub struct EngineHandle {
    commands: Sender<Command>,
    updates: Receiver<Update>,
    live: Receiver<LiveUpdate>,
    live_dropped: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl EngineHandle {
    /// Starts the engine thread.
    pub fn spawn(backend: Arc<dyn Backend>, options: EngineOptions) -> std::io::Result<Self> {
        let (commands, commands_rx) = crossbeam_channel::unbounded();
        let (updates_tx, updates) = crossbeam_channel::unbounded();
        let (live_tx, live) = crossbeam_channel::bounded(LIVE_QUEUE);
        let live_dropped = Arc::new(AtomicU64::new(0));
        let engine = controller::Engine::new(
            backend,
            options,
            controller::Outlets {
                updates: updates_tx,
                live: live_tx,
                live_dropped: Arc::clone(&live_dropped),
            },
        );
        let thread = std::thread::Builder::new()
            .name("livetag-engine".to_string())
            .spawn(move || engine.run(commands_rx))?;
        Ok(Self {
            commands,
            updates,
            live,
            live_dropped,
            thread: Some(thread),
        })
    }

    /// Queues a command; never blocks. After a shutdown it is ignored.
    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    pub fn updates(&self) -> &Receiver<Update> {
        &self.updates
    }

    pub fn live(&self) -> &Receiver<LiveUpdate> {
        &self.live
    }

    /// Live updates dropped because the front end did not take them in time.
    pub fn live_dropped(&self) -> u64 {
        self.live_dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Plain start-up options of a live front end, built by the command line.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// The tagger: a bundle folder or an installed name (else the saved or default one).
    pub model: Option<String>,
    /// Start with the speech track on, using this bundle.
    pub speech: Option<String>,
    /// What to listen to (else the saved microphone, else the default one).
    pub source: Option<SourceRequest>,
    pub hop_secs: Option<f64>,
    pub window_secs: Option<f64>,
    /// Top classes: mode and allow/deny lists (`;`-separated).
    pub top_k_mode: Option<crate::ontology::TopKMode>,
    pub only: Option<String>,
    pub except: Option<String>,
    pub models: ModelOptions,
    /// Stop after this long (scripts, CI).
    pub run_for: Option<Duration>,
    /// The window's screenshot, saved just before closing.
    pub screenshot: Option<PathBuf>,
}
