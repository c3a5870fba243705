//! The speech track live: silero VAD beside musicnn (the music tagger) (`listen --speech`), and alone, on
//! demo-mode files played at real-time speed (`--mute`: no sound card needed).

mod common;

use common::{livetag, repo};

/// Headless live records of `args`, as JSON.
fn listen(args: &[&str], file: &std::path::Path, seconds: u32) -> Vec<serde_json::Value> {
    let out = livetag()
        .args(["listen", "--headless", "--mute", "--duration"])
        .arg(format!("{seconds}s"))
        .arg("--file")
        .arg(file)
        .args(args)
        .env("LIVETAG_MODEL_PATH", repo().join("models"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn speech_of(records: &[serde_json::Value]) -> Vec<f64> {
    records
        .iter()
        .map(|r| {
            r["speech"]
                .as_f64()
                .expect("every record has a speech field")
        })
        .collect()
}

#[test]
fn the_speech_track_runs_beside_the_tagger() {
    let speech_clip = repo().join("tests/fixtures/silero/speech.wav");
    let records = listen(&["--speech", "--model", "musicnn-mtt"], &speech_clip, 5);
    assert!(records.len() >= 10, "{} records", records.len());
    let speech = speech_of(&records);
    let high = speech.iter().filter(|&&p| p > 0.5).count();
    assert!(high * 10 >= speech.len() * 9, "speech: {speech:?}");
    // The tagger's records are unchanged by the track beside it.
    assert!(records
        .iter()
        .all(|r| r["top"].as_array().unwrap().len() == 5));

    let whistle = listen(
        &["--speech", "--model", "musicnn-mtt"],
        &repo().join("assets/whistle.wav"),
        5,
    );
    let speech = speech_of(&whistle);
    assert!(speech.iter().all(|&p| p < 0.2), "whistle: {speech:?}");
    assert!(whistle.iter().all(|r| r["top"][0]["label"] == "flute"));
}

#[test]
fn silero_runs_live_on_its_own_every_32_ms() {
    let speech_clip = repo().join("tests/fixtures/silero/speech.wav");
    let records = listen(&["--model", "silero-vad"], &speech_clip, 3);
    // ~31 windows a second once the first 32 ms have arrived.
    assert!(records.len() >= 60, "{} records", records.len());
    for pair in records.windows(2) {
        let step = pair[1]["end_secs"].as_f64().unwrap() - pair[0]["end_secs"].as_f64().unwrap();
        assert!((step - 0.032).abs() < 0.0015, "step {step}");
    }
    let speech: Vec<f64> = records
        .iter()
        .map(|r| {
            assert_eq!(r["top"][0]["label"], "speech");
            r["top"][0]["score"].as_f64().unwrap()
        })
        .collect();
    let mean = speech.iter().sum::<f64>() / speech.len() as f64;
    assert!(mean > 0.7, "mean speech probability {mean}");
}

#[test]
fn a_speech_model_must_have_one_class() {
    let out = livetag()
        .args([
            "listen",
            "--headless",
            "--mute",
            "--duration",
            "1s",
            "--speech",
            "musicnn-mtt",
        ])
        .arg("--file")
        .arg(repo().join("assets/whistle.wav"))
        .env("LIVETAG_MODEL_PATH", repo().join("models"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a speech track needs a one-class model; musicnn-mtt has 50 classes"),
        "{stderr}"
    );
}
