//! The inference side: loading ONNX Runtime, and sessions that score model windows.
//! A [`session::ModelRunner`] is owned by exactly one thread.

pub mod profile;
pub mod runtime;
pub mod session;

use std::path::PathBuf;

pub use runtime::{runtime, LoadFailure, Runtime, Untrusted};
pub use session::{
    CudaUnavailable, DevicePreference, FrameScores, ModelRunner, Provider, ProviderReport,
    RunProblem, RunStep, SessionOptions, UnknownDevicePreference,
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
    /// `path` (the library, or a folder or file beside it: `what` says which) could be
    /// changed by someone else.
    #[error(
        "refusing to load ONNX Runtime: {what} {} {reason}. livetag loads code only from files and folders that only you or root can change; fix the permissions (chmod o-w) or the owner of {}, or pass --ort-lib PATH to a library you own",
        path.display(), path.display()
    )]
    UntrustedLibrary {
        path: PathBuf,
        what: &'static str,
        reason: Untrusted,
    },
    #[error(
        "could not load ONNX Runtime from {} (livetag needs ONNX Runtime {}; run `{}` to fetch it)",
        path.display(), runtime::ORT_VERSION, runtime::SETUP_COMMAND
    )]
    LibraryLoad {
        path: PathBuf,
        #[source]
        source: LoadFailure,
    },
    #[error("{}: ONNX Runtime could not load this model", path.display())]
    Session {
        path: PathBuf,
        #[source]
        source: ort::Error,
    },
    /// The window, or what the model gave back, breaks a rule livetag checks.
    #[error("model {model}: inference failed: {problem}")]
    Run { model: String, problem: RunProblem },
    /// ONNX Runtime failed at `step`.
    #[error("model {model}: inference failed ({step})")]
    Ort {
        model: String,
        step: RunStep,
        #[source]
        source: ort::Error,
    },
    /// The profile ONNX Runtime wrote is not the JSON array of trace events it should be.
    #[error("model {model}: cannot read the profile {}", path.display())]
    ProfileFormat {
        model: String,
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("model {model}: {what} {}", path.display())]
    Profile {
        model: String,
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
