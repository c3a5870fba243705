//! One front-end over 60 s of its fixture signal, a fixed number of times: a deterministic
//! workload for instruction-counting profilers (`tools/profile.sh`), where criterion's
//! time-based loop would vary the count.
//!
//!     cargo run --release --example frontend_loop -- CASE [REPEATS] [--stft-only]

#[path = "../tests/common/frontend_fixtures.rs"]
mod frontend_fixtures;

use livetag::dsp::stft::StftFramer;
use livetag::dsp::Frontend;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(case) = args.first() else {
        eprintln!("usage: frontend_loop CASE [REPEATS] [--stft-only]");
        std::process::exit(2);
    };
    let repeats: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(10);
    let stft_only = args.iter().any(|a| a == "--stft-only");
    let (spec, rate_hz) = frontend_fixtures::spec(case);
    let clip = frontend_fixtures::read_f32(&frontend_fixtures::dir(case).join("input.f32"));
    let signal: Vec<f32> = clip
        .iter()
        .copied()
        .cycle()
        .take(60 * rate_hz as usize)
        .collect();
    let chunk = rate_hz as usize / 100;
    let (mut frames, mut sink) = (0usize, 0.0f32);
    let mut count = |frame: &[f32]| {
        frames += 1;
        sink += frame[0];
    };
    if stft_only {
        let mut stft = StftFramer::new(spec.stft_params()).expect("fixture STFT");
        for _ in 0..repeats {
            signal
                .chunks(chunk)
                .for_each(|piece| stft.push(piece, &mut count));
            stft.finish(&mut count);
        }
    } else {
        let mut frontend = Frontend::new(&spec, rate_hz).expect("fixture front-end");
        for _ in 0..repeats {
            signal
                .chunks(chunk)
                .for_each(|piece| frontend.push(piece, &mut count));
            frontend.finish(&mut count);
        }
    }
    println!("{case}: {frames} frames (checksum {sink})");
}
