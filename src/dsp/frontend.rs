//! The streaming feature front-end: STFT, then the bundle's ordered steps, frame by frame.
//!
//! [`FrontendSpec`] is the `[frontend]` table of a bundle; [`Frontend`] is its running form.
//! Offline and live use the same code: offline is `push` of the whole signal then `finish`.

use serde::{Deserialize, Serialize};

use half::slice::HalfFloatSliceExt;

use super::fastlog::ln_in_place;
use super::filterbank::{a_weighting_db, Filterbank, MelNorm, MelScale};
use super::stft::{PadMode, StftFramer, StftParams, WindowKind};
use super::FrontendError;

fn default_true() -> bool {
    true
}
fn default_fref_hz() -> f64 {
    440.0
}

/// The `[frontend]` table of a bundle spec.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FrontendSpec {
    pub n_fft: usize,
    /// Defaults to `n_fft`.
    pub win_length: Option<usize>,
    pub hop_samples: usize,
    pub window: WindowKind,
    pub center: bool,
    /// Defaults to `constant`.
    pub pad_mode: Option<PadMode>,
    pub power: f32,
    #[serde(default)]
    pub drop_nyquist: bool,
    pub steps: Vec<StepSpec>,
}

/// One step of the per-frame pipeline, in the order written in the spec.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepSpec {
    Mel {
        n_bands: usize,
        fmin_hz: f64,
        fmax_hz: f64,
        scale: MelScale,
        norm: MelNorm,
    },
    LogFilterbank {
        bands_per_octave: u32,
        fmin_hz: f64,
        fmax_hz: f64,
        #[serde(default = "default_fref_hz")]
        fref_hz: f64,
        #[serde(default = "default_true")]
        norm_filters: bool,
        #[serde(default = "default_true")]
        unique_filters: bool,
    },
    AWeightingDb {
        #[serde(rename = "ref")]
        reference: f32,
        amin: f32,
        top_db: Option<f32>,
    },
    Db {
        #[serde(rename = "ref")]
        reference: f32,
        amin: f32,
        top_db: Option<f32>,
    },
    Log {
        eps: f32,
    },
    Log10 {
        mul: f32,
        add: f32,
    },
    Float16,
    Affine {
        scale: f32,
        offset: f32,
    },
    Normalize {
        mean: Vec<f32>,
        std: Vec<f32>,
    },
}

impl StepSpec {
    /// The `op` name as written in the spec.
    pub fn op_name(&self) -> &'static str {
        match self {
            StepSpec::Mel { .. } => "mel",
            StepSpec::LogFilterbank { .. } => "log_filterbank",
            StepSpec::AWeightingDb { .. } => "a_weighting_db",
            StepSpec::Db { .. } => "db",
            StepSpec::Log { .. } => "log",
            StepSpec::Log10 { .. } => "log10",
            StepSpec::Float16 => "float16",
            StepSpec::Affine { .. } => "affine",
            StepSpec::Normalize { .. } => "normalize",
        }
    }
}

impl FrontendSpec {
    pub fn stft_params(&self) -> StftParams {
        StftParams {
            n_fft: self.n_fft,
            win_length: self.win_length.unwrap_or(self.n_fft),
            hop_samples: self.hop_samples,
            window: self.window,
            center: self.center,
            pad_mode: self.pad_mode.unwrap_or(PadMode::Constant),
            power: self.power,
            drop_nyquist: self.drop_nyquist,
        }
    }
}

/// Floor at `running_max - top_db`, where the maximum is over everything seen so far.
#[derive(Debug, Clone)]
struct TopDb {
    top_db: f32,
    running_max_db: f32,
}

impl TopDb {
    #[inline(always)]
    fn apply(&mut self, values: &mut [f32]) {
        let frame_max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        self.running_max_db = self.running_max_db.max(frame_max);
        let floor = self.running_max_db - self.top_db;
        values.iter_mut().for_each(|v| *v = v.max(floor));
    }
}

#[derive(Debug, Clone)]
enum Step {
    Filterbank(Filterbank),
    Db {
        amin: f32,
        ref_db: f32,
        top_db: Option<TopDb>,
        /// Per-bin offsets added after flooring (A-weighting); empty for plain dB.
        offsets_db: Vec<f32>,
    },
    Log {
        eps: f32,
    },
    Log10 {
        mul: f32,
        add: f32,
    },
    Float16 {
        /// Scratch for the conversion, one per band.
        halves: Vec<half::f16>,
    },
    Affine {
        scale: f32,
        offset: f32,
    },
    Normalize {
        mean: Vec<f32>,
        inv_std: Vec<f32>,
    },
}

impl Step {
    /// Applies the step to `input`, writing into `output` when the width changes.
    /// Returns true when the result is in `output`.
    #[inline(always)]
    fn apply(&mut self, input: &mut [f32], output: &mut [f32]) -> bool {
        match self {
            Step::Filterbank(bank) => {
                bank.apply(input, output);
                return true;
            }
            Step::Db {
                amin,
                ref_db,
                top_db,
                offsets_db,
            } => {
                input.iter_mut().for_each(|v| *v = v.max(*amin));
                ln_in_place(input);
                let db_per_neper = 10.0 * std::f32::consts::LOG10_E;
                input
                    .iter_mut()
                    .for_each(|v| *v = db_per_neper * *v - *ref_db);
                if let Some(top_db) = top_db {
                    top_db.apply(input);
                }
                for (v, offset) in input.iter_mut().zip(offsets_db.iter()) {
                    *v += offset;
                }
            }
            Step::Log { eps } => {
                input.iter_mut().for_each(|v| *v += *eps);
                ln_in_place(input);
            }
            Step::Log10 { mul, add } => {
                input.iter_mut().for_each(|v| *v = *mul * *v + *add);
                ln_in_place(input);
                input
                    .iter_mut()
                    .for_each(|v| *v *= std::f32::consts::LOG10_E);
            }
            Step::Float16 { halves } => {
                // Slice conversion uses the CPU's F16C instructions where it has them.
                let halves = &mut halves[..input.len()];
                halves.convert_from_f32_slice(input);
                halves.convert_to_f32_slice(input);
            }
            Step::Affine { scale, offset } => {
                input.iter_mut().for_each(|v| *v = *v * *scale + *offset)
            }
            Step::Normalize { mean, inv_std } => {
                for ((v, m), s) in input.iter_mut().zip(mean.iter()).zip(inv_std.iter()) {
                    *v = (*v - m) * s;
                }
            }
        }
        false
    }

    fn reset(&mut self) {
        if let Step::Db {
            top_db: Some(top_db),
            ..
        } = self
        {
            top_db.running_max_db = f32::NEG_INFINITY;
        }
    }
}

/// A running front-end: push samples, receive feature frames.
pub struct Frontend {
    stft: StftFramer,
    steps: Vec<Step>,
    /// Width of each buffer stage is at most `max_width`; two buffers ping-pong.
    buf_a: Vec<f32>,
    buf_b: Vec<f32>,
    widths: Vec<usize>,
    n_bands: usize,
    /// Run the AVX2 + FMA build of the steps.
    wide: bool,
}

impl Frontend {
    /// Builds the front-end for audio at `sample_rate_hz`, checking every parameter.
    pub fn new(spec: &FrontendSpec, sample_rate_hz: u32) -> Result<Self, FrontendError> {
        let params = spec.stft_params();
        let stft = StftFramer::new(params.clone())?;
        let sr = f64::from(sample_rate_hz);
        let mut width = params.n_bins();
        let mut widths = vec![width];
        let mut steps = Vec::with_capacity(spec.steps.len());
        let mut filtered = false;
        for (index, step) in spec.steps.iter().enumerate() {
            let at = |reason: String| {
                FrontendError::InvalidParameter(format!(
                    "steps[{index}] ({}): {reason}",
                    step.op_name()
                ))
            };
            let is_filterbank =
                matches!(step, StepSpec::Mel { .. } | StepSpec::LogFilterbank { .. });
            if is_filterbank && filtered {
                return Err(at("a second filterbank is not supported".into()));
            }
            let built = match step {
                StepSpec::Mel {
                    n_bands,
                    fmin_hz,
                    fmax_hz,
                    scale,
                    norm,
                } => {
                    let bank = Filterbank::mel(
                        sr,
                        params.n_fft,
                        width,
                        *n_bands,
                        *fmin_hz,
                        *fmax_hz,
                        *scale,
                        *norm,
                    )
                    .map_err(|e| at(e.to_string()))?;
                    Step::Filterbank(bank)
                }
                StepSpec::LogFilterbank {
                    bands_per_octave,
                    fmin_hz,
                    fmax_hz,
                    fref_hz,
                    norm_filters,
                    unique_filters,
                } => {
                    let bank = Filterbank::logarithmic(
                        sr,
                        params.n_fft,
                        width,
                        *bands_per_octave,
                        *fmin_hz,
                        *fmax_hz,
                        *fref_hz,
                        *norm_filters,
                        *unique_filters,
                    )
                    .map_err(|e| at(e.to_string()))?;
                    Step::Filterbank(bank)
                }
                StepSpec::AWeightingDb {
                    reference,
                    amin,
                    top_db,
                } => {
                    if filtered {
                        return Err(at(
                            "A-weighting applies to FFT bins, so it must come before the filterbank"
                                .into(),
                        ));
                    }
                    let offsets_db = (0..width)
                        .map(|k| a_weighting_db(k as f64 * sr / params.n_fft as f64) as f32)
                        .collect();
                    db_step(*reference, *amin, *top_db, offsets_db).map_err(at)?
                }
                StepSpec::Db {
                    reference,
                    amin,
                    top_db,
                } => db_step(*reference, *amin, *top_db, Vec::new()).map_err(at)?,
                StepSpec::Log { eps } => {
                    if *eps <= 0.0 {
                        return Err(at(format!("eps must be positive, got {eps}")));
                    }
                    Step::Log { eps: *eps }
                }
                StepSpec::Log10 { mul, add } => {
                    if *mul <= 0.0 || *add <= 0.0 {
                        return Err(at(format!(
                            "mul and add must be positive so the logarithm is finite, got mul {mul}, add {add}"
                        )));
                    }
                    Step::Log10 {
                        mul: *mul,
                        add: *add,
                    }
                }
                StepSpec::Float16 => Step::Float16 {
                    halves: vec![half::f16::ZERO; width],
                },
                StepSpec::Affine { scale, offset } => Step::Affine {
                    scale: *scale,
                    offset: *offset,
                },
                StepSpec::Normalize { mean, std } => {
                    let per_band = |values: &[f32], name: &str| match values.len() {
                        1 => Ok(vec![values[0]; width]),
                        n if n == width => Ok(values.to_vec()),
                        n => Err(at(format!(
                            "{name} has {n} values; give 1 or one per band ({width})"
                        ))),
                    };
                    let mean = per_band(mean, "mean")?;
                    let std = per_band(std, "std")?;
                    if std.iter().any(|s| *s <= 0.0) {
                        return Err(at("every std must be positive".into()));
                    }
                    Step::Normalize {
                        mean,
                        inv_std: std.iter().map(|s| 1.0 / s).collect(),
                    }
                }
            };
            if let Step::Filterbank(bank) = &built {
                filtered = true;
                width = bank.n_bands();
            }
            steps.push(built);
            widths.push(width);
        }
        let max_width = widths.iter().copied().max().unwrap_or(width);
        Ok(Self {
            stft,
            steps,
            buf_a: vec![0.0; max_width],
            buf_b: vec![0.0; max_width],
            widths,
            n_bands: width,
            wide: super::simd::avx2_fma(),
        })
    }

    /// Values per output frame.
    pub fn n_bands(&self) -> usize {
        self.n_bands
    }

    /// Forget all audio and running state.
    pub fn reset(&mut self) {
        self.stft.reset();
        self.steps.iter_mut().for_each(Step::reset);
    }

    /// Feeds samples; `on_frame` receives each finished feature frame.
    pub fn push(&mut self, samples: &[f32], mut on_frame: impl FnMut(&[f32])) {
        let Self {
            stft,
            steps,
            buf_a,
            buf_b,
            widths,
            wide,
            ..
        } = self;
        stft.push(samples, |spectrum| {
            on_frame(run_steps(*wide, steps, widths, spectrum, buf_a, buf_b))
        });
    }

    /// Ends the stream with the offline end padding, emitting the last frames, and resets.
    pub fn finish(&mut self, mut on_frame: impl FnMut(&[f32])) {
        let Self {
            stft,
            steps,
            buf_a,
            buf_b,
            widths,
            wide,
            ..
        } = self;
        stft.finish(|spectrum| on_frame(run_steps(*wide, steps, widths, spectrum, buf_a, buf_b)));
        self.steps.iter_mut().for_each(Step::reset);
    }

    /// Whole-signal features, row-major `[frames][n_bands]`.
    pub fn compute(&mut self, samples: &[f32]) -> Vec<f32> {
        let frames = self.stft.params().frames_for(samples.len());
        let mut out = Vec::with_capacity(frames * self.n_bands);
        self.reset();
        self.push(samples, |frame| out.extend_from_slice(frame));
        self.finish(|frame| out.extend_from_slice(frame));
        out
    }
}

fn db_step(
    reference: f32,
    amin: f32,
    top_db: Option<f32>,
    offsets_db: Vec<f32>,
) -> Result<Step, String> {
    if amin <= 0.0 {
        return Err(format!("amin must be positive, got {amin}"));
    }
    if let Some(top_db) = top_db {
        if top_db < 0.0 {
            return Err(format!("top_db must be non-negative, got {top_db}"));
        }
    }
    Ok(Step::Db {
        amin,
        ref_db: 10.0 * reference.abs().max(amin).log10(),
        top_db: top_db.map(|top_db| TopDb {
            top_db,
            running_max_db: f32::NEG_INFINITY,
        }),
        offsets_db,
    })
}

/// The steps after the STFT, in the AVX2 + FMA build or the baseline one.
fn run_steps<'a>(
    wide: bool,
    steps: &mut [Step],
    widths: &[usize],
    spectrum: &[f32],
    buf_a: &'a mut [f32],
    buf_b: &'a mut [f32],
) -> &'a [f32] {
    match wide {
        // SAFETY: `wide` is only set when the CPU has AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        true => unsafe { run_steps_avx2_fma(steps, widths, spectrum, buf_a, buf_b) },
        _ => run_steps_inline(steps, widths, spectrum, buf_a, buf_b),
    }
}

/// # Safety
/// The CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_steps_avx2_fma<'a>(
    steps: &mut [Step],
    widths: &[usize],
    spectrum: &[f32],
    buf_a: &'a mut [f32],
    buf_b: &'a mut [f32],
) -> &'a [f32] {
    run_steps_inline(steps, widths, spectrum, buf_a, buf_b)
}

#[inline(always)]
fn run_steps_inline<'a>(
    steps: &mut [Step],
    widths: &[usize],
    spectrum: &[f32],
    buf_a: &'a mut [f32],
    buf_b: &'a mut [f32],
) -> &'a [f32] {
    let mut width = spectrum.len();
    buf_a[..width].copy_from_slice(spectrum);
    let (mut current, mut spare) = (buf_a, buf_b);
    for (step, &next_width) in steps.iter_mut().zip(&widths[1..]) {
        if step.apply(&mut current[..width], &mut spare[..next_width]) {
            std::mem::swap(&mut current, &mut spare);
        }
        width = next_width;
    }
    &current[..width]
}
