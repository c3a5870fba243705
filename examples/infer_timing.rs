//! Per-window latency and batched throughput of one bundle on one execution provider,
//! for `tools/bench_gpu.sh` (CPU and CUDA in the same run) without cargo on the GPU machine.
//!
//!     infer_timing BUNDLE [--provider cpu|cuda] [--batch N] [--seconds S] [--threads T]
//!
//! Prints one JSON line: the provider that really ran, per-call latency p50/p99 at batch 1,
//! then windows per second at --batch and that in times real time (windows at the
//! bundle's trained length, one per window length of audio, as file tagging with
//! non-overlapping windows would run them).

use std::time::{Duration, Instant};

use livetag::bundle::Bundle;
use livetag::inference::{DevicePreference, ModelRunner, SessionOptions};

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        anyhow::bail!("usage: infer_timing BUNDLE [--provider cpu|cuda] [--batch N] [--seconds S] [--threads T]");
    };
    let device = match arg(&args, "--provider", "cpu".to_string()).as_str() {
        "cuda" => DevicePreference::Cuda,
        _ => DevicePreference::Cpu,
    };
    let batch: usize = arg(&args, "--batch", 64);
    let seconds: f64 = arg(&args, "--seconds", 5.0);
    let threads: Option<usize> = args
        .iter()
        .any(|a| a == "--threads")
        .then(|| arg(&args, "--threads", 1));
    let bundle = Bundle::load(std::path::Path::new(dir))?;
    let runtime = livetag::inference::runtime(None)?;
    let options = SessionOptions {
        device,
        threads,
        ..Default::default()
    };
    let mut runner = ModelRunner::new(&runtime, &bundle, &options)?;
    let input = &bundle.input;
    let rows = input.window_rows;
    let batch = batch.min(runner.max_batch().unwrap_or(usize::MAX)).max(1);
    let window: Vec<f32> = (0..batch * rows * input.row_width())
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect();
    let one = &window[..rows * input.row_width()];
    let mut scores = Vec::new();

    // Warm-up: CUDA kernels are chosen and memory is allocated on the first runs.
    for _ in 0..3 {
        scores.clear();
        runner.run(&window, batch, rows, &mut scores)?;
        scores.clear();
        runner.run(one, 1, rows, &mut scores)?;
    }
    let mut latencies_ms = Vec::new();
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < until || latencies_ms.len() < 10 {
        let started = Instant::now();
        scores.clear();
        runner.run(one, 1, rows, &mut scores)?;
        latencies_ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    latencies_ms.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        latencies_ms[((q * latencies_ms.len() as f64) as usize).min(latencies_ms.len() - 1)]
    };

    let (mut windows, started) = (0usize, Instant::now());
    while started.elapsed().as_secs_f64() < seconds || windows < batch * 3 {
        scores.clear();
        runner.run(&window, batch, rows, &mut scores)?;
        windows += batch;
    }
    let windows_per_sec = windows as f64 / started.elapsed().as_secs_f64();
    let window_secs = rows as f64 * input.seconds_per_row();
    println!(
        "{}",
        serde_json::json!({
            "bundle": bundle.name(),
            "provider": runner.provider().to_string(),
            "window_secs": window_secs,
            "latency_ms_p50": pick(0.5),
            "latency_ms_p99": pick(0.99),
            "batch": batch,
            "windows_per_sec": windows_per_sec,
            "times_real_time": windows_per_sec * window_secs,
        })
    );
    Ok(())
}
