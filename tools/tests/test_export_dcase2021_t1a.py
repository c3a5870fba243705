"""DCASE 2021 Task 1A exporter (livetag_tools.export.dcase.dcase2021_t1a): Keras .h5 files
written by Keras itself (tests/fixtures/dcase2021_t1a, livetag_tools.reference.
dcase2021_t1a_keras) exported without TensorFlow, ONNX Runtime against Keras' outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from livetag_tools.export.dcase import dcase2021_t1a_spec as spec

FIX = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "dcase2021_t1a"
TOL = 1e-4


def expected() -> dict:
    return json.loads((FIX / "expected.json").read_text())


def norm_stats():
    z = np.load(FIX / "norm_stats.npz")
    return z["mean"], z["std"]


@pytest.mark.parametrize("name", sorted(json.loads((FIX / "expected.json").read_text())["files"]))
def test_onnx_matches_keras(name, tmp_path):
    """The bundle's model.onnx on the Keras inputs = Keras' own outputs (<= 1e-4)."""
    import onnxruntime as ort

    from livetag_tools.export.registry import registry

    want = expected()["files"][name]
    arch = registry()[want["variant"]].arch
    model = arch.checkpoint_loader(FIX / name)
    arch.export(model, tmp_path, weights=f"fixture {name}", norm_stats=norm_stats())
    x = np.load(FIX / "inputs.npy")
    sess = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(["probabilities"], {"logmel": x})[0]
    ref = np.asarray(want["outputs"])
    diff = float(np.max(np.abs(got - ref)))
    assert diff <= TOL, f"{name}: max |onnxruntime - keras| = {diff:.2e}"
    # Random but calibrated: the clips are told apart and no softmax is saturated, so the
    # comparison above can fail.
    assert ref.max() < 0.99 and np.ptp(ref, axis=0).max() > 0.01
    bundle = (tmp_path / "bundle.toml").read_text()
    assert 'window = "hamming"' in bundle and "win_length = 1764" in bundle
    assert "hop_samples = 882" in bundle and "sample_rate_hz = 44100" in bundle


def test_fixture_inputs_are_the_bundle_frontend():
    """inputs.npy are the bundle front-end's features of the seeded clips, so the Keras
    outputs are what livetag's front-end feeds the model."""
    from livetag_tools.export.dcase.dcase2021_t1a import ARCH
    from livetag_tools.export.dcase.frontend import livetag_features

    fe = ARCH.bundle_frontend(norm_stats())
    x = np.load(FIX / "inputs.npy")
    for row, seed in zip(x, expected()["input_seeds"]):
        f = livetag_features(spec.clip_audio(seed), spec.SAMPLE_RATE_HZ, fe)
        assert np.max(np.abs(f[: spec.WINDOW_FRAMES].T - row[..., 0])) < 1e-5


def test_structure_and_parameter_counts():
    from livetag_tools.export.keras_h5 import read_h5

    counts = {}
    for name, want in expected()["files"].items():
        m = read_h5(FIX / name)
        assert m.summary() == spec.structure(want["variant"])
        assert m.parameter_count()["total"] == want["parameters"]
        counts[want["variant"]] = m.parameter_count()
    # The seed's "~46k parameters" baseline: Keras' count, and without BN moving statistics.
    assert counts["dcase2021_t1a"] == {"total": 46246, "trainable": 46118}


def test_wrong_arch_names_the_matching_one():
    from livetag_tools.export.dcase.dcase2021_t1a import load_h5
    from livetag_tools.export.keras_h5 import KerasH5Error

    with pytest.raises(KerasH5Error, match="it is --arch dcase2021_t1a_4layer"):
        load_h5("dcase2021_t1a", FIX / "dcase2021_t1a_4layer.keras3.h5")


def test_unsupported_layer_and_weights_only_file(tmp_path):
    import h5py

    from livetag_tools.export.keras_h5 import KerasH5Error, read_h5, to_torch

    path = tmp_path / "lstm.h5"
    shutil.copy(FIX / "dcase2021_t1a.tf_keras.h5", path)
    with h5py.File(path, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        layer = next(c for c in cfg["config"]["layers"] if c["class_name"] == "MaxPooling2D")
        layer["class_name"] = "AveragePooling2D"
        f.attrs["model_config"] = json.dumps(cfg)
    with pytest.raises(KerasH5Error, match="AveragePooling2D is not supported"):
        to_torch(read_h5(path))
    bare = tmp_path / "weights.h5"
    with h5py.File(bare, "w") as f:
        f.create_group("conv2d")
    with pytest.raises(KerasH5Error, match="no model_config"):
        read_h5(bare)


def test_checkpoint_command(tmp_path):
    """The one command a user runs: .h5 (+ the fold's scaler) -> bundle, parity checked."""
    from livetag_tools.export.dcase.__main__ import main

    out = tmp_path / "bundle"
    np.savez(tmp_path / "norm.npz", mean=norm_stats()[0], std=norm_stats()[1])
    rc = main(["--arch", "dcase2021_t1a", "--checkpoint", str(FIX / "dcase2021_t1a.tf_keras.h5"),
               "--norm-stats", str(tmp_path / "norm.npz"), "--out", str(out)])
    assert rc == 0
    bundle = (out / "bundle.toml").read_text()
    assert "dcase2021_t1a.tf_keras.h5" in bundle
    assert f"{norm_stats()[0][0]:.6}"[:6] in bundle  # the scaler went into normalize


def test_tflite_float16_model_converts_and_matches_the_interpreter():
    """task1a_tflite.py's float16 model (SOFTMAX, float16 weights behind DEQUANTIZE) through
    livetag's TFLite converter: the ONNX graph against the TFLite interpreter's outputs."""
    from livetag_tools.common.onnx_session import make_session
    from livetag_tools.convert import tflite as t2o

    tfl_fixture = expected()["tflite"]
    assert tfl_fixture["ops"] == ["CONV_2D", "DEQUANTIZE", "FULLY_CONNECTED", "MAX_POOL_2D",
                                  "RESHAPE", "SOFTMAX"]
    tfl = t2o.dequantize(t2o.parse_tflite((FIX / tfl_fixture["file"]).read_bytes()))
    inputs = np.load(FIX / "inputs.npy")
    onnx_model, _ = t2o.build_onnx(tfl, t2o.run_numpy(tfl, inputs[:1]),
                                   t2o.run_numpy(tfl, inputs[:2]), input_name="x",
                                   output_name="y", graph_name="t1a", producer_name="test",
                                   doc_string="")
    got = make_session(onnx_model.SerializeToString()).run(
        None, {"x": inputs.astype(np.float32)})[0]
    want = np.asarray(tfl_fixture["outputs"])
    assert np.abs(got - want).max() <= 1e-5
    # The float16 rounding alone moves the outputs this far from Keras' float32 ones.
    assert 1e-5 < tfl_fixture["max_abs_diff_to_keras"] < 1e-2


def dcase_util_mel(y: np.ndarray) -> np.ndarray:
    """dcase_util 0.2.x MelExtractor.extract with task1a.yaml's parameters, re-typed from its
    source (no dcase_util here): scipy's asymmetric Hamming, librosa.stft of y + eps with
    center=True and the 2021 default pad_mode 'reflect', magnitude, librosa's Slaney mel,
    ln(mel + eps). [40 bands, frames]."""
    import librosa
    import scipy.signal

    eps = np.spacing(1)
    window = scipy.signal.windows.hamming(int(44100 * 0.04), sym=False)
    spec_ = np.abs(librosa.stft(y.astype(np.float64) + eps, n_fft=2048, win_length=1764,
                                hop_length=int(44100 * 0.02), center=True, window=window,
                                pad_mode="reflect"))
    mel_basis = librosa.filters.mel(sr=44100, n_fft=2048, n_mels=40, fmin=0, fmax=22050,
                                    htk=False)
    return np.log(np.dot(mel_basis, spec_) + eps)


def test_bundle_frontend_is_the_baselines():
    """The bundle's [frontend] (identity scaler) against the baseline's feature code, on
    the parity clips and on a quiet one (where ln(x + eps) and padding matter most)."""
    from livetag_tools.export.dcase.dcase2021_t1a import ARCH
    from livetag_tools.export.dcase.frontend import livetag_features

    fe = ARCH.bundle_frontend()
    worst = 0.0
    for y in [spec.clip_audio(s) for s in expected()["input_seeds"][:2]] + [
        1e-4 * spec.clip_audio(7)
    ]:
        want = dcase_util_mel(y)
        got = livetag_features(y, spec.SAMPLE_RATE_HZ, fe).T
        assert got.shape == want.shape == (40, 501)  # 10 s: 1 + 441000 // 882 frames
        worst = max(worst, float(np.max(np.abs(got - want))))
    assert worst < 1e-4, worst


def test_h5_of_another_variant_does_not_fit_and_the_common_runner_asks_for_the_scaler(tmp_path):
    """A .h5 loads strictly into its own variant only; the common runner, which takes no
    scaler, refuses a trained Task 1A model and names the command that does."""
    from livetag_tools.export.__main__ import main as common_main
    from livetag_tools.export.dcase.__main__ import main

    h5 = str(FIX / "dcase2021_t1a_4layer.keras3.h5")
    np.savez(tmp_path / "norm.npz", mean=norm_stats()[0], std=norm_stats()[1])
    assert main(["--arch", "dcase2021_t1a_4layer", "--checkpoint", h5, "--norm-stats",
                 str(tmp_path / "norm.npz"), "--out", str(tmp_path / "ok")]) == 0
    assert (tmp_path / "ok" / "model.onnx").is_file()
    with pytest.raises(SystemExit, match="it is --arch dcase2021_t1a_4layer"):
        main(["--arch", "dcase2021_t1a_5layer", "--checkpoint", h5, "--norm-stats",
              str(tmp_path / "norm.npz"), "--out", str(tmp_path / "bad")])
    with pytest.raises(SystemExit):
        common_main(["--arch", "dcase2021_t1a_4layer", "--checkpoint", h5,
                     "--out", str(tmp_path / "common")])
    assert not (tmp_path / "common").exists()
