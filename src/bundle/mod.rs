//! Self-describing model bundles: a folder with `bundle.toml`, the ONNX model, its labels
//! and its licence. [`Bundle::load`] checks the spec against itself and against the ONNX
//! graph once, so that everything downstream can trust it. Each broken rule gives one
//! [`BundleError`] naming the file and the field.

pub mod catalog;
pub mod onnx;
pub mod spec;

use std::path::{Path, PathBuf};

use crate::dsp::{Frontend, FrontendSpec};
use crate::ontology::{Hierarchy, JoinError, Ontology};
use onnx::{Dim, ElementType, OnnxInfo, TensorInfo};
pub use spec::{
    Activation, Axis, BundleSpec, ConstantSpec, ConstantType, InputSpec, LiveSpec, OntologySpec,
    OutputKind, OutputSpec, OutputValues, StateSpec,
};

/// Seconds between live predictions when neither the user nor the bundle says.
pub const DEFAULT_LIVE_HOP_SECS: f64 = 0.1;

/// The spec file's name inside a bundle folder.
pub const SPEC_FILE: &str = "bundle.toml";

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("model bundle {} does not exist", path.display())]
    NotFound { path: PathBuf },
    #[error("{}: a bundle is a folder holding {SPEC_FILE}, the ONNX model and its labels", path.display())]
    NotAFolder { path: PathBuf },
    #[error("{}: the {what} file is missing", path.display())]
    MissingFile { path: PathBuf, what: &'static str },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("{}: `{field}`: {reason}", path.display())]
    Invalid {
        path: PathBuf,
        field: String,
        reason: String,
    },
    #[error("{}: not a usable ONNX model: {reason}", path.display())]
    Onnx { path: PathBuf, reason: String },
    #[error("{}: {reason}", path.display())]
    Labels { path: PathBuf, reason: String },
}

/// How the audio input is fed.
#[derive(Debug, Clone, PartialEq)]
pub enum InputKind {
    /// Feature frames of `n_bands` values, from the bundle's front-end.
    Features {
        frontend: FrontendSpec,
        n_bands: usize,
    },
    /// Raw samples, after `lead_in_samples` zeros.
    Waveform { lead_in_samples: usize },
}

/// The audio input, resolved: all lengths are in rows (frames, or samples for waveforms).
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInput {
    pub name: String,
    pub sample_rate_hz: u32,
    pub layout: Vec<Axis>,
    pub kind: InputKind,
    pub window_rows: usize,
    pub min_rows: usize,
    /// The longest window the graph accepts (`max_samples`); `window_rows` unless the bundle
    /// says more. Live windows may be set anywhere in `min_rows ..= max_rows`.
    pub max_rows: usize,
    pub hop_rows: usize,
    /// `None` when the batch axis is dynamic.
    pub max_batch: Option<usize>,
}

impl AudioInput {
    /// Values per row: bands per frame, or 1 for samples.
    pub fn row_width(&self) -> usize {
        match &self.kind {
            InputKind::Features { n_bands, .. } => *n_bands,
            InputKind::Waveform { .. } => 1,
        }
    }

    /// Samples of audio per row.
    pub fn row_samples(&self) -> usize {
        match &self.kind {
            InputKind::Features { frontend, .. } => frontend.hop_samples,
            InputKind::Waveform { .. } => 1,
        }
    }

    pub fn seconds_per_row(&self) -> f64 {
        self.row_samples() as f64 / f64::from(self.sample_rate_hz)
    }

    pub fn is_variable_length(&self) -> bool {
        self.min_rows < self.window_rows
    }

    /// The same input with windows of `secs` seconds, clamped to what the model accepts.
    pub fn with_window_secs(&self, secs: f64) -> Self {
        let rows = (secs / self.seconds_per_row()).round();
        let rows = if rows.is_finite() {
            rows as usize
        } else {
            self.window_rows
        };
        Self {
            window_rows: rows.clamp(self.min_rows, self.max_rows),
            ..self.clone()
        }
    }

    /// Shortest and longest window, in seconds.
    pub fn window_secs_range(&self) -> (f64, f64) {
        let per_row = self.seconds_per_row();
        (
            self.min_rows as f64 * per_row,
            self.max_rows as f64 * per_row,
        )
    }

    /// Builds a fresh front-end (features input only).
    pub fn frontend(&self) -> Option<Frontend> {
        match &self.kind {
            // The spec was built once at load, so building it again cannot fail.
            InputKind::Features { frontend, .. } => {
                Frontend::new(frontend, self.sample_rate_hz).ok()
            }
            InputKind::Waveform { .. } => None,
        }
    }
}

/// A loaded, checked model bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub dir: PathBuf,
    pub spec_path: PathBuf,
    pub model_path: PathBuf,
    pub spec: BundleSpec,
    pub labels: Vec<String>,
    /// The labels joined to the bundle's `[ontology]`, or flat.
    pub hierarchy: Hierarchy,
    pub onnx: OnnxInfo,
    pub model_size_bytes: u64,
    pub input: AudioInput,
}

impl Bundle {
    /// Loads the bundle at `path` (a folder; a path to its `bundle.toml` also works).
    pub fn load(path: &Path) -> Result<Self, BundleError> {
        let dir = if path.file_name().is_some_and(|n| n == SPEC_FILE) {
            path.parent().unwrap_or(Path::new(".")).to_path_buf()
        } else {
            path.to_path_buf()
        };
        if !dir.exists() {
            return Err(BundleError::NotFound { path: dir });
        }
        if !dir.is_dir() {
            return Err(BundleError::NotAFolder { path: dir });
        }
        let spec_path = dir.join(SPEC_FILE);
        let text = read_text(&spec_path, "bundle spec")?;
        let spec: BundleSpec = toml::from_str(&text).map_err(|e| BundleError::Syntax {
            path: spec_path.clone(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let checker = Checker {
            spec_path: &spec_path,
        };

        checker.require(
            !spec.model.name.trim().is_empty(),
            "model.name",
            "must not be empty",
        )?;
        checker.require(
            !spec.model.licence.trim().is_empty(),
            "model.licence",
            "name the model's licence (for example \"MIT\")",
        )?;
        require_file(&dir.join(&spec.model.licence_file), "licence")?;

        let labels_path = dir.join(&spec.model.labels);
        let labels = parse_labels(&labels_path, &read_text(&labels_path, "labels")?)?;
        let hierarchy = match &spec.ontology {
            None => Hierarchy::flat(labels.len()),
            Some(ontology) => {
                let known = Ontology::named(&ontology.name).ok_or_else(|| {
                    checker.invalid(
                        "ontology.name",
                        JoinError::UnknownOntology {
                            name: ontology.name.clone(),
                        }
                        .to_string(),
                    )
                })?;
                let ids_path = dir.join(&ontology.ids);
                let ids = parse_labels(&ids_path, &read_text(&ids_path, "ontology ids")?)?;
                let joined = if ids.len() == labels.len() {
                    Hierarchy::join(known, &ids)
                } else {
                    Err(JoinError::Count {
                        ids: ids.len(),
                        labels: labels.len(),
                    })
                };
                joined.map_err(|e| BundleError::Labels {
                    path: ids_path,
                    reason: e.to_string(),
                })?
            }
        };

        let model_path = dir.join(&spec.model.file);
        let model_bytes = std::fs::read(&model_path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => BundleError::MissingFile {
                path: model_path.clone(),
                what: "ONNX model",
            },
            _ => BundleError::Io {
                path: model_path.clone(),
                source,
            },
        })?;
        let onnx = OnnxInfo::parse(&model_bytes).map_err(|reason| BundleError::Onnx {
            path: model_path.clone(),
            reason,
        })?;

        let input = checker.audio_input(&spec, &onnx)?;
        checker.outputs(&spec, &onnx, labels.len())?;
        let stateful = checker.state_and_constants(&spec, &onnx)?;
        let input = AudioInput {
            max_batch: if stateful { Some(1) } else { input.max_batch },
            ..input
        };
        if let Some(live) = &spec.live {
            checker.live(live, &input, stateful)?;
        }
        if let Some(reference) = &spec.reference {
            require_file(&dir.join(&reference.audio), "reference audio")?;
            require_file(&dir.join(&reference.expected), "reference scores")?;
        }

        Ok(Self {
            model_size_bytes: model_bytes.len() as u64,
            dir,
            spec_path,
            model_path,
            spec,
            labels,
            hierarchy,
            onnx,
            input,
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.model.name
    }

    /// Whether windows carry state from one to the next (and so run at the bundle's hop).
    pub fn is_stateful(&self) -> bool {
        !self.spec.state.is_empty()
    }

    /// Seconds between live predictions: a stateful model's own hop; else what was asked,
    /// else the bundle's `[live]` default, else [`DEFAULT_LIVE_HOP_SECS`].
    pub fn live_hop_secs(&self, asked: Option<f64>) -> f64 {
        if self.is_stateful() {
            return self.input.hop_rows as f64 * self.input.seconds_per_row();
        }
        asked
            .or_else(|| self.spec.live.as_ref().and_then(|l| l.hop_secs))
            .unwrap_or(DEFAULT_LIVE_HOP_SECS)
    }

    /// The input as run live: windows of the asked length, else of the bundle's `[live]`
    /// length, else of its file length, clamped to what the model accepts.
    pub fn live_input(&self, asked_window_secs: Option<f64>) -> AudioInput {
        match asked_window_secs.or_else(|| self.spec.live.as_ref().and_then(|l| l.window_secs)) {
            Some(secs) => self.input.with_window_secs(secs),
            None => self.input.clone(),
        }
    }

    /// The output shown and exported: the first clip-level one, else the first.
    pub fn primary_output(&self) -> &OutputSpec {
        self.spec
            .outputs
            .iter()
            .find(|o| o.kind == OutputKind::Clip)
            .unwrap_or(&self.spec.outputs[0])
    }

    /// The first `framewise` output (`[batch, time, classes]`), which sound event
    /// detection reads; `None` when the model has only clip outputs.
    pub fn framewise_output(&self) -> Option<&OutputSpec> {
        self.spec
            .outputs
            .iter()
            .find(|o| o.kind == OutputKind::Framewise)
    }
}

fn read_text(path: &Path, what: &'static str) -> Result<String, BundleError> {
    std::fs::read_to_string(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => BundleError::MissingFile {
            path: path.to_path_buf(),
            what,
        },
        _ => BundleError::Io {
            path: path.to_path_buf(),
            source,
        },
    })
}

fn require_file(path: &Path, what: &'static str) -> Result<(), BundleError> {
    if path.is_file() {
        Ok(())
    } else {
        Err(BundleError::MissingFile {
            path: path.to_path_buf(),
            what,
        })
    }
}

fn parse_labels(path: &Path, text: &str) -> Result<Vec<String>, BundleError> {
    let mut labels = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let label = line.trim();
        if label.is_empty() {
            // A trailing newline is fine; a blank label in the middle shifts every class after it.
            if text.lines().skip(index).all(|l| l.trim().is_empty()) {
                break;
            }
            return Err(BundleError::Labels {
                path: path.to_path_buf(),
                reason: format!("line {} is blank; every line names one class", index + 1),
            });
        }
        labels.push(label.to_string());
    }
    if labels.is_empty() {
        return Err(BundleError::Labels {
            path: path.to_path_buf(),
            reason: "no labels".into(),
        });
    }
    Ok(labels)
}

/// Checks that name `bundle.toml` and the offending field.
struct Checker<'a> {
    spec_path: &'a Path,
}

impl Checker<'_> {
    fn invalid(&self, field: impl Into<String>, reason: impl Into<String>) -> BundleError {
        BundleError::Invalid {
            path: self.spec_path.to_path_buf(),
            field: field.into(),
            reason: reason.into(),
        }
    }

    fn require(&self, ok: bool, field: &str, reason: &str) -> Result<(), BundleError> {
        if ok {
            Ok(())
        } else {
            Err(self.invalid(field, reason))
        }
    }

    fn model_input<'o>(
        &self,
        onnx: &'o OnnxInfo,
        name: &str,
        field: &str,
    ) -> Result<&'o TensorInfo, BundleError> {
        self.find_tensor(&onnx.inputs, "input", name, field)
    }

    fn model_output<'o>(
        &self,
        onnx: &'o OnnxInfo,
        name: &str,
        field: &str,
    ) -> Result<&'o TensorInfo, BundleError> {
        self.find_tensor(&onnx.outputs, "output", name, field)
    }

    /// The graph input or output called `name`, or an error listing the ones that exist.
    fn find_tensor<'o>(
        &self,
        tensors: &'o [TensorInfo],
        kind: &str,
        name: &str,
        field: &str,
    ) -> Result<&'o TensorInfo, BundleError> {
        tensors.iter().find(|t| t.name == name).ok_or_else(|| {
            let names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
            self.invalid(
                field,
                format!("the model has no {kind} `{name}`; its {kind}s are {names:?}"),
            )
        })
    }

    fn audio_input(&self, spec: &BundleSpec, onnx: &OnnxInfo) -> Result<AudioInput, BundleError> {
        let (name, sample_rate_hz, layout, window, hop, min, max, unit, kind) = match &spec.input {
            InputSpec::Features {
                name,
                sample_rate_hz,
                layout,
                window_frames,
                hop_frames,
                min_frames,
            } => {
                let frontend = spec.frontend.as_ref().ok_or_else(|| {
                    self.invalid("frontend", "a features input needs a [frontend] table")
                })?;
                let built = Frontend::new(frontend, *sample_rate_hz)
                    .map_err(|e| self.invalid("frontend", e.to_string()))?;
                let kind = InputKind::Features {
                    frontend: frontend.clone(),
                    n_bands: built.n_bands(),
                };
                (
                    name,
                    *sample_rate_hz,
                    layout,
                    *window_frames,
                    *hop_frames,
                    *min_frames,
                    None,
                    "frames",
                    kind,
                )
            }
            InputSpec::Waveform {
                name,
                sample_rate_hz,
                layout,
                window_samples,
                hop_samples,
                min_samples,
                max_samples,
                lead_in_samples,
            } => {
                if spec.frontend.is_some() {
                    return Err(self.invalid(
                        "frontend",
                        "a waveform input takes samples; remove [frontend] (the model computes its own)",
                    ));
                }
                let kind = InputKind::Waveform {
                    lead_in_samples: *lead_in_samples,
                };
                (
                    name,
                    *sample_rate_hz,
                    layout,
                    *window_samples,
                    *hop_samples,
                    *min_samples,
                    *max_samples,
                    "samples",
                    kind,
                )
            }
        };
        let field = |key: &str| format!("input.{key}");
        if !(1000..=384_000).contains(&sample_rate_hz) {
            return Err(self.invalid(
                field("sample_rate_hz"),
                format!("{sample_rate_hz} Hz is not a plausible audio rate"),
            ));
        }
        if window == 0 {
            return Err(self.invalid(field(&format!("window_{unit}")), "must be at least 1"));
        }
        if hop == 0 {
            return Err(self.invalid(field(&format!("hop_{unit}")), "must be at least 1"));
        }
        let min = min.unwrap_or(window);
        if min == 0 {
            return Err(self.invalid(field(&format!("min_{unit}")), "must be at least 1"));
        }
        if window < min {
            return Err(self.invalid(
                field(&format!("window_{unit}")),
                format!("{window} {unit} is shorter than the model's minimum, min_{unit} = {min}"),
            ));
        }
        let max = max.unwrap_or(window);
        if max < window {
            return Err(self.invalid(
                field(&format!("max_{unit}")),
                format!("{max} {unit} is shorter than window_{unit} = {window}"),
            ));
        }

        let tensor = self.model_input(onnx, name, &field("name"))?;
        if tensor.element_type != ElementType::Float32 {
            return Err(self.invalid(
                field("name"),
                format!(
                    "model input `{name}` is {}, but audio and features are fed as float32",
                    tensor.element_type.name()
                ),
            ));
        }
        let is_features = matches!(kind, InputKind::Features { .. });
        let count = |axis: Axis| layout.iter().filter(|&&a| a == axis).count();
        // The session copies windows into the tensor assuming batch is the outermost axis.
        let layout_ok = layout.first() == Some(&Axis::Batch)
            && count(Axis::Batch) == 1
            && count(Axis::Time) == 1
            && count(Axis::Channel) <= 1
            && count(Axis::Feature) == usize::from(is_features);
        if !layout_ok {
            let needs = if is_features {
                "batch first, then time and feature once each, and channel at most once"
            } else {
                "batch first, then time once, channel at most once, and no feature axis"
            };
            return Err(self.invalid(field("layout"), format!("{layout:?} must list {needs}")));
        }
        if tensor.dims.len() != layout.len() {
            return Err(self.invalid(
                field("layout"),
                format!(
                    "lists {} axes but model input `{name}` has rank {} {}",
                    layout.len(),
                    tensor.dims.len(),
                    tensor.shape_string()
                ),
            ));
        }
        let mut max_batch = None;
        for (axis, dim) in layout.iter().zip(&tensor.dims) {
            let Dim::Fixed(size) = *dim else { continue };
            let size = size as usize;
            match axis {
                Axis::Batch if size == 1 => max_batch = Some(1),
                Axis::Batch => {
                    return Err(self.invalid(
                        field("layout"),
                        format!("model input `{name}` has a fixed batch of {size}; export it with a dynamic batch axis or batch 1"),
                    ))
                }
                Axis::Channel if size != 1 => {
                    return Err(self.invalid(
                        field("layout"),
                        format!("model input `{name}` has {size} channels; livetag feeds mono"),
                    ))
                }
                Axis::Channel => {}
                Axis::Feature => {
                    let n_bands = match &kind {
                        InputKind::Features { n_bands, .. } => *n_bands,
                        InputKind::Waveform { .. } => 1,
                    };
                    if size != n_bands {
                        return Err(self.invalid(
                            "frontend.steps",
                            format!("the front-end makes {n_bands} bands per frame but model input `{name}` {} expects {size}", tensor.shape_string()),
                        ));
                    }
                }
                Axis::Time => {
                    if window != size || min != size || max != size {
                        return Err(self.invalid(
                            field(&format!("window_{unit}")),
                            format!(
                                "model input `{name}` {} has a fixed time axis of {size} {unit}, so window_{unit}, min_{unit} and max_{unit} must all be {size} (got {window}, {min} and {max})",
                                tensor.shape_string()
                            ),
                        ));
                    }
                }
            }
        }
        Ok(AudioInput {
            name: name.clone(),
            sample_rate_hz,
            layout: layout.clone(),
            kind,
            window_rows: window,
            min_rows: min,
            max_rows: max,
            hop_rows: hop,
            max_batch,
        })
    }

    /// `[live]`: a window the model accepts, a positive hop, and no hop for a stateful
    /// model, which always runs at its own.
    fn live(&self, live: &LiveSpec, input: &AudioInput, stateful: bool) -> Result<(), BundleError> {
        if let Some(secs) = live.hop_secs {
            self.require(
                secs > 0.0 && secs.is_finite(),
                "live.hop_secs",
                "must be a positive number of seconds",
            )?;
            self.require(
                !stateful,
                "live.hop_secs",
                "a stateful model runs at its own hop (input.hop_samples); remove this key",
            )?;
        }
        if let Some(secs) = live.window_secs {
            let (min_secs, max_secs) = input.window_secs_range();
            // Half a row of slack: the range is whole rows, the key is decimal seconds.
            let slack = 0.5 * input.seconds_per_row();
            if !(secs.is_finite() && secs >= min_secs - slack && secs <= max_secs + slack) {
                return Err(self.invalid(
                    "live.window_secs",
                    format!("{secs} s is outside what the model accepts, {min_secs:.3} to {max_secs:.3} s (input.min_* to input.max_*)"),
                ));
            }
        }
        Ok(())
    }

    fn outputs(
        &self,
        spec: &BundleSpec,
        onnx: &OnnxInfo,
        label_count: usize,
    ) -> Result<(), BundleError> {
        if spec.outputs.is_empty() {
            return Err(self.invalid("outputs", "list at least one [[outputs]] table"));
        }
        for (index, output) in spec.outputs.iter().enumerate() {
            let field = |key: &str| format!("outputs[{index}].{key}");
            let tensor = self.model_output(onnx, &output.name, &field("name"))?;
            if tensor.element_type != ElementType::Float32 {
                return Err(self.invalid(
                    field("name"),
                    format!(
                        "model output `{}` is {}, expected float32",
                        output.name,
                        tensor.element_type.name()
                    ),
                ));
            }
            let (rank, shape_words) = match output.kind {
                OutputKind::Clip => (2, "[batch, classes]"),
                OutputKind::Framewise => (3, "[batch, time, classes]"),
            };
            if tensor.dims.len() != rank {
                return Err(self.invalid(
                    field("kind"),
                    format!(
                        "a {:?} output is {shape_words}, but model output `{}` has rank {} {}",
                        output.kind,
                        output.name,
                        tensor.dims.len(),
                        tensor.shape_string()
                    )
                    .to_lowercase(),
                ));
            }
            if let Some(Dim::Fixed(classes)) = tensor.dims.last() {
                if *classes as usize != label_count {
                    return Err(self.invalid(
                        "model.labels",
                        format!(
                            "{} has {label_count} labels but model output `{}` {} has {classes} classes",
                            spec.model.labels, output.name, tensor.shape_string()
                        ),
                    ));
                }
            }
            match (output.kind, output.frame_rate_hz) {
                (OutputKind::Framewise, None) => {
                    return Err(self.invalid(
                        field("frame_rate_hz"),
                        "a framewise output needs its frame rate",
                    ))
                }
                (OutputKind::Framewise, Some(rate)) if rate.is_nan() || rate <= 0.0 => {
                    return Err(self.invalid(
                        field("frame_rate_hz"),
                        format!("must be positive, got {rate}"),
                    ))
                }
                (OutputKind::Clip, Some(_)) => {
                    return Err(self.invalid(
                        field("frame_rate_hz"),
                        "only framewise outputs have a frame rate",
                    ))
                }
                _ => {}
            }
            if output.logit_clip.is_some() && output.values != OutputValues::Logits {
                return Err(self.invalid(field("logit_clip"), "only logits can be clipped"));
            }
        }
        Ok(())
    }

    /// Returns whether the model carries state between windows.
    fn state_and_constants(&self, spec: &BundleSpec, onnx: &OnnxInfo) -> Result<bool, BundleError> {
        for (index, state) in spec.state.iter().enumerate() {
            let field = |key: &str| format!("state[{index}].{key}");
            let tensor = self.model_input(onnx, &state.input, &field("input"))?;
            self.model_output(onnx, &state.output, &field("output"))?;
            self.check_shape(tensor, &state.shape, &field("shape"))?;
            if tensor.element_type != ElementType::Float32 {
                return Err(self.invalid(
                    field("input"),
                    format!(
                        "state `{}` is {}; livetag carries float32 state",
                        state.input,
                        tensor.element_type.name()
                    ),
                ));
            }
        }
        for (index, constant) in spec.constants.iter().enumerate() {
            let field = |key: &str| format!("constants[{index}].{key}");
            let tensor = self.model_input(onnx, &constant.name, &field("name"))?;
            self.check_shape(tensor, &constant.shape, &field("shape"))?;
            let expected_type = match constant.dtype {
                ConstantType::Float32 => ElementType::Float32,
                ConstantType::Int64 => ElementType::Int64,
            };
            if tensor.element_type != expected_type {
                return Err(self.invalid(
                    field("dtype"),
                    format!(
                        "model input `{}` is {}",
                        constant.name,
                        tensor.element_type.name()
                    ),
                ));
            }
            let count: usize = constant.shape.iter().product();
            if constant.values.len() != count {
                return Err(self.invalid(
                    field("values"),
                    format!(
                        "shape {:?} needs {count} values, got {}",
                        constant.shape,
                        constant.values.len()
                    ),
                ));
            }
        }
        let described: Vec<&str> = std::iter::once(match &spec.input {
            InputSpec::Features { name, .. } | InputSpec::Waveform { name, .. } => name.as_str(),
        })
        .chain(spec.state.iter().map(|s| s.input.as_str()))
        .chain(spec.constants.iter().map(|c| c.name.as_str()))
        .collect();
        if let Some(missing) = onnx
            .inputs
            .iter()
            .find(|t| !described.contains(&t.name.as_str()))
        {
            return Err(self.invalid(
                "input",
                format!(
                    "model input `{}` {} is not described: name it in [input], [[state]] or [[constants]]",
                    missing.name,
                    missing.shape_string()
                ),
            ));
        }
        Ok(!spec.state.is_empty())
    }

    fn check_shape(
        &self,
        tensor: &TensorInfo,
        shape: &[usize],
        field: &str,
    ) -> Result<(), BundleError> {
        let matches = tensor.dims.len() == shape.len()
            && tensor.dims.iter().zip(shape).all(|(dim, &size)| match dim {
                Dim::Fixed(fixed) => *fixed as usize == size,
                Dim::Dynamic(_) => true,
            });
        if matches {
            Ok(())
        } else {
            Err(self.invalid(
                field,
                format!(
                    "{shape:?} does not fit model tensor `{}` {}",
                    tensor.name,
                    tensor.shape_string()
                ),
            ))
        }
    }
}
