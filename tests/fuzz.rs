//! Mutation fuzzing of livetag's readers of untrusted input: `bundle.toml`, the ONNX
//! protobuf reader, labels files, eval lists and the audio decoders (through
//! `audio::load_mono`, livetag's own entry point). Each target starts from the seed corpus
//! in `tests/fuzz_corpus/<target>/` and mutates it (bit flips, byte runs, interesting
//! values, insertions, deletions, truncation, splices between seeds) for a time budget.
//!
//! A target fails on a panic, on an input that takes longer than [`HANG_SECS`], and on a
//! single allocation over [`MAX_ALLOCATION_BYTES`] (the process aborts, so CI fails); the
//! input is saved under `target/fuzz-failures/` to reproduce. cargo-fuzz needs a nightly
//! compiler and libFuzzer, which these machines cannot fetch, hence this harness.
//!
//! Budget: `LIVETAG_FUZZ_SECS` seconds per target. Plain `cargo test` runs each target for
//! only 2 s and SAYS SO; CI (tools/test.sh) sets 60. `LIVETAG_FUZZ_SEED` picks the mutation
//! sequence (default fixed, so a failure reproduces).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::repo;

/// One input must finish within this; anything slower counts as a hang.
const HANG_SECS: u64 = 10;
/// No reader of a small input should ask for this much at once.
const MAX_ALLOCATION_BYTES: usize = 1 << 30;
const DEFAULT_SECS: u64 = 2;

/// Refuses (by aborting, loudly) any single allocation over [`MAX_ALLOCATION_BYTES`]:
/// a length field read from a hostile file must never become an allocation.
struct CappedAllocator;

unsafe impl GlobalAlloc for CappedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION_BYTES {
            too_big(layout.size());
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION_BYTES {
            too_big(layout.size());
        }
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > MAX_ALLOCATION_BYTES {
            too_big(new_size);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn too_big(bytes: usize) -> ! {
    // No allocation here: write the message straight to stderr, then abort.
    use std::io::Write;
    let mut stderr = std::io::stderr();
    let _ = writeln!(
        stderr,
        "fuzz: an input asked for one allocation of {bytes} bytes (cap {MAX_ALLOCATION_BYTES}); \
         the input being run is in target/fuzz-failures/last-<target>.bin"
    );
    std::process::abort();
}

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator;

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: [u8; 10] = [0, 1, 0x7f, 0x80, 0xff, b'"', b'\n', b'=', b'[', b','];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], input: &mut Vec<u8>) {
    for _ in 0..=rng.below(4) {
        let len = input.len();
        match rng.below(8) {
            0 if len > 0 => {
                let at = rng.below(len);
                input[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                input[at] = rng.next() as u8;
            }
            2 if len > 0 => {
                let at = rng.below(len);
                input[at] = INTERESTING[rng.below(INTERESTING.len())];
            }
            3 if len > 0 => {
                // A run of 0xff or 0x00: lengths and counts blown up or zeroed.
                let at = rng.below(len);
                let run = (1 + rng.below(8)).min(len - at);
                let byte = if rng.below(2) == 0 { 0xff } else { 0 };
                input[at..at + run].fill(byte);
            }
            4 => {
                let at = rng.below(len + 1);
                let run = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..run).map(|_| rng.next() as u8).collect();
                input.splice(at..at, bytes);
            }
            5 if len > 0 => {
                let at = rng.below(len);
                let run = (1 + rng.below(64)).min(len - at);
                input.drain(at..at + run);
            }
            6 => input.truncate(rng.below(len + 1)),
            _ => {
                // Splice: a piece of another seed over a piece of this one.
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() {
                    let from = rng.below(other.len());
                    let run = (1 + rng.below(256)).min(other.len() - from);
                    let at = rng.below(len + 1);
                    let end = (at + run).min(len);
                    input.splice(at..end, other[from..from + run].iter().copied());
                }
            }
        }
    }
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = repo().join("tests/fuzz_corpus").join(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let seeds: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

fn failure_dir() -> PathBuf {
    let dir = repo().join("target/fuzz-failures");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `run` on the seeds, then on mutations of them, for the budget. `run` gets the input
/// and a private scratch folder; whatever it returns (errors included) is fine, as long as
/// it returns, in time, without panicking.
fn fuzz(target: &'static str, run: fn(&[u8], &Path)) {
    let secs: u64 = match std::env::var("LIVETAG_FUZZ_SECS") {
        Ok(value) => value.parse().expect("LIVETAG_FUZZ_SECS is whole seconds"),
        Err(_) => {
            eprintln!(
                "fuzz {target}: only {DEFAULT_SECS} s (LIVETAG_FUZZ_SECS unset; CI runs 60 s per target)"
            );
            DEFAULT_SECS
        }
    };
    let seed: u64 = std::env::var("LIVETAG_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x005e_ed1a_b7a9);
    let corpus = seeds(target);
    let last_input = failure_dir().join(format!("last-{target}.bin"));

    // One worker runs the inputs, so a hang is caught by a timeout here.
    let (to_worker, inputs) = mpsc::channel::<Vec<u8>>();
    let (to_main, done) = mpsc::channel::<Result<(), String>>();
    let worker = std::thread::Builder::new()
        .name(format!("fuzz-{target}"))
        .spawn(move || {
            let scratch = tempfile::tempdir().unwrap();
            for input in inputs {
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run(&input, scratch.path())
                }));
                let report = outcome.map_err(|payload| {
                    payload
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "panic".to_string())
                });
                if to_main.send(report).is_err() {
                    return;
                }
            }
        })
        .unwrap();

    let mut rng = Rng(seed | 1);
    let started = Instant::now();
    let mut executions = 0u64;
    let mut queue: std::collections::VecDeque<Vec<u8>> = corpus.iter().cloned().collect();
    while !queue.is_empty() || started.elapsed() < Duration::from_secs(secs) {
        let input = queue.pop_front().unwrap_or_else(|| {
            let mut input = corpus[rng.below(corpus.len())].clone();
            mutate(&mut rng, &corpus, &mut input);
            input
        });
        // Saved before running: an abort (allocation cap) leaves it for the next person.
        std::fs::write(&last_input, &input).unwrap();
        to_worker.send(input.clone()).unwrap();
        let fail = |why: String| -> ! {
            let saved = failure_dir().join(format!("{target}-{executions}.bin"));
            std::fs::write(&saved, &input).unwrap();
            panic!(
                "fuzz {target}: {why} on execution {executions} (seed {seed}); input saved to {}",
                saved.display()
            )
        };
        match done.recv_timeout(Duration::from_secs(HANG_SECS)) {
            Ok(Ok(())) => {}
            Ok(Err(message)) => fail(format!("panic: {message}")),
            Err(_) => fail(format!("no answer within {HANG_SECS} s")),
        }
        executions += 1;
    }
    // Closing the channel ends the worker, which removes its scratch folder.
    drop(to_worker);
    worker.join().unwrap();
    let _ = std::fs::remove_file(&last_input);
    println!(
        "fuzz {target}: {executions} executions in {:.1} s ({} seeds)",
        started.elapsed().as_secs_f64(),
        corpus.len()
    );
}

/// A copy of the tiny-tone bundle in `scratch`, ready to have one file replaced.
fn scratch_bundle(scratch: &Path) -> PathBuf {
    let bundle = scratch.join("bundle");
    if !bundle.join("model.onnx").is_file() {
        std::fs::create_dir_all(bundle.join("reference")).unwrap();
        let source = repo().join("tests/models/tiny-tone");
        for file in ["bundle.toml", "model.onnx", "labels.txt", "LICENSE"] {
            std::fs::copy(source.join(file), bundle.join(file)).unwrap();
        }
        for file in ["input.wav", "expected.json"] {
            std::fs::copy(
                source.join("reference").join(file),
                bundle.join("reference").join(file),
            )
            .unwrap();
        }
    }
    bundle
}

#[test]
fn fuzz_bundle_toml() {
    fuzz("bundle_toml", |input, scratch| {
        let bundle = scratch_bundle(scratch);
        std::fs::write(bundle.join("bundle.toml"), input).unwrap();
        let _ = livetag::bundle::Bundle::load(&bundle);
    });
}

#[test]
fn fuzz_onnx_reader() {
    fuzz("onnx", |input, _| {
        let _ = livetag::bundle::onnx::OnnxInfo::parse(input);
    });
}

#[test]
fn fuzz_labels() {
    fuzz("labels", |input, scratch| {
        let bundle = scratch_bundle(scratch);
        std::fs::write(bundle.join("labels.txt"), input).unwrap();
        let _ = livetag::bundle::Bundle::load(&bundle);
        std::fs::copy(
            repo().join("tests/models/tiny-tone/labels.txt"),
            bundle.join("labels.txt"),
        )
        .unwrap();
    });
}

#[test]
fn fuzz_eval_list() {
    fuzz("eval_list", |input, scratch| {
        let labels: Vec<String> = ["low", "mid", "high"].map(String::from).to_vec();
        let text = String::from_utf8_lossy(input);
        let _ = livetag::eval::parse_list(&text, &scratch.join("list.csv"), "tiny-tone", &labels);
    });
}

#[test]
fn fuzz_audio_decoders() {
    fuzz("audio", |input, scratch| {
        // The extension decides nothing (symphonia probes the bytes), but give each format's
        // usual one a turn by looking at the magic.
        let extension = match input.get(..4) {
            Some(b"fLaC") => "flac",
            Some(b"OggS") => "ogg",
            Some(b"RIFF") => "wav",
            _ => "mp3",
        };
        let path = scratch.join(format!("input.{extension}"));
        std::fs::write(&path, input).unwrap();
        let _ = livetag::audio::load_mono(&path, 16_000);
    });
}
