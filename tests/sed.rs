//! Sound event detection end to end on `tests/models/tiny-sed` and its clip
//! `tests/fixtures/tiny/sed.wav` (both from `livetag_tools.fixtures.tiny_models`, whose docstring
//! lists the clip's tones), and `livetag eval` on small lists with hand-computed metrics.
//! Needs the ONNX Runtime library that `tools/setup.sh` installs.

mod common;

use std::path::{Path, PathBuf};

use common::{floats, livetag, read_json, repo};
use livetag::sed::{ClassSettings, Decision, EventDetector, EventSettings};
use livetag::tagger::{detect_events, tag_samples_with_frames, TagSettings};

fn tiny_sed() -> PathBuf {
    repo().join("tests/models/tiny-sed")
}

fn sed_wav() -> PathBuf {
    repo().join("tests/fixtures/tiny/sed.wav")
}

fn run(cmd: &mut std::process::Command) -> (bool, String, String) {
    let out = cmd.output().expect("run livetag");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn open_tiny_sed() -> (livetag::bundle::Bundle, livetag::inference::ModelRunner) {
    let bundle = livetag::bundle::Bundle::load(&tiny_sed()).unwrap();
    let runtime = livetag::inference::runtime(None).unwrap();
    let options = livetag::inference::SessionOptions {
        device: livetag::inference::DevicePreference::Cpu,
        threads: Some(1),
        ..Default::default()
    };
    let runner = livetag::inference::ModelRunner::new(&runtime, &bundle, &options).unwrap();
    (bundle, runner)
}

/// The framewise rows livetag hands over are the model's frames on the 50 ms grid, equal
/// to the NumPy computation in `livetag_tools.fixtures.tiny_models`, whatever the hop: with
/// overlapping windows each frame comes once, from the first window that covers it.
#[test]
fn framewise_rows_have_absolute_times_and_the_reference_values() {
    let (bundle, mut runner) = open_tiny_sed();
    assert_eq!(runner.frame_rate_hz(), Some(20.0));
    let expected = read_json(&repo().join("tests/fixtures/tiny/sed.frames.json"));
    let expected: Vec<Vec<f32>> = expected["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect();
    assert_eq!(expected.len(), 80, "4 s at 20 frames per second");
    let samples = livetag::audio::load_mono(&sed_wav(), 8000).unwrap();
    // The bundle's hop (0.5 s), 0.25 s, and no overlap; batches of 1 and 3.
    for (hop_secs, batch) in [(None, 3), (Some(0.25), 1), (Some(1.0), 3)] {
        let settings = TagSettings::new(&bundle.input, hop_secs, batch);
        let mut frames: Vec<(u64, f64, Vec<f32>)> = Vec::new();
        let mut windows = Vec::new();
        tag_samples_with_frames(
            &mut runner,
            &bundle.input,
            &samples,
            settings,
            |_| {},
            |w| windows.push(w),
            |f| frames.push((f.index, f.time_secs, f.scores.to_vec())),
        )
        .unwrap();
        assert_eq!(frames.len(), 80, "hop {hop_secs:?}");
        for (k, (index, time, scores)) in frames.iter().enumerate() {
            assert_eq!(*index, k as u64);
            assert!((time - k as f64 * 0.05).abs() < 1e-9, "frame {k} at {time}");
            let diff = common::max_abs_diff(scores, &expected[k]);
            assert!(
                diff < 1e-4,
                "frame {k}, hop {hop_secs:?}: {scores:?} vs {:?}",
                expected[k]
            );
        }
        // The clip output (the primary one) is still there: each window's maximum frame.
        let first = &windows[0];
        assert_eq!((first.start_secs, first.end_secs), (0.0, 1.0));
        for class in 0..2 {
            let max = expected[..20].iter().map(|r| r[class]).fold(0.0, f32::max);
            assert!((first.scores[class] - max).abs() < 1e-4);
        }
    }
}

#[test]
fn streaming_detection_finds_the_clip_events() {
    let (bundle, mut runner) = open_tiny_sed();
    let samples = livetag::audio::load_mono(&sed_wav(), 8000).unwrap();
    let mut detector =
        EventDetector::new(bundle.labels.clone(), 20.0, &EventSettings::default()).unwrap();
    assert!(
        (detector.delay_secs() - 0.1).abs() < 1e-12,
        "5-frame median"
    );
    let settings = TagSettings::new(&bundle.input, None, 4);
    let decisions = detect_events(
        &mut runner,
        &bundle.input,
        &samples,
        settings,
        &mut detector,
        |_| {},
        |_| {},
    )
    .unwrap();
    let lines: Vec<String> = decisions.iter().map(Decision::to_string).collect();
    assert_eq!(
        lines,
        [
            "accepted low 0.500-2.000 s (peak 0.990)",
            "rejected high 2.600-2.750 s (peak 0.990): too short: 0.15 s < 0.20 s min",
            "accepted high 3.000-3.800 s (peak 0.990)",
        ]
    );
    // Without the median filter the 2-frame gap at 3.30-3.40 splits the last event, and
    // without hysteresis (off = on) the quiet tail of the first one (p 0.40) is cut off.
    let raw = EventSettings::new(ClassSettings {
        median_frames: 1,
        off: 0.5,
        ..ClassSettings::default()
    });
    let mut detector = EventDetector::new(bundle.labels.clone(), 20.0, &raw).unwrap();
    let decisions = detect_events(
        &mut runner,
        &bundle.input,
        &samples,
        settings,
        &mut detector,
        |_| {},
        |_| {},
    )
    .unwrap();
    let lines: Vec<String> = decisions.iter().map(Decision::to_string).collect();
    assert_eq!(
        lines,
        [
            "accepted low 0.500-1.500 s (peak 0.990)",
            "rejected high 2.600-2.750 s (peak 0.990): too short: 0.15 s < 0.20 s min",
            "accepted high 3.000-3.300 s (peak 0.990)",
            "accepted high 3.400-3.800 s (peak 0.990)",
        ]
    );
}

#[test]
fn tag_events_writes_each_format_and_logs_rejections() {
    let clip = sed_wav();
    let name = clip.display().to_string();
    let expected = [
        (
            "csv",
            format!(
                "file,onset,offset,label,peak\n{name},0.500,2.000,low,0.990\n{name},3.000,3.800,high,0.990\n"
            ),
        ),
        (
            "json",
            format!(
                "[\n  {{\"file\":\"{name}\",\"onset\":0.5,\"offset\":2.0,\"label\":\"low\",\"peak\":0.99}},\n  \
                 {{\"file\":\"{name}\",\"onset\":3.0,\"offset\":3.8,\"label\":\"high\",\"peak\":0.99}}\n]\n"
            ),
        ),
        (
            "audacity",
            "0.500000\t2.000000\tlow\n3.000000\t3.800000\thigh\n".to_string(),
        ),
        (
            "dcase",
            "filename\tonset\toffset\tevent_label\nsed.wav\t0.500\t2.000\tlow\nsed.wav\t3.000\t3.800\thigh\n"
                .to_string(),
        ),
    ];
    for (format, want) in expected {
        let (ok, stdout, stderr) = run(livetag()
            .args(["tag", "--events", "--events-format", format, "--model"])
            .arg(tiny_sed())
            .arg(&clip));
        assert!(ok, "{stderr}");
        assert_eq!(stdout, want, "{format}");
        assert!(
            stderr.contains(&format!(
                "{name}: rejected high 2.600-2.750 s (peak 0.990): too short: 0.15 s < 0.20 s min\n"
            )),
            "{stderr}"
        );
        assert!(
            stderr.contains("2 events, 1 candidates rejected"),
            "{stderr}"
        );
    }
}

#[test]
fn tag_events_options_change_the_decisions() {
    // --min-duration 0.1 accepts the 0.15 s burst; a --class override keeps "low" alone
    // at on 0.995, above its 0.990 peak, so low has no event.
    let (ok, stdout, stderr) = run(livetag()
        .args([
            "tag",
            "--events",
            "--min-duration",
            "0.1",
            "--class",
            "low:on=0.995,off=0.3",
            "--model",
        ])
        .arg(tiny_sed())
        .arg(sed_wav()));
    assert!(ok, "{stderr}");
    let rows: Vec<&str> = stdout
        .lines()
        .skip(1)
        .map(|l| l.split_once(',').unwrap().1)
        .collect();
    assert_eq!(rows, ["2.600,2.750,high,0.990", "3.000,3.800,high,0.990"]);
    assert!(
        stderr.contains("2 events, 0 candidates rejected"),
        "{stderr}"
    );
    // Merging across 0.5 s gaps joins the burst and the last event.
    let (ok, stdout, stderr) = run(livetag()
        .args(["tag", "--events", "--min-gap", "0.3", "--model"])
        .arg(tiny_sed())
        .arg(sed_wav()));
    assert!(ok, "{stderr}");
    assert!(stdout.ends_with(",2.600,3.800,high,0.990\n"), "{stdout}");
    assert!(
        stderr.contains("merged high across 2.750-3.000 s: gap 0.25 s < 0.30 s min gap"),
        "{stderr}"
    );
}

/// A bundle's `[events] median_frames` list is `tag --events`' default, class by class; an
/// explicit `--median-frames` overrides it for every class.
#[test]
fn tag_events_uses_the_bundles_per_class_median_lengths() {
    let (_tmp, bundle) = common::copy_bundle("tiny-sed");
    let spec = bundle.join("bundle.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    // Labels low, high: 9 frames (0.45 s) on high wipe out its 3-frame (0.15 s) burst.
    std::fs::write(&spec, format!("{text}\n[events]\nmedian_frames = [5, 9]\n")).unwrap();
    let events = |model: &Path, options: &[&str]| {
        let (ok, stdout, stderr) = run(livetag()
            .args(["tag", "--events"])
            .args(options)
            .arg("--model")
            .arg(model)
            .arg(sed_wav()));
        assert!(ok, "{stderr}");
        (stdout, stderr)
    };
    let (from_bundle, stderr) = events(&bundle, &[]);
    assert!(!stderr.contains("rejected high 2.600"), "{stderr}");
    let (by_hand, _) = events(&tiny_sed(), &["--class", "high:median=9"]);
    assert_eq!(from_bundle, by_hand);
    assert!(from_bundle.contains(",high,"), "{from_bundle}");

    // --median-frames 5 puts every class back on the default 5 frames.
    let (overridden, stderr) = events(&bundle, &["--median-frames", "5"]);
    let (plain, _) = events(&tiny_sed(), &[]);
    assert_eq!(overridden, plain);
    assert!(
        stderr.contains("rejected high 2.600-2.750 s (peak 0.990): too short"),
        "{stderr}"
    );
}

#[test]
fn events_need_a_framewise_output_and_valid_options() {
    let tone = repo().join("tests/models/tiny-tone");
    let (ok, stdout, stderr) = run(livetag()
        .args(["tag", "--events", "--model"])
        .arg(&tone)
        .arg(repo().join("tests/fixtures/tiny/tones.wav")));
    assert!(!ok);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("model tiny-tone")
            && stderr.contains("tiny-tone) has no framewise output")
            && stderr.contains("kind = \"framewise\"")
            && stderr.contains("Its outputs: `logits` (clip)"),
        "{stderr}"
    );
    let bad = [
        (
            vec!["--on", "0.3", "--off", "0.5"],
            "must not exceed the onset threshold",
        ),
        (vec!["--median-frames", "4"], "odd number of frames"),
        (vec!["--class", "dog:on=0.5"], "has no label `dog`"),
        (vec!["--class", "low:size=3"], "unknown key `size`"),
    ];
    for (flags, needle) in bad {
        let (ok, _, stderr) = run(livetag()
            .args(["tag", "--events"])
            .args(&flags)
            .arg("--model")
            .arg(tiny_sed())
            .arg(sed_wav()));
        assert!(!ok && stderr.contains(needle), "{flags:?}: {stderr}");
    }
    let (ok, _, stderr) = run(livetag()
        .args(["tag", "--on", "0.4", "--model"])
        .arg(tiny_sed())
        .arg(sed_wav()));
    assert!(
        !ok && stderr.contains("only apply with --events"),
        "{stderr}"
    );
    let (ok, _, stderr) = run(livetag()
        .args(["tag", "--events", "--events-format", "audacity", "--model"])
        .arg(tiny_sed())
        .arg(sed_wav())
        .arg(sed_wav()));
    assert!(!ok && stderr.contains("one file"), "{stderr}");
}

fn write_sine(path: &Path, freq: f64) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    for n in 0..8000 {
        let t = n as f64 / 8000.0;
        writer
            .write_sample((0.5 * (2.0 * std::f64::consts::PI * freq * t).sin()) as f32)
            .unwrap();
    }
    writer.finalize().unwrap();
}

fn eval_json(list: &Path, model: &Path) -> serde_json::Value {
    let (ok, stdout, stderr) = run(livetag()
        .args(["eval", "--json", "--model"])
        .arg(model)
        .arg(list));
    assert!(ok, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

/// tiny-tone on 1 s sines (0.5 amplitude): 300 Hz scores low > mid > high, 1500 Hz mid
/// first, 3200 Hz high first (`livetag_tools.fixtures.tiny_models` prints the scores).
/// List: low.wav low (rank 1), mid.wav mid (1), high.wav high (1), low2.wav labelled mid
/// (rank 2). Accuracy 3/4; MAP@3 (1 + 1 + 1 + 1/2) / 4 = 0.875; class-wise accuracy low
/// 1/1, mid 1/2, high 1/1: macro (1 + 0.5 + 1) / 3 = 0.8333.
#[test]
fn eval_tagging_list_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("clips")).unwrap();
    for (name, freq) in [
        ("low", 300.0),
        ("mid", 1500.0),
        ("high", 3200.0),
        ("low2", 300.0),
    ] {
        write_sine(&tmp.path().join(format!("clips/{name}.wav")), freq);
    }
    let list = tmp.path().join("list.csv");
    std::fs::write(
        &list,
        "file,label\nclips/low.wav,low\nclips/mid.wav,mid\nclips/high.wav,high\nclips/low2.wav,mid\n",
    )
    .unwrap();
    let tone = repo().join("tests/models/tiny-tone");
    let report = eval_json(&list, &tone);
    assert_eq!(report["kind"], "tagging");
    assert_eq!(report["clips"], 4);
    assert_eq!(report["correct"], 3);
    assert_eq!(report["accuracy"], 0.75);
    assert_eq!(report["map_at_3"], 0.875);
    assert_eq!(report["macro_accuracy"], 0.8333);
    let classes: Vec<(String, u64, u64)> = report["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["label"].as_str().unwrap().to_string(),
                c["clips"].as_u64().unwrap(),
                c["correct"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        classes,
        [
            ("low".to_string(), 1, 1),
            ("mid".to_string(), 2, 1),
            ("high".to_string(), 1, 1)
        ]
    );
    let (ok, stdout, stderr) = run(livetag().args(["eval", "--model"]).arg(&tone).arg(&list));
    assert!(ok, "{stderr}");
    for line in [
        "accuracy        0.7500  (3 of 4)",
        "MAP@3           0.8750",
        "macro accuracy  0.8333  (mean over 3 classes)",
        "  mid   0.5000  (1 of 2)",
    ] {
        assert!(stdout.contains(line), "{line:?} in\n{stdout}");
    }

    std::fs::write(&list, "file,label\nclips/low.wav,low\nclips/mid.wav,Mid\n").unwrap();
    let (ok, _, stderr) = run(livetag().args(["eval", "--model"]).arg(&tone).arg(&list));
    assert!(!ok);
    assert!(
        stderr.contains("list.csv: line 3: label `Mid` is not one of model tiny-tone's 3 labels (did you mean mid?)"),
        "{stderr}"
    );
}

/// tiny-sed detects low 0.50-2.00 and high 3.00-3.80 in every copy of sed.wav.
///   a.wav low 0.3-2.0    onset off by exactly 0.200 s: inside the collar, match
///   a.wav high 3.0-3.5   offset off by 0.3 > max(0.2, 0.2 * 0.5): no match
///   b.wav low 0.29-2.0   onset off by 0.21: no match
///   b.wav high 3.0-3.8   match
///   c.wav low 0.5-2.3    offset off by 0.3 <= max(0.2, 0.2 * 1.8 = 0.36): match
/// 5 reference events, 6 detected, 3 matched: P 1/2, R 3/5, F1 6/11 = 0.5455.
/// low: 2 of 3 both ways, F1 2/3; high: 1 matched, 2 reference, 3 detected: P 1/3,
/// R 1/2, F1 0.4; macro (2/3 + 0.4) / 2 = 0.5333. (sed_eval 0.2.1 gives the same.)
#[test]
fn eval_event_list_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["a.wav", "b.wav", "c.wav"] {
        std::fs::copy(sed_wav(), tmp.path().join(name)).unwrap();
    }
    let list = tmp.path().join("ref.csv");
    std::fs::write(
        &list,
        "file,onset,offset,event_label\n\
         a.wav,0.3,2.0,low\n\
         a.wav,3.0,3.5,high\n\
         b.wav,0.29,2.0,low\n\
         b.wav,3.0,3.8,high\n\
         c.wav,0.5,2.3,low\n",
    )
    .unwrap();
    let report = eval_json(&list, &tiny_sed());
    assert_eq!(report["kind"], "events");
    assert_eq!(report["files"], 3);
    assert_eq!(
        report["micro"],
        serde_json::json!({"reference": 5, "detected": 6, "matched": 3,
                           "precision": 0.5, "recall": 0.6, "f1": 0.5455})
    );
    assert_eq!(report["macro_f1"], 0.5333);
    assert_eq!(report["classes"][0]["label"], "low");
    assert_eq!(report["classes"][0]["f1"], 0.6667);
    assert_eq!(report["classes"][1]["label"], "high");
    assert_eq!(report["classes"][1]["f1"], 0.4);

    // --verbose shows every decision; the text report states the collars.
    let (ok, stdout, stderr) = run(livetag()
        .args(["eval", "--verbose", "--model"])
        .arg(tiny_sed())
        .arg(&list));
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("b.wav: rejected high 2.600-2.750 s (peak 0.990): too short"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("accepted").count(), 6, "{stderr}");
    assert!(
        stdout.contains(
            "onset collar 0.200 s, offset collar max(0.200 s, 20% of the reference length)"
        ) && stdout.contains("micro F1  0.5455  precision 0.5000  recall 0.6000  (3 matched)"),
        "{stdout}"
    );

    // An event list needs a framewise model.
    let (ok, _, stderr) = run(livetag()
        .args(["eval", "--model"])
        .arg(repo().join("tests/models/tiny-tone"))
        .arg(&list));
    assert!(
        !ok && stderr.contains("no framewise output, which an event list needs"),
        "{stderr}"
    );
}
