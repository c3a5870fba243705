//! The hand-off from the audio thread to the DSP thread: a pre-allocated SPSC sample ring
//! plus a small ring of timing marks, so that every sample's capture instant can be
//! recovered downstream.
//!
//! [`CaptureWriter::write_interleaved`] is what an audio callback calls. It never
//! allocates, locks, logs, does I/O or blocks (`tests/realtime.rs` runs it under
//! `assert_no_alloc`): everything it touches is made in [`capture_ring`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpal::{FromSample, Sample};
use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

/// Mono samples mixed per step; bounds the writer's scratch buffer, not the callback size.
const MIX_CHUNK_FRAMES: usize = 512;
/// Timing marks buffered between the threads (one per callback, drained every few ms).
const MARK_CAPACITY: usize = 1024;

/// What the audio side saw, shared with the rest of the app through atomics.
#[derive(Debug, Default)]
pub struct CaptureCounters {
    /// Frames written into the ring.
    pub frames: AtomicU64,
    /// Frames lost because the ring was full (the DSP thread fell behind).
    pub overflow_frames: AtomicU64,
    /// NaN or infinite samples, each replaced by silence (a frame's other channels are kept).
    pub non_finite_samples: AtomicU64,
    /// Buffer under- or overruns reported by the audio host.
    pub xruns: AtomicU64,
    pub callbacks: AtomicU64,
    /// Longest time spent inside one callback, in nanoseconds.
    pub max_callback_ns: AtomicU64,
    /// Set by the stream's error callback when the device went away.
    pub device_lost: AtomicBool,
    /// Times the default device changed and the stream followed it.
    pub device_changed: AtomicU64,
    /// Set when the host refused the audio thread real-time scheduling.
    pub realtime_denied: AtomicBool,
    /// Stream errors of every other kind (busy, permission, backend, unknown...).
    pub backend_errors: AtomicU64,
    /// The kind of the most recent stream error, as a code (0: none yet). Read it with
    /// [`CaptureCounters::stream_notices`].
    pub last_error: AtomicU8,
    /// The kind of the most recent error counted in `backend_errors` (0: none yet).
    pub last_backend_error: AtomicU8,
    /// Allocator calls made inside audio callbacks. Only builds with debug assertions check
    /// (through `assert_no_alloc` and the binary's `AllocDisabler`); release builds leave it
    /// at 0. Anything above 0 is a bug: such a call can miss the callback's deadline.
    pub callback_allocations: AtomicU64,
}

/// "Frames up to `end_frame` (exclusive) were captured; the last one at `captured_ns`."
#[derive(Debug, Clone, Copy)]
struct CaptureMark {
    end_frame: u64,
    /// Nanoseconds since the ring's epoch; negative when playback lies ahead of the epoch.
    captured_ns: i64,
}

/// The audio thread's end.
pub struct CaptureWriter {
    samples: HeapProd<f32>,
    marks: HeapProd<CaptureMark>,
    mono: Box<[f32]>,
    counters: Arc<CaptureCounters>,
    epoch: Instant,
    frames: u64,
}

/// The DSP thread's end.
pub struct CaptureReader {
    samples: HeapCons<f32>,
    marks: HeapCons<CaptureMark>,
    pending: VecDeque<CaptureMark>,
    counters: Arc<CaptureCounters>,
    epoch: Instant,
    sample_rate_hz: u32,
    frames_read: u64,
}

/// Makes the two ends of a ring holding `capacity_secs` of mono audio.
pub fn capture_ring(sample_rate_hz: u32, capacity_secs: f64) -> (CaptureWriter, CaptureReader) {
    let capacity = ((sample_rate_hz as f64 * capacity_secs) as usize).max(MIX_CHUNK_FRAMES * 4);
    let (samples_in, samples_out) = HeapRb::<f32>::new(capacity).split();
    let (marks_in, marks_out) = HeapRb::<CaptureMark>::new(MARK_CAPACITY).split();
    let counters = Arc::new(CaptureCounters::default());
    let epoch = Instant::now();
    (
        CaptureWriter {
            samples: samples_in,
            marks: marks_in,
            mono: vec![0.0; MIX_CHUNK_FRAMES].into_boxed_slice(),
            counters: Arc::clone(&counters),
            epoch,
            frames: 0,
        },
        CaptureReader {
            samples: samples_out,
            marks: marks_out,
            pending: VecDeque::with_capacity(MARK_CAPACITY),
            counters,
            epoch,
            sample_rate_hz,
            frames_read: 0,
        },
    )
}

impl CaptureWriter {
    pub fn counters(&self) -> &Arc<CaptureCounters> {
        &self.counters
    }

    /// Mixes interleaved frames of `channels` samples to mono and queues them.
    ///
    /// `latency` is how long before this call the last frame was captured (an input
    /// device's buffering); `ahead` is how long after this call it will be heard (a file
    /// played to an output device). Use `Duration::ZERO` for what you do not know.
    pub fn write_interleaved<T>(
        &mut self,
        data: &[T],
        channels: usize,
        latency: Duration,
        ahead: Duration,
    ) where
        T: Sample,
        f32: FromSample<T>,
    {
        let started = Instant::now();
        let channels = channels.max(1);
        let gain = 1.0 / channels as f32;
        let mut non_finite = 0u64;
        for chunk in data.chunks(MIX_CHUNK_FRAMES * channels) {
            let frames = chunk.len() / channels;
            for (out, frame) in self.mono.iter_mut().zip(chunk.chunks_exact(channels)) {
                // Each bad sample is silenced on its own: one broken channel must not mute
                // the others, and the counter counts samples, not frames.
                let mut sum = 0.0f32;
                for &sample in frame {
                    let value = f32::from_sample(sample);
                    if value.is_finite() {
                        sum += value;
                    } else {
                        non_finite += 1;
                    }
                }
                // Finite samples can still overflow when added (absurd float input only).
                *out = if sum.is_finite() {
                    sum * gain
                } else {
                    non_finite += 1;
                    0.0
                };
            }
            let pushed = self.samples.push_slice(&self.mono[..frames]);
            self.account(frames, pushed);
        }
        self.finish_callback(started, latency, ahead, non_finite);
    }

    /// Queues mono samples (the demo-mode player's path).
    pub fn write_mono(&mut self, data: &[f32], ahead: Duration) {
        let started = Instant::now();
        let pushed = self.samples.push_slice(data);
        self.account(data.len(), pushed);
        self.finish_callback(started, Duration::ZERO, ahead, 0);
    }

    fn account(&mut self, frames: usize, pushed: usize) {
        self.frames += pushed as u64;
        if pushed < frames {
            // The DSP side is not keeping up. The newest audio is dropped (ringbuf cannot
            // overwrite from the producer side), and the count makes the loss visible.
            self.counters
                .overflow_frames
                .fetch_add((frames - pushed) as u64, Ordering::Relaxed);
        }
    }

    fn finish_callback(
        &mut self,
        started: Instant,
        latency: Duration,
        ahead: Duration,
        non_finite: u64,
    ) {
        let since_epoch = started.duration_since(self.epoch).as_nanos() as i64;
        let captured_ns = since_epoch - latency.as_nanos() as i64 + ahead.as_nanos() as i64;
        // A full mark ring only costs timing precision, never audio.
        let _ = self.marks.try_push(CaptureMark {
            end_frame: self.frames,
            captured_ns,
        });
        let counters = &self.counters;
        counters.frames.store(self.frames, Ordering::Relaxed);
        counters.callbacks.fetch_add(1, Ordering::Relaxed);
        if non_finite > 0 {
            counters
                .non_finite_samples
                .fetch_add(non_finite, Ordering::Relaxed);
        }
        let elapsed_ns = started.elapsed().as_nanos() as u64;
        counters
            .max_callback_ns
            .fetch_max(elapsed_ns, Ordering::Relaxed);
    }
}

impl CaptureReader {
    pub fn sample_rate_hz(&self) -> u32 {
        self.sample_rate_hz
    }

    pub fn counters(&self) -> &Arc<CaptureCounters> {
        &self.counters
    }

    /// Frames taken out of the ring so far.
    pub fn frames_read(&self) -> u64 {
        self.frames_read
    }

    /// Frames waiting in the ring.
    pub fn backlog_frames(&self) -> usize {
        self.samples.occupied_len()
    }

    /// Moves up to `out.len()` queued samples into `out`; returns how many.
    pub fn read(&mut self, out: &mut [f32]) -> usize {
        while let Some(mark) = self.marks.try_pop() {
            if self.pending.len() == self.pending.capacity() {
                self.pending.pop_front();
            }
            self.pending.push_back(mark);
        }
        let n = self.samples.pop_slice(out);
        self.frames_read += n as u64;
        n
    }

    /// When frame `frame` (0-based, counted from the first one written) was captured.
    /// Frames must be asked for in non-decreasing order: older marks are discarded.
    pub fn captured_at(&mut self, frame: u64) -> Option<Instant> {
        while self.pending.len() > 1 && self.pending[0].end_frame <= frame {
            self.pending.pop_front();
        }
        let mark = self.pending.front()?;
        let frames_after = mark.end_frame as i64 - 1 - frame as i64;
        let ns = mark.captured_ns - frames_after * 1_000_000_000 / self.sample_rate_hz as i64;
        Some(if ns >= 0 {
            self.epoch + Duration::from_nanos(ns as u64)
        } else {
            self.epoch
                .checked_sub(Duration::from_nanos(ns.unsigned_abs()))
                .unwrap_or(self.epoch)
        })
    }
}
