"""livetag_tools.convert.silero and livetag_tools.reference.silero, without the wheel's
download or torch: the bundle.toml text, the committed model and its self-test pair, the
windowing that must equal silero's chunking, and the wrapper fixtures."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from livetag_tools.common.cache import repo_root
from livetag_tools.common.onnx_session import make_session
from livetag_tools.common.wav import float32_wav
from livetag_tools.convert import silero as conv
from livetag_tools.reference import silero as ref

ROOT = repo_root()
BUNDLE = ROOT / "models" / "silero-vad"


def test_bundle_toml_is_the_committed_one_byte_for_byte():
    assert conv.bundle_doc().render() == (BUNDLE / "bundle.toml").read_text("utf-8")


def test_committed_model_is_the_wheels_file_with_the_signature_the_bundle_describes():
    model = (BUNDLE / "model.onnx").read_bytes()
    assert hashlib.sha256(model).hexdigest() == conv.ONNX_SHA256
    assert conv.check_signature(model) == []


@pytest.mark.parametrize("n", [1024, 512, 600, 5000])
def test_windows_at_the_bundle_hop_are_silero_chunks(n):
    audio = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    ours, theirs = conv.livetag_windows(audio, conv.CHUNK), conv.wrapper_inputs(audio)
    full = n // conv.CHUNK
    assert len(ours) == len(theirs)
    assert all(np.array_equal(a, b) for a, b in zip(ours[:full], theirs[:full]))
    assert all(len(w) == conv.WINDOW for w in ours)


def test_self_test_grid_matches_silero_only_on_the_1024_sample_reference():
    """Why the reference clip is 1024 samples (the converter's docstring)."""
    rng = np.random.default_rng(0)
    for n, same in ((1024, True), (1536, False)):
        audio = rng.standard_normal(n).astype(np.float32)
        ours, theirs = conv.livetag_windows(audio, conv.WINDOW), conv.wrapper_inputs(audio)
        equal = len(ours) == len(theirs) and all(np.array_equal(a, b)
                                                 for a, b in zip(ours, theirs))
        assert equal is same, n


def test_committed_expected_json_is_the_wrappers_chunking_of_input_wav():
    audio = conv.load_fixture_audio(BUNDLE / "reference" / "input.wav")
    assert len(audio) == conv.REFERENCE_SAMPLES
    session = make_session((BUNDLE / "model.onnx").read_bytes())
    probs = conv.run_windows(session, conv.wrapper_inputs(audio))
    expected = json.loads((BUNDLE / "reference" / "expected.json").read_text())
    assert expected["output"] == "output"
    np.testing.assert_allclose(probs, [row[0] for row in expected["scores"]],
                               atol=conv.TOLERANCE)


def test_reference_audio_is_the_committed_wav_byte_for_byte():
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (tools/system-packages.sh installs it): the "
                    "reference clip is espeak-ng speech")
    wav = float32_wav(conv.reference_audio(), conv.SR)
    assert wav == (BUNDLE / "reference" / "input.wav").read_bytes()


def test_bundle_matches_silero_wrapper_fixtures():
    """What `python -m livetag_tools.reference.silero --compare-only` checks."""
    session = make_session((BUNDLE / "model.onnx").read_bytes())
    rows, bundle_ref = conv.compare_fixtures(session, conv.FIXTURES)
    assert len(rows) == 6 and bundle_ref is not None
    for row in rows:
        assert row["count_ok"], row
        assert row["emulated"] <= conv.FIXTURE_TOLERANCE, row
        assert row["full"] <= conv.FIXTURE_TOLERANCE, row
    speech = {row["clip"]: row["mean"] for row in rows}
    assert speech["speech"] > 0.5 and max(v for k, v in speech.items() if k != "speech") < 0.1
    assert ref.compare(BUNDLE / "model.onnx", conv.FIXTURES)
