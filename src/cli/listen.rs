//! `livetag listen`: the live window, or with `--headless`, live results on stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use std::sync::Arc;

use super::{ModelArgs, TopKArgs};
use livetag::bundle::Bundle;
use livetag::capture::SourceRequest;
use livetag::engine::{
    Command, EngineHandle, EngineOptions, LiveUpdate, Role, SessionInfo, StartOptions,
    SystemBackend, Update,
};
use livetag::ontology::TopK;
use livetag::pipeline::{LiveMessage, LiveScores, Percentiles, PipelineStats, ProbabilityTrail};
use livetag::sed::Decision;

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
    #[arg(long, value_name = "MODEL", num_args = 0..=1, default_missing_value = livetag::bundle::catalog::SPEECH_MODEL)]
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

    /// The plain start-up options the window and the headless loop share.
    pub fn start_options(&self, ort_lib: Option<&std::path::Path>) -> StartOptions {
        StartOptions {
            model: self.model.model.clone(),
            speech: self.speech.clone(),
            source: (self.file.is_some() || self.device.is_some()).then(|| self.source()),
            hop_secs: self.hop_secs,
            window_secs: self.window_secs,
            top_k_mode: self.top.top_k_mode,
            only: (!self.top.only.is_empty()).then(|| self.top.only.join(";")),
            except: (!self.top.except.is_empty()).then(|| self.top.except.join(";")),
            models: self.model.options(ort_lib),
            run_for: self.duration,
            screenshot: self.screenshot.clone(),
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

/// `listen`: the window (handed back to `main`, which opens it), or the headless loop.
pub fn run(args: &ListenArgs, ort_lib: Option<&std::path::Path>) -> anyhow::Result<super::Outcome> {
    if args.headless {
        headless(args, ort_lib).map(super::Outcome::Exit)
    } else {
        Ok(super::Outcome::OpenWindow(Box::new(
            args.start_options(ort_lib),
        )))
    }
}

/// What the headless loop knows once the tagger is ready.
struct Tagger {
    bundle: Arc<Bundle>,
    top: TopK,
}

/// Live results on stdout: the engine's updates, printed. A source lost mid-run is retried
/// (and said on stderr); one that never opens ends the run with its error.
fn headless(args: &ListenArgs, ort_lib: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let options = args.start_options(ort_lib);
    let backend = Arc::new(SystemBackend {
        models: options.models.clone(),
        cards: false,
        ..SystemBackend::default()
    });
    let engine = EngineHandle::spawn(
        backend,
        EngineOptions {
            hop_secs: args.hop_secs,
            window_secs: args.window_secs,
            speech_model: args.speech.clone(),
            ..EngineOptions::default()
        },
    )?;
    let model = args
        .model
        .model
        .clone()
        .unwrap_or_else(|| livetag::bundle::catalog::DEFAULT_MODEL.to_string());
    engine.send(Command::LoadModel {
        role: Role::Tagger,
        model,
    });
    if args.speech.is_some() {
        engine.send(Command::SetSpeechTrack(true));
    }

    let stdout = std::io::stdout();
    let mut printer = Printer::new(args, stdout.lock());
    let mut source_sent = false;
    loop {
        let wait = match args.duration.filter(|_| printer.session.is_some()) {
            Some(limit) => match limit.checked_sub(printer.started.elapsed()) {
                Some(left) => left,
                None => break,
            },
            None => Duration::from_secs(3600),
        };
        let next = crossbeam_channel::select! {
            recv(engine.updates()) -> update => update.map(Next::Update),
            recv(engine.live()) -> live => live.map(Next::Live),
            default(wait) => Ok(Next::Idle),
        };
        match next {
            Ok(Next::Update(update)) => printer.update(update)?,
            Ok(Next::Live(live)) => printer.live(live)?,
            Ok(Next::Idle) => {}
            Err(_) => break,
        }
        // The source opens once the models are ready and the run's length is checked, so a
        // refused run never touches the device.
        if !source_sent && printer.models_ready() {
            source_sent = true;
            engine.send(Command::SetSource(args.source()));
        }
    }
    let live_dropped = engine.live_dropped();
    drop(engine);
    printer.finish(live_dropped)
}

/// What the headless loop takes next.
enum Next {
    Update(Update),
    Live(LiveUpdate),
    Idle,
}

/// The headless front end: engine updates in, records on stdout and notes on stderr.
struct Printer<'a, W: Write> {
    args: &'a ListenArgs,
    out: W,
    /// The run's length counts from the first session, not from loading the models.
    started: Instant,
    tagger: Option<Tagger>,
    speech_ready: bool,
    session: Option<Arc<SessionInfo>>,
    /// Counters of sessions before a reconnection; the summary adds the last one.
    totals: SessionTotals,
    latency_ms: Percentiles,
    inference_ms: Percentiles,
    errors: usize,
    outages: Vec<Duration>,
    speech: ProbabilityTrail,
}

impl<'a, W: Write> Printer<'a, W> {
    fn new(args: &'a ListenArgs, out: W) -> Self {
        Self {
            args,
            out,
            started: Instant::now(),
            tagger: None,
            speech_ready: args.speech.is_none(),
            session: None,
            totals: SessionTotals::default(),
            latency_ms: Percentiles::new(100_000),
            inference_ms: Percentiles::new(100_000),
            errors: 0,
            outages: Vec::new(),
            speech: ProbabilityTrail::default(),
        }
    }

    fn models_ready(&self) -> bool {
        self.speech_ready && self.tagger.is_some()
    }

    fn update(&mut self, update: Update) -> anyhow::Result<()> {
        match update {
            Update::ModelReady {
                role: Role::Tagger,
                bundle,
                ..
            } => self.tagger = Some(tagger_ready(self.args, bundle)?),
            Update::ModelReady {
                role: Role::Speech, ..
            } => self.speech_ready = true,
            Update::ModelFailed { role, model, error } => {
                return Err(match role {
                    Role::Tagger => anyhow::anyhow!("cannot load model {model}: {error}"),
                    Role::Speech => {
                        anyhow::anyhow!("cannot start the speech track with {model}: {error}")
                    }
                });
            }
            Update::SessionStarted(info) => {
                match &self.session {
                    None => {
                        self.started = Instant::now();
                        eprintln!("{}", banner(&info));
                        if self.args.format == Format::Csv {
                            write_csv_header(&mut self.out, self.args, &info)?;
                        }
                    }
                    Some(previous) => self.totals.add(previous),
                }
                self.session = Some(info);
            }
            // Never opened or never started: a wrong name, a missing file, an unusable
            // rate; not an outage.
            Update::SourceFailed { error } | Update::SessionFailed { error }
                if self.session.is_none() =>
            {
                anyhow::bail!("{error}")
            }
            Update::SessionFailed { error } => {
                self.errors += 1;
                eprintln!("error: {error}");
            }
            Update::SourceFailed { error } => eprintln!("warning: {error}"),
            Update::SourceLost { source, problem } => {
                eprintln!("livetag listen: lost {source}: {problem}; reconnecting");
            }
            Update::RetryFailed {
                attempt,
                retry_in,
                error,
            } => eprintln!(
                "livetag listen: reconnect attempt {attempt} failed ({error}); next in {:.0} s",
                retry_in.as_secs_f64()
            ),
            Update::Recovered { source, outage } => {
                let secs = outage.as_secs_f64();
                eprintln!("livetag listen: recovered {source} after {secs:.1} s; about {secs:.1} s of audio was not heard");
                self.outages.push(outage);
            }
            Update::TrackLost { role, message } => {
                self.errors += 1;
                eprintln!(
                    "error: the {role} model's inference thread stopped ({message}); reloading it"
                );
            }
            Update::StreamNotice(notice) => eprintln!("livetag listen: {notice}"),
            Update::Problem(problem) => {
                self.errors += 1;
                eprintln!("error: {problem}");
            }
            _ => {}
        }
        Ok(())
    }

    fn live(&mut self, live: LiveUpdate) -> anyhow::Result<()> {
        let (Some(tagger), Some(info)) = (&self.tagger, &self.session) else {
            return Ok(());
        };
        match live {
            LiveUpdate::Pipeline(LiveMessage::Scores(scores)) if scores.role == Role::Speech => {
                self.speech.push(&scores, SPEECH_KEEP_SECS)
            }
            LiveUpdate::Pipeline(LiveMessage::Scores(scores)) => {
                let latency = scores.captured_at.elapsed().as_secs_f64() * 1e3;
                self.latency_ms.push(latency);
                self.inference_ms.push(scores.inference_secs * 1e3);
                let speech = info.speech.as_ref().map(|_| self.speech.max_in(&scores));
                let (top, bundle) = (&tagger.top, &tagger.bundle);
                write_record(
                    &mut self.out,
                    self.args,
                    top,
                    bundle,
                    &scores,
                    latency,
                    speech,
                )?;
                self.out.flush()?;
            }
            LiveUpdate::Pipeline(LiveMessage::Error(message)) => {
                self.errors += 1;
                eprintln!("error: {message}");
            }
            // Events are records of another shape: JSONL only, so CSV keeps its columns.
            LiveUpdate::SoundEvents { decisions, .. } if self.args.format == Format::Jsonl => {
                for decision in decisions {
                    if let Decision::Accepted(event) = decision {
                        let record = serde_json::json!({ "event": event_json(&event) });
                        writeln!(self.out, "{record}")?;
                    }
                }
                self.out.flush()?;
            }
            _ => {}
        }
        Ok(())
    }

    /// The summary on stderr, and the run's exit code.
    fn finish(mut self, live_dropped: u64) -> anyhow::Result<ExitCode> {
        let Some(info) = self.session.take() else {
            anyhow::bail!(
                "no session started in {:.3} s: the source and the models did not get ready in time",
                self.started.elapsed().as_secs_f64()
            );
        };
        self.totals.add(&info);
        summary(
            &info,
            &self.totals,
            self.started,
            &self.latency_ms,
            &self.inference_ms,
            live_dropped,
            &self.outages,
        );
        if self.errors == 0 && self.latency_ms.is_empty() {
            // Say why nothing was printed rather than exit silently.
            anyhow::bail!(
                "no window was scored in {:.3} s: the first needs {:.3} s of audio from {}, and the device and model time to start",
                self.started.elapsed().as_secs_f64(),
                info.live.window_secs,
                info.source.label
            );
        }
        Ok(if self.errors == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}

/// Checks the run against the tagger once it is loaded: its lists, and a length that can
/// hold a window.
fn tagger_ready(args: &ListenArgs, bundle: Arc<Bundle>) -> anyhow::Result<Tagger> {
    let top = args.top.resolve(&bundle)?;
    let input = bundle.live_input(args.window_secs);
    let window_secs = input.window_rows as f64 * input.seconds_per_row();
    if let Some(asked) = args.window_secs {
        if (asked - window_secs).abs() > input.seconds_per_row() {
            let (min_secs, max_secs) = bundle.input.window_secs_range();
            eprintln!("warning: --window-secs {asked}: {} takes {min_secs:.3} to {max_secs:.3} s windows; using {window_secs:.3} s", bundle.name());
        }
    }
    // The first record needs the first window of audio (live, a variable-length model starts
    // at its shortest): a shorter run could never print one.
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
    Ok(Tagger { bundle, top })
}

fn banner(info: &SessionInfo) -> String {
    format!(
        "livetag listen: {} at {} Hz, model {} ({:.2} s windows every {:.0} ms){}, provider {}",
        info.source.label,
        info.source.sample_rate_hz,
        info.tagger.name(),
        info.live.window_secs,
        info.live.hop_secs * 1e3,
        info.speech
            .as_ref()
            .map(|m| format!(" with speech track {}", m.name()))
            .unwrap_or_default(),
        info.provider
    )
}

fn write_csv_header(
    out: &mut impl Write,
    args: &ListenArgs,
    info: &SessionInfo,
) -> std::io::Result<()> {
    write!(out, "end_secs,latency_ms,inference_ms")?;
    if info.speech.is_some() {
        write!(out, ",speech")?;
    }
    for rank in 1..=args.top.top_k.min(info.tagger.labels.len()) {
        write!(out, ",label_{rank},score_{rank}")?;
    }
    // Last, as in `tag`'s CSV.
    writeln!(out, ",silent")
}

fn event_json(event: &livetag::sed::Event) -> serde_json::Value {
    serde_json::json!({
        "label": event.label,
        "onset_secs": super::round3(event.onset_secs),
        "offset_secs": super::round3(event.offset_secs),
        "peak": event.peak,
    })
}

/// Counters summed over every session of a run (a reconnection starts a new one).
#[derive(Debug, Default)]
struct SessionTotals {
    scored: u64,
    dropped: u64,
    messages_dropped: u64,
    xruns: u64,
    overflow_frames: u64,
    max_callback_ns: u64,
}

impl SessionTotals {
    fn add(&mut self, info: &SessionInfo) {
        let (stats, counters) = (&info.stats, &info.counters);
        self.scored += stats
            .track(Role::Tagger)
            .map_or(0, |t| PipelineStats::load(&t.windows_scored));
        self.dropped += stats.windows_dropped();
        self.messages_dropped += PipelineStats::load(&stats.messages_dropped);
        self.xruns += counters.xruns.load(Ordering::Relaxed);
        self.overflow_frames += counters.overflow_frames.load(Ordering::Relaxed);
        self.max_callback_ns = self
            .max_callback_ns
            .max(counters.max_callback_ns.load(Ordering::Relaxed));
    }
}

/// The closing lines on stderr: counts, timing and what the outages cost.
fn summary(
    info: &SessionInfo,
    totals: &SessionTotals,
    started: Instant,
    latency_ms: &Percentiles,
    inference_ms: &Percentiles,
    live_dropped: u64,
    outages: &[Duration],
) {
    let ms = |p: &Percentiles, q: f64| {
        p.percentile(q)
            .map_or("-".to_string(), |v| format!("{v:.1}"))
    };
    eprintln!(
        "livetag listen: {:.1} s, {} windows scored, {} dropped, {} messages dropped, {} xruns, {} frames lost to overflow; latency p50 {} ms p99 {} ms; inference p50 {} ms p99 {} ms; longest audio callback {:.1} us",
        started.elapsed().as_secs_f64(),
        totals.scored,
        totals.dropped,
        totals.messages_dropped + live_dropped,
        totals.xruns,
        totals.overflow_frames,
        ms(latency_ms, 50.0),
        ms(latency_ms, 99.0),
        ms(inference_ms, 50.0),
        ms(inference_ms, 99.0),
        totals.max_callback_ns as f64 / 1e3,
    );
    if !outages.is_empty() {
        let lost: f64 = outages.iter().map(Duration::as_secs_f64).sum();
        eprintln!(
            "livetag listen: {} reconnection(s); about {lost:.1} s of audio not heard",
            outages.len()
        );
    }
    // The last session's: the share of a hop is a rate, not a sum.
    let budget = info
        .stats
        .hop_budget(info.source.sample_rate_hz, info.live.hop_secs);
    if let Some(budget) = budget {
        eprintln!("livetag listen: {budget}");
    }
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
