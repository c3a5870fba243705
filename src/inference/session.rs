//! One ONNX Runtime session for one bundle, owned by one thread (`Session::run` takes
//! `&mut self`). It turns batches of time-major windows into probability rows, carries
//! state between windows, feeds constants, and reports which execution provider runs.

use std::fmt;
use std::path::PathBuf;

use ort::session::builder::SessionBuilder;
use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Tensor, TensorRef};

use super::runtime::Runtime;
use super::InferenceError;
use crate::bundle::{
    Activation, AudioInput, Axis, Bundle, ConstantType, OutputKind, OutputSpec, OutputValues,
};

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DevicePreference {
    /// CUDA when it works, CPU otherwise.
    #[default]
    Auto,
    Cpu,
    Cuda,
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
    pub fallback_reason: Option<String>,
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
        let session_error = |reason: String| InferenceError::Session {
            path: bundle.model_path.clone(),
            reason,
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
                        .map_err(|e| session_error(e.to_string()))?
                        .into_dyn()
                }
                ConstantType::Int64 => {
                    let data: Vec<i64> = constant.values.iter().map(|&v| v as i64).collect();
                    Tensor::from_array((shape, data))
                        .map_err(|e| session_error(e.to_string()))?
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
            .map_err(|e| InferenceError::Run {
                model: self.model_name.clone(),
                reason: format!("cannot end profiling: {e}"),
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
            return Err(self.run_error(
                "the bundle has no framewise output ([[outputs]] with kind = \"framewise\")".into(),
            ));
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
            return Err(self.run_error(format!(
                "expected {n} windows of {rows} x {width} values, got {} values",
                windows.len()
            )));
        }
        if rows < self.input.min_rows {
            return Err(self.run_error(format!(
                "a window of {rows} rows is shorter than the model's minimum of {}",
                self.input.min_rows
            )));
        }
        if self.input.max_batch.is_some_and(|max| n > max) {
            return Err(self.run_error(format!("batch of {n} exceeds the model's maximum")));
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
        let fail = |reason: String| InferenceError::Run {
            model: model_name.clone(),
            reason,
        };
        let mut inputs: Vec<(String, SessionInputValue<'_>)> =
            Vec::with_capacity(1 + states.len() + constants.len());
        let audio = TensorRef::from_array_view((shape, input_buf.as_slice()))
            .map_err(|e| fail(e.to_string()))?;
        inputs.push((input.name.clone(), audio.into()));
        for state in states.iter() {
            let value = TensorRef::from_array_view((state.shape.clone(), state.values.as_slice()))
                .map_err(|e| fail(e.to_string()))?;
            inputs.push((state.input.clone(), value.into()));
        }
        for (name, value) in constants.iter() {
            inputs.push((name.clone(), value.into()));
        }
        let outputs = session.run(inputs).map_err(|e| fail(e.to_string()))?;

        let value = outputs
            .get(&output.name)
            .ok_or_else(|| fail(format!("the model did not return `{}`", output.name)))?;
        let (out_shape, data) = value
            .try_extract_tensor::<f32>()
            .map_err(|e| fail(format!("output `{}`: {e}", output.name)))?;
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
                return Err(fail(format!(
                    "output `{}` has shape {dims:?}, which does not fit a {:?} output for a batch of {n}",
                    output.name, output.kind
                )))
            }
        }
        if let Some(bad) = scores[start..].iter().position(|v| !v.is_finite()) {
            return Err(fail(format!(
                "output `{}` holds a non-finite value ({}) for class {}",
                output.name,
                scores[start + bad],
                bad % self.n_classes.max(1)
            )));
        }
        apply_activation(output, self.n_classes, &mut scores[start..]);

        if let (Some(frames), Some(spec)) = (frames, framewise.as_ref()) {
            let value = outputs
                .get(&spec.name)
                .ok_or_else(|| fail(format!("the model did not return `{}`", spec.name)))?;
            let (frame_shape, data) = value
                .try_extract_tensor::<f32>()
                .map_err(|e| fail(format!("output `{}`: {e}", spec.name)))?;
            let dims: Vec<i64> = frame_shape.iter().copied().collect();
            let [batch, count, classes] = dims.as_slice() else {
                return Err(fail(format!(
                    "framewise output `{}` has shape {dims:?}, expected [batch, time, classes]",
                    spec.name
                )));
            };
            if *batch as usize != n {
                return Err(fail(format!(
                    "framewise output `{}` has a batch of {batch} for {n} windows",
                    spec.name
                )));
            }
            check_classes(*classes, self.n_classes).map_err(&fail)?;
            if let Some(bad) = data.iter().position(|v| !v.is_finite()) {
                return Err(fail(format!(
                    "framewise output `{}` holds a non-finite value ({}) for class {}",
                    spec.name,
                    data[bad],
                    bad % self.n_classes.max(1)
                )));
            }
            frames.frames_per_window = *count as usize;
            frames.values.clear();
            frames.values.extend_from_slice(data);
            apply_activation(spec, self.n_classes, &mut frames.values);
        }

        for state in states.iter_mut() {
            let (_, data) = outputs
                .get(&state.output)
                .ok_or_else(|| fail(format!("the model did not return state `{}`", state.output)))?
                .try_extract_tensor::<f32>()
                .map_err(|e| fail(format!("state `{}`: {e}", state.output)))?;
            if data.len() != state.values.len() {
                return Err(fail(format!(
                    "state `{}` came back with {} values, expected {}",
                    state.output,
                    data.len(),
                    state.values.len()
                )));
            }
            state.values.copy_from_slice(data);
        }
        Ok(())
    }

    fn run_error(&self, reason: String) -> InferenceError {
        InferenceError::Run {
            model: self.model_name.clone(),
            reason,
        }
    }
}

fn check_classes(classes: i64, expected: usize) -> Result<(), String> {
    if classes as usize == expected {
        Ok(())
    } else {
        Err(format!(
            "the model returned {classes} classes but the bundle has {expected} labels"
        ))
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
    let session_error = |reason: String| InferenceError::Session {
        path: bundle.model_path.clone(),
        reason,
    };
    let builder = || -> Result<SessionBuilder, InferenceError> {
        let mut builder =
            Session::builder(&runtime.environment).map_err(|e| session_error(e.to_string()))?;
        if let Some(threads) = options.threads {
            builder = builder
                .with_intra_threads(threads)
                .map_err(|e| session_error(e.to_string()))?;
        }
        if let Some(prefix) = &options.profile_prefix {
            builder = builder
                .with_profiling(prefix)
                .map_err(|e| session_error(e.to_string()))?;
        }
        if options.unoptimized {
            builder = builder
                .with_optimization_level(ort::session::builder::GraphOptimizationLevel::Disable)
                .map_err(|e| session_error(e.to_string()))?;
        }
        Ok(builder)
    };
    let mut fallback_reason = None;
    if options.device != DevicePreference::Cpu {
        let cuda = ort::ep::CUDA::default().build().error_on_failure();
        let attempt = builder()?
            .with_execution_providers([cuda])
            .map_err(|e| e.to_string())
            .and_then(|mut b| {
                b.commit_from_file(&bundle.model_path)
                    .map_err(|e| e.to_string())
            });
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
            Err(reason) => fallback_reason = Some(first_line(&reason)),
        }
    }
    let session = builder()?
        .commit_from_file(&bundle.model_path)
        .map_err(|e| session_error(e.to_string()))?;
    Ok((
        session,
        ProviderReport {
            requested: options.device,
            active: Provider::Cpu,
            fallback_reason,
        },
    ))
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or(text).trim().to_string()
}
