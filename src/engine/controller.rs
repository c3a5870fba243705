//! The engine thread: applies commands, runs the state machine, and forwards the running
//! pipeline's messages. Loading models, opening sources and listing devices or bundles run
//! on short-lived worker threads whose results come back as [`Done`] messages, so this
//! thread answers commands and forwards live data even while a 30-minute demo file decodes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::models::LoadedModel;
use super::sound_events::LiveEventFinder;
use super::state::SessionState;
use super::{Backend, Command, EngineOptions, LiveUpdate, LiveWindow, SessionInfo, Update};
use crate::bundle::Bundle;
use crate::capture::{LiveSource, SourceKind, SourceRequest};
use crate::inference::profile::ModelCard;
use crate::pipeline::{LiveMessage, LiveSession, PipelineConfig, Role, Track};
use crate::sed::ClassSettings;

/// How often the engine looks at the source's health and the retry timer.
const TICK: Duration = Duration::from_millis(50);
/// A microphone that delivered audio and then nothing for this long is treated as gone: a
/// killed sound server often stops the callbacks without any error.
const STALL: Duration = Duration::from_secs(1);
/// The first callback may take this long (a host's default buffer took 1-2 s to start).
const FIRST_CALLBACK: Duration = Duration::from_secs(3);

/// Where the engine's answers go.
pub(super) struct Outlets {
    pub updates: Sender<Update>,
    pub live: Sender<LiveUpdate>,
    pub live_dropped: Arc<AtomicU64>,
}

/// A worker thread's result. Errors arrive described (their whole cause chain): a worker
/// that panicked, or never started, reports its failure the same way.
enum Done {
    Model {
        role: Role,
        ticket: u64,
        model: String,
        result: Result<LoadedModel, String>,
    },
    Source {
        ticket: u64,
        request: SourceRequest,
        result: Result<LiveSource, String>,
    },
    Devices(Vec<crate::capture::InputDeviceInfo>),
    Installed(Vec<super::InstalledModel>),
}

/// What the engine thread takes next.
enum Next {
    Command(Command),
    Done(Box<Done>),
    Message(LiveMessage),
    Tick,
}

const SHUTDOWN: Next = Next::Command(Command::Shutdown);

impl Next {
    fn done(done: Done) -> Self {
        Next::Done(Box::new(done))
    }
}

/// A role's model while its scorer is inside a running pipeline.
struct RoleModel {
    bundle: Arc<Bundle>,
    provider: String,
    card: Option<ModelCard>,
}

impl RoleModel {
    /// The model again, with the scorer its track hands back.
    fn with_scorer(self, scorer: Box<dyn crate::pipeline::Scorer>) -> LoadedModel {
        LoadedModel {
            bundle: self.bundle,
            scorer,
            provider: self.provider,
            card: self.card,
        }
    }
}

struct Running {
    session: LiveSession,
    models: BTreeMap<Role, RoleModel>,
    info: Arc<SessionInfo>,
    events: Option<LiveEventFinder>,
    /// Audio callbacks seen at the last tick, and when they last advanced.
    callbacks: u64,
    callbacks_moved_at: Instant,
    /// The stream's error counters at the last tick; what changed since is told.
    notices: crate::capture::StreamNotices,
}

enum Phase {
    Idle,
    Loading,
    Opening,
    Running(Box<Running>),
    Recovering {
        /// Failed attempts so far.
        attempt: u32,
        next_try: Instant,
        /// When the source was lost (or first failed), for the outage report.
        since: Instant,
    },
}

/// An open in flight: only the newest one's result is used.
struct Opening {
    ticket: u64,
}

pub(super) struct Engine {
    backend: Arc<dyn Backend>,
    options: EngineOptions,
    out: Outlets,
    done_tx: Sender<Done>,
    done_rx: Receiver<Done>,
    phase: Phase,
    /// Loaded models not in a session, by role.
    ready: BTreeMap<Role, LoadedModel>,
    /// Models loading, by role: the ticket of the newest request and the model's name.
    loading: BTreeMap<Role, (u64, String)>,
    /// The source asked for, if any yet.
    source: Option<SourceRequest>,
    opening: Option<Opening>,
    speech_on: bool,
    /// Demo files are paused: kept across sessions.
    paused: bool,
    /// A restart was asked for while an open was under way: if that open fails, the
    /// running session restarts then, so the change is not lost.
    restart_pending: bool,
    /// An installed-model listing is under way (a menu asks every few seconds; each
    /// listing reads every bundle).
    listing_installed: bool,
    next_ticket: u64,
    last_state: Option<SessionState>,
    last_tick: Instant,
}

impl Engine {
    pub(super) fn new(backend: Arc<dyn Backend>, options: EngineOptions, out: Outlets) -> Self {
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        Self {
            backend,
            options,
            out,
            done_tx,
            done_rx,
            phase: Phase::Idle,
            ready: BTreeMap::new(),
            loading: BTreeMap::new(),
            source: None,
            opening: None,
            speech_on: false,
            paused: false,
            restart_pending: false,
            listing_installed: false,
            next_ticket: 0,
            last_state: None,
            last_tick: Instant::now(),
        }
    }

    pub(super) fn run(mut self, commands: Receiver<Command>) {
        self.report_state();
        loop {
            let messages = match &self.phase {
                Phase::Running(running) => running.session.pipeline.messages().clone(),
                _ => crossbeam_channel::never(),
            };
            let next = crossbeam_channel::select! {
                // A front end gone is as good as a shutdown.
                recv(commands) -> command => command.map_or(SHUTDOWN, Next::Command),
                // Never disconnected: the engine holds a sender.
                recv(self.done_rx) -> done => done.map_or(Next::Tick, Next::done),
                // Disconnected once every pipeline thread has ended; the tick finds them.
                recv(messages) -> message => message.map_or(Next::Tick, Next::Message),
                default(TICK) => Next::Tick,
            };
            match next {
                Next::Command(Command::Shutdown) => break,
                Next::Command(command) => self.apply(command),
                Next::Done(done) => self.finish(*done),
                Next::Message(message) => {
                    self.forward(message);
                    // Drained in one go: a burst costs one trip round the loop.
                    for message in messages.try_iter().take(256) {
                        self.forward(message);
                    }
                }
                Next::Tick => {}
            }
            let now = Instant::now();
            if now.duration_since(self.last_tick) >= TICK {
                self.last_tick = now;
                self.tick(now);
            }
            self.report_state();
        }
        self.stop_running();
    }

    fn send(&self, update: Update) {
        let _ = self.out.updates.send(update);
    }

    fn send_live(&self, update: LiveUpdate) {
        if let Err(TrySendError::Full(_)) = self.out.live.try_send(update) {
            self.out.live_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn ticket(&mut self) -> u64 {
        self.next_ticket += 1;
        self.next_ticket
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::LoadModel { role, model } => self.load(role, model),
            Command::SetSpeechTrack(on) => self.set_speech_track(on),
            Command::SetSource(request) => {
                self.source = Some(request.clone());
                self.open(request);
            }
            Command::SetLiveWindow { model, live } => {
                // What is set here wins over --hop-secs / --window-secs from now on.
                self.options.hop_secs = None;
                self.options.window_secs = None;
                match live {
                    Some(live) => self.options.live_windows.insert(model.clone(), live),
                    None => self.options.live_windows.remove(&model),
                };
                if self
                    .running()
                    .is_some_and(|r| r.info.tagger.name() == model)
                {
                    self.restart();
                }
            }
            Command::SetPaused(paused) => {
                self.paused = paused;
                if let Some(playback) = self.running().and_then(|r| r.session.playback()) {
                    playback.set_paused(paused);
                }
            }
            Command::Seek(secs) => {
                if let Some(playback) = self.running().and_then(|r| r.session.playback()) {
                    playback.seek(secs);
                }
            }
            Command::ListDevices => {
                let backend = Arc::clone(&self.backend);
                self.spawn_worker(
                    "devices",
                    move || Done::Devices(backend.list_devices()),
                    |_| Done::Devices(Vec::new()),
                );
            }
            Command::ListInstalledModels if !self.listing_installed => {
                self.listing_installed = true;
                let backend = Arc::clone(&self.backend);
                self.spawn_worker(
                    "bundles",
                    move || Done::Installed(backend.list_installed()),
                    |_| Done::Installed(Vec::new()),
                );
            }
            Command::ListInstalledModels => {}
            Command::Shutdown => {}
        }
    }

    /// Runs `work` on its own thread and hands its result to the engine thread. A worker
    /// that panics (a decoder or ONNX Runtime bug) or cannot start still answers, with
    /// `failed(why)`, so no request waits for ever.
    fn spawn_worker(
        &self,
        what: &'static str,
        work: impl FnOnce() -> Done + Send + 'static,
        failed: impl FnOnce(String) -> Done + Send + 'static,
    ) {
        let done = self.done_tx.clone();
        let failed = Arc::new(std::sync::Mutex::new(Some(failed)));
        let on_spawn_error = Arc::clone(&failed);
        let spawned = std::thread::Builder::new()
            .name(format!("livetag-engine-{what}"))
            .spawn(move || {
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
                let answer = result.unwrap_or_else(|panic| {
                    let why = format!(
                        "the {what} thread panicked: {}",
                        crate::pipeline::panic_message(panic.as_ref())
                    );
                    let failed = failed.lock().ok().and_then(|mut f| f.take());
                    failed.map_or(Done::Devices(Vec::new()), |failed| failed(why))
                });
                let _ = done.send(answer);
            });
        if let Err(error) = spawned {
            let failed = on_spawn_error.lock().ok().and_then(|mut f| f.take());
            if let Some(failed) = failed {
                let why = format!("cannot start a thread for {what}: {error}");
                let _ = self.done_tx.send(failed(why));
            }
        }
    }

    fn running(&self) -> Option<&Running> {
        match &self.phase {
            Phase::Running(running) => Some(running),
            _ => None,
        }
    }

    fn has_model(&self, role: Role) -> bool {
        self.ready.contains_key(&role)
            || self.running().is_some_and(|r| r.models.contains_key(&role))
    }

    /// Loads a model on a worker thread; what runs keeps running meanwhile.
    fn load(&mut self, role: Role, model: String) {
        let ticket = self.ticket();
        self.loading.insert(role, (ticket, model.clone()));
        self.send(Update::ModelLoading {
            role,
            model: model.clone(),
        });
        if role == Role::Tagger && matches!(self.phase, Phase::Idle) {
            self.phase = Phase::Loading;
        }
        let backend = Arc::clone(&self.backend);
        let failed_model = model.clone();
        self.spawn_worker(
            "loader",
            move || {
                let result = backend
                    .load_model(role, &model)
                    .map_err(|e| crate::error_chain(&e));
                Done::Model {
                    role,
                    ticket,
                    model,
                    result,
                }
            },
            move |why| Done::Model {
                role,
                ticket,
                model: failed_model,
                result: Err(why),
            },
        );
    }

    fn speech_model(&self) -> String {
        self.options
            .speech_model
            .clone()
            .unwrap_or_else(|| crate::bundle::catalog::SPEECH_MODEL.to_string())
    }

    fn set_speech_track(&mut self, on: bool) {
        self.speech_on = on;
        if on && !self.has_model(Role::Speech) {
            if !self.loading.contains_key(&Role::Speech) {
                self.load(Role::Speech, self.speech_model());
            }
            return;
        }
        let runs_speech = self
            .running()
            .is_some_and(|r| r.models.contains_key(&Role::Speech));
        if on != runs_speech {
            self.restart();
        }
    }

    /// Opens `request` on a worker thread; the session switches to it once it is open.
    /// Without a tagger to run, the source waits for one.
    fn open(&mut self, request: SourceRequest) {
        if !self.has_model(Role::Tagger) {
            return;
        }
        let ticket = self.ticket();
        self.opening = Some(Opening { ticket });
        if matches!(self.phase, Phase::Idle | Phase::Loading) {
            self.phase = Phase::Opening;
        }
        let backend = Arc::clone(&self.backend);
        let failed_request = request.clone();
        self.spawn_worker(
            "source",
            move || {
                let result = backend
                    .open_source(&request)
                    .map_err(|e| crate::error_chain(&e));
                Done::Source {
                    ticket,
                    request,
                    result,
                }
            },
            move |why| Done::Source {
                ticket,
                request: failed_request,
                result: Err(why),
            },
        );
    }

    /// Starts the session again on the same source, for a changed model, track or window.
    /// The running source is kept (a device is not opened twice, a demo file not decoded
    /// again and keeps its place); an open already under way will pick up the change.
    fn restart(&mut self) {
        if self.opening.is_some() {
            self.restart_pending = true;
            return;
        }
        if self.running().is_none() {
            return;
        }
        let (info, source) = self.stop_running();
        let Some(info) = info else { return };
        match source {
            Some(source) => self.start_session(source, info.request.clone()),
            None => self.open(info.request.clone()),
        }
    }

    fn finish(&mut self, done: Done) {
        match done {
            Done::Model {
                role,
                ticket,
                model,
                result,
            } => {
                if self.loading.get(&role).map(|(t, _)| *t) != Some(ticket) {
                    return; // superseded by a newer request for the role
                }
                self.loading.remove(&role);
                match result {
                    Ok(loaded) => self.model_ready(role, loaded),
                    Err(error) => {
                        if role == Role::Speech {
                            self.speech_on = false;
                        }
                        if matches!(self.phase, Phase::Loading) && !self.has_model(Role::Tagger) {
                            self.phase = Phase::Idle;
                        }
                        self.send(Update::ModelFailed { role, model, error });
                    }
                }
            }
            Done::Source {
                ticket,
                request,
                result,
            } => {
                if self.opening.take_if(|o| o.ticket == ticket).is_none() {
                    return; // a newer source was asked for; this one closes as it drops
                }
                match result {
                    Ok(source) => self.start_session(source, request),
                    Err(error) => {
                        self.open_failed(error);
                        if std::mem::take(&mut self.restart_pending) {
                            self.restart();
                        }
                    }
                }
            }
            Done::Devices(devices) => self.send(Update::Devices(devices)),
            Done::Installed(models) => {
                self.listing_installed = false;
                self.send(Update::InstalledModels(models));
            }
        }
    }

    fn model_ready(&mut self, role: Role, loaded: LoadedModel) {
        self.send(Update::ModelReady {
            role,
            bundle: Arc::clone(&loaded.bundle),
        });
        // A newer model for the role replaces an idle older one now, and a running one at
        // the switch.
        self.ready.insert(role, loaded);
        match role {
            Role::Tagger => match &self.phase {
                Phase::Running(_) => self.restart(),
                // The next retry, or the open under way, uses the new model.
                Phase::Recovering { .. } => {}
                _ if self.opening.is_some() => {}
                _ => match self.source.clone() {
                    Some(request) => self.open(request),
                    None => self.phase = Phase::Idle,
                },
            },
            Role::Speech if self.speech_on => self.restart(),
            Role::Speech => {}
        }
    }

    fn open_failed(&mut self, error: String) {
        let now = Instant::now();
        match &mut self.phase {
            Phase::Running(running) => {
                // What runs stays, and stays what a lost source would be retried as.
                self.source = Some(running.info.request.clone());
                self.send(Update::SourceFailed { error });
            }
            Phase::Recovering {
                attempt, next_try, ..
            } => {
                *attempt += 1;
                let retry_in = self.options.backoff.delay(*attempt);
                *next_try = now + retry_in;
                let attempt = *attempt;
                self.send(Update::RetryFailed {
                    attempt,
                    retry_in,
                    error,
                });
            }
            _ => {
                // The first open: keep the models and retry, since the device may come (or
                // come back), or the user may pick another source.
                self.recover(now, now, 1);
                self.send(Update::SourceFailed { error });
            }
        }
    }

    /// Waits to retry the source, `failed` attempts so far; the outage began `since`.
    fn recover(&mut self, now: Instant, since: Instant, failed: u32) {
        self.phase = Phase::Recovering {
            attempt: failed,
            next_try: now + self.options.backoff.delay(failed),
            since,
        };
    }

    /// Stops the running session, if any, takes its models back, and returns what it ran
    /// and its source, still open when the DSP thread handed it back. A track whose thread
    /// panicked is reported, and its model reloaded for the same role.
    fn stop_running(&mut self) -> (Option<Arc<SessionInfo>>, Option<LiveSource>) {
        let Phase::Running(running) = std::mem::replace(&mut self.phase, Phase::Idle) else {
            return (None, None);
        };
        let Running {
            session,
            mut models,
            info,
            ..
        } = *running;
        let stopped = session.stop();
        for track in stopped.tracks {
            if let Some(meta) = models.remove(&track.role) {
                // A model loaded meanwhile for the role wins over the one that ran.
                self.ready
                    .entry(track.role)
                    .or_insert_with(|| meta.with_scorer(track.scorer));
            }
        }
        if let Some(message) = stopped.dsp_panic {
            self.send(Update::Problem(format!(
                "the live DSP thread stopped ({message}); reopening the source"
            )));
        }
        for loss in stopped.lost {
            self.send(Update::TrackLost {
                role: loss.role,
                message: loss.message,
            });
            self.reload(loss.role, &mut models);
        }
        (Some(info), stopped.source)
    }

    /// Loads the model that played `role` again (its thread is gone with its scorer).
    fn reload(&mut self, role: Role, models: &mut BTreeMap<Role, RoleModel>) {
        let dir = models.remove(&role).map(|m| m.bundle.dir.clone());
        if let Some(dir) = dir {
            if !self.ready.contains_key(&role) && !self.loading.contains_key(&role) {
                self.load(role, dir.display().to_string());
            }
        }
    }

    /// The live window and hop for `bundle`: the command line's, else the saved ones, else
    /// the bundle's own live defaults.
    fn live_input(&self, bundle: &Bundle) -> (crate::bundle::AudioInput, LiveWindow) {
        let saved = self.options.live_windows.get(bundle.name());
        let hop_secs = bundle.live_hop_secs(self.options.hop_secs.or(saved.map(|l| l.hop_secs)));
        let input = bundle.live_input(self.options.window_secs.or(saved.map(|l| l.window_secs)));
        let window_secs = input.window_rows as f64 * input.seconds_per_row();
        (
            input,
            LiveWindow {
                window_secs,
                hop_secs,
            },
        )
    }

    fn start_session(&mut self, source: LiveSource, request: SourceRequest) {
        self.restart_pending = false;
        let recovering_since = match &self.phase {
            Phase::Recovering { since, .. } => Some(*since),
            _ => None,
        };
        // The same demo file opened again continues where it was.
        let seek = self
            .running()
            .filter(|r| r.info.request == request)
            .and_then(|r| r.session.playback())
            .map(|p| p.position_secs());
        self.stop_running();
        let Some(tagger) = self.ready.remove(&Role::Tagger) else {
            // The tagger's thread died and its model is reloading: the open waits for it.
            self.phase = Phase::Loading;
            return;
        };
        let speech = if self.speech_on {
            self.ready.remove(&Role::Speech)
        } else {
            None
        };
        let (input, live) = self.live_input(&tagger.bundle);
        let mut tracks = Vec::new();
        let mut models = BTreeMap::new();
        for (role, model, input) in [
            Some((Role::Tagger, tagger, input)),
            speech.map(|m| {
                let input = m.bundle.input.clone();
                (Role::Speech, m, input)
            }),
        ]
        .into_iter()
        .flatten()
        {
            let LoadedModel {
                bundle,
                scorer,
                provider,
                card,
            } = model;
            tracks.push(Track {
                role,
                input,
                scorer,
            });
            models.insert(
                role,
                RoleModel {
                    bundle,
                    provider,
                    card,
                },
            );
        }
        let config = PipelineConfig {
            hop_secs: live.hop_secs,
            ..PipelineConfig::default()
        };
        let session = match LiveSession::start(source, tracks, config) {
            Ok(session) => session,
            Err(failed) => {
                for track in failed.tracks {
                    if let Some(meta) = models.remove(&track.role) {
                        self.ready
                            .insert(track.role, meta.with_scorer(track.scorer));
                    }
                }
                // A scorer whose thread could not start went with its closure.
                for role in models.keys().copied().collect::<Vec<_>>() {
                    self.send(Update::TrackLost {
                        role,
                        message: "its thread could not start".to_string(),
                    });
                    self.reload(role, &mut models);
                }
                self.send(Update::SessionFailed {
                    error: format!(
                        "cannot start the live session: {}",
                        crate::error_chain(&failed.error)
                    ),
                });
                // Retried like a lost source: another try may find other conditions, and
                // the user can pick another source or model meanwhile.
                let now = Instant::now();
                self.recover(now, recovering_since.unwrap_or(now), 1);
                return;
            }
        };
        if let Some(playback) = session.playback() {
            if let Some(secs) = seek {
                playback.seek(secs);
            }
            playback.set_paused(self.paused);
        }
        self.source = Some(request.clone());
        let tagger = &models[&Role::Tagger];
        let frame_rate_hz = tagger
            .bundle
            .framewise_output()
            .and_then(|o| o.frame_rate_hz);
        let events = frame_rate_hz.and_then(|rate| {
            let settings = tagger.bundle.event_settings(ClassSettings::default());
            match LiveEventFinder::new(tagger.bundle.labels.clone(), rate, &settings) {
                Ok(finder) => Some(finder),
                Err(error) => {
                    self.send(Update::Problem(format!(
                        "no live events for {}: {}",
                        tagger.bundle.name(),
                        crate::error_chain(&error)
                    )));
                    None
                }
            }
        });
        let info = Arc::new(SessionInfo {
            request: request.clone(),
            source: session.source.clone(),
            tagger: Arc::clone(&tagger.bundle),
            provider: tagger.provider.clone(),
            card: tagger.card.clone(),
            speech: models.get(&Role::Speech).map(|m| Arc::clone(&m.bundle)),
            live,
            display: session.pipeline.display().clone(),
            stats: Arc::clone(session.pipeline.stats()),
            counters: Arc::clone(&session.counters),
            playback: session.playback().map(|p| p.status()),
            event_delay_secs: events.as_ref().map(LiveEventFinder::delay_secs),
        });
        if let Some(since) = recovering_since {
            self.send(Update::Recovered {
                source: info.source.label.clone(),
                outage: since.elapsed(),
            });
        }
        self.send(Update::SessionStarted(Arc::clone(&info)));
        self.phase = Phase::Running(Box::new(Running {
            session,
            models,
            info,
            events,
            callbacks: 0,
            callbacks_moved_at: Instant::now(),
            notices: crate::capture::StreamNotices::default(),
        }));
    }

    fn forward(&mut self, message: LiveMessage) {
        let events = match (&message, &mut self.phase) {
            (LiveMessage::Scores(scores), Phase::Running(running))
                if scores.role == Role::Tagger =>
            {
                let labels = &running.info.tagger.labels;
                running
                    .events
                    .as_mut()
                    .map(|finder| LiveUpdate::SoundEvents {
                        decisions: finder.push(scores),
                        open: finder.open_events(labels),
                    })
            }
            _ => None,
        };
        self.send_live(LiveUpdate::Pipeline(message));
        if let Some(events) = events {
            self.send_live(events);
        }
    }

    /// Source health, dead tracks, and the retry timer.
    fn tick(&mut self, now: Instant) {
        match &mut self.phase {
            Phase::Running(running) => {
                let counters = &running.session.counters;
                let callbacks = counters.callbacks.load(Ordering::Relaxed);
                let heard_any = running.callbacks > 0;
                if callbacks != running.callbacks {
                    running.callbacks = callbacks;
                    running.callbacks_moved_at = now;
                }
                // Xruns are counted in the status bar; the rest is news worth a line.
                let notices = counters.stream_notices();
                let news: Vec<String> = notices
                    .news_since(&running.notices)
                    .into_iter()
                    .filter(|n| *n != crate::capture::StreamNotice::DeviceLost)
                    .map(|n| n.to_string())
                    .collect();
                running.notices = notices;
                let last_audio = running.callbacks_moved_at;
                let silent_for = now.duration_since(last_audio);
                let is_mic = running.info.source.kind == SourceKind::Microphone;
                let problem = if counters.device_lost.load(Ordering::Relaxed) {
                    Some("the device went away".to_string())
                } else if is_mic && silent_for > if heard_any { STALL } else { FIRST_CALLBACK } {
                    Some(format!("no audio for {:.1} s", silent_for.as_secs_f64()))
                } else {
                    None
                };
                let dead = running.session.pipeline.stopped_tracks();
                let problem = problem.or_else(|| {
                    running
                        .session
                        .pipeline
                        .dsp_stopped()
                        .then(|| "the live DSP thread stopped".to_string())
                });
                for notice in news {
                    self.send(Update::StreamNotice(notice));
                }
                if let Some(problem) = problem {
                    self.source_lost(now, last_audio, problem);
                } else if !dead.is_empty() {
                    match self.stop_running() {
                        (Some(info), Some(source)) if self.has_model(Role::Tagger) => {
                            self.start_session(source, info.request.clone());
                        }
                        // The source closes; the reloaded tagger opens it again.
                        _ => self.phase = Phase::Loading,
                    }
                }
            }
            Phase::Recovering { next_try, .. } if now >= *next_try && self.opening.is_none() => {
                if let Some(request) = self.source.clone() {
                    self.open(request);
                }
            }
            _ => {}
        }
    }

    /// `last_audio`: when the source last delivered, where the outage began.
    fn source_lost(&mut self, now: Instant, last_audio: Instant, problem: String) {
        // The source is closed (dropped here): a lost device is opened afresh.
        let (Some(info), _) = self.stop_running() else {
            return;
        };
        self.source = Some(info.request.clone());
        self.recover(now, last_audio, 0);
        self.send(Update::SourceLost {
            source: info.source.label.clone(),
            problem,
        });
    }

    /// Sends the state when it changed (a retry's countdown alone is no change).
    fn report_state(&mut self) {
        let now = Instant::now();
        let state = match &self.phase {
            Phase::Idle => SessionState::Idle,
            Phase::Loading => SessionState::Loading,
            Phase::Opening => SessionState::Opening,
            Phase::Running(_) => SessionState::Running,
            Phase::Recovering {
                attempt, next_try, ..
            } => SessionState::Recovering {
                attempt: *attempt,
                retry_in: next_try.saturating_duration_since(now),
            },
        };
        let same = match (&self.last_state, &state) {
            (
                Some(SessionState::Recovering { attempt: a, .. }),
                SessionState::Recovering { attempt: b, .. },
            ) => a == b,
            (Some(last), state) => last == state,
            (None, _) => false,
        };
        if !same {
            self.last_state = Some(state);
            self.send(Update::State(state));
        }
    }
}
