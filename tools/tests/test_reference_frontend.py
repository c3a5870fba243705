"""The front-end reference fixtures (tests/fixtures/frontend) are what
`livetag_tools.reference.frontend` writes: livetag's parity tests (tests/frontend_parity.rs)
are only as good as the claim that these numbers are librosa's and madmom's.

madmom cannot be installed from a lock (see the module's docstring), so `dorfer_v2` is made
here by the NumPy re-implementation, which must give madmom's committed features bit for bit;
only its meta.json, which names madmom as the reference, is compared key by key."""

from __future__ import annotations

import json

import librosa
import numpy as np
import pytest
import scipy

from livetag_tools.common.cache import repo_root
from livetag_tools.reference import frontend as fr

COMMITTED = repo_root() / "tests" / "fixtures" / "frontend"
CASES = {case["name"]: case for case in fr.build_cases(None)}
# What only madmom itself adds to dorfer_v2's meta.json.
MADMOM_KEYS = {"madmom_total_frames", "numpy_reimplementation_max_rel_diff",
               "numpy_reimplementation_max_abs_diff"}


def test_every_committed_case_is_built():
    assert sorted(p.name for p in COMMITTED.iterdir()) == sorted(CASES)


def split_versions(reference: str) -> tuple[str, dict[str, str]]:
    """`meta.json`'s reference text and the library versions it ends with."""
    text, _, tail = reference.rpartition("; ")
    return text, dict(part.split(" ", 1) for part in tail.split(", "))


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_rebuilds_bit_identically(name, tmp_path):
    vers = fr.versions()
    fr.write_case(CASES[name], tmp_path, vers)
    made, committed = tmp_path / name, COMMITTED / name
    for file in ("frontend.toml", "input.f32", "expected.f32"):
        assert (made / file).read_bytes() == (committed / file).read_bytes(), f"{name}/{file}"

    new = json.loads((made / "meta.json").read_text())
    old = json.loads((committed / "meta.json").read_text())
    new_ref, new_vers = split_versions(new.pop("reference"))
    old_ref, old_vers = split_versions(old.pop("reference"))
    if name == "dorfer_v2":
        assert old_ref.startswith("madmom 0.16.1 (")
        assert new_ref.startswith("NumPy re-implementation of madmom 0.16 formulas")
        assert old["numpy_reimplementation_max_abs_diff"] == 0.0
        old = {k: v for k, v in old.items() if k not in MADMOM_KEYS}
        old_vers.pop("madmom")
    else:
        assert new_ref == old_ref
    assert new == old
    # The lock's librosa/NumPy/SciPy are the ones the fixtures were made with; the Python
    # patch release may differ from machine to machine.
    assert {k: v for k, v in new_vers.items() if k != "python"} == \
        {k: v for k, v in old_vers.items() if k != "python"}
    assert new_vers["librosa"] == librosa.__version__ and new_vers["scipy"] == scipy.__version__
    if new_vers["python"] == old_vers["python"] and name != "dorfer_v2":
        assert (made / "meta.json").read_bytes() == (committed / "meta.json").read_bytes()


def test_independent_check_agrees(tmp_path):
    """The module's own NumPy re-derivation of four cases, as it prints after writing."""
    for name in ("librosa_mel_slaney_db", "streaming_db_top_db", "panns_logmel", "musicnn"):
        fr.write_case(CASES[name], tmp_path, fr.versions())
    results = fr.self_check(tmp_path)
    for name, result in results.items():
        assert result["max_rel_diff"] < 1e-5, (name, result)
    assert results["streaming_db_top_db"]["own_peak_frame"] == \
        results["streaming_db_top_db"]["meta_peak_frame"]
    assert results["musicnn"]["float16_rounding_flips"] == 0


def test_signal_is_deterministic():
    a, b = fr.make_signal(16000), fr.make_signal(16000)
    assert a.dtype == np.float32 and np.array_equal(a, b)
    committed = np.fromfile(COMMITTED / "musicnn" / "input.f32", dtype="<f4")
    assert np.array_equal(a, committed)

