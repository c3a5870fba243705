//! The Model menu: open a model, the model card, the speech track, the live window, and
//! the installed bundles.

use std::time::{Duration, Instant};

use eframe::egui;

use super::{Action, Dialog, PanelContext};
use crate::engine::{Command, InstalledModel, LiveWindow, Role, SessionInfo};

/// How often the installed-model list is asked for while the menu is open: reading it
/// loads every bundle, on an engine thread.
const INSTALLED_REFRESH: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
pub struct ModelMenu {
    /// The live window's sliders, until applied; dropped when another session starts.
    pub live_draft: Option<LiveWindow>,
    installed_asked_at: Option<Instant>,
}

impl ModelMenu {
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>, open_shortcut: String) {
        if ui
            .add(egui::Button::new("Open model…").shortcut_text(open_shortcut))
            .clicked()
        {
            cx.act(Action::Show(Dialog::OpenModel));
            ui.close();
        }
        if ui
            .add(egui::Button::new("Model card").shortcut_text("I"))
            .clicked()
        {
            cx.act(Action::Show(Dialog::ModelCard));
            ui.close();
        }
        let mut speech = cx.settings.speech_track;
        let speech_label = format!("Speech track ({}) (S)", cx.speech_model());
        if ui.checkbox(&mut speech, speech_label).changed() {
            cx.act(Action::SetSpeechTrack(speech));
            ui.close();
        }
        if let Some(session) = cx.session {
            let session = session.clone();
            self.live_window_ui(ui, &session, cx);
        }
        ui.separator();
        self.installed_ui(ui, cx);
    }

    /// Installed bundles, as the engine last listed them.
    fn installed_ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
        ui.label("Installed");
        let stale = self
            .installed_asked_at
            .is_none_or(|asked| asked.elapsed() > INSTALLED_REFRESH);
        if stale {
            self.installed_asked_at = Some(Instant::now());
            cx.command(Command::ListInstalledModels);
        }
        if let Some(model) = installed_list_ui(ui, cx.installed) {
            cx.command(Command::LoadModel {
                role: Role::Tagger,
                model,
            });
            ui.close();
        }
    }

    /// Window length and hop of the running tagger, within what its bundle allows.
    /// Applying restarts the stream on the same source.
    fn live_window_ui(
        &mut self,
        ui: &mut egui::Ui,
        session: &SessionInfo,
        cx: &mut PanelContext<'_>,
    ) {
        let bundle = &session.tagger;
        ui.separator();
        ui.label(format!("Live window ({})", bundle.name()));
        let (min_secs, max_secs) = bundle.input.window_secs_range();
        let running = session.live;
        // The sliders edit a draft of what runs; nothing is saved until it is applied.
        let draft = self.live_draft.get_or_insert(running);
        if max_secs > min_secs {
            ui.add(
                egui::Slider::new(&mut draft.window_secs, min_secs..=max_secs)
                    .text("window (s)")
                    .fixed_decimals(2),
            );
        } else {
            ui.label(format!("window {min_secs:.2} s (fixed by the model)"));
        }
        if bundle.is_stateful() {
            ui.label(format!(
                "a prediction every {:.0} ms (a stateful model runs at its own hop)",
                running.hop_secs * 1e3
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
        let pending = differs(draft.window_secs, running.window_secs)
            || differs(draft.hop_secs, running.hop_secs);
        let name = bundle.name().to_string();
        let applied = if ui
            .add_enabled(pending, egui::Button::new("Apply (restarts the stream)"))
            .clicked()
        {
            cx.settings.live.insert(name.clone(), draft);
            Some(Some(draft))
        } else if ui.button("Use the model's defaults").clicked() {
            cx.settings.live.remove(&name);
            Some(None)
        } else {
            None
        };
        if let Some(live) = applied {
            self.live_draft = None;
            cx.command(Command::SetLiveWindow { model: name, live });
            ui.close();
        }
    }
}

/// The installed bundles as buttons (a spinner until the engine has listed them); returns
/// the path of the one clicked.
pub fn installed_list_ui(
    ui: &mut egui::Ui,
    installed: Option<&[InstalledModel]>,
) -> Option<String> {
    let Some(installed) = installed else {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("reading installed models…");
        });
        return None;
    };
    let mut picked = None;
    for model in installed {
        let text = format!("{} ({} classes)", model.name, model.classes);
        let path = model.path.display().to_string();
        if ui.button(text).on_hover_text(&path).clicked() {
            picked = Some(path);
        }
    }
    picked
}
