//! The Python bundle writer (`tools/livetag_tools/common/bundle.py`) against livetag's reader:
//! `python3 -m livetag_tools.common.bundle_examples` writes one bundle of every kind, using
//! every key the writer knows (`tools/tests/test_bundle.py` checks that), and each must load
//! here, where unknown keys are refused. So a key added on one side only fails a test.
//!
//! Needs python3 (3.11 or later, standard library only), as tools/setup.sh does.

use std::path::Path;
use std::process::Command;

use livetag::bundle::Bundle;

#[test]
fn every_bundle_the_python_writer_makes_loads_in_livetag() {
    let out = tempfile::tempdir().unwrap();
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools");
    let run = Command::new("python3")
        .current_dir(&tools)
        .args(["-m", "livetag_tools.common.bundle_examples"])
        .arg(out.path())
        .output()
        .expect("python3 is needed to run the bundle writer's examples");
    assert!(
        run.status.success(),
        "bundle_examples failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let written: Vec<&str> = std::str::from_utf8(&run.stdout).unwrap().lines().collect();
    assert_eq!(written.len(), 3, "one bundle per kind: {written:?}");

    for folder in &written {
        let bundle = Bundle::load(Path::new(folder))
            .unwrap_or_else(|e| panic!("{folder}: {}", livetag::error_chain(&e)));
        match bundle.name() {
            "example-features" => {
                // Every optional key was read, not just accepted.
                assert_eq!(bundle.spec.model.file, "graph.onnx");
                assert_eq!(bundle.spec.model.trained_parameters, Some(1234));
                assert_eq!(bundle.labels.len(), 3);
                assert!(bundle.spec.ontology.is_some() && bundle.spec.live.is_some());
                // And it runs: the reference pair through the whole pipeline.
                let test = Command::new(env!("CARGO_BIN_EXE_livetag"))
                    .args(["inspect", "--self-test", folder])
                    .output()
                    .unwrap();
                let stdout = String::from_utf8_lossy(&test.stdout);
                assert!(stdout.contains("self-test: PASS"), "{folder}: {stdout}");
            }
            "example-state" => {
                assert_eq!(bundle.spec.state.len(), 1);
                assert_eq!(bundle.spec.constants.len(), 1);
            }
            "example-framewise" => assert_eq!(bundle.spec.outputs.len(), 2),
            other => panic!("unexpected example {other}"),
        }
    }
}

/// The other direction: every key livetag's own types have is one the Python writer knows,
/// and no more. The spec below names every field (a struct literal must), so a field added
/// to the Rust types does not compile here until it is added, and then fails the comparison
/// until `tools/livetag_tools/common/bundle.py` learns it too.
#[test]
fn the_python_writer_knows_exactly_the_keys_livetag_reads() {
    use std::collections::{BTreeMap, BTreeSet};

    use livetag::bundle::spec::*;
    use livetag::dsp::filterbank::{MelNorm, MelScale};
    use livetag::dsp::input::Axis;
    use livetag::dsp::stft::{PadMode, WindowKind};
    use livetag::dsp::{FrontendSpec, StepSpec};

    let steps = vec![
        StepSpec::Mel {
            n_bands: 1,
            fmin_hz: 0.0,
            fmax_hz: 1.0,
            scale: MelScale::Slaney,
            norm: MelNorm::Slaney,
        },
        StepSpec::LogFilterbank {
            bands_per_octave: 1,
            fmin_hz: 0.0,
            fmax_hz: 1.0,
            fref_hz: 440.0,
            norm_filters: true,
            unique_filters: true,
        },
        StepSpec::AWeightingDb {
            reference: 1.0,
            amin: 1.0,
            top_db: Some(1.0),
        },
        StepSpec::Db {
            reference: 1.0,
            amin: 1.0,
            top_db: Some(1.0),
        },
        StepSpec::Log { eps: 1.0 },
        StepSpec::Log10 { mul: 1.0, add: 1.0 },
        StepSpec::Float16,
        StepSpec::Affine {
            scale: 1.0,
            offset: 0.0,
        },
        StepSpec::Normalize {
            mean: vec![0.0],
            std: vec![1.0],
        },
    ];
    let spec = |input: InputSpec| BundleSpec {
        model: ModelSection {
            name: "m".into(),
            description: "d".into(),
            file: "model.onnx".into(),
            labels: "labels.txt".into(),
            licence: "MIT".into(),
            licence_file: "LICENSE".into(),
            trained_parameters: Some(1),
        },
        input,
        frontend: Some(FrontendSpec {
            n_fft: 2,
            win_length: Some(2),
            hop_samples: 1,
            window: WindowKind::Hann,
            center: true,
            pad_mode: Some(PadMode::Constant),
            power: 2.0,
            drop_nyquist: false,
            steps: steps.clone(),
        }),
        outputs: vec![OutputSpec {
            name: "y".into(),
            kind: OutputKind::Framewise,
            values: OutputValues::Logits,
            activation: Activation::Sigmoid,
            logit_clip: Some(1.0),
            frame_rate_hz: Some(1.0),
        }],
        state: vec![StateSpec {
            input: "h".into(),
            output: "h_out".into(),
            shape: vec![1],
            init: 0.0,
        }],
        constants: vec![ConstantSpec {
            name: "c".into(),
            dtype: ConstantType::Int64,
            shape: vec![],
            values: vec![1.0],
        }],
        ontology: Some(OntologySpec {
            name: "audioset".into(),
            ids: "ids.txt".into(),
        }),
        live: Some(LiveSpec {
            window_secs: Some(1.0),
            hop_secs: Some(1.0),
        }),
        events: Some(EventsSpec {
            median_frames: Some(MedianFrames::All(1)),
        }),
        reference: Some(ReferenceSpec {
            audio: "a.wav".into(),
            expected: "e.json".into(),
            tolerance: Some(1e-4),
        }),
    };
    let features = spec(InputSpec::Features {
        name: "x".into(),
        sample_rate_hz: 1,
        layout: vec![Axis::Batch, Axis::Time, Axis::Feature],
        window_frames: 1,
        hop_frames: 1,
        min_frames: Some(1),
    });
    let waveform = spec(InputSpec::Waveform {
        name: "x".into(),
        sample_rate_hz: 1,
        layout: vec![Axis::Batch, Axis::Time],
        window_samples: 1,
        hop_samples: 1,
        min_samples: Some(1),
        max_samples: Some(1),
        lead_in_samples: 0,
    });

    // The keys livetag's types serialise to, table by table (arrays: their entries' keys).
    let mut rust: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut rust_steps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for spec in [features, waveform] {
        let value = serde_json::to_value(&spec).unwrap();
        for (table, content) in value.as_object().unwrap() {
            let entries = match content {
                serde_json::Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            for entry in entries {
                for (key, value) in entry.as_object().unwrap() {
                    if table == "frontend" && key == "steps" {
                        for step in value.as_array().unwrap() {
                            let step = step.as_object().unwrap();
                            let op = step["op"].as_str().unwrap().to_string();
                            rust_steps
                                .entry(op)
                                .or_default()
                                .extend(step.keys().filter(|k| *k != "op").cloned());
                        }
                        continue;
                    }
                    rust.entry(table.clone()).or_default().insert(key.clone());
                }
            }
        }
    }

    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools");
    let run = Command::new("python3")
        .current_dir(&tools)
        .args(["-m", "livetag_tools.common.bundle", "--keys"])
        .output()
        .expect("python3 is needed to ask the bundle writer for its keys");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let python: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let keys = |value: &serde_json::Value| -> BTreeMap<String, BTreeSet<String>> {
        value
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, keys)| {
                let keys = keys.as_array().unwrap().iter();
                (
                    name.clone(),
                    keys.map(|k| k.as_str().unwrap().to_string()).collect(),
                )
            })
            .collect()
    };
    assert_eq!(
        keys(&python["tables"]),
        rust,
        "tables and keys: Python's writer (left) against livetag's types (right)"
    );
    assert_eq!(
        keys(&python["steps"]),
        rust_steps,
        "front-end step ops: Python's writer (left) against livetag's types (right)"
    );
}
