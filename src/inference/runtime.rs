//! Finding and loading the ONNX Runtime shared library (ort's `load-dynamic`).
//!
//! Lookup order: an explicit path (`--ort-lib`), `ORT_DYLIB_PATH`, beside the executable,
//! then livetag's cache in the user's own cache folder ([`user_cache_dir`]), which
//! `tools/setup.sh` fills from the `onnxruntime` wheel on PyPI. A path given by flag or
//! variable must exist: it is never replaced by another library. A shared temporary folder
//! is never searched, and a library is loaded only when it, its folder and ONNX Runtime's
//! plug-ins beside it are owned by the user (or root) and not writable by every user.
//!
//! [`user_cache_dir`]: crate::cache::user_cache_dir
//!
//! ONNX Runtime's telemetry is switched off before the library loads (see [`runtime`]).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::InferenceError;

/// The ONNX Runtime release livetag is built against (ort 2.0.0-rc.15, API 31).
pub const ORT_VERSION: &str = "1.31.1";

/// The command that installs the library into the cache.
pub const SETUP_COMMAND: &str = "tools/setup.sh";

/// ONNX Runtime's process-wide telemetry opt-out on Linux and macOS. The library reads it
/// once, when its telemetry starts (before any environment exists), so it is set before the
/// library is loaded; `DisableTelemetryEvents` alone still lets that start write a device
/// id, an event database under `~/.cache/Microsoft` and a `.ses` file in the temp folder.
pub const TELEMETRY_OPT_OUT: &str = "ORT_DISABLE_TELEMETRY";

/// Why a library file, or a folder or file beside it, is not trusted with code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Untrusted {
    #[error("is writable by every user (mode {mode:o})")]
    WorldWritable { mode: u32 },
    #[error("is owned by user {owner}, neither you (user {uid}) nor root")]
    ForeignOwner { owner: u32, uid: u32 },
}

/// Why ONNX Runtime did not load: the library itself (not loadable, too old), or its
/// first environment.
#[derive(Debug, thiserror::Error)]
pub enum LoadFailure {
    #[error(transparent)]
    Library(#[from] ort::LoadDynamicError),
    #[error(transparent)]
    Environment(#[from] ort::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibrarySource {
    Flag,
    EnvVar,
    BesideExecutable,
    Cache,
}

impl LibrarySource {
    /// Where the path came from, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            LibrarySource::Flag => "given by --ort-lib; no other library is tried in its place",
            LibrarySource::EnvVar => {
                "given by ORT_DYLIB_PATH; no other library is tried in its place"
            }
            LibrarySource::BesideExecutable => "found beside the executable",
            LibrarySource::Cache => "found in livetag's cache",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeLibrary {
    /// The library file, symbolic links resolved: the file that is loaded.
    pub path: PathBuf,
    pub source: LibrarySource,
}

/// Where the setup script puts the library and its provider plug-ins; `None` when the user
/// has no cache folder (no `HOME`).
pub fn cached_library_dir() -> Option<PathBuf> {
    crate::cache::user_cache_dir().map(|dir| dir.join(format!("onnxruntime-{ORT_VERSION}")))
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

/// Finds the library without loading it, and checks that it may be loaded
/// ([`check_trusted`]). A path given by `explicit` (`--ort-lib`) or `ORT_DYLIB_PATH` must
/// be a file: when it is not, that is the error, and nothing else is tried.
pub fn find_library(explicit: Option<&Path>) -> Result<RuntimeLibrary, InferenceError> {
    let given = explicit
        .map(|path| (path.to_path_buf(), LibrarySource::Flag))
        .or_else(|| {
            crate::cache::env_path("ORT_DYLIB_PATH").map(|path| (path, LibrarySource::EnvVar))
        });
    if let Some((path, source)) = given {
        return trusted(&path, source);
    }
    let mut searched = Vec::new();
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        if let Some(path) = find_in(&exe_dir) {
            return trusted(&path, LibrarySource::BesideExecutable);
        }
        searched.push(format!("{} (beside the executable)", exe_dir.display()));
    }
    match cached_library_dir() {
        Some(cache) => {
            if let Some(path) = find_in(&cache) {
                return trusted(&path, LibrarySource::Cache);
            }
            searched.push(format!("{} (livetag's cache)", cache.display()));
        }
        None => searched.push(
            "no livetag cache: HOME is not set (set HOME or pass --ort-lib PATH; a temporary \
             folder is never searched)"
                .to_string(),
        ),
    }
    Err(InferenceError::LibraryNotFound { searched })
}

fn trusted(path: &Path, source: LibrarySource) -> Result<RuntimeLibrary, InferenceError> {
    Ok(RuntimeLibrary {
        path: check_trusted(path, source)?,
        source,
    })
}

/// Resolves `path` to the file that would be loaded and checks it may be: a file, which,
/// with its folder and every `*onnxruntime*` plug-in in that folder (ONNX Runtime loads its
/// providers from beside itself), is owned by the current user or root and is not
/// world-writable. Returns the resolved path.
pub fn check_trusted(path: &Path, source: LibrarySource) -> Result<PathBuf, InferenceError> {
    let unusable = |source_error: io::Error| InferenceError::LibraryPath {
        path: path.to_path_buf(),
        given_by: source.describe(),
        source: source_error,
    };
    let real = std::fs::canonicalize(path).map_err(unusable)?;
    let metadata = std::fs::metadata(&real).map_err(unusable)?;
    if !metadata.is_file() {
        return Err(unusable(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a file",
        )));
    }
    #[cfg(unix)]
    unix::check_library(&real).map_err(|error| match error {
        unix::Refusal::Io(e) => unusable(e),
        unix::Refusal::Untrusted { path, what, reason } => {
            InferenceError::UntrustedLibrary { path, what, reason }
        }
    })?;
    Ok(real)
}

#[cfg(unix)]
mod unix {
    use std::io;
    use std::os::unix::fs::MetadataExt;
    use std::path::{Path, PathBuf};

    use super::Untrusted;

    pub(super) enum Refusal {
        Io(io::Error),
        Untrusted {
            path: PathBuf,
            what: &'static str,
            reason: Untrusted,
        },
    }

    impl From<io::Error> for Refusal {
        fn from(error: io::Error) -> Self {
            Refusal::Io(error)
        }
    }

    /// The effective user of this process: the owner of a file it creates (on Linux, of
    /// `/proc/self`, which needs no file at all).
    fn current_uid() -> io::Result<u32> {
        if let Ok(metadata) = std::fs::metadata("/proc/self") {
            return Ok(metadata.uid());
        }
        Ok(tempfile::tempfile()?.metadata()?.uid())
    }

    /// Why `metadata` (of `path`) must not be trusted with code, if it must not.
    pub(super) fn untrusted_because(metadata: &std::fs::Metadata, uid: u32) -> Option<Untrusted> {
        let mode = metadata.mode() & 0o7777;
        if mode & 0o002 != 0 {
            return Some(Untrusted::WorldWritable { mode });
        }
        let owner = metadata.uid();
        if owner != uid && owner != 0 {
            return Some(Untrusted::ForeignOwner { owner, uid });
        }
        None
    }

    fn check(what: &'static str, path: &Path, uid: u32) -> Result<(), Refusal> {
        let metadata = std::fs::metadata(path)?;
        match untrusted_because(&metadata, uid) {
            Some(reason) => Err(Refusal::Untrusted {
                path: path.to_path_buf(),
                what,
                reason,
            }),
            None => Ok(()),
        }
    }

    /// `library` is already resolved (no symbolic links).
    pub(super) fn check_library(library: &Path) -> Result<(), Refusal> {
        let uid = current_uid()?;
        check("the library", library, uid)?;
        let Some(folder) = library.parent() else {
            return Ok(());
        };
        check("its folder", folder, uid)?;
        for entry in std::fs::read_dir(folder)? {
            let entry = entry?;
            if !entry.file_name().to_string_lossy().contains("onnxruntime") {
                continue;
            }
            // A plug-in that is a link is checked where it leads, with that folder; a link
            // that leads nowhere cannot be loaded either.
            let Ok(real) = std::fs::canonicalize(entry.path()) else {
                continue;
            };
            check("the ONNX Runtime file beside it", &real, uid)?;
            if let Some(real_folder) = real.parent().filter(|f| *f != folder) {
                check("the folder", real_folder, uid)?;
            }
        }
        Ok(())
    }
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
///
/// Telemetry is off: [`TELEMETRY_OPT_OUT`] is set to `1` before the library is loaded (the
/// only switch that stops ONNX Runtime from starting its uploader on Linux and macOS), and
/// the environment is built with ort's `with_telemetry(false)`, which calls the C API's
/// `DisableTelemetryEvents` (the switch that counts on Windows).
pub fn runtime(explicit: Option<&Path>) -> Result<Arc<Runtime>, InferenceError> {
    let mut slot = RUNTIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(runtime) = slot.as_ref() {
        return Ok(Arc::clone(runtime));
    }
    let library = find_library(explicit)?;
    let load_error = |source: LoadFailure| InferenceError::LibraryLoad {
        path: library.path.clone(),
        source,
    };
    // Set under the lock, once, before any ONNX Runtime code runs: ONNX Runtime reads the
    // variable when its telemetry starts, which is during the load or the first environment.
    // `main` sets it before any thread starts; a library user may not have, and then this
    // is the last moment before the library reads it.
    if std::env::var_os(TELEMETRY_OPT_OUT).is_none() {
        std::env::set_var(TELEMETRY_OPT_OUT, "1");
    }
    let environment = ort::init_from(&library.path)
        .map_err(|e| load_error(e.into()))?
        .with_name("livetag")
        .with_telemetry(false)
        .build()
        .map_err(|e| load_error(e.into()))?;
    let runtime = Arc::new(Runtime {
        library,
        environment,
    });
    *slot = Some(Arc::clone(&runtime));
    Ok(runtime)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn world_writable_files_and_folders_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("libonnxruntime.so");
        std::fs::write(&file, b"not a library").unwrap();
        let uid = std::fs::metadata(&file).unwrap().uid();
        set_mode(&file, 0o644);
        assert_eq!(
            unix::untrusted_because(&std::fs::metadata(&file).unwrap(), uid),
            None
        );
        set_mode(&file, 0o666);
        let reason = unix::untrusted_because(&std::fs::metadata(&file).unwrap(), uid).unwrap();
        assert_eq!(reason, Untrusted::WorldWritable { mode: 0o666 });
        assert_eq!(reason.to_string(), "is writable by every user (mode 666)");
        set_mode(&file, 0o644);
        set_mode(dir.path(), 0o777);
        let refused = check_trusted(&file, LibrarySource::Flag).unwrap_err();
        set_mode(dir.path(), 0o700);
        match refused {
            InferenceError::UntrustedLibrary { path, what, reason } => {
                assert_eq!(path, std::fs::canonicalize(dir.path()).unwrap());
                assert_eq!(what, "its folder");
                assert_eq!(reason, Untrusted::WorldWritable { mode: 0o777 });
            }
            other => panic!("not refused: {other}"),
        }
        assert!(check_trusted(&file, LibrarySource::Flag).is_ok());
    }

    #[test]
    fn files_of_another_user_are_refused_root_is_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("libonnxruntime.so");
        std::fs::write(&file, b"not a library").unwrap();
        set_mode(&file, 0o644);
        let owner = std::fs::metadata(&file).unwrap().uid();
        if owner == 0 {
            // Root owns everything it makes: give the file away to see another user's.
            // Some containers map no other users: then there is nobody to give it to.
            if std::os::unix::fs::chown(&file, Some(12345), None).is_ok() {
                let reason =
                    unix::untrusted_because(&std::fs::metadata(&file).unwrap(), 0).unwrap();
                assert_eq!(
                    reason,
                    Untrusted::ForeignOwner {
                        owner: 12345,
                        uid: 0
                    }
                );
            }
        } else {
            let reason =
                unix::untrusted_because(&std::fs::metadata(&file).unwrap(), owner + 1).unwrap();
            assert!(
                reason
                    .to_string()
                    .contains(&format!("owned by user {owner}")),
                "{reason}"
            );
            // Root's files (the system's) are trusted.
            assert_eq!(
                unix::untrusted_because(&std::fs::metadata("/").unwrap(), owner),
                None
            );
        }
    }

    #[test]
    fn a_missing_or_folder_path_is_an_error_naming_it() {
        let missing = Path::new("/nonexistent/libonnxruntime.so");
        match check_trusted(missing, LibrarySource::Flag).unwrap_err() {
            InferenceError::LibraryPath {
                path,
                given_by,
                source,
            } => {
                assert_eq!(path, missing);
                assert!(given_by.contains("--ort-lib"));
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
            }
            other => panic!("{other}"),
        }
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            check_trusted(dir.path(), LibrarySource::EnvVar),
            Err(InferenceError::LibraryPath { .. })
        ));
    }
}
