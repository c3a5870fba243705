//! The live window (eframe/egui): the UI thread owns the session and draws what the
//! pipeline sends. `app` handles menus, sources, models and errors; `view` turns pipeline
//! events into the spectrogram, bars and timeline; `spectrogram` is the scrolling texture.

mod app;
mod colormap;
mod spectrogram;
pub mod view;

use std::path::PathBuf;
use std::process::ExitCode;

pub use app::{Launch, LivetagApp, Settings, StatusLine};
pub use colormap::Colormap;

/// Opens the window and runs until it is closed.
pub fn run(args: crate::cli::ListenArgs, ort_lib: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let launch = Launch::from_args(&args, ort_lib);
    let options = eframe::NativeOptions {
        viewport: eframe::egui::ViewportBuilder::default()
            .with_title("livetag")
            .with_app_id("livetag")
            .with_inner_size([1200.0, 760.0])
            .with_min_inner_size([640.0, 420.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "livetag",
        options,
        Box::new(move |cc| {
            let settings: Settings = cc
                .storage
                .and_then(|storage| eframe::get_value(storage, eframe::APP_KEY))
                .unwrap_or_default();
            Ok(Box::new(LivetagApp::new(launch, settings)))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))?;
    Ok(ExitCode::SUCCESS)
}
