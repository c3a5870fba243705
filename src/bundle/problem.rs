//! What is wrong with a bundle, typed: one variant per rule `Bundle::load` checks, so a
//! caller (or a test) can tell the rules apart without reading the words. Each variant's
//! message is the sentence that follows the file and field in [`BundleError`]'s.
//!
//! [`BundleError`]: super::BundleError

use std::path::PathBuf;

use super::spec::{Axis, OutputKind};
use super::{
    MAX_BANDS, MAX_N_FFT, MAX_REFERENCE_TOLERANCE, MAX_TENSOR_VALUES, MAX_WINDOW_SECS,
    MAX_WINDOW_VALUES,
};
use crate::dsp::FrontendError;
use crate::ontology::JoinError;
use crate::sed::MAX_MEDIAN_FRAMES;

/// Why a field of `bundle.toml` is refused ([`BundleError::Invalid`]).
///
/// [`BundleError::Invalid`]: super::BundleError::Invalid
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecProblem {
    // ---- paths
    #[error("must name a file in the bundle folder")]
    EmptyPath,
    #[error("{value:?} is an absolute path; paths in a bundle are relative to its folder")]
    AbsolutePath { value: String },
    #[error("{value:?} leaves the bundle folder")]
    LeavesFolder { value: String },
    #[error("{value:?} leaves the bundle folder through a symbolic link (to {})", target.display())]
    LeavesThroughLink { value: String, target: PathBuf },

    // ---- [model], [ontology], [reference]
    #[error("must not be empty")]
    Empty,
    #[error("name the model's licence (for example \"MIT\")")]
    NoLicence,
    #[error("{0}")]
    Ontology(JoinError),
    #[error("{tolerance:e} must be above 0 and at most {MAX_REFERENCE_TOLERANCE}: a wider tolerance would pass a wrong model")]
    Tolerance { tolerance: f32 },

    // ---- graph inputs and outputs
    /// `kind` is "input" or "output".
    #[error("the model has no {kind} `{name}`; its {kind}s are {names:?}")]
    NoSuchTensor {
        kind: &'static str,
        name: String,
        names: Vec<String>,
    },

    // ---- [input] and [frontend]
    #[error("{hz} Hz is not a plausible audio rate")]
    SampleRate { hz: u32 },
    #[error("a features input needs a [frontend] table")]
    NoFrontend,
    #[error("a waveform input takes samples; remove [frontend] (the model computes its own)")]
    FrontendOfWaveform,
    #[error("{n_fft} is more than livetag computes ({MAX_N_FFT}; 1.4 s at 48 kHz, beyond any tagger's front-end)")]
    FftTooLarge { n_fft: usize },
    #[error("{bands} bands is more than livetag builds ({MAX_BANDS})")]
    TooManyBands { bands: usize },
    /// The front-end could not be built from `[frontend]`.
    #[error("{0}")]
    Frontend(FrontendError),
    /// A length over [`MAX_WINDOW_SECS`] of audio: `value` rows of `row_samples` samples.
    #[error(
        "{key} {value} exceeds the {}-minute maximum at {rate_hz} Hz{} ({} {unit})",
        MAX_WINDOW_SECS / 60,
        hops_text(*row_samples),
        max_rows(*rate_hz, *row_samples)
    )]
    TooLong {
        key: String,
        value: usize,
        rate_hz: u32,
        row_samples: usize,
        unit: &'static str,
    },
    #[error("must be at least 1")]
    Zero,
    #[error("{window} {unit} is shorter than the model's minimum, min_{unit} = {min}")]
    ShorterThanMinimum {
        window: usize,
        min: usize,
        unit: &'static str,
    },
    #[error("{max} {unit} is shorter than window_{unit} = {window}")]
    MaximumBelowWindow {
        max: usize,
        window: usize,
        unit: &'static str,
    },
    #[error(
        "{rows} {unit} of {width} values each is more than livetag holds per window ({MAX_WINDOW_VALUES} values, {} MiB)",
        (MAX_WINDOW_VALUES * 4) >> 20
    )]
    WindowTooLarge {
        rows: usize,
        width: usize,
        unit: &'static str,
    },
    #[error("model input `{name}` is {element_type}, but audio and features are fed as float32")]
    InputNotFloat { name: String, element_type: String },
    /// `needs` says what a layout of this kind of input must list.
    #[error("{layout:?} must list {needs}")]
    Layout {
        layout: Vec<Axis>,
        needs: &'static str,
    },
    #[error("lists {axes} axes but model input `{name}` has rank {rank} {shape}")]
    LayoutRank {
        axes: usize,
        name: String,
        rank: usize,
        shape: String,
    },
    #[error("model input `{name}` has a fixed batch of {size}; export it with a dynamic batch axis or batch 1")]
    FixedBatch { name: String, size: usize },
    #[error("model input `{name}` has {size} channels; livetag feeds mono")]
    Channels { name: String, size: usize },
    #[error("the front-end makes {n_bands} bands per frame but model input `{name}` {shape} expects {size}")]
    Bands {
        n_bands: usize,
        name: String,
        shape: String,
        size: usize,
    },
    #[error("model input `{name}` {shape} has a fixed time axis of {size} {unit}, so window_{unit}, min_{unit} and max_{unit} must all be {size} (got {window}, {min} and {max})")]
    FixedTime {
        name: String,
        shape: String,
        size: usize,
        unit: &'static str,
        window: usize,
        min: usize,
        max: usize,
    },
    #[error("model input `{name}` {shape} is not described: name it in [input], [[state]] or [[constants]]")]
    Undescribed { name: String, shape: String },

    // ---- [live]
    #[error("must be a positive number of seconds")]
    NotPositiveSecs,
    #[error("a stateful model runs at its own hop (input.hop_samples); remove this key")]
    HopOfStatefulModel,
    #[error("{secs} s is outside what the model accepts, {min_secs:.3} to {max_secs:.3} s (input.min_* to input.max_*)")]
    LiveWindow {
        secs: f64,
        min_secs: f64,
        max_secs: f64,
    },

    // ---- [events]
    #[error("{frames} is even; the median filter is centred on its frame, so it needs an odd number of frames (1 = off)")]
    EvenMedian { frames: i64 },
    #[error("{frames} is not a length; the median filter needs an odd number of frames, at least 1 (1 = off)")]
    MedianNotPositive { frames: i64 },
    #[error("{frames} frames is longer than livetag's longest median filter, {MAX_MEDIAN_FRAMES} frames (10 s at 100 Hz)")]
    MedianTooLong { frames: i64 },
    #[error("lists {lengths} lengths but {labels_file} has {labels} labels; give one length per label, in label order, or one number for every class")]
    MedianCount {
        lengths: usize,
        labels_file: String,
        labels: usize,
    },
    #[error("median filters apply to framewise outputs, and the model has none; remove [events]")]
    EventsWithoutFramewise,

    // ---- [[outputs]]
    #[error("list at least one [[outputs]] table")]
    NoOutputs,
    #[error("model output `{name}` is {element_type}, expected float32")]
    OutputNotFloat { name: String, element_type: String },
    #[error(
        "a {} output is {}, but model output `{name}` has rank {rank} {shape}",
        kind_word(*kind),
        kind_shape(*kind)
    )]
    OutputRank {
        kind: OutputKind,
        name: String,
        rank: usize,
        shape: String,
    },
    #[error("{labels_file} has {labels} labels but model output `{output}` {shape} has {classes} classes")]
    ClassCount {
        labels_file: String,
        labels: usize,
        output: String,
        shape: String,
        classes: i64,
    },
    #[error("a framewise output needs its frame rate")]
    NoFrameRate,
    #[error("must be positive, got {rate}")]
    FrameRate { rate: f64 },
    #[error("only framewise outputs have a frame rate")]
    FrameRateOfClip,
    #[error("only logits can be clipped")]
    ClipOfProbabilities,

    // ---- [[state]] and [[constants]]
    #[error("state `{name}` is {element_type}; livetag carries float32 state")]
    StateNotFloat { name: String, element_type: String },
    #[error("model input `{name}` is {element_type}")]
    ConstantType { name: String, element_type: String },
    #[error("shape {shape:?} needs {count} values, got {got}")]
    ConstantValues {
        shape: Vec<usize>,
        count: usize,
        got: usize,
    },
    #[error("{shape:?} holds more than {MAX_TENSOR_VALUES} values")]
    TensorTooLarge { shape: Vec<usize> },
    #[error("{shape:?} does not fit model tensor `{tensor}` {tensor_shape}")]
    Shape {
        shape: Vec<usize>,
        tensor: String,
        tensor_shape: String,
    },
}

/// Why a labels or ontology ids file is refused ([`BundleError::Labels`]).
///
/// [`BundleError::Labels`]: super::BundleError::Labels
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LabelsProblem {
    /// A blank line before the last label: it would shift every class after it.
    #[error("line {line} is blank; every line names one class")]
    Blank { line: usize },
    #[error("no labels")]
    Empty,
    #[error("line {line} repeats {label:?} from line {first}; each class needs its own label")]
    Repeated {
        line: usize,
        label: String,
        first: usize,
    },
    /// The ids do not join the bundle's `[ontology]`.
    #[error("{0}")]
    Ontology(JoinError),
}

/// " with 128-sample hops", or nothing for samples.
fn hops_text(row_samples: usize) -> String {
    if row_samples > 1 {
        format!(" with {row_samples}-sample hops")
    } else {
        String::new()
    }
}

/// Rows of `row_samples` samples in [`MAX_WINDOW_SECS`] at `rate_hz`.
fn max_rows(rate_hz: u32, row_samples: usize) -> usize {
    MAX_WINDOW_SECS as usize * rate_hz as usize / row_samples.max(1)
}

fn kind_word(kind: OutputKind) -> &'static str {
    match kind {
        OutputKind::Clip => "clip",
        OutputKind::Framewise => "framewise",
    }
}

fn kind_shape(kind: OutputKind) -> &'static str {
    match kind {
        OutputKind::Clip => "[batch, classes]",
        OutputKind::Framewise => "[batch, time, classes]",
    }
}
