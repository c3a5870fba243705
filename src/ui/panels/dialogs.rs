//! The window's dialogs: open a model, open an audio file (with the native picker on its
//! own thread), the model card, the shortcuts and About.

use std::path::PathBuf;

use crossbeam_channel::Receiver;
use eframe::egui::{self, Key};

use super::{Action, Dialog, PanelContext, PathKind};
use crate::bundle::Bundle;
use crate::engine::Command;

/// Audio file types offered for demo mode.
pub const AUDIO_EXTENSIONS: [&str; 6] = ["wav", "flac", "ogg", "oga", "mp3", "wave"];

#[derive(Default)]
pub struct Dialogs {
    /// The open-model dialog's text, while it is open.
    model: Option<String>,
    audio: Option<String>,
    /// The native file picker, running on its own thread (it blocks until closed).
    browse: Option<(PathKind, Receiver<Option<PathBuf>>)>,
    card: bool,
    shortcuts: bool,
    about: bool,
}

impl Dialogs {
    /// Opens (or for the card and the shortcuts, toggles) a dialog; returns what to ask the
    /// engine for it.
    pub fn show(&mut self, dialog: Dialog) -> Option<Command> {
        match dialog {
            Dialog::OpenModel => {
                self.model.get_or_insert_with(String::new);
                return Some(Command::ListInstalledModels);
            }
            Dialog::OpenAudio => {
                self.audio.get_or_insert_with(String::new);
            }
            Dialog::ModelCard => self.card = !self.card,
            Dialog::Shortcuts => self.shortcuts = !self.shortcuts,
            Dialog::About => self.about = true,
        }
        None
    }

    /// Takes the file picker's answer when it has one.
    pub fn poll(&mut self, cx: &mut PanelContext<'_>) {
        let Some((kind, rx)) = &self.browse else {
            return;
        };
        if let Ok(picked) = rx.try_recv() {
            let kind = *kind;
            self.browse = None;
            if let Some(path) = picked {
                cx.act(Action::OpenPath {
                    path,
                    hint: Some(kind),
                });
            }
        }
    }

    pub fn ui(&mut self, ctx: &egui::Context, cx: &mut PanelContext<'_>) {
        self.open_model_ui(ctx, cx);
        self.open_audio_ui(ctx, cx);
        if self.card {
            if let Some(session) = cx.session {
                egui::Window::new(format!("Model card: {}", session.tagger.name()))
                    .open(&mut self.card)
                    .collapsible(false)
                    .show(ctx, |ui| {
                        crate::ui::view::model_card_ui(ui, &session.tagger, session.card.as_ref())
                    });
            }
        }
        if self.shortcuts {
            egui::Window::new("Keyboard shortcuts")
                .open(&mut self.shortcuts)
                .collapsible(false)
                .show(ctx, |ui| {
                    egui::Grid::new("shortcuts").show(ui, |ui| {
                        for (keys, what) in super::menus::shortcut_list(ctx) {
                            ui.monospace(keys);
                            ui.label(what);
                            ui.end_row();
                        }
                    });
                });
        }
        if self.about {
            let model = cx.session.map(|s| s.tagger.as_ref());
            egui::Window::new("About livetag")
                .open(&mut self.about)
                .collapsible(false)
                .show(ctx, |ui| about_ui(ui, model));
        }
    }

    fn open_model_ui(&mut self, ctx: &egui::Context, cx: &mut PanelContext<'_>) {
        let Some(mut text) = self.model.take() else {
            return;
        };
        let mut open = true;
        let mut chosen = None;
        let mut browse = false;
        egui::Window::new("Open model")
            .open(&mut open)
            .collapsible(false)
            .show(ctx, |ui| {
                ui.label("A bundle folder (bundle.toml, model.onnx, labels, licence), or an installed name:");
                let response = ui.add(
                    egui::TextEdit::singleline(&mut text)
                        .hint_text("models/musicnn-mtt")
                        .desired_width(360.0),
                );
                ui.horizontal(|ui| {
                    let entered =
                        response.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
                    if ui.button("Open").clicked() || entered {
                        chosen = Some(text.clone());
                    }
                    browse = ui.button("Browse…").clicked();
                });
                ui.separator();
                match cx.installed {
                    None => {
                        ui.horizontal(|ui| {
                            ui.spinner();
                            ui.label("reading installed models…");
                        });
                    }
                    Some(installed) => {
                        for model in installed {
                            let label = format!("{} ({} classes)", model.name, model.classes);
                            if ui.button(label).clicked() {
                                chosen = Some(model.path.display().to_string());
                            }
                        }
                    }
                }
            });
        if browse {
            self.browse(PathKind::Model);
        }
        match chosen {
            Some(path) if !path.trim().is_empty() => cx.act(Action::OpenPath {
                path: PathBuf::from(path.trim()),
                hint: Some(PathKind::Model),
            }),
            _ if open => self.model = Some(text),
            _ => {}
        }
    }

    fn open_audio_ui(&mut self, ctx: &egui::Context, cx: &mut PanelContext<'_>) {
        let Some(mut text) = self.audio.take() else {
            return;
        };
        let mut open = true;
        let mut chosen = None;
        let mut browse = false;
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
                    let entered = response.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
                    if ui.button("Play").clicked() || entered {
                        chosen = Some(text.clone());
                    }
                    browse = ui.button("Browse…").clicked();
                });
            });
        if browse {
            self.browse(PathKind::Audio);
        }
        match chosen {
            Some(path) if !path.trim().is_empty() => cx.act(Action::OpenPath {
                path: PathBuf::from(path.trim()),
                hint: Some(PathKind::Audio),
            }),
            _ if open => self.audio = Some(text),
            _ => {}
        }
    }

    fn browse(&mut self, kind: PathKind) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let spawned = std::thread::Builder::new()
            .name("livetag-file-dialog".to_string())
            .spawn(move || {
                let dialog = rfd::FileDialog::new();
                let picked = match kind {
                    PathKind::Model => dialog.set_title("Open a model bundle folder").pick_folder(),
                    PathKind::Audio => dialog
                        .set_title("Open an audio file")
                        .add_filter("audio", &AUDIO_EXTENSIONS)
                        .pick_file(),
                };
                let _ = tx.send(picked);
            });
        if spawned.is_ok() {
            self.browse = Some((kind, rx));
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
