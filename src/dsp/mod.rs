//! Signal processing that runs on the DSP thread: the streaming STFT, filterbanks, the
//! bundle-described feature front-end, and the assembly of model windows from frames.

mod fastlog;
pub mod filterbank;
pub mod frontend;
pub mod input;
pub mod silence;
mod simd;
pub mod stft;
pub mod stream;
pub mod window;

pub use frontend::{Frontend, FrontendSpec, StepSpec};

/// A front-end description that cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrontendError {
    #[error("invalid front-end: {0}")]
    InvalidParameter(String),
}
