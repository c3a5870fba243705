//! The inference side: loading ONNX Runtime, and sessions that score model windows.
//! A [`session::ModelRunner`] is owned by exactly one thread.

pub mod profile;
pub mod runtime;
pub mod session;

use std::path::PathBuf;

pub use runtime::{runtime, Runtime};
pub use session::{
    DevicePreference, FrameScores, ModelRunner, Provider, ProviderReport, SessionOptions,
};

#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    #[error(
        "the ONNX Runtime {} library was not found. Run `{}` to fetch it, or pass --ort-lib PATH (or set ORT_DYLIB_PATH). Looked in: {}",
        runtime::ORT_VERSION, runtime::SETUP_COMMAND, searched.join("; ")
    )]
    LibraryNotFound { searched: Vec<String> },
    #[error(
        "could not load ONNX Runtime from {}: {reason}. livetag needs ONNX Runtime {}; run `{}` to fetch it",
        path.display(), runtime::ORT_VERSION, runtime::SETUP_COMMAND
    )]
    LibraryLoad { path: PathBuf, reason: String },
    #[error("{}: ONNX Runtime could not load this model: {reason}", path.display())]
    Session { path: PathBuf, reason: String },
    #[error("model {model}: inference failed: {reason}")]
    Run { model: String, reason: String },
}
