//! The menu bar and the keyboard shortcuts that mirror it.

use eframe::egui::{self, Key, KeyboardShortcut, Modifiers};

use super::model::ModelMenu;
use super::source::SourceMenu;
use super::{Action, Dialog, PanelContext};

pub const OPEN_MODEL: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
pub const OPEN_AUDIO: KeyboardShortcut =
    KeyboardShortcut::new(Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::O);
pub const QUIT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Q);
/// Single keys (ignored while typing in a text field).
const PAUSE: Key = Key::Space;
const NEXT_COLORMAP: Key = Key::C;
const MODEL_INPUT: Key = Key::M;
const SPEECH_TRACK: Key = Key::S;
const MODEL_CARD: Key = Key::I;
const NEXT_TOP_K_MODE: Key = Key::T;
const HELP: Key = Key::F1;

/// Every shortcut and what it does, for the help window.
pub fn shortcut_list(ctx: &egui::Context) -> Vec<(String, &'static str)> {
    vec![
        ("Space".into(), "pause / resume"),
        ("C".into(), "next colour map"),
        ("M".into(), "show the model's input"),
        ("S".into(), "speech track on / off"),
        ("I".into(), "model card: parameters, compute, provider"),
        (ctx.format_shortcut(&OPEN_MODEL), "open a model"),
        (
            ctx.format_shortcut(&OPEN_AUDIO),
            "open an audio file (demo mode)",
        ),
        (ctx.format_shortcut(&QUIT), "quit"),
        ("T".into(), "top classes: most-specific, grouped, all"),
        ("F1".into(), "this help"),
        ("right-click a bar".into(), "set that class's threshold"),
    ]
}

/// Reads this frame's shortcuts into actions and view changes.
pub fn shortcuts(ctx: &egui::Context, cx: &mut PanelContext<'_>) {
    if ctx.input_mut(|i| i.consume_shortcut(&OPEN_AUDIO)) {
        cx.act(Action::Show(Dialog::OpenAudio));
    }
    if ctx.input_mut(|i| i.consume_shortcut(&OPEN_MODEL)) {
        cx.act(Action::Show(Dialog::OpenModel));
    }
    if ctx.input_mut(|i| i.consume_shortcut(&QUIT)) {
        cx.act(Action::Quit);
    }
    if ctx.egui_wants_keyboard_input() {
        return;
    }
    let pressed = |key| ctx.input_mut(|i| i.consume_key(Modifiers::NONE, key));
    let view = &mut cx.settings.view;
    if pressed(NEXT_COLORMAP) {
        view.colormap = view.colormap.next();
    }
    if pressed(MODEL_INPUT) {
        view.show_model_input = !view.show_model_input;
    }
    if pressed(NEXT_TOP_K_MODE) {
        view.top_k_mode = view.top_k_mode.next();
    }
    if pressed(PAUSE) {
        cx.act(Action::TogglePause);
    }
    if pressed(MODEL_CARD) {
        cx.act(Action::Show(Dialog::ModelCard));
    }
    if pressed(SPEECH_TRACK) {
        let on = !cx.settings.speech_track;
        cx.act(Action::SetSpeechTrack(on));
    }
    if pressed(HELP) {
        cx.act(Action::Show(Dialog::Shortcuts));
    }
}

#[derive(Debug, Default)]
pub struct MenuBar {
    pub source: SourceMenu,
    pub model: ModelMenu,
}

impl MenuBar {
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
        let ctx = ui.ctx().clone();
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("Source", |ui| {
                self.source.ui(ui, cx, ctx.format_shortcut(&OPEN_AUDIO));
            });
            ui.menu_button("Model", |ui| {
                self.model.ui(ui, cx, ctx.format_shortcut(&OPEN_MODEL));
            });
            ui.menu_button("View", |ui| view_menu_ui(ui, cx));
            ui.menu_button("Help", |ui| {
                if ui
                    .add(egui::Button::new("Keyboard shortcuts").shortcut_text("F1"))
                    .clicked()
                {
                    cx.act(Action::Show(Dialog::Shortcuts));
                    ui.close();
                }
                if ui.button("About livetag").clicked() {
                    cx.act(Action::Show(Dialog::About));
                    ui.close();
                }
                if ui
                    .add(egui::Button::new("Quit").shortcut_text(ctx.format_shortcut(&QUIT)))
                    .clicked()
                {
                    cx.act(Action::Quit);
                }
            });
            if cx.paused {
                ui.colored_label(ui.visuals().warn_fg_color, "paused (Space resumes)");
            }
            for name in cx.loading.values() {
                ui.spinner();
                ui.label(format!("loading {name}…"));
            }
        });
    }
}

fn view_menu_ui(ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
    let label = if cx.paused { "Resume" } else { "Pause" };
    if ui
        .add(egui::Button::new(label).shortcut_text("Space"))
        .clicked()
    {
        cx.act(Action::TogglePause);
    }
    let model = cx.session.map(|s| s.tagger.name().to_string());
    let view = &mut cx.settings.view;
    ui.checkbox(&mut view.show_model_input, "Model input (M)");
    egui::ComboBox::from_label("colour map (C)")
        .selected_text(view.colormap.name())
        .show_ui(ui, |ui| {
            for map in crate::ui::Colormap::ALL {
                ui.selectable_value(&mut view.colormap, map, map.name());
            }
        });
    ui.add(egui::Slider::new(&mut view.db_low, -160.0..=0.0).text("dB floor"));
    ui.add(egui::Slider::new(&mut view.db_high, -100.0..=20.0).text("dB ceiling"));
    if view.db_high <= view.db_low + 1.0 {
        view.db_high = view.db_low + 1.0;
    }
    ui.add(egui::Slider::new(&mut view.smoothing_secs, 0.0..=3.0).text("smoothing (s)"));
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
    if let Some(model) = model {
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
    ui.add(egui::Slider::new(&mut view.default_threshold, 0.0..=1.0).text("default threshold"));
}
