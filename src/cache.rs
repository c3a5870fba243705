//! livetag's cache folders. Both the model search (`bundle::catalog`) and the ONNX Runtime
//! lookup (`inference::runtime`) use them, so they live here, below both.

use std::path::PathBuf;

/// The environment variable `name` as a path, when it is set and not empty.
pub(crate) fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}

/// The user's own livetag cache: `$LIVETAG_CACHE_DIR`, else `$XDG_CACHE_HOME/livetag`, else
/// `$HOME/.cache/livetag`; `None` when none of them is set (an `XDG_CACHE_HOME` or `HOME`
/// that is not an absolute path counts as unset). The ONNX Runtime library is looked up only
/// here, and models are searched here, never in a shared temporary folder.
pub fn user_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = env_path("LIVETAG_CACHE_DIR").filter(|dir| dir.is_absolute()) {
        return Some(dir);
    }
    env_path("XDG_CACHE_HOME")
        .filter(|dir| dir.is_absolute())
        .or_else(|| {
            env_path("HOME")
                .filter(|home| home.is_absolute())
                .map(|home| home.join(".cache"))
        })
        .map(|base| base.join("livetag"))
}

/// livetag's cache for data (models, downloads): [`user_cache_dir`], else
/// `$TMPDIR/livetag`. Never a place code is loaded from: the ONNX Runtime library is looked
/// up in [`user_cache_dir`] only.
pub fn cache_dir() -> PathBuf {
    user_cache_dir().unwrap_or_else(|| std::env::temp_dir().join("livetag"))
}
