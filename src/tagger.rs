//! Tagging audio that is already in memory (files, and the bundle self-test): samples go
//! through a [`WindowStream`], windows are batched, and each batch is scored by a
//! [`ModelRunner`]. Batches hold windows of one length only; stateful models run one
//! window at a time.

use std::borrow::Cow;
use std::path::PathBuf;

use crate::bundle::{AudioInput, Bundle, InputKind};
use crate::dsp::stream::WindowStream;
use crate::inference::{InferenceError, ModelRunner};

/// Scores of one window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowScores {
    pub start_secs: f64,
    pub end_secs: f64,
    /// One probability per label.
    pub scores: Vec<f32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagSettings {
    /// Rows (frames, or samples) between window starts.
    pub hop_rows: usize,
    /// Windows per inference call.
    pub batch_size: usize,
}

impl TagSettings {
    /// The bundle's own hop, or `hop_secs` rounded to whole rows.
    pub fn new(input: &AudioInput, hop_secs: Option<f64>, batch_size: usize) -> Self {
        let hop_rows = match hop_secs {
            Some(secs) => ((secs / input.seconds_per_row()).round() as usize).max(1),
            None => input.hop_rows,
        };
        Self {
            hop_rows,
            batch_size: batch_size.max(1),
        }
    }
}

/// Collects windows of equal length and scores them together.
struct Batcher<'a> {
    runner: &'a mut ModelRunner,
    capacity: usize,
    rows: usize,
    data: Vec<f32>,
    spans: Vec<(f64, f64)>,
    scores: Vec<f32>,
}

impl Batcher<'_> {
    fn add(
        &mut self,
        rows: usize,
        window: &[f32],
        span: (f64, f64),
        on_window: &mut impl FnMut(WindowScores),
    ) -> Result<(), InferenceError> {
        if !self.spans.is_empty() && rows != self.rows {
            self.flush(on_window)?;
        }
        self.rows = rows;
        self.data.extend_from_slice(window);
        self.spans.push(span);
        if self.spans.len() >= self.capacity {
            self.flush(on_window)?;
        }
        Ok(())
    }

    fn flush(&mut self, on_window: &mut impl FnMut(WindowScores)) -> Result<(), InferenceError> {
        if self.spans.is_empty() {
            return Ok(());
        }
        self.scores.clear();
        let result = self
            .runner
            .run(&self.data, self.spans.len(), self.rows, &mut self.scores);
        self.data.clear();
        let n_classes = self.runner.n_classes();
        let spans = self.spans.drain(..);
        result?;
        for ((start_secs, end_secs), scores) in spans.zip(self.scores.chunks_exact(n_classes)) {
            on_window(WindowScores {
                start_secs,
                end_secs,
                scores: scores.to_vec(),
            });
        }
        Ok(())
    }
}

/// Indices of the `k` best scores, best first.
pub fn top_k(scores: &[f32], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order.truncate(k);
    order
}

/// Samples the stream needs so that at least `min_rows` rows exist.
fn minimum_samples(input: &AudioInput) -> usize {
    match &input.kind {
        InputKind::Features { frontend, .. } => {
            frontend.stft_params().samples_for_frames(input.min_rows)
        }
        InputKind::Waveform { lead_in_samples } => input.min_rows.saturating_sub(*lead_in_samples),
    }
}

/// Tags `samples` (mono, at the model's rate). Audio shorter than the model's minimum is
/// padded with silence at the end. `on_progress` gets the samples consumed so far.
pub fn tag_samples(
    runner: &mut ModelRunner,
    input: &AudioInput,
    samples: &[f32],
    settings: TagSettings,
    mut on_progress: impl FnMut(usize),
    mut on_window: impl FnMut(WindowScores),
) -> Result<(), InferenceError> {
    const CHUNK_SAMPLES: usize = 1 << 16;
    let min_samples = minimum_samples(input);
    let samples: Cow<'_, [f32]> = if samples.len() < min_samples {
        let mut extended = samples.to_vec();
        extended.resize(min_samples, 0.0);
        Cow::Owned(extended)
    } else {
        Cow::Borrowed(samples)
    };
    let capacity = settings
        .batch_size
        .min(runner.max_batch().unwrap_or(usize::MAX));
    runner.reset_state();
    // A stateful model's state assumes its own hop: any other would skip or repeat audio.
    let stateful = runner.is_stateful();
    let hop_rows = if stateful {
        input.hop_rows
    } else {
        settings.hop_rows
    };
    let mut stream = WindowStream::new(input, hop_rows, false, stateful);
    let time_base = stream.time_base();
    let mut batcher = Batcher {
        runner,
        capacity,
        rows: 0,
        data: Vec::new(),
        spans: Vec::new(),
        scores: Vec::new(),
    };
    let mut failure = None;
    let mut handle = |window: crate::dsp::window::Window<'_>| {
        if failure.is_some() {
            return;
        }
        let span = (
            time_base.seconds(window.start_row),
            time_base.seconds(window.end_row),
        );
        if let Err(e) = batcher.add(window.rows(), window.data, span, &mut on_window) {
            failure = Some(e);
        }
    };
    for (index, chunk) in samples.chunks(CHUNK_SAMPLES).enumerate() {
        stream.push(chunk, &mut handle);
        on_progress((index * CHUNK_SAMPLES + chunk.len()).min(samples.len()));
    }
    stream.finish(&mut handle);
    if let Some(e) = failure {
        return Err(e);
    }
    batcher.flush(&mut on_window)
}

#[derive(Debug, thiserror::Error)]
pub enum SelfTestError {
    #[error("{name} has no [reference] pair to test against")]
    NoReference { name: String },
    #[error("{}: {reason}", path.display())]
    Reference { path: PathBuf, reason: String },
    #[error(transparent)]
    Audio(#[from] crate::audio::AudioError),
    #[error(transparent)]
    Inference(#[from] InferenceError),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SelfTestReport {
    pub windows: usize,
    pub max_abs_diff: f32,
    pub tolerance: f32,
}

impl SelfTestReport {
    pub fn passed(&self) -> bool {
        self.max_abs_diff <= self.tolerance
    }
}

#[derive(serde::Deserialize)]
struct ExpectedScores {
    scores: Vec<Vec<f32>>,
}

/// Runs the bundle's reference audio through the whole pipeline (front-end, windows with
/// hop = window, or the bundle's hop for stateful models, model, activation) and compares
/// with the stored scores.
pub fn self_test(
    bundle: &Bundle,
    runner: &mut ModelRunner,
) -> Result<SelfTestReport, SelfTestError> {
    let reference = bundle
        .spec
        .reference
        .as_ref()
        .ok_or_else(|| SelfTestError::NoReference {
            name: bundle.name().to_string(),
        })?;
    let expected_path = bundle.dir.join(&reference.expected);
    let bad = |reason: String| SelfTestError::Reference {
        path: expected_path.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&expected_path).map_err(|e| bad(e.to_string()))?;
    let expected: ExpectedScores = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let samples = crate::audio::load_mono(
        &bundle.dir.join(&reference.audio),
        bundle.input.sample_rate_hz,
    )?;
    let settings = TagSettings {
        hop_rows: bundle.input.window_rows,
        batch_size: 1,
    };
    let mut actual = Vec::new();
    tag_samples(
        runner,
        &bundle.input,
        &samples,
        settings,
        |_| {},
        |w| actual.push(w.scores),
    )?;
    if actual.len() < expected.scores.len() {
        return Err(bad(format!(
            "expects {} windows but the reference audio gives {}",
            expected.scores.len(),
            actual.len()
        )));
    }
    let mut max_abs_diff = 0.0f32;
    for (row, (want, got)) in expected.scores.iter().zip(&actual).enumerate() {
        if want.len() != got.len() {
            return Err(bad(format!(
                "window {row} has {} scores, the model gives {}",
                want.len(),
                got.len()
            )));
        }
        for (a, b) in want.iter().zip(got) {
            max_abs_diff = max_abs_diff.max((a - b).abs());
        }
    }
    Ok(SelfTestReport {
        windows: expected.scores.len(),
        max_abs_diff,
        tolerance: reference.tolerance.unwrap_or(1e-4),
    })
}
