//! Model-side costs on the CPU provider, one thread:
//! - `inference/<bundle>`: one window of every bundle in `models/` (and BirdNET when it has
//!   been fetched), at its trained length;
//! - `tag/<bundle>`: file tagging end to end (decode, resample, front-end, batched
//!   inference at the CLI's default batch) of a 30 s clip; criterion's throughput is in seconds of audio, so its
//!   "elem/s" is times real time;
//! - `callback/stereo_48k_10ms`: the audio callback (mono mix into the capture ring) per 10 ms buffer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use livetag::bundle::Bundle;
use livetag::inference::{ModelRunner, Provider, SessionOptions};
use livetag::tagger::{default_batch_size, tag_samples, TagSettings};

const TAG_SECONDS: usize = 30;

fn bundles() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("models"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("bundle.toml").is_file())
                .collect()
        })
        .unwrap_or_default();
    let birdnet = livetag::cache::cache_dir().join("models/birdnet-v2.4");
    if birdnet.join("bundle.toml").is_file() {
        dirs.push(birdnet);
    }
    dirs.sort();
    dirs
}

fn open(dir: &Path) -> (Bundle, ModelRunner) {
    let bundle = Bundle::load(dir).expect("bundle loads");
    let runtime = livetag::inference::runtime(None).expect("ONNX Runtime (tools/setup.sh)");
    let options = SessionOptions {
        threads: Some(1),
        ..Default::default()
    };
    let runner = ModelRunner::new(&runtime, &bundle, &options).expect("session");
    (bundle, runner)
}

fn inference(c: &mut Criterion) {
    let mut group = c.benchmark_group("inference");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    for dir in bundles() {
        let (bundle, mut runner) = open(&dir);
        let input = &bundle.input;
        let window: Vec<f32> = (0..input.window_rows * input.row_width())
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let mut scores = Vec::new();
        group.bench_function(bundle.name(), |b| {
            b.iter(|| {
                scores.clear();
                runner
                    .run(&window, 1, input.window_rows, &mut scores)
                    .expect("inference");
            })
        });
    }
    group.finish();
}

fn tagging(c: &mut Criterion) {
    let mut group = c.benchmark_group("tag");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let clip = root.join("tests/fixtures/musicnn/speech.wav");
    for dir in bundles() {
        let (bundle, mut runner) = open(&dir);
        let rate_hz = bundle.input.sample_rate_hz;
        let one = livetag::audio::load_mono(&clip, rate_hz).expect("clip decodes");
        let samples: Vec<f32> = one
            .iter()
            .copied()
            .cycle()
            .take(TAG_SECONDS * rate_hz as usize)
            .collect();
        group.throughput(Throughput::Elements(TAG_SECONDS as u64));
        let settings = TagSettings::new(&bundle.input, None, default_batch_size(Provider::Cpu));
        group.bench_function(bundle.name(), |b| {
            b.iter(|| {
                let mut windows = 0usize;
                tag_samples(
                    &mut runner,
                    &bundle.input,
                    &samples,
                    settings,
                    |_| {},
                    |_| windows += 1,
                )
                .expect("tagging");
                windows
            })
        });
    }
    group.finish();
}

fn callback(c: &mut Criterion) {
    let (mut writer, mut reader) = livetag::capture::capture_ring(48_000, 4.0);
    let stereo: Vec<f32> = (0..960).map(|i| (i as f32 * 0.01).sin() * 0.5).collect();
    let mut drain = vec![0.0f32; 4096];
    let mut group = c.benchmark_group("callback");
    group.bench_function("stereo_48k_10ms", |b| {
        b.iter(|| {
            writer.write_interleaved(&stereo, 2, Duration::ZERO, Duration::ZERO);
            while reader.read(&mut drain) > 0 {}
        })
    });
    group.finish();
}

criterion_group!(benches, inference, tagging, callback);
criterion_main!(benches);
