//! `livetag eval LIST --model BUNDLE`: scores a model against a reference list
//! (`src/eval.rs` says what the lists hold and what each metric computes).

use std::path::PathBuf;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};

use super::sed::{require_framewise, EventArgs};
use super::ModelArgs;
use livetag::bundle::Bundle;
use livetag::eval::psds::{
    dcase_thresholds, intersection_f1, psds, threshold_events, FileScores, IntersectionF1, Psds,
    PsdsError, TruthFile, INTERSECTION_F1_CRITERIA, PSDS1, PSDS2,
};
use livetag::eval::{
    event_metrics, read_list, tag_metrics, Collars, EventCounts, EventMetrics, EventReference,
    ReferenceEvent, ReferenceList, TagMetrics, TagReference,
};
use livetag::inference::ModelRunner;
use livetag::sed::{accepted_events, median_filter, Decision, Event, EventDetector};
use livetag::tagger::{detect_events_file_with_frames, tag_file, TagFileError, TagSettings};

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
    /// Event lists: PSDS 1 and 2 are computed over this many thresholds, DESED's sweep
    /// 1/(2N), 3/(2N), ..., 1 - 1/(2N), 1 to 1000 [default: 50, DCASE 2021's 0.01 to 0.99].
    /// At each threshold the model's framewise scores, after the median filter, give one
    /// event per run of frames above it (no hysteresis, no minimum duration: the
    /// operating points psds_eval was given in DCASE 2021); file durations are those of
    /// the decoded audio.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub psds_thresholds: Option<u16>,
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
                !args.event_args.any() && args.psds_thresholds.is_none(),
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
            let eval = eval_events(
                args,
                &bundle,
                &mut runner,
                settings,
                &mut detector,
                files,
                frame_rate_hz,
            )?;
            event_report(args, &bundle, files.len(), &eval)
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

/// What an event list is scored with.
struct EventEval {
    metrics: EventMetrics,
    /// On the detector's events; an error when the list allows none (no events at all).
    intersection: Result<IntersectionF1, PsdsError>,
    psds: Result<[Psds; 2], PsdsError>,
    thresholds: usize,
}

fn eval_events(
    args: &EvalArgs,
    bundle: &Bundle,
    runner: &mut ModelRunner,
    settings: TagSettings,
    detector: &mut EventDetector,
    files: &[EventReference],
    frame_rate_hz: f64,
) -> anyhow::Result<EventEval> {
    let bar = progress(files.len());
    let classes = bundle.labels.len();
    let medians: Vec<usize> = (0..classes)
        .map(|i| detector.settings(i).median_frames)
        .collect();
    let thresholds = dcase_thresholds(usize::from(args.psds_thresholds.unwrap_or(50)));
    // operating_points[t][f]: file f's events at threshold t.
    let mut operating_points: Vec<Vec<Vec<ReferenceEvent>>> =
        vec![Vec::with_capacity(files.len()); thresholds.len()];
    let mut truth: Vec<TruthFile> = Vec::with_capacity(files.len());
    let mut detected: Vec<Vec<Event>> = Vec::with_capacity(files.len());
    let mut rejected = 0usize;
    for file in files {
        bar.set_message(file.name.clone());
        let mut times_secs: Vec<f64> = Vec::new();
        let mut rows: Vec<f32> = Vec::new();
        let (decisions, tagged) = detect_events_file_with_frames(
            runner,
            &bundle.input,
            &file.file,
            settings,
            detector,
            |_| {},
            |_| {},
            |frame| {
                times_secs.push(frame.time_secs);
                rows.extend_from_slice(frame.scores);
            },
        )
        .map_err(|error| file_error(error, &file.name, file.line))?;
        for decision in &decisions {
            rejected += usize::from(matches!(decision, Decision::Rejected { .. }));
            if args.verbose {
                bar.suspend(|| eprintln!("{}: {decision}", file.name));
            }
        }
        detected.push(accepted_events(&decisions));
        // The tracks the thresholds see: each class through its own median filter, as the
        // detector filters them.
        let frames = times_secs.len();
        let mut filtered = vec![0.0f32; rows.len()];
        for (class, &median) in medians.iter().enumerate() {
            let track: Vec<f32> = (0..frames).map(|i| rows[i * classes + class]).collect();
            for (i, v) in median_filter(&track, median).into_iter().enumerate() {
                filtered[i * classes + class] = v;
            }
        }
        let scores = FileScores {
            frame_rate_hz,
            classes,
            times_secs,
            rows: filtered,
        };
        for (point, &threshold) in operating_points.iter_mut().zip(&thresholds) {
            point.push(threshold_events(&scores, threshold));
        }
        truth.push(TruthFile {
            events: file.events.clone(),
            duration_secs: tagged.samples as f64 / f64::from(bundle.input.sample_rate_hz),
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    if rejected > 0 && !args.verbose {
        eprintln!("eval: {rejected} candidates rejected by the post-processing (--verbose lists every decision)");
    }
    let metrics = event_metrics(
        files
            .iter()
            .zip(&detected)
            .map(|(f, d)| (f.events.as_slice(), d.as_slice())),
        Collars::default(),
    );
    let as_spans: Vec<Vec<ReferenceEvent>> = detected
        .iter()
        .map(|events| {
            events
                .iter()
                .map(|e| ReferenceEvent {
                    label_index: e.label_index,
                    onset_secs: e.onset_secs,
                    offset_secs: e.offset_secs,
                })
                .collect()
        })
        .collect();
    let intersection = intersection_f1(&truth, &as_spans, &INTERSECTION_F1_CRITERIA);
    let both = psds(&truth, &operating_points, &PSDS1)
        .and_then(|one| Ok([one, psds(&truth, &operating_points, &PSDS2)?]));
    Ok(EventEval {
        metrics,
        intersection,
        psds: both,
        thresholds: thresholds.len(),
    })
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

fn optional4(x: Option<f64>) -> serde_json::Value {
    x.map_or(serde_json::Value::Null, |x| serde_json::json!(round4(x)))
}

fn intersection_json(f: &IntersectionF1, labels: &[String]) -> serde_json::Value {
    let classes: Vec<serde_json::Value> = f
        .per_class
        .iter()
        .map(|c| {
            serde_json::json!({
                "label": labels[c.label_index],
                "reference": c.reference,
                "true_positives": c.true_positives,
                "false_positives": c.false_positives,
                "f1": optional4(c.f1),
            })
        })
        .collect();
    serde_json::json!({
        "dtc": f.criteria.dtc,
        "gtc": f.criteria.gtc,
        "macro_f1_without_classes_lacking_a_true_positive": optional4(f.macro_f1_defined_only),
        "macro_f1_counting_them_0": round4(f.macro_f1_zero_filled),
        "classes": classes,
    })
}

fn psds_json(p: &Psds) -> serde_json::Value {
    let s = p.scenario;
    serde_json::json!({
        "value": round4(p.value),
        "dtc": s.criteria.dtc,
        "gtc": s.criteria.gtc,
        "cttc": s.criteria.cttc,
        "alpha_ct": s.alpha_ct,
        "alpha_st": s.alpha_st,
        "max_efpr_per_hour": s.max_efpr_per_hour,
    })
}

fn psds_line(name: &str, p: &Psds) -> String {
    let s = p.scenario;
    format!(
        "{name}     {:.4}  (DTC {}, GTC {}, CTTC {}, alpha_ct {}, alpha_st {}, max eFPR {}/h)",
        p.value,
        s.criteria.dtc,
        s.criteria.gtc,
        s.criteria.cttc,
        s.alpha_ct,
        s.alpha_st,
        s.max_efpr_per_hour
    )
}

fn event_report(args: &EvalArgs, bundle: &Bundle, files: usize, eval: &EventEval) -> String {
    let labels = &bundle.labels;
    let m = &eval.metrics;
    let c = m.collars;
    let sweep = format!(
        "{} thresholds from {:.4} to {:.4} on the median-filtered framewise scores",
        eval.thresholds,
        0.5 / eval.thresholds as f64,
        1.0 - 0.5 / eval.thresholds as f64
    );
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
        let error = |e: &PsdsError| serde_json::json!({ "error": e.to_string() });
        let (psds1, psds2) = match &eval.psds {
            Ok([one, two]) => (psds_json(one), psds_json(two)),
            Err(e) => (error(e), error(e)),
        };
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
            "macro_f1_sed_eval": optional4(m.macro_f1_sed_eval),
            "macro_f1_conventions": "macro_f1: every class in the list or the detections, \
                a class without a match counting 0; macro_f1_sed_eval: classes without \
                detections or without reference events left out, as sed_eval does",
            "classes": classes,
            "intersection_f1": match &eval.intersection {
                Ok(f) => intersection_json(f, labels),
                Err(e) => error(e),
            },
            "psds_operating_points": sweep,
            "psds1": psds1,
            "psds2": psds2,
        })
        .to_string();
    }
    let width = label_width(labels, m.per_class.keys().copied());
    let sed_eval_classes = m
        .per_class
        .values()
        .filter(|c| c.detected > 0 && c.reference > 0)
        .count();
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
            "macro F1  {:.4}  (mean over {} classes, a class without a match counting 0) / {} (sed_eval: the {sed_eval_classes} classes with detections and reference events)",
            m.macro_f1,
            m.per_class.len(),
            m.macro_f1_sed_eval
                .map_or("undefined".to_string(), |f| format!("{f:.4}")),
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
    match &eval.intersection {
        Ok(f) => {
            let defined = f.per_class.iter().filter(|c| c.f1.is_some()).count();
            lines.push(format!(
                "intersection-based F1 (DTC {}, GTC {}), same events: macro {} (psds_eval: the {defined} classes with a true positive) / {:.4} (all {} classes of the reference list, the others counting 0)",
                f.criteria.dtc,
                f.criteria.gtc,
                f.macro_f1_defined_only
                    .map_or("undefined".to_string(), |f| format!("{f:.4}")),
                f.macro_f1_zero_filled,
                f.per_class.len()
            ));
            let width = label_width(labels, f.per_class.iter().map(|c| c.label_index));
            for c in &f.per_class {
                lines.push(format!(
                    "  {:width$}  F1 {}  ({} of {} reference events found, {} false positives)",
                    labels[c.label_index],
                    c.f1.map_or("undefined (no true positive)".to_string(), |f| format!(
                        "{f:.4}"
                    )),
                    c.true_positives,
                    c.reference,
                    c.false_positives
                ));
            }
        }
        Err(e) => lines.push(format!("intersection-based F1: not computed: {e}")),
    }
    match &eval.psds {
        Ok([one, two]) => {
            lines.push(format!("PSDS over {sweep}:"));
            lines.push(psds_line("PSDS1", one));
            lines.push(psds_line("PSDS2", two));
        }
        Err(e) => lines.push(format!("PSDS: not computed: {e}")),
    }
    lines.join("\n")
}

fn label_width(labels: &[String], shown: impl Iterator<Item = usize>) -> usize {
    shown.map(|i| labels[i].chars().count()).max().unwrap_or(0)
}
