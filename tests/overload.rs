//! Inference three times slower than real time.
//!
//! On a slow machine, or with a big model, the scorer cannot keep up with the hop. The
//! live path is meant to degrade by skipping windows, not by queueing them: audio must
//! never be lost (the DSP thread does not wait for inference), stale windows are dropped
//! for the freshest one, and so the latency of each result stays bounded instead of
//! growing for as long as the overload lasts. A queue that kept every window would pass
//! a test that only counted results; the latency bound is what fails it.
//!
//! A stateful speech track (silero VAD's shape: 512-sample hop, 64 samples of context)
//! runs beside the slow tagger. It must be untouched by the overload: every one of its
//! windows scored, in order, each starting with the end of the one before.
//!
//! The scorers are stand-ins, so the test measures the pipeline's own scheduling rather
//! than ONNX Runtime, and it needs no runtime library.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use livetag::bundle::Bundle;
use livetag::capture::{capture_ring, RING_SECONDS};
use livetag::dsp::input::{AudioInput, Axis, InputKind};
use livetag::inference::InferenceError;
use livetag::pipeline::{
    LiveMessage, LiveScores, Pipeline, PipelineConfig, PipelineStats, Role, Scorer, Track,
};

/// A common device rate, so the resampler to the model's 8 kHz is in the path too.
const SOURCE_RATE_HZ: u32 = 48_000;
/// 10 ms per write, like a device callback.
const FEED_BLOCK_FRAMES: usize = 480;
const FEED_BLOCK_SECS: f64 = FEED_BLOCK_FRAMES as f64 / SOURCE_RATE_HZ as f64;
const FEED_SECS: f64 = 3.0;
/// Model rows between windows. A whole number of rows, so the hop asked for is the hop
/// the pipeline uses (it rounds hop_secs to rows).
const HOP_ROWS: usize = 6;
/// Inference time over hop time.
const SLOWDOWN: f64 = 3.0;

/// From the capture of a window's last frame to the window being made: the frame can wait
/// up to one feed block in the writer (it is stamped as captured before its block is
/// handed over), up to one more block in the resampler (it converts whole 10 ms blocks and
/// holds back its 5 ms FFT delay), and one idle poll (2 ms) of the DSP thread.
const TO_WINDOW_SECS: f64 = 2.0 * FEED_BLOCK_SECS + 0.002;
/// Thread wake-ups, the DSP thread's own work and the event channel, on a loaded 2-core
/// machine.
const SCHEDULING_MARGIN_SECS: f64 = 0.050;

/// Sleeps `delay` per window and checks the shape of what it is given.
struct SlowScorer {
    delay: Duration,
    n_classes: usize,
    row_width: usize,
    min_rows: usize,
    max_rows: usize,
    malformed_windows: Arc<AtomicU64>,
}

impl Scorer for SlowScorer {
    fn score(
        &mut self,
        window: &[f32],
        rows: usize,
        scores: &mut Vec<f32>,
    ) -> Result<(), InferenceError> {
        let well_formed = window.len() == rows * self.row_width
            && (self.min_rows..=self.max_rows).contains(&rows)
            && window.iter().all(|v| v.is_finite());
        if !well_formed {
            self.malformed_windows.fetch_add(1, Ordering::Relaxed);
        }
        std::thread::sleep(self.delay);
        scores.extend(std::iter::repeat_n(
            1.0 / self.n_classes as f32,
            self.n_classes,
        ));
        Ok(())
    }
}

/// A fast stateful stand-in. Consecutive windows of a stateful model overlap by the
/// lead-in; it counts windows that do not start where the previous one ended, which is
/// what a skipped or reordered window looks like.
struct ContextChecker {
    lead_in: usize,
    previous_tail: Option<Vec<f32>>,
    broken_windows: Arc<AtomicU64>,
}

impl Scorer for ContextChecker {
    fn score(
        &mut self,
        window: &[f32],
        _rows: usize,
        scores: &mut Vec<f32>,
    ) -> Result<(), InferenceError> {
        if let Some(tail) = &self.previous_tail {
            if window[..self.lead_in] != tail[..] {
                self.broken_windows.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.previous_tail = Some(window[window.len() - self.lead_in..].to_vec());
        scores.push(0.5);
        Ok(())
    }

    fn reset(&mut self) {
        self.previous_tail = None;
    }

    fn is_stateful(&self) -> bool {
        true
    }
}

/// silero VAD's input: 16 kHz, 64 samples of context then 512 new ones per window.
fn speech_input() -> AudioInput {
    AudioInput {
        name: "input".to_string(),
        sample_rate_hz: 16_000,
        layout: vec![Axis::Batch, Axis::Time],
        kind: InputKind::Waveform {
            lead_in_samples: 64,
        },
        window_rows: 576,
        min_rows: 576,
        max_rows: 576,
        hop_rows: 512,
        max_batch: None,
    }
}

#[test]
fn slow_inference_drops_stale_windows_and_keeps_latency_bounded() {
    let bundle = Bundle::load(&common::repo().join("tests/models/tiny-tone")).unwrap();
    let input = &bundle.input;
    let row_secs = input.seconds_per_row();
    let hop_secs = HOP_ROWS as f64 * row_secs;
    let inference_secs = SLOWDOWN * hop_secs;
    let malformed_windows = Arc::new(AtomicU64::new(0));
    let scorer = SlowScorer {
        delay: Duration::from_secs_f64(inference_secs),
        n_classes: bundle.labels.len(),
        row_width: input.row_width(),
        min_rows: input.min_rows,
        max_rows: input.window_rows,
        malformed_windows: Arc::clone(&malformed_windows),
    };

    let (mut writer, reader) = capture_ring(SOURCE_RATE_HZ, RING_SECONDS);
    let counters = writer.counters().clone();
    let config = PipelineConfig {
        hop_secs,
        ..PipelineConfig::default()
    };
    let speech_input = speech_input();
    let broken_windows = Arc::new(AtomicU64::new(0));
    let speech = ContextChecker {
        lead_in: 64,
        previous_tail: None,
        broken_windows: Arc::clone(&broken_windows),
    };
    let tracks = vec![
        Track {
            role: Role::Tagger,
            input: input.clone(),
            scorer: Box::new(scorer),
        },
        Track {
            role: Role::Speech,
            input: speech_input.clone(),
            scorer: Box::new(speech),
        },
    ];
    let pipeline = Pipeline::start(reader, tracks, config).unwrap();

    // Real-time pace against an absolute schedule, so sleep overshoot does not add up:
    // block k holds audio up to (k + 1) * 10 ms and is handed over then, as a device does.
    let feeder = std::thread::spawn(move || {
        let blocks = (FEED_SECS / FEED_BLOCK_SECS).round() as usize;
        let mut block = vec![0.0f32; FEED_BLOCK_FRAMES];
        let started = Instant::now();
        for k in 0..blocks {
            for (i, sample) in block.iter_mut().enumerate() {
                let t = (k * FEED_BLOCK_FRAMES + i) as f64 / SOURCE_RATE_HZ as f64;
                *sample = 0.5 * (2.0 * std::f64::consts::PI * 440.0 * t).sin() as f32;
            }
            let due = started + Duration::from_secs_f64((k + 1) as f64 * FEED_BLOCK_SECS);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            writer.write_interleaved(&block, 1, Duration::ZERO, Duration::ZERO);
        }
        (blocks * FEED_BLOCK_FRAMES) as u64
    });

    // Take events as they come (this is the UI's seat), until the feeder is done and the
    // pipeline has settled: every frame processed and every window scored or dropped.
    let stats = Arc::clone(pipeline.stats());
    let load = PipelineStats::load;
    let mut received: Vec<(Instant, LiveScores)> = Vec::new();
    let mut speech_received: Vec<LiveScores> = Vec::new();
    let mut errors = Vec::new();
    let mut feeder = Some(feeder);
    let mut frames_written = None;
    let deadline = Instant::now() + Duration::from_secs_f64(FEED_SECS + 5.0);
    loop {
        match pipeline.messages().recv_timeout(Duration::from_millis(5)) {
            Ok(LiveMessage::Scores(scores)) if scores.role == Role::Speech => {
                speech_received.push(scores)
            }
            Ok(LiveMessage::Scores(scores)) => received.push((Instant::now(), scores)),
            Ok(LiveMessage::Error(message)) => errors.push(message),
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if feeder.as_ref().is_some_and(|f| f.is_finished()) {
            frames_written = Some(feeder.take().unwrap().join().expect("feeder thread"));
        }
        if let Some(written) = frames_written {
            // Once all frames are processed no window is made any more; the last one in
            // the scorer and the one in the queue then take up to two inference times.
            let settled = load(&stats.frames_processed) == written
                && stats.tracks.iter().all(|track| {
                    load(&track.windows_scored) + load(&track.windows_dropped)
                        == load(&track.windows_made)
                })
                && received.len() as u64 == load(&stats.tracks[0].windows_scored)
                && speech_received.len() as u64 == load(&stats.tracks[1].windows_scored);
            if settled {
                break;
            }
        }
        if Instant::now() > deadline {
            break;
        }
    }
    let frames_written = frames_written.expect("the feeder finished");
    drop(pipeline);

    let main = &stats.tracks[0];
    let made = load(&main.windows_made);
    let scored = load(&main.windows_scored);
    let dropped = load(&main.windows_dropped);
    let latencies: Vec<f64> = received
        .iter()
        .map(|(at, s)| (*at - s.captured_at).as_secs_f64())
        .collect();
    let max_inference_secs = received
        .iter()
        .map(|(_, s)| s.inference_secs)
        .fold(0.0, f64::max);
    eprintln!(
        "overload: {frames_written} frames, {made} windows made, {scored} scored, {dropped} \
         dropped; latency {:.0}..{:.0} ms, inference up to {:.0} ms (hop {:.0} ms)",
        latencies.iter().copied().fold(f64::INFINITY, f64::min) * 1e3,
        latencies.iter().copied().fold(0.0, f64::max) * 1e3,
        max_inference_secs * 1e3,
        hop_secs * 1e3,
    );

    // Nothing went wrong on the side.
    assert!(errors.is_empty(), "pipeline errors: {errors:?}");
    assert_eq!(load(&main.inference_errors), 0);
    assert_eq!(malformed_windows.load(Ordering::Relaxed), 0);

    // No audio lost: the slow scorer never held back the DSP thread.
    assert_eq!(
        frames_written,
        (FEED_SECS * SOURCE_RATE_HZ as f64).round() as u64
    );
    assert_eq!(counters.overflow_frames.load(Ordering::Relaxed), 0);
    assert_eq!(counters.frames.load(Ordering::Relaxed), frames_written);
    assert_eq!(load(&stats.frames_processed), frames_written);

    // Every window on the hop grid was made: the first after min_rows rows, then one per
    // hop. The last ~20 ms of audio (resampler delay, the front-end's half frame) cannot
    // complete a row yet, hence the tolerance of one.
    let first_window_secs = input.min_rows as f64 * row_secs;
    let expected_made = ((FEED_SECS - first_window_secs) / hop_secs).floor() as u64 + 1;
    assert!(
        made.abs_diff(expected_made) <= 1,
        "{made} windows made, expected about {expected_made}"
    );

    // Every window is accounted for, exactly. While audio flows, made runs ahead of
    // scored + dropped by the window in the scorer and the one in the one-slot queue (for
    // an instant a third, as the DSP thread swaps a stale one out), so equality mid-run
    // would be luck. After the drain none is left in either place, and each window was
    // either scored or dropped for a newer one; a window lost any other way (say, one
    // with no capture time) would break the equality for good.
    assert_eq!(made, scored + dropped, "windows made = scored + dropped");
    assert!(dropped > 0, "3x overload must drop windows");
    assert_eq!(load(&stats.messages_dropped), 0);
    assert_eq!(
        received.len() as u64,
        scored,
        "one Scores event per scored window"
    );
    // The scorer never idles while a window waits: a fresh one arrives every hop, well
    // within one inference time. So scored windows cover the whole span of made windows.
    let busy_secs = (made - 1) as f64 * hop_secs;
    let min_scored = (busy_secs / max_inference_secs).floor() as u64;
    assert!(
        scored >= min_scored,
        "{scored} windows scored in {busy_secs:.2} s of {max_inference_secs:.3} s inferences"
    );

    // The hop budget sees the overload: the slow scorer was busy for nearly all of the
    // audio (it idles only before the first window), while the DSP thread's share is small.
    let busy_secs_main = load(&main.busy_ns) as f64 * 1e-9;
    assert!(
        busy_secs_main >= scored as f64 * inference_secs
            && busy_secs_main <= scored as f64 * (inference_secs + SCHEDULING_MARGIN_SECS),
        "{busy_secs_main:.3} s busy for {scored} windows of {inference_secs:.3} s"
    );
    let budget = stats
        .hop_budget(SOURCE_RATE_HZ, hop_secs)
        .expect("audio was processed");
    eprintln!("budget: {budget}");
    assert!(
        budget.inference_ms >= 0.7 * budget.hop_ms && budget.dsp_ms < 0.5 * budget.hop_ms,
        "{budget}"
    );

    // Results come in source order, each a whole number of hops after the previous. While
    // the scorer works on one window (3 hops), at least two newer ones are made, so the
    // next window scored is at least two hops later: stale ones really are skipped.
    for pair in received.windows(2) {
        let (a, b) = (&pair[0].1, &pair[1].1);
        let hops = (b.end_secs - a.end_secs) / hop_secs;
        assert!(
            (hops - hops.round()).abs() < 1e-6 && hops.round() >= 2.0,
            "end_secs {} then {}: {hops} hops",
            a.end_secs,
            b.end_secs
        );
        assert!(b.captured_at > a.captured_at);
    }

    // Latency is bounded. A scored window waited at most: the trip to being made, less
    // than one hop (plus one block of rounding to the feed's grid) in the one-slot queue
    // before a newer window would have replaced it, and its own inference.
    let queue_wait_secs = hop_secs + FEED_BLOCK_SECS;
    for ((_, scores), &latency_secs) in received.iter().zip(&latencies) {
        assert_eq!(scores.scores.len(), bundle.labels.len());
        assert!(scores.inference_secs >= inference_secs);
        let bound_secs =
            TO_WINDOW_SECS + queue_wait_secs + scores.inference_secs + SCHEDULING_MARGIN_SECS;
        assert!(
            latency_secs >= scores.inference_secs && latency_secs <= bound_secs,
            "window ending at {:.3} s: latency {:.1} ms, inference {:.1} ms, bound {:.1} ms",
            scores.end_secs,
            latency_secs * 1e3,
            scores.inference_secs * 1e3,
            bound_secs * 1e3
        );
    }

    // The speech track beside it lost nothing: every window at its own 32 ms hop, scored
    // in order, each continuing the one before.
    let speech = &stats.tracks[1];
    let speech_made = load(&speech.windows_made);
    let speech_hop_secs = 512.0 / 16_000.0;
    let expected_speech = ((FEED_SECS - 512.0 / 16_000.0) / speech_hop_secs).floor() as u64;
    assert!(
        speech_made.abs_diff(expected_speech) <= 2,
        "{speech_made} speech windows made, expected about {expected_speech}"
    );
    assert_eq!(load(&speech.windows_dropped), 0);
    assert_eq!(load(&speech.windows_scored), speech_made);
    assert_eq!(speech_received.len() as u64, speech_made);
    assert_eq!(broken_windows.load(Ordering::Relaxed), 0);
    for pair in speech_received.windows(2) {
        let step_secs = pair[1].end_secs - pair[0].end_secs;
        assert!(
            (step_secs - speech_hop_secs).abs() < 1.5 / SOURCE_RATE_HZ as f64,
            "speech windows {:.4} s then {:.4} s",
            pair[0].end_secs,
            pair[1].end_secs
        );
    }
    eprintln!("speech track: {speech_made} windows made, all scored in order");
}
