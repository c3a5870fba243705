//! Where bundles are found: `$LIVETAG_MODEL_PATH` (colon-separated), `./models`, the
//! `models/` folder of the checkout the executable was built in, and livetag's cache
//! (models converted on this machine, such as opt-in BirdNET).

use std::path::{Path, PathBuf};

use super::{Bundle, BundleError, SPEC_FILE};

/// The bundle used when none is named.
pub const DEFAULT_MODEL: &str = "ced-tiny";
/// The music tagger, named in `livetag models` for those who want music tags.
pub const MUSIC_MODEL: &str = "musicnn-mtt";
/// The bundle the speech track uses when none is named.
pub const SPEECH_MODEL: &str = "silero-vad";

pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("LIVETAG_MODEL_PATH")
        .map(|paths| std::env::split_paths(&paths).collect())
        .unwrap_or_default();
    dirs.push(PathBuf::from("models"));
    if let Ok(exe) = std::env::current_exe() {
        // target/{debug,release}/livetag -> the checkout's models/.
        if let Some(root) = exe.parent().and_then(Path::parent).and_then(Path::parent) {
            dirs.push(root.join("models"));
        }
    }
    dirs.push(crate::inference::runtime::cache_dir().join("models"));
    let mut unique: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        let key = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        if !unique
            .iter()
            .any(|d| d.canonicalize().unwrap_or_else(|_| d.clone()) == key)
        {
            unique.push(dir);
        }
    }
    unique
}

/// Every folder with a `bundle.toml` in the search dirs, loaded or with its error.
pub fn list() -> Vec<(PathBuf, Result<Bundle, BundleError>)> {
    let mut found = Vec::new();
    for dir in search_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join(SPEC_FILE).is_file())
            .collect();
        paths.sort();
        found.extend(paths.into_iter().map(|p| {
            let loaded = Bundle::load(&p);
            (p, loaded)
        }));
    }
    found
}

/// Resolves `--model`: a path to a bundle folder, or the name of one in the search dirs.
pub fn resolve(model: Option<&str>) -> Result<PathBuf, BundleError> {
    let name = model.unwrap_or(DEFAULT_MODEL);
    let as_path = Path::new(name);
    if as_path.exists() || name.contains(std::path::MAIN_SEPARATOR) {
        return Ok(as_path.to_path_buf());
    }
    search_dirs()
        .into_iter()
        .map(|dir| dir.join(name))
        .find(|p| p.join(SPEC_FILE).is_file())
        .ok_or_else(|| BundleError::NotFound {
            path: PathBuf::from(format!(
                "{name} (searched {}; `livetag models` lists what is installed)",
                search_dirs()
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        })
}
