//! The command-line front door. Errors become `anyhow` here, at the edge, and are printed
//! once by `main`.

mod devices;
mod eval;
mod inspect;
mod limits;
mod listen;
mod models;
mod sed;
mod tag;

pub use listen::ListenArgs;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use livetag::inference::DevicePreference;
use livetag::ontology::{ClassFilter, Ranked, TopK, TopKMode};

#[derive(Debug, Parser)]
#[command(
    name = "livetag",
    version,
    about = "Real-time audio tagging with self-describing ONNX model bundles"
)]
pub struct Cli {
    /// ONNX Runtime library to load (else ORT_DYLIB_PATH, beside the executable, livetag's cache).
    #[arg(long, global = true, value_name = "PATH")]
    pub ort_lib: Option<PathBuf>,
    /// Default: `listen`, the live window on the default model.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options that pick and run a model.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// Bundle folder, or the name of an installed bundle (`livetag models`).
    #[arg(long, short)]
    pub model: Option<String>,
    /// ONNX Runtime execution provider.
    #[arg(long, value_parser = limits::provider(), default_value_t = DevicePreference::Auto)]
    pub provider: DevicePreference,
    /// ONNX Runtime intra-op threads, 1 to 4 per core (at most 256) [default: ONNX
    /// Runtime's choice].
    #[arg(long, value_parser = limits::threads)]
    pub threads: Option<usize>,
}

/// How each record's top classes are chosen.
#[derive(Debug, Clone, clap::Args)]
pub struct TopKArgs {
    /// Labels per record, 1 to 1000.
    #[arg(long, default_value_t = 5, value_parser = limits::top_k)]
    pub top_k: usize,
    /// most-specific: a class gives way to a descendant that scores at least half as much
    /// (Bark instead of Animal, Domestic animals, Dog); grouped: children indented under
    /// their parent; all: plain score order. Only bundles with an ontology have parents.
    /// [default: most-specific]
    #[arg(long, value_name = "MODE")]
    pub top_k_mode: Option<TopKMode>,
    /// Show only these classes: a label, or an ontology class (name or id) and everything
    /// under it, e.g. --only Animal. Repeat it, or separate classes with ';'.
    #[arg(long, value_name = "CLASS")]
    pub only: Vec<String>,
    /// Never show these classes (and what lies under them), e.g. --except Music.
    #[arg(long, value_name = "CLASS")]
    pub except: Vec<String>,
}

impl TopKArgs {
    pub fn filter(&self) -> ClassFilter {
        let list = |items: &[String]| {
            items
                .iter()
                .flat_map(|item| ClassFilter::parse_list(item))
                .collect()
        };
        ClassFilter {
            allow: list(&self.only),
            deny: list(&self.except),
        }
    }

    /// Checks the lists against the bundle's labels and ontology.
    pub fn resolve(&self, bundle: &livetag::bundle::Bundle) -> anyhow::Result<TopK> {
        TopK::new(
            self.top_k,
            self.top_k_mode.unwrap_or_default(),
            &self.filter(),
            &bundle.labels,
            &bundle.hierarchy,
        )
        .map_err(|e| anyhow::anyhow!("--only/--except for {}: {e}", bundle.name()))
    }
}

/// One top-k row as a JSON object: label and score, with its indentation (grouped mode)
/// and the ancestors it stands for (most-specific mode) when there are any.
fn ranked_json(row: &Ranked, labels: &[String], scores: &[f32]) -> serde_json::Value {
    let mut value = serde_json::json!({ "label": labels[row.label], "score": scores[row.label] });
    if row.depth > 0 {
        value["depth"] = serde_json::json!(row.depth);
    }
    if !row.hides.is_empty() {
        let hides: Vec<&str> = row.hides.iter().map(|&l| labels[l].as_str()).collect();
        value["hides"] = serde_json::json!(hides);
    }
    value
}

/// `livetag` alone means `livetag listen` with its defaults.
#[derive(Debug, Parser)]
struct DefaultListen {
    #[command(flatten)]
    args: ListenArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Tag live audio: the window, or with --headless, results on stdout.
    Listen(listen::ListenArgs),
    /// List the audio input devices.
    Devices,
    /// Tag audio files: one record per model window, or with --events the sound events.
    Tag(tag::TagArgs),
    /// Score a model against a labelled list: accuracy, MAP@3 and macro accuracy for
    /// tagging lists; event-based F1 for event lists.
    Eval(eval::EvalArgs),
    /// List the installed model bundles and those that can be fetched; `models fetch NAME`
    /// converts a fetchable one.
    Models(models::ModelsArgs),
    /// Describe a bundle: inputs, outputs, labels, parameters, size, opset.
    Inspect(inspect::InspectArgs),
}

/// What a command leaves to `main`: an exit code, or the window to open (the command line
/// never opens it itself, so it does not depend on the UI).
#[derive(Debug)]
pub enum Outcome {
    Exit(std::process::ExitCode),
    OpenWindow(Box<livetag::engine::StartOptions>),
}

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let ort_lib = cli.ort_lib.as_deref();
    let Some(command) = cli.command else {
        let defaults = DefaultListen::parse_from(["livetag"]);
        return listen::run(&defaults.args, ort_lib);
    };
    let code = match command {
        Command::Listen(args) => return listen::run(&args, ort_lib),
        Command::Devices => devices::run(),
        Command::Tag(args) => tag::run(&args, ort_lib),
        Command::Eval(args) => eval::run(&args, ort_lib),
        Command::Models(args) => models::run(&args),
        Command::Inspect(args) => inspect::run(&args, ort_lib),
    }?;
    Ok(Outcome::Exit(code))
}

impl ModelArgs {
    pub fn options(&self, ort_lib: Option<&std::path::Path>) -> livetag::engine::ModelOptions {
        livetag::engine::ModelOptions {
            provider: self.provider,
            threads: self.threads,
            ort_lib: ort_lib.map(std::path::Path::to_path_buf),
        }
    }
}

/// Loads the bundle and opens a session for it.
pub(crate) fn open_model(
    args: &ModelArgs,
    ort_lib: Option<&std::path::Path>,
) -> anyhow::Result<(livetag::bundle::Bundle, livetag::inference::ModelRunner)> {
    let bundle = open_bundle(args)?;
    let runner = open_runner(&bundle, args, ort_lib)?;
    Ok((bundle, runner))
}

/// Loads the bundle `--model` names (no ONNX Runtime needed).
pub(crate) fn open_bundle(args: &ModelArgs) -> anyhow::Result<livetag::bundle::Bundle> {
    Ok(livetag::engine::models::open_bundle(args.model.as_deref())?)
}

/// Opens a session for a loaded bundle.
pub(crate) fn open_runner(
    bundle: &livetag::bundle::Bundle,
    args: &ModelArgs,
    ort_lib: Option<&std::path::Path>,
) -> anyhow::Result<livetag::inference::ModelRunner> {
    let runner = livetag::engine::models::open_runner(bundle, &args.options(ort_lib))?;
    if args.provider == DevicePreference::Cuda {
        if let Some(reason) = &runner.provider().fallback_reason {
            eprintln!("warning: --provider cuda was asked for, but CUDA could not be used ({reason}); running on CPU");
        }
    }
    Ok(runner)
}

/// Quotes a CSV field when it needs it.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Rounds to three decimals (milliseconds, when the value is in seconds).
fn round3(value: f64) -> f64 {
    (value * 1e3).round() / 1e3
}

/// `--batch`, or the provider's default.
fn batch_size(asked: Option<usize>, runner: &livetag::inference::ModelRunner) -> usize {
    asked.unwrap_or_else(|| livetag::tagger::default_batch_size(runner.provider().active))
}
