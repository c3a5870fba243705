"""livetag_tools.convert.ced without the crates' download: the bundle.toml and NOTICE text,
the committed model and labels, the self-test pair and the parity fixtures' windows and
scores."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from livetag_tools.common.cache import repo_root
from livetag_tools.common.onnx_session import make_session
from livetag_tools.common.wav import float32_wav
from livetag_tools.convert import ced as conv
from livetag_tools.data import LABELS

ROOT = repo_root()
BUNDLE = ROOT / "models" / "ced-tiny"
FIXTURES = ROOT / "tests" / "fixtures" / "ced-tiny"


@pytest.fixture(scope="module")
def session():
    return make_session((BUNDLE / "model.onnx").read_bytes())


def test_bundle_toml_is_the_committed_one_byte_for_byte():
    assert conv.bundle_doc().render() == (BUNDLE / "bundle.toml").read_text("utf-8")


def test_notice_is_the_committed_one_byte_for_byte():
    """Everything but the crate's own notice (quoted at the end) comes from the template."""
    committed = (BUNDLE / "NOTICE").read_text("utf-8")
    third_party = committed.split("The crate's own notice, as published:\n\n", 1)[1]
    assert conv.notice(conv.MODEL_CRATE[2], conv.DATASET_CRATE[2], third_party) == committed


def test_committed_model_and_labels():
    model = (BUNDLE / "model.onnx").read_bytes()
    assert hashlib.sha256(model).hexdigest() == conv.ONNX_SHA256
    conv.check_graph(model)  # exits if the graph is not the one the bundle describes
    # AudioSet's class_labels_indices.csv, the same order as the crate's copy
    labels = conv.audioset_labels((LABELS / "audioset_527.csv").read_bytes())
    assert (BUNDLE / "labels.txt").read_text("utf-8") == "".join(f"{n}\n" for _, n in labels)
    assert (BUNDLE / "label_ids.txt").read_text("utf-8") == "".join(f"{m}\n" for m, _ in labels)


@pytest.mark.parametrize("n, ends", [
    (4800, [8000]),                                   # shorter than the minimum: padded
    (52800, [52800]),                                 # between minimum and window: one window
    (176000, [160000, 176000]),                       # longer, on the grid
    (183200, [160000, 176000, 183200]),               # longer, a tail aligned to the end
])
def test_livetag_windows(n, ends):
    windows = conv.livetag_windows(np.ones(n, np.float32))
    assert [s + len(w) for s, w in windows] == ends
    assert all(len(w) == min(conv.WINDOW, max(n, conv.MIN)) for _, w in windows)


def test_fixture_windows_and_scores_are_tiny_onnx_in_onnxruntime(session):
    import soundfile as sf
    docs = sorted(FIXTURES.glob("*.expected.json"))
    assert len(docs) == len(conv.FIXTURE_CLIPS)
    for path in docs:
        doc = json.loads(path.read_text())
        audio, sr = sf.read(str(path.with_name(doc["clip"] + ".wav")), dtype="float32")
        assert sr == conv.SR
        windows = conv.livetag_windows(audio)
        assert [{"start_samples": s, "samples": len(w)} for s, w in windows] == doc["windows"]
        probs = conv.scores(session, [w for _, w in windows])
        np.testing.assert_allclose(probs, np.array(doc["scores"]), atol=conv.TOLERANCE,
                                   err_msg=doc["clip"])


def test_committed_expected_json_is_tiny_onnx_on_input_wav(session):
    import soundfile as sf
    audio, _ = sf.read(str(BUNDLE / "reference" / "input.wav"), dtype="float32")
    probs = conv.scores(session, [w for _, w in conv.livetag_windows(audio, hop=conv.WINDOW)])
    expected = json.loads((BUNDLE / "reference" / "expected.json").read_text())
    assert expected["output"] == "logits"
    np.testing.assert_allclose(probs, np.array(expected["scores"]), atol=conv.TOLERANCE)


def test_fixture_clips_are_the_committed_wavs_byte_for_byte():
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (tools/system-packages.sh installs it): two "
                    "fixture clips and the reference are espeak-ng speech")
    from livetag_tools.common import clips
    for clip, seconds in conv.FIXTURE_CLIPS:
        wav = float32_wav(clips.synth(clip, seconds, conv.SR), conv.SR)
        assert wav == (FIXTURES / f"{clip}-{seconds:g}s.wav").read_bytes(), clip
    wav = float32_wav(clips.synth("speech", 3.0, conv.SR), conv.SR)
    assert wav == (BUNDLE / "reference" / "input.wav").read_bytes()
