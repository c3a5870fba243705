//! Front-end throughput in frames per second, one benchmark per reference front-end
//! (the cases of `tests/fixtures/frontend`), on 60 s of audio: the 2 s fixture signal tiled,
//! as `tools/bench_librosa.py` does. `tools/compare_frontends.py` runs this and librosa in
//! one go and prints the ratios.

#[path = "../tests/common/frontend_fixtures.rs"]
mod frontend_fixtures;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use frontend_fixtures::CASES;
use livetag::dsp::{Frontend, FrontendSpec};

const SECONDS: usize = 60;

fn load(case: &str) -> (FrontendSpec, u32, Vec<f32>) {
    let (spec, rate_hz) = frontend_fixtures::spec(case);
    let clip = frontend_fixtures::read_f32(&frontend_fixtures::dir(case).join("input.f32"));
    let total = SECONDS * rate_hz as usize;
    let signal = clip.iter().copied().cycle().take(total).collect();
    (spec, rate_hz, signal)
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
