//! The eframe application: a front end on the live engine. Each frame it takes the
//! engine's updates, draws the panels and the live view, and sends what the user asked for
//! as commands after the frame. It owns no audio, model or device: nothing it does waits.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use eframe::egui::{self, Color32};

use super::panels::banners::Banners;
use super::panels::dialogs::{Dialogs, AUDIO_EXTENSIONS};
use super::panels::menus::{self, MenuBar};
use super::panels::source::SeekBar;
use super::panels::status::{percentiles, StatusBar, StatusLine};
use super::panels::{Action, PanelContext, PathKind};
use super::view::{LiveView, ViewSettings};
use crate::bundle::catalog;
use crate::capture::{SourceKind, SourceRequest};
use crate::engine::{
    Backend, Command, EngineHandle, EngineOptions, InstalledModel, LiveWindow, Role, SessionInfo,
    SessionState, StartOptions, SystemBackend, Update,
};
use crate::pipeline::Percentiles;

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
    pub live: BTreeMap<String, LiveWindow>,
}

/// Written beside a screenshot, so a script can check the picture region by region.
#[derive(Debug, Clone, Default, serde::Serialize)]
struct ScreenLayout {
    pixels_per_point: f32,
    spectrogram: [f32; 4],
    speech: Option<[f32; 4]>,
    bars: Vec<(String, [f32; 4])>,
    /// Labels of the sound event spans the timeline drew, left to right as listed.
    event_spans: Vec<String>,
}

fn corners(rect: egui::Rect) -> [f32; 4] {
    [rect.min.x, rect.min.y, rect.max.x, rect.max.y]
}

/// A run with `--duration`: when it started, and the screenshot on its way.
struct ScriptedRun {
    started: Instant,
    screenshot: Option<Receiver<Arc<egui::ColorImage>>>,
    closing: bool,
}

pub struct LivetagApp {
    engine: EngineHandle,
    settings: Settings,
    options: StartOptions,
    state: SessionState,
    /// When the state arrived: a retry's countdown is shown from it.
    state_at: Instant,
    session: Option<Arc<SessionInfo>>,
    view: Option<LiveView>,
    /// Models loading, by role.
    loading: BTreeMap<Role, String>,
    installed: Option<Vec<InstalledModel>>,
    paused: bool,
    menus: MenuBar,
    dialogs: Dialogs,
    banners: Banners,
    /// What the panels asked for this frame; applied after it.
    actions: Vec<Action>,
    scripted: ScriptedRun,
    /// Where the last frame drew the spectrogram and the bars (for screenshot checks).
    layout: ScreenLayout,
    /// Wall time of each frame's `ui()`, for the scripted-run report and the frame budget.
    frame_ms: Percentiles,
    /// How long each reconnection took: that much audio was not heard.
    outages: Vec<Duration>,
}

impl LivetagApp {
    /// The window on the real engine: cpal devices, demo files and installed bundles.
    pub fn new(options: StartOptions, settings: Settings) -> std::io::Result<Self> {
        let backend = Arc::new(SystemBackend {
            models: options.models.clone(),
            cards: true,
            ..SystemBackend::default()
        });
        Self::with_backend(options, settings, backend)
    }

    /// The window on any backend (tests use stand-ins); starts the engine and asks it for
    /// the model and source the options and settings name.
    pub fn with_backend(
        options: StartOptions,
        mut settings: Settings,
        backend: Arc<dyn Backend>,
    ) -> std::io::Result<Self> {
        let engine = EngineHandle::spawn(
            backend,
            EngineOptions {
                hop_secs: options.hop_secs,
                window_secs: options.window_secs,
                live_windows: settings.live.clone(),
                speech_model: options.speech.clone(),
                ..EngineOptions::default()
            },
        )?;
        if options.speech.is_some() {
            settings.speech_track = true;
        }
        if let Some(mode) = options.top_k_mode {
            settings.view.top_k_mode = mode;
        }
        let model = options
            .model
            .clone()
            .or_else(|| settings.model.clone())
            .unwrap_or_else(|| catalog::DEFAULT_MODEL.to_string());
        let source = options
            .source
            .clone()
            .unwrap_or_else(|| SourceRequest::Microphone(settings.device.clone()));
        engine.send(Command::LoadModel {
            role: Role::Tagger,
            model,
        });
        if settings.speech_track {
            engine.send(Command::SetSpeechTrack(true));
        }
        engine.send(Command::SetSource(source));
        Ok(Self {
            engine,
            settings,
            options,
            state: SessionState::Idle,
            state_at: Instant::now(),
            session: None,
            view: None,
            loading: BTreeMap::new(),
            installed: None,
            paused: false,
            menus: MenuBar::default(),
            dialogs: Dialogs::default(),
            banners: Banners::default(),
            actions: Vec::new(),
            scripted: ScriptedRun {
                started: Instant::now(),
                screenshot: None,
                closing: false,
            },
            layout: ScreenLayout::default(),
            frame_ms: Percentiles::new(100_000),
            outages: Vec::new(),
        })
    }

    /// Queues a command for the engine, sent after the next frame like the panels' own
    /// (scripts and tests drive the window this way).
    pub fn command(&mut self, command: Command) {
        self.actions.push(Action::Engine(command));
    }

    /// Wall time of every frame so far, in milliseconds.
    pub fn frame_ms(&self) -> &Percentiles {
        &self.frame_ms
    }

    /// The installed bundles the engine last listed, once it has.
    pub fn installed(&self) -> Option<&[InstalledModel]> {
        self.installed.as_deref()
    }

    pub fn state(&self) -> SessionState {
        self.state
    }

    pub fn session(&self) -> Option<&SessionInfo> {
        self.session.as_deref()
    }

    /// The banner's messages, the source problem first.
    pub fn banner_texts(&self) -> Vec<String> {
        self.banners.texts().into_iter().map(String::from).collect()
    }

    /// The live view, once a session has started.
    pub fn view(&self) -> Option<&LiveView> {
        self.view.as_ref()
    }

    /// Takes everything the engine sent since the last frame.
    fn take_updates(&mut self, now: Instant) {
        for update in self.engine.updates().try_iter().collect::<Vec<_>>() {
            self.apply_update(update);
        }
        let Some(view) = &mut self.view else {
            // Live data of no session yet: nothing to draw it on.
            self.engine.live().try_iter().for_each(drop);
            return;
        };
        for update in self.engine.live().try_iter() {
            if self.paused {
                continue;
            }
            if let Some(error) = view.ingest(update, now, &self.settings.view) {
                self.banners.error(error);
            }
        }
    }

    fn apply_update(&mut self, update: Update) {
        match update {
            Update::State(state) => {
                self.state = state;
                self.state_at = Instant::now();
            }
            Update::ModelLoading { role, model } => {
                self.loading.insert(role, model);
            }
            Update::ModelReady { role, .. } => {
                self.loading.remove(&role);
            }
            Update::ModelFailed { role, model, error } => {
                self.loading.remove(&role);
                match role {
                    Role::Tagger => self
                        .banners
                        .error(format!("cannot load model {model}: {error}")),
                    Role::Speech => {
                        self.settings.speech_track = false;
                        self.banners.error(format!(
                            "cannot start the speech track with {model}: {error}"
                        ));
                    }
                }
            }
            Update::SessionStarted(info) => self.session_started(info),
            Update::SourceFailed { error } => {
                let text = error;
                if self.session.is_some() && self.banners.source_problem().is_none() {
                    self.banners.error(text);
                } else {
                    self.banners.set_source_problem(Some(text));
                }
            }
            Update::SourceLost { source, problem } => {
                tracing::warn!("lost {source}: {problem}; reconnecting");
                self.banners
                    .set_source_problem(Some(format!("input {source}: {problem}")));
            }
            Update::RetryFailed { error, .. } => {
                // A source that never ran is not reconnected, just not there yet.
                let problem = match self.session {
                    Some(_) => format!("cannot reconnect: {error}"),
                    None => error,
                };
                self.banners.set_source_problem(Some(problem));
            }
            Update::Recovered { source, outage } => {
                tracing::info!(
                    "reconnected to {source} after {:.1} s",
                    outage.as_secs_f64()
                );
                self.outages.push(outage);
                self.banners.notice(format!(
                    "reconnected to {source} after {:.1} s; that much audio was not heard",
                    outage.as_secs_f64()
                ));
            }
            Update::TrackLost { role, message } => self.banners.error(format!(
                "the {role} model stopped ({message}); reloading it"
            )),
            Update::StreamNotice(notice) => self.banners.notice(notice),
            Update::Problem(problem) | Update::SessionFailed { error: problem } => {
                self.banners.error(problem)
            }
            Update::Devices(devices) => {
                self.menus.source.devices = Some(devices);
                self.menus.source.asked = false;
            }
            Update::InstalledModels(models) => self.installed = Some(models),
        }
    }

    /// Shows a started session: a fresh view on its tagger, lanes for its other tracks.
    fn session_started(&mut self, info: Arc<SessionInfo>) {
        self.menus.model.live_draft = None;
        let tagger = &info.tagger;
        if self.options.only.is_some() || self.options.except.is_some() {
            // The command line's lists belong to the first model that starts.
            let lists = self
                .settings
                .view
                .class_lists
                .entry(tagger.name().to_string())
                .or_default();
            if let Some(only) = self.options.only.take() {
                lists.only = only;
            }
            if let Some(except) = self.options.except.take() {
                lists.except = except;
            }
        }
        let mut view = LiveView::new(
            tagger.name().to_string(),
            tagger.labels.clone(),
            tagger.hierarchy.clone(),
            info.display.clone(),
            &self.settings.view,
        );
        // A list that names nothing is shown in the Top classes panel.
        let _ = view.apply_filter(&self.settings.view);
        if let Some(speech) = &info.speech {
            view.add_speech_lane(speech.name().to_string(), speech.labels[0].clone());
        }
        if let Some(delay_secs) = info.event_delay_secs {
            view.enable_event_log(delay_secs);
        }
        self.view = Some(view);
        if info.source.kind == SourceKind::Microphone {
            self.settings.device = Some(info.source.label.clone());
        }
        self.settings.model = Some(tagger.dir.display().to_string());
        if self.paused {
            self.engine.send(Command::SetPaused(true));
        }
        self.banners.set_source_problem(None);
        self.session = Some(info);
    }

    /// Applies what the panels asked for this frame, in order.
    fn apply_actions(&mut self, ctx: &egui::Context) {
        for action in std::mem::take(&mut self.actions) {
            match action {
                Action::Engine(command) => self.engine.send(command),
                Action::OpenPath { path, hint } => self.open_path(&path, hint),
                Action::TogglePause => {
                    self.paused = !self.paused;
                    self.engine.send(Command::SetPaused(self.paused));
                }
                Action::SetSpeechTrack(on) => {
                    self.settings.speech_track = on;
                    self.engine.send(Command::SetSpeechTrack(on));
                }
                Action::Show(dialog) => {
                    if let Some(command) = self.dialogs.show(dialog) {
                        self.engine.send(command);
                    }
                }
                Action::RefreshDevices => {
                    self.menus.source.asked = true;
                    self.engine.send(Command::ListDevices);
                }
                Action::Quit => ctx.send_viewport_cmd(egui::ViewportCommand::Close),
            }
        }
    }

    /// A dropped or chosen path: a bundle folder, a bundle.toml, an .onnx inside a bundle,
    /// or an audio file for demo mode. The engine reads it; a path that is neither is
    /// reported by the model loader, which names what it looked for.
    fn open_path(&mut self, path: &Path, hint: Option<PathKind>) {
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let is_audio = AUDIO_EXTENSIONS.contains(&extension.as_str());
        if hint == Some(PathKind::Audio) || (is_audio && hint != Some(PathKind::Model)) {
            self.engine.send(Command::SetSource(SourceRequest::File {
                path: path.to_path_buf(),
                audible: true,
            }));
            return;
        }
        let bundle_dir = if extension == "onnx" || extension == "toml" {
            path.parent().unwrap_or(Path::new(".")).to_path_buf()
        } else {
            path.to_path_buf()
        };
        self.engine.send(Command::LoadModel {
            role: Role::Tagger,
            model: bundle_dir.display().to_string(),
        });
    }

    /// One whole frame: updates in, panels and view drawn, actions out.
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        let frame_started = Instant::now();
        self.take_updates(frame_started);
        let ctx = ui.ctx().clone();
        self.layout.pixels_per_point = ctx.pixels_per_point();
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        for path in dropped {
            self.actions.push(Action::OpenPath { path, hint: None });
        }
        let retry = match self.state {
            SessionState::Recovering { attempt, .. } => {
                Some(format!("Reconnecting (attempt {})", attempt + 1))
            }
            _ => None,
        };
        let status = match (&self.session, &self.view) {
            (Some(session), Some(view)) => Some(StatusLine::of(
                session,
                &view.latency_ms,
                &view.inference_ms,
            )),
            _ => None,
        };
        let playback = self.session.as_ref().and_then(|s| s.playback.clone());
        let mut cx = PanelContext {
            settings: &mut self.settings,
            session: self.session.as_deref(),
            state: self.state.after(self.state_at.elapsed()),
            paused: self.paused,
            loading: &self.loading,
            installed: self.installed.as_deref(),
            actions: &mut self.actions,
        };
        menus::shortcuts(&ctx, &mut cx);
        self.dialogs.poll(&mut cx);
        egui::Panel::top("menu").show(ui, |ui| {
            self.menus.ui(ui, &mut cx);
            self.banners.ui(ui, retry);
        });
        egui::Panel::bottom("status").show(ui, |ui| StatusBar::ui(ui, cx.state, status));
        if let Some(playback) = &playback {
            egui::Panel::bottom("seek").show(ui, |ui| SeekBar::ui(ui, playback, &mut cx));
        }
        let layout = &mut self.layout;
        egui::Panel::right("tags")
            .resizable(true)
            .default_size(300.0)
            .min_size(180.0)
            .show(ui, |ui| {
                // The panel keeps the width it is given, not the width of its first
                // frame's "loading model…", which left AudioSet labels three letters wide.
                ui.set_min_width(ui.available_width());
                ui.heading("Top classes");
                match &mut self.view {
                    Some(view) => {
                        if let Some(error) = view.apply_filter(&cx.settings.view) {
                            ui.colored_label(ui.visuals().warn_fg_color, error);
                        }
                        let bars = view.top_k_ui(ui, &mut cx.settings.view);
                        layout.bars = bars.into_iter().map(|(l, r)| (l, corners(r))).collect();
                        super::view::event_log_ui(ui, view);
                    }
                    None => {
                        ui.label(cx.state.to_string());
                    }
                }
            });
        egui::CentralPanel::default().show(ui, |ui| {
            let Some(view) = &mut self.view else {
                ui.centered_and_justified(|ui| ui.label(format!("livetag: {}…", cx.state)));
                return;
            };
            let settings = &cx.settings.view;
            let timeline_height = (ui.available_height() * 0.35).max(120.0);
            let spectrogram_height = (ui.available_height() - timeline_height - 8.0).max(80.0);
            let lane_height = if view.has_speech_lane() { 34.0 } else { 0.0 };
            let spectrogram_height = (spectrogram_height - lane_height).max(80.0);
            let rect = view.spectrogram_ui(ui, settings, spectrogram_height);
            layout.spectrogram = corners(rect);
            layout.speech = view.speech_lane_ui(ui, settings, lane_height).map(corners);
            layout.event_spans = view.timeline_ui(ui, settings, timeline_height);
        });
        if ctx.input(|i| !i.raw.hovered_files.is_empty()) {
            drop_overlay_ui(&ctx);
        }
        self.dialogs.ui(&ctx, &mut cx);
        self.apply_actions(&ctx);
        self.frame_ms
            .push(frame_started.elapsed().as_secs_f64() * 1e3);
    }

    /// Scripted runs: close after `run_for`, taking a screenshot first if asked.
    fn scripted_exit(&mut self, ctx: &egui::Context) {
        let Some(after) = self.options.run_for else {
            return;
        };
        if let Some(image) = self
            .scripted
            .screenshot
            .as_ref()
            .and_then(|rx| rx.try_recv().ok())
        {
            self.scripted.screenshot = None;
            if let Some(path) = &self.options.screenshot {
                self.save_screenshot(&image, path);
            }
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        if self.scripted.closing || self.scripted.started.elapsed() < after {
            return;
        }
        self.scripted.closing = true;
        if let Some(view) = &self.view {
            eprintln!(
                "livetag: {} frames, ui time p50 {} ms p99 {} ms max {} ms; capture-to-screen p50/p99 {} ms; inference p50/p99 {} ms",
                self.frame_ms.len(),
                self.frame_ms.percentile(50.0).map_or("-".into(), |v| format!("{v:.2}")),
                self.frame_ms.percentile(99.0).map_or("-".into(), |v| format!("{v:.2}")),
                self.frame_ms.percentile(100.0).map_or("-".into(), |v| format!("{v:.2}")),
                percentiles(&view.latency_ms),
                percentiles(&view.inference_ms),
            );
        }
        if !self.outages.is_empty() {
            let lost: f64 = self.outages.iter().map(Duration::as_secs_f64).sum();
            eprintln!(
                "livetag: {} reconnection(s); about {lost:.1} s of audio not heard",
                self.outages.len()
            );
        }
        if let Some(session) = &self.session {
            let budget = session
                .stats
                .hop_budget(session.source.sample_rate_hz, session.live.hop_secs);
            if let Some(budget) = budget {
                eprintln!("livetag: {budget}");
            }
        }
        if self.options.screenshot.is_some() {
            let (tx, rx) = crossbeam_channel::bounded(1);
            let repaint = ctx.clone();
            ctx.request_screenshot(move |image| {
                let _ = tx.send(image);
                repaint.request_repaint();
            });
            self.scripted.screenshot = Some(rx);
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

fn drop_overlay_ui(ctx: &egui::Context) {
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

fn save_png(image: &egui::ColorImage, path: &Path) -> Result<(), image::ImageError> {
    let [width, height] = image.size;
    let bytes: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    image::save_buffer(
        path,
        &bytes,
        width as u32,
        height as u32,
        image::ColorType::Rgba8,
    )
}

impl eframe::App for LivetagApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.scripted_exit(ctx);
        // New audio arrives continuously; a frame every ~16 ms keeps the scroll smooth.
        ctx.request_repaint_after(Duration::from_millis(16));
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame_ui(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}
