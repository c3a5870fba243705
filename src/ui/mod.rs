//! The live window (eframe/egui), a front end on the [`engine`](crate::engine): `app`
//! takes the engine's updates and sends it commands; `panels` draws menus, dialogs,
//! banners, status and seek bars; `view` turns live updates into the spectrogram, bars and
//! timeline; `spectrogram` is the scrolling texture.

mod app;
mod colormap;
pub mod panels;
mod spectrogram;
pub mod view;

pub use app::{LivetagApp, Settings};
pub use colormap::Colormap;
pub use panels::status::StatusLine;

use crate::engine::StartOptions;

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("cannot start the live engine")]
    Engine(#[source] std::io::Error),
    #[error("cannot open the window")]
    Window(#[source] eframe::Error),
}

/// Opens the window and runs until it is closed.
pub fn run(options: StartOptions) -> Result<(), UiError> {
    let viewport = eframe::NativeOptions {
        viewport: eframe::egui::ViewportBuilder::default()
            .with_title("livetag")
            .with_app_id("livetag")
            .with_inner_size([1200.0, 760.0])
            .with_min_inner_size([640.0, 420.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    // The engine starts inside the creation callback, where the saved settings are known;
    // its error is carried out of eframe's.
    let engine_error = std::sync::Arc::new(std::sync::Mutex::new(None));
    let slot = std::sync::Arc::clone(&engine_error);
    let result = eframe::run_native(
        "livetag",
        viewport,
        Box::new(move |cc| {
            let settings: Settings = cc
                .storage
                .and_then(|storage| eframe::get_value(storage, eframe::APP_KEY))
                .unwrap_or_default();
            match LivetagApp::new(options, settings) {
                Ok(app) => Ok(Box::new(app)),
                Err(error) => {
                    let message = error.to_string();
                    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
                    Err(message.into())
                }
            }
        }),
    );
    if let Some(error) = engine_error
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    {
        return Err(UiError::Engine(error));
    }
    result.map_err(UiError::Window)
}
