//! Front-end throughput in frames per second, one benchmark per reference front-end
//! (the cases of `tests/fixtures/frontend`), on 60 s of audio: the 2 s fixture signal tiled,
//! as `tools/bench_librosa.py` does. `tools/compare_frontends.py` runs this and librosa in
//! one go and prints the ratios.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use livetag::dsp::{Frontend, FrontendSpec};

const SECONDS: usize = 60;
pub const CASES: [&str; 6] = [
    "librosa_mel_slaney_db",
    "librosa_mel_htk_log",
    "panns_logmel",
    "musicnn",
    "dorfer_v1",
    "dorfer_v2",
];

#[derive(serde::Deserialize)]
struct FixtureToml {
    sample_rate_hz: u32,
    frontend: FrontendSpec,
}

fn load(case: &str) -> (FrontendSpec, u32, Vec<f32>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/frontend")
        .join(case);
    let text = std::fs::read_to_string(dir.join("frontend.toml")).expect("fixture spec");
    let parsed: FixtureToml = toml::from_str(&text).expect("fixture spec parses");
    let bytes = std::fs::read(dir.join("input.f32")).expect("fixture input");
    let clip: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let total = SECONDS * parsed.sample_rate_hz as usize;
    let signal = clip.iter().copied().cycle().take(total).collect();
    (parsed.frontend, parsed.sample_rate_hz, signal)
}

fn frontends(c: &mut Criterion) {
    let mut group = c.benchmark_group("frontend");
    group.sample_size(20);
    for case in CASES {
        let (spec, rate_hz, signal) = load(case);
        let mut frontend = Frontend::new(&spec, rate_hz).expect("fixture front-end builds");
        let frames = frontend.compute(&signal).len() / frontend.n_bands();
        group.throughput(Throughput::Elements(frames as u64));
        let mut sink = 0.0f32;
        group.bench_function(case, |b| {
            b.iter(|| {
                // Streaming, as the live path runs it: 10 ms chunks, no output allocation.
                let chunk = rate_hz as usize / 100;
                for piece in signal.chunks(chunk) {
                    frontend.push(piece, |frame| sink += frame[0]);
                }
                frontend.finish(|frame| sink += frame[0]);
            })
        });
        std::hint::black_box(sink);
    }
    group.finish();
}

criterion_group!(benches, frontends);
criterion_main!(benches);
