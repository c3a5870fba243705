"""The tiny test bundles (tests/models/tiny-*, tests/fixtures/tiny, their fuzz seeds) are what
`livetag_tools.fixtures.tiny_models` writes, byte for byte: livetag's Rust tests compare against
numbers this module computed, so a committed file that drifted from it would test nothing."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from livetag_tools.common.cache import repo_root
from livetag_tools.fixtures import tiny_models

ROOT = repo_root()
TOMLS = {"tiny-tone": tiny_models.tone_toml, "tiny-state": tiny_models.state_toml,
         "tiny-sed": tiny_models.sed_toml}


@pytest.mark.parametrize("name", sorted(TOMLS))
def test_bundle_toml_is_the_committed_text(name):
    committed = (ROOT / "tests" / "models" / name / "bundle.toml").read_text(encoding="utf-8")
    assert TOMLS[name]().render() == committed
    assert tomllib.loads(committed)["model"]["name"] == name


@pytest.mark.parametrize("name", sorted(TOMLS))
def test_fuzz_seeds_are_copies_of_the_bundles(name):
    bundle = ROOT / "tests" / "models" / name
    fuzz = ROOT / "tests" / "fuzz_corpus"
    assert (fuzz / "bundle_toml" / f"{name}.toml").read_bytes() == \
        (bundle / "bundle.toml").read_bytes()
    assert (fuzz / "onnx" / f"{name}.onnx").read_bytes() == (bundle / "model.onnx").read_bytes()


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_rebuild_is_byte_identical(tmp_path, capsys):
    tiny_models.main(["--out", str(tmp_path)])
    # The clip's expected windows are printed for a reader checking the docstring's numbers.
    assert "high" in capsys.readouterr().out
    written = files_under(tmp_path)
    assert len(written) == 26, sorted(written)
    for rel, data in written.items():
        committed = ROOT / rel
        assert committed.is_file(), f"{rel} is written but not committed"
        assert data == committed.read_bytes(), f"{rel} differs from the committed file"
    # Nothing committed beside them that the module no longer writes.
    for sub in ("tests/models", "tests/fixtures/tiny"):
        committed = {f"{sub}/{rel}" for rel in files_under(ROOT / sub)}
        assert committed <= written.keys(), sorted(committed - written.keys())
