//! Streaming short-time Fourier transform.
//!
//! Samples arrive in chunks of any size; frames come out hop by hop. The FFT plan, the
//! window and every buffer are made once in [`StftFramer::new`], so pushing samples never
//! allocates once the internal buffer has grown to its working size (a few frames).

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use super::FrontendError;

/// Window functions, named as the bundle spec names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    /// Periodic Hann (`scipy.signal.get_window('hann', n, fftbins=True)`, librosa's default).
    Hann,
    /// Symmetric Hann (`np.hanning`), as madmom uses.
    HannSymmetric,
    /// Periodic Hamming.
    Hamming,
    /// Symmetric Hamming (`np.hamming`, `scipy.signal.windows.hamming(sym=True)`), as the
    /// DCASE 2018 Task 2 baseline hands to `scipy.signal.spectrogram`.
    HammingSymmetric,
    /// No taper.
    Rect,
}

impl WindowKind {
    fn coefficients(self, len: usize) -> Vec<f32> {
        let two_pi = 2.0 * std::f64::consts::PI;
        // Periodic windows divide by N, symmetric ones by N - 1.
        let denom = match self {
            WindowKind::HannSymmetric | WindowKind::HammingSymmetric => {
                len.saturating_sub(1).max(1) as f64
            }
            _ => len as f64,
        };
        (0..len)
            .map(|i| {
                let phase = two_pi * i as f64 / denom;
                let value = match self {
                    WindowKind::Hann | WindowKind::HannSymmetric => 0.5 - 0.5 * phase.cos(),
                    WindowKind::Hamming | WindowKind::HammingSymmetric => 0.54 - 0.46 * phase.cos(),
                    WindowKind::Rect => 1.0,
                };
                value as f32
            })
            .collect()
    }
}

/// How the half frame before the first sample is filled when frames are centred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PadMode {
    /// Zeros (librosa >= 0.10 default).
    Constant,
    /// Mirror without repeating the edge sample (`np.pad(mode="reflect")`).
    Reflect,
}

/// STFT parameters, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct StftParams {
    pub n_fft: usize,
    pub win_length: usize,
    pub hop_samples: usize,
    pub window: WindowKind,
    pub center: bool,
    pub pad_mode: PadMode,
    /// 1.0 for magnitude, 2.0 for power.
    pub power: f32,
    /// Keep `n_fft / 2` bins instead of `n_fft / 2 + 1` (madmom).
    pub drop_nyquist: bool,
}

impl StftParams {
    pub fn validate(&self) -> Result<(), FrontendError> {
        let invalid = |reason: String| Err(FrontendError::InvalidParameter(reason));
        if self.n_fft < 2 || self.n_fft % 2 != 0 {
            return invalid(format!(
                "n_fft must be even and at least 2, got {}",
                self.n_fft
            ));
        }
        if self.win_length == 0 || self.win_length > self.n_fft {
            return invalid(format!(
                "win_length must be between 1 and n_fft ({}), got {}",
                self.n_fft, self.win_length
            ));
        }
        if self.hop_samples == 0 || self.hop_samples > self.n_fft {
            return invalid(format!(
                "hop_samples must be between 1 and n_fft ({}), got {}",
                self.n_fft, self.hop_samples
            ));
        }
        if self.power != 1.0 && self.power != 2.0 {
            return invalid(format!("power must be 1.0 or 2.0, got {}", self.power));
        }
        Ok(())
    }

    /// Number of spectrum bins each frame has.
    pub fn n_bins(&self) -> usize {
        if self.drop_nyquist {
            self.n_fft / 2
        } else {
            self.n_fft / 2 + 1
        }
    }

    /// Samples of padding before the first sample (and after the last, offline).
    pub fn pad_samples(&self) -> usize {
        if self.center {
            self.n_fft / 2
        } else {
            0
        }
    }

    /// Frames produced for a whole signal of `len_samples`, end padding included.
    pub fn frames_for(&self, len_samples: usize) -> usize {
        if self.center {
            1 + len_samples / self.hop_samples
        } else if len_samples >= self.n_fft {
            1 + (len_samples - self.n_fft) / self.hop_samples
        } else {
            0
        }
    }

    /// Shortest signal that yields `frames` frames offline.
    pub fn samples_for_frames(&self, frames: usize) -> usize {
        let steps = frames.saturating_sub(1) * self.hop_samples;
        if self.center {
            steps
        } else {
            steps + self.n_fft
        }
    }
}

/// Turns a stream of samples into a stream of magnitude or power spectra.
pub struct StftFramer {
    params: StftParams,
    /// Window of `n_fft` coefficients, zero outside the centred `win_length`.
    window: Vec<f32>,
    fft: HalfFft,
    /// Run the AVX2 + FMA build of the hot loops.
    wide: bool,
    spectrum: Vec<f32>,
    /// Padded signal not yet consumed; `pending[0]` is the first sample of the next frame.
    pending: Vec<f32>,
    /// The last `pad + 1` input samples, for reflect padding at the end.
    recent: Vec<f32>,
    /// Whether the start padding has been written into `pending`.
    started: bool,
}

impl StftFramer {
    pub fn new(params: StftParams) -> Result<Self, FrontendError> {
        params.validate()?;
        let n_fft = params.n_fft;
        let mut window = vec![0.0; n_fft];
        let offset = (n_fft - params.win_length) / 2;
        window[offset..offset + params.win_length]
            .copy_from_slice(&params.window.coefficients(params.win_length));
        let pad = params.pad_samples();
        Ok(Self {
            spectrum: vec![0.0; params.n_bins()],
            pending: Vec::with_capacity(4 * n_fft),
            recent: Vec::with_capacity(pad + 1),
            window,
            fft: HalfFft::new(n_fft),
            wide: super::simd::avx2_fma(),
            started: false,
            params,
        })
    }

    pub fn params(&self) -> &StftParams {
        &self.params
    }

    /// Forget all audio, as if newly made.
    pub fn reset(&mut self) {
        self.pending.clear();
        self.recent.clear();
        self.started = false;
    }

    /// Feeds samples; calls `on_frame` with each spectrum that becomes complete.
    pub fn push(&mut self, samples: &[f32], mut on_frame: impl FnMut(&[f32])) {
        self.remember_recent(samples);
        self.pending.extend_from_slice(samples);
        if !self.started {
            let pad = self.params.pad_samples();
            let reflect = self.params.center && self.params.pad_mode == PadMode::Reflect;
            if reflect && self.pending.len() < pad + 1 {
                // Reflect padding needs samples 1..=pad before the first frame exists.
                return;
            }
            self.write_start_padding(pad, reflect);
            self.started = true;
        }
        self.drain_frames(&mut on_frame);
    }

    /// Ends the stream: pads the end as the offline transform would and emits the last
    /// frames. The framer is then reset.
    pub fn finish(&mut self, mut on_frame: impl FnMut(&[f32])) {
        let pad = self.params.pad_samples();
        let reflect = self.params.center && self.params.pad_mode == PadMode::Reflect;
        // Too short to mirror: librosa refuses such input; zeros are the honest fallback.
        let can_reflect = reflect && self.recent.len() > pad;
        if !self.started {
            self.write_start_padding(pad, can_reflect);
            self.started = true;
        }
        if self.params.center {
            if can_reflect {
                // np.pad reflect at the end: x[n-2], x[n-3], ..., x[n-1-pad].
                let n = self.recent.len();
                for i in 0..pad {
                    let sample = self.recent[n - 2 - i];
                    self.pending.push(sample);
                }
            } else {
                self.pending.resize(self.pending.len() + pad, 0.0);
            }
        }
        self.drain_frames(&mut on_frame);
        self.reset();
    }

    fn write_start_padding(&mut self, pad: usize, reflect: bool) {
        if pad == 0 {
            return;
        }
        let old_len = self.pending.len();
        self.pending.resize(old_len + pad, 0.0);
        self.pending.copy_within(0..old_len, pad);
        if reflect {
            // np.pad reflect at the start: x[pad], x[pad-1], ..., x[1].
            for i in 0..pad {
                self.pending[i] = self.pending[pad + pad - i];
            }
        } else {
            self.pending[..pad].fill(0.0);
        }
    }

    fn remember_recent(&mut self, samples: &[f32]) {
        let keep = self.params.pad_samples() + 1;
        if samples.len() >= keep {
            self.recent.clear();
            self.recent
                .extend_from_slice(&samples[samples.len() - keep..]);
        } else {
            let overflow = (self.recent.len() + samples.len()).saturating_sub(keep);
            self.recent.drain(..overflow);
            self.recent.extend_from_slice(samples);
        }
    }

    fn drain_frames(&mut self, on_frame: &mut impl FnMut(&[f32])) {
        let n_fft = self.params.n_fft;
        let hop = self.params.hop_samples;
        let mut start = 0;
        while start + n_fft <= self.pending.len() {
            self.transform(start);
            on_frame(&self.spectrum);
            start += hop;
        }
        // Keep what later frames still need; drain does not shrink the allocation.
        // `start <= len` holds because hop_samples <= n_fft (checked in validate).
        self.pending.drain(..start);
    }

    fn transform(&mut self, start: usize) {
        let frame = &self.pending[start..start + self.params.n_fft];
        match self.wide {
            // SAFETY: `wide` is only set when the CPU has AVX2 and FMA.
            #[cfg(target_arch = "x86_64")]
            true => unsafe {
                self.fft
                    .power_spectrum_avx2_fma(frame, &self.window, &mut self.spectrum)
            },
            _ => self
                .fft
                .power_spectrum(frame, &self.window, &mut self.spectrum),
        }
        if self.params.power == 1.0 {
            self.spectrum.iter_mut().for_each(|v| *v = v.sqrt());
        }
    }
}

/// The FFT of a real frame of `n` samples through a complex FFT of `n / 2`: even samples
/// as real parts, odd ones as imaginary, then untangled. Half the transform of a complex
/// FFT of `n`, and unlike realfft's post-processing, the untangling loop vectorises.
struct HalfFft {
    fft: Arc<dyn Fft<f32>>,
    buffer: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    /// `cos` and `sin` of `2 pi k / n`, for k in `0..n / 2`.
    twiddles: Vec<(f32, f32)>,
}

impl HalfFft {
    fn new(n: usize) -> Self {
        let half = n / 2;
        let fft = FftPlanner::<f32>::new().plan_fft_forward(half);
        let scratch = vec![Complex::default(); fft.get_inplace_scratch_len()];
        let twiddles = (0..half)
            .map(|k| {
                let phase = 2.0 * std::f64::consts::PI * k as f64 / n as f64;
                (phase.cos() as f32, phase.sin() as f32)
            })
            .collect();
        Self {
            fft,
            buffer: vec![Complex::default(); half],
            scratch,
            twiddles,
        }
    }

    /// [`Self::power_spectrum`] compiled for AVX2 and FMA: its loops run 8 lanes wide.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn power_spectrum_avx2_fma(&mut self, frame: &[f32], window: &[f32], power: &mut [f32]) {
        self.power_spectrum(frame, window, power)
    }

    /// `power[k] = |FFT(frame * window)[k]|^2` for the bins `power` holds (`n / 2` or
    /// `n / 2 + 1`).
    #[inline(always)]
    fn power_spectrum(&mut self, frame: &[f32], window: &[f32], power: &mut [f32]) {
        for ((dst, x), w) in self
            .buffer
            .iter_mut()
            .zip(frame.chunks_exact(2))
            .zip(window.chunks_exact(2))
        {
            *dst = Complex::new(x[0] * w[0], x[1] * w[1]);
        }
        self.fft
            .process_with_scratch(&mut self.buffer, &mut self.scratch);
        // Z = FFT(even + i odd) holds both halves' spectra: with Zc = conj(Z[M - k]),
        // E = (Z[k] + Zc) / 2 and O = -i (Z[k] - Zc) / 2, and X[k] = E + e^(-2 pi i k / N) O.
        let z = &self.buffer;
        let half = z.len();
        power[0] = (z[0].re + z[0].im).powi(2);
        if power.len() > half {
            power[half] = (z[0].re - z[0].im).powi(2);
        }
        let mirrored = z[1..].iter().rev();
        for (((dst, a), b), &(cos, sin)) in power[1..half]
            .iter_mut()
            .zip(&z[1..])
            .zip(mirrored)
            .zip(&self.twiddles[1..])
        {
            let (even_re, even_im) = (0.5 * (a.re + b.re), 0.5 * (a.im - b.im));
            let (odd_re, odd_im) = (0.5 * (a.im + b.im), 0.5 * (b.re - a.re));
            let re = even_re + odd_re * cos + odd_im * sin;
            let im = even_im + odd_im * cos - odd_re * sin;
            *dst = re * re + im * im;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{HalfFft, WindowKind};

    #[test]
    fn hamming_windows_are_numpys_and_scipys() {
        // np.hamming(5) and scipy.signal.get_window("hamming", 4) (periodic: the first 4 of
        // a symmetric 5-point window).
        let close = |got: Vec<f32>, want: &[f32]| {
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-7, "{got:?} vs {want:?}");
            }
        };
        close(
            WindowKind::HammingSymmetric.coefficients(5),
            &[0.08, 0.54, 1.0, 0.54, 0.08],
        );
        close(
            WindowKind::Hamming.coefficients(4),
            &[0.08, 0.54, 1.0, 0.54],
        );
        // The DCASE 2018 baseline's np.hamming(2048) is symmetric: its last value is 0.08.
        let long = WindowKind::HammingSymmetric.coefficients(2048);
        assert!((long[2047] - 0.08).abs() < 1e-7 && long[0] == long[2047]);
    }

    /// |DFT|^2 in f64, straight from the definition.
    fn naive_power(frame: &[f32], window: &[f32], bins: usize) -> Vec<f64> {
        let n = frame.len();
        (0..bins)
            .map(|k| {
                let (mut re, mut im) = (0.0f64, 0.0f64);
                for (j, (&x, &w)) in frame.iter().zip(window).enumerate() {
                    let phase = -2.0 * std::f64::consts::PI * (k * j) as f64 / n as f64;
                    let v = f64::from(x) * f64::from(w);
                    re += v * phase.cos();
                    im += v * phase.sin();
                }
                re * re + im * im
            })
            .collect()
    }

    #[test]
    fn half_length_fft_matches_the_dft_in_both_builds() {
        for n in [16usize, 400, 512, 1024] {
            let frame: Vec<f32> = (0..n)
                .map(|i| ((i * 7919) % 211) as f32 / 105.0 - 1.0)
                .collect();
            let window: Vec<f32> = (0..n)
                .map(|i| 0.5 + 0.5 * (i as f32 * 0.01).cos())
                .collect();
            // n / 2 + 1 bins (librosa) and n / 2 (madmom drops the Nyquist bin).
            for bins in [n / 2 + 1, n / 2] {
                let want = naive_power(&frame, &window, bins);
                let peak = want.iter().copied().fold(0.0, f64::max);
                let mut fft = HalfFft::new(n);
                let mut baseline = vec![0.0f32; bins];
                fft.power_spectrum(&frame, &window, &mut baseline);
                let mut builds = vec![baseline];
                if crate::dsp::simd::avx2_fma() {
                    let mut wide = vec![0.0f32; bins];
                    // SAFETY: checked just above.
                    #[cfg(target_arch = "x86_64")]
                    unsafe {
                        fft.power_spectrum_avx2_fma(&frame, &window, &mut wide)
                    };
                    builds.push(wide);
                }
                for got in &builds {
                    for (k, (&g, &w)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            (f64::from(g) - w).abs() <= 1e-5 * peak,
                            "n {n}, bin {k}: {g} vs {w}"
                        );
                    }
                }
            }
        }
    }
}
