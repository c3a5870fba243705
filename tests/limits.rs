//! Hostile input (issue 14): options out of range are refused as they are read, with the
//! bound and why; files that are not regular files are refused before they are opened;
//! eval rows with a field too many or too few name their line; bad sample values are bad
//! audio. Uses the tiny test models; the tests that run a model need the ONNX Runtime
//! library that `tools/setup.sh` installs.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{livetag, repo};

fn tiny_tone() -> PathBuf {
    repo().join("tests/models/tiny-tone")
}

fn tiny_sed() -> PathBuf {
    repo().join("tests/models/tiny-sed")
}

fn tones_wav() -> PathBuf {
    repo().join("tests/fixtures/tiny/tones.wav")
}

/// Runs livetag to the end: (exit code, stdout, stderr).
fn run(cmd: &mut Command) -> (Option<i32>, String, String) {
    let out = cmd.output().expect("run livetag");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `livetag tag --model tiny-tone FLAGS tones.wav` must fail as clap reads the option: exit
/// code 2, every needle in the error, no panic, nothing on stdout.
fn refused(model: &Path, flags: &[&str], needles: &[&str]) {
    let (code, stdout, stderr) = run(livetag()
        .arg("tag")
        .args(flags)
        .arg("--model")
        .arg(model)
        .arg(tones_wav()));
    assert_eq!(code, Some(2), "{flags:?}: {stderr}");
    assert!(stdout.is_empty(), "{flags:?}: {stdout}");
    assert!(!stderr.contains("panicked"), "{flags:?}: {stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{flags:?}: no {needle:?} in {stderr}"
        );
    }
}

#[test]
fn top_k_batch_and_hop_limits_state_their_bound() {
    let tone = tiny_tone();
    refused(&tone, &["--top-k", "0"], &["--top-k", "at least 1"]);
    refused(
        &tone,
        &["--top-k", "1001"],
        &["--top-k", "1001 exceeds 1000", "--all-scores"],
    );
    refused(
        &tone,
        &["--top-k", "99999999999999999999999999"],
        &["exceeds 1000"],
    );
    refused(&tone, &["--batch", "0"], &["--batch", "at least 1"]);
    refused(
        &tone,
        &["--batch", "100000"],
        &["--batch", "100000 exceeds 1024", "memory"],
    );
    refused(&tone, &["--hop-secs", "0"], &["--hop-secs", "more than 0"]);
    refused(&tone, &["--hop-secs=-1"], &["--hop-secs", "more than 0"]);
    refused(
        &tone,
        &["--hop-secs", "NaN"],
        &["--hop-secs", "more than 0"],
    );
    refused(
        &tone,
        &["--hop-secs", "601"],
        &["--hop-secs", "exceeds 600 s", "10 minutes"],
    );
    refused(&tone, &["--hop-secs", "inf"], &["exceeds 600 s"]);
}

#[test]
fn threads_1000_is_refused_quickly() {
    let started = Instant::now();
    refused(
        &tiny_tone(),
        &["--threads", "1000"],
        &["--threads", "1000 exceeds"],
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    refused(&tiny_tone(), &["--threads", "0"], &["at least 1"]);
}

#[test]
fn event_option_limits_state_their_bound() {
    let sed = tiny_sed();
    fn events<'a>(flags: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec!["--events"];
        all.extend_from_slice(flags);
        all
    }
    let started = Instant::now();
    refused(
        &sed,
        &events(&["--median-frames", "100000001"]),
        &[
            "--median-frames",
            "100000001 exceeds 1001 (10 s of frames at 100 Hz",
        ],
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    refused(
        &sed,
        &events(&["--median-frames", "4"]),
        &["odd number of frames"],
    );
    refused(&sed, &events(&["--median-frames", "0"]), &["at least 1"]);
    for flag in ["--on", "--off"] {
        refused(
            &sed,
            &events(&[flag, "1.5"]),
            &[flag, "not between 0 and 1"],
        );
        refused(
            &sed,
            &events(&[&format!("{flag}=-0.1")]),
            &[flag, "not between 0 and 1"],
        );
    }
    for flag in ["--min-duration", "--min-gap"] {
        refused(
            &sed,
            &events(&[&format!("{flag}=-1")]),
            &[flag, "0 or more seconds"],
        );
        refused(
            &sed,
            &events(&[flag, "1e9"]),
            &[flag, "exceeds 3600 s", "longer than any event"],
        );
    }
}

/// `--class` overrides are held to the same bounds once the labels are known.
#[test]
fn class_overrides_are_held_to_the_same_bounds() {
    for (class, needle) in [
        ("low:on=2", "--class low: on: 2 is not between 0 and 1"),
        ("low:gap=99999", "--class low: gap: 99999: exceeds 3600 s"),
        ("low:median=100000001", "at most 1001 frames"),
    ] {
        let (code, _, stderr) = run(livetag()
            .args(["tag", "--events", "--class", class, "--model"])
            .arg(tiny_sed())
            .arg(tones_wav()));
        assert_eq!(code, Some(1), "{class}: {stderr}");
        assert!(stderr.contains(needle), "{class}: {stderr}");
        assert_eq!(stderr.matches("error").count(), 1, "printed once: {stderr}");
    }
}

#[test]
fn listen_window_and_duration_limits() {
    for (flags, needles) in [
        (
            vec!["--window-secs", "0"],
            vec!["--window-secs", "more than 0"],
        ),
        (
            vec!["--window-secs", "1e9"],
            vec!["--window-secs", "exceeds 600 s"],
        ),
        (
            vec!["--hop-secs", "1e9"],
            vec!["--hop-secs", "exceeds 600 s"],
        ),
        (
            vec!["--duration", "1e20"],
            vec!["--duration", "1e20 exceeds 366 days"],
        ),
        (
            vec!["--duration", "1e20ms"],
            vec!["--duration", "exceeds 366 days"],
        ),
        (vec!["--duration", "inf"], vec!["exceeds 366 days"]),
        (vec!["--duration", "0s"], vec!["longer than 0"]),
        (
            vec!["--duration", "1e-12s"],
            vec!["shorter than a nanosecond"],
        ),
    ] {
        let (code, stdout, stderr) = run(livetag()
            .args(["listen", "--headless", "--model"])
            .arg(tiny_tone())
            .args(&flags));
        assert_eq!(code, Some(2), "{flags:?}: {stderr}");
        assert!(stdout.is_empty());
        assert!(!stderr.contains("panicked"), "{flags:?}: {stderr}");
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "{flags:?}: no {needle:?} in {stderr}"
            );
        }
    }
}

/// A run shorter than one window could never print a record: refused before the audio
/// device is opened, with the window it would need.
#[test]
fn listen_duration_shorter_than_a_window_is_refused_up_front() {
    let (code, stdout, stderr) = run(livetag()
        .args(["listen", "--headless", "--duration", "1ms", "--model"])
        .arg(tiny_tone()));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("--duration 0.001 s is shorter than tiny-tone's")
            && stderr.contains("window, so no window could be scored"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one error line: {stderr}");
}

/// Waits for `child` for up to `limit`; kills it and fails when it is still running.
fn wait_or_kill(mut child: std::process::Child, limit: Duration, what: &str) -> (i32, String) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            let mut stderr = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .expect("piped stderr")
                .read_to_string(&mut stderr)
                .unwrap();
            return (status.code().unwrap_or(-1), stderr);
        }
        if started.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            panic!("{what} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
fn a_named_pipe_given_as_audio_is_refused_without_waiting() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("nobody-writes.wav");
    mkfifo(&fifo);
    let child = livetag()
        .args(["tag", "--model"])
        .arg(tiny_tone())
        .arg(&fifo)
        .arg(tones_wav())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn livetag");
    let (code, stderr) = wait_or_kill(child, Duration::from_secs(30), "livetag tag FIFO");
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: cannot open audio file {}: not a regular file (a named pipe)",
            fifo.display()
        )),
        "{stderr}"
    );
    // The other file is still tagged.
    assert!(stderr.contains("1 of 2 files"), "{stderr}");

    // The library refuses it too, before opening it.
    let err = livetag::audio::decode_file(&fifo).unwrap_err();
    assert!(
        matches!(
            err,
            livetag::audio::AudioError::NotRegularFile {
                kind: "a named pipe",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_named_pipe_given_as_an_eval_list_is_refused_without_waiting() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("list.csv");
    mkfifo(&fifo);
    let child = livetag()
        .args(["eval", "--model"])
        .arg(tiny_tone())
        .arg(&fifo)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn livetag");
    let (code, stderr) = wait_or_kill(child, Duration::from_secs(30), "livetag eval FIFO");
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}: not a regular file (a named pipe)",
            fifo.display()
        )),
        "{stderr}"
    );
}

#[test]
fn eval_rows_with_a_field_too_many_or_too_few_name_their_line() {
    let tmp = tempfile::tempdir().unwrap();
    let list = tmp.path().join("list.csv");
    for (text, needle) in [
        (
            "file,label\nclip.wav,low\nclip2.wav,mid,oops\n",
            "list.csv: line 3: has 3 fields, the header has 2 (extra: `oops`)",
        ),
        (
            "file,onset,offset,event_label\nclip.wav,0.5,1.0,low,0.9\n",
            "list.csv: line 2: has 5 fields, the header has 4 (extra: `0.9`)",
        ),
        (
            "file,onset,offset,event_label\nclip.wav,0.5,1.0\n",
            "list.csv: line 2: has 3 fields, the header has 4 (missing: `event_label`)",
        ),
    ] {
        std::fs::write(&list, text).unwrap();
        let (code, stdout, stderr) = run(livetag()
            .args(["eval", "--model"])
            .arg(tiny_sed())
            .arg(&list));
        assert_eq!(code, Some(1), "{text:?}: {stderr}");
        assert!(stdout.is_empty());
        assert!(stderr.contains(needle), "{text:?}: {stderr}");
    }
}

/// A 32-bit float WAV at 8 kHz: 0.1 s of a quiet tone with `bad` at sample 400 (0.05 s).
fn wav_with(path: &Path, bad: f32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    for n in 0..800 {
        let sample = if n == 400 {
            bad
        } else {
            0.25 * (n as f32 * 0.3).sin()
        };
        writer.write_sample(sample).unwrap();
    }
    writer.finalize().unwrap();
}

#[test]
fn nan_or_absurd_samples_are_bad_audio_naming_the_file_and_time() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, bad, needle) in [
        (
            "nan.wav",
            f32::NAN,
            "1 non-finite (NaN or infinite) samples, the first at 0.050 s",
        ),
        (
            "inf.wav",
            f32::NEG_INFINITY,
            "1 non-finite (NaN or infinite) samples, the first at 0.050 s",
        ),
        (
            "huge.wav",
            1e30,
            "1 samples beyond ±1000 (full scale is 1), the first at 0.050 s (1e30)",
        ),
    ] {
        let path = tmp.path().join(name);
        wav_with(&path, bad);
        let (code, stdout, stderr) = run(livetag()
            .args(["tag", "--model"])
            .arg(tiny_tone())
            .arg(&path));
        assert_eq!(code, Some(1), "{name}: {stderr}");
        assert!(stdout.is_empty(), "{name}: {stdout}");
        assert!(
            stderr.contains(&format!("error: bad audio in {}: {needle}", path.display())),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains("inference failed"), "{name}: {stderr}");
    }
    // Loud but plausible float audio (+20 dB over full scale) still decodes.
    let path = tmp.path().join("loud.wav");
    wav_with(&path, 10.0);
    let audio = livetag::audio::decode_file(&path).expect("loud float audio decodes");
    assert_eq!(audio.samples[400], 10.0);
}

/// An error whose cause is an OS error says it once, not twice, and does say it: the
/// error's own message leaves it out, the chain printed adds it.
#[test]
fn the_os_error_is_printed_once() {
    for command in [
        ["eval", "/nonexistent/list.csv"],
        ["tag", "/nonexistent/a.wav"],
    ] {
        let out = common::livetag()
            .args(command)
            .arg("--model")
            .arg(common::repo().join("tests/models/tiny-tone"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert_eq!(
            stderr.matches("No such file or directory").count(),
            1,
            "{command:?}: {stderr}"
        );
    }
}

/// A file the decoder library panics on (found by tests/fuzz.rs) is a corrupt file, said
/// once, with no "panicked" line that would read as livetag crashing.
#[test]
fn a_decoder_panic_is_a_quiet_corrupt_file_error() {
    let out = common::livetag()
        .arg("tag")
        .arg(common::repo().join("tests/fuzz_corpus/audio/regression-riff-chunk-panic.wav"))
        .arg("--model")
        .arg(common::repo().join("tests/models/tiny-tone"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("corrupt audio file")
            && stderr.contains("the decoder failed on malformed data"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
