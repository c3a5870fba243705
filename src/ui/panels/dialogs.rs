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
        let installed = cx.installed;
        let dialog = PathDialog {
            title: "Open model",
            prompt:
                "A bundle folder (bundle.toml, model.onnx, labels, licence), or an installed name:",
            hint: "models/musicnn-mtt",
            button: "Open",
        };
        let answer = dialog.ui(ctx, &mut text, |ui| {
            ui.separator();
            super::model::installed_list_ui(ui, installed)
        });
        self.answer(answer, text, PathKind::Model, cx);
    }

    fn open_audio_ui(&mut self, ctx: &egui::Context, cx: &mut PanelContext<'_>) {
        let Some(mut text) = self.audio.take() else {
            return;
        };
        let dialog = PathDialog {
            title: "Open audio file",
            prompt: "Played in real time and tagged live (wav, flac, ogg, mp3):",
            hint: "assets/whistle.wav",
            button: "Play",
        };
        let answer = dialog.ui(ctx, &mut text, |_| None);
        self.answer(answer, text, PathKind::Audio, cx);
    }

    /// Acts on a path dialog's answer; a dialog still open keeps its text.
    fn answer(
        &mut self,
        answer: DialogAnswer,
        text: String,
        kind: PathKind,
        cx: &mut PanelContext<'_>,
    ) {
        if answer.browse {
            self.browse(kind);
        }
        match answer.chosen {
            Some(path) if !path.trim().is_empty() => cx.act(Action::OpenPath {
                path: PathBuf::from(path.trim()),
                hint: Some(kind),
            }),
            _ if answer.open => match kind {
                PathKind::Model => self.model = Some(text),
                PathKind::Audio => self.audio = Some(text),
            },
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

/// A dialog that asks for a path: typed, browsed for, or (`extra`) picked from a list.
struct PathDialog {
    title: &'static str,
    prompt: &'static str,
    hint: &'static str,
    button: &'static str,
}

struct DialogAnswer {
    /// Still open (not closed with its ✕).
    open: bool,
    chosen: Option<String>,
    browse: bool,
}

impl PathDialog {
    /// `extra` draws below the buttons and may return a chosen path.
    fn ui(
        &self,
        ctx: &egui::Context,
        text: &mut String,
        extra: impl FnOnce(&mut egui::Ui) -> Option<String>,
    ) -> DialogAnswer {
        let mut answer = DialogAnswer {
            open: true,
            chosen: None,
            browse: false,
        };
        egui::Window::new(self.title)
            .open(&mut answer.open)
            .collapsible(false)
            .show(ctx, |ui| {
                ui.label(self.prompt);
                let response = ui.add(
                    egui::TextEdit::singleline(text)
                        .hint_text(self.hint)
                        .desired_width(360.0),
                );
                ui.horizontal(|ui| {
                    let entered = response.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
                    if ui.button(self.button).clicked() || entered {
                        answer.chosen = Some(text.clone());
                    }
                    answer.browse = ui.button("Browse…").clicked();
                });
                if let Some(picked) = extra(ui) {
                    answer.chosen = Some(picked);
                }
            });
        answer
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
