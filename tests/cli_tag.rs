//! `livetag tag`, `inspect` and `models` end to end on the tiny test models. Needs the ONNX
//! Runtime library that `tools/setup.sh` installs.

mod common;

use common::{copy_bundle, livetag, repo};

fn tiny_tone() -> String {
    repo().join("tests/models/tiny-tone").display().to_string()
}

fn run_ok(cmd: &mut std::process::Command) -> (String, String) {
    let out = cmd.output().expect("run livetag");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "livetag failed: {stderr}");
    (stdout, stderr)
}

/// Exact window times and scores against `livetag_tools.fixtures.tiny_models`'s librosa + NumPy
/// computation of the same front-end and model.
#[test]
fn tag_gives_the_reference_scores_and_timestamps() {
    let clip = repo().join("tests/fixtures/tiny/tones.wav");
    let (stdout, stderr) = run_ok(
        livetag()
            .args([
                "tag",
                "--model",
                &tiny_tone(),
                "--all-scores",
                "--batch",
                "3",
            ])
            .arg(&clip),
    );
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/tiny/tones.expected.json")).unwrap(),
    )
    .unwrap();
    let expected = expected["windows"].as_array().unwrap();
    let records: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), expected.len(), "window count");
    for (record, want) in records.iter().zip(expected) {
        assert_eq!(record["start"], want["start"]);
        assert_eq!(record["end"], want["end"]);
        for (label, want_score) in ["low", "mid", "high"]
            .iter()
            .zip(want["scores"].as_array().unwrap())
        {
            let got = record["scores"][label].as_f64().unwrap();
            let want_score = want_score.as_f64().unwrap();
            assert!(
                (got - want_score).abs() < 1e-4,
                "{label} at {}: {got} vs {want_score}",
                record["start"]
            );
        }
    }
    let top: Vec<&str> = records
        .iter()
        .map(|r| r["top"][0]["label"].as_str().unwrap())
        .collect();
    assert_eq!(top, ["low", "low", "mid", "mid", "high", "high", "high"]);
    assert!(
        stderr.contains("real time") && stderr.contains("provider CPU"),
        "{stderr}"
    );
}

#[test]
fn mp3_and_csv_and_hop_override() {
    let mp3 = repo().join("tests/fixtures/audio/tone440_mono_44100.mp3");
    let (stdout, _) = run_ok(
        livetag()
            .args([
                "tag",
                "--model",
                &tiny_tone(),
                "--format",
                "csv",
                "--top-k",
                "2",
                "--hop-secs",
                "0.128",
            ])
            .arg(&mp3),
    );
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some("file,start_secs,end_secs,label_1,score_1,label_2,score_2,silent")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // 1.0 s of audio at 8 kHz: 63 frames; windows of 32 frames every 8 frames, plus the tail.
    let starts: Vec<&str> = rows.iter().map(|r| r[1]).collect();
    assert_eq!(starts, ["0", "0.128", "0.256", "0.384", "0.496"]);
    assert!(
        rows.iter().all(|r| r[3] == "low"),
        "440 Hz is in the low bands: {rows:?}"
    );
}

#[test]
fn a_corrupt_file_is_named_and_the_others_go_on() {
    let tmp = tempfile::tempdir().unwrap();
    let broken = tmp.path().join("broken.wav");
    std::fs::write(&broken, b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk").unwrap();
    let good = repo().join("tests/fixtures/tiny/tones.wav");
    let out = livetag()
        .args(["tag", "--model", &tiny_tone()])
        .arg(&broken)
        .arg(&good)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a failed file must fail the run");
    assert!(stderr.contains("broken.wav"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("1 of 2 files"), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        7,
        "the good file is still tagged"
    );
}

#[test]
fn stateful_model_carries_state_feeds_constants_and_lead_in() {
    // tiny-state scores h_out * gain where h_out = h + sum(window); gain = 2, lead-in 2.
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("ramp.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(&wav, spec).unwrap();
    let samples: Vec<f32> = (0..30).map(|i| i as f32 / 100.0).collect();
    for s in &samples {
        writer.write_sample(*s).unwrap();
    }
    writer.finalize().unwrap();
    let model = repo().join("tests/models/tiny-state");
    let (stdout, _) = run_ok(
        livetag()
            .args(["tag", "--all-scores", "--model"])
            .arg(&model)
            .arg(&wav),
    );
    let scores: Vec<f64> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["scores"]["running sum"]
                .as_f64()
                .unwrap()
        })
        .collect();
    // Rows are 2 zeros then the 30 samples: windows end at rows 8, 16, 24, 32.
    let padded: Vec<f64> = [0.0, 0.0]
        .into_iter()
        .chain(samples.iter().map(|&s| f64::from(s)))
        .collect();
    let expected: Vec<f64> = [8, 16, 24, 32]
        .iter()
        .map(|&end| 2.0 * padded[..end].iter().sum::<f64>())
        .collect();
    assert_eq!(scores.len(), expected.len(), "{stdout}");
    for (got, want) in scores.iter().zip(&expected) {
        assert!((got - want).abs() < 1e-4, "{scores:?} vs {expected:?}");
    }
}

#[test]
fn inspect_describes_the_bundle_and_self_test_passes() {
    let (stdout, _) = run_ok(livetag().args(["inspect", "--self-test", &tiny_tone()]));
    for needle in [
        "tiny-tone",
        "opset 17",
        "parameters:  48",
        "features float32 [batch, time, 16]",
        "labels:      3",
        // From ONNX Runtime's profile: which provider ran the nodes.
        "nodes run by: CPUExecutionProvider",
        "self-test: PASS",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    }
}

/// Every bundle shipped in models/ reproduces its own reference pair through the whole
/// livetag pipeline, and carries its licence text.
#[test]
fn every_shipped_bundle_passes_its_self_test() {
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(repo().join("models")).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("bundle.toml").is_file() {
            continue;
        }
        let licence = std::fs::read_to_string(dir.join("LICENSE")).unwrap_or_default();
        assert!(licence.len() > 100, "{}: no licence text", dir.display());
        let (stdout, _) = run_ok(livetag().args(["inspect", "--self-test"]).arg(&dir));
        assert!(stdout.contains("self-test: PASS"), "{stdout}");
        checked.push(dir.file_name().unwrap().to_string_lossy().into_owned());
    }
    checked.sort();
    for shipped in [
        "ced-tiny",
        "musicnn-msd",
        "musicnn-mtt",
        "silero-vad",
        "yamnet",
    ] {
        assert!(checked.iter().any(|c| c == shipped), "{checked:?}");
    }
}

#[test]
fn self_test_fails_on_a_wrong_reference() {
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    std::fs::write(
        bundle.join("reference/expected.json"),
        r#"{"output": "logits", "scores": [[0.2, 0.3, 0.5]]}"#,
    )
    .unwrap();
    let out = livetag()
        .args(["inspect", "--self-test"])
        .arg(&bundle)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(stdout.contains("self-test: FAIL"), "{stdout}");
}

#[test]
fn missing_onnx_runtime_names_the_fix() {
    let empty = tempfile::tempdir().unwrap();
    let out = livetag()
        .args(["tag", "--model", &tiny_tone()])
        .arg(repo().join("tests/fixtures/tiny/tones.wav"))
        .env("ORT_DYLIB_PATH", empty.path().join("nope.so"))
        .env("LIVETAG_CACHE_DIR", empty.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("ONNX Runtime") && stderr.contains("tools/setup.sh"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_library_that_is_not_onnx_runtime_is_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = tmp.path().join("libonnxruntime.so");
    std::fs::write(&fake, b"not a shared library").unwrap();
    let out = livetag()
        .args(["tag", "--model", &tiny_tone(), "--ort-lib"])
        .arg(&fake)
        .arg(repo().join("tests/fixtures/tiny/tones.wav"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("could not load ONNX Runtime") && stderr.contains("tools/setup.sh"),
        "{stderr}"
    );
}

#[test]
fn models_lists_bundles_on_the_model_path() {
    let (stdout, _) = run_ok(
        livetag()
            .arg("models")
            .env("LIVETAG_MODEL_PATH", repo().join("tests/models")),
    );
    assert!(
        stdout.contains("tiny-tone") && stdout.contains("tiny-state"),
        "{stdout}"
    );
    assert!(stdout.contains("3 classes, 8000 Hz"), "{stdout}");
}

/// The default model is the AudioSet tagger, and each top-k mode and list reaches `tag`'s
/// records: a real bark (CED-tiny: Animal 0.86, Dog 0.79, Domestic animals 0.78, ...).
#[test]
fn tag_on_the_default_model_ranks_by_ontology() {
    let clip = repo().join("tests/fixtures/real_clips/dog_bark.wav");
    let first_record = |extra: &[&str]| {
        let (stdout, stderr) = run_ok(livetag().arg("tag").arg(&clip).args(extra));
        assert!(
            stderr.contains("ced-tiny"),
            "not the default model: {stderr}"
        );
        let line = stdout.lines().next().expect("one record");
        serde_json::from_str::<serde_json::Value>(line).unwrap()
    };
    let labels = |record: &serde_json::Value| -> Vec<String> {
        record["top"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["label"].as_str().unwrap().to_string())
            .collect()
    };

    let specific = first_record(&[]);
    assert_eq!(specific["top"][0]["label"], "Dog", "{specific}");
    assert_eq!(
        specific["top"][0]["hides"],
        serde_json::json!(["Animal", "Domestic animals, pets"])
    );
    let all = first_record(&["--top-k-mode", "all"]);
    assert_eq!(labels(&all)[..2], ["Animal", "Dog"], "{all}");
    let grouped = first_record(&["--top-k-mode", "grouped", "--top-k", "3"]);
    // Dog sits under Domestic animals, which sits under Animal.
    assert_eq!(
        labels(&grouped),
        ["Animal", "Domestic animals, pets", "Dog"],
        "{grouped}"
    );
    assert_eq!(grouped["top"][1]["depth"], 1, "{grouped}");
    assert_eq!(grouped["top"][2]["depth"], 2, "{grouped}");
    // Whole subtrees, checked against the ontology itself.
    let bundle = livetag::bundle::Bundle::load(&repo().join("models/ced-tiny")).unwrap();
    let under = |class: &str, label: &str| {
        let index = |name: &str| bundle.labels.iter().position(|l| l == name).unwrap();
        bundle
            .hierarchy
            .is_self_or_ancestor(index(class), index(label))
    };
    let no_animals = first_record(&["--except", "Animal"]);
    assert_eq!(labels(&no_animals).len(), 5);
    for label in labels(&no_animals) {
        assert!(
            !under("Animal", &label),
            "{label} is an animal: {no_animals}"
        );
    }
    let only_dogs = first_record(&["--only", "Dog", "--top-k-mode", "all"]);
    assert_eq!(labels(&only_dogs)[0], "Dog", "{only_dogs}");
    for label in labels(&only_dogs) {
        assert!(
            under("Dog", &label),
            "{label} is not a dog sound: {only_dogs}"
        );
    }

    // CSV rows keep the header's columns when a list leaves fewer classes than --top-k.
    let (stdout, _) = run_ok(
        livetag()
            .arg("tag")
            .arg(&clip)
            .args(["--only", "Bark", "--format", "csv"]),
    );
    let mut lines = stdout.lines();
    let header = lines.next().unwrap();
    let row = lines.next().unwrap();
    assert_eq!(header.split(',').count(), 14, "{header}");
    assert_eq!(row.split(',').count(), 14, "{row}");
    assert!(row.contains(",Bark,"), "{row}");

    let out = livetag()
        .arg("tag")
        .arg(&clip)
        .args(["--only", "Dgo"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--only/--except for ced-tiny: \"Dgo\" names no class of this model"),
        "{stderr}"
    );
}

/// `./models` of the working folder is not an installed location: a bundle planted there
/// under the default model's name is not picked up by `tag` without `--model`, nor by the
/// name; given as a path, it is used.
#[test]
fn a_bundle_planted_in_the_working_folder_does_not_hijack_the_default() {
    // The working folder: models/ced-tiny, a renamed copy of tiny-tone, and a clip.
    let (work, tone) = copy_bundle("tiny-tone");
    let planted = work.path().join("models/ced-tiny");
    std::fs::create_dir(work.path().join("models")).unwrap();
    std::fs::rename(&tone, &planted).unwrap();
    common::edit_spec(&planted, "name = \"tiny-tone\"", "name = \"planted\"");
    std::fs::copy(
        repo().join("tests/fixtures/tiny/tones.wav"),
        work.path().join("some.wav"),
    )
    .unwrap();
    let tag = |extra: &[&str]| {
        run_ok(
            livetag()
                .current_dir(work.path())
                .env_remove("LIVETAG_MODEL_PATH")
                .args(["tag", "some.wav"])
                .args(extra),
        )
    };

    for extra in [&[][..], &["--model", "ced-tiny"][..]] {
        let (stdout, stderr) = tag(extra);
        assert!(
            stderr.contains("model ced-tiny") && !stderr.contains("planted"),
            "{extra:?}: {stderr}"
        );
        assert!(!stdout.contains("\"low\""), "{extra:?}: {stdout}");
    }
    for path in ["./models/ced-tiny", "models/ced-tiny"] {
        let (_, stderr) = tag(&["--model", path]);
        assert!(stderr.contains("model planted"), "{path}: {stderr}");
    }
}

/// A name that is not installed is not looked up in the working folder either; the error
/// says how to use the folder that is there.
#[test]
fn a_model_name_is_never_a_folder_of_the_working_folder() {
    let (_tmp, tone) = copy_bundle("tiny-tone");
    let out = livetag()
        .current_dir(tone.parent().unwrap())
        .env_remove("LIVETAG_MODEL_PATH")
        .args(["inspect", "tiny-tone"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("./tiny-tone here is a bundle") && stderr.contains("--model ./tiny-tone"),
        "{stderr}"
    );
}

/// Self-tests that can fail: no reference windows, and more windows in the audio than rows
/// in expected.json (once, only the first rows were compared).
#[test]
fn self_test_fails_on_a_reference_with_the_wrong_number_of_windows() {
    let self_test = |bundle: &std::path::Path| {
        let out = livetag()
            .args(["inspect", "--self-test"])
            .arg(bundle)
            .output()
            .unwrap();
        assert!(!out.status.success());
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    std::fs::write(
        bundle.join("reference/expected.json"),
        r#"{"output": "logits", "scores": []}"#,
    )
    .unwrap();
    let output = self_test(&bundle);
    assert!(output.contains("no reference windows"), "{output}");

    // The reference audio twice over gives two windows; expected.json still has one row.
    let (_tmp, bundle) = copy_bundle("tiny-tone");
    let wav = bundle.join("reference/input.wav");
    let mut reader = hound::WavReader::open(&wav).unwrap();
    let spec = reader.spec();
    let samples: Vec<f32> = reader.samples::<f32>().map(Result::unwrap).collect();
    let mut writer = hound::WavWriter::create(&wav, spec).unwrap();
    for &sample in samples.iter().chain(&samples) {
        writer.write_sample(sample).unwrap();
    }
    writer.finalize().unwrap();
    let output = self_test(&bundle);
    assert!(
        output.contains("expects 1 windows but the reference audio gives 2"),
        "{output}"
    );
}

/// Digital silence is said, not presented as music: musicnn gives silence "guitar 0.31",
/// and the record carries `silent: true`; a faint tone is not silence.
#[test]
fn tag_says_when_a_window_is_silent() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let path = tmp.path().join("silence-then-tone.wav");
    let mut wav = hound::WavWriter::create(&path, spec).unwrap();
    // 4 s of digital silence, then 4 s of a quiet 440 Hz tone (-40 dBFS).
    for i in 0..8 * 16_000 {
        let value = if i < 4 * 16_000 {
            0.0
        } else {
            0.01 * (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / 16_000.0).sin()
        };
        wav.write_sample((value * 32767.0) as i16).unwrap();
    }
    wav.finalize().unwrap();
    for model in ["ced-tiny", "musicnn-mtt"] {
        let (stdout, _) = run_ok(livetag().args(["tag", "--model", model]).arg(&path));
        let records: Vec<serde_json::Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let silent = |r: &serde_json::Value| r["silent"] == serde_json::json!(true);
        let first = &records[0];
        let last = records.last().unwrap();
        if model == "musicnn-mtt" {
            // Its first 3 s window is all silence; its last one hears the tone.
            assert!(silent(first), "{model}: {first}");
        } else {
            // CED's 10 s file window covers both halves: not silent.
            assert!(!silent(first), "{model}: {first}");
        }
        assert!(!silent(last), "{model}: {last}");
    }
}
