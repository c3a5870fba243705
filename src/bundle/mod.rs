//! Self-describing model bundles: a folder with `bundle.toml`, the ONNX model, its labels
//! and its licence. [`Bundle::load`] checks the spec against itself and against the ONNX
//! graph once, so that everything downstream can trust it. Each broken rule gives one
//! [`BundleError`] naming the file and the field.

pub mod catalog;
pub mod onnx;
pub mod problem;
pub mod spec;

use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// The model-input description lives in `dsp`, which windows audio by it; a bundle resolves
/// its `[input]` to one, and it is re-exported here for callers that think of it as the
/// bundle's.
pub use crate::dsp::input::{AudioInput, InputKind};
use crate::dsp::Frontend;
use crate::ontology::{Hierarchy, JoinError, Ontology};
use crate::sed::{ClassSettings, EventSettings};
use onnx::{Dim, ElementType, OnnxError, OnnxInfo, TensorInfo};
pub use problem::{LabelsProblem, SpecProblem};
pub use spec::{
    Activation, Axis, BundleSpec, ConstantSpec, ConstantType, EventsSpec, InputSpec, LiveSpec,
    MedianFrames, OntologySpec, OutputKind, OutputSpec, OutputValues, StateSpec,
};

/// Seconds between live predictions when neither the user nor the bundle says.
pub const DEFAULT_LIVE_HOP_SECS: f64 = 0.1;

/// The spec file's name inside a bundle folder.
pub const SPEC_FILE: &str = "bundle.toml";

/// Largest ONNX file livetag reads: 2 GiB less a byte, protobuf's limit on one serialised
/// message (a signed 32-bit size), so no valid single-file model is larger (bigger models
/// keep their weights outside the graph, which bundles do not support). Checked before a
/// byte is read.
pub const MAX_MODEL_BYTES: u64 = (2 << 30) - 1;
/// Largest labels, ontology ids, licence, `bundle.toml` or `expected.json` file: 16 MiB,
/// some thousand times the largest shipped one (CED-tiny's 527 labels are 6 KB).
pub const MAX_TEXT_BYTES: u64 = 16 << 20;
/// Longest window, hop, minimum, maximum or lead-in a bundle may ask for, in seconds of
/// audio at its own rate: 10 minutes, far beyond any audio tagger's window (CED and
/// musicnn take 10 s and 3 s), and small enough that a window always fits in memory.
pub const MAX_WINDOW_SECS: u64 = 600;
/// Largest FFT a front-end may ask for.
pub const MAX_N_FFT: usize = 1 << 16;
/// Most bands (mel, or log-filterbank bands per octave) a front-end may ask for.
pub const MAX_BANDS: usize = 1024;
/// Most values in one model window (32 Mi float32, 128 MiB): 10 minutes of 48 kHz audio fit.
pub const MAX_WINDOW_VALUES: usize = 1 << 25;
/// Most values one `[[state]]` or `[[constants]]` tensor may hold: 16 M (64 MiB of float32;
/// silero's state is 256).
pub const MAX_TENSOR_VALUES: usize = 1 << 24;
/// `[reference] tolerance` when the bundle gives none.
pub const DEFAULT_REFERENCE_TOLERANCE: f32 = 1e-4;
/// Largest `[reference] tolerance`: scores are probabilities in `0 ..= 1` (or logits), and a
/// self-test that lets every score move by more than 0.1 could no longer tell a wrong model
/// (other weights, another front-end) from the right one.
pub const MAX_REFERENCE_TOLERANCE: f32 = 0.1;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("model bundle {} does not exist", path.display())]
    NotFound { path: PathBuf },
    #[error("{}: a bundle is a folder holding {SPEC_FILE}, the ONNX model and its labels", path.display())]
    NotAFolder { path: PathBuf },
    #[error("{}: the {what} file is missing", path.display())]
    MissingFile { path: PathBuf, what: &'static str },
    /// Reading failed for another reason than a missing file; the I/O error is the source.
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("{}: `{field}`: {problem}", path.display())]
    Invalid {
        path: PathBuf,
        field: String,
        /// Boxed: the largest problems would otherwise make every `Result` carrying a
        /// `BundleError` several times larger than its `Ok` value.
        problem: Box<SpecProblem>,
    },
    #[error("{}: not a usable ONNX model: {problem}", path.display())]
    Onnx { path: PathBuf, problem: OnnxError },
    #[error("{}: {problem}", path.display())]
    Labels {
        path: PathBuf,
        problem: LabelsProblem,
    },
    /// A FIFO, device, socket or folder where a file should be: never opened (a FIFO would
    /// block forever).
    #[error("{}: the {what} file is {kind}, not a regular file", path.display())]
    NotAFile {
        path: PathBuf,
        what: &'static str,
        kind: &'static str,
    },
    #[error("{}: the {what} file is {}, over livetag's limit of {} ({why})", path.display(), bytes_text(*size), bytes_text(*max))]
    TooLarge {
        path: PathBuf,
        what: &'static str,
        size: u64,
        max: u64,
        why: &'static str,
    },
}

/// `3221225472` -> `"3221225472 bytes (3.0 GiB)"`.
fn bytes_text(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    let mib = bytes as f64 / MIB;
    if mib >= 1024.0 {
        format!("{bytes} bytes ({:.1} GiB)", mib / 1024.0)
    } else {
        format!("{bytes} bytes ({mib:.1} MiB)")
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
        let root = dir.canonicalize().map_err(|source| BundleError::Io {
            path: dir.clone(),
            source,
        })?;
        let checker = Checker {
            spec_path: &spec_path,
            dir: &dir,
            root: &root,
        };
        // The spec itself: a regular file, in the folder (not a link to a file elsewhere).
        checker.inside(SPEC_FILE, SPEC_FILE)?;
        let text = read_text(&spec_path, "bundle spec", MAX_TEXT_BYTES)?;
        let spec: BundleSpec = toml::from_str(&text).map_err(|e| BundleError::Syntax {
            path: spec_path.clone(),
            message: locate_wrong_type(&text, &e)
                .unwrap_or_else(|| e.to_string().trim_end().to_string()),
        })?;

        // Every path the spec names stays in the folder; checked before any is opened.
        let licence_path = checker.inside("model.licence_file", &spec.model.licence_file)?;
        let labels_path = checker.inside("model.labels", &spec.model.labels)?;
        let model_path = checker.inside("model.file", &spec.model.file)?;
        let ids_path = match &spec.ontology {
            Some(ontology) => Some(checker.inside("ontology.ids", &ontology.ids)?),
            None => None,
        };
        let reference_paths = match &spec.reference {
            Some(reference) => Some((
                checker.inside("reference.audio", &reference.audio)?,
                checker.inside("reference.expected", &reference.expected)?,
            )),
            None => None,
        };

        checker.require(
            !spec.model.name.trim().is_empty(),
            "model.name",
            SpecProblem::Empty,
        )?;
        checker.require(
            !spec.model.licence.trim().is_empty(),
            "model.licence",
            SpecProblem::NoLicence,
        )?;
        require_file(&licence_path, "licence", Some(MAX_TEXT_BYTES))?;

        let labels = parse_labels(
            &labels_path,
            &read_text(&labels_path, "labels", MAX_TEXT_BYTES)?,
        )?;
        if let Some(problem) = repeated_line(&labels) {
            return Err(BundleError::Labels {
                path: labels_path,
                problem,
            });
        }
        let hierarchy = match (&spec.ontology, ids_path) {
            (Some(ontology), Some(ids_path)) => {
                let known = Ontology::named(&ontology.name).ok_or_else(|| {
                    checker.invalid(
                        "ontology.name",
                        SpecProblem::Ontology(JoinError::UnknownOntology {
                            name: ontology.name.clone(),
                        }),
                    )
                })?;
                let ids = parse_labels(
                    &ids_path,
                    &read_text(&ids_path, "ontology ids", MAX_TEXT_BYTES)?,
                )?;
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
                    problem: LabelsProblem::Ontology(e),
                })?
            }
            _ => Hierarchy::flat(labels.len()),
        };

        let model_bytes = read_bounded(&model_path, "ONNX model", MAX_MODEL_BYTES)?;
        let onnx = OnnxInfo::parse(&model_bytes).map_err(|problem| BundleError::Onnx {
            path: model_path.clone(),
            problem,
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
        if let Some(events) = &spec.events {
            checker.events(&spec, events, labels.len())?;
        }
        if let (Some(reference), Some((audio, expected))) = (&spec.reference, reference_paths) {
            require_file(&audio, "reference audio", None)?;
            require_file(&expected, "reference scores", Some(MAX_TEXT_BYTES))?;
            if let Some(tolerance) = reference.tolerance {
                checker.require(
                    tolerance.is_finite()
                        && tolerance > 0.0
                        && tolerance <= MAX_REFERENCE_TOLERANCE,
                    "reference.tolerance",
                    SpecProblem::Tolerance { tolerance },
                )?;
            }
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

    /// The event settings for this model: `base` for every class, with the median filter
    /// lengths of the bundle's `[events]` table in place of `base`'s where it has them.
    /// Checked at load, so every length is valid.
    pub fn event_settings(&self, base: ClassSettings) -> EventSettings {
        let median = self
            .spec
            .events
            .as_ref()
            .and_then(|e| e.median_frames.as_ref());
        match median {
            None => EventSettings::new(base),
            Some(MedianFrames::All(frames)) => EventSettings::new(ClassSettings {
                median_frames: *frames as usize,
                ..base
            }),
            Some(MedianFrames::PerClass(lengths)) => {
                let mut settings = EventSettings::new(base);
                for (index, &frames) in lengths.iter().enumerate() {
                    settings.set_class(
                        index,
                        ClassSettings {
                            median_frames: frames as usize,
                            ..base
                        },
                    );
                }
                settings
            }
        }
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

/// A missing file is [`BundleError::MissingFile`]; any other failure keeps its I/O error.
fn io_error(path: &Path, what: &'static str, source: std::io::Error) -> BundleError {
    match source.kind() {
        std::io::ErrorKind::NotFound => BundleError::MissingFile {
            path: path.to_path_buf(),
            what,
        },
        _ => BundleError::Io {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// What a non-regular file is, in words.
fn file_kind(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a folder"
    } else {
        "something other than a file"
    }
}

/// Refuses `meta` unless it is a regular file of at most `max` bytes.
fn check_regular(
    path: &Path,
    what: &'static str,
    meta: &std::fs::Metadata,
    max: Option<u64>,
) -> Result<(), BundleError> {
    if !meta.is_file() {
        return Err(BundleError::NotAFile {
            path: path.to_path_buf(),
            what,
            kind: file_kind(&meta.file_type()),
        });
    }
    match max {
        Some(max) if meta.len() > max => Err(too_large(path, what, meta.len(), max)),
        _ => Ok(()),
    }
}

fn too_large(path: &Path, what: &'static str, size: u64, max: u64) -> BundleError {
    BundleError::TooLarge {
        path: path.to_path_buf(),
        what,
        size,
        max,
        why: if max == MAX_MODEL_BYTES {
            "protobuf's limit for one ONNX file"
        } else {
            "no bundle needs a text file this large"
        },
    }
}

/// Reads a regular file of at most `max` bytes. Its metadata is checked before it is
/// opened, so a FIFO or device is never opened and an oversized file never read; the open
/// file is checked again and read through a `max`-byte limit, in case it was swapped.
pub(crate) fn read_bounded(
    path: &Path,
    what: &'static str,
    max: u64,
) -> Result<Vec<u8>, BundleError> {
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, what, e))?;
    check_regular(path, what, &meta, Some(max))?;
    let file = std::fs::File::open(path).map_err(|e| io_error(path, what, e))?;
    let meta = file.metadata().map_err(|e| io_error(path, what, e))?;
    check_regular(path, what, &meta, Some(max))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(path, what, e))?;
    if bytes.len() as u64 > max {
        return Err(too_large(path, what, bytes.len() as u64, max));
    }
    Ok(bytes)
}

/// [`read_bounded`] for UTF-8 text.
pub(crate) fn read_text(path: &Path, what: &'static str, max: u64) -> Result<String, BundleError> {
    String::from_utf8(read_bounded(path, what, max)?).map_err(|e| BundleError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })
}

/// Requires a regular file (of at most `max` bytes) without opening it.
fn require_file(path: &Path, what: &'static str, max: Option<u64>) -> Result<(), BundleError> {
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, what, e))?;
    check_regular(path, what, &meta, max)
}

/// The first line that repeats an earlier one ("line 7 repeats \"Dog\" from line 2").
fn repeated_line(lines: &[String]) -> Option<LabelsProblem> {
    let mut seen = std::collections::HashMap::with_capacity(lines.len());
    for (index, line) in lines.iter().enumerate() {
        if let Some(first) = seen.insert(line.as_str(), index) {
            return Some(LabelsProblem::Repeated {
                line: index + 1,
                label: line.clone(),
                first: first + 1,
            });
        }
    }
    None
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
                problem: LabelsProblem::Blank { line: index + 1 },
            });
        }
        labels.push(label.to_string());
    }
    if labels.is_empty() {
        return Err(BundleError::Labels {
            path: path.to_path_buf(),
            problem: LabelsProblem::Empty,
        });
    }
    Ok(labels)
}

/// serde cannot say which key of `[input]` holds a value of the wrong type: the table is an
/// internally tagged enum, buffered before it is read, so the error points at the table.
/// The key is found again here: the value of that table whose text is the one the error
/// quotes ("invalid type: string \"8000\", expected u32").
fn locate_wrong_type(text: &str, error: &toml::de::Error) -> Option<String> {
    use toml::de::{DeTable, DeValue};
    let message = error.message();
    let quoted = message
        .strip_prefix("invalid type: ")?
        .split(", expected")
        .next()?;
    let at = error.span()?.start;
    let document = DeTable::parse(text).ok()?;
    for (section, table) in document.get_ref() {
        let DeValue::Table(entries) = table.get_ref() else {
            continue;
        };
        // The error points at the table's header, or somewhere in its body.
        let reaches = section.span().start.saturating_sub(1) <= at && at <= table.span().end;
        if !reaches {
            continue;
        }
        for (key, value) in entries {
            let shown = match value.get_ref() {
                DeValue::String(s) => format!("string {:?}", s.as_ref()),
                DeValue::Integer(i) => format!("integer `{}`", i.as_str()),
                DeValue::Float(f) => format!("floating point `{}`", f.as_str()),
                DeValue::Boolean(b) => format!("boolean `{b}`"),
                _ => continue,
            };
            if shown == quoted {
                let line = text[..key.span().start].matches('\n').count() + 1;
                return Some(format!(
                    "line {line}: `{}.{}`: {message}",
                    section.get_ref(),
                    key.get_ref()
                ));
            }
        }
    }
    None
}

/// Checks that name `bundle.toml` and the offending field.
struct Checker<'a> {
    spec_path: &'a Path,
    /// The bundle folder as given, and canonical.
    dir: &'a Path,
    root: &'a Path,
}

impl Checker<'_> {
    /// The file `value`, the path in field `field`, inside the bundle folder: relative, no
    /// `..` above the folder, and, once symbolic links are resolved, still in the folder.
    /// The one rule for every path a bundle names. A path that does not resolve (a missing
    /// file) passes here and is reported as missing when it is read.
    fn inside(&self, field: &str, value: &str) -> Result<PathBuf, BundleError> {
        let relative = Path::new(value);
        if value.trim().is_empty() {
            return Err(self.invalid(field, SpecProblem::EmptyPath));
        }
        let value_text = || value.to_string();
        let mut depth = 0usize;
        for component in relative.components() {
            match component {
                Component::Prefix(_) | Component::RootDir => {
                    return Err(self.invalid(
                        field,
                        SpecProblem::AbsolutePath {
                            value: value_text(),
                        },
                    ))
                }
                Component::CurDir => {}
                Component::Normal(_) => depth += 1,
                Component::ParentDir => {
                    depth = depth.checked_sub(1).ok_or_else(|| {
                        self.invalid(
                            field,
                            SpecProblem::LeavesFolder {
                                value: value_text(),
                            },
                        )
                    })?
                }
            }
        }
        let path = self.dir.join(relative);
        match path.canonicalize() {
            Ok(real) if real.starts_with(self.root) => Ok(path),
            Ok(real) => Err(self.invalid(
                field,
                SpecProblem::LeavesThroughLink {
                    value: value_text(),
                    target: real,
                },
            )),
            Err(_) => Ok(path),
        }
    }

    fn invalid(&self, field: impl Into<String>, problem: SpecProblem) -> BundleError {
        BundleError::Invalid {
            path: self.spec_path.to_path_buf(),
            field: field.into(),
            problem: Box::new(problem),
        }
    }

    fn require(&self, ok: bool, field: &str, problem: SpecProblem) -> Result<(), BundleError> {
        if ok {
            Ok(())
        } else {
            Err(self.invalid(field, problem))
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
        kind: &'static str,
        name: &str,
        field: &str,
    ) -> Result<&'o TensorInfo, BundleError> {
        tensors.iter().find(|t| t.name == name).ok_or_else(|| {
            self.invalid(
                field,
                SpecProblem::NoSuchTensor {
                    kind,
                    name: name.to_string(),
                    names: tensors.iter().map(|t| t.name.clone()).collect(),
                },
            )
        })
    }

    fn audio_input(&self, spec: &BundleSpec, onnx: &OnnxInfo) -> Result<AudioInput, BundleError> {
        let field = |key: &str| format!("input.{key}");
        let sample_rate_hz = match &spec.input {
            InputSpec::Features { sample_rate_hz, .. }
            | InputSpec::Waveform { sample_rate_hz, .. } => *sample_rate_hz,
        };
        if !(1000..=384_000).contains(&sample_rate_hz) {
            return Err(self.invalid(
                field("sample_rate_hz"),
                SpecProblem::SampleRate { hz: sample_rate_hz },
            ));
        }
        let limit_samples = MAX_WINDOW_SECS as usize * sample_rate_hz as usize;
        let (name, layout, window, hop, min, max, unit, kind) = match &spec.input {
            InputSpec::Features {
                name,
                sample_rate_hz,
                layout,
                window_frames,
                hop_frames,
                min_frames,
            } => {
                let frontend = spec
                    .frontend
                    .as_ref()
                    .ok_or_else(|| self.invalid("frontend", SpecProblem::NoFrontend))?;
                // Before the front-end is built: its FFT buffers are n_fft long and its
                // filterbank is bands x bins, dense until it is made sparse.
                if frontend.n_fft > limit_samples.min(MAX_N_FFT) {
                    return Err(self.invalid(
                        "frontend.n_fft",
                        SpecProblem::FftTooLarge {
                            n_fft: frontend.n_fft,
                        },
                    ));
                }
                for (index, step) in frontend.steps.iter().enumerate() {
                    let bands = match step {
                        crate::dsp::StepSpec::Mel { n_bands, .. } => *n_bands,
                        crate::dsp::StepSpec::LogFilterbank {
                            bands_per_octave, ..
                        } => *bands_per_octave as usize,
                        _ => continue,
                    };
                    if bands > MAX_BANDS {
                        return Err(self.invalid(
                            format!("frontend.steps[{index}]"),
                            SpecProblem::TooManyBands { bands },
                        ));
                    }
                }
                let built = Frontend::new(frontend, *sample_rate_hz)
                    .map_err(|e| self.invalid("frontend", SpecProblem::Frontend(e)))?;
                let kind = InputKind::Features {
                    frontend: frontend.clone(),
                    n_bands: built.n_bands(),
                };
                (
                    name,
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
                sample_rate_hz: _,
                layout,
                window_samples,
                hop_samples,
                min_samples,
                max_samples,
                lead_in_samples,
            } => {
                if spec.frontend.is_some() {
                    return Err(self.invalid("frontend", SpecProblem::FrontendOfWaveform));
                }
                let kind = InputKind::Waveform {
                    lead_in_samples: *lead_in_samples,
                };
                (
                    name,
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
        // At most MAX_WINDOW_SECS of audio in any length, so nothing downstream allocates
        // for a window of terabytes.
        let row_samples = match &kind {
            InputKind::Features { frontend, .. } => frontend.hop_samples,
            InputKind::Waveform { .. } => 1,
        };
        let lead_in = match &kind {
            InputKind::Waveform { lead_in_samples } => Some(*lead_in_samples),
            InputKind::Features { .. } => None,
        };
        for (key, value) in [
            (format!("window_{unit}"), Some(window)),
            (format!("hop_{unit}"), Some(hop)),
            (format!("min_{unit}"), min),
            (format!("max_{unit}"), max),
            ("lead_in_samples".to_string(), lead_in),
        ] {
            if let Some(value) = value {
                if value > limit_samples / row_samples {
                    return Err(self.invalid(
                        field(&key),
                        SpecProblem::TooLong {
                            key,
                            value,
                            rate_hz: sample_rate_hz,
                            row_samples,
                            unit,
                        },
                    ));
                }
            }
        }
        if window == 0 {
            return Err(self.invalid(field(&format!("window_{unit}")), SpecProblem::Zero));
        }
        if hop == 0 {
            return Err(self.invalid(field(&format!("hop_{unit}")), SpecProblem::Zero));
        }
        let min = min.unwrap_or(window);
        if min == 0 {
            return Err(self.invalid(field(&format!("min_{unit}")), SpecProblem::Zero));
        }
        if window < min {
            return Err(self.invalid(
                field(&format!("window_{unit}")),
                SpecProblem::ShorterThanMinimum { window, min, unit },
            ));
        }
        let max = max.unwrap_or(window);
        let width = match &kind {
            InputKind::Features { n_bands, .. } => *n_bands,
            InputKind::Waveform { .. } => 1,
        };
        // Seconds alone do not bound memory: 10 minutes of 1-sample-hop frames of 1024 bands
        // would be terabytes. The windower keeps two windows and a batch holds several.
        if max.max(window).saturating_mul(width) > MAX_WINDOW_VALUES {
            return Err(self.invalid(
                field(&format!("window_{unit}")),
                SpecProblem::WindowTooLarge {
                    rows: max.max(window),
                    width,
                    unit,
                },
            ));
        }
        if max < window {
            return Err(self.invalid(
                field(&format!("max_{unit}")),
                SpecProblem::MaximumBelowWindow { max, window, unit },
            ));
        }

        let tensor = self.model_input(onnx, name, &field("name"))?;
        if tensor.element_type != ElementType::Float32 {
            return Err(self.invalid(
                field("name"),
                SpecProblem::InputNotFloat {
                    name: name.clone(),
                    element_type: tensor.element_type.name(),
                },
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
            return Err(self.invalid(
                field("layout"),
                SpecProblem::Layout {
                    layout: layout.clone(),
                    needs,
                },
            ));
        }
        if tensor.dims.len() != layout.len() {
            return Err(self.invalid(
                field("layout"),
                SpecProblem::LayoutRank {
                    axes: layout.len(),
                    name: name.clone(),
                    rank: tensor.dims.len(),
                    shape: tensor.shape_string(),
                },
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
                        SpecProblem::FixedBatch {
                            name: name.clone(),
                            size,
                        },
                    ))
                }
                Axis::Channel if size != 1 => {
                    return Err(self.invalid(
                        field("layout"),
                        SpecProblem::Channels {
                            name: name.clone(),
                            size,
                        },
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
                            SpecProblem::Bands {
                                n_bands,
                                name: name.clone(),
                                shape: tensor.shape_string(),
                                size,
                            },
                        ));
                    }
                }
                Axis::Time => {
                    if window != size || min != size || max != size {
                        return Err(self.invalid(
                            field(&format!("window_{unit}")),
                            SpecProblem::FixedTime {
                                name: name.clone(),
                                shape: tensor.shape_string(),
                                size,
                                unit,
                                window,
                                min,
                                max,
                            },
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
                SpecProblem::NotPositiveSecs,
            )?;
            self.require(!stateful, "live.hop_secs", SpecProblem::HopOfStatefulModel)?;
        }
        if let Some(secs) = live.window_secs {
            let (min_secs, max_secs) = input.window_secs_range();
            // Half a row of slack: the range is whole rows, the key is decimal seconds.
            let slack = 0.5 * input.seconds_per_row();
            if !(secs.is_finite() && secs >= min_secs - slack && secs <= max_secs + slack) {
                return Err(self.invalid(
                    "live.window_secs",
                    SpecProblem::LiveWindow {
                        secs,
                        min_secs,
                        max_secs,
                    },
                ));
            }
        }
        Ok(())
    }

    /// `[events]`: odd median lengths livetag can run, one per label when a list, and a
    /// framewise output for them to filter.
    fn events(
        &self,
        spec: &BundleSpec,
        events: &EventsSpec,
        label_count: usize,
    ) -> Result<(), BundleError> {
        self.require(
            spec.outputs.iter().any(|o| o.kind == OutputKind::Framewise),
            "events",
            SpecProblem::EventsWithoutFramewise,
        )?;
        let check = |field: String, frames: i64| {
            let problem = if frames < 1 {
                SpecProblem::MedianNotPositive { frames }
            } else if frames % 2 == 0 {
                SpecProblem::EvenMedian { frames }
            } else if frames > crate::sed::MAX_MEDIAN_FRAMES as i64 {
                SpecProblem::MedianTooLong { frames }
            } else {
                return Ok(());
            };
            Err(self.invalid(field, problem))
        };
        match &events.median_frames {
            None => Ok(()),
            Some(MedianFrames::All(frames)) => check("events.median_frames".into(), *frames),
            Some(MedianFrames::PerClass(lengths)) => {
                self.require(
                    lengths.len() == label_count,
                    "events.median_frames",
                    SpecProblem::MedianCount {
                        lengths: lengths.len(),
                        labels_file: spec.model.labels.clone(),
                        labels: label_count,
                    },
                )?;
                for (index, &frames) in lengths.iter().enumerate() {
                    check(format!("events.median_frames[{index}]"), frames)?;
                }
                Ok(())
            }
        }
    }

    fn outputs(
        &self,
        spec: &BundleSpec,
        onnx: &OnnxInfo,
        label_count: usize,
    ) -> Result<(), BundleError> {
        if spec.outputs.is_empty() {
            return Err(self.invalid("outputs", SpecProblem::NoOutputs));
        }
        for (index, output) in spec.outputs.iter().enumerate() {
            let field = |key: &str| format!("outputs[{index}].{key}");
            let tensor = self.model_output(onnx, &output.name, &field("name"))?;
            if tensor.element_type != ElementType::Float32 {
                return Err(self.invalid(
                    field("name"),
                    SpecProblem::OutputNotFloat {
                        name: output.name.clone(),
                        element_type: tensor.element_type.name(),
                    },
                ));
            }
            let rank = match output.kind {
                OutputKind::Clip => 2,
                OutputKind::Framewise => 3,
            };
            if tensor.dims.len() != rank {
                return Err(self.invalid(
                    field("kind"),
                    SpecProblem::OutputRank {
                        kind: output.kind,
                        name: output.name.clone(),
                        rank: tensor.dims.len(),
                        shape: tensor.shape_string(),
                    },
                ));
            }
            if let Some(Dim::Fixed(classes)) = tensor.dims.last() {
                if *classes as usize != label_count {
                    return Err(self.invalid(
                        "model.labels",
                        SpecProblem::ClassCount {
                            labels_file: spec.model.labels.clone(),
                            labels: label_count,
                            output: output.name.clone(),
                            shape: tensor.shape_string(),
                            classes: *classes,
                        },
                    ));
                }
            }
            match (output.kind, output.frame_rate_hz) {
                (OutputKind::Framewise, None) => {
                    return Err(self.invalid(field("frame_rate_hz"), SpecProblem::NoFrameRate))
                }
                (OutputKind::Framewise, Some(rate)) if rate.is_nan() || rate <= 0.0 => {
                    return Err(
                        self.invalid(field("frame_rate_hz"), SpecProblem::FrameRate { rate })
                    )
                }
                (OutputKind::Clip, Some(_)) => {
                    return Err(self.invalid(field("frame_rate_hz"), SpecProblem::FrameRateOfClip))
                }
                _ => {}
            }
            if output.logit_clip.is_some() && output.values != OutputValues::Logits {
                return Err(self.invalid(field("logit_clip"), SpecProblem::ClipOfProbabilities));
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
            self.tensor_size(&state.shape, &field("shape"))?;
            self.check_shape(tensor, &state.shape, &field("shape"))?;
            if tensor.element_type != ElementType::Float32 {
                return Err(self.invalid(
                    field("input"),
                    SpecProblem::StateNotFloat {
                        name: state.input.clone(),
                        element_type: tensor.element_type.name(),
                    },
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
                    SpecProblem::ConstantType {
                        name: constant.name.clone(),
                        element_type: tensor.element_type.name(),
                    },
                ));
            }
            let count = self.tensor_size(&constant.shape, &field("shape"))?;
            if constant.values.len() != count {
                return Err(self.invalid(
                    field("values"),
                    SpecProblem::ConstantValues {
                        shape: constant.shape.clone(),
                        count,
                        got: constant.values.len(),
                    },
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
                SpecProblem::Undescribed {
                    name: missing.name.clone(),
                    shape: missing.shape_string(),
                },
            ));
        }
        Ok(!spec.state.is_empty())
    }

    /// Values in a tensor of `shape`, at most [`MAX_TENSOR_VALUES`] (and no overflow).
    fn tensor_size(&self, shape: &[usize], field: &str) -> Result<usize, BundleError> {
        shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .filter(|&n| n <= MAX_TENSOR_VALUES)
            .ok_or_else(|| {
                self.invalid(
                    field,
                    SpecProblem::TensorTooLarge {
                        shape: shape.to_vec(),
                    },
                )
            })
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
                SpecProblem::Shape {
                    shape: shape.to_vec(),
                    tensor: tensor.name.clone(),
                    tensor_shape: tensor.shape_string(),
                },
            ))
        }
    }
}
