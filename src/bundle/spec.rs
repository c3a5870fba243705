//! `bundle.toml`, as written on disk. Unknown keys are rejected; [`super::Bundle::load`]
//! turns this into checked, resolved types.

use serde::{Deserialize, Serialize};

use crate::dsp::FrontendSpec;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BundleSpec {
    pub model: ModelSection,
    pub input: InputSpec,
    pub frontend: Option<FrontendSpec>,
    pub outputs: Vec<OutputSpec>,
    #[serde(default)]
    pub state: Vec<StateSpec>,
    #[serde(default)]
    pub constants: Vec<ConstantSpec>,
    pub ontology: Option<OntologySpec>,
    pub live: Option<LiveSpec>,
    pub events: Option<EventsSpec>,
    pub reference: Option<ReferenceSpec>,
}

/// How framewise outputs become events, where the model's authors tuned it (the DESED
/// baseline filters each class with its own median length).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EventsSpec {
    /// Median filter length in frames, for every class or per class.
    pub median_frames: Option<MedianFrames>,
}

/// `median_frames = 7` (every class) or `median_frames = [5, 7, ...]` (one per label, in
/// label order). Read as signed integers so that a negative length reaches
/// `Bundle::load`'s check, which names the field, instead of a type error.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MedianFrames {
    All(i64),
    PerClass(Vec<i64>),
}

impl<'de> Deserialize<'de> for MedianFrames {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = MedianFrames;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an odd whole number of frames, or a list of them with one per label")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(MedianFrames::All(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(MedianFrames::All(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut lengths = Vec::new();
                while let Some(length) = seq.next_element::<i64>()? {
                    lengths.push(length);
                }
                Ok(MedianFrames::PerClass(lengths))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Which ontology the labels belong to: its name, and one ontology id per label.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OntologySpec {
    pub name: String,
    pub ids: String,
}

/// Defaults for the live path, where predictions come far more often than in a file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LiveSpec {
    /// Seconds of audio per live window (waveform models with a variable length only).
    pub window_secs: Option<f64>,
    /// Seconds between live predictions.
    pub hop_secs: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_model_file")]
    pub file: String,
    #[serde(default = "default_labels_file")]
    pub labels: String,
    pub licence: String,
    #[serde(default = "default_licence_file")]
    pub licence_file: String,
    /// Parameters of the model as trained, when the graph stores fewer (an exporter folded
    /// BatchNorm into the convolutions). Complexity budgets such as DCASE's count these.
    #[serde(default)]
    pub trained_parameters: Option<u64>,
}

fn default_model_file() -> String {
    "model.onnx".into()
}
fn default_labels_file() -> String {
    "labels.txt".into()
}
fn default_licence_file() -> String {
    "LICENSE".into()
}

/// `layout` names these; the type lives with [`AudioInput`](crate::dsp::input::AudioInput).
pub use crate::dsp::input::Axis;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum InputSpec {
    /// livetag computes the `[frontend]` and feeds feature frames.
    Features {
        name: String,
        sample_rate_hz: u32,
        layout: Vec<Axis>,
        window_frames: usize,
        hop_frames: usize,
        min_frames: Option<usize>,
    },
    /// The model takes samples.
    Waveform {
        name: String,
        sample_rate_hz: u32,
        layout: Vec<Axis>,
        window_samples: usize,
        hop_samples: usize,
        min_samples: Option<usize>,
        /// The longest window the graph accepts; default `window_samples`.
        max_samples: Option<usize>,
        #[serde(default)]
        lead_in_samples: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    Clip,
    Framewise,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputValues {
    Probabilities,
    Logits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Sigmoid,
    Softmax,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    pub name: String,
    pub kind: OutputKind,
    pub values: OutputValues,
    pub activation: Activation,
    pub logit_clip: Option<f32>,
    pub frame_rate_hz: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StateSpec {
    pub input: String,
    pub output: String,
    pub shape: Vec<usize>,
    #[serde(default)]
    pub init: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstantType {
    Float32,
    Int64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConstantSpec {
    pub name: String,
    pub dtype: ConstantType,
    pub shape: Vec<usize>,
    pub values: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceSpec {
    pub audio: String,
    pub expected: String,
    pub tolerance: Option<f32>,
}
