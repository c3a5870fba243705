//! Hostile surroundings and privacy: livetag writes nothing outside what it was asked to
//! write (no ONNX Runtime telemetry, no leftover temporary files), and loads code only from
//! where the user put it. Needs the ONNX Runtime library that `tools/setup.sh` installs.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{livetag, repo};

fn tiny_tone() -> PathBuf {
    repo().join("tests/models/tiny-tone")
}

fn clip() -> PathBuf {
    repo().join("tests/fixtures/tiny/tones.wav")
}

/// The library livetag finds with this test's own environment (`ORT_DYLIB_PATH`, or the
/// cache under the real HOME), resolved to its file.
fn real_library() -> PathBuf {
    livetag::inference::runtime::find_library(None)
        .unwrap_or_else(|e| panic!("these tests need ONNX Runtime: {e}"))
        .path
}

/// livetag with nothing from this environment but what is given: no HOME, no XDG or
/// livetag variables, and none of the variables that make ONNX Runtime keep quiet on its
/// own (`ORT_DISABLE_TELEMETRY`, `CI`, `GITHUB_ACTIONS`, ...), so a quiet run is livetag's
/// doing.
fn bare_livetag(vars: &[(&str, &Path)]) -> Command {
    let mut cmd = livetag();
    cmd.env_clear();
    for (name, value) in vars {
        cmd.env(name, value);
    }
    cmd
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Every file and folder under `dir`, at any depth.
fn everything_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && !path.is_symlink() {
            found.extend(everything_under(&path));
        }
        found.push(path);
    }
    found
}

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// ONNX Runtime 1.31's telemetry, left on, writes `~/.cache/Microsoft/DeveloperTools/
/// .onnxruntime/{deviceid,onnxruntime.db}` and `$TMPDIR/.ses` on every run.
#[test]
fn tagging_writes_nothing_under_home_or_the_temp_folder() {
    let (home, tmp) = (scratch(), scratch());
    let output = bare_livetag(&[
        ("HOME", home.path()),
        ("TMPDIR", tmp.path()),
        ("ORT_DYLIB_PATH", &real_library()),
    ])
    .args(["tag", "--model"])
    .arg(tiny_tone())
    .arg(clip())
    .output()
    .expect("run livetag");
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "livetag failed: {stderr}");
    assert_eq!(stdout.lines().count(), 7, "{stdout}");
    assert_eq!(everything_under(home.path()), Vec::<PathBuf>::new(), "HOME");
    assert_eq!(
        everything_under(tmp.path()),
        Vec::<PathBuf>::new(),
        "TMPDIR"
    );
}

/// `inspect` profiles one window through ONNX Runtime; the profile's folder goes when it is
/// done, and nothing else is left.
#[test]
fn inspect_leaves_the_temp_folder_empty() {
    let (home, tmp) = (scratch(), scratch());
    let output = bare_livetag(&[("HOME", home.path()), ("TMPDIR", tmp.path())])
        .arg("--ort-lib")
        .arg(real_library())
        .arg("inspect")
        .arg(tiny_tone())
        .output()
        .expect("run livetag");
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "livetag failed: {stderr}");
    // The profile was really written and read: the card has its node counts.
    assert!(
        stdout.contains("ExecutionProvider") && !stdout.contains("not measured"),
        "{stdout}"
    );
    assert_eq!(
        everything_under(tmp.path()),
        Vec::<PathBuf>::new(),
        "TMPDIR"
    );
    assert_eq!(everything_under(home.path()), Vec::<PathBuf>::new(), "HOME");
}

/// Without HOME, livetag's data cache falls back to `$TMPDIR/livetag`, which anyone can
/// create; a library planted there must never be loaded.
#[test]
fn without_home_a_library_planted_in_the_temp_folder_is_not_loaded() {
    let tmp = scratch();
    let planted_dir = tmp.path().join("livetag/onnxruntime-1.31.1");
    std::fs::create_dir_all(&planted_dir).unwrap();
    for name in ["libonnxruntime.so.1.31.1", "libonnxruntime.so"] {
        std::fs::write(planted_dir.join(name), b"planted, not a library").unwrap();
    }
    let output = bare_livetag(&[("TMPDIR", tmp.path())])
        .args(["tag", "--model"])
        .arg(tiny_tone())
        .arg(clip())
        .output()
        .expect("run livetag");
    let (_, stderr) = text(&output);
    assert!(!output.status.success(), "livetag ran: {stderr}");
    assert!(stderr.contains("library was not found"), "{stderr}");
    assert!(stderr.contains("set HOME or pass --ort-lib"), "{stderr}");
    // Never looked there, let alone tried to load it.
    assert!(
        !stderr.contains(&tmp.path().display().to_string()),
        "{stderr}"
    );
}

/// A copy of the real library that anyone could have replaced is refused, whether the file
/// or its folder is world-writable; the same copy loads once the permissions are fixed.
#[cfg(unix)]
#[test]
fn a_world_writable_library_or_folder_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let set_mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    let dir = scratch();
    let copy = dir.path().join("libonnxruntime.so.1.31.1");
    std::fs::copy(real_library(), &copy).unwrap();
    let tag_with = |library: &Path| {
        let output = livetag()
            .arg("--ort-lib")
            .arg(library)
            .args(["tag", "--model"])
            .arg(tiny_tone())
            .arg(clip())
            .output()
            .expect("run livetag");
        let (_, stderr) = text(&output);
        (output.status.success(), stderr)
    };

    set_mode(dir.path(), 0o700);
    set_mode(&copy, 0o666);
    let (ok, stderr) = tag_with(&copy);
    assert!(!ok, "loaded a world-writable library: {stderr}");
    assert!(
        stderr.contains("refusing to load ONNX Runtime")
            && stderr.contains(&format!("the library {}", copy.display()))
            && stderr.contains("writable by every user"),
        "{stderr}"
    );

    set_mode(&copy, 0o644);
    set_mode(dir.path(), 0o777);
    let (ok, stderr) = tag_with(&copy);
    set_mode(dir.path(), 0o700);
    assert!(!ok, "loaded from a world-writable folder: {stderr}");
    assert!(
        stderr.contains(&format!("its folder {}", dir.path().display()))
            && stderr.contains("writable by every user"),
        "{stderr}"
    );

    let (ok, stderr) = tag_with(&copy);
    assert!(ok, "the private copy should load: {stderr}");
}

/// A library named by `--ort-lib` or `ORT_DYLIB_PATH` that is not there is an error naming
/// it, even though the cache holds a good library that would otherwise be found.
#[test]
fn a_missing_library_path_is_an_error_not_a_fallback() {
    real_library();
    let missing = "/nonexistent/libonnxruntime.so";
    let by_flag = livetag()
        .env_remove("ORT_DYLIB_PATH")
        .args(["--ort-lib", missing, "tag", "--model"])
        .arg(tiny_tone())
        .arg(clip())
        .output()
        .expect("run livetag");
    let by_var = livetag()
        .env("ORT_DYLIB_PATH", missing)
        .args(["tag", "--model"])
        .arg(tiny_tone())
        .arg(clip())
        .output()
        .expect("run livetag");
    for (output, given_by) in [(by_flag, "--ort-lib"), (by_var, "ORT_DYLIB_PATH")] {
        let (stdout, stderr) = text(&output);
        assert!(!output.status.success(), "{given_by}: ran anyway: {stdout}");
        assert!(
            stderr.contains(missing)
                && stderr.contains(&format!("given by {given_by}"))
                && stderr.contains("No such file"),
            "{stderr}"
        );
    }
}
