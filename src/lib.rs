//! livetag: real-time audio tagging with self-describing ONNX model bundles.
//!
//! Live data flows [`capture`] (audio thread) -> [`pipeline`] (DSP thread: [`dsp`]
//! front-end and windows; inference thread: [`inference`], ONNX Runtime) -> [`ui`] (the
//! window) or `livetag listen --headless`. Files take [`audio`] -> [`tagger`]; [`events`]
//! turns framewise output into sound events, [`eval`] scores a model against a reference
//! list. [`bundle`] describes a model; [`cli`] is the command-line front door. See
//! `docs/ARCHITECTURE.md` for threads and ownership.

pub mod audio;
pub mod bundle;
pub mod capture;
pub mod cli;
pub mod dsp;
pub mod engine;
pub mod eval;
pub mod events;
pub mod inference;
pub mod ontology;
pub mod pipeline;
pub mod tagger;
pub mod ui;
