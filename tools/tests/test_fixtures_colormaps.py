"""src/ui/colormap_data.rs is what `livetag_tools.fixtures.colormaps` writes.

The formatting is checked with the committed anchors fed back through a stand-in
`matplotlib.colormaps`, and the anchors against matplotlib itself (in CI's venv)."""

from __future__ import annotations

import re
import sys
import types

import pytest

from livetag_tools.common.cache import repo_root
from livetag_tools.fixtures import colormaps

COMMITTED = repo_root() / "src" / "ui" / "colormap_data.rs"


def committed_anchors() -> dict[str, list[tuple[int, int, int]]]:
    text = COMMITTED.read_text(encoding="utf-8")
    maps = {}
    for name, body in re.findall(r"pub const (\w+): \[\[u8; 3\]; 33\] = \[\n(.*?)\];", text,
                                 re.S):
        maps[name.lower()] = [tuple(map(int, row))
                              for row in re.findall(r"\[(\d+), (\d+), (\d+)\]", body)]
    return maps


def test_committed_file_holds_every_map():
    maps = committed_anchors()
    assert list(maps) == list(colormaps.MAPS)
    assert all(len(rows) == colormaps.ANCHORS for rows in maps.values())
    # viridis' published end points
    assert maps["viridis"][0] == (68, 1, 84) and maps["viridis"][-1] == (253, 231, 37)


def test_render_writes_the_committed_bytes(monkeypatch):
    maps = committed_anchors()

    def cmap(rows):
        return lambda x: (*(v / 255 for v in rows[round(x * (colormaps.ANCHORS - 1))]), 1.0)

    fake = types.ModuleType("matplotlib")
    fake.colormaps = {name: cmap(rows) for name, rows in maps.items()}
    monkeypatch.setitem(sys.modules, "matplotlib", fake)
    assert colormaps.render() == COMMITTED.read_text(encoding="utf-8")


def test_matplotlib_gives_the_committed_anchors():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        pytest.skip("SKIPPED: matplotlib is not installed (CI's `tools/venv.sh export` has "
                    "it); the colour anchors are not checked against it")
    assert colormaps.render() == COMMITTED.read_text(encoding="utf-8")
