//! Broken bundles, each built here from the tiny test bundles. Every one must give its own
//! precise error naming the file and the field, and none may panic.

mod common;

use std::path::Path;

use common::{copy_bundle, edit_spec, repo};
use livetag::bundle::{Bundle, BundleError};

/// Loads and returns the error's message, checking that it names `file`.
fn error_of(bundle: &Path, file: &str) -> (BundleError, String) {
    let error = Bundle::load(bundle).expect_err("the broken bundle loaded");
    let message = error.to_string();
    assert!(
        message.contains(file),
        "message does not name {file}: {message}"
    );
    (error, message)
}

#[test]
fn the_intact_bundles_load() {
    let tone = Bundle::load(&repo().join("tests/models/tiny-tone")).unwrap();
    assert_eq!(tone.labels, ["low", "mid", "high"]);
    assert_eq!(
        (
            tone.input.window_rows,
            tone.input.min_rows,
            tone.input.hop_rows
        ),
        (32, 8, 16)
    );
    let state = Bundle::load(&repo().join("tests/models/tiny-state")).unwrap();
    assert_eq!(
        state.input.max_batch,
        Some(1),
        "stateful models run one window at a time"
    );
}

#[test]
fn missing_bundle_folder() {
    let (error, message) = error_of(Path::new("/nonexistent/bundle"), "/nonexistent/bundle");
    assert!(matches!(error, BundleError::NotFound { .. }), "{message}");
}

#[test]
fn missing_model_file() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    std::fs::remove_file(bundle.join("model.onnx")).unwrap();
    let (error, message) = error_of(&bundle, "model.onnx");
    assert!(
        matches!(
            error,
            BundleError::MissingFile {
                what: "ONNX model",
                ..
            }
        ),
        "{message}"
    );
}

#[test]
fn missing_labels_and_licence() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    std::fs::remove_file(bundle.join("labels.txt")).unwrap();
    let (error, _) = error_of(&bundle, "labels.txt");
    assert!(matches!(
        error,
        BundleError::MissingFile { what: "labels", .. }
    ));

    let (_tmp, bundle) = copy_bundle("tiny-tone");
    std::fs::remove_file(bundle.join("LICENSE")).unwrap();
    let (error, _) = error_of(&bundle, "LICENSE");
    assert!(matches!(
        error,
        BundleError::MissingFile {
            what: "licence",
            ..
        }
    ));
}

#[test]
fn garbage_bytes_instead_of_onnx() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    // Deterministic pseudo-random bytes (xorshift), as a corrupted download would be.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(bundle.join("model.onnx"), bytes).unwrap();
    let (error, message) = error_of(&bundle, "model.onnx");
    assert!(matches!(error, BundleError::Onnx { .. }), "{message}");
    assert!(message.contains("not a usable ONNX model"), "{message}");
}

#[test]
fn truncated_onnx() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    let bytes = std::fs::read(bundle.join("model.onnx")).unwrap();
    std::fs::write(bundle.join("model.onnx"), &bytes[..bytes.len() * 2 / 3]).unwrap();
    let (error, message) = error_of(&bundle, "model.onnx");
    assert!(matches!(error, BundleError::Onnx { .. }), "{message}");
    assert!(message.contains("truncated"), "{message}");
}

#[test]
fn empty_onnx_file() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    std::fs::write(bundle.join("model.onnx"), b"").unwrap();
    let (_, message) = error_of(&bundle, "model.onnx");
    assert!(message.contains("empty"), "{message}");
}

#[test]
fn wrong_label_count() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    std::fs::write(bundle.join("labels.txt"), "low\nmid\nhigh\nextra\n").unwrap();
    let (error, message) = error_of(&bundle, "bundle.toml");
    assert!(
        matches!(error, BundleError::Invalid { ref field, .. } if field == "model.labels"),
        "{message}"
    );
    assert!(
        message.contains("4 labels") && message.contains("3 classes"),
        "{message}"
    );
}

#[test]
fn blank_line_in_labels() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    std::fs::write(bundle.join("labels.txt"), "low\n\nhigh\n").unwrap();
    let (error, message) = error_of(&bundle, "labels.txt");
    assert!(matches!(error, BundleError::Labels { .. }), "{message}");
    assert!(message.contains("line 2"), "{message}");
}

#[test]
fn unknown_toml_key() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    edit_spec(
        &bundle,
        "hop_frames = 16",
        "hop_frames = 16\ncolour = \"blue\"",
    );
    let (error, message) = error_of(&bundle, "bundle.toml");
    assert!(matches!(error, BundleError::Syntax { .. }), "{message}");
    assert!(message.contains("unknown field `colour`"), "{message}");
}

#[test]
fn unknown_frontend_step_key() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    edit_spec(&bundle, "amin = 1e-10", "amin = 1e-10\ntop_dB = 80.0");
    let (_, message) = error_of(&bundle, "bundle.toml");
    assert!(message.contains("top_dB"), "{message}");
}

#[test]
fn toml_syntax_error() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    edit_spec(&bundle, "window_frames = 32", "window_frames = = 32");
    let (error, message) = error_of(&bundle, "bundle.toml");
    assert!(matches!(error, BundleError::Syntax { .. }), "{message}");
}

#[test]
fn wrong_input_rank() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    edit_spec(
        &bundle,
        r#"layout = ["batch", "time", "feature"]"#,
        r#"layout = ["batch", "channel", "time", "feature"]"#,
    );
    let (error, message) = error_of(&bundle, "bundle.toml");
    assert!(
        matches!(error, BundleError::Invalid { ref field, .. } if field == "input.layout"),
        "{message}"
    );
    assert!(message.contains("rank 3"), "{message}");
}

#[test]
fn wrong_input_dtype() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    std::fs::copy(
        repo().join("tests/models/variants/int64_input.onnx"),
        bundle.join("model.onnx"),
    )
    .unwrap();
    let (error, message) = error_of(&bundle, "bundle.toml");
    assert!(
        matches!(error, BundleError::Invalid { ref field, .. } if field == "input.name"),
        "{message}"
    );
    assert!(message.contains("int64"), "{message}");
}

#[test]
fn wrong_input_name() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    edit_spec(&bundle, r#"name = "features""#, r#"name = "mel""#);
    let (_, message) = error_of(&bundle, "bundle.toml");
    assert!(
        message.contains("`input.name`")
            && message.contains("no input `mel`")
            && message.contains("features"),
        "{message}"
    );
}

#[test]
fn wrong_output_name() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    edit_spec(&bundle, r#"name = "logits""#, r#"name = "probs""#);
    let (_, message) = error_of(&bundle, "bundle.toml");
    assert!(
        message.contains("`outputs[0].name`") && message.contains("no output `probs`"),
        "{message}"
    );
}

#[test]
fn window_shorter_than_the_minimum() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    edit_spec(&bundle, "window_frames = 32", "window_frames = 4");
    let (_, message) = error_of(&bundle, "bundle.toml");
    assert!(
        message.contains("`input.window_frames`")
            && message.contains("shorter than the model's minimum"),
        "{message}"
    );
}

#[test]
fn window_that_does_not_fit_a_fixed_time_axis() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    std::fs::copy(
        repo().join("tests/models/variants/fixed_time_32.onnx"),
        bundle.join("model.onnx"),
    )
    .unwrap();
    edit_spec(&bundle, "window_frames = 32", "window_frames = 40");
    let (_, message) = error_of(&bundle, "bundle.toml");
    assert!(message.contains("fixed time axis of 32"), "{message}");
}

#[test]
fn frontend_bands_do_not_match_the_model() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    edit_spec(&bundle, "n_bands = 16", "n_bands = 20");
    let (_, message) = error_of(&bundle, "bundle.toml");
    assert!(
        message.contains("`frontend.steps`")
            && message.contains("20 bands")
            && message.contains("expects 16"),
        "{message}"
    );
}

#[test]
fn filterbank_above_nyquist() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    edit_spec(&bundle, "fmax_hz = 4000.0", "fmax_hz = 6000.0");
    let (_, message) = error_of(&bundle, "bundle.toml");
    assert!(
        message.contains("`frontend`") && message.contains("Nyquist"),
        "{message}"
    );
}

#[test]
fn undescribed_model_input() {
    let (_tmp, bundle) = copy_bundle("tiny-state");
    let path = bundle.join("bundle.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let cut = text.find("[[constants]]").unwrap();
    std::fs::write(&path, &text[..cut]).unwrap();
    let (_, message) = error_of(&bundle, "bundle.toml");
    assert!(
        message.contains("model input `gain`") && message.contains("not described"),
        "{message}"
    );
}

#[test]
fn constant_with_the_wrong_type() {
    let (_tmp, bundle) = copy_bundle("tiny-state");
    edit_spec(&bundle, r#"dtype = "int64""#, r#"dtype = "float32""#);
    let (_, message) = error_of(&bundle, "bundle.toml");
    assert!(
        message.contains("`constants[0].dtype`") && message.contains("int64"),
        "{message}"
    );
}

#[test]
fn waveform_model_with_a_frontend() {
    let (_tmp, bundle) = copy_bundle("tiny-state");
    let path = bundle.join("bundle.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let frontend = "\n[frontend]\nn_fft = 256\nhop_samples = 128\nwindow = \"hann\"\ncenter = true\npower = 2.0\nsteps = []\n";
    std::fs::write(&path, text + frontend).unwrap();
    let (_, message) = error_of(&bundle, "bundle.toml");
    assert!(
        message.contains("`frontend`") && message.contains("waveform"),
        "{message}"
    );
}

/// `[ontology]`: a name livetag does not know, ids that do not match the labels one to one,
/// and an id the ontology lacks, each named with its file and line.
#[test]
fn ontology_section_errors() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    let add_ontology = |name: &str, ids: &str| {
        let spec = bundle.join("bundle.toml");
        let text = std::fs::read_to_string(&spec).unwrap();
        let text = text.split("\n[ontology]").next().unwrap().to_string();
        std::fs::write(
            &spec,
            format!("{text}\n[ontology]\nname = \"{name}\"\nids = \"label_ids.txt\"\n"),
        )
        .unwrap();
        std::fs::write(bundle.join("label_ids.txt"), ids).unwrap();
    };
    add_ontology("imagenet", "/m/0jbk\n/m/0bt9lr\n/m/05tny_\n");
    let (_, message) = error_of(&bundle, "bundle.toml");
    assert!(
        message
            .contains("`ontology.name`: unknown ontology \"imagenet\" (livetag knows: audioset)"),
        "{message}"
    );

    add_ontology("audioset", "/m/0jbk\n/m/0bt9lr\n");
    let (_, message) = error_of(&bundle, "label_ids.txt");
    assert!(message.contains("2 ids for 3 labels"), "{message}");

    add_ontology("audioset", "/m/0jbk\n/m/nope\n/m/05tny_\n");
    let (_, message) = error_of(&bundle, "label_ids.txt");
    assert!(
        message.contains("line 2: \"/m/nope\" is not an id in the audioset ontology"),
        "{message}"
    );

    // Three real AudioSet classes, and the bundle loads with them nested.
    add_ontology("audioset", "/m/0jbk\n/m/0bt9lr\n/m/05tny_\n");
    let loaded = Bundle::load(&bundle).unwrap();
    assert!(
        loaded.hierarchy.is_self_or_ancestor(0, 2),
        "Animal is above Bark"
    );
}

/// `[live]`: a hop that is not positive, a window the model does not accept, and a hop for
/// a stateful model, which always runs at its own.
#[test]
fn live_section_errors() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    let spec = bundle.join("bundle.toml");
    let original = std::fs::read_to_string(&spec).unwrap();
    let with_live =
        |live: &str| std::fs::write(&spec, format!("{original}\n[live]\n{live}\n")).unwrap();

    with_live("hop_secs = -0.04");
    let (_, message) = error_of(&bundle, "bundle.toml");
    assert!(
        message.contains("`live.hop_secs`: must be a positive number of seconds"),
        "{message}"
    );

    // tiny-tone's windows run from 8 to 32 frames of 128 samples at 8 kHz: 0.128 to 0.512 s.
    with_live("window_secs = 2.0");
    let (_, message) = error_of(&bundle, "bundle.toml");
    assert!(
        message.contains(
            "`live.window_secs`: 2 s is outside what the model accepts, 0.128 to 0.512 s"
        ),
        "{message}"
    );

    with_live("window_secs = 0.256\nhop_secs = 0.032");
    let loaded = Bundle::load(&bundle).unwrap();
    assert_eq!(loaded.live_input(None).window_rows, 16);
    assert_eq!(loaded.live_hop_secs(None), 0.032);
    assert_eq!(loaded.live_hop_secs(Some(0.1)), 0.1, "an asked hop wins");
    // Asked windows are clamped to what the model accepts.
    assert_eq!(loaded.live_input(Some(10.0)).window_rows, 32);
    assert_eq!(loaded.live_input(Some(0.0)).window_rows, 8);
    assert_eq!(loaded.live_input(Some(f64::NAN)).window_rows, 32);

    let (_tmp, stateful) = copy_bundle("tiny-state");
    let spec = stateful.join("bundle.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(&spec, format!("{text}\n[live]\nhop_secs = 0.5\n")).unwrap();
    let (_, message) = error_of(&stateful, "bundle.toml");
    assert!(
        message.contains("`live.hop_secs`: a stateful model runs at its own hop"),
        "{message}"
    );
    // Without the key, its live hop is its own, whatever is asked.
    std::fs::write(&spec, text).unwrap();
    let loaded = Bundle::load(&stateful).unwrap();
    assert_eq!(loaded.live_hop_secs(Some(0.5)), 8.0 / 8000.0);
}

#[test]
fn max_samples_shorter_than_the_window() {
    let (_tmp, bundle) = copy_bundle("tiny-state");
    edit_spec(
        &bundle,
        "hop_samples = 8",
        "hop_samples = 8\nmax_samples = 4",
    );
    let (_, message) = error_of(&bundle, "bundle.toml");
    assert!(message.contains("max_samples"), "{message}");
}
