//! `livetag eval LIST --model BUNDLE`: scores a model against a reference list
//! (`src/eval.rs` says what the lists hold and what each metric computes).

use std::path::PathBuf;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};

use super::sed::{require_framewise, EventArgs};
use super::ModelArgs;
use livetag::bundle::Bundle;
use livetag::eval::{
    event_metrics, read_list, tag_metrics, Collars, EventCounts, EventMetrics, EventReference,
    ReferenceList, TagMetrics, TagReference,
};
use livetag::inference::ModelRunner;
use livetag::sed::{accepted_events, Decision, Event, EventDetector};
use livetag::tagger::{detect_events_file, tag_file, TagFileError, TagSettings};

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Reference list, CSV with a header: `file,label` (tagging, scene classification) or
    /// `file,onset,offset,event_label` (sound event detection, DCASE's format). Files are
    /// relative to the list's folder.
    pub list: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Seconds between window starts, up to 600 (default: the bundle's hop).
    #[arg(long, value_parser = super::limits::window_secs)]
    pub hop_secs: Option<f64>,
    /// Windows per inference call, 1 to 1024 [default: 4 on CPU, 64 on CUDA].
    #[arg(long, value_parser = super::limits::batch)]
    pub batch: Option<usize>,
    #[command(flatten)]
    pub event_args: EventArgs,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Event lists: print every decision (accepted, rejected, merged) to stderr.
    #[arg(long, short)]
    pub verbose: bool,
}

/// Lists this long get a progress bar.
const PROGRESS_MIN_FILES: usize = 10;

pub fn run(args: &EvalArgs, ort_lib: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let bundle = super::open_bundle(&args.model)?;
    let list = read_list(&args.list, bundle.name(), &bundle.labels)?;
    let settings = |runner: &livetag::inference::ModelRunner| {
        TagSettings::new(
            &bundle.input,
            args.hop_secs,
            super::batch_size(args.batch, runner),
        )
    };
    let report = match &list {
        ReferenceList::Tags(items) => {
            anyhow::ensure!(
                !args.event_args.any(),
                "{} is a tagging list (file,label); the event options apply to event lists",
                args.list.display()
            );
            let mut runner = super::open_runner(&bundle, &args.model, ort_lib)?;
            let settings = settings(&runner);
            let metrics = eval_tags(&bundle, &mut runner, settings, items)?;
            tag_report(args, &bundle, &metrics)
        }
        ReferenceList::Events(files) => {
            let frame_rate_hz = require_framewise(&bundle, "an event list")?;
            let event_settings = args.event_args.settings(&bundle)?;
            let mut detector =
                EventDetector::new(bundle.labels.clone(), frame_rate_hz, &event_settings)?;
            let mut runner = super::open_runner(&bundle, &args.model, ort_lib)?;
            let settings = settings(&runner);
            let metrics = eval_events(args, &bundle, &mut runner, settings, &mut detector, files)?;
            event_report(args, &bundle, files.len(), &metrics)
        }
    };
    println!("{report}");
    Ok(ExitCode::SUCCESS)
}

fn progress(files: usize) -> ProgressBar {
    if files < PROGRESS_MIN_FILES {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(files as u64);
    let style = ProgressStyle::with_template("eval [{bar:30}] {pos}/{len} files (eta {eta}) {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar
}

/// A file's failure with where it came from: an audio error with the list line, a model
/// error with the clip's name.
fn file_error(error: TagFileError, name: &str, line: usize) -> anyhow::Error {
    match error {
        TagFileError::Audio(error) => {
            anyhow::Error::new(error).context(format!("{name} (list line {line})"))
        }
        TagFileError::Inference(error) => anyhow::Error::new(error).context(name.to_owned()),
    }
}

/// Each clip's score: the mean of its windows' scores.
fn eval_tags(
    bundle: &Bundle,
    runner: &mut ModelRunner,
    settings: TagSettings,
    items: &[TagReference],
) -> anyhow::Result<TagMetrics> {
    let bar = progress(items.len());
    let n = bundle.labels.len();
    let mut clips: Vec<(usize, Vec<f32>)> = Vec::with_capacity(items.len());
    for item in items {
        bar.set_message(item.name.clone());
        let mut sum = vec![0.0f64; n];
        let mut windows = 0usize;
        tag_file(
            runner,
            &bundle.input,
            &item.file,
            settings,
            |_| {},
            |w| {
                windows += 1;
                sum.iter_mut()
                    .zip(&w.scores)
                    .for_each(|(s, &v)| *s += f64::from(v));
            },
        )
        .map_err(|error| file_error(error, &item.name, item.line))?;
        let mean: Vec<f32> = sum
            .iter()
            .map(|s| (s / windows.max(1) as f64) as f32)
            .collect();
        clips.push((item.label_index, mean));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(tag_metrics(clips.iter().map(|(t, s)| (*t, s.as_slice()))))
}

fn eval_events(
    args: &EvalArgs,
    bundle: &Bundle,
    runner: &mut ModelRunner,
    settings: TagSettings,
    detector: &mut EventDetector,
    files: &[EventReference],
) -> anyhow::Result<EventMetrics> {
    let bar = progress(files.len());
    let mut detected: Vec<Vec<Event>> = Vec::with_capacity(files.len());
    let mut rejected = 0usize;
    for file in files {
        bar.set_message(file.name.clone());
        let (decisions, _) = detect_events_file(
            runner,
            &bundle.input,
            &file.file,
            settings,
            detector,
            |_| {},
            |_| {},
        )
        .map_err(|error| file_error(error, &file.name, file.line))?;
        for decision in &decisions {
            rejected += usize::from(matches!(decision, Decision::Rejected { .. }));
            if args.verbose {
                bar.suspend(|| eprintln!("{}: {decision}", file.name));
            }
        }
        detected.push(accepted_events(&decisions));
        bar.inc(1);
    }
    bar.finish_and_clear();
    if rejected > 0 && !args.verbose {
        eprintln!("eval: {rejected} candidates rejected by the post-processing (--verbose lists every decision)");
    }
    Ok(event_metrics(
        files
            .iter()
            .zip(&detected)
            .map(|(f, d)| (f.events.as_slice(), d.as_slice())),
        Collars::default(),
    ))
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

fn tag_report(args: &EvalArgs, bundle: &Bundle, m: &TagMetrics) -> String {
    let labels = &bundle.labels;
    if args.json {
        let classes: Vec<serde_json::Value> = m
            .per_class
            .iter()
            .map(|c| {
                serde_json::json!({
                    "label": labels[c.label_index],
                    "clips": c.clips,
                    "correct": c.correct,
                    "accuracy": round4(c.accuracy()),
                })
            })
            .collect();
        return serde_json::json!({
            "list": args.list.display().to_string(),
            "model": bundle.name(),
            "kind": "tagging",
            "clip_score": "mean of window scores",
            "clips": m.clips,
            "correct": m.correct,
            "accuracy": round4(m.accuracy),
            "map_at_3": round4(m.map_at_3),
            "macro_accuracy": round4(m.macro_accuracy),
            "classes": classes,
        })
        .to_string();
    }
    let width = label_width(labels, m.per_class.iter().map(|c| c.label_index));
    let mut lines = vec![
        format!(
            "{}: {} clips, model {}, clip score = mean of window scores",
            args.list.display(),
            m.clips,
            bundle.name()
        ),
        format!(
            "accuracy        {:.4}  ({} of {})",
            m.accuracy, m.correct, m.clips
        ),
        format!("MAP@3           {:.4}", m.map_at_3),
        format!(
            "macro accuracy  {:.4}  (mean over {} classes)",
            m.macro_accuracy,
            m.per_class.len()
        ),
    ];
    for c in &m.per_class {
        lines.push(format!(
            "  {:width$}  {:.4}  ({} of {})",
            labels[c.label_index],
            c.accuracy(),
            c.correct,
            c.clips
        ));
    }
    lines.join("\n")
}

fn counts_json(c: &EventCounts) -> serde_json::Value {
    serde_json::json!({
        "reference": c.reference,
        "detected": c.detected,
        "matched": c.matched,
        "precision": round4(c.precision()),
        "recall": round4(c.recall()),
        "f1": round4(c.f1()),
    })
}

fn event_report(args: &EvalArgs, bundle: &Bundle, files: usize, m: &EventMetrics) -> String {
    let labels = &bundle.labels;
    let c = m.collars;
    if args.json {
        let classes: Vec<serde_json::Value> = m
            .per_class
            .iter()
            .map(|(&i, counts)| {
                let mut v = counts_json(counts);
                v["label"] = serde_json::json!(labels[i]);
                v
            })
            .collect();
        return serde_json::json!({
            "list": args.list.display().to_string(),
            "model": bundle.name(),
            "kind": "events",
            "files": files,
            "collars": {
                "onset_secs": c.onset_secs,
                "offset_secs": c.offset_secs,
                "offset_fraction": c.offset_fraction,
            },
            "micro": counts_json(&m.micro),
            "macro_f1": round4(m.macro_f1),
            "classes": classes,
        })
        .to_string();
    }
    let width = label_width(labels, m.per_class.keys().copied());
    let mut lines = vec![
        format!(
            "{}: {files} files, {} reference events, {} detected, model {}",
            args.list.display(),
            m.micro.reference,
            m.micro.detected,
            bundle.name()
        ),
        format!(
            "event-based, onset collar {:.3} s, offset collar max({:.3} s, {:.0}% of the reference length)",
            c.onset_secs,
            c.offset_secs,
            100.0 * c.offset_fraction
        ),
        format!(
            "micro F1  {:.4}  precision {:.4}  recall {:.4}  ({} matched)",
            m.micro.f1(),
            m.micro.precision(),
            m.micro.recall(),
            m.micro.matched
        ),
        format!(
            "macro F1  {:.4}  (mean over {} classes)",
            m.macro_f1,
            m.per_class.len()
        ),
    ];
    for (&i, counts) in &m.per_class {
        lines.push(format!(
            "  {:width$}  F1 {:.4}  precision {:.4}  recall {:.4}  ({} matched, {} reference, {} detected)",
            labels[i],
            counts.f1(),
            counts.precision(),
            counts.recall(),
            counts.matched,
            counts.reference,
            counts.detected
        ));
    }
    lines.join("\n")
}

fn label_width(labels: &[String], shown: impl Iterator<Item = usize>) -> usize {
    shown.map(|i| labels[i].chars().count()).max().unwrap_or(0)
}
