"""The PANNs exporters (livetag_tools.export.panns) and what every exporter shares
(livetag_tools.export.common): state_dict keys against the original code's, checkpoint
loading, the in-graph front-end against librosa and torchlibrosa, DecisionLevelMax's
framewise head, livetag's file windows, and one whole export (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import librosa
import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F
from torchlibrosa.stft import LogmelFilterBank, Spectrogram

from livetag_tools.common.cache import repo_root
from livetag_tools.data import KEYS
from livetag_tools.export import common
from livetag_tools.export.panns import frontend
from livetag_tools.export.panns.base import PannsArch
from livetag_tools.export.panns.cnn6 import Cnn6
from livetag_tools.export.panns.cnn10 import Cnn10
from livetag_tools.export.panns.cnn14 import Cnn14
from livetag_tools.export.panns.cnn14_16k import Cnn14_16k
from livetag_tools.export.panns.cnn14_decision_level_max import Cnn14_DecisionLevelMax
from livetag_tools.export.panns.mobilenet_v1 import MobileNetV1
from livetag_tools.export.registry import registry

OFFICIAL_CNN14 = json.loads((KEYS / "panns_cnn14_state_dict.json").read_text())
PANNS = {name: e for name, e in registry().items() if isinstance(e, PannsArch)}


def shapes(model) -> list[tuple[str, list[int]]]:
    return [(k, list(v.shape)) for k, v in model.state_dict().items()]


def _bn_keys(prefix: str, n: int) -> list[tuple[str, list[int]]]:
    return [(f"{prefix}.{s}", [n]) for s in ("weight", "bias", "running_mean", "running_var")] \
        + [(f"{prefix}.num_batches_tracked", [])]


def official_cnn14() -> list[tuple[str, list[int]]]:
    """The keys and shapes of the original code, written out independently of the models."""
    return [(k, s) for k, s in OFFICIAL_CNN14["keys"]]


def test_registry_has_every_panns_arch():
    assert list(PANNS) == ["Cnn6", "Cnn10", "Cnn14", "Cnn14_16k", "Cnn14_DecisionLevelMax",
                           "MobileNetV1"]


# ------------------------------------------------------------------------ state_dict keys

def test_cnn14_equals_the_hand_written_official_list():
    assert shapes(Cnn14()) == official_cnn14()


def test_decision_level_max_has_cnn14_keys():
    assert shapes(Cnn14_DecisionLevelMax()) == official_cnn14()


def test_cnn14_16k_differs_only_in_the_front_end():
    want = official_cnn14()
    want[0] = ("spectrogram_extractor.stft.conv_real.weight", [257, 1, 512])
    want[1] = ("spectrogram_extractor.stft.conv_imag.weight", [257, 1, 512])
    want[2] = ("logmel_extractor.melW", [257, 64])
    assert shapes(Cnn14_16k()) == want


def test_cnn6_and_cnn10():
    front = [("spectrogram_extractor.stft.conv_real.weight", [513, 1, 1024]),
             ("spectrogram_extractor.stft.conv_imag.weight", [513, 1, 1024]),
             ("logmel_extractor.melW", [513, 64])] + _bn_keys("bn0", 64)
    head = [("fc1.weight", [512, 512]), ("fc1.bias", [512]),
            ("fc_audioset.weight", [527, 512]), ("fc_audioset.bias", [527])]
    chans = [(1, 64), (64, 128), (128, 256), (256, 512)]
    cnn6 = front + sum(([(f"conv_block{i}.conv1.weight", [o, c, 5, 5])]
                        + _bn_keys(f"conv_block{i}.bn1", o)
                        for i, (c, o) in enumerate(chans, 1)), []) + head
    cnn10 = front + sum(([(f"conv_block{i}.conv1.weight", [o, c, 3, 3]),
                          (f"conv_block{i}.conv2.weight", [o, o, 3, 3])]
                         + _bn_keys(f"conv_block{i}.bn1", o) + _bn_keys(f"conv_block{i}.bn2", o)
                         for i, (c, o) in enumerate(chans, 1)), []) + head
    assert shapes(Cnn6()) == cnn6
    assert shapes(Cnn10()) == cnn10


def test_mobilenet_v1():
    got = dict(shapes(MobileNetV1()))
    assert len(got) == 8 + 6 + 13 * 12 + 4
    spot = {
        "features.0.0.weight": [32, 1, 3, 3], "features.0.2.running_var": [32],
        "features.1.0.weight": [32, 1, 3, 3], "features.1.2.weight": [32],
        "features.1.4.weight": [64, 32, 1, 1], "features.1.5.bias": [64],
        "features.12.0.weight": [512, 1, 3, 3], "features.12.4.weight": [1024, 512, 1, 1],
        "features.13.0.weight": [1024, 1, 3, 3], "features.13.5.num_batches_tracked": [],
        "fc1.weight": [1024, 1024], "fc_audioset.weight": [527, 1024],
        "logmel_extractor.melW": [513, 64],
    }
    for k, s in spot.items():
        assert got.get(k) == s, k
    # Sub-modules 1, 3 and 6 of each block are pools and ReLUs: no parameters.
    assert not [k for k in got if k.startswith("features.") and k.split(".")[2] in ("1", "3", "6")]


def test_parameter_counts():
    # PANNs' count_parameters (requires_grad only: the STFT and mel are frozen).
    counts = {name: common.count_params(arch.build())["trainable"]
              for name, arch in PANNS.items()}
    assert counts == {"Cnn14": 80_753_615, "Cnn14_16k": 80_753_615,
                      "Cnn14_DecisionLevelMax": 80_753_615, "Cnn10": 5_219_279,
                      "Cnn6": 4_837_455, "MobileNetV1": 4_796_303}


# ------------------------------------------------------------------------ checkpoints

def synthetic(model, seed=1) -> dict[str, torch.Tensor]:
    """Random values under the model's own names (what a PANNs checkpoint holds)."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for k, v in model.state_dict().items():
        if v.dtype == torch.long:
            sd[k] = torch.tensor(7)
        elif k.endswith("running_var"):
            sd[k] = torch.rand(v.shape, generator=g) + 0.5
        else:
            sd[k] = torch.randn(v.shape, generator=g) * 0.05
    return sd


@pytest.mark.parametrize("name", list(PANNS))
def test_every_arch_loads_panns_and_bare_state_dicts(name, tmp_path):
    arch = PANNS[name]
    sd = synthetic(arch.build())
    for i, obj in enumerate([{"model": sd, "iteration": 300000}, sd]):
        path = tmp_path / f"{name}-{i}.pth"
        torch.save(obj, path)
        model = arch.build()
        sha = common.load_checkpoint(model, path)
        assert len(sha) == 64
        for k, v in model.state_dict().items():
            assert torch.equal(v, sd[k]), k


@pytest.mark.parametrize("label", ["missing", "unexpected", "shape"])
def test_missing_unexpected_and_misshapen_keys_fail(label, tmp_path):
    arch = PANNS["Cnn6"]
    sd = synthetic(arch.build())
    if label == "missing":
        del sd["fc1.bias"]
    elif label == "unexpected":
        sd["spec_augmenter.weight"] = torch.zeros(1)
    else:
        sd["fc_audioset.weight"] = torch.zeros(10, 512)
    path = tmp_path / f"{label}.pth"
    torch.save({"model": sd}, path)
    with pytest.raises((RuntimeError, ValueError)):
        common.load_checkpoint(arch.build(), path)


# ------------------------------------------------------------------------ front-end

@pytest.mark.parametrize("name,min_samples", [
    ("Cnn6", 4800), ("Cnn10", 4800), ("Cnn14", 9920), ("Cnn14_16k", 4960),
    ("Cnn14_DecisionLevelMax", 9920), ("MobileNetV1", 9920)])
def test_minimum_lengths(name, min_samples):
    arch = PANNS[name]
    assert arch.min_samples == min_samples
    model = arch.build().eval()
    with torch.no_grad():
        out = model(torch.zeros(1, arch.min_samples))
        assert tuple(out[0].shape) == (1, 527)
        with pytest.raises(RuntimeError):
            model(torch.zeros(1, arch.min_samples - 1))


@pytest.mark.parametrize("sr,n_fft,fmax", [(32000, 1024, 14000), (16000, 512, 8000)])
def test_mel_and_window_match_librosa(sr, n_fft, fmax):
    want = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=64, fmin=50, fmax=fmax).T
    np.testing.assert_array_equal(frontend.mel_matrix(sr, n_fft, 64, 50.0, fmax), want)
    np.testing.assert_array_equal(frontend.hann_periodic(n_fft),
                                  scipy.signal.get_window("hann", n_fft, fftbins=True))


@pytest.mark.parametrize("cls,sr,n_fft,hop,fmax", [(Cnn6, 32000, 1024, 320, 14000),
                                                   (Cnn14_16k, 16000, 512, 160, 8000)])
def test_front_end_matches_torchlibrosa(cls, sr, n_fft, hop, fmax):
    wave = torch.from_numpy(common.uniform_waveform(3, 2, 20000))
    model = cls()
    spec = Spectrogram(n_fft=n_fft, hop_length=hop, win_length=n_fft, window="hann",
                       center=True, pad_mode="reflect", freeze_parameters=True)
    mel = LogmelFilterBank(sr=sr, n_fft=n_fft, n_mels=64, fmin=50, fmax=fmax, ref=1.0,
                           amin=1e-10, top_db=None, freeze_parameters=True)
    ours = {**{f"spectrogram_extractor.{k}": v for k, v in spec.state_dict().items()},
            **{f"logmel_extractor.{k}": v for k, v in mel.state_dict().items()}}
    theirs = {k: v for k, v in model.state_dict().items() if k in ours}
    assert sorted(ours) == sorted(theirs)
    for k in ours:
        assert torch.equal(ours[k], theirs[k]), k
    with torch.no_grad():
        torch.testing.assert_close(
            model.logmel_extractor(model.spectrogram_extractor(wave)), mel(spec(wave)),
            rtol=0, atol=0)


# ------------------------------------------------------------------------ DecisionLevelMax

@pytest.mark.parametrize("samples", [9920, 32000, 102080])  # 32, 101 and 320 frames
def test_framewise_is_the_original_interpolate_and_pad(samples):
    torch.manual_seed(0)
    model = Cnn14_DecisionLevelMax().eval()
    wave = torch.from_numpy(common.uniform_waveform(samples, 1, samples))
    with torch.no_grad():
        clip, framewise = model(wave)
        # The original head, step by step (models.py / pytorch_utils.py).
        logmel = model.logmel(wave)
        frames = logmel.shape[2]
        x = model.backbone(logmel).mean(dim=3)
        x = F.max_pool1d(x, 3, 1, 1) + F.avg_pool1d(x, 3, 1, 1)
        seg = torch.sigmoid(model.fc_audioset(F.relu(model.fc1(x.transpose(1, 2)))))
        up = seg[:, :, None, :].repeat(1, 1, 32, 1).reshape(1, seg.shape[1] * 32, 527)
        pad = up[:, -1:, :].repeat(1, frames - up.shape[1], 1)
        want = torch.cat((up, pad), dim=1)
    assert framewise.shape == (1, 1 + samples // 320, 527)
    torch.testing.assert_close(framewise, want, rtol=0, atol=0)
    torch.testing.assert_close(clip, seg.amax(dim=1), rtol=0, atol=0)


# ------------------------------------------------------------------------ windows

def test_file_windows_follow_livetag():
    assert common.file_windows(12, 10, 10, 3) == [(0, 10), (2, 12)]
    assert common.file_windows(20, 10, 10, 3) == [(0, 10), (10, 20)]
    assert common.file_windows(7, 10, 4, 3) == [(0, 7)]
    assert common.file_windows(2, 10, 4, 3) == [(0, 3)]
    assert common.file_windows(15, 10, 4, 3) == [(0, 10), (4, 14), (5, 15)]


# ------------------------------------------------------------------------ end to end

@pytest.mark.slow
def test_export_cnn6_random_with_reference(tmp_path):
    out = tmp_path / "b"
    run = subprocess.run([sys.executable, "-m", "livetag_tools.export", "--arch", "Cnn6",
                          "--random-weights", "--seed", "3", "--reference", "--out", str(out)],
                         capture_output=True, text=True, cwd=repo_root() / "tools")
    assert run.returncode == 0, run.stdout + run.stderr
    spec = tomllib.loads((out / "bundle.toml").read_text())
    assert spec["input"]["min_samples"] == 4800
    assert spec["outputs"][0]["name"] == "clipwise_output"
    labels = (out / "labels.txt").read_text().splitlines()
    assert (len(labels), labels[0], labels[526]) == (527, "Speech", "Field recording")
    assert "RANDOM" in (out / "LICENSE").read_text()
    expected = json.loads((out / "reference" / "expected.json").read_text())
    assert len(expected["scores"]) == 2
    # parity.json: regenerate each input from its recipe; ONNX Runtime must agree.
    parity = json.loads((out / "parity.json").read_text())
    assert len(parity["cases"]) >= 3
    session = common.onnx_session(out / "model.onnx")
    for case in parity["cases"]:
        r = case["input"]
        wave = common.uniform_waveform(r["seed"], r["batch"], r["samples"])
        got = session.run(["clipwise_output"], {"waveform": wave})[0]
        want = np.array(case["outputs"]["clipwise_output"], np.float32)
        assert float(np.abs(got - want).max()) <= parity["tolerance"]
    assert min(c["input"]["samples"] for c in parity["cases"]) == 4800
