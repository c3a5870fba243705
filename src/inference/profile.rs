//! What a model costs to run, measured rather than declared: one window goes through ONNX
//! Runtime with its profiler on and graph optimisations off, and the profile's per-node
//! tensor shapes give the multiply-accumulates of every Conv, ConvTranspose, Gemm and
//! MatMul (the operations complexity budgets such as DCASE's count), and which execution
//! provider ran each node.

use std::collections::BTreeMap;
use std::path::Path;

use super::{InferenceError, ModelRunner, Runtime, SessionOptions};
use crate::bundle::Bundle;

/// Compute of one model window, from an ONNX Runtime profile.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputeProfile {
    /// Rows (frames or samples) of the window measured.
    pub window_rows: usize,
    pub window_secs: f64,
    /// Seconds between windows at the bundle's own hop.
    pub hop_secs: f64,
    pub macs_per_window: u64,
    /// Multiply-accumulates by operator type.
    pub macs_by_op: BTreeMap<String, u64>,
    /// Nodes run by each execution provider.
    pub nodes_by_provider: BTreeMap<String, usize>,
}

impl ComputeProfile {
    /// MACs per second of audio, at the bundle's own hop.
    pub fn macs_per_second(&self) -> f64 {
        self.macs_per_window as f64 / self.hop_secs
    }
}

/// What the window's model card and `livetag inspect` show about a loaded model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelCard {
    /// Parameters stored in the graph.
    pub parameters: u64,
    /// Parameters as trained, when the bundle says they differ (BatchNorm folded on export).
    pub trained_parameters: Option<u64>,
    /// Parameters by element type, e.g. "61148 float32".
    pub precision: String,
    pub file_bytes: u64,
    /// The provider the model runs on, with any fallback reason.
    pub provider: String,
    /// The measured compute, or why it could not be measured.
    pub compute: Result<ComputeProfile, String>,
}

impl ModelCard {
    pub fn new(bundle: &Bundle, provider: String, compute: Result<ComputeProfile, String>) -> Self {
        let onnx = &bundle.onnx;
        Self {
            parameters: onnx.parameter_count,
            trained_parameters: bundle.spec.model.trained_parameters,
            precision: onnx
                .parameters_by_type
                .iter()
                .map(|(ty, n)| format!("{n} {ty}"))
                .collect::<Vec<_>>()
                .join(", "),
            file_bytes: bundle.model_size_bytes,
            provider,
            compute,
        }
    }

    /// The card of a loaded model, its compute measured with one thread on `device`; a
    /// measurement that fails is shown as such, the rest of the card stands.
    pub fn measure(
        bundle: &Bundle,
        device: super::DevicePreference,
        provider: String,
        ort_lib: Option<&Path>,
    ) -> Self {
        let compute = super::runtime(ort_lib)
            .and_then(|runtime| {
                let options = SessionOptions {
                    device,
                    threads: Some(1),
                    ..Default::default()
                };
                measure(&runtime, bundle, &options)
            })
            .map_err(|e| crate::error_chain(&e));
        Self::new(bundle, provider, compute)
    }

    /// (field, value) rows, in display order.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let compute = match &self.compute {
            Ok(c) => format!(
                "{:.2} M MACs per second of audio ({:.2} M per {:.2} s window, one every {:.3} s; {})",
                c.macs_per_second() / 1e6,
                c.macs_per_window as f64 / 1e6,
                c.window_secs,
                c.hop_secs,
                c.macs_by_op
                    .iter()
                    .map(|(op, n)| format!("{op} {:.2} M", *n as f64 / 1e6))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Err(reason) => format!("not measured: {reason}"),
        };
        vec![
            (
                "parameters",
                match self.trained_parameters {
                    Some(trained) if trained != self.parameters => format!(
                        "{} as trained ({} in the graph, after BatchNorm folding)",
                        format_thousands(trained),
                        format_thousands(self.parameters)
                    ),
                    _ => format_thousands(self.parameters),
                },
            ),
            ("weights", self.precision.clone()),
            (
                "file size",
                format!("{:.2} MB", self.file_bytes as f64 / 1e6),
            ),
            ("compute", compute),
            ("runs on", self.provider.clone()),
            (
                "nodes run by",
                match &self.compute {
                    // From the profile: the proof of where the graph really ran.
                    Ok(c) => c
                        .nodes_by_provider
                        .iter()
                        .map(|(provider, n)| format!("{provider} {n}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    Err(_) => "not measured".to_string(),
                },
            ),
        ]
    }
}

/// 61148 -> "61,148".
pub fn format_thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Runs one window of silence of the bundle's trained length through a profiling session
/// and counts its MACs. `options` chooses the provider and threads; profiling and the
/// optimisation level are set here.
pub fn measure(
    runtime: &Runtime,
    bundle: &Bundle,
    options: &SessionOptions,
) -> Result<ComputeProfile, InferenceError> {
    // Declared before the runner, so it is dropped after it on every path: ONNX Runtime
    // writes a profile still open when its session is dropped, and then the folder goes.
    let dir = private_temp_dir().map_err(|source| InferenceError::Profile {
        model: bundle.name().to_string(),
        what: "cannot create a private temporary folder for the profile in",
        path: std::env::temp_dir(),
        source,
    })?;
    let options = SessionOptions {
        profile_prefix: Some(dir.path().join("livetag-profile")),
        unoptimized: true,
        ..options.clone()
    };
    let mut runner = ModelRunner::new(runtime, bundle, &options)?;
    let input = &bundle.input;
    let rows = input.window_rows;
    let window = vec![0.0f32; rows * input.row_width()];
    let mut scores = Vec::new();
    runner.run(&window, 1, rows, &mut scores)?;
    let path = runner.end_profiling()?;
    let text = std::fs::read_to_string(&path).map_err(|source| InferenceError::Profile {
        model: bundle.name().to_string(),
        what: "cannot read the profile",
        path: path.clone(),
        source,
    })?;
    let (macs_by_op, nodes_by_provider) =
        count(&text).map_err(|source| InferenceError::ProfileFormat {
            model: bundle.name().to_string(),
            path: path.clone(),
            source,
        })?;
    Ok(ComputeProfile {
        window_rows: rows,
        window_secs: rows as f64 * input.seconds_per_row(),
        hop_secs: input.hop_rows as f64 * input.seconds_per_row(),
        macs_per_window: macs_by_op.values().sum(),
        macs_by_op,
        nodes_by_provider,
    })
}

/// A folder only this user can enter (0700 on Unix), with a unique unpredictable name in the
/// temporary folder; it and its contents are removed when the value is dropped.
fn private_temp_dir() -> std::io::Result<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("livetag-profile-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    builder.tempdir()
}

type Counts = (BTreeMap<String, u64>, BTreeMap<String, usize>);

/// MACs by operator and nodes by provider from an ONNX Runtime profile (a JSON array of
/// trace events; node events carry `op_name`, `provider` and the input and output shapes).
pub fn count(profile_json: &str) -> Result<Counts, serde_json::Error> {
    let events: Vec<serde_json::Value> = serde_json::from_str(profile_json)?;
    let mut macs: BTreeMap<String, u64> = BTreeMap::new();
    let mut providers: BTreeMap<String, usize> = BTreeMap::new();
    for event in &events {
        if event["cat"] != "Node" {
            continue;
        }
        let name = event["name"].as_str().unwrap_or_default();
        // Each node has a fence_before, a kernel_time and a fence_after event.
        if !name.ends_with("_kernel_time") {
            continue;
        }
        let args = &event["args"];
        let op = args["op_name"].as_str().unwrap_or_default();
        let provider = args["provider"].as_str().unwrap_or_default();
        *providers.entry(provider.to_string()).or_default() += 1;
        let inputs = shapes(&args["input_type_shape"]);
        let outputs = shapes(&args["output_type_shape"]);
        if let Some(n) = node_macs(op, &inputs, &outputs) {
            *macs.entry(op.to_string()).or_default() += n;
        }
    }
    Ok((macs, providers))
}

/// `[{"float": [1, 64, 100]}, ...]` -> `[[1, 64, 100], ...]`.
fn shapes(value: &serde_json::Value) -> Vec<Vec<u64>> {
    value
        .as_array()
        .map(|tensors| {
            tensors
                .iter()
                .filter_map(|t| t.as_object()?.values().next()?.as_array().cloned())
                .map(|dims| dims.iter().map(|d| d.as_u64().unwrap_or(0)).collect())
                .collect()
        })
        .unwrap_or_default()
}

fn product(dims: &[u64]) -> u64 {
    dims.iter().product()
}

/// Multiply-accumulates of one node, from its tensor shapes.
fn node_macs(op: &str, inputs: &[Vec<u64>], outputs: &[Vec<u64>]) -> Option<u64> {
    let out = outputs.first()?;
    match op {
        // Weight [C_out, C_in / groups, k...]: each output value takes C_in / groups * k MACs.
        "Conv" => Some(product(out) * product(inputs.get(1)?.get(1..)?)),
        // Weight [C_in, C_out / groups, k...]: each input value spreads over C_out / groups * k.
        "ConvTranspose" => Some(product(inputs.first()?) * product(inputs.get(1)?.get(1..)?)),
        // A [M, K] and B [K, N] (either may be transposed): (M K)(K N)(M N) = (M N K)^2.
        "Gemm" => {
            let squared = product(inputs.first()?) as f64
                * product(inputs.get(1)?) as f64
                * product(out) as f64;
            Some(squared.sqrt().round() as u64)
        }
        // A [..., M, K] @ B [..., K, N]: each output value takes K MACs.
        "MatMul" => Some(product(out) * *inputs.first()?.last()?),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_of_each_operator_from_profile_shapes() {
        let profile = r#"[
          {"cat": "Session", "name": "model_run", "args": {}},
          {"cat": "Node", "name": "conv_fence_before", "args": {"op_name": "Conv"}},
          {"cat": "Node", "name": "conv_kernel_time", "args": {"op_name": "Conv",
            "provider": "CPUExecutionProvider",
            "input_type_shape": [{"float": [1, 3, 10, 10]}, {"float": [8, 3, 3, 3]}, {"float": [8]}],
            "output_type_shape": [{"float": [1, 8, 8, 8]}]}},
          {"cat": "Node", "name": "dw_kernel_time", "args": {"op_name": "Conv",
            "provider": "CPUExecutionProvider",
            "input_type_shape": [{"float": [1, 8, 8, 8]}, {"float": [8, 1, 3, 3]}],
            "output_type_shape": [{"float": [1, 8, 8, 8]}]}},
          {"cat": "Node", "name": "fc_kernel_time", "args": {"op_name": "Gemm",
            "provider": "CUDAExecutionProvider",
            "input_type_shape": [{"float": [2, 512]}, {"float": [10, 512]}, {"float": [10]}],
            "output_type_shape": [{"float": [2, 10]}]}},
          {"cat": "Node", "name": "mm_kernel_time", "args": {"op_name": "MatMul",
            "provider": "CUDAExecutionProvider",
            "input_type_shape": [{"float": [1, 4, 100, 64]}, {"float": [64, 32]}],
            "output_type_shape": [{"float": [1, 4, 100, 32]}]}},
          {"cat": "Node", "name": "relu_kernel_time", "args": {"op_name": "Relu",
            "provider": "CPUExecutionProvider",
            "input_type_shape": [{"float": [1, 8, 8, 8]}],
            "output_type_shape": [{"float": [1, 8, 8, 8]}]}}
        ]"#;
        let (macs, providers) = count(profile).unwrap();
        // Conv: 8*8*8 outputs x 3*3*3; depthwise: 512 outputs x 9.
        assert_eq!(macs["Conv"], 512 * 27 + 512 * 9);
        assert_eq!(macs["Gemm"], 2 * 10 * 512);
        assert_eq!(macs["MatMul"], 4 * 100 * 32 * 64);
        assert!(!macs.contains_key("Relu"));
        assert_eq!(providers["CPUExecutionProvider"], 3);
        assert_eq!(providers["CUDAExecutionProvider"], 2);
    }

    #[test]
    fn profile_folder_is_private_unique_and_removed_on_drop() {
        let dir = private_temp_dir().unwrap();
        let other = private_temp_dir().unwrap();
        assert_ne!(dir.path(), other.path());
        let path = dir.path().to_path_buf();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "mode {mode:o}");
        }
        std::fs::write(path.join("livetag-profile_1.json"), "[]").unwrap();
        drop(dir);
        assert!(!path.exists(), "{} left behind", path.display());
    }

    #[test]
    fn card_errors_keep_their_causes() {
        let error = InferenceError::Profile {
            model: "m".into(),
            what: "cannot read the profile",
            path: "/p.json".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        };
        assert_eq!(
            crate::error_chain(&error),
            "model m: cannot read the profile /p.json: gone"
        );
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(format_thousands(61_148), "61,148");
        assert_eq!(format_thousands(999), "999");
        assert_eq!(format_thousands(80_753_615), "80,753,615");
    }
}
