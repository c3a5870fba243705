//! The live window (eframe).
pub fn run(
    _args: crate::cli::ListenArgs,
    _ort_lib: Option<std::path::PathBuf>,
) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!("window under construction")
}
mod colormap;
