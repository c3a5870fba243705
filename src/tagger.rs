//! Tagging audio: files streamed as they are decoded ([`tag_file`], [`detect_events_file`],
//! in memory that does not grow with the file) or samples already in memory
//! ([`tag_samples`], the bundle self-test). Both go through one `StreamTagger`: samples
//! go through a [`WindowStream`], windows are batched, and each batch is scored by a
//! [`ModelRunner`]. Batches hold windows of one length only; stateful models run one
//! window at a time. [`tag_samples_with_frames`] also hands over the bundle's framewise
//! output, frame by frame, at absolute times ([`FrameStitcher`] says which window each
//! frame comes from when windows overlap).
//!
//! [`FrameStitcher`]: crate::scores::FrameStitcher

use std::path::PathBuf;

use crate::bundle::Bundle;
use crate::dsp::input::{AudioInput, InputKind};
use crate::dsp::silence::SilenceCheck;
use crate::dsp::stream::WindowStream;
use crate::inference::{FrameScores, InferenceError, ModelRunner, Provider};
use crate::scores::{FrameRow, FrameStitcher};
use crate::sed::{Decision, EventDetector};

/// Scores of one window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowScores {
    pub start_secs: f64,
    pub end_secs: f64,
    /// One probability per label.
    pub scores: Vec<f32>,
    /// The window heard digital silence: its scores describe no sound.
    pub silent: bool,
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

/// Windows per inference call when none is asked for. On the CPU provider, batches past 4
/// gained nothing measurable (BirdNET 113x real time at 4, 117x at 16) while ONNX
/// Runtime's activation memory grows with every window (musicnn: 267 MB at 4, 877 MB at
/// 16); a GPU needs large batches to be kept busy.
pub fn default_batch_size(provider: Provider) -> usize {
    match provider {
        Provider::Cpu => 4,
        Provider::Cuda => 64,
    }
}

/// Where framewise rows go, when the caller wants them.
///
/// A stream's end is known only when it ends, so a window with frames at or past the audio
/// heard so far (`known_secs`) waits, with every window after it, until more audio comes
/// or the stream ends; the stitcher then drops what lies past the true end, as it would
/// had the end been known from the start.
struct FrameSink<'f> {
    stitcher: FrameStitcher,
    batch: FrameScores,
    on_frame: &'f mut dyn FnMut(FrameRow<'_>),
    known_secs: f64,
    /// (start, frames) of windows not yet stitched, in order.
    waiting: std::collections::VecDeque<(f64, Vec<f32>)>,
}

impl FrameSink<'_> {
    fn new<'f>(frame_rate_hz: f64, on_frame: &'f mut dyn FnMut(FrameRow<'_>)) -> FrameSink<'f> {
        FrameSink {
            stitcher: FrameStitcher::new(frame_rate_hz, f64::INFINITY),
            batch: FrameScores::default(),
            on_frame,
            known_secs: 0.0,
            waiting: std::collections::VecDeque::new(),
        }
    }

    /// Whether every frame of a window starting at `start_secs` lies in the audio so far.
    fn settled(&self, start_secs: f64, frames: usize) -> bool {
        frames == 0
            || start_secs + (frames - 1) as f64 / self.stitcher.frame_rate_hz() < self.known_secs
    }

    /// Window `index` of the batch just scored.
    fn window(&mut self, index: usize, start_secs: f64, n_classes: usize) {
        let frames = self.batch.window(index, n_classes);
        let count = frames.len() / n_classes.max(1);
        if self.waiting.is_empty() && self.settled(start_secs, count) {
            self.stitcher
                .window(start_secs, frames, n_classes, &mut *self.on_frame);
        } else {
            self.waiting.push_back((start_secs, frames.to_vec()));
        }
    }

    /// At least `secs` of audio exist: stitches the windows that lie within it.
    fn advance(&mut self, secs: f64, n_classes: usize) {
        self.known_secs = self.known_secs.max(secs);
        while let Some((start_secs, frames)) = self.waiting.front() {
            if !self.settled(*start_secs, frames.len() / n_classes.max(1)) {
                break;
            }
            self.stitcher
                .window(*start_secs, frames, n_classes, &mut *self.on_frame);
            self.waiting.pop_front();
        }
    }

    /// The audio ends at `end_secs`: stitches every waiting window.
    fn finish(&mut self, end_secs: f64, n_classes: usize) {
        self.stitcher.set_end_secs(end_secs);
        for (start_secs, frames) in self.waiting.drain(..) {
            self.stitcher
                .window(start_secs, &frames, n_classes, &mut *self.on_frame);
        }
    }
}

/// Collects windows of equal length and scores them together.
struct Batcher<'a, 'f> {
    runner: &'a mut ModelRunner,
    capacity: usize,
    rows: usize,
    data: Vec<f32>,
    spans: Vec<(f64, f64)>,
    /// Per queued window, whether it is digital silence.
    silent: Vec<bool>,
    silence: SilenceCheck,
    scores: Vec<f32>,
    frames: Option<FrameSink<'f>>,
}

impl Batcher<'_, '_> {
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
        self.silent.push(self.silence.is_silent(window));
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
        let n = self.spans.len();
        let result = match &mut self.frames {
            Some(sink) => self.runner.run_with_frames(
                &self.data,
                n,
                self.rows,
                &mut self.scores,
                &mut sink.batch,
            ),
            None => self.runner.run(&self.data, n, self.rows, &mut self.scores),
        };
        self.data.clear();
        let n_classes = self.runner.n_classes();
        let spans = self.spans.drain(..).zip(self.silent.drain(..));
        result?;
        for (index, (((start_secs, end_secs), silent), scores)) in
            spans.zip(self.scores.chunks_exact(n_classes)).enumerate()
        {
            on_window(WindowScores {
                start_secs,
                end_secs,
                scores: scores.to_vec(),
                silent,
            });
            if let Some(sink) = &mut self.frames {
                sink.window(index, start_secs, n_classes);
            }
        }
        Ok(())
    }
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
    on_progress: impl FnMut(usize),
    mut on_window: impl FnMut(WindowScores),
) -> Result<(), InferenceError> {
    let mut tagger = StreamTagger::new(runner, input, settings, None);
    push_all(&mut tagger, samples, on_progress, &mut on_window);
    tagger.finish(&mut on_window)
}

/// [`tag_samples`], and also the bundle's framewise output: `on_frame` gets each frame
/// once, in order, with its absolute time (window start + frame / `frame_rate_hz`; see
/// [`FrameStitcher`] for overlapping windows). Frames of the silence that pads a short
/// file are not given. Fails when the bundle has no framewise output.
pub fn tag_samples_with_frames(
    runner: &mut ModelRunner,
    input: &AudioInput,
    samples: &[f32],
    settings: TagSettings,
    on_progress: impl FnMut(usize),
    mut on_window: impl FnMut(WindowScores),
    mut on_frame: impl FnMut(FrameRow<'_>),
) -> Result<(), InferenceError> {
    let Some(frame_rate_hz) = runner.frame_rate_hz() else {
        // Let the runner explain, with the model's name.
        return runner.run_with_frames(&[], 0, 0, &mut Vec::new(), &mut FrameScores::default());
    };
    let sink = FrameSink::new(frame_rate_hz, &mut on_frame);
    let mut tagger = StreamTagger::new(runner, input, settings, Some(sink));
    push_all(&mut tagger, samples, on_progress, &mut on_window);
    tagger.finish(&mut on_window)
}

/// Sound event detection on `samples`: the bundle's framewise output, frame by frame,
/// through `detector`. Returns every decision, in the order they were made, with the
/// stream finished, so the detector is ready for the next file. `on_window` still gets
/// each window's clip scores. Fails when the bundle has no framewise output.
pub fn detect_events(
    runner: &mut ModelRunner,
    input: &AudioInput,
    samples: &[f32],
    settings: TagSettings,
    detector: &mut EventDetector,
    on_progress: impl FnMut(usize),
    on_window: impl FnMut(WindowScores),
) -> Result<Vec<Decision>, InferenceError> {
    detector.reset();
    let mut decisions = Vec::new();
    let result = tag_samples_with_frames(
        runner,
        input,
        samples,
        settings,
        on_progress,
        on_window,
        |frame| decisions.extend(detector.push(frame.time_secs, frame.scores)),
    );
    if let Err(error) = result {
        detector.reset();
        return Err(error);
    }
    decisions.extend(detector.finish());
    Ok(decisions)
}

/// Why tagging a file failed: its audio (the message names the file and, for bad
/// samples, the time), or the model.
#[derive(Debug, thiserror::Error)]
pub enum TagFileError {
    #[error(transparent)]
    Audio(#[from] crate::audio::AudioError),
    #[error(transparent)]
    Inference(#[from] InferenceError),
}

/// How a file went: its length, in samples at the model's rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileTagged {
    pub samples: usize,
}

/// Progress through a file: source frames decoded, and the frames the header announces
/// (when it does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileProgress {
    pub frames_done: u64,
    pub frames_total: Option<u64>,
    /// The source's sample rate as the header gives it (when it does).
    pub rate_hz: Option<u32>,
}

/// Tags the file at `path` as it is decoded, in memory that does not depend on its
/// length: exactly the windows and scores of `tag_samples(load_mono(path))`. Windows are
/// handed over as they are scored, so a file whose audio turns bad part-way (NaN, say)
/// has had its earlier windows given when the error comes.
pub fn tag_file(
    runner: &mut ModelRunner,
    input: &AudioInput,
    path: &std::path::Path,
    settings: TagSettings,
    on_progress: impl FnMut(FileProgress),
    mut on_window: impl FnMut(WindowScores),
) -> Result<FileTagged, TagFileError> {
    let mut reader = crate::audio::MonoReader::open(path, input.sample_rate_hz)?;
    let mut tagger = StreamTagger::new(runner, input, settings, None);
    read_all(&mut tagger, &mut reader, on_progress, &mut on_window)?;
    let samples = tagger.real_samples;
    tagger.finish(&mut on_window)?;
    Ok(FileTagged { samples })
}

/// [`detect_events`] on the file at `path`, streamed as [`tag_file`] streams it.
pub fn detect_events_file(
    runner: &mut ModelRunner,
    input: &AudioInput,
    path: &std::path::Path,
    settings: TagSettings,
    detector: &mut EventDetector,
    on_progress: impl FnMut(FileProgress),
    on_window: impl FnMut(WindowScores),
) -> Result<(Vec<Decision>, FileTagged), TagFileError> {
    detect_events_file_with_frames(
        runner,
        input,
        path,
        settings,
        detector,
        on_progress,
        on_window,
        |_| {},
    )
}

/// [`detect_events_file`], also handing each framewise row, as the detector gets it, to
/// `on_frame` (`eval` sweeps thresholds over them for PSDS).
#[allow(clippy::too_many_arguments)]
pub fn detect_events_file_with_frames(
    runner: &mut ModelRunner,
    input: &AudioInput,
    path: &std::path::Path,
    settings: TagSettings,
    detector: &mut EventDetector,
    on_progress: impl FnMut(FileProgress),
    mut on_window: impl FnMut(WindowScores),
    mut on_frame_row: impl FnMut(FrameRow<'_>),
) -> Result<(Vec<Decision>, FileTagged), TagFileError> {
    detector.reset();
    let Some(frame_rate_hz) = runner.frame_rate_hz() else {
        runner.run_with_frames(&[], 0, 0, &mut Vec::new(), &mut FrameScores::default())?;
        return Ok((Vec::new(), FileTagged { samples: 0 }));
    };
    let mut decisions = Vec::new();
    let mut on_frame = |frame: FrameRow<'_>| {
        decisions.extend(detector.push(frame.time_secs, frame.scores));
        on_frame_row(frame);
    };
    let result = (|| {
        let mut reader = crate::audio::MonoReader::open(path, input.sample_rate_hz)?;
        let sink = FrameSink::new(frame_rate_hz, &mut on_frame);
        let mut tagger = StreamTagger::new(runner, input, settings, Some(sink));
        read_all(&mut tagger, &mut reader, on_progress, &mut on_window)?;
        let samples = tagger.real_samples;
        tagger.finish(&mut on_window)?;
        Ok::<_, TagFileError>(FileTagged { samples })
    })();
    match result {
        Ok(tagged) => {
            decisions.extend(detector.finish());
            Ok((decisions, tagged))
        }
        Err(error) => {
            detector.reset();
            Err(error)
        }
    }
}

/// Pushes in-memory samples in fixed chunks (the result does not depend on the chunking).
fn push_all(
    tagger: &mut StreamTagger<'_, '_>,
    samples: &[f32],
    mut on_progress: impl FnMut(usize),
    on_window: &mut impl FnMut(WindowScores),
) {
    const CHUNK_SAMPLES: usize = 1 << 16;
    for (index, chunk) in samples.chunks(CHUNK_SAMPLES).enumerate() {
        tagger.push(chunk, on_window);
        on_progress((index * CHUNK_SAMPLES + chunk.len()).min(samples.len()));
    }
}

/// Pushes a file's samples as they are decoded; stops at the first audio or model error.
fn read_all(
    tagger: &mut StreamTagger<'_, '_>,
    reader: &mut crate::audio::MonoReader,
    mut on_progress: impl FnMut(FileProgress),
    on_window: &mut impl FnMut(WindowScores),
) -> Result<(), TagFileError> {
    let (frames_total, rate_hz) = reader.frames_hint();
    while let Some(chunk) = reader.next_chunk()? {
        tagger.push(chunk, on_window);
        if let Some(error) = tagger.failure.take() {
            return Err(error.into());
        }
        on_progress(FileProgress {
            frames_done: reader.frames_decoded(),
            frames_total,
            rate_hz,
        });
    }
    Ok(())
}

/// Samples at the model's rate in, scored windows out: one stream, whatever its length.
/// Audio shorter than the model's minimum is padded with silence when it ends.
struct StreamTagger<'a, 'f> {
    stream: WindowStream,
    time_base: crate::dsp::stream::TimeBase,
    batcher: Batcher<'a, 'f>,
    min_samples: usize,
    sample_rate_hz: f64,
    /// Samples of real audio pushed (the padding not counted).
    real_samples: usize,
    failure: Option<InferenceError>,
}

impl<'a, 'f> StreamTagger<'a, 'f> {
    fn new(
        runner: &'a mut ModelRunner,
        input: &AudioInput,
        settings: TagSettings,
        frames: Option<FrameSink<'f>>,
    ) -> Self {
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
        let stream = WindowStream::new(input, hop_rows, false, stateful);
        Self {
            time_base: stream.time_base(),
            stream,
            batcher: Batcher {
                runner,
                capacity,
                rows: 0,
                data: Vec::new(),
                spans: Vec::new(),
                silent: Vec::new(),
                silence: SilenceCheck::new(input),
                scores: Vec::new(),
                frames,
            },
            min_samples: minimum_samples(input),
            sample_rate_hz: f64::from(input.sample_rate_hz),
            real_samples: 0,
            failure: None,
        }
    }

    fn push(&mut self, samples: &[f32], on_window: &mut impl FnMut(WindowScores)) {
        self.real_samples += samples.len();
        self.push_rows(samples, on_window);
        let n_classes = self.batcher.runner.n_classes();
        if let Some(sink) = &mut self.batcher.frames {
            sink.advance(self.real_samples as f64 / self.sample_rate_hz, n_classes);
        }
    }

    fn push_rows(&mut self, samples: &[f32], on_window: &mut impl FnMut(WindowScores)) {
        let Self {
            stream,
            time_base,
            batcher,
            failure,
            ..
        } = self;
        stream.push(samples, |window| {
            add_window(batcher, failure, time_base, window, on_window)
        });
    }

    /// Pads a short stream to the model's minimum, flushes the last windows and batch.
    fn finish(mut self, on_window: &mut impl FnMut(WindowScores)) -> Result<(), InferenceError> {
        let end_secs = self.real_samples as f64 / self.sample_rate_hz;
        if self.real_samples < self.min_samples {
            let zeros = vec![0.0f32; self.min_samples - self.real_samples];
            self.push_rows(&zeros, on_window);
        }
        let Self {
            stream,
            time_base,
            batcher,
            failure,
            ..
        } = &mut self;
        stream.finish(|window| add_window(batcher, failure, time_base, window, on_window));
        if let Some(e) = self.failure.take() {
            return Err(e);
        }
        self.batcher.flush(on_window)?;
        let n_classes = self.batcher.runner.n_classes();
        if let Some(sink) = &mut self.batcher.frames {
            sink.finish(end_secs, n_classes);
        }
        Ok(())
    }
}

fn add_window(
    batcher: &mut Batcher<'_, '_>,
    failure: &mut Option<InferenceError>,
    time_base: &crate::dsp::stream::TimeBase,
    window: crate::dsp::window::Window<'_>,
    on_window: &mut impl FnMut(WindowScores),
) {
    if failure.is_some() {
        return;
    }
    let span = (
        time_base.seconds(window.start_row),
        time_base.seconds(window.end_row),
    );
    if let Err(e) = batcher.add(window.rows(), window.data, span, on_window) {
        *failure = Some(e);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SelfTestError {
    #[error("{name} has no [reference] pair to test against")]
    NoReference { name: String },
    /// The reference pair breaks a rule, or does not fit what the model gives.
    #[error("{}: {problem}", path.display())]
    Reference {
        path: PathBuf,
        problem: ReferenceProblem,
    },
    /// The reference scores file is not the JSON it should be.
    #[error("{}: not a reference scores file (JSON whose `scores` hold one row per window)", path.display())]
    ReferenceJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Audio(#[from] crate::audio::AudioError),
    #[error(transparent)]
    Inference(#[from] InferenceError),
    /// The reference scores file is not a regular file, or too large.
    #[error(transparent)]
    File(#[from] crate::bundle::BundleError),
}

/// Why a bundle's reference pair cannot be tested against ([`SelfTestError::Reference`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReferenceProblem {
    #[error(
        "`reference.tolerance` {tolerance:e} must be above 0 and at most {}",
        crate::bundle::MAX_REFERENCE_TOLERANCE
    )]
    Tolerance { tolerance: f32 },
    #[error("no reference windows: `scores` must hold one row per window")]
    NoWindows,
    #[error("expects {expected} windows but the reference audio gives {actual}")]
    WindowCount { expected: usize, actual: usize },
    #[error("window {window} has {expected} scores, the model gives {actual}")]
    ScoreCount {
        window: usize,
        expected: usize,
        actual: usize,
    },
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
    let tolerance = reference
        .tolerance
        .unwrap_or(crate::bundle::DEFAULT_REFERENCE_TOLERANCE);
    // Checked at load; again here, as the spec is public and a test that passes everything
    // must not pass.
    if !(tolerance.is_finite()
        && tolerance > 0.0
        && tolerance <= crate::bundle::MAX_REFERENCE_TOLERANCE)
    {
        return Err(SelfTestError::Reference {
            path: bundle.spec_path.clone(),
            problem: ReferenceProblem::Tolerance { tolerance },
        });
    }
    let expected_path = bundle.dir.join(&reference.expected);
    let bad = |problem: ReferenceProblem| SelfTestError::Reference {
        path: expected_path.clone(),
        problem,
    };
    let text = crate::bundle::read_text(
        &expected_path,
        "reference scores",
        crate::bundle::MAX_TEXT_BYTES,
    )?;
    let expected: ExpectedScores =
        serde_json::from_str(&text).map_err(|source| SelfTestError::ReferenceJson {
            path: expected_path.clone(),
            source,
        })?;
    if expected.scores.is_empty() {
        return Err(bad(ReferenceProblem::NoWindows));
    }
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
    if actual.len() != expected.scores.len() {
        return Err(bad(ReferenceProblem::WindowCount {
            expected: expected.scores.len(),
            actual: actual.len(),
        }));
    }
    let mut max_abs_diff = 0.0f32;
    for (row, (want, got)) in expected.scores.iter().zip(&actual).enumerate() {
        if want.len() != got.len() {
            return Err(bad(ReferenceProblem::ScoreCount {
                window: row,
                expected: want.len(),
                actual: got.len(),
            }));
        }
        for (a, b) in want.iter().zip(got) {
            let diff = (a - b).abs();
            // A NaN score differs from everything (`f32::max` would skip it).
            max_abs_diff = if diff.is_nan() {
                f32::INFINITY
            } else {
                max_abs_diff.max(diff)
            };
        }
    }
    Ok(SelfTestReport {
        windows: expected.scores.len(),
        max_abs_diff,
        tolerance,
    })
}
