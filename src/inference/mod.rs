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
        "cannot use the ONNX Runtime library {} ({given_by}; fix the path, or run `{}` to fetch ONNX Runtime {} into livetag's cache)",
        path.display(), runtime::SETUP_COMMAND, runtime::ORT_VERSION
    )]
    LibraryPath {
        path: PathBuf,
        given_by: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "refusing to load ONNX Runtime: {reason}. livetag loads code only from files and folders that only you or root can change; fix the permissions (chmod o-w) or the owner of {}, or pass --ort-lib PATH to a library you own",
        path.display()
    )]
    UntrustedLibrary { path: PathBuf, reason: String },
    #[error(
        "could not load ONNX Runtime from {}: {reason}. livetag needs ONNX Runtime {}; run `{}` to fetch it",
        path.display(), runtime::ORT_VERSION, runtime::SETUP_COMMAND
    )]
    LibraryLoad { path: PathBuf, reason: String },
    #[error("{}: ONNX Runtime could not load this model: {reason}", path.display())]
    Session { path: PathBuf, reason: String },
    #[error("model {model}: inference failed: {reason}")]
    Run { model: String, reason: String },
    #[error("model {model}: {what} {}", path.display())]
    Profile {
        model: String,
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
