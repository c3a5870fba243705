//! Where bundles are found. A bundle is untrusted input, and so is the working folder: a
//! model *name* is looked up only where bundles are installed, `$LIVETAG_MODEL_PATH`
//! (colon-separated), the `models/` folder beside the executable (the checkout it was built
//! in) and livetag's cache (models converted on this machine, such as opt-in BirdNET), never
//! in `./models`. A folder in the working folder is used only when given as a path
//! (`--model ./models/x`, `--model models/x`).

use std::path::{Component, Path, PathBuf};

use super::{Bundle, BundleError, SPEC_FILE};

/// The bundle used when none is named.
pub const DEFAULT_MODEL: &str = "ced-tiny";
/// The music tagger, named in `livetag models` for those who want music tags.
pub const MUSIC_MODEL: &str = "musicnn-mtt";
/// The bundle the speech track uses when none is named.
pub const SPEECH_MODEL: &str = "silero-vad";

/// The installed locations, in search order, without repeats.
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("LIVETAG_MODEL_PATH")
        .map(|paths| std::env::split_paths(&paths).collect())
        .unwrap_or_default();
    dirs.extend(exe_models_dir());
    // The user's own cache only: with no HOME there is none, and a shared temporary folder
    // is never searched (anyone could plant a bundle there).
    if let Some(cache) = crate::cache::user_cache_dir() {
        dirs.push(cache.join("models"));
    }
    let mut unique: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        if dir.as_os_str().is_empty() {
            continue;
        }
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

/// The executable's data folder: `target/{debug,release}/livetag` -> the checkout's
/// `models/`. Cargo's test and example binaries, one folder deeper (`deps/`,
/// `examples/`), find the same one.
fn exe_models_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let mut bin = exe.parent()?;
    if bin
        .file_name()
        .is_some_and(|n| n == "deps" || n == "examples")
    {
        bin = bin.parent()?;
    }
    // Only a real checkout: for an installed binary (~/.cargo/bin, /usr/local/bin) two
    // levels up is the home or /usr, whose models/ nobody chose to trust.
    let root = bin.parent()?.parent()?;
    let checkout = bin.parent()?.file_name().is_some_and(|n| n == "target")
        && root.join("Cargo.toml").is_file();
    checkout.then(|| root.join("models"))
}

/// Every folder with a `bundle.toml` in the search dirs, loaded or with its error.
pub fn list() -> Vec<(PathBuf, Result<Bundle, BundleError>)> {
    bundle_dirs()
        .into_iter()
        .map(|path| {
            let loaded = Bundle::load(&path);
            (path, loaded)
        })
        .collect()
}

/// Every folder with a `bundle.toml` in the search dirs, in search order, each dir's
/// folders sorted; nothing is read but the folder listings.
pub fn bundle_dirs() -> Vec<PathBuf> {
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
        found.extend(paths);
    }
    found
}

/// Whether `--model`'s value is a name (one plain path component, no separator, not `.`
/// or `..`) rather than a path.
pub fn is_name(model: &str) -> bool {
    let mut components = Path::new(model).components();
    let single = matches!(
        (components.next(), components.next()),
        (Some(Component::Normal(_)), None)
    );
    single && !model.contains('/') && !model.contains(std::path::MAIN_SEPARATOR)
}

/// Resolves `--model`. A name (see [`is_name`]) is looked up in the installed locations
/// only ([`search_dirs`]); anything else is a path to a bundle folder (or its
/// `bundle.toml`), taken as given. With no `--model`, the default model's name.
pub fn resolve(model: Option<&str>) -> Result<PathBuf, BundleError> {
    let name = model.unwrap_or(DEFAULT_MODEL);
    if !is_name(name) {
        return Ok(PathBuf::from(name));
    }
    let dirs = search_dirs();
    if let Some(found) = dirs
        .iter()
        .map(|dir| dir.join(name))
        .find(|p| p.join(SPEC_FILE).is_file())
    {
        return Ok(found);
    }
    let searched = dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let local = Path::new(".").join(name);
    let hint = if local.join(SPEC_FILE).is_file() {
        format!(
            "; ./{name} here is a bundle, but names are looked up only where models are installed: give it as a path, --model ./{name}"
        )
    } else {
        String::new()
    };
    Err(BundleError::NotFound {
        path: PathBuf::from(format!(
            "{name} (searched {searched}; `livetag models` lists what is installed{hint})"
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        for name in ["ced-tiny", "musicnn-mtt", "my.bundle"] {
            assert!(is_name(name), "{name}");
        }
        for path in [
            "./ced-tiny",
            "models/ced-tiny",
            "ced-tiny/",
            "/opt/models/x",
            ".",
            "..",
            "",
        ] {
            assert!(!is_name(path), "{path}");
        }
    }

    #[test]
    fn paths_are_taken_as_given() {
        assert_eq!(
            resolve(Some("models/anything")).unwrap(),
            PathBuf::from("models/anything")
        );
    }

    #[test]
    fn the_working_folder_is_not_searched() {
        assert!(!search_dirs().contains(&PathBuf::from("models")));
    }
}
