//! The audio callback's real-time contract.
//!
//! [`CaptureWriter`] runs inside the sound server's callback. A call into the allocator
//! there can take a lock or fault in a page and miss the callback's deadline: the user
//! hears a drop-out and no counter in livetag sees it. So every write in this file runs
//! under `assert_no_alloc`, on the buffer shapes that hosts really deliver (32 to 4096
//! frames, 1, 2 or 6 channels, f32 and i16), on bad input (NaN, inf) and on a full ring,
//! which is when the writer is under most pressure. The closures that cpal itself calls
//! (`capture::device::input_callback`, `capture::file::output_callback`) run here too, as
//! built for a real stream: they wrap the writer in the same check the app runs in debug
//! builds, which counts violations in `CaptureCounters::callback_allocations`.
//!
//! The same tests pin down what the DSP thread relies on: the exact mono mix, counters
//! that add up, and the capture instant of every frame.
//!
//! The allocator check only exists in builds with debug assertions (assert_no_alloc's
//! `warn_debug` mode). There a violation only prints a warning and bumps a thread-local
//! count, so the tests check that count; `allocation_in_a_callback_is_caught` and
//! `the_callback_wrapper_counts_an_allocation` prove that the check works. Release builds run the other checks without it.

use std::time::{Duration, Instant};

use livetag::capture::device::input_callback;
use livetag::capture::file::output_callback;
use livetag::capture::{capture_ring, CaptureReader};

#[cfg(debug_assertions)]
#[global_allocator]
static ALLOCATOR: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

const SAMPLE_RATE_HZ: u32 = 48_000;

/// Callback sizes seen from real hosts, plus the ones either side of the writer's
/// 512-frame mixing chunk (512, 513) and an odd size (441).
const CALLBACK_SIZES_FRAMES: [usize; 8] = [32, 64, 441, 480, 512, 513, 1024, 4096];

/// Runs `callback` as the audio thread would, and fails the test if it used the allocator.
/// In warn mode a violation does not abort, so only the count can fail the test.
fn as_audio_callback<R>(what: &str, callback: impl FnOnce() -> R) -> R {
    #[cfg(debug_assertions)]
    {
        let before = assert_no_alloc::violation_count();
        let result = assert_no_alloc::assert_no_alloc(callback);
        let violations = assert_no_alloc::violation_count() - before;
        assert_eq!(
            violations, 0,
            "{what}: {violations} allocator calls inside the audio callback"
        );
        result
    }
    #[cfg(not(debug_assertions))]
    {
        let _ = what;
        callback()
    }
}

/// A sample that both f32 and i16 hold exactly: a multiple of 1/64 in [-0.5, 0.5).
/// Sums of six of them are exact too, so the expected mix has no rounding of its own.
fn test_value(frame: usize, channel: usize) -> f32 {
    ((frame * 7 + channel * 13) % 64) as f32 / 64.0 - 0.5
}

fn counter(value: &std::sync::atomic::AtomicU64) -> u64 {
    value.load(std::sync::atomic::Ordering::Relaxed)
}

/// Everything queued in the ring, oldest first.
fn read_all(reader: &mut CaptureReader) -> Vec<f32> {
    let mut out = vec![0.0; reader.backlog_frames() + 1];
    let n = reader.read(&mut out);
    out.truncate(n);
    out
}

fn assert_mix(got: &[f32], expected: &[f32], channels: usize, what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}: frame count");
    for (frame, (&g, &e)) in got.iter().zip(expected).enumerate() {
        if channels.is_power_of_two() {
            // The gain 1/channels is a power of two: the mix must be bit-exact.
            assert_eq!(g, e, "{what}: frame {frame}");
        } else {
            // 1/6 is rounded once in f32, so the mix may sit one rounding away from sum/6.
            assert!(
                (g - e).abs() <= 2.0 * f32::EPSILON * e.abs(),
                "{what}: frame {frame}: {g} vs {e}"
            );
        }
    }
}

#[cfg(debug_assertions)]
#[test]
fn allocation_in_a_callback_is_caught() {
    // Without this, a missing #[global_allocator] would make every other check pass.
    let before = assert_no_alloc::violation_count();
    assert_no_alloc::assert_no_alloc(|| {
        let buffer = vec![0u8; 64];
        std::hint::black_box(&buffer);
    });
    assert!(assert_no_alloc::violation_count() > before);
}

/// One interleaved block per callback size, frames numbered on from block to block, and
/// the mono mix of all of them, in order.
fn test_blocks<T>(channels: usize, convert: impl Fn(f32) -> T) -> (Vec<Vec<T>>, Vec<f32>) {
    let mut blocks = Vec::new();
    let mut expected = Vec::new();
    let mut first_frame = 0;
    for &frames in &CALLBACK_SIZES_FRAMES {
        blocks.push(
            (first_frame..first_frame + frames)
                .flat_map(|f| (0..channels).map(move |c| test_value(f, c)))
                .map(&convert)
                .collect(),
        );
        expected.extend(
            (first_frame..first_frame + frames)
                .map(|f| (0..channels).map(|c| test_value(f, c)).sum::<f32>() / channels as f32),
        );
        first_frame += frames;
    }
    (blocks, expected)
}

/// Writes every callback size in one format and channel count, then checks the mono mix
/// the reader gets, frame by frame.
fn check_interleaved<T>(format: &str, channels: usize, convert: impl Fn(f32) -> T)
where
    T: cpal::Sample,
    f32: cpal::FromSample<T>,
{
    let (mut writer, mut reader) = capture_ring(SAMPLE_RATE_HZ, 1.0);
    let (blocks, expected) = test_blocks(channels, convert);
    for data in &blocks {
        let frames = data.len() / channels;
        as_audio_callback(&format!("{format} x{channels}, {frames} frames"), || {
            writer.write_interleaved(data, channels, Duration::ZERO, Duration::ZERO)
        });
    }
    let what = format!("{format} x{channels}");
    assert_mix(&read_all(&mut reader), &expected, channels, &what);
    let counters = writer.counters();
    assert_eq!(counter(&counters.frames), expected.len() as u64, "{what}");
    assert_eq!(
        counter(&counters.callbacks),
        CALLBACK_SIZES_FRAMES.len() as u64,
        "{what}"
    );
    assert_eq!(counter(&counters.overflow_frames), 0, "{what}");
    assert_eq!(counter(&counters.non_finite_samples), 0, "{what}");
}

#[test]
fn interleaved_callbacks_of_every_shape_mix_to_mono_without_allocating() {
    for channels in [1, 2, 6] {
        check_interleaved("f32", channels, |v| v);
        // cpal converts i16 by dividing by 32768, which is exact for these values.
        check_interleaved("i16", channels, |v| (v * 32768.0) as i16);
    }
}

/// The input stream's data callback, the very closure cpal is given, on every callback
/// size: it must mix like the writer, date frames by the host's capture timestamp, and
/// neither allocate nor count an allocation.
fn check_input_callback<T>(format: &str, channels: usize, convert: impl Fn(f32) -> T)
where
    T: cpal::SizedSample + Send + 'static,
    f32: cpal::FromSample<T>,
{
    let (writer, mut reader) = capture_ring(SAMPLE_RATE_HZ, 1.0);
    let counters = writer.counters().clone();
    let mut callback = input_callback::<T>(writer, channels);
    let (blocks, expected) = test_blocks(channels, convert);
    // The host says the last frame of each buffer was captured 5 ms before the callback.
    let latency = Duration::from_millis(5);
    let called = cpal::StreamInstant::new(100, 0);
    let info = cpal::InputCallbackInfo::new(cpal::InputStreamTimestamp {
        callback: called,
        capture: called - latency,
    });
    let mut last_call = (Instant::now(), Instant::now());
    for data in &blocks {
        let frames = data.len() / channels;
        let before = Instant::now();
        as_audio_callback(
            &format!("input callback, {format} x{channels}, {frames} frames"),
            || callback(data, &info),
        );
        last_call = (before, Instant::now());
    }
    let what = format!("input callback, {format} x{channels}");
    assert_mix(&read_all(&mut reader), &expected, channels, &what);
    assert_eq!(counter(&counters.frames), expected.len() as u64, "{what}");
    assert_eq!(
        counter(&counters.callbacks),
        CALLBACK_SIZES_FRAMES.len() as u64,
        "{what}"
    );
    assert_eq!(counter(&counters.callback_allocations), 0, "{what}");
    let captured = reader.captured_at(expected.len() as u64 - 1).unwrap();
    let (before, after) = last_call;
    assert!(
        before - latency <= captured && captured <= after - latency,
        "{what}: the last frame is dated by the host's capture timestamp"
    );
}

#[test]
fn the_real_input_callback_mixes_every_shape_without_allocating() {
    for channels in [1, 2, 6] {
        check_input_callback("f32", channels, |v| v);
        check_input_callback("i16", channels, |v| (v * 32768.0) as i16);
    }
}

/// Demo mode's output data callback, the very closure cpal is given: every buffer size
/// gets the file's next frames on every channel (looping at its end), the reader gets the
/// same frames once, dated when they will be heard, and nothing allocates.
fn check_output_callback<T>(format: &str, channels: usize)
where
    T: cpal::SizedSample + cpal::FromSample<f32> + PartialEq + std::fmt::Debug + Send + 'static,
{
    // Shorter than the callbacks together (6802 frames), so playback loops twice.
    const FILE_FRAMES: usize = 3000;
    let samples: Vec<f32> = (0..FILE_FRAMES).map(|f| test_value(f, 0)).collect();
    let (writer, mut reader) = capture_ring(SAMPLE_RATE_HZ, 1.0);
    let counters = writer.counters().clone();
    let mut callback = output_callback::<T>(samples.clone().into(), writer, channels);
    let ahead = Duration::from_millis(20);
    let called = cpal::StreamInstant::new(100, 0);
    let info = cpal::OutputCallbackInfo::new(cpal::OutputStreamTimestamp {
        callback: called,
        playback: called + ahead,
    });
    let stale = <T as cpal::Sample>::from_sample(0.75f32);
    let mut position = 0;
    let mut last_call = (Instant::now(), Instant::now());
    for &frames in &CALLBACK_SIZES_FRAMES {
        let mut data = vec![stale; frames * channels];
        let what = format!("output callback, {format} x{channels}, {frames} frames");
        let before = Instant::now();
        as_audio_callback(&what, || callback(&mut data, &info));
        last_call = (before, Instant::now());
        for (i, frame) in data.chunks_exact(channels).enumerate() {
            let value = samples[(position + i) % FILE_FRAMES];
            let want = <T as cpal::Sample>::from_sample(value);
            assert!(
                frame.iter().all(|&s| s == want),
                "{what}: frame {i} is {frame:?}, want {want:?} on every channel"
            );
        }
        position += frames;
    }
    let what = format!("output callback, {format} x{channels}");
    let heard: Vec<f32> = (0..position).map(|f| samples[f % FILE_FRAMES]).collect();
    assert_eq!(read_all(&mut reader), heard, "{what}");
    assert_eq!(counter(&counters.frames), position as u64, "{what}");
    assert_eq!(counter(&counters.callback_allocations), 0, "{what}");
    let at = reader.captured_at(position as u64 - 1).unwrap();
    let (before, after) = last_call;
    assert!(
        before + ahead <= at && at <= after + ahead,
        "{what}: the last frame is dated when it will be heard"
    );
}

#[test]
fn the_real_playback_callback_fills_every_shape_without_allocating() {
    for channels in [1, 2, 6] {
        check_output_callback::<f32>("f32", channels);
        check_output_callback::<i16>("i16", channels);
    }
}

#[test]
fn the_real_error_callback_counts_every_kind_without_allocating() {
    use cpal::ErrorKind;
    let (writer, _reader) = capture_ring(SAMPLE_RATE_HZ, 1.0);
    let counters = writer.counters().clone();
    let mut on_error = livetag::capture::stream_error_callback(counters.clone());
    let kinds = [
        ErrorKind::DeviceBusy,
        ErrorKind::DeviceChanged,
        ErrorKind::DeviceNotAvailable,
        ErrorKind::HostUnavailable,
        ErrorKind::InvalidInput,
        ErrorKind::PermissionDenied,
        ErrorKind::RealtimeDenied,
        ErrorKind::ResourceExhausted,
        ErrorKind::StreamInvalidated,
        ErrorKind::UnsupportedConfig,
        ErrorKind::UnsupportedOperation,
        ErrorKind::Xrun,
        ErrorKind::BackendError,
        ErrorKind::Other,
    ];
    for kind in kinds {
        // Messages a backend keeps in static strings; an owned one would be freed when the
        // callback returns, which is cpal's allocation, not the callback's.
        let errors = [
            cpal::Error::new(kind),
            cpal::Error::with_message(kind, "reported by the backend"),
        ];
        for error in errors {
            as_audio_callback(&format!("error callback, {kind:?}"), || on_error(error));
        }
    }
    let notices = counters.stream_notices();
    assert_eq!(notices.xruns, 2);
    assert!(notices.device_lost);
    assert_eq!(notices.device_changed, 2);
    assert!(notices.realtime_denied);
    // DeviceBusy, InvalidInput, PermissionDenied, ResourceExhausted, UnsupportedConfig,
    // UnsupportedOperation, BackendError and Other, twice each.
    assert_eq!(notices.backend_errors, 16);
    assert_eq!(notices.last_error, Some(ErrorKind::Other));
    assert_eq!(notices.callback_allocations, 0);
}

#[cfg(debug_assertions)]
#[test]
fn the_callback_wrapper_counts_an_allocation() {
    use livetag::capture::checked_audio_callback;

    // The real callbacks report violations through this wrapper and the counter; without
    // this test, a wrapper that checked nothing would pass the two above.
    let (writer, _reader) = capture_ring(SAMPLE_RATE_HZ, 1.0);
    let counters = writer.counters().clone();
    let sum = checked_audio_callback(&counters, || 2 + 2);
    assert_eq!(sum, 4);
    assert_eq!(counter(&counters.callback_allocations), 0);
    checked_audio_callback(&counters, || {
        let buffer = vec![0u8; 64];
        std::hint::black_box(&buffer);
    });
    // One allocation and one deallocation.
    assert_eq!(counter(&counters.callback_allocations), 2);
}

#[test]
fn non_finite_samples_are_counted_and_silenced_one_by_one() {
    let (mut writer, mut reader) = capture_ring(SAMPLE_RATE_HZ, 1.0);
    let mono = [0.5, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.25];
    as_audio_callback("mono with NaN and inf", || {
        writer.write_interleaved(&mono, 1, Duration::ZERO, Duration::ZERO)
    });
    // A broken channel must not mute a good one: (NaN, 0.5) mixes to (0 + 0.5) / 2.
    let stereo = [
        f32::NAN,
        0.5,
        0.25,
        f32::INFINITY,
        f32::NAN,
        f32::NEG_INFINITY,
        0.25,
        0.75,
    ];
    as_audio_callback("stereo with NaN and inf", || {
        writer.write_interleaved(&stereo, 2, Duration::ZERO, Duration::ZERO)
    });
    let got = read_all(&mut reader);
    assert_eq!(
        got,
        [0.5, 0.0, 0.0, 0.0, -0.25, 0.25, 0.125, 0.0, 0.5],
        "NaN and inf samples must be replaced by 0 before mixing"
    );
    assert_eq!(
        counter(&writer.counters().non_finite_samples),
        3 + 4,
        "one count per bad sample, not per frame"
    );

    // A large 6-channel callback, bad samples scattered across the 512-frame mixing chunks.
    const CHANNELS: usize = 6;
    const FRAMES: usize = 4096;
    let mut data = vec![0.0f32; FRAMES * CHANNELS];
    let mut bad_samples = 0u64;
    let mut expected = vec![0.0f32; FRAMES];
    for (i, sample) in data.iter_mut().enumerate() {
        let (frame, channel) = (i / CHANNELS, i % CHANNELS);
        if i % 97 == 0 {
            *sample = if i % 2 == 0 { f32::NAN } else { f32::INFINITY };
            bad_samples += 1;
        } else {
            *sample = test_value(frame, channel);
            expected[frame] += *sample;
        }
    }
    for e in &mut expected {
        *e /= CHANNELS as f32;
    }
    let before = counter(&writer.counters().non_finite_samples);
    as_audio_callback("6 channels, 4096 frames with NaN and inf", || {
        writer.write_interleaved(&data, CHANNELS, Duration::ZERO, Duration::ZERO)
    });
    assert_eq!(
        counter(&writer.counters().non_finite_samples) - before,
        bad_samples
    );
    assert_mix(
        &read_all(&mut reader),
        &expected,
        CHANNELS,
        "6 channels with bad samples",
    );
}

#[test]
fn a_full_ring_drops_and_counts_the_newest_audio_without_allocating() {
    // capture_ring promises capacity_secs of audio: 0.1 s at 48 kHz is 4800 frames.
    let capacity_frames = 4800;
    let (mut writer, mut reader) = capture_ring(SAMPLE_RATE_HZ, 0.1);
    let counters = writer.counters().clone();

    // Three stereo 4096-frame callbacks: the second one fills the ring, the third finds it full.
    let mut offered = Vec::new();
    for block in 0..3 {
        let data: Vec<f32> = (0..4096)
            .flat_map(|f| {
                let frame = block * 4096 + f;
                [test_value(frame, 0), test_value(frame, 1)]
            })
            .collect();
        offered.extend(data.chunks_exact(2).map(|f| (f[0] + f[1]) / 2.0));
        as_audio_callback("stereo callback into a filling ring", || {
            writer.write_interleaved(&data, 2, Duration::ZERO, Duration::ZERO)
        });
    }
    assert_eq!(counter(&counters.frames), capacity_frames as u64);
    assert_eq!(
        counter(&counters.overflow_frames),
        (offered.len() - capacity_frames) as u64
    );
    assert_eq!(reader.backlog_frames(), capacity_frames);

    // The mono path, with the ring still full: everything is dropped and counted.
    let block = vec![0.125f32; 1000];
    as_audio_callback("write_mono into a full ring", || {
        writer.write_mono(&block, Duration::ZERO)
    });
    assert_eq!(
        counter(&counters.overflow_frames),
        (offered.len() - capacity_frames + block.len()) as u64
    );
    assert_eq!(counter(&counters.callbacks), 4);

    // The ring cannot overwrite from the writer's side, so what survives is the oldest
    // audio, intact and in order.
    assert_eq!(read_all(&mut reader), offered[..capacity_frames]);

    // Once the reader catches up, audio flows again and nothing more is lost.
    let lost = counter(&counters.overflow_frames);
    as_audio_callback("write_mono after the reader caught up", || {
        writer.write_mono(&block, Duration::ZERO)
    });
    assert_eq!(counter(&counters.overflow_frames), lost);
    assert_eq!(read_all(&mut reader), block);
}

#[test]
fn counters_add_up_over_mixed_callbacks() {
    // 0.25 s at 48 kHz: 12000 frames, small enough to overflow on the way.
    let capacity_frames = 12_000u64;
    let (mut writer, mut reader) = capture_ring(SAMPLE_RATE_HZ, 0.25);
    let counters = writer.counters().clone();
    let f32_stereo: Vec<f32> = (0..2 * 1024).map(|i| test_value(i, 0)).collect();
    let i16_six: Vec<i16> = (0..6 * 480).map(|i| (i % 200) as i16).collect();
    let mono: Vec<f32> = (0..441).map(|i| test_value(i, 1)).collect();

    // What a lossless ring of `capacity_frames` must do, tracked independently.
    let (mut offered, mut callbacks, mut queued, mut taken) = (0u64, 0u64, 0u64, 0u64);
    // The reader takes 400 frames per callback while ~650 arrive: the ring fills up about
    // halfway through and overflows from then on.
    let mut scratch = vec![0.0f32; 400];
    for round in 0..90 {
        let frames = match round % 3 {
            0 => {
                as_audio_callback("f32 stereo", || {
                    writer.write_interleaved(&f32_stereo, 2, Duration::ZERO, Duration::ZERO)
                });
                1024
            }
            1 => {
                as_audio_callback("i16 x6", || {
                    writer.write_interleaved(&i16_six, 6, Duration::ZERO, Duration::ZERO)
                });
                480
            }
            _ => {
                as_audio_callback("mono", || writer.write_mono(&mono, Duration::ZERO));
                441
            }
        };
        offered += frames;
        callbacks += 1;
        queued = (queued + frames).min(capacity_frames);
        let n = reader.read(&mut scratch) as u64;
        assert_eq!(n, queued.min(scratch.len() as u64));
        queued -= n;
        taken += n;
    }

    let frames = counter(&counters.frames);
    let overflow = counter(&counters.overflow_frames);
    assert_eq!(counter(&counters.callbacks), callbacks);
    assert!(overflow > 0, "the scenario must reach overflow");
    assert_eq!(frames + overflow, offered, "every frame is kept or counted");
    assert_eq!(reader.frames_read(), taken);
    assert_eq!(
        reader.frames_read() + reader.backlog_frames() as u64,
        frames,
        "the ring neither loses nor invents frames"
    );
    assert_eq!(reader.backlog_frames() as u64, queued);
    assert_eq!(counter(&counters.non_finite_samples), 0);
    assert!(counter(&counters.max_callback_ns) > 0);
    assert!(!counters
        .device_lost
        .load(std::sync::atomic::Ordering::Relaxed));
}

#[test]
fn frames_of_one_callback_are_spaced_by_the_sample_clock() {
    let (mut writer, mut reader) = capture_ring(SAMPLE_RATE_HZ, 2.0);
    // One second and one frame in a single callback: frames 0 and 48000 are exactly 1 s
    // apart on the sample clock.
    let block = vec![0.25f32; SAMPLE_RATE_HZ as usize + 1];
    let before = Instant::now();
    as_audio_callback("one second in one callback", || {
        writer.write_mono(&block, Duration::ZERO)
    });
    let after = Instant::now();
    assert_eq!(read_all(&mut reader).len(), block.len());

    // The writer stamps the callback's last frame with the time of the call and dates the
    // others back by 1/48000 s per frame. 480 frames are 10 ms; with integer nanoseconds
    // at 48 kHz these steps come out exact.
    let mut previous = reader.captured_at(0).expect("a mark for frame 0");
    let first = previous;
    for frame in (480..=SAMPLE_RATE_HZ as u64).step_by(480) {
        let at = reader.captured_at(frame).expect("a mark");
        assert_eq!(at - previous, Duration::from_millis(10), "frame {frame}");
        previous = at;
    }
    assert_eq!(previous - first, Duration::from_secs(1));
    assert!(
        before <= previous && previous <= after,
        "the last frame of a callback is captured when the callback runs"
    );
}

#[test]
fn input_latency_and_playback_lead_shift_the_capture_instant() {
    let (mut writer, mut reader) = capture_ring(SAMPLE_RATE_HZ, 1.0);
    let block = vec![0.0f32; 480];
    // An input device's buffering: its last frame was captured 5 ms before the callback.
    let latency = Duration::from_millis(5);
    let before = Instant::now();
    as_audio_callback("input callback", || {
        writer.write_interleaved(&block, 1, latency, Duration::ZERO)
    });
    let after = Instant::now();
    // Demo mode: this block will be heard 250 ms after it is queued.
    let ahead = Duration::from_millis(250);
    let before_ahead = Instant::now();
    as_audio_callback("playback block", || writer.write_mono(&block, ahead));
    let after_ahead = Instant::now();
    read_all(&mut reader);

    let captured = reader.captured_at(479).unwrap();
    assert!(before - latency <= captured && captured <= after - latency);
    let heard = reader.captured_at(959).unwrap();
    assert!(before_ahead + ahead <= heard && heard <= after_ahead + ahead);
}

#[test]
fn callbacks_on_the_sample_clock_give_one_monotonic_timeline() {
    // Each callback is stamped with its own arrival time, and frames are dated back from
    // it. So the timeline is monotonic across callbacks only if callbacks come at the
    // pace of the sample clock: one that comes early dates its first frame before the
    // previous callback's last. A loop here runs far faster than real time; scheduling
    // block k to be heard k * 10 ms after it is queued (as the demo player does with
    // `ahead`) puts it back on the sample clock, whatever the loop's speed.
    const BLOCK_FRAMES: usize = 480;
    const BLOCKS: usize = 101;
    let (mut writer, mut reader) = capture_ring(SAMPLE_RATE_HZ, 2.0);
    let block = vec![0.0f32; BLOCK_FRAMES];
    let mut call_windows = Vec::with_capacity(BLOCKS);
    for k in 0..BLOCKS {
        let ahead = Duration::from_millis(10 * k as u64);
        let before = Instant::now();
        as_audio_callback("paced block", || writer.write_mono(&block, ahead));
        call_windows.push((before, Instant::now()));
    }
    assert_eq!(read_all(&mut reader).len(), BLOCK_FRAMES * BLOCKS);

    let mut previous = reader.captured_at(0).unwrap();
    let first = previous;
    for frame in 1..(BLOCK_FRAMES * BLOCKS) as u64 {
        let at = reader.captured_at(frame).unwrap();
        assert!(
            at > previous,
            "frame {frame} is not after frame {}",
            frame - 1
        );
        previous = at;
    }

    // Frame f of block k is at t_k + (f - 479) / 48000 s, where t_k is when callback k
    // ran; frames 0 and 48000 (block 100) are 1 s plus (t_100 - t_0) apart. Nanosecond
    // truncation costs under 1 ns per instant.
    let one_sec = reader.captured_at(SAMPLE_RATE_HZ as u64).unwrap() - first;
    let (before_0, after_0) = call_windows[0];
    let (before_100, after_100) = call_windows[100];
    let slack = Duration::from_nanos(2);
    assert!(
        one_sec + slack >= Duration::from_secs(1) + (before_100 - after_0)
            && one_sec <= Duration::from_secs(1) + (after_100 - before_0) + slack,
        "frames 48000 apart are {one_sec:?} apart"
    );
}

#[test]
fn each_callback_is_dated_by_its_own_arrival_even_when_marks_overflow() {
    // The writer keeps one timing mark per callback in a small ring of its own. A reader
    // that falls far behind loses marks: that must cost timing precision only, never
    // audio, and never an allocation.
    let (mut writer, mut reader) = capture_ring(SAMPLE_RATE_HZ, 1.0);
    let block = vec![0.5f32; 8];
    let mut call_windows = Vec::new();
    for _ in 0..3000 {
        let before = Instant::now();
        as_audio_callback("tiny callback", || {
            writer.write_mono(&block, Duration::ZERO)
        });
        call_windows.push((before, Instant::now()));
    }
    let audio = read_all(&mut reader);
    assert_eq!(audio.len(), 3000 * 8);
    assert!(audio.iter().all(|&s| s == 0.5));
    assert_eq!(counter(&writer.counters().callbacks), 3000);
    assert_eq!(counter(&writer.counters().overflow_frames), 0);

    // The first callbacks' marks were kept: their last frames carry their own call time.
    for (k, &(before, after)) in call_windows.iter().take(100).enumerate() {
        let at = reader.captured_at(k as u64 * 8 + 7).unwrap();
        assert!(before <= at && at <= after, "callback {k}");
    }
    // Later frames still get an instant, extrapolated on the sample clock.
    assert!(reader.captured_at(3000 * 8 - 1).is_some());
}
