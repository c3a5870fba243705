//! The eframe application: menus, shortcuts, the running session, model loading, device
//! reconnection and the error banner. What is drawn from pipeline data lives in `view`.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use eframe::egui::{self, Color32, Key, KeyboardShortcut, Modifiers};

use super::view::{LiveView, ViewSettings};
use crate::bundle::{catalog, Bundle};
use crate::capture::{list_inputs, InputDeviceInfo, LiveSource, SourceKind, SourceRequest};
use crate::cli::ListenArgs;
use crate::inference::profile::ModelCard;
use crate::pipeline::{LiveSession, PipelineConfig, Scorer, Track};

const OPEN_MODEL: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
const OPEN_AUDIO: KeyboardShortcut =
    KeyboardShortcut::new(Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::O);
const QUIT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Q);
/// Single keys (ignored while typing in a text field).
const PAUSE: Key = Key::Space;
const NEXT_COLORMAP: Key = Key::C;
const MODEL_INPUT: Key = Key::M;
const SPEECH_TRACK: Key = Key::S;
const MODEL_CARD: Key = Key::I;
const NEXT_TOP_K_MODE: Key = Key::T;
const HELP: Key = Key::F1;
/// A microphone silent for this long is treated as gone.
const STALL: Duration = Duration::from_secs(2);
const RECONNECT_EVERY: Duration = Duration::from_secs(2);
/// Audio file types offered for demo mode.
const AUDIO_EXTENSIONS: [&str; 6] = ["wav", "flac", "ogg", "oga", "mp3", "wave"];

/// Everything that survives a restart.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, Default)]
#[serde(default)]
pub struct Settings {
    pub view: ViewSettings,
    /// Last model (bundle path or name).
    pub model: Option<String>,
    /// Last microphone id.
    pub device: Option<String>,
    /// Run the speech track beside the tagger.
    pub speech_track: bool,
    /// Live window length and hop chosen per model (by bundle name).
    pub live: std::collections::BTreeMap<String, LiveWindow>,
}

/// Window length and hop of a model's live predictions, as set in Model > Live window.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LiveWindow {
    pub window_secs: f64,
    pub hop_secs: f64,
}

/// What the window was asked to do from the command line.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    pub model: Option<String>,
    /// `--speech`: start with the speech track on, using this bundle.
    pub speech: Option<String>,
    pub source: Option<SourceRequest>,
    /// `--hop-secs` and `--window-secs`: they win over the saved live window.
    pub hop_secs: Option<f64>,
    pub window_secs: Option<f64>,
    /// `--top-k-mode`, `--only`, `--except`, when given: they replace the saved ones (the
    /// lists those of the first model that starts) and are saved like a choice in View.
    pub top_k_mode: Option<crate::ontology::TopKMode>,
    pub only: Option<String>,
    pub except: Option<String>,
    pub provider: crate::inference::DevicePreference,
    pub threads: Option<usize>,
    pub ort_lib: Option<PathBuf>,
    /// Close by itself after this long (scripts, CI).
    pub quit_after: Option<Duration>,
    /// Save a screenshot just before closing.
    pub screenshot: Option<PathBuf>,
}

impl Launch {
    pub fn from_args(args: &ListenArgs, ort_lib: Option<PathBuf>) -> Self {
        Self {
            model: args.model.model.clone(),
            speech: args.speech.clone(),
            source: (args.file.is_some() || args.device.is_some()).then(|| args.source()),
            hop_secs: args.hop_secs,
            window_secs: args.window_secs,
            top_k_mode: args.top.top_k_mode,
            only: (!args.top.only.is_empty()).then(|| args.top.only.join(";")),
            except: (!args.top.except.is_empty()).then(|| args.top.except.join(";")),
            provider: args.model.provider,
            threads: args.model.threads,
            ort_lib,
            quit_after: args.duration,
            screenshot: args.screenshot.clone(),
        }
    }
}

/// A model ready to run.
struct LoadedModel {
    bundle: Bundle,
    scorer: Box<dyn Scorer>,
    /// The execution provider in use, as the status bar shows it.
    provider: String,
    /// Measured when the model loads (the speech model's is not kept).
    card: Option<ModelCard>,
}

type LoadResult = Receiver<Result<LoadedModel, String>>;

struct Running {
    session: LiveSession,
    request: SourceRequest,
    bundle: Bundle,
    provider: String,
    card: Option<ModelCard>,
    /// The speech track's bundle, when the session runs one (track 1).
    speech: Option<Bundle>,
    /// The tagger's live window and hop in this session.
    live: LiveWindow,
    /// Audio callbacks seen at the last check, and when they last advanced.
    callbacks: u64,
    callbacks_moved_at: Instant,
}

/// An installed bundle, as the Model menu lists it.
#[derive(Debug, Clone)]
struct InstalledModel {
    path: PathBuf,
    name: String,
    classes: usize,
}

/// How long the installed-model list is reused: reading it loads every bundle, which is
/// too slow to repeat on each frame a menu is open.
const INSTALLED_REFRESH: Duration = Duration::from_secs(5);

/// A message in the banner.
struct Banner {
    text: String,
    error: bool,
}

pub struct LivetagApp {
    settings: Settings,
    launch: Launch,
    running: Option<Running>,
    view: Option<LiveView>,
    loading: Option<(String, LoadResult)>,
    /// A loaded model still waiting for a source that opens.
    idle_model: Option<LoadedModel>,
    speech_loading: Option<(String, LoadResult)>,
    /// A loaded speech model not in the running session.
    speech_idle: Option<LoadedModel>,
    /// Where to connect the next loaded model.
    pending_source: SourceRequest,
    banners: Vec<Banner>,
    device_problem: Option<String>,
    next_reconnect: Instant,
    paused: bool,
    devices: Vec<InputDeviceInfo>,
    installed: Option<(Instant, Vec<InstalledModel>)>,
    model_dialog: Option<String>,
    audio_dialog: Option<String>,
    browse: Option<(BrowseFor, Receiver<Option<PathBuf>>)>,
    show_help: bool,
    /// Model > Live window's sliders, until applied; dropped when another session starts.
    live_draft: Option<LiveWindow>,
    show_about: bool,
    show_card: bool,
    started: Instant,
    screenshot: Option<Receiver<Arc<egui::ColorImage>>>,
    closing: bool,
    /// Where the last frame drew the spectrogram and the bars (for screenshot checks).
    layout: ScreenLayout,
    /// CPU time of each `ui()` call, for the scripted-run report.
    frame_ms: crate::pipeline::Percentiles,
}

/// Written beside a screenshot, so a script can check the picture region by region.
#[derive(Debug, Clone, Default, serde::Serialize)]
struct ScreenLayout {
    pixels_per_point: f32,
    spectrogram: [f32; 4],
    speech: Option<[f32; 4]>,
    bars: Vec<(String, [f32; 4])>,
}

fn corners(rect: egui::Rect) -> [f32; 4] {
    [rect.min.x, rect.min.y, rect.max.x, rect.max.y]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum BrowseFor {
    Model,
    Audio,
}

impl LivetagApp {
    pub fn new(launch: Launch, settings: Settings) -> Self {
        let pending_source = launch
            .source
            .clone()
            .unwrap_or_else(|| SourceRequest::Microphone(settings.device.clone()));
        let model = launch
            .model
            .clone()
            .or_else(|| settings.model.clone())
            .unwrap_or_else(|| catalog::DEFAULT_MODEL.to_string());
        let mut app = Self {
            settings,
            launch,
            running: None,
            view: None,
            loading: None,
            idle_model: None,
            speech_loading: None,
            speech_idle: None,
            pending_source,
            banners: Vec::new(),
            device_problem: None,
            next_reconnect: Instant::now(),
            paused: false,
            devices: Vec::new(),
            installed: None,
            model_dialog: None,
            audio_dialog: None,
            browse: None,
            show_help: false,
            live_draft: None,
            show_about: false,
            show_card: false,
            started: Instant::now(),
            screenshot: None,
            closing: false,
            layout: ScreenLayout::default(),
            frame_ms: crate::pipeline::Percentiles::new(100_000),
        };
        if app.launch.speech.is_some() {
            app.settings.speech_track = true;
        }
        if let Some(mode) = app.launch.top_k_mode {
            app.settings.view.top_k_mode = mode;
        }

        app.load_model(model);
        if app.settings.speech_track {
            app.load_speech();
        }
        app
    }

    fn speech_model_name(&self) -> String {
        self.launch
            .speech
            .clone()
            .unwrap_or_else(|| catalog::SPEECH_MODEL.to_string())
    }

    fn report(&mut self, text: impl Into<String>) {
        let text = text.into();
        tracing::warn!("{text}");
        if !self.banners.iter().any(|b| b.text == text) {
            self.banners.push(Banner { text, error: true });
        }
    }

    /// Loads a model on a worker thread; the running session keeps going meanwhile.
    fn load_model(&mut self, model: String) {
        match self.spawn_loader(model.clone(), false) {
            Ok(rx) => self.loading = Some((model, rx)),
            Err(e) => self.report(format!("cannot start loading {model}: {e}")),
        }
    }

    /// Loads the speech track's model on a worker thread.
    fn load_speech(&mut self) {
        let model = self.speech_model_name();
        match self.spawn_loader(model.clone(), true) {
            Ok(rx) => self.speech_loading = Some((model, rx)),
            Err(e) => self.report(format!("cannot start loading {model}: {e}")),
        }
    }

    fn spawn_loader(&self, model: String, speech: bool) -> std::io::Result<LoadResult> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let args = crate::cli::ModelArgs {
            model: Some(model),
            provider: self.launch.provider,
            threads: self.launch.threads,
        };
        let ort_lib = self.launch.ort_lib.clone();
        std::thread::Builder::new()
            .name("livetag-model-loader".to_string())
            .spawn(move || {
                let opened = if speech {
                    crate::cli::open_speech_model(
                        args.model.as_deref().unwrap_or_default(),
                        &args,
                        ort_lib.as_deref(),
                    )
                } else {
                    crate::cli::open_model(&args, ort_lib.as_deref())
                };
                let loaded = opened
                    .map(|(bundle, runner)| {
                        let provider = runner.provider().to_string();
                        // Measuring compute costs one more session; the speech model's
                        // card is never shown.
                        let card = (!speech).then(|| {
                            ModelCard::measure(
                                &bundle,
                                args.provider,
                                provider.clone(),
                                ort_lib.as_deref(),
                            )
                        });
                        LoadedModel {
                            provider,
                            card,
                            bundle,
                            scorer: Box::new(runner),
                        }
                    })
                    .map_err(|e| format!("{e:#}"));
                let _ = tx.send(loaded);
            })?;
        Ok(rx)
    }

    /// Installed bundles that load, read at most every `INSTALLED_REFRESH`.
    fn installed_models(&mut self) -> Vec<InstalledModel> {
        let fresh = self
            .installed
            .as_ref()
            .is_some_and(|(read_at, _)| read_at.elapsed() < INSTALLED_REFRESH);
        if !fresh {
            let models = catalog::list()
                .into_iter()
                .filter_map(|(path, loaded)| {
                    let bundle = loaded.ok()?;
                    Some(InstalledModel {
                        name: bundle.name().to_string(),
                        classes: bundle.labels.len(),
                        path,
                    })
                })
                .collect();
            self.installed = Some((Instant::now(), models));
        }
        self.installed
            .as_ref()
            .map(|(_, models)| models.clone())
            .unwrap_or_default()
    }

    /// The live window and hop for `bundle`: the command line's, else the saved ones,
    /// else the bundle's own live defaults.
    fn live_window(&self, bundle: &Bundle) -> LiveWindow {
        let saved = self.settings.live.get(bundle.name());
        let hop_secs = bundle.live_hop_secs(self.launch.hop_secs.or(saved.map(|l| l.hop_secs)));
        let input = bundle.live_input(self.launch.window_secs.or(saved.map(|l| l.window_secs)));
        LiveWindow {
            window_secs: input.window_rows as f64 * input.seconds_per_row(),
            hop_secs,
        }
    }

    fn config(&self, live: LiveWindow) -> PipelineConfig {
        PipelineConfig {
            hop_secs: live.hop_secs,
            ..PipelineConfig::default()
        }
    }

    /// Starts `model` on `request`, replacing what runs. On failure what runs stays.
    fn start(&mut self, model: LoadedModel, request: SourceRequest) {
        let source = match request.open() {
            Ok(source) => source,
            Err(error) => {
                // Keep the model and retry: the device may come (back), or the user may
                // pick another source.
                if self.running.is_none() {
                    self.device_problem = Some(error.to_string());
                    self.idle_model = Some(model);
                } else {
                    self.report(error.to_string());
                }
                return;
            }
        };
        let previous_position = self.position_in(&request);
        let speech = match self.stop_running() {
            Some((_, speech)) => speech,
            None => self.speech_idle.take(),
        };
        self.launch_session(source, request, model, speech, previous_position);
    }

    /// Where the running demo file is, if `request` plays the same file again.
    fn position_in(&self, request: &SourceRequest) -> Option<f64> {
        self.running
            .as_ref()
            .filter(|r| &r.request == request)
            .and_then(|r| r.session.playback())
            .map(|p| p.position_secs())
    }

    /// Stops the running session and hands back its models: the main one, and the speech
    /// one if it ran (else the idle one).
    fn stop_running(&mut self) -> Option<(LoadedModel, Option<LoadedModel>)> {
        let running = self.running.take()?;
        let mut tracks = running.session.stop().into_iter();
        let idle_speech = self.speech_idle.take();
        let Some(main) = tracks.next() else {
            self.speech_idle = idle_speech;
            self.report("the inference thread ended unexpectedly; reload the model");
            return None;
        };
        let speech = match (running.speech, tracks.next()) {
            (Some(bundle), Some(track)) => Some(LoadedModel {
                bundle,
                scorer: track.scorer,
                provider: String::new(),
                card: None,
            }),
            _ => idle_speech,
        };
        let main = LoadedModel {
            bundle: running.bundle,
            scorer: main.scorer,
            provider: running.provider,
            card: running.card,
        };
        Some((main, speech))
    }

    /// Wires models to an opened source; the speech model joins as track 1 when the
    /// speech track is on, and otherwise waits.
    fn launch_session(
        &mut self,
        source: LiveSource,
        request: SourceRequest,
        main: LoadedModel,
        speech: Option<LoadedModel>,
        seek_to_secs: Option<f64>,
    ) {
        let (speech, idle) = if self.settings.speech_track {
            (speech, None)
        } else {
            (None, speech)
        };
        self.speech_idle = idle;
        let LoadedModel {
            bundle,
            scorer,
            provider,
            card,
        } = main;
        let live = self.live_window(&bundle);
        let mut tracks = vec![Track {
            input: bundle.input.with_window_secs(live.window_secs),
            scorer,
        }];
        let speech = speech.map(|speech| {
            tracks.push(Track {
                input: speech.bundle.input.clone(),
                scorer: speech.scorer,
            });
            speech.bundle
        });
        match LiveSession::start(source, tracks, self.config(live)) {
            Ok(session) => {
                if let (Some(secs), Some(playback)) = (seek_to_secs, session.playback()) {
                    playback.seek(secs);
                }
                self.install(session, request, (bundle, provider, card), speech, live);
            }
            Err(error) => self.report(error.to_string()),
        }
    }

    /// Makes a started session the one shown.
    fn install(
        &mut self,
        session: LiveSession,
        request: SourceRequest,
        (bundle, provider, card): (Bundle, String, Option<ModelCard>),
        speech: Option<Bundle>,
        live: LiveWindow,
    ) {
        self.live_draft = None;
        if self.launch.only.is_some() || self.launch.except.is_some() {
            let lists = self
                .settings
                .view
                .class_lists
                .entry(bundle.name().to_string())
                .or_default();
            if let Some(only) = self.launch.only.take() {
                lists.only = only;
            }
            if let Some(except) = self.launch.except.take() {
                lists.except = except;
            }
        }
        let mut view = LiveView::new(
            bundle.name().to_string(),
            bundle.labels.clone(),
            bundle.hierarchy.clone(),
            session.pipeline.display().clone(),
            &self.settings.view,
        );
        // A list that names nothing is shown in the Top classes panel.
        let _ = view.apply_filter(&self.settings.view);
        if let Some(speech) = &speech {
            view.add_speech_lane(speech.name().to_string(), speech.labels[0].clone());
        }
        if let Some(rate) = bundle.framewise_output().and_then(|o| o.frame_rate_hz) {
            if let Err(error) = view.enable_events(rate) {
                self.report(format!("no live events for {}: {error}", bundle.name()));
            }
        }
        self.view = Some(view);
        if let SourceRequest::Microphone(_) = &request {
            self.settings.device = Some(session.source.label.clone());
        }
        self.settings.model = Some(bundle.dir.display().to_string());
        self.device_problem = None;
        self.running = Some(Running {
            live,
            callbacks: 0,
            callbacks_moved_at: Instant::now(),
            session,
            request,
            bundle,
            provider,
            card,
            speech,
        });
    }

    /// Moves the running model to another source; a source that will not open is reported
    /// and what runs stays.
    fn switch_source(&mut self, request: SourceRequest) {
        self.pending_source = request.clone();
        if let Some(model) = self.idle_model.take() {
            return self.start(model, request);
        }
        if self.running.is_none() {
            return;
        }
        match request.open() {
            Ok(source) => self.switch_to(source, request),
            Err(error) => self.report(error.to_string()),
        }
    }

    /// Moves the running models to an opened source.
    fn switch_to(&mut self, source: LiveSource, request: SourceRequest) {
        let previous_position = self.position_in(&request);
        if let Some((main, speech)) = self.stop_running() {
            self.launch_session(source, request, main, speech, previous_position);
        }
    }

    /// Turns the speech track on or off; the session restarts on the same source (a demo
    /// file keeps its place).
    fn set_speech_track(&mut self, on: bool) {
        self.settings.speech_track = on;
        let has_model =
            self.speech_idle.is_some() || self.running.as_ref().is_some_and(|r| r.speech.is_some());
        if on && !has_model {
            if self.speech_loading.is_none() {
                self.load_speech();
            }
            return;
        }
        if let Some(request) = self.running.as_ref().map(|r| r.request.clone()) {
            self.switch_source(request);
        }
    }

    /// Per-frame work that does not draw: loaded models, pipeline events, device health.
    fn tick(&mut self) {
        if let Some((name, rx)) = &self.loading {
            match rx.try_recv() {
                Ok(Ok(model)) => {
                    self.loading = None;
                    let request = self.pending_source.clone();
                    self.start(model, request);
                }
                Ok(Err(error)) => {
                    let name = name.clone();
                    self.loading = None;
                    self.report(format!("cannot load model {name}: {error}"));
                }
                Err(_) => {}
            }
        }
        if let Some((name, rx)) = &self.speech_loading {
            match rx.try_recv() {
                Ok(Ok(model)) => {
                    self.speech_loading = None;
                    self.speech_idle = Some(model);
                    if self.settings.speech_track {
                        self.set_speech_track(true);
                    }
                }
                Ok(Err(error)) => {
                    let name = name.clone();
                    self.speech_loading = None;
                    self.settings.speech_track = false;
                    self.report(format!(
                        "cannot start the speech track with {name}: {error}"
                    ));
                }
                Err(_) => {}
            }
        }
        if let Some((what, rx)) = &self.browse {
            if let Ok(picked) = rx.try_recv() {
                let what = *what;
                self.browse = None;
                if let Some(path) = picked {
                    self.open_path(&path, Some(what));
                }
            }
        }

        let now = Instant::now();
        if self.idle_model.is_some() && now >= self.next_reconnect {
            self.next_reconnect = now + RECONNECT_EVERY;
            if let Some(model) = self.idle_model.take() {
                let request = self.pending_source.clone();
                self.start(model, request);
            }
        }
        let Some(running) = &mut self.running else {
            return;
        };
        let mut errors = Vec::new();
        for event in running.session.pipeline.events().try_iter() {
            if self.paused {
                continue;
            }
            if let Some(view) = &mut self.view {
                if let Some(error) = view.ingest(event, now, &self.settings.view) {
                    errors.push(error);
                }
            }
        }
        // Device health: an error callback, or a microphone that stopped delivering.
        let callbacks = running.session.counters.callbacks.load(Ordering::Relaxed);
        if callbacks != running.callbacks {
            running.callbacks = callbacks;
            running.callbacks_moved_at = now;
        }
        let is_mic = running.session.source.kind == SourceKind::Microphone;
        let label = running.session.source.label.clone();
        let lost = running.session.counters.device_lost.load(Ordering::Relaxed);
        let stalled = is_mic && now.duration_since(running.callbacks_moved_at) > STALL;
        for error in errors {
            self.report(error);
        }
        if lost || stalled {
            if self.device_problem.is_none() {
                self.device_problem = Some(if lost {
                    format!("input device {label} went away")
                } else {
                    format!("no audio from {label} for {} s", STALL.as_secs())
                });
            }
            if now >= self.next_reconnect {
                self.next_reconnect = now + RECONNECT_EVERY;
                let request = self
                    .running
                    .as_ref()
                    .map(|r| r.request.clone())
                    .unwrap_or_else(|| self.pending_source.clone());
                self.try_reconnect(request);
            }
        }
    }

    /// Reopens the lost source quietly: the device-problem banner already says what is
    /// wrong, and stays until a source opens.
    fn try_reconnect(&mut self, request: SourceRequest) {
        if let Ok(source) = request.open() {
            self.switch_to(source, request);
        }
    }

    /// A dropped or chosen path: a bundle folder, a bundle.toml, an .onnx inside a bundle,
    /// or an audio file for demo mode.
    fn open_path(&mut self, path: &Path, hint: Option<BrowseFor>) {
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let is_audio = AUDIO_EXTENSIONS.contains(&extension.as_str());
        if is_audio && hint != Some(BrowseFor::Model) {
            self.switch_source(SourceRequest::File {
                path: path.to_path_buf(),
                audible: true,
            });
            return;
        }
        let bundle_dir = if extension == "onnx" || extension == "toml" {
            path.parent().unwrap_or(Path::new(".")).to_path_buf()
        } else {
            path.to_path_buf()
        };
        if extension == "onnx" && !bundle_dir.join("bundle.toml").is_file() {
            self.report(format!(
                "{} is a bare ONNX file: livetag needs its bundle (a folder with bundle.toml, labels and licence; see docs/BUNDLE_FORMAT.md)",
                path.display()
            ));
            return;
        }
        self.load_model(bundle_dir.display().to_string());
    }

    fn browse(&mut self, what: BrowseFor) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let spawned = std::thread::Builder::new()
            .name("livetag-file-dialog".to_string())
            .spawn(move || {
                let dialog = rfd::FileDialog::new();
                let picked = match what {
                    BrowseFor::Model => {
                        dialog.set_title("Open a model bundle folder").pick_folder()
                    }
                    BrowseFor::Audio => dialog
                        .set_title("Open an audio file")
                        .add_filter("audio", &AUDIO_EXTENSIONS)
                        .pick_file(),
                };
                let _ = tx.send(picked);
            });
        if spawned.is_ok() {
            self.browse = Some((what, rx));
        }
    }

    fn toggle_pause(&mut self) {
        self.paused = !self.paused;
        if let Some(playback) = self.running.as_ref().and_then(|r| r.session.playback()) {
            playback.set_paused(self.paused);
        }
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        if ctx.input_mut(|i| i.consume_shortcut(&OPEN_AUDIO)) {
            self.audio_dialog = Some(String::new());
        }
        if ctx.input_mut(|i| i.consume_shortcut(&OPEN_MODEL)) {
            self.model_dialog = Some(String::new());
        }
        if ctx.input_mut(|i| i.consume_shortcut(&QUIT)) {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let pressed = |key| ctx.input_mut(|i| i.consume_key(Modifiers::NONE, key));
        if pressed(PAUSE) {
            self.toggle_pause();
        }
        if pressed(NEXT_COLORMAP) {
            self.settings.view.colormap = self.settings.view.colormap.next();
        }
        if pressed(MODEL_INPUT) {
            self.settings.view.show_model_input = !self.settings.view.show_model_input;
        }
        if pressed(MODEL_CARD) {
            self.show_card = !self.show_card;
        }
        if pressed(NEXT_TOP_K_MODE) {
            self.settings.view.top_k_mode = self.settings.view.top_k_mode.next();
        }
        if pressed(SPEECH_TRACK) {
            self.set_speech_track(!self.settings.speech_track);
        }
        if pressed(HELP) {
            self.show_help = !self.show_help;
        }
    }

    fn menu_bar(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("Source", |ui| {
                if self.devices.is_empty() {
                    self.devices = list_inputs();
                }
                ui.label("Microphone");
                let current = self
                    .running
                    .as_ref()
                    .map(|r| r.session.source.label.clone());
                let mut picked = None;
                for device in &self.devices {
                    let selected = current.as_deref() == Some(device.id.as_str());
                    let text = format!("{} ({})", device.name, device.id);
                    if ui.selectable_label(selected, text).clicked() {
                        picked = Some(device.id.clone());
                    }
                }
                if ui.button("Refresh device list").clicked() {
                    self.devices = list_inputs();
                }
                ui.separator();
                if ui
                    .add(
                        egui::Button::new("Open audio file (demo mode)…")
                            .shortcut_text(ctx.format_shortcut(&OPEN_AUDIO)),
                    )
                    .clicked()
                {
                    self.audio_dialog = Some(String::new());
                    ui.close();
                }
                if let Some(id) = picked {
                    self.switch_source(SourceRequest::Microphone(Some(id)));
                    ui.close();
                }
            });
            ui.menu_button("Model", |ui| {
                if ui
                    .add(
                        egui::Button::new("Open model…")
                            .shortcut_text(ctx.format_shortcut(&OPEN_MODEL)),
                    )
                    .clicked()
                {
                    self.model_dialog = Some(String::new());
                    ui.close();
                }
                if ui
                    .add(egui::Button::new("Model card").shortcut_text("I"))
                    .clicked()
                {
                    self.show_card = true;
                    ui.close();
                }
                let mut speech = self.settings.speech_track;
                let speech_label = format!("Speech track ({}) (S)", self.speech_model_name());
                if ui.checkbox(&mut speech, speech_label).changed() {
                    self.set_speech_track(speech);
                    ui.close();
                }
                self.live_window_ui(ui);
                ui.separator();
                ui.label("Installed");
                for model in self.installed_models() {
                    if ui
                        .button(&model.name)
                        .on_hover_text(model.path.display().to_string())
                        .clicked()
                    {
                        self.load_model(model.path.display().to_string());
                        ui.close();
                    }
                }
            });
            ui.menu_button("View", |ui| {
                if ui
                    .add(
                        egui::Button::new(if self.paused { "Resume" } else { "Pause" })
                            .shortcut_text("Space"),
                    )
                    .clicked()
                {
                    self.toggle_pause();
                }
                let view = &mut self.settings.view;
                ui.checkbox(&mut view.show_model_input, "Model input (M)");
                egui::ComboBox::from_label("colour map (C)")
                    .selected_text(view.colormap.name())
                    .show_ui(ui, |ui| {
                        for map in super::colormap::Colormap::ALL {
                            ui.selectable_value(&mut view.colormap, map, map.name());
                        }
                    });
                ui.add(egui::Slider::new(&mut view.db_low, -160.0..=0.0).text("dB floor"));
                ui.add(egui::Slider::new(&mut view.db_high, -100.0..=20.0).text("dB ceiling"));
                if view.db_high <= view.db_low + 1.0 {
                    view.db_high = view.db_low + 1.0;
                }
                ui.add(
                    egui::Slider::new(&mut view.smoothing_secs, 0.0..=3.0).text("smoothing (s)"),
                );
                ui.add(egui::Slider::new(&mut view.top_k, 1..=10).text("classes shown"));
                egui::ComboBox::from_label("top classes (T)")
                    .selected_text(view.top_k_mode.name())
                    .show_ui(ui, |ui| {
                        for mode in crate::ontology::TopKMode::MODES {
                            ui.selectable_value(&mut view.top_k_mode, mode, mode.name());
                        }
                    })
                    .response
                    .on_hover_text(format!(
                        "most-specific: a class gives way to a descendant scoring at least {:.0} % of it (Bark over Dog); grouped: children indented under their parent; all: plain score order",
                        crate::ontology::COMPARABLE_SCORE_RATIO * 100.0
                    ));
                if let Some(model) = self.running.as_ref().map(|r| r.bundle.name().to_string()) {
                    let lists = view.class_lists.entry(model).or_default();
                    ui.horizontal(|ui| {
                        ui.label("only");
                        ui.text_edit_singleline(&mut lists.only)
                            .on_hover_text("classes of this model to show, separated by ';': a label, or an ontology class and everything under it (Animal; Vehicle)");
                    });
                    ui.horizontal(|ui| {
                        ui.label("except");
                        ui.text_edit_singleline(&mut lists.except)
                            .on_hover_text("classes of this model never to show, separated by ';' (Music)");
                    });
                }
                ui.add(
                    egui::Slider::new(&mut view.default_threshold, 0.0..=1.0)
                        .text("default threshold"),
                );
            });
            ui.menu_button("Help", |ui| {
                if ui
                    .add(egui::Button::new("Keyboard shortcuts").shortcut_text("F1"))
                    .clicked()
                {
                    self.show_help = true;
                    ui.close();
                }
                if ui.button("About livetag").clicked() {
                    self.show_about = true;
                    ui.close();
                }
                if ui
                    .add(egui::Button::new("Quit").shortcut_text(ctx.format_shortcut(&QUIT)))
                    .clicked()
                {
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            if self.paused {
                ui.colored_label(ui.visuals().warn_fg_color, "paused (Space resumes)");
            }
            for (name, _) in self.loading.iter().chain(&self.speech_loading) {
                ui.spinner();
                ui.label(format!("loading {name}…"));
            }
        });
    }

    /// Model > live window: window length and hop of the running model, within what the
    /// bundle allows. Applying restarts the stream on the same source.
    fn live_window_ui(&mut self, ui: &mut egui::Ui) {
        let Some(running) = &self.running else {
            return;
        };
        ui.separator();
        ui.label(format!("Live window ({})", running.bundle.name()));
        let (min_secs, max_secs) = running.bundle.input.window_secs_range();
        let stateful = running.bundle.is_stateful();
        let (name, running_live, request) = (
            running.bundle.name().to_string(),
            running.live,
            running.request.clone(),
        );
        // The sliders edit a draft of what runs; nothing is saved until it is applied.
        let draft = self.live_draft.get_or_insert(running_live);
        if max_secs > min_secs {
            ui.add(
                egui::Slider::new(&mut draft.window_secs, min_secs..=max_secs)
                    .text("window (s)")
                    .fixed_decimals(2),
            );
        } else {
            ui.label(format!("window {min_secs:.2} s (fixed by the model)"));
        }
        if stateful {
            ui.label(format!(
                "a prediction every {:.0} ms (a stateful model runs at its own hop)",
                running_live.hop_secs * 1e3
            ));
        } else {
            ui.add(
                egui::Slider::new(&mut draft.hop_secs, 0.01..=2.0)
                    .logarithmic(true)
                    .text("hop (s)")
                    .fixed_decimals(3),
            );
        }
        let draft = *draft;
        // Both were rounded to whole rows or milliseconds on the way in.
        let differs = |a: f64, b: f64| (a - b).abs() > 5e-4;
        let pending = differs(draft.window_secs, running_live.window_secs)
            || differs(draft.hop_secs, running_live.hop_secs);
        if ui
            .add_enabled(pending, egui::Button::new("Apply (restarts the stream)"))
            .clicked()
        {
            self.settings.live.insert(name, draft);
            // What is set here wins over --hop-secs / --window-secs from now on.
            self.launch.hop_secs = None;
            self.launch.window_secs = None;
            self.live_draft = None;
            self.switch_source(request);
            ui.close();
        } else if ui.button("Use the model's defaults").clicked() {
            self.settings.live.remove(&name);
            self.launch.hop_secs = None;
            self.launch.window_secs = None;
            self.live_draft = None;
            self.switch_source(request);
            ui.close();
        }
    }

    fn banners(&mut self, ui: &mut egui::Ui) {
        let mut dismissed = None;
        let problem = self.device_problem.as_ref().map(|p| Banner {
            text: format!("{p}. Reconnecting… (or pick another device in Source)"),
            error: true,
        });
        for (i, banner) in problem.iter().chain(self.banners.iter()).enumerate() {
            let colour = if banner.error {
                ui.visuals().error_fg_color
            } else {
                ui.visuals().warn_fg_color
            };
            egui::Frame::new()
                .fill(colour.gamma_multiply(0.15))
                .stroke((1.0, colour))
                .inner_margin(6)
                .corner_radius(4)
                .show(ui, |ui| {
                    ui.horizontal(|ui| {
                        ui.colored_label(colour, &banner.text);
                        if (problem.is_none() || i > 0) && ui.small_button("✕").clicked() {
                            dismissed = Some(i - usize::from(problem.is_some()));
                        }
                    });
                });
        }
        if let Some(i) = dismissed {
            self.banners.remove(i);
        }
    }

    fn status_bar(&self, ui: &mut egui::Ui) {
        let Some(running) = &self.running else {
            ui.label("no session yet");
            return;
        };
        let session = &running.session;
        let stats = session.pipeline.stats();
        let counters = &session.counters;
        let (latency, inference) = match &self.view {
            Some(view) => (
                percentiles(&view.latency_ms),
                percentiles(&view.inference_ms),
            ),
            None => ("-".to_string(), "-".to_string()),
        };
        let line = StatusLine {
            source: format!(
                "{} @ {} Hz",
                session.source.label, session.source.sample_rate_hz
            ),
            model: match &running.speech {
                Some(speech) => format!("{} + {}", running.bundle.name(), speech.name()),
                None => running.bundle.name().to_string(),
            },
            provider: running.provider.clone(),
            window: format!(
                "{:.2} s window every {:.0} ms{}",
                running.live.window_secs,
                running.live.hop_secs * 1e3,
                stats
                    .hop_budget(session.source.sample_rate_hz, running.live.hop_secs)
                    .map(|b| format!(", {:.0} % of each hop spent", b.percent_of_hop()))
                    .unwrap_or_default()
            ),
            inference_ms: inference,
            latency_ms: latency,
            dropped_windows: stats.windows_dropped(),
            xruns: counters.xruns.load(Ordering::Relaxed),
            overflow_frames: counters.overflow_frames.load(Ordering::Relaxed),
        };
        line.ui(ui);
    }

    fn seek_bar(&mut self, ui: &mut egui::Ui) {
        let Some(playback) = self.running.as_ref().and_then(|r| r.session.playback()) else {
            return;
        };
        let mut position = playback.position_secs();
        let duration = playback.duration_secs();
        let mut toggle = false;
        ui.horizontal(|ui| {
            if ui
                .button(if playback.is_paused() {
                    "Play"
                } else {
                    "Pause"
                })
                .clicked()
            {
                toggle = true;
            }
            ui.spacing_mut().slider_width = (ui.available_width() - 160.0).max(100.0);
            let label = format!("{position:.1} / {duration:.1} s");
            let slider = egui::Slider::new(&mut position, 0.0..=duration)
                .show_value(false)
                .text(label);
            if ui.add(slider).changed() {
                playback.seek(position);
            }
            if !playback.is_audible() {
                ui.label("(muted: no output device)");
            }
        });
        if toggle {
            self.toggle_pause();
        }
    }

    fn dialogs(&mut self, ctx: &egui::Context) {
        if let Some(mut text) = self.model_dialog.take() {
            let installed = self.installed_models();
            let mut open = true;
            let mut chosen = None;
            egui::Window::new("Open model").open(&mut open).collapsible(false).show(ctx, |ui| {
                ui.label("A bundle folder (bundle.toml, model.onnx, labels, licence), or an installed name:");
                let response = ui.add(egui::TextEdit::singleline(&mut text).hint_text("models/musicnn-mtt").desired_width(360.0));
                ui.horizontal(|ui| {
                    if ui.button("Open").clicked() || (response.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter))) {
                        chosen = Some(text.clone());
                    }
                    if ui.button("Browse…").clicked() {
                        self.browse(BrowseFor::Model);
                    }
                });
                ui.separator();
                for model in &installed {
                    if ui.button(format!("{} ({} classes)", model.name, model.classes)).clicked() {
                        chosen = Some(model.path.display().to_string());
                    }
                }
            });
            match chosen {
                Some(path) if !path.trim().is_empty() => {
                    self.open_path(Path::new(path.trim()), Some(BrowseFor::Model))
                }
                _ if open => self.model_dialog = Some(text),
                _ => {}
            }
        }
        if let Some(mut text) = self.audio_dialog.take() {
            let mut open = true;
            let mut chosen = None;
            egui::Window::new("Open audio file")
                .open(&mut open)
                .collapsible(false)
                .show(ctx, |ui| {
                    ui.label("Played in real time and tagged live (wav, flac, ogg, mp3):");
                    let response = ui.add(
                        egui::TextEdit::singleline(&mut text)
                            .hint_text("assets/whistle.wav")
                            .desired_width(360.0),
                    );
                    ui.horizontal(|ui| {
                        if ui.button("Play").clicked()
                            || (response.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)))
                        {
                            chosen = Some(text.clone());
                        }
                        if ui.button("Browse…").clicked() {
                            self.browse(BrowseFor::Audio);
                        }
                    });
                });
            match chosen {
                Some(path) if !path.trim().is_empty() => {
                    self.open_path(Path::new(path.trim()), Some(BrowseFor::Audio))
                }
                _ if open => self.audio_dialog = Some(text),
                _ => {}
            }
        }
        if self.show_card {
            if let Some(running) = &self.running {
                let bundle = &running.bundle;
                egui::Window::new(format!("Model card: {}", bundle.name()))
                    .open(&mut self.show_card)
                    .collapsible(false)
                    .show(ctx, |ui| {
                        super::view::model_card_ui(ui, bundle, running.card.as_ref())
                    });
            }
        }
        if self.show_help {
            egui::Window::new("Keyboard shortcuts")
                .open(&mut self.show_help)
                .collapsible(false)
                .show(ctx, |ui| {
                    egui::Grid::new("shortcuts").show(ui, |ui| {
                        for (keys, what) in [
                            ("Space", "pause / resume"),
                            ("C", "next colour map"),
                            ("M", "show the model's input"),
                            ("S", "speech track on / off"),
                            ("I", "model card: parameters, compute, provider"),
                            (&*ctx.format_shortcut(&OPEN_MODEL), "open a model"),
                            (
                                &*ctx.format_shortcut(&OPEN_AUDIO),
                                "open an audio file (demo mode)",
                            ),
                            (&*ctx.format_shortcut(&QUIT), "quit"),
                            ("T", "top classes: most-specific, grouped, all"),
                            ("F1", "this help"),
                            ("right-click a bar", "set that class's threshold"),
                        ] {
                            ui.monospace(keys);
                            ui.label(what);
                            ui.end_row();
                        }
                    });
                });
        }
        if self.show_about {
            let model = self.running.as_ref().map(|r| &r.bundle);
            egui::Window::new("About livetag")
                .open(&mut self.show_about)
                .collapsible(false)
                .show(ctx, |ui| about_ui(ui, model));
        }
    }

    /// Scripted runs: close after `quit_after`, taking a screenshot first if asked.
    fn scripted_exit(&mut self, ctx: &egui::Context) {
        let Some(after) = self.launch.quit_after else {
            return;
        };
        if let Some(image) = self.screenshot.as_ref().and_then(|rx| rx.try_recv().ok()) {
            self.screenshot = None;
            if let Some(path) = &self.launch.screenshot {
                self.save_screenshot(&image, path);
            }
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        if self.closing || self.started.elapsed() < after {
            return;
        }
        self.closing = true;
        if let Some(view) = &self.view {
            eprintln!(
                "livetag: {} frames, ui time p50 {} ms p99 {} ms; capture-to-screen p50/p99 {} ms; inference p50/p99 {} ms",
                self.frame_ms.len(),
                self.frame_ms.percentile(50.0).map_or("-".into(), |v| format!("{v:.2}")),
                self.frame_ms.percentile(99.0).map_or("-".into(), |v| format!("{v:.2}")),
                percentiles(&view.latency_ms),
                percentiles(&view.inference_ms),
            );
        }
        if let Some(running) = &self.running {
            let source_rate_hz = running.session.source.sample_rate_hz;
            let budget = running
                .session
                .pipeline
                .stats()
                .hop_budget(source_rate_hz, running.live.hop_secs);
            if let Some(budget) = budget {
                eprintln!("livetag: {budget}");
            }
        }
        if self.launch.screenshot.is_some() {
            let (tx, rx) = crossbeam_channel::bounded(1);
            let repaint = ctx.clone();
            ctx.request_screenshot(move |image| {
                let _ = tx.send(image);
                repaint.request_repaint();
            });
            self.screenshot = Some(rx);
        } else {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }

    /// Writes the screenshot and, beside it, the layout of what the last frame drew.
    fn save_screenshot(&self, image: &egui::ColorImage, path: &Path) {
        let layout = serde_json::to_string_pretty(&self.layout).unwrap_or_default();
        let _ = std::fs::write(path.with_extension("json"), layout);
        match save_png(image, path) {
            Ok(()) => eprintln!("livetag: screenshot saved to {}", path.display()),
            Err(e) => eprintln!("error: cannot save screenshot {}: {e}", path.display()),
        }
    }
}

/// Help > About: version, the running model's licence, and the attributions the bundled
/// data asks for (NOTICE.md has the full list).
fn about_ui(ui: &mut egui::Ui, model: Option<&Bundle>) {
    ui.heading(format!("livetag {}", env!("CARGO_PKG_VERSION")));
    ui.label("Real-time audio tagging with self-describing model bundles. MIT OR Apache-2.0.");
    if let Some(bundle) = model {
        ui.label(format!(
            "Model: {}, licence {} ({}).",
            bundle.name(),
            bundle.spec.model.licence,
            bundle.dir.join(&bundle.spec.model.licence_file).display()
        ));
    }
    // Compiled in whatever model runs, so always credited.
    ui.label(format!(
        "Class hierarchy: {}.",
        crate::ontology::AUDIOSET_ATTRIBUTION
    ));
    ui.label("AudioSet class list: Google Inc., CC BY 4.0. NOTICE.md lists every bundled model's licence.");
}

fn save_png(image: &egui::ColorImage, path: &Path) -> Result<(), String> {
    let [width, height] = image.size;
    let bytes: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    image::save_buffer(
        path,
        &bytes,
        width as u32,
        height as u32,
        image::ColorType::Rgba8,
    )
    .map_err(|e| e.to_string())
}

fn percentiles(values: &crate::pipeline::Percentiles) -> String {
    match (values.percentile(50.0), values.percentile(99.0)) {
        (Some(p50), Some(p99)) => format!("{p50:.0}/{p99:.0}"),
        _ => "-".to_string(),
    }
}

/// The status bar's figures, already formatted where that is simpler.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusLine {
    pub source: String,
    pub model: String,
    pub provider: String,
    /// Live window, hop, and the share of each hop the front-end and models take.
    pub window: String,
    /// "p50/p99" in ms.
    pub inference_ms: String,
    pub latency_ms: String,
    pub dropped_windows: u64,
    pub xruns: u64,
    pub overflow_frames: u64,
}

impl StatusLine {
    pub fn ui(&self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.label(format!("source {}", self.source));
            ui.separator();
            ui.label(format!("model {} on {}", self.model, self.provider));
            ui.separator();
            ui.label(&self.window);
            ui.separator();
            ui.label(format!("inference p50/p99 {} ms", self.inference_ms));
            ui.separator();
            ui.label(format!("capture-to-screen p50/p99 {} ms", self.latency_ms));
            ui.separator();
            let problems = self.dropped_windows + self.xruns + self.overflow_frames > 0;
            let colour = if problems {
                ui.visuals().warn_fg_color
            } else {
                ui.visuals().text_color()
            };
            ui.colored_label(
                colour,
                format!(
                    "dropped windows {}, xruns {}, lost frames {}",
                    self.dropped_windows, self.xruns, self.overflow_frames
                ),
            );
        });
    }
}

impl eframe::App for LivetagApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.tick();
        self.scripted_exit(ctx);
        ctx.request_repaint_after(Duration::from_millis(16));
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let frame_started = Instant::now();
        let ctx = ui.ctx().clone();
        self.layout.pixels_per_point = ctx.pixels_per_point();
        self.shortcuts(&ctx);
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        for path in dropped {
            self.open_path(&path, None);
        }
        egui::Panel::top("menu").show(ui, |ui| {
            self.menu_bar(ui);
            self.banners(ui);
        });
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        if self
            .running
            .as_ref()
            .is_some_and(|r| r.session.playback().is_some())
        {
            egui::Panel::bottom("seek").show(ui, |ui| self.seek_bar(ui));
        }
        egui::Panel::right("tags")
            .resizable(true)
            .default_size(300.0)
            .min_size(180.0)
            .show(ui, |ui| {
                // The panel keeps the width it is given, not the width of its first
                // frame's "loading model…", which left AudioSet labels three letters wide.
                ui.set_min_width(ui.available_width());
                ui.heading("Top classes");
                if let Some(view) = &mut self.view {
                    if let Some(error) = view.apply_filter(&self.settings.view) {
                        ui.colored_label(ui.visuals().warn_fg_color, error);
                    }
                    let bars = view.top_k_ui(ui, &mut self.settings.view);
                    self.layout.bars = bars.into_iter().map(|(l, r)| (l, corners(r))).collect();
                    super::view::event_log_ui(ui, view);
                } else {
                    ui.label("loading model…");
                }
            });
        egui::CentralPanel::default().show(ui, |ui| {
            let Some(view) = &mut self.view else {
                ui.centered_and_justified(|ui| ui.label("starting…"));
                return;
            };
            let timeline_height = (ui.available_height() * 0.35).max(120.0);
            let spectrogram_height = (ui.available_height() - timeline_height - 8.0).max(80.0);
            let lane_height = if view.has_speech_lane() { 34.0 } else { 0.0 };
            let spectrogram_height = (spectrogram_height - lane_height).max(80.0);
            let rect = view.spectrogram_ui(ui, &self.settings.view, spectrogram_height);
            self.layout.spectrogram = corners(rect);
            self.layout.speech = view
                .speech_lane_ui(ui, &self.settings.view, lane_height)
                .map(corners);
            view.timeline_ui(ui, &self.settings.view, timeline_height);
        });
        if ctx.input(|i| !i.raw.hovered_files.is_empty()) {
            let painter = ctx.layer_painter(egui::LayerId::new(
                egui::Order::Foreground,
                egui::Id::unique("drop"),
            ));
            let rect = ctx.content_rect();
            painter.rect_filled(rect, 0.0, Color32::from_black_alpha(180));
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "drop a model bundle (folder, bundle.toml, .onnx) or an audio file",
                egui::FontId::proportional(20.0),
                Color32::WHITE,
            );
        }
        self.dialogs(&ctx);
        self.frame_ms
            .push(frame_started.elapsed().as_secs_f64() * 1e3);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}
