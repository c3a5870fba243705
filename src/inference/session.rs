//! One ONNX Runtime session for one bundle, owned by one thread (`Session::run` takes
//! `&mut self`). It turns batches of time-major windows into probability rows, carries
//! state between windows, feeds constants, and reports which execution provider runs.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use ort::session::builder::SessionBuilder;
use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Tensor, TensorRef};

use super::runtime::Runtime;
use super::InferenceError;
use crate::bundle::{Activation, Bundle, ConstantType, OutputKind, OutputSpec, OutputValues};
use crate::dsp::input::{AudioInput, Axis};

/// What the user asked for. Its names (`auto`, `cpu`, `cuda`) are what [`FromStr`] reads
/// and [`Display`](fmt::Display) writes, so a command line or a settings file can name one
/// without the library knowing about either.
///
/// [`FromStr`]: std::str::FromStr
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DevicePreference {
    /// CUDA when it works, CPU otherwise.
    #[default]
    Auto,
    Cpu,
    Cuda,
}

impl DevicePreference {
    /// Every preference, in the order choices are listed.
    pub const ALL: [Self; 3] = [Self::Auto, Self::Cpu, Self::Cuda];

    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
        }
    }

    /// What it means, where the name alone does not say.
    pub fn help(self) -> Option<&'static str> {
        match self {
            Self::Auto => Some("CUDA when it works, CPU otherwise"),
            Self::Cpu | Self::Cuda => None,
        }
    }
}

impl fmt::Display for DevicePreference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a [`DevicePreference`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider `{0}` (choose auto, cpu or cuda)")]
pub struct UnknownDevicePreference(pub String);

impl std::str::FromStr for DevicePreference {
    type Err = UnknownDevicePreference;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|preference| preference.name() == name)
            .ok_or_else(|| UnknownDevicePreference(name.to_string()))
    }
}

/// The execution provider a session really uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Cpu,
    Cuda,
}

/// The provider in use, and why it is not the one asked for when it is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderReport {
    pub requested: DevicePreference,
    pub active: Provider,
    pub fallback_reason: Option<CudaUnavailable>,
}

/// Why the CUDA session could not be built: ONNX Runtime's error, kept whole. It shows as
/// its first line, which names the cause; the lines after it are provider details that
/// would swamp a one-line summary.
#[derive(Debug, Clone)]
pub struct CudaUnavailable(Arc<ort::Error>);

impl CudaUnavailable {
    /// ONNX Runtime's whole error.
    pub fn error(&self) -> &ort::Error {
        &self.0
    }
}

impl fmt::Display for CudaUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = self.0.message();
        f.write_str(message.lines().next().unwrap_or(message).trim())
    }
}

/// Two reports are equal when ONNX Runtime said the same (its errors have no equality).
impl PartialEq for CudaUnavailable {
    fn eq(&self, other: &Self) -> bool {
        self.0.code() == other.0.code() && self.0.message() == other.0.message()
    }
}

impl Eq for CudaUnavailable {}

/// Why inference could not use a window or the model's answer: livetag's own checks
/// ([`InferenceError::Run`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunProblem {
    #[error("the bundle has no framewise output ([[outputs]] with kind = \"framewise\")")]
    NoFramewiseOutput,
    #[error("expected {n} windows of {rows} x {width} values, got {got} values")]
    WindowSize {
        n: usize,
        rows: usize,
        width: usize,
        got: usize,
    },
    #[error("a window of {rows} rows is shorter than the model's minimum of {min}")]
    WindowTooShort { rows: usize, min: usize },
    #[error("batch of {n} exceeds the model's maximum")]
    BatchTooLarge { n: usize },
    #[error("the model did not return `{name}`")]
    MissingOutput { name: String },
    #[error("the model did not return state `{name}`")]
    MissingState { name: String },
    #[error("the model returned {got} classes but the bundle has {expected} labels")]
    ClassCount { got: i64, expected: usize },
    #[error("output `{name}` has shape {dims:?}, which does not fit a {kind:?} output for a batch of {n}")]
    OutputShape {
        name: String,
        dims: Vec<i64>,
        kind: OutputKind,
        n: usize,
    },
    #[error("output `{name}` holds a non-finite value ({value}) for class {class}")]
    NonFinite {
        name: String,
        value: f32,
        class: usize,
    },
    #[error("framewise output `{name}` has shape {dims:?}, expected [batch, time, classes]")]
    FramewiseShape { name: String, dims: Vec<i64> },
    #[error("framewise output `{name}` has a batch of {batch} for {n} windows")]
    FramewiseBatch { name: String, batch: i64, n: usize },
    #[error("framewise output `{name}` holds a non-finite value ({value}) for class {class}")]
    FramewiseNonFinite {
        name: String,
        value: f32,
        class: usize,
    },
    #[error("state `{name}` came back with {got} values, expected {expected}")]
    StateSize {
        name: String,
        got: usize,
        expected: usize,
    },
}

/// What ONNX Runtime was doing when it failed ([`InferenceError::Ort`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunStep {
    #[error("preparing input `{0}`")]
    Input(String),
    #[error("running the model")]
    Run,
    #[error("reading output `{0}`")]
    Output(String),
    #[error("reading state `{0}`")]
    State(String),
    #[error("ending the profile")]
    EndProfiling,
}

impl fmt::Display for ProviderReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.active, &self.fallback_reason) {
            (Provider::Cuda, _) => write!(f, "CUDA"),
            (Provider::Cpu, None) => write!(f, "CPU"),
            (Provider::Cpu, Some(reason)) => write!(f, "CPU (CUDA unavailable: {reason})"),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    pub device: DevicePreference,
    /// Intra-op threads; `None` lets ONNX Runtime choose.
    pub threads: Option<usize>,
    /// Record ONNX Runtime's per-node profile under this file prefix
    /// ([`ModelRunner::end_profiling`] writes it).
    pub profile_prefix: Option<PathBuf>,
    /// Run the graph as stored, without ONNX Runtime's fusions, so a profile shows the
    /// model's own nodes.
    pub unoptimized: bool,
}

struct StateSlot {
    input: String,
    output: String,
    shape: Vec<i64>,
    init: f32,
    values: Vec<f32>,
}

/// Framewise probabilities of one batch (after the output's activation): window-major,
/// `windows * frames_per_window * classes` values, each frame a row of one probability per
/// class. [`ModelRunner::run_with_frames`] replaces the contents on each call, so one value
/// can be reused without allocating.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameScores {
    pub frames_per_window: usize,
    pub values: Vec<f32>,
}

impl FrameScores {
    /// The frames of window `index` of the batch, `frames_per_window * classes` values.
    pub fn window(&self, index: usize, n_classes: usize) -> &[f32] {
        let size = self.frames_per_window * n_classes;
        &self.values[index * size..(index + 1) * size]
    }
}

/// A session ready to score windows of one bundle.
pub struct ModelRunner {
    session: Session,
    input: AudioInput,
    output: OutputSpec,
    /// The bundle's first `framewise` output, read only when frames are asked for.
    framewise: Option<OutputSpec>,
    n_classes: usize,
    states: Vec<StateSlot>,
    constants: Vec<(String, DynValue)>,
    input_buf: Vec<f32>,
    provider: ProviderReport,
    model_name: String,
}

impl ModelRunner {
    pub fn new(
        runtime: &Runtime,
        bundle: &Bundle,
        options: &SessionOptions,
    ) -> Result<Self, InferenceError> {
        let (session, provider) = build_session(runtime, bundle, options)?;
        let session_error = |source: ort::Error| InferenceError::Session {
            path: bundle.model_path.clone(),
            source,
        };
        let states = bundle
            .spec
            .state
            .iter()
            .map(|state| StateSlot {
                input: state.input.clone(),
                output: state.output.clone(),
                shape: state.shape.iter().map(|&d| d as i64).collect(),
                init: state.init,
                values: vec![state.init; state.shape.iter().product()],
            })
            .collect();
        let mut constants = Vec::new();
        for constant in &bundle.spec.constants {
            let shape: Vec<i64> = constant.shape.iter().map(|&d| d as i64).collect();
            let value: DynValue = match constant.dtype {
                ConstantType::Float32 => {
                    let data: Vec<f32> = constant.values.iter().map(|&v| v as f32).collect();
                    Tensor::from_array((shape, data))
                        .map_err(session_error)?
                        .into_dyn()
                }
                ConstantType::Int64 => {
                    let data: Vec<i64> = constant.values.iter().map(|&v| v as i64).collect();
                    Tensor::from_array((shape, data))
                        .map_err(session_error)?
                        .into_dyn()
                }
            };
            constants.push((constant.name.clone(), value));
        }
        Ok(Self {
            session,
            input: bundle.input.clone(),
            output: bundle.primary_output().clone(),
            framewise: bundle.framewise_output().cloned(),
            n_classes: bundle.labels.len(),
            states,
            constants,
            input_buf: Vec::new(),
            provider,
            model_name: bundle.name().to_string(),
        })
    }

    pub fn provider(&self) -> &ProviderReport {
        &self.provider
    }

    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Output frames per second of the bundle's framewise output; `None` when it has none.
    pub fn frame_rate_hz(&self) -> Option<f64> {
        self.framewise.as_ref().and_then(|o| o.frame_rate_hz)
    }

    /// Largest batch the model accepts; `None` if any.
    pub fn max_batch(&self) -> Option<usize> {
        self.input.max_batch
    }

    /// Stops profiling and returns the profile file ONNX Runtime wrote (JSON trace events).
    pub fn end_profiling(&mut self) -> Result<PathBuf, InferenceError> {
        self.session
            .end_profiling()
            .map(PathBuf::from)
            .map_err(|source| InferenceError::Ort {
                model: self.model_name.clone(),
                step: RunStep::EndProfiling,
                source,
            })
    }

    /// Whether the model carries state from one window to the next.
    pub fn is_stateful(&self) -> bool {
        !self.states.is_empty()
    }

    /// Back to the initial state, for a new stream.
    pub fn reset_state(&mut self) {
        for state in &mut self.states {
            state.values.fill(state.init);
        }
    }

    /// Scores `n` windows of `rows` rows each, stored time-major one after the other in
    /// `windows`. Appends `n * n_classes` probabilities to `scores`.
    pub fn run(
        &mut self,
        windows: &[f32],
        n: usize,
        rows: usize,
        scores: &mut Vec<f32>,
    ) -> Result<(), InferenceError> {
        self.run_inner(windows, n, rows, scores, None)
    }

    /// [`ModelRunner::run`], and also the bundle's framewise output for each window, in
    /// `frames` (its contents are replaced). Fails when the bundle has no framewise output.
    /// `run` alone never reads or copies the framewise tensor.
    pub fn run_with_frames(
        &mut self,
        windows: &[f32],
        n: usize,
        rows: usize,
        scores: &mut Vec<f32>,
        frames: &mut FrameScores,
    ) -> Result<(), InferenceError> {
        if self.framewise.is_none() {
            return Err(self.run_error(RunProblem::NoFramewiseOutput));
        }
        self.run_inner(windows, n, rows, scores, Some(frames))
    }

    fn run_inner(
        &mut self,
        windows: &[f32],
        n: usize,
        rows: usize,
        scores: &mut Vec<f32>,
        frames: Option<&mut FrameScores>,
    ) -> Result<(), InferenceError> {
        let width = self.input.row_width();
        if n == 0 || windows.len() != n * rows * width {
            return Err(self.run_error(RunProblem::WindowSize {
                n,
                rows,
                width,
                got: windows.len(),
            }));
        }
        if rows < self.input.min_rows {
            return Err(self.run_error(RunProblem::WindowTooShort {
                rows,
                min: self.input.min_rows,
            }));
        }
        if self.input.max_batch.is_some_and(|max| n > max) {
            return Err(self.run_error(RunProblem::BatchTooLarge { n }));
        }
        let shape = fill_input(
            &self.input.layout,
            windows,
            n,
            rows,
            width,
            &mut self.input_buf,
        );

        let Self {
            session,
            input,
            output,
            framewise,
            states,
            constants,
            input_buf,
            model_name,
            ..
        } = self;
        let fail = |problem: RunProblem| InferenceError::Run {
            model: model_name.clone(),
            problem,
        };
        let ort_fail = |step: RunStep| {
            |source: ort::Error| InferenceError::Ort {
                model: model_name.clone(),
                step,
                source,
            }
        };
        let mut inputs: Vec<(String, SessionInputValue<'_>)> =
            Vec::with_capacity(1 + states.len() + constants.len());
        let audio = TensorRef::from_array_view((shape, input_buf.as_slice()))
            .map_err(ort_fail(RunStep::Input(input.name.clone())))?;
        inputs.push((input.name.clone(), audio.into()));
        for state in states.iter() {
            let value = TensorRef::from_array_view((state.shape.clone(), state.values.as_slice()))
                .map_err(ort_fail(RunStep::Input(state.input.clone())))?;
            inputs.push((state.input.clone(), value.into()));
        }
        for (name, value) in constants.iter() {
            inputs.push((name.clone(), value.into()));
        }
        let outputs = session.run(inputs).map_err(ort_fail(RunStep::Run))?;

        let value = outputs.get(&output.name).ok_or_else(|| {
            fail(RunProblem::MissingOutput {
                name: output.name.clone(),
            })
        })?;
        let (out_shape, data) = value
            .try_extract_tensor::<f32>()
            .map_err(ort_fail(RunStep::Output(output.name.clone())))?;
        let dims: Vec<i64> = out_shape.iter().copied().collect();
        let start = scores.len();
        match (output.kind, dims.as_slice()) {
            (OutputKind::Clip, [batch, classes]) if *batch as usize == n => {
                check_classes(*classes, self.n_classes).map_err(&fail)?;
                scores.extend_from_slice(data);
            }
            (OutputKind::Framewise, [batch, frames, classes]) if *batch as usize == n => {
                // Without a clip output, a window's score is its loudest frame's.
                check_classes(*classes, self.n_classes).map_err(&fail)?;
                let (frames, classes) = (*frames as usize, *classes as usize);
                for window in data.chunks_exact((frames * classes).max(1)) {
                    let row_start = scores.len();
                    scores.extend_from_slice(&window[..classes]);
                    for frame in window.chunks_exact(classes).skip(1) {
                        for (best, &v) in scores[row_start..].iter_mut().zip(frame) {
                            *best = best.max(v);
                        }
                    }
                }
            }
            _ => {
                return Err(fail(RunProblem::OutputShape {
                    name: output.name.clone(),
                    dims,
                    kind: output.kind,
                    n,
                }))
            }
        }
        if let Some(bad) = scores[start..].iter().position(|v| !v.is_finite()) {
            return Err(fail(RunProblem::NonFinite {
                name: output.name.clone(),
                value: scores[start + bad],
                class: bad % self.n_classes.max(1),
            }));
        }
        apply_activation(output, self.n_classes, &mut scores[start..]);

        if let (Some(frames), Some(spec)) = (frames, framewise.as_ref()) {
            let value = outputs.get(&spec.name).ok_or_else(|| {
                fail(RunProblem::MissingOutput {
                    name: spec.name.clone(),
                })
            })?;
            let (frame_shape, data) = value
                .try_extract_tensor::<f32>()
                .map_err(ort_fail(RunStep::Output(spec.name.clone())))?;
            let dims: Vec<i64> = frame_shape.iter().copied().collect();
            let [batch, count, classes] = dims.as_slice() else {
                return Err(fail(RunProblem::FramewiseShape {
                    name: spec.name.clone(),
                    dims,
                }));
            };
            if *batch as usize != n {
                return Err(fail(RunProblem::FramewiseBatch {
                    name: spec.name.clone(),
                    batch: *batch,
                    n,
                }));
            }
            check_classes(*classes, self.n_classes).map_err(&fail)?;
            if let Some(bad) = data.iter().position(|v| !v.is_finite()) {
                return Err(fail(RunProblem::FramewiseNonFinite {
                    name: spec.name.clone(),
                    value: data[bad],
                    class: bad % self.n_classes.max(1),
                }));
            }
            frames.frames_per_window = *count as usize;
            frames.values.clear();
            frames.values.extend_from_slice(data);
            apply_activation(spec, self.n_classes, &mut frames.values);
        }

        for state in states.iter_mut() {
            let (_, data) = outputs
                .get(&state.output)
                .ok_or_else(|| {
                    fail(RunProblem::MissingState {
                        name: state.output.clone(),
                    })
                })?
                .try_extract_tensor::<f32>()
                .map_err(ort_fail(RunStep::State(state.output.clone())))?;
            if data.len() != state.values.len() {
                return Err(fail(RunProblem::StateSize {
                    name: state.output.clone(),
                    got: data.len(),
                    expected: state.values.len(),
                }));
            }
            state.values.copy_from_slice(data);
        }
        Ok(())
    }

    fn run_error(&self, problem: RunProblem) -> InferenceError {
        InferenceError::Run {
            model: self.model_name.clone(),
            problem,
        }
    }
}

fn check_classes(classes: i64, expected: usize) -> Result<(), RunProblem> {
    if classes as usize == expected {
        Ok(())
    } else {
        Err(RunProblem::ClassCount {
            got: classes,
            expected,
        })
    }
}

fn apply_activation(output: &OutputSpec, n_classes: usize, scores: &mut [f32]) {
    if output.values == OutputValues::Probabilities {
        return;
    }
    if let Some(limit) = output.logit_clip {
        scores.iter_mut().for_each(|v| *v = v.clamp(-limit, limit));
    }
    match output.activation {
        Activation::Sigmoid => scores
            .iter_mut()
            .for_each(|v| *v = 1.0 / (1.0 + (-*v).exp())),
        Activation::Softmax => {
            for row in scores.chunks_exact_mut(n_classes.max(1)) {
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0.0;
                for v in row.iter_mut() {
                    *v = (*v - max).exp();
                    sum += *v;
                }
                row.iter_mut().for_each(|v| *v /= sum);
            }
        }
    }
}

/// Rearranges `n` time-major `[rows][width]` windows into the tensor layout the model
/// wants, returning its shape.
fn fill_input(
    layout: &[Axis],
    windows: &[f32],
    n: usize,
    rows: usize,
    width: usize,
    dst: &mut Vec<f32>,
) -> Vec<i64> {
    let size = |axis: &Axis| match axis {
        Axis::Batch => n,
        Axis::Channel => 1,
        Axis::Time => rows,
        Axis::Feature => width,
    };
    let shape: Vec<i64> = layout.iter().map(|a| size(a) as i64).collect();
    dst.clear();
    let time_before_feature = layout.iter().position(|a| *a == Axis::Time)
        < layout.iter().position(|a| *a == Axis::Feature)
        || width == 1;
    if time_before_feature {
        // The bundle checker puts batch first, so the windows are already in order.
        dst.extend_from_slice(windows);
    } else {
        dst.reserve(windows.len());
        for window in windows.chunks_exact(rows * width) {
            for band in 0..width {
                dst.extend((0..rows).map(|row| window[row * width + band]));
            }
        }
    }
    shape
}

fn build_session(
    runtime: &Runtime,
    bundle: &Bundle,
    options: &SessionOptions,
) -> Result<(Session, ProviderReport), InferenceError> {
    let session_error = |source: ort::Error| InferenceError::Session {
        path: bundle.model_path.clone(),
        source,
    };
    // The builder's setters hand the builder back inside their error; only the error is kept.
    let builder_error = |e: ort::Error<SessionBuilder>| session_error(e.into());
    let builder = || -> Result<SessionBuilder, InferenceError> {
        let mut builder = Session::builder(&runtime.environment).map_err(session_error)?;
        if let Some(threads) = options.threads {
            builder = builder.with_intra_threads(threads).map_err(builder_error)?;
        }
        if let Some(prefix) = &options.profile_prefix {
            builder = builder.with_profiling(prefix).map_err(builder_error)?;
        }
        if options.unoptimized {
            builder = builder
                .with_optimization_level(ort::session::builder::GraphOptimizationLevel::Disable)
                .map_err(builder_error)?;
        }
        Ok(builder)
    };
    let mut fallback_reason = None;
    if options.device != DevicePreference::Cpu {
        let cuda = ort::ep::CUDA::default().build().error_on_failure();
        let attempt = builder()?
            .with_execution_providers([cuda])
            .map_err(ort::Error::from)
            .and_then(|mut b| b.commit_from_file(&bundle.model_path));
        match attempt {
            Ok(session) => {
                return Ok((
                    session,
                    ProviderReport {
                        requested: options.device,
                        active: Provider::Cuda,
                        fallback_reason: None,
                    },
                ))
            }
            Err(error) => fallback_reason = Some(CudaUnavailable(Arc::new(error))),
        }
    }
    let session = builder()?
        .commit_from_file(&bundle.model_path)
        .map_err(session_error)?;
    Ok((
        session,
        ProviderReport {
            requested: options.device,
            active: Provider::Cpu,
            fallback_reason,
        },
    ))
}
