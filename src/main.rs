use std::process::ExitCode;

use clap::Parser;

/// The command line lives in the binary: the library has no clap types, and the window
/// (`livetag::ui`) and the command line never import each other.
mod cli;

/// In debug builds every allocator call is checked: inside an audio callback (run under
/// `assert_no_alloc`) one is counted in `CaptureCounters::callback_allocations`. Without
/// this allocator the check would see nothing.
#[cfg(debug_assertions)]
#[global_allocator]
static ALLOCATOR: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

fn main() -> ExitCode {
    // ONNX Runtime's telemetry is off only with this set before the library loads, and it is
    // set here, before any thread exists, so no other thread can be reading the environment.
    // (`inference::runtime` sets it too, for library users.)
    std::env::set_var(livetag::inference::runtime::TELEMETRY_OPT_OUT, "1");
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("ort=warn,livetag=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = cli::Cli::parse();
    let outcome = cli::run(cli).and_then(|outcome| match outcome {
        cli::Outcome::Exit(code) => Ok(code),
        // The command line and the window never import each other: they meet here.
        cli::Outcome::OpenWindow(options) => livetag::ui::run(*options)
            .map(|()| ExitCode::SUCCESS)
            .map_err(anyhow::Error::from),
    });
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", livetag::error_chain(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}
