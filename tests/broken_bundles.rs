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

/// `[events] median_frames`: odd lengths livetag runs, one per label when a list, and only
/// for a model with a framewise output; each refusal names bundle.toml and the field.
#[test]
fn events_section_errors() {
    let (_tmp, bundle) = copy_bundle("tiny-sed");
    let spec = bundle.join("bundle.toml");
    let original = std::fs::read_to_string(&spec).unwrap();
    let with_events =
        |events: &str| std::fs::write(&spec, format!("{original}\n[events]\n{events}\n")).unwrap();

    with_events("median_frames = 4");
    let message = refused(&bundle, "events.median_frames");
    assert!(message.contains("4 is even"), "{message}");
    with_events("median_frames = 0");
    let message = refused(&bundle, "events.median_frames");
    assert!(message.contains("0 is not a length"), "{message}");
    with_events("median_frames = -3");
    let message = refused(&bundle, "events.median_frames");
    assert!(message.contains("-3 is not a length"), "{message}");
    with_events("median_frames = 1003");
    let message = refused(&bundle, "events.median_frames");
    assert!(
        message.contains("1003 frames is longer than livetag's longest median filter, 1001"),
        "{message}"
    );
    // tiny-sed has two labels.
    with_events("median_frames = [3, 5, 7]");
    let message = refused(&bundle, "events.median_frames");
    assert!(
        message.contains("lists 3 lengths but labels.txt has 2 labels"),
        "{message}"
    );
    with_events("median_frames = [3, 6]");
    let message = refused(&bundle, "events.median_frames[1]");
    assert!(message.contains("6 is even"), "{message}");
    with_events("median_frames = 2.5");
    let (_, message) = error_of(&bundle, "bundle.toml");
    assert!(
        message.contains("median_frames")
            && message.contains("an odd whole number of frames, or a list of them"),
        "{message}"
    );
    with_events("median_frames = [3, 5]\nmedian = 3");
    let (_, message) = error_of(&bundle, "bundle.toml");
    assert!(message.contains("median"), "{message}");

    with_events("median_frames = [3, 5]");
    let loaded = Bundle::load(&bundle).unwrap();
    let settings = loaded.event_settings(Default::default());
    assert_eq!(settings.for_class(0).median_frames, 3);
    assert_eq!(settings.for_class(1).median_frames, 5);

    // A model with clip outputs only has nothing to filter.
    let (_tmp, clip_only) = copy_bundle("tiny-tone");
    let spec = clip_only.join("bundle.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(&spec, format!("{text}\n[events]\nmedian_frames = 5\n")).unwrap();
    let message = refused(&clip_only, "events");
    assert!(message.contains("remove [events]"), "{message}");
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

// ---- A bundle is untrusted input (issue 14) ----

/// Loads and checks the refusal is [`BundleError::Invalid`] for `field`, naming bundle.toml;
/// returns the message.
fn refused(bundle: &Path, field: &str) -> String {
    let (error, message) = error_of(bundle, "bundle.toml");
    assert!(
        matches!(error, BundleError::Invalid { field: ref f, .. } if f == field),
        "{message}"
    );
    assert!(message.contains(&format!("`{field}`")), "{message}");
    message
}

/// Adds `labels = "..."` to `[model]` (tiny-tone uses the default).
fn set_labels(bundle: &Path, labels: &str) {
    edit_spec(
        bundle,
        "licence = \"CC0-1.0\"",
        &format!("licence = \"CC0-1.0\"\nlabels = {labels:?}"),
    );
}

fn set_reference_audio(bundle: &Path, audio: &str) {
    edit_spec(
        bundle,
        "audio = \"reference/input.wav\"",
        &format!("audio = {audio:?}"),
    );
}

#[test]
fn paths_that_climb_out_of_the_bundle_are_refused() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    set_labels(&bundle, "../../etc/passwd");
    let message = refused(&bundle, "model.labels");
    assert!(
        message.contains("`model.labels`: \"../../etc/passwd\" leaves the bundle folder"),
        "{message}"
    );

    let (_tmp, bundle) = copy_bundle("tiny-tone");
    set_reference_audio(&bundle, "reference/../../input.wav");
    let message = refused(&bundle, "reference.audio");
    assert!(message.contains("leaves the bundle folder"), "{message}");

    // `..` that stays inside is fine.
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    set_reference_audio(&bundle, "reference/../reference/input.wav");
    Bundle::load(&bundle).unwrap();
}

#[test]
fn absolute_paths_are_refused() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    let labels = bundle.join("labels.txt").display().to_string();
    // Even one that points into the bundle itself: paths are relative to the folder.
    set_labels(&bundle, &labels);
    let message = refused(&bundle, "model.labels");
    assert!(message.contains("is an absolute path"), "{message}");

    let (_tmp, bundle) = copy_bundle("tiny-tone");
    set_reference_audio(&bundle, "/etc/passwd");
    let message = refused(&bundle, "reference.audio");
    assert!(
        message.contains("\"/etc/passwd\" is an absolute path"),
        "{message}"
    );

    for (field, from, to) in [
        (
            "model.file",
            "licence = \"CC0-1.0\"",
            "licence = \"CC0-1.0\"\nfile = \"/dev/zero\"",
        ),
        (
            "model.licence_file",
            "licence = \"CC0-1.0\"",
            "licence = \"CC0-1.0\"\nlicence_file = \"/etc/hostname\"",
        ),
        (
            "reference.expected",
            "expected = \"reference/expected.json\"",
            "expected = \"/tmp/expected.json\"",
        ),
    ] {
        let (_tmp, bundle) = copy_bundle("tiny-tone");
        edit_spec(&bundle, from, to);
        refused(&bundle, field);
    }
}

#[test]
fn symbolic_links_out_of_the_bundle_are_refused() {
    use std::os::unix::fs::symlink;

    // A labels file outside the bundle that would load: only the link is wrong.
    let (tmp, bundle) = copy_bundle("tiny-tone");
    let outside = tmp.path().join("outside.txt");
    std::fs::write(&outside, "low\nmid\nhigh\n").unwrap();
    std::fs::remove_file(bundle.join("labels.txt")).unwrap();
    symlink(&outside, bundle.join("labels.txt")).unwrap();
    let message = refused(&bundle, "model.labels");
    assert!(
        message.contains("\"labels.txt\" leaves the bundle folder through a symbolic link"),
        "{message}"
    );

    // A relative link, to the reference audio.
    let (tmp, bundle) = copy_bundle("tiny-tone");
    std::fs::copy(
        bundle.join("reference/input.wav"),
        tmp.path().join("input.wav"),
    )
    .unwrap();
    std::fs::remove_file(bundle.join("reference/input.wav")).unwrap();
    symlink("../../input.wav", bundle.join("reference/input.wav")).unwrap();
    let message = refused(&bundle, "reference.audio");
    assert!(message.contains("through a symbolic link"), "{message}");

    // A linked folder: reference/ itself points elsewhere.
    let (tmp, bundle) = copy_bundle("tiny-tone");
    std::fs::rename(bundle.join("reference"), tmp.path().join("reference")).unwrap();
    symlink(tmp.path().join("reference"), bundle.join("reference")).unwrap();
    refused(&bundle, "reference.audio");

    // A link to the labels from elsewhere, and the bundle.toml itself.
    let (tmp, bundle) = copy_bundle("tiny-tone");
    std::fs::rename(bundle.join("bundle.toml"), tmp.path().join("spec.toml")).unwrap();
    symlink(tmp.path().join("spec.toml"), bundle.join("bundle.toml")).unwrap();
    refused(&bundle, "bundle.toml");

    // Links that stay inside are fine, and so is a bundle reached through a linked folder.
    let (tmp, bundle) = copy_bundle("tiny-tone");
    std::fs::rename(bundle.join("labels.txt"), bundle.join("names.txt")).unwrap();
    symlink("names.txt", bundle.join("labels.txt")).unwrap();
    let linked = tmp.path().join("linked-bundle");
    symlink(&bundle, &linked).unwrap();
    assert_eq!(
        Bundle::load(&linked).unwrap().labels,
        ["low", "mid", "high"]
    );
}

/// Runs `Bundle::load` on a thread and waits at most 30 s: a FIFO opened for reading would
/// block until a writer comes, that is forever.
fn load_without_blocking(bundle: &Path) -> Result<Bundle, BundleError> {
    let (send, receive) = std::sync::mpsc::channel();
    let path = bundle.to_path_buf();
    std::thread::spawn(move || {
        // The test may have given up waiting; then nobody receives.
        let _ = send.send(Bundle::load(&path));
    });
    receive
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("Bundle::load blocked: it opened a FIFO")
}

fn mkfifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
fn a_fifo_is_refused_without_being_opened() {
    for (file, what) in [
        ("model.onnx", "ONNX model"),
        ("labels.txt", "labels"),
        ("LICENSE", "licence"),
        ("reference/expected.json", "reference scores"),
        ("reference/input.wav", "reference audio"),
    ] {
        let (_tmp, bundle) = copy_bundle("tiny-tone");
        mkfifo(&bundle.join(file));
        let error = load_without_blocking(&bundle).expect_err("a FIFO loaded");
        let message = error.to_string();
        assert!(
            matches!(error, BundleError::NotAFile { what: w, .. } if w == what),
            "{message}"
        );
        assert!(
            message.contains(file) && message.contains("a FIFO (named pipe), not a regular file"),
            "{message}"
        );
    }
}

#[test]
fn a_folder_where_the_model_should_be() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    std::fs::remove_file(bundle.join("model.onnx")).unwrap();
    std::fs::create_dir(bundle.join("model.onnx")).unwrap();
    let (error, message) = error_of(&bundle, "model.onnx");
    assert!(matches!(error, BundleError::NotAFile { .. }), "{message}");
    assert!(message.contains("is a folder"), "{message}");
}

/// A 3 GiB model (sparse: no disk is used) is refused from its size alone, before a byte is
/// read; so is a 17 MiB labels file.
#[test]
fn oversized_files_are_refused_before_reading() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    let model = std::fs::File::create(bundle.join("model.onnx")).unwrap();
    // Exactly 2 GiB, the size the hostile-input trial used: one byte over protobuf's limit.
    model.set_len(2 << 30).unwrap();
    let started = std::time::Instant::now();
    let (error, message) = error_of(&bundle, "model.onnx");
    assert!(
        matches!(
            error,
            BundleError::TooLarge {
                size: 2147483648,
                max: 2147483647,
                ..
            }
        ),
        "{message}"
    );
    assert!(
        message.contains("2147483648 bytes") && message.contains("protobuf"),
        "{message}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "refusing 2 GiB of zeros took {:?}",
        started.elapsed()
    );

    let (_tmp, bundle) = copy_bundle("tiny-tone");
    let labels = std::fs::OpenOptions::new()
        .append(true)
        .open(bundle.join("labels.txt"))
        .unwrap();
    labels.set_len(17 << 20).unwrap();
    let (error, message) = error_of(&bundle, "labels.txt");
    assert!(
        matches!(error, BundleError::TooLarge { what: "labels", .. }),
        "{message}"
    );
}

/// Lengths are bounded by 10 minutes of audio at the model's rate, so nothing downstream
/// tries to allocate a window of terabytes.
#[test]
fn windows_longer_than_ten_minutes_are_refused() {
    let (_tmp, bundle) = copy_bundle("tiny-state");
    edit_spec(&bundle, "sample_rate_hz = 8000", "sample_rate_hz = 32000");
    edit_spec(
        &bundle,
        "window_samples = 8",
        "window_samples = 1000000000000",
    );
    let message = refused(&bundle, "input.window_samples");
    assert!(
        message.contains(
            "window_samples 1000000000000 exceeds the 10-minute maximum at 32000 Hz (19200000 samples)"
        ),
        "{message}"
    );

    for (from, to, field) in [
        (
            "hop_samples = 8",
            "hop_samples = 4800001",
            "input.hop_samples",
        ),
        (
            "lead_in_samples = 2",
            "lead_in_samples = 99999999999",
            "input.lead_in_samples",
        ),
        (
            "hop_samples = 8",
            "hop_samples = 8\nmax_samples = 18446744073709551615",
            "input.max_samples",
        ),
    ] {
        let (_tmp, bundle) = copy_bundle("tiny-state");
        edit_spec(&bundle, from, to);
        let message = refused(&bundle, field);
        assert!(message.contains("(4800000 samples)"), "{message}");
    }
    // Exactly ten minutes is allowed (the hop only: the window must match the model).
    let (_tmp, bundle) = copy_bundle("tiny-state");
    edit_spec(&bundle, "lead_in_samples = 2", "lead_in_samples = 4800000");
    Bundle::load(&bundle).unwrap();

    // Frames: 128-sample hops at 8 kHz make 37500 frames in ten minutes.
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    edit_spec(&bundle, "window_frames = 32", "window_frames = 37501");
    let message = refused(&bundle, "input.window_frames");
    assert!(
        message.contains("window_frames 37501 exceeds the 10-minute maximum at 8000 Hz with 128-sample hops (37500 frames)"),
        "{message}"
    );
    // And the FFT, checked before the front-end allocates it.
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    edit_spec(&bundle, "n_fft = 256", "n_fft = 1099511627776");
    let message = refused(&bundle, "frontend.n_fft");
    assert!(
        message.contains("more than livetag computes (65536"),
        "{message}"
    );
}

#[test]
fn state_and_constant_shapes_are_bounded() {
    let (_tmp, bundle) = copy_bundle("tiny-state");
    edit_spec(
        &bundle,
        "shape = [1, 1]",
        "shape = [4294967296, 4294967296]",
    );
    let message = refused(&bundle, "state[0].shape");
    assert!(message.contains("more than 16777216 values"), "{message}");
}

#[test]
fn duplicate_labels() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    std::fs::write(bundle.join("labels.txt"), "low\nmid\nlow\n").unwrap();
    let (error, message) = error_of(&bundle, "labels.txt");
    assert!(matches!(error, BundleError::Labels { .. }), "{message}");
    assert!(
        message.contains("line 3 repeats \"low\" from line 1"),
        "{message}"
    );
}

/// A tolerance that lets every score pass makes a self-test that cannot fail.
#[test]
fn reference_tolerance_must_be_small_and_positive() {
    for tolerance in ["inf", "1e308", "0", "0.0", "-1e-4", "nan", "0.5"] {
        let (_tmp, bundle) = copy_bundle("tiny-tone");
        edit_spec(
            &bundle,
            "tolerance = 0.0001",
            &format!("tolerance = {tolerance}"),
        );
        let message = refused(&bundle, "reference.tolerance");
        assert!(
            message.contains("must be above 0 and at most 0.1"),
            "{tolerance}: {message}"
        );
    }
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    edit_spec(&bundle, "tolerance = 0.0001", "tolerance = 0.1");
    Bundle::load(&bundle).unwrap();
}

/// A value of the wrong type inside `[input]` is named by its key and line, not by the
/// table (serde alone points at `[input]`: the table is read as a tagged enum).
#[test]
fn a_wrong_type_names_its_key() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    edit_spec(
        &bundle,
        "sample_rate_hz = 8000",
        "sample_rate_hz = \"8000\"",
    );
    let (_, message) = error_of(&bundle, "bundle.toml");
    let line = std::fs::read_to_string(bundle.join("bundle.toml"))
        .unwrap()
        .lines()
        .position(|l| l.starts_with("sample_rate_hz"))
        .unwrap()
        + 1;
    assert!(
        message.contains(&format!(
            "line {line}: `input.sample_rate_hz`: invalid type: string \"8000\", expected u32"
        )),
        "{message}"
    );
    edit_spec(
        &bundle,
        "sample_rate_hz = \"8000\"",
        "sample_rate_hz = 8000",
    );
    edit_spec(&bundle, "hop_frames = 16", "hop_frames = 1.5");
    let (_, message) = error_of(&bundle, "bundle.toml");
    assert!(
        message.contains("`input.hop_frames`: invalid type: floating point `1.5`"),
        "{message}"
    );
}

/// Lengths in seconds do not bound memory on their own: FFT size, band count and values per
/// window each have a ceiling, checked before anything is built.
#[test]
fn front_end_and_window_sizes_are_bounded() {
    for (from, to, field) in [
        ("n_fft = 256", "n_fft = 1048576", "frontend.n_fft"),
        ("n_bands = 16", "n_bands = 100000000", "frontend.steps[0]"),
    ] {
        let (_tmp, bundle) = copy_bundle("tiny-tone");
        edit_spec(&bundle, from, to);
        let (_, message) = error_of(&bundle, "bundle.toml");
        assert!(
            message.contains(field) && message.contains("more than livetag"),
            "{message}"
        );
    }
    // 37,000 frames (under 10 minutes at 8 kHz with a 128-sample hop) of 1,000 bands is
    // 37 M values: over the per-window ceiling.
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    edit_spec(&bundle, "n_bands = 16", "n_bands = 1000");
    edit_spec(&bundle, "window_frames = 32", "window_frames = 37000");
    let (_, message) = error_of(&bundle, "bundle.toml");
    assert!(
        message.contains("more than livetag holds per window"),
        "{message}"
    );
}
