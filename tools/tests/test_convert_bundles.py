"""Every bundle committed under models/ rebuilds byte for byte from its pinned source (a wheel
from livetag's cache, else `pip download`; the CED crate through `cargo info`) with the lock's
numpy and onnx: a converter change that alters any committed byte fails here, not in a review
of regenerated files."""

from __future__ import annotations

import subprocess
import sys

import pytest

from livetag_tools.common.cache import repo_root

MODELS = repo_root() / "models"

# models/<bundle> -> the command line (after `python -m`) that writes it
BUNDLES = {
    "musicnn-mtt": ["livetag_tools.convert.musicnn", "--model", "MTT_musicnn"],
    "musicnn-msd": ["livetag_tools.convert.musicnn", "--model", "MSD_musicnn"],
    "silero-vad": ["livetag_tools.convert.silero"],
    "ced-tiny": ["livetag_tools.convert.ced"],
    "yamnet": ["livetag_tools.convert.yamnet"],
}


def files_below(root) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_every_committed_bundle_is_rebuilt_here():
    assert sorted(p.name for p in MODELS.iterdir() if p.is_dir()) == sorted(BUNDLES)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(BUNDLES))
def test_bundle_rebuilds_byte_for_byte(name, tmp_path):
    out = tmp_path / name
    result = subprocess.run([sys.executable, "-m", *BUNDLES[name], "--out", str(out)],
                            cwd=repo_root() / "tools", capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    shipped = MODELS / name
    made = files_below(out)
    assert made == files_below(shipped)
    different = [f for f in made if (out / f).read_bytes() != (shipped / f).read_bytes()]
    assert not different, f"rebuilt files differ from models/{name}: {different}"
