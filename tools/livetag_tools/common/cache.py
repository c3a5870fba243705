"""livetag's cache folder, by the same rule as the binary (src/cache.rs)."""

from __future__ import annotations

import os
from pathlib import Path


def livetag_cache() -> Path:
    """`$LIVETAG_CACHE_DIR`, else `$XDG_CACHE_HOME/livetag`, else `~/.cache/livetag`."""
    if os.environ.get("LIVETAG_CACHE_DIR"):
        return Path(os.environ["LIVETAG_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "livetag"


def repo_root() -> Path:
    """The checkout this package sits in (tools/livetag_tools/common/cache.py -> root)."""
    return Path(__file__).resolve().parents[3]
