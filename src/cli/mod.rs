//! The command-line front door. Errors become `anyhow` here, at the edge, and are printed
//! once by `main`.

mod inspect;
mod models;
mod tag;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::inference::DevicePreference;

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
    #[command(subcommand)]
    pub command: Command,
}

/// Options that pick and run a model.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// Bundle folder, or the name of an installed bundle (`livetag models`).
    #[arg(long, short)]
    pub model: Option<String>,
    /// Execution provider.
    #[arg(long, value_enum, default_value_t = DevicePreference::Auto)]
    pub device: DevicePreference,
    /// ONNX Runtime intra-op threads (default: ONNX Runtime's choice).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Tag audio files: one record per model window.
    Tag(tag::TagArgs),
    /// List the model bundles found.
    Models,
    /// Describe a bundle: inputs, outputs, labels, parameters, size, opset.
    Inspect(inspect::InspectArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    match cli.command {
        Command::Tag(args) => tag::run(&args, cli.ort_lib.as_deref()),
        Command::Models => models::run(),
        Command::Inspect(args) => inspect::run(&args, cli.ort_lib.as_deref()),
    }
}

/// Loads the bundle and opens a session for it.
fn open_model(
    args: &ModelArgs,
    ort_lib: Option<&std::path::Path>,
) -> anyhow::Result<(crate::bundle::Bundle, crate::inference::ModelRunner)> {
    let path = crate::bundle::catalog::resolve(args.model.as_deref())?;
    let bundle = crate::bundle::Bundle::load(&path)?;
    let runtime = crate::inference::runtime(ort_lib)?;
    let options = crate::inference::SessionOptions {
        device: args.device,
        threads: args.threads,
    };
    let runner = crate::inference::ModelRunner::new(&runtime, &bundle, &options)?;
    if args.device == DevicePreference::Cuda {
        if let Some(reason) = &runner.provider().fallback_reason {
            eprintln!("warning: --device cuda was asked for, but CUDA could not be used ({reason}); running on CPU");
        }
    }
    Ok((bundle, runner))
}
