"""livetag_tools.convert.musicnn and livetag_tools.reference.musicnn, without the wheel's
download or TensorFlow: the bundle.toml text, the rebuilt graph against the NumPy forward
pass, the committed bundles' self-test pairs and the TF parity fixtures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from livetag_tools.common.cache import repo_root
from livetag_tools.common.fetch import fetch_wheel
from livetag_tools.common.onnx_session import make_session
from livetag_tools.convert import musicnn as conv
from livetag_tools.reference import musicnn as ref

ROOT = repo_root()
BUNDLES = {"MTT_musicnn": ("musicnn-mtt", "musicnn"), "MSD_musicnn": ("musicnn-msd", "musicnn-msd")}


@pytest.mark.parametrize("model", sorted(BUNDLES))
def test_bundle_toml_is_the_committed_one_byte_for_byte(model):
    bundle = ROOT / "models" / BUNDLES[model][0]
    assert conv.bundle_doc(model, 94).render() == (bundle / "bundle.toml").read_text("utf-8")


def test_crc32c_is_the_castagnoli_checksum():
    # the standard check value of CRC-32C, and TF's masking of it (crc32c.h)
    assert conv.crc32c(b"123456789") == 0xE3069283
    crc = 0xE3069283
    assert conv.masked_crc32c(b"123456789") == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) \
        & 0xFFFFFFFF


def _random_checkpoint(seed: int = 0) -> dict[str, np.ndarray]:
    """Weights of musicnn's shapes (MTT/MSD_musicnn), random: what build_onnx and
    numpy_forward read, without the wheel."""
    rng = np.random.default_rng(seed)
    ck: dict[str, np.ndarray] = {}

    def bn(name: str, n: int) -> None:
        ck[f"{name}/gamma"] = rng.uniform(0.5, 1.5, n).astype(np.float32)
        ck[f"{name}/beta"] = rng.normal(0, 0.1, n).astype(np.float32)
        ck[f"{name}/moving_mean"] = rng.normal(0, 0.1, n).astype(np.float32)
        ck[f"{name}/moving_variance"] = rng.uniform(0.5, 1.5, n).astype(np.float32)

    def dense(name: str, shape: tuple[int, ...], n_out: int, fan_in: int) -> None:
        ck[f"{name}/kernel"] = (rng.normal(0, 1, shape) / np.sqrt(fan_in)).astype(np.float32)
        ck[f"{name}/bias"] = rng.normal(0, 0.1, n_out).astype(np.float32)

    bn("batch_normalization", 1)
    fronts = [(7, 38, 204), (7, 67, 204), (128, 1, 51), (64, 1, 51), (32, 1, 51)]
    for (conv_name, bn_name, _), (kh, kw, n) in zip(conv.FRONT_CONVS, fronts):
        dense(conv_name, (kh, kw, 1, n), n, kh * kw)
        bn(bn_name, n)
    channels = sum(n for _, _, n in fronts)
    for conv_name, bn_name in conv.MID_CONVS:
        dense(conv_name, (7, channels, 1, 64), 64, 7 * channels)
        bn(bn_name, 64)
        channels = 64
    pooled = 2 * (561 + 3 * 64)
    bn("batch_normalization_9", pooled)
    dense("dense", (pooled, 200), 200, pooled)
    bn("batch_normalization_10", 200)
    dense("dense_1", (200, 50), 50, 200)
    return ck


def test_onnx_graph_matches_the_numpy_forward_pass_at_any_length():
    ck = _random_checkpoint()
    model = conv.build_onnx(ck, "MTT_musicnn", 50)
    session = make_session(model.SerializeToString())
    rng = np.random.default_rng(1)
    for t in (1, 94, 187):
        mel = rng.uniform(0, 4, (2, t, conv.N_MELS)).astype(np.float32)
        probs, logits = conv.run_onnx(session, mel)
        want = conv.numpy_forward(ck, mel)
        assert logits.shape == (2, 50)
        np.testing.assert_allclose(logits, want, atol=1e-4, rtol=1e-4)
        np.testing.assert_allclose(probs, 1 / (1 + np.exp(-want)), atol=1e-5)


def test_graph_is_deterministic():
    ck = _random_checkpoint()
    first = conv.build_onnx(ck, "MTT_musicnn", 50).SerializeToString()
    assert conv.build_onnx(ck, "MTT_musicnn", 50).SerializeToString() == first


@pytest.mark.parametrize("model", sorted(BUNDLES))
def test_committed_expected_json_is_the_model_on_the_reference_whistle(model):
    bundle = ROOT / "models" / BUNDLES[model][0]
    rep = conv.musicnn_features(conv.load_audio(bundle / "reference" / "input.wav"))
    assert rep.shape == (conv.N_FRAMES, conv.N_MELS)
    probs, _ = conv.run_onnx(make_session((bundle / "model.onnx").read_bytes()), rep[None])
    expected = json.loads((bundle / "reference" / "expected.json").read_text())
    np.testing.assert_allclose(probs, np.array(expected["scores"]), atol=conv.TOLERANCE)


def test_reference_whistle_is_the_committed_wav_byte_for_byte():
    from livetag_tools.common.clips import synth_whistle
    from livetag_tools.common.wav import float32_wav
    wav = float32_wav(synth_whistle(conv.REFERENCE_SAMPLES, seed=0, sr=conv.SR), conv.SR)
    assert wav == (ROOT / "models" / "musicnn-mtt" / "reference" / "input.wav").read_bytes()


@pytest.mark.parametrize("model", sorted(BUNDLES))
def test_onnx_matches_tensorflow_fixtures(model):
    """What `python -m livetag_tools.reference.musicnn --compare-only` checks."""
    bundle, fixtures = BUNDLES[model]
    onnx_path = ROOT / "models" / bundle / "model.onnx"
    labels = (onnx_path.parent / "labels.txt").read_text().splitlines()
    session = make_session(onnx_path.read_bytes())
    rows = conv.compare_with_tf_fixtures(session, labels, ROOT / "tests" / "fixtures" / fixtures)
    assert len(rows) == 6, rows
    for row in rows:
        assert "error" not in row, row
        assert row["max_abs_delta"] <= 1e-3 and row["top5_identical"], row
    assert ref.compare(onnx_path, ROOT / "tests" / "fixtures" / fixtures, labels)


def test_musicnn_package_loads_from_the_cached_wheel():
    """The reference generator's musicnn comes from the pinned wheel (it is not installable
    beside NumPy 2); its label lists are the bundles' labels."""
    # Fetched (29 MB, sha256-checked) into livetag's cache when not there yet.
    fetch_wheel("musicnn==0.1.0", conv.WHEEL_NAME, conv.WHEEL_SHA256, None)
    ref.musicnn_package()
    import musicnn.configuration as config
    assert config.MTT_LABELS == (ROOT / "models/musicnn-mtt/labels.txt").read_text().splitlines()
    assert config.MSD_LABELS == (ROOT / "models/musicnn-msd/labels.txt").read_text().splitlines()
