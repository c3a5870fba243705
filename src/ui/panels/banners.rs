//! The banner under the menu bar: the source problem while the engine reconnects, then
//! errors and notices, each dismissable.

use eframe::egui;

/// A message in the banner.
#[derive(Debug, Clone, PartialEq)]
struct Banner {
    text: String,
    error: bool,
}

/// Most messages kept: a flapping device must not grow the banner without end.
const MAX_BANNERS: usize = 6;

#[derive(Debug, Default)]
pub struct Banners {
    /// What is wrong with the source while the engine reconnects; not dismissable, it goes
    /// when a source runs again.
    source_problem: Option<String>,
    messages: Vec<Banner>,
}

impl Banners {
    /// An error, logged once and shown once however often it repeats.
    pub fn error(&mut self, text: impl Into<String>) {
        self.push(text.into(), true);
    }

    /// Something worth knowing that is not a failure.
    pub fn notice(&mut self, text: impl Into<String>) {
        self.push(text.into(), false);
    }

    fn push(&mut self, text: String, error: bool) {
        if self.messages.iter().any(|b| b.text == text) {
            return;
        }
        if error {
            tracing::warn!("{text}");
        }
        self.messages.push(Banner { text, error });
        if self.messages.len() > MAX_BANNERS {
            self.messages.remove(0);
        }
    }

    pub fn set_source_problem(&mut self, problem: Option<String>) {
        self.source_problem = problem;
    }

    pub fn source_problem(&self) -> Option<&str> {
        self.source_problem.as_deref()
    }

    /// Every message shown now, the source problem first.
    pub fn texts(&self) -> Vec<&str> {
        self.source_problem
            .iter()
            .map(String::as_str)
            .chain(self.messages.iter().map(|b| b.text.as_str()))
            .collect()
    }

    /// `retry`: what the engine is doing about the source problem, if anything.
    pub fn ui(&mut self, ui: &mut egui::Ui, retry: Option<String>) {
        if let Some(problem) = &self.source_problem {
            let text = match retry {
                Some(retry) => format!("{problem}. {retry}; or pick another source in Source."),
                None => format!("{problem}. Pick another source in Source."),
            };
            banner_frame_ui(ui, &text, true, false);
        }
        let mut dismissed = None;
        for (i, banner) in self.messages.iter().enumerate() {
            if banner_frame_ui(ui, &banner.text, banner.error, true) {
                dismissed = Some(i);
            }
        }
        if let Some(i) = dismissed {
            self.messages.remove(i);
        }
    }
}

/// One message; returns whether its close button was clicked.
fn banner_frame_ui(ui: &mut egui::Ui, text: &str, error: bool, closable: bool) -> bool {
    let colour = if error {
        ui.visuals().error_fg_color
    } else {
        ui.visuals().warn_fg_color
    };
    let mut closed = false;
    egui::Frame::new()
        .fill(colour.gamma_multiply(0.15))
        .stroke((1.0, colour))
        .inner_margin(6)
        .corner_radius(4)
        .show(ui, |ui| {
            ui.horizontal_top(|ui| {
                closed = closable && ui.small_button("×").clicked();
                // Long device lists and cause chains wrap instead of running off screen.
                ui.add(egui::Label::new(egui::RichText::new(text).color(colour)).wrap());
            });
        });
    closed
}
