//! Finding and loading the ONNX Runtime shared library (ort's `load-dynamic`).
//!
//! Lookup order: an explicit path (`--ort-lib`), `ORT_DYLIB_PATH`, beside the executable,
//! then livetag's cache, which `tools/setup.sh` fills from the `onnxruntime` wheel on PyPI.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::InferenceError;

/// The ONNX Runtime release livetag is built against (ort 2.0.0-rc.15, API 31).
pub const ORT_VERSION: &str = "1.31.1";

/// The command that installs the library into the cache.
pub const SETUP_COMMAND: &str = "tools/setup.sh";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibrarySource {
    Flag,
    EnvVar,
    BesideExecutable,
    Cache,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeLibrary {
    pub path: PathBuf,
    pub source: LibrarySource,
}

/// livetag's cache: `$LIVETAG_CACHE_DIR`, else `$XDG_CACHE_HOME/livetag`, else `~/.cache/livetag`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LIVETAG_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("livetag")
}

/// Where the setup script puts the library and its provider plug-ins.
pub fn cached_library_dir() -> PathBuf {
    cache_dir().join(format!("onnxruntime-{ORT_VERSION}"))
}

fn library_file_names() -> [String; 2] {
    if cfg!(target_os = "windows") {
        ["onnxruntime.dll".into(), "onnxruntime.dll".into()]
    } else if cfg!(target_os = "macos") {
        [
            format!("libonnxruntime.{ORT_VERSION}.dylib"),
            "libonnxruntime.dylib".into(),
        ]
    } else {
        [
            format!("libonnxruntime.so.{ORT_VERSION}"),
            "libonnxruntime.so".into(),
        ]
    }
}

fn find_in(dir: &Path) -> Option<PathBuf> {
    library_file_names()
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
}

/// Finds the library without loading it.
pub fn find_library(explicit: Option<&Path>) -> Result<RuntimeLibrary, InferenceError> {
    let mut searched = Vec::new();
    if let Some(path) = explicit {
        if path.is_file() {
            return Ok(RuntimeLibrary {
                path: path.to_path_buf(),
                source: LibrarySource::Flag,
            });
        }
        searched.push(format!("{} (--ort-lib)", path.display()));
    }
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from) {
        if path.is_file() {
            return Ok(RuntimeLibrary {
                path,
                source: LibrarySource::EnvVar,
            });
        }
        searched.push(format!("{} (ORT_DYLIB_PATH)", path.display()));
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        if let Some(path) = find_in(&exe_dir) {
            return Ok(RuntimeLibrary {
                path,
                source: LibrarySource::BesideExecutable,
            });
        }
        searched.push(format!("{} (beside the executable)", exe_dir.display()));
    }
    let cache = cached_library_dir();
    if let Some(path) = find_in(&cache) {
        return Ok(RuntimeLibrary {
            path,
            source: LibrarySource::Cache,
        });
    }
    searched.push(format!("{} (livetag's cache)", cache.display()));
    Err(InferenceError::LibraryNotFound { searched })
}

/// A loaded ONNX Runtime: the library and one environment shared by every session.
pub struct Runtime {
    pub library: RuntimeLibrary,
    pub(crate) environment: ort::environment::Environment,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("library", &self.library)
            .finish_non_exhaustive()
    }
}

// ort loads the library once per process; later calls reuse that first success.
static RUNTIME: Mutex<Option<Arc<Runtime>>> = Mutex::new(None);

/// Loads ONNX Runtime once per process. A failed attempt can be retried (say, after the
/// user fixes the path); a success is kept.
pub fn runtime(explicit: Option<&Path>) -> Result<Arc<Runtime>, InferenceError> {
    let mut slot = RUNTIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(runtime) = slot.as_ref() {
        return Ok(Arc::clone(runtime));
    }
    let library = find_library(explicit)?;
    let load_error = |reason: String| InferenceError::LibraryLoad {
        path: library.path.clone(),
        reason,
    };
    let environment = ort::init_from(&library.path)
        .map_err(|e| load_error(e.to_string()))?
        .with_name("livetag")
        .build()
        .map_err(|e| load_error(e.to_string()))?;
    let runtime = Arc::new(Runtime {
        library,
        environment,
    });
    *slot = Some(Arc::clone(&runtime));
    Ok(runtime)
}
