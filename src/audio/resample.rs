//! Offline, whole-signal sample-rate conversion with rubato's FFT resampler.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use super::{AudioError, ResampleProblem};

/// Lowest sample rate accepted by [`resample`].
pub const MIN_RATE_HZ: u32 = 1_000;

/// Highest sample rate accepted by [`resample`]. Rates come from file headers, and the FFT
/// size grows with the rates, so an absurd header must not turn into a huge allocation.
pub const MAX_RATE_HZ: u32 = 768_000;

/// Target frames per `process` call. Only a hint: rubato rounds it to a multiple of the
/// reduced rate ratio. Larger chunks amortise FFT overhead; the value barely matters offline.
const CHUNK_FRAMES: usize = 1024;

/// Resamples a whole mono signal from `from_hz` to `to_hz`.
///
/// Uses rubato's synchronous FFT resampler (band-limited, anti-aliased, exact rational
/// ratio). Its processing delay is trimmed, so a feature at time `t` in the input is at
/// time `t` in the output, and the output has exactly `round(len * to_hz / from_hz)`
/// samples. Equal rates return a copy.
///
/// # Errors
/// [`AudioError::Resample`] when a rate is outside `MIN_RATE_HZ..=MAX_RATE_HZ` or rubato
/// fails.
pub fn resample(samples: &[f32], from_hz: u32, to_hz: u32) -> Result<Vec<f32>, AudioError> {
    let fail = |source: ResampleProblem| AudioError::Resample { path: None, source };
    check_rate(from_hz).map_err(fail)?;
    check_rate(to_hz).map_err(fail)?;
    if from_hz == to_hz {
        return Ok(samples.to_vec());
    }
    let output_frames = expected_output_frames(samples.len(), from_hz, to_hz)
        .ok_or_else(|| fail(ResampleProblem::TooLong))?;
    if samples.is_empty() {
        return Ok(Vec::new());
    }

    let mut resampler = new_file_resampler(from_hz, to_hz).map_err(|err| fail(err.into()))?;

    // process_all_into_buffer drops the first output_delay() frames and keeps pumping
    // zeros through the tail, so the output starts at input time zero and is not cut short.
    let buffer_frames = resampler.process_all_needed_output_len(samples.len());
    let mut output = vec![0.0f32; buffer_frames];
    let input_adapter =
        InterleavedSlice::new(samples, 1, samples.len()).map_err(|err| fail(err.into()))?;
    let mut output_adapter =
        InterleavedSlice::new_mut(&mut output, 1, buffer_frames).map_err(|err| fail(err.into()))?;
    let (_, produced_frames) = resampler
        .process_all_into_buffer(&input_adapter, &mut output_adapter, samples.len(), None)
        .map_err(|err| fail(err.into()))?;

    // rubato produces ceil(len * ratio); callers get the rounded length so that a
    // there-and-back round trip returns the original length.
    if produced_frames < output_frames {
        return Err(fail(ResampleProblem::ShortOutput {
            produced: produced_frames,
            expected: output_frames,
        }));
    }
    output.truncate(output_frames);
    Ok(output)
}

/// Validates one sample rate.
pub(super) fn check_rate(rate_hz: u32) -> Result<(), ResampleProblem> {
    if (MIN_RATE_HZ..=MAX_RATE_HZ).contains(&rate_hz) {
        Ok(())
    } else {
        Err(ResampleProblem::RateOutOfRange(rate_hz))
    }
}

/// `round(input_frames * to_hz / from_hz)` in exact integer arithmetic, half rounding up.
fn expected_output_frames(input_frames: usize, from_hz: u32, to_hz: u32) -> Option<usize> {
    let from = u128::from(from_hz);
    let scaled = (input_frames as u128).checked_mul(u128::from(to_hz))?;
    let rounded = scaled.checked_add(from / 2)? / from;
    usize::try_from(rounded).ok()
}

/// [`resample`] of a file that arrives in pieces, in bounded memory: the same rubato FFT
/// resampler, fed the same blocks as `process_all_into_buffer` feeds it (whole chunks while
/// more than a chunk is left, then the zero-padded last chunk, then blocks of zeros), its
/// delay trimmed, and the output cut at `round(len * to_hz / from_hz)`. The sum of what
/// [`push`](Self::push) and [`finish`](Self::finish) give is exactly `resample(all)`.
///
/// Output that could lie past the end of the signal is held back until `finish`, when the
/// length is known: at most a chunk plus the delay.
pub struct FileResampler {
    inner: Fft<f32>,
    from_hz: u32,
    to_hz: u32,
    chunk_frames: usize,
    /// Input not yet given to rubato.
    pending: Vec<f32>,
    /// One call's output.
    block: Vec<f32>,
    /// Converted, delay trimmed, not yet handed out.
    held: Vec<f32>,
    delay_left: usize,
    input_frames: u64,
    output_frames: u64,
}

impl FileResampler {
    /// # Errors
    /// [`AudioError::Resample`] for a rate outside the supported range, equal rates, or
    /// a resampler rubato cannot build.
    pub fn new(from_hz: u32, to_hz: u32) -> Result<Self, AudioError> {
        let fail = |source: ResampleProblem| AudioError::Resample { path: None, source };
        check_rate(from_hz).map_err(fail)?;
        check_rate(to_hz).map_err(fail)?;
        if from_hz == to_hz {
            return Err(fail(ResampleProblem::SameRate(from_hz)));
        }
        let inner = new_file_resampler(from_hz, to_hz).map_err(|err| fail(err.into()))?;
        let chunk_frames = inner.input_frames_next();
        Ok(Self {
            from_hz,
            to_hz,
            chunk_frames,
            pending: Vec::with_capacity(2 * chunk_frames),
            block: vec![0.0; inner.output_frames_max()],
            held: Vec::with_capacity(inner.output_delay() + 2 * inner.output_frames_max()),
            delay_left: inner.output_delay(),
            inner,
            input_frames: 0,
            output_frames: 0,
        })
    }

    /// Converts `input`, appending to `out` what is certainly part of the result.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), AudioError> {
        self.input_frames += input.len() as u64;
        self.pending.extend_from_slice(input);
        // process_all_into_buffer runs whole chunks while more than a chunk is left.
        let mut consumed = 0;
        while self.pending.len() - consumed > self.chunk_frames {
            let end = consumed + self.chunk_frames;
            Self::convert(
                &mut self.inner,
                &self.pending[consumed..end],
                &mut self.block,
                &mut self.held,
                &mut self.delay_left,
            )?;
            consumed = end;
        }
        self.pending.drain(..consumed);
        // The signal is at least this long, so this much output is final.
        let known = expected_output_frames(self.input_frames as usize, self.from_hz, self.to_hz)
            .unwrap_or(usize::MAX) as u64;
        self.release(known, out);
        Ok(())
    }

    /// Ends the signal: converts the last partial chunk, pumps zeros until the output is
    /// long enough, and appends the rest of the output to `out`. Then ready for nothing
    /// more (make a new one per file).
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), AudioError> {
        let total = expected_output_frames(self.input_frames as usize, self.from_hz, self.to_hz)
            .ok_or(AudioError::Resample {
                path: None,
                source: ResampleProblem::TooLong,
            })? as u64;
        if !self.pending.is_empty() {
            // The last partial chunk, zero-padded as rubato pads it.
            self.pending.resize(self.chunk_frames, 0.0);
            Self::convert(
                &mut self.inner,
                &self.pending,
                &mut self.block,
                &mut self.held,
                &mut self.delay_left,
            )?;
            self.pending.clear();
        }
        let zeros = vec![0.0f32; self.chunk_frames];
        while self.output_frames + (self.held.len() as u64) < total {
            Self::convert(
                &mut self.inner,
                &zeros,
                &mut self.block,
                &mut self.held,
                &mut self.delay_left,
            )?;
        }
        self.release(total, out);
        self.held.clear();
        Ok(())
    }

    fn release(&mut self, limit: u64, out: &mut Vec<f32>) {
        let n = (self.held.len() as u64).min(limit.saturating_sub(self.output_frames)) as usize;
        out.extend_from_slice(&self.held[..n]);
        self.held.drain(..n);
        self.output_frames += n as u64;
    }

    /// One rubato call on one full chunk; its output, after the delay, goes to `held`.
    fn convert(
        inner: &mut Fft<f32>,
        chunk: &[f32],
        block: &mut [f32],
        held: &mut Vec<f32>,
        delay_left: &mut usize,
    ) -> Result<(), AudioError> {
        let fail = |source: ResampleProblem| AudioError::Resample { path: None, source };
        let block_frames = block.len();
        let input_adapter =
            InterleavedSlice::new(chunk, 1, chunk.len()).map_err(|err| fail(err.into()))?;
        let mut output_adapter =
            InterleavedSlice::new_mut(block, 1, block_frames).map_err(|err| fail(err.into()))?;
        let (_, produced) = inner
            .process_into_buffer(&input_adapter, &mut output_adapter, None)
            .map_err(|err| fail(err.into()))?;
        let skip = (*delay_left).min(produced);
        *delay_left -= skip;
        held.extend_from_slice(&block[skip..produced]);
        Ok(())
    }
}

/// The resampler [`resample`] and [`FileResampler`] both use.
fn new_file_resampler(
    from_hz: u32,
    to_hz: u32,
) -> Result<Fft<f32>, rubato::ResamplerConstructionError> {
    Fft::<f32>::new(
        from_hz as usize,
        to_hz as usize,
        CHUNK_FRAMES,
        1,
        FixedSync::Both,
    )
}

/// Sample-rate conversion of an endless stream, for the live path.
///
/// Input is converted in blocks of about 10 ms. The resampler's delay is trimmed from the
/// start of the output, so output sample `k` still belongs to input time `k / to_hz`; the
/// price is that output trails input by up to a block plus that delay.
pub struct StreamResampler {
    inner: Option<Fft<f32>>,
    pending: Vec<f32>,
    output: Vec<f32>,
    skip_frames: usize,
}

impl StreamResampler {
    /// # Errors
    /// [`AudioError::Resample`] for a rate outside the supported range.
    pub fn new(from_hz: u32, to_hz: u32) -> Result<Self, AudioError> {
        let fail = |source: ResampleProblem| AudioError::Resample { path: None, source };
        check_rate(from_hz).map_err(fail)?;
        check_rate(to_hz).map_err(fail)?;
        if from_hz == to_hz {
            return Ok(Self {
                inner: None,
                pending: Vec::new(),
                output: Vec::new(),
                skip_frames: 0,
            });
        }
        let block_frames = (from_hz as usize / 100).max(64);
        let inner = Fft::<f32>::new(
            from_hz as usize,
            to_hz as usize,
            block_frames,
            1,
            FixedSync::Input,
        )
        .map_err(|err| fail(err.into()))?;
        Ok(Self {
            pending: Vec::with_capacity(inner.input_frames_max() * 2),
            output: vec![0.0; inner.output_frames_max()],
            skip_frames: inner.output_delay(),
            inner: Some(inner),
        })
    }

    /// Converts `input`, handing each converted block to `on_output`.
    pub fn push(&mut self, input: &[f32], mut on_output: impl FnMut(&[f32])) {
        let Some(inner) = &mut self.inner else {
            on_output(input);
            return;
        };
        self.pending.extend_from_slice(input);
        let mut consumed = 0;
        loop {
            let needed = inner.input_frames_next();
            if self.pending.len() - consumed < needed {
                break;
            }
            let block = &self.pending[consumed..consumed + needed];
            let (Ok(input_adapter), Ok(mut output_adapter)) = (
                InterleavedSlice::new(block, 1, needed),
                InterleavedSlice::new_mut(&mut self.output, 1, inner.output_frames_max()),
            ) else {
                break;
            };
            let Ok((used, produced)) =
                inner.process_into_buffer(&input_adapter, &mut output_adapter, None)
            else {
                break;
            };
            consumed += used;
            let skip = self.skip_frames.min(produced);
            self.skip_frames -= skip;
            if produced > skip {
                on_output(&self.output[skip..produced]);
            }
        }
        self.pending.drain(..consumed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_length_rounds_to_nearest() {
        assert_eq!(expected_output_frames(44_100, 44_100, 16_000), Some(16_000));
        // 3 * 16000 / 44100 = 1.088 -> 1
        assert_eq!(expected_output_frames(3, 44_100, 16_000), Some(1));
        // 1 * 48000 / 32000 = 1.5 -> 2
        assert_eq!(expected_output_frames(1, 32_000, 48_000), Some(2));
        assert_eq!(expected_output_frames(0, 8_000, 48_000), Some(0));
    }

    #[test]
    fn rejects_out_of_range_rates() {
        assert!(matches!(
            resample(&[0.0; 10], 0, 16_000),
            Err(AudioError::Resample { .. })
        ));
        assert!(matches!(
            resample(&[0.0; 10], 16_000, u32::MAX),
            Err(AudioError::Resample { .. })
        ));
    }

    #[test]
    fn tiny_inputs_have_exact_length() {
        for len in [1usize, 2, 3, 7, 100] {
            let input = vec![0.25f32; len];
            for (from, to) in [(44_100, 16_000), (8_000, 48_000), (48_000, 32_000)] {
                let out = resample(&input, from, to).expect("resample");
                assert_eq!(
                    Some(out.len()),
                    expected_output_frames(len, from, to),
                    "len {len} {from}->{to}"
                );
            }
        }
    }

    #[test]
    fn file_resampler_equals_resample_in_any_chunking() {
        let signal: Vec<f32> = (0..20_000)
            .map(|i| (i as f32 * 0.013).sin() * 0.4 + ((i * 7919 % 113) as f32 / 113.0 - 0.5) * 0.1)
            .collect();
        for (from, to) in [
            (44_100, 16_000),
            (48_000, 32_000),
            (8_000, 48_000),
            (22_050, 16_000),
        ] {
            for len in [1usize, 5, 100, 1023, 1024, 1025, 2048, 2049, 4410, 19_999] {
                let input = &signal[..len];
                let whole = resample(input, from, to).expect("resample");
                for piece in [1usize, 7, 1000, 1024, 1025, 4096, 100_000] {
                    let mut streamed = Vec::new();
                    let mut resampler = FileResampler::new(from, to).expect("new");
                    for chunk in input.chunks(piece) {
                        resampler.push(chunk, &mut streamed).expect("push");
                    }
                    resampler.finish(&mut streamed).expect("finish");
                    assert!(
                        streamed == whole,
                        "{from}->{to}, {len} samples in pieces of {piece}"
                    );
                }
            }
        }
    }

    #[test]
    fn streaming_resampler_keeps_time_aligned_in_any_chunking() {
        // A 1 kHz sine at 48 kHz, fed in uneven chunks, must come out as the same sine at
        // 16 kHz with no time shift: the resampler's delay is trimmed.
        let input: Vec<f32> = (0..48_000)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 48_000.0).sin() * 0.5)
            .collect();
        let mut resampler = super::StreamResampler::new(48_000, 16_000).unwrap();
        let mut output = Vec::new();
        let mut at = 0;
        for chunk in [1usize, 7, 480, 1000, 33, 4096].iter().cycle() {
            if at >= input.len() {
                break;
            }
            let end = (at + chunk).min(input.len());
            resampler.push(&input[at..end], |block| output.extend_from_slice(block));
            at = end;
        }
        // All but the last block and the trimmed delay come out.
        assert!(
            output.len() > 15_000 && output.len() <= 16_000,
            "{}",
            output.len()
        );
        let worst = output
            .iter()
            .enumerate()
            .skip(200)
            .map(|(k, &y)| {
                let expected =
                    (2.0 * std::f32::consts::PI * 1000.0 * k as f32 / 16_000.0).sin() * 0.5;
                (y - expected).abs()
            })
            .fold(0.0f32, f32::max);
        assert!(worst < 5e-3, "max deviation from the ideal sine {worst}");
    }
}
