//! An inference thread: one track's windows in, its scores out.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::dsp_thread::send_event;
use super::{LiveMessage, LiveScores, PipelineStats, Role, Scorer, WindowJob};

/// How often an idle inference thread looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(50);

pub(super) fn run(
    track: usize,
    role: Role,
    mut scorer: Box<dyn Scorer>,
    jobs: Receiver<WindowJob>,
    events: Sender<LiveMessage>,
    stats: Arc<PipelineStats>,
    stop: &AtomicBool,
) -> Box<dyn Scorer> {
    let mut last_error = String::new();
    while !stop.load(Ordering::Relaxed) {
        let job = match jobs.recv_timeout(STOP_POLL) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if job.after_gap {
            scorer.reset();
        }
        let started = Instant::now();
        let mut scores = Vec::new();
        let mut frames = Vec::new();
        let frame_rate_hz = scorer.frame_rate_hz();
        let result = scorer.score_with_frames(&job.window, job.rows, &mut scores, &mut frames);
        let counters = &stats.tracks[track];
        counters
            .busy_ns
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        match result {
            Ok(()) => {
                counters.windows_scored.fetch_add(1, Ordering::Relaxed);
                let event = LiveMessage::Scores(LiveScores {
                    role,
                    end_secs: job.end_secs,
                    window_secs: job.window_secs,
                    captured_at: job.captured_at,
                    inference_secs: started.elapsed().as_secs_f64(),
                    scores,
                    silent: job.silent,
                    frames,
                    frame_rate_hz,
                });
                send_event(&events, &stats, event);
            }
            Err(error) => {
                counters.inference_errors.fetch_add(1, Ordering::Relaxed);
                // The same failure on every window is reported once.
                let message = crate::error_chain(&error);
                if message != last_error {
                    send_event(&events, &stats, LiveMessage::Error(message.clone()));
                    last_error = message;
                }
            }
        }
    }
    scorer
}
