//! `livetag listen`: the live window, or with `--headless`, live results on stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;

use super::{ModelArgs, TopKArgs};
use crate::bundle::Bundle;
use crate::capture::SourceRequest;
use crate::ontology::TopK;
use crate::pipeline::{
    LiveScores, LiveSession, Percentiles, PipelineConfig, PipelineEvent, PipelineStats,
    ProbabilityTrail, Track,
};

/// Speech-track history kept for `--speech`: longer than any main-model window.
const SPEECH_KEEP_SECS: f64 = 30.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Jsonl,
    Csv,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ListenArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Print live results instead of opening the window.
    #[arg(long)]
    pub headless: bool,
    /// Input device: its id or part of its name (`livetag devices`). Default: the system's.
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    /// Demo mode: play this audio file and tag it live, in step with what is heard.
    #[arg(long, value_name = "FILE", conflicts_with = "device")]
    pub file: Option<PathBuf>,
    /// Analyse the demo file without playing it.
    #[arg(long, requires = "file")]
    pub mute: bool,
    /// Stop after this long, for example 10s, 500ms or 2m, up to a year. Default: run until
    /// stopped.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Seconds between predictions (default: the bundle's live hop, else 0.1; a stateful
    /// model always runs at its own); up to 600.
    #[arg(long, value_parser = super::limits::window_secs)]
    pub hop_secs: Option<f64>,
    /// Seconds of audio per prediction, for models that take several lengths (default: the
    /// bundle's live window); up to 600.
    #[arg(long, value_parser = super::limits::window_secs)]
    pub window_secs: Option<f64>,
    #[command(flatten)]
    pub top: TopKArgs,
    /// Run a speech track beside the tagger: silero VAD unless another one-class bundle is
    /// named. Each record then gains `speech`, the highest speech probability in its window.
    #[arg(long, value_name = "MODEL", num_args = 0..=1, default_missing_value = crate::bundle::catalog::SPEECH_MODEL)]
    pub speech: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    pub format: Format,
    /// Window only: save a PNG screenshot just before closing (with --duration).
    #[arg(
        long,
        value_name = "PNG",
        requires = "duration",
        conflicts_with = "headless"
    )]
    pub screenshot: Option<PathBuf>,
}

impl ListenArgs {
    pub fn source(&self) -> SourceRequest {
        match &self.file {
            Some(path) => SourceRequest::File {
                path: path.clone(),
                audible: !self.mute,
            },
            None => SourceRequest::Microphone(self.device.clone()),
        }
    }
}

/// "10s", "250ms", "2m", or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    match number.trim().parse::<f64>() {
        Ok(value) => {
            super::limits::duration(value * scale).map_err(|reason| format!("{text} {reason}"))
        }
        Err(_) => Err(format!(
            "\"{text}\" is not a duration (examples: 10s, 500ms, 2m)"
        )),
    }
}

pub fn run(args: &ListenArgs, ort_lib: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    if !args.headless {
        return crate::ui::run(args.clone(), ort_lib.map(|p| p.to_path_buf()));
    }
    let bundle = super::open_bundle(&args.model)?;
    let top = args.top.resolve(&bundle)?;
    let input = bundle.live_input(args.window_secs);
    let window_secs = input.window_rows as f64 * input.seconds_per_row();
    if let Some(asked) = args.window_secs {
        if (asked - window_secs).abs() > input.seconds_per_row() {
            let (min_secs, max_secs) = bundle.input.window_secs_range();
            eprintln!("warning: --window-secs {asked}: {} takes {min_secs:.3} to {max_secs:.3} s windows; using {window_secs:.3} s", bundle.name());
        }
    }
    let runner = super::open_runner(&bundle, &args.model, ort_lib)?;
    let provider = runner.provider().to_string();
    let hop_secs = bundle.live_hop_secs(args.hop_secs);
    let mut tracks = vec![Track {
        input: input.clone(),
        scorer: Box::new(runner),
    }];
    let speech_model = match &args.speech {
        Some(name) => {
            let (speech, runner) = super::open_speech_model(name, &args.model, ort_lib)?;
            tracks.push(Track {
                input: speech.input.clone(),
                scorer: Box::new(runner),
            });
            Some(speech)
        }
        None => None,
    };
    let config = PipelineConfig {
        hop_secs,
        ..PipelineConfig::default()
    };
    // The first record needs the first window of audio (live, a variable-length model starts
    // at its shortest): a shorter run could never print one. Refused before the device opens
    // (after the models, whose own errors come first).
    if let Some(limit) = args.duration {
        let first_secs = input.min_rows.min(input.window_rows) as f64 * input.seconds_per_row();
        anyhow::ensure!(
            limit.as_secs_f64() >= first_secs,
            "--duration {:.3} s is shorter than {}'s first {first_secs:.3} s window, so no window could be scored; give at least {:.3} s",
            limit.as_secs_f64(),
            bundle.name(),
            first_secs.max(0.001)
        );
    }
    let source = args.source().open()?;
    let session = LiveSession::start(source, tracks, config)?;
    eprintln!(
        "livetag listen: {} at {} Hz, model {} ({:.2} s windows every {:.0} ms){}, provider {}",
        session.source.label,
        session.source.sample_rate_hz,
        bundle.name(),
        window_secs,
        hop_secs * 1e3,
        speech_model
            .as_ref()
            .map(|m| format!(" with speech track {}", m.name()))
            .unwrap_or_default(),
        provider
    );

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.format == Format::Csv {
        write!(out, "end_secs,latency_ms,inference_ms")?;
        if speech_model.is_some() {
            write!(out, ",speech")?;
        }
        for rank in 1..=args.top.top_k.min(bundle.labels.len()) {
            write!(out, ",label_{rank},score_{rank}")?;
        }
        // Last, as in `tag`'s CSV.
        writeln!(out, ",silent")?;
    }
    let started = Instant::now();
    let mut latency_ms = Percentiles::new(100_000);
    let mut inference_ms = Percentiles::new(100_000);
    let mut errors = 0usize;
    let mut speech = ProbabilityTrail::default();
    loop {
        let wait = match args.duration {
            Some(limit) => match limit.checked_sub(started.elapsed()) {
                Some(left) => left,
                None => break,
            },
            None => Duration::from_secs(3600),
        };
        match session.pipeline.events().recv_timeout(wait) {
            Ok(PipelineEvent::Scores(scores)) if scores.track > 0 => {
                speech.push(&scores, SPEECH_KEEP_SECS)
            }
            Ok(PipelineEvent::Scores(scores)) => {
                let latency = scores.captured_at.elapsed().as_secs_f64() * 1e3;
                latency_ms.push(latency);
                inference_ms.push(scores.inference_secs * 1e3);
                let speech = speech_model.as_ref().map(|_| speech.max_in(&scores));
                write_record(&mut out, args, &top, &bundle, &scores, latency, speech)?;
                out.flush()?;
            }
            Ok(PipelineEvent::Error(message)) => {
                errors += 1;
                eprintln!("error: {message}");
            }
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if session.counters.device_lost.load(Ordering::Relaxed) {
            anyhow::bail!("the input device {} went away", session.source.label);
        }
    }
    let stats = session.pipeline.stats().clone();
    let counters = session.counters.clone();
    let source_rate_hz = session.source.sample_rate_hz;
    let session_label = session.source.label.clone();
    drop(session);
    let ms = |p: &Percentiles, q: f64| {
        p.percentile(q)
            .map_or("-".to_string(), |v| format!("{v:.1}"))
    };
    eprintln!(
        "livetag listen: {:.1} s, {} windows scored, {} dropped, {} events dropped, {} xruns, {} frames lost to overflow; latency p50 {} ms p99 {} ms; inference p50 {} ms p99 {} ms; longest audio callback {:.1} us",
        started.elapsed().as_secs_f64(),
        PipelineStats::load(&stats.tracks[0].windows_scored),
        stats.windows_dropped(),
        PipelineStats::load(&stats.events_dropped),
        counters.xruns.load(Ordering::Relaxed),
        counters.overflow_frames.load(Ordering::Relaxed),
        ms(&latency_ms, 50.0),
        ms(&latency_ms, 99.0),
        ms(&inference_ms, 50.0),
        ms(&inference_ms, 99.0),
        counters.max_callback_ns.load(Ordering::Relaxed) as f64 / 1e3,
    );
    if let Some(budget) = stats.hop_budget(source_rate_hz, hop_secs) {
        eprintln!("livetag listen: {budget}");
    }
    if errors == 0 && latency_ms.is_empty() {
        // Say why nothing was printed rather than exit silently.
        anyhow::bail!(
            "no window was scored in {:.3} s: the first needs {window_secs:.3} s of audio from {}, and the device and model time to start",
            started.elapsed().as_secs_f64(),
            session_label
        );
    }
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn write_record(
    out: &mut impl Write,
    args: &ListenArgs,
    top: &TopK,
    bundle: &Bundle,
    scores: &LiveScores,
    latency_ms: f64,
    speech: Option<f32>,
) -> std::io::Result<()> {
    let labels = &bundle.labels;
    let best = top.rank(&scores.scores, &bundle.hierarchy);
    match args.format {
        Format::Jsonl => {
            let top: Vec<_> = best
                .iter()
                .map(|row| super::ranked_json(row, labels, &scores.scores))
                .collect();
            let mut record = serde_json::json!({
                "end_secs": super::round3(scores.end_secs),
                "window_secs": super::round3(scores.window_secs),
                "latency_ms": super::round3(latency_ms),
                "inference_ms": super::round3(scores.inference_secs * 1e3),
                "top": top,
            });
            if let Some(speech) = speech {
                record["speech"] = serde_json::json!(speech);
            }
            if scores.silent {
                // The scores describe no sound; they are kept, but flagged.
                record["silent"] = serde_json::json!(true);
            }
            writeln!(out, "{record}")
        }
        Format::Csv => {
            write!(
                out,
                "{:.3},{:.3},{:.3}",
                scores.end_secs,
                latency_ms,
                scores.inference_secs * 1e3
            )?;
            if let Some(speech) = speech {
                write!(out, ",{speech:.6}")?;
            }
            for row in &best {
                write!(
                    out,
                    ",{},{:.6}",
                    super::csv_field(&labels[row.label]),
                    scores.scores[row.label]
                )?;
            }
            // Lists or most-specific mode can leave fewer rows than the header has columns.
            for _ in best.len()..top.k.min(labels.len()) {
                write!(out, ",,")?;
            }
            writeln!(out, ",{}", scores.silent)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_in_the_forms_the_help_gives() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon")
            .unwrap_err()
            .contains("not a duration"));
        assert!(parse_duration("-1s").is_err());
    }
}
