//! Front-end throughput in frames per second, one benchmark per reference front-end
//! (the cases of `tests/fixtures/frontend`), on 60 s of audio: the 2 s fixture signal tiled,
//! as `livetag_tools.bench.librosa_frontends` does. `tools/benchmarks.sh` runs this and
//! librosa in one go and prints the ratios.
//!
//! - `frontend/<case>`: the whole front-end, streamed in 10 ms chunks as the live path runs it;
//! - `stft/<case>`: the STFT alone (framing, window, FFT, power), the floor under the
//!   front-end: whatever the steps after it cost is on top of this.
//!
//! Each case reads its signal only when selected, so `--profile-time` under a profiler
//! (`tools/profile.sh`) sees that case alone.

#[path = "../tests/common/frontend_fixtures.rs"]
mod frontend_fixtures;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use frontend_fixtures::CASES;
use livetag::dsp::stft::StftFramer;
use livetag::dsp::Frontend;

const SECONDS: usize = 60;

fn signal(case: &str, rate_hz: u32) -> Vec<f32> {
    let clip = frontend_fixtures::read_f32(&frontend_fixtures::dir(case).join("input.f32"));
    let total = SECONDS * rate_hz as usize;
    clip.iter().copied().cycle().take(total).collect()
}

fn frontends(c: &mut Criterion) {
    for (group_name, whole) in [("frontend", true), ("stft", false)] {
        let mut group = c.benchmark_group(group_name);
        group.sample_size(20);
        for case in CASES {
            let (spec, rate_hz) = frontend_fixtures::spec(case);
            let frames = spec.stft_params().frames_for(SECONDS * rate_hz as usize);
            group.throughput(Throughput::Elements(frames as u64));
            group.bench_function(case, |b| {
                let signal = signal(case, rate_hz);
                let chunk = rate_hz as usize / 100;
                let mut sink = 0.0f32;
                if whole {
                    let mut frontend = Frontend::new(&spec, rate_hz).expect("fixture front-end");
                    b.iter(|| {
                        for piece in signal.chunks(chunk) {
                            frontend.push(piece, |frame| sink += frame[0]);
                        }
                        frontend.finish(|frame| sink += frame[0]);
                    });
                } else {
                    let mut stft = StftFramer::new(spec.stft_params()).expect("fixture STFT");
                    b.iter(|| {
                        for piece in signal.chunks(chunk) {
                            stft.push(piece, |frame| sink += frame[0]);
                        }
                        stft.finish(|frame| sink += frame[0]);
                    });
                }
                std::hint::black_box(sink);
            });
        }
        group.finish();
    }
}

criterion_group!(benches, frontends);
criterion_main!(benches);
