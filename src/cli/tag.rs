use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::sed::{require_framewise, EventArgs};
use super::{ModelArgs, TopKArgs};
use livetag::bundle::Bundle;
use livetag::inference::ModelRunner;
use livetag::ontology::TopK;
use livetag::sed::{accepted_events, Decision, EventDetector, EventFormat, EventWriter};
use livetag::tagger::{
    detect_events_file, tag_file, FileProgress, TagFileError, TagSettings, WindowScores,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Jsonl,
    Csv,
}

#[derive(Debug, clap::Args)]
pub struct TagArgs {
    /// Audio files (wav, flac, ogg/vorbis, mp3).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Seconds between window starts, up to 600 (default: the bundle's hop).
    #[arg(long, value_parser = super::limits::window_secs)]
    pub hop_secs: Option<f64>,
    #[command(flatten)]
    pub top: TopKArgs,
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    pub format: Format,
    /// Add every label's score to each record.
    #[arg(long)]
    pub all_scores: bool,
    /// Windows per inference call, 1 to 1024 [default: 4 on CPU, 64 on CUDA].
    #[arg(long, value_parser = super::limits::batch)]
    pub batch: Option<usize>,
    /// Write sound events instead of window records (needs a model with a framewise
    /// output). Accepted events go to stdout; every rejected candidate and merge goes to
    /// stderr, one line each.
    #[arg(long)]
    pub events: bool,
    /// Event list format (with --events).
    #[arg(long, value_parser = super::limits::events_format(), default_value_t = EventFormat::Csv, requires = "events")]
    pub events_format: EventFormat,
    #[command(flatten)]
    pub event_args: EventArgs,
}

/// Audio longer than this gets a progress bar.
const PROGRESS_MIN_SECS: f64 = 30.0;

pub fn run(args: &TagArgs, ort_lib: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    if args.events {
        return run_events(args, ort_lib);
    }
    anyhow::ensure!(
        !args.event_args.any(),
        "--on, --off, --median-frames, --min-duration, --min-gap and --class only apply with --events"
    );
    let bundle = super::open_bundle(&args.model)?;
    // Checked before the model loads, so a misspelt class fails fast.
    let top = args.top.resolve(&bundle)?;
    let mut runner = super::open_runner(&bundle, &args.model, ort_lib)?;
    let settings = TagSettings::new(
        &bundle.input,
        args.hop_secs,
        super::batch_size(args.batch, &runner),
    );
    let rate_hz = bundle.input.sample_rate_hz;
    let labels = &bundle.labels;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.format == Format::Csv {
        writeln!(out, "{}", csv_header(args, labels))?;
    }

    let started = Instant::now();
    let (mut audio_secs, mut windows, mut failed) = (0.0, 0usize, 0usize);
    for file in &args.files {
        let mut progress = FileProgressBar::new(file);
        let name = file.display().to_string();
        let mut write_error = None;
        let result = tag_file(
            &mut runner,
            &bundle.input,
            file,
            settings,
            |done| progress.update(done),
            |scores| {
                windows += 1;
                if write_error.is_none() {
                    write_error = write_record(&mut out, args, &top, &name, &bundle, &scores).err();
                }
            },
        );
        progress.finish();
        if let Some(error) = write_error {
            return Err(error).context("writing results");
        }
        match result {
            Ok(tagged) => audio_secs += tagged.samples as f64 / f64::from(rate_hz),
            Err(error) => {
                report_file_error(file, &error);
                failed += 1;
            }
        }
    }
    out.flush()?;
    Ok(summary(
        args,
        failed,
        &format!("{windows} windows"),
        audio_secs,
        started,
        &bundle,
        &runner,
    ))
}

/// The closing line on stderr; failure if any file failed.
fn summary(
    args: &TagArgs,
    failed: usize,
    produced: &str,
    audio_secs: f64,
    started: Instant,
    bundle: &Bundle,
    runner: &ModelRunner,
) -> ExitCode {
    let wall_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "livetag: {} of {} files, {produced}, {audio_secs:.1} s of audio in {wall_secs:.2} s ({:.1}x real time), model {}, provider {}",
        args.files.len() - failed,
        args.files.len(),
        audio_secs / wall_secs.max(1e-9),
        bundle.name(),
        runner.provider(),
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `tag --events`: each file's framewise output through the event detector.
fn run_events(args: &TagArgs, ort_lib: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let bundle = super::open_bundle(&args.model)?;
    let frame_rate_hz = require_framewise(&bundle, "--events")?;
    anyhow::ensure!(
        args.events_format.holds_several_files() || args.files.len() == 1,
        "an Audacity label track holds the events of one file; got {} files",
        args.files.len()
    );
    let event_settings = args.event_args.settings(&bundle)?;
    let mut detector = EventDetector::new(bundle.labels.clone(), frame_rate_hz, &event_settings)?;
    let mut runner = super::open_runner(&bundle, &args.model, ort_lib)?;
    let settings = TagSettings::new(
        &bundle.input,
        args.hop_secs,
        super::batch_size(args.batch, &runner),
    );
    let rate_hz = bundle.input.sample_rate_hz;
    let stdout = std::io::stdout();
    let mut writer = EventWriter::new(std::io::BufWriter::new(stdout.lock()), args.events_format)
        .context("writing events")?;

    let started = Instant::now();
    let (mut audio_secs, mut failed, mut accepted, mut rejected) = (0.0, 0usize, 0usize, 0usize);
    for file in &args.files {
        let mut progress = FileProgressBar::new(file);
        let result = detect_events_file(
            &mut runner,
            &bundle.input,
            file,
            settings,
            &mut detector,
            |done| progress.update(done),
            |_| {},
        );
        progress.finish();
        let (decisions, tagged) = match result {
            Ok(done) => done,
            Err(error) => {
                report_file_error(file, &error);
                failed += 1;
                continue;
            }
        };
        let file_secs = tagged.samples as f64 / f64::from(rate_hz);
        let name = file.display().to_string();
        for decision in &decisions {
            match decision {
                Decision::Accepted(_) => accepted += 1,
                Decision::Rejected { .. } => {
                    rejected += 1;
                    eprintln!("{name}: {decision}");
                }
                Decision::Merged { .. } => eprintln!("{name}: {decision}"),
            }
        }
        writer
            .write(&name, &accepted_events(&decisions))
            .context("writing events")?;
        audio_secs += file_secs;
    }
    writer.finish().context("writing events")?;
    Ok(summary(
        args,
        failed,
        &format!("{accepted} events, {rejected} candidates rejected"),
        audio_secs,
        started,
        &bundle,
        &runner,
    ))
}

/// A file's error on stderr, with its causes: an audio error names the file itself, a
/// model error gets the file's name in front.
fn report_file_error(file: &std::path::Path, error: &TagFileError) {
    match error {
        TagFileError::Audio(error) => eprintln!("error: {}", livetag::error_chain(error)),
        TagFileError::Inference(error) => {
            eprintln!("error: {}: {}", file.display(), livetag::error_chain(error))
        }
    }
}

/// The progress bar of one file, in source frames; made on the first progress report,
/// shown when the header gives the length and it is at least [`PROGRESS_MIN_SECS`].
struct FileProgressBar<'p> {
    file: &'p std::path::Path,
    bar: Option<ProgressBar>,
}

impl<'p> FileProgressBar<'p> {
    fn new(file: &'p std::path::Path) -> Self {
        Self { file, bar: None }
    }

    fn update(&mut self, progress: FileProgress) {
        let file = self.file;
        let bar = self.bar.get_or_insert_with(|| match progress {
            FileProgress {
                frames_total: Some(total),
                rate_hz: Some(rate_hz),
                ..
            } if rate_hz > 0 => progress_bar(file, total as f64 / f64::from(rate_hz), total),
            _ => ProgressBar::hidden(),
        });
        bar.set_position(progress.frames_done);
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn progress_bar(file: &std::path::Path, file_secs: f64, frames: u64) -> ProgressBar {
    if file_secs < PROGRESS_MIN_SECS {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(frames);
    let style = ProgressStyle::with_template("{msg} [{bar:30}] {percent}% (eta {eta})")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar.set_message(file.display().to_string());
    bar
}

fn write_record(
    out: &mut impl Write,
    args: &TagArgs,
    top: &TopK,
    file: &str,
    bundle: &Bundle,
    window: &WindowScores,
) -> std::io::Result<()> {
    let labels = &bundle.labels;
    let best = top.rank(&window.scores, &bundle.hierarchy);
    match args.format {
        Format::Jsonl => {
            let top: Vec<serde_json::Value> = best
                .iter()
                .map(|row| super::ranked_json(row, labels, &window.scores))
                .collect();
            let mut record = serde_json::json!({
                "file": file,
                "start": super::round3(window.start_secs),
                "end": super::round3(window.end_secs),
                "top": top,
            });
            if window.silent {
                // The scores describe no sound; they are kept, but flagged.
                record["silent"] = serde_json::json!(true);
            }
            if args.all_scores {
                let all: serde_json::Map<String, serde_json::Value> = labels
                    .iter()
                    .zip(&window.scores)
                    .map(|(label, score)| (label.clone(), serde_json::json!(score)))
                    .collect();
                record["scores"] = serde_json::Value::Object(all);
            }
            writeln!(out, "{record}")
        }
        Format::Csv => {
            let mut fields = vec![
                super::csv_field(file),
                super::round3(window.start_secs).to_string(),
                super::round3(window.end_secs).to_string(),
            ];
            if args.all_scores {
                fields.extend(window.scores.iter().map(f32::to_string));
            } else {
                for row in &best {
                    fields.push(super::csv_field(&labels[row.label]));
                    fields.push(window.scores[row.label].to_string());
                }
                // Lists or most-specific mode can leave fewer rows than the header has columns.
                let columns = 3 + 2 * top.k.min(labels.len());
                fields.resize(columns.max(fields.len()), String::new());
            }
            fields.push(window.silent.to_string());
            writeln!(out, "{}", fields.join(","))
        }
    }
}

fn csv_header(args: &TagArgs, labels: &[String]) -> String {
    let mut columns = vec!["file".to_string(), "start_secs".into(), "end_secs".into()];
    if args.all_scores {
        columns.extend(labels.iter().map(|l| super::csv_field(l)));
    } else {
        for rank in 1..=args.top.top_k.min(labels.len()) {
            columns.push(format!("label_{rank}"));
            columns.push(format!("score_{rank}"));
        }
    }
    columns.push("silent".into());
    columns.join(",")
}
