//! livetag: real-time audio tagging with self-describing ONNX model bundles.
//!
//! Data flows capture/file audio -> [`dsp`] (front-end, windows) -> [`inference`] (ONNX
//! Runtime) -> results. [`bundle`] describes a model; [`cli`] is the command-line front door.
//! See `docs/ARCHITECTURE.md` for threads and ownership.

pub mod audio;
pub mod bundle;
pub mod cli;
pub mod dsp;
pub mod inference;
pub mod tagger;
