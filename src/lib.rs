//! livetag: real-time audio tagging with self-describing ONNX model bundles.
//!
//! Live data flows [`capture`] (audio thread) -> [`pipeline`] (DSP thread: [`dsp`]
//! front-end and windows; inference threads: [`inference`], ONNX Runtime) -> [`engine`]
//! (the session: sources, models, reconnecting) -> a front end: [`ui`] (the window) or the
//! binary's `listen --headless`. Files take [`audio`] -> [`tagger`]; [`sed`] (sound event
//! detection) turns framewise output into sound events, [`eval`] scores a model against a
//! reference list; [`scores`] is what both paths do with scores. [`bundle`] describes a
//! model. The command line is the binary's own (`src/cli`), so the library has no clap
//! types. See `docs/ARCHITECTURE.md` for threads and ownership.

pub mod audio;
pub mod bundle;
pub mod cache;
pub mod capture;
pub mod dsp;
pub mod engine;
pub mod eval;
pub mod inference;
pub mod ontology;
pub mod pipeline;
pub mod scores;
pub mod sed;
pub mod tagger;
pub mod ui;

/// An error and its causes on one line, each said once: "cannot open audio file x.wav: No
/// such file or directory (os error 2)". livetag's errors leave their cause out of their
/// own message and keep it as the source, so `to_string` alone drops it; anything that
/// shows an error to a person shows this instead. A cause whose text the line already
/// holds is skipped (a decoder's I/O error repeats the I/O error beneath it).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        cause = inner.source();
    }
    text
}
