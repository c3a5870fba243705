//! The Source menu (microphones, demo files) and the demo file's seek bar.

use eframe::egui;

use super::{Action, Dialog, PanelContext};
use crate::capture::{InputDeviceInfo, PlaybackStatus, SourceRequest};
use crate::engine::Command;

/// The Source menu's contents. The device list comes from the engine (listing devices can
/// take seconds on some hosts); until it arrives the menu says so.
#[derive(Debug, Default)]
pub struct SourceMenu {
    pub devices: Option<Vec<InputDeviceInfo>>,
    /// A device list has been asked for and not yet answered.
    pub asked: bool,
}

impl SourceMenu {
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>, audio_shortcut: String) {
        if self.devices.is_none() && !self.asked {
            cx.act(Action::RefreshDevices);
        }
        ui.label("Microphone");
        let current = cx.session.map(|s| s.source.label.as_str());
        match &self.devices {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("looking for devices…");
                });
            }
            Some(devices) if devices.is_empty() => {
                ui.weak("no input devices found");
            }
            Some(devices) => {
                for device in devices {
                    let selected = current == Some(device.id.as_str());
                    let text = format!("{} ({})", device.name, device.id);
                    if ui.selectable_label(selected, text).clicked() {
                        cx.command(Command::SetSource(SourceRequest::Microphone(Some(
                            device.id.clone(),
                        ))));
                        ui.close();
                    }
                }
            }
        }
        if ui.button("Refresh device list").clicked() {
            cx.act(Action::RefreshDevices);
        }
        ui.separator();
        if ui
            .add(egui::Button::new("Open audio file (demo mode)…").shortcut_text(audio_shortcut))
            .clicked()
        {
            cx.act(Action::Show(Dialog::OpenAudio));
            ui.close();
        }
    }
}

/// Play/pause and position of a demo file.
pub struct SeekBar;

impl SeekBar {
    pub fn ui(ui: &mut egui::Ui, playback: &PlaybackStatus, cx: &mut PanelContext<'_>) {
        let mut position = playback.position_secs();
        let duration = playback.duration_secs();
        ui.horizontal(|ui| {
            let label = if playback.is_paused() {
                "Play"
            } else {
                "Pause"
            };
            if ui.button(label).clicked() {
                cx.act(Action::TogglePause);
            }
            ui.spacing_mut().slider_width = (ui.available_width() - 160.0).max(100.0);
            let text = format!("{position:.1} / {duration:.1} s");
            let slider = egui::Slider::new(&mut position, 0.0..=duration)
                .show_value(false)
                .text(text);
            if ui.add(slider).changed() {
                cx.command(Command::Seek(position));
            }
            if !playback.is_audible() {
                ui.label("(muted: no output device)");
            }
        });
    }
}
