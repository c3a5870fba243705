#!/usr/bin/env python3
"""PyTorch re-implementations of three DCASE seed systems, exported as livetag bundles.

    python tools/export_dcase.py --arch dcase2018_t2_baseline --random-weights --out DIR [--reference]
    python tools/export_dcase.py --arch dcase2024_t1_baseline --checkpoint model_state_dict.pt --out DIR
    python tools/export_dcase.py --selftest          # every check below, no bundle written
    python tools/export_dcase.py --arch NAME --write-synthetic-checkpoint X.pth

Interface (for tools/export.py, which joins this module with tools/export_panns.py)
-----------------------------------------------------------------------------------
``ARCHS: dict[str, Arch]``, keyed by ``--arch`` name. An ``Arch`` has:

* ``build() -> torch.nn.Module``: the network with its official initialisation (seed it
  with ``torch.manual_seed`` first) and the official ``state_dict`` key names, in eval mode.
* ``export(model, out_dir, *, weights="...", licence=None, norm_stats=None) -> None``:
  writes the complete bundle: model.onnx (opset 17, dynamic batch and time axes, legacy
  TorchScript exporter), bundle.toml, labels.txt, LICENSE, reference/input.wav (float32,
  ``converter_common.float32_wav``) and reference/expected.json (what ``livetag inspect
  --self-test`` must reproduce: this file's NumPy version of livetag's front-end, windows
  with hop = window, ONNX Runtime, the bundle's activation). ``weights`` is one line of
  provenance written into LICENSE and bundle.toml; ``licence`` the SPDX-like name;
  ``norm_stats`` = (mean[64], std[64]) only for dcase2018_t2_baseline (see its gaps).
* ``parity_inputs() -> list[ParityInput]``: >= 3 input tensors, the architecture's
  minimum length first, the last with batch 2. ``ParityInput`` has ``seed, shape, frames,
  source`` and ``.array()`` / ``np.asarray(p)``: a float32 tensor in the model's input
  layout, regenerated from those fields. All three archs use ``source="audio"``: the
  bundle front-end's features of seeded random audio (i.i.d. noise would saturate the
  softmax of the BN-calibrated random nets, hiding errors); ``source="normal"`` (seeded
  ``default_rng`` noise, ``loc``/``scale``) exists too.
* plus facts used by the runner: ``input_name``, ``output_name``, ``layout``,
  ``window_frames``, ``hop_frames``, ``min_frames``, ``arch_min_frames``, ``values``,
  ``activation``; and helpers ``load_checkpoint(arch, path)``, ``check_parity(arch, model,
  onnx_path)``, ``write_parity_json(...)``, ``count_macs(...)``, ``onnx_macs(...)``.

The runner (``main``) builds the model (``--random-weights``: official init under
``--seed``, BN affine perturbed and BN statistics calibrated on the front-end features of
seeded random audio so that scores are not degenerate) or loads ``--checkpoint`` with ``load_state_dict(strict=True)``,
exports, checks ONNX Runtime against PyTorch on every parity input (max |diff| of the raw
output <= 1e-4 or exit 1), and with ``--reference`` writes ``DIR/parity.json`` (per input:
how to regenerate it, PyTorch's and ONNX Runtime's raw outputs) and ``DIR/parity/*.f32``
(the inputs, raw little-endian float32) so a Rust test can compare livetag with PyTorch.
``--checkpoint`` accepts Kong's ``md_*_iters.tar`` ({'state_dict': ...}), the T1
baseline's ``model_state_dict.pt`` or Lightning ``.ckpt`` (``model.`` prefix stripped,
other modules' buffers dropped), or a plain state dict. ``--selftest`` checks: the NumPy
front-end against tests/fixtures/frontend; for both archs with official PyTorch code, the
state_dict keys/order/shapes against the HAND-WRITTEN lists in
tools/fixtures/dcase_keys/*.txt; strict loading of synthetic checkpoints built from those
lists (Kong's also without num_batches_tracked, as PyTorch 0.4.0 saved them); the
parameter counts (61,148; 14,865,124 with BN statistics for Dorfer), the T1 MACs
(29,419,156 NeSsi-style), the tight minimum lengths, and the front-end gaps.

The architectures
-----------------
dcase2018_t2_baseline  Kong et al., DCASE 2018 Task 2 PyTorch baseline
    (qiuqiangkong/dcase2018_task2: pytorch/models_pytorch.py ``Vggish``, the model
    pytorch/main_pytorch.py trains; utils/config.py; features.py ``LogMelExtractor``).
    4 x [conv3x3-BN-ReLU, conv3x3-BN-ReLU, maxpool 2x2] (64, 128, 256, 512), global max
    pool over time and mel, Linear(512, 41), log_softmax. Input ``[batch, time, 64]``.
    ``F.max_pool2d(x, kernel_size=x.shape[2:])`` is written ``torch.amax(x, (2, 3))``
    (same values; the original bakes the trace-time length into the ONNX graph).
    Trained on 128-frame patches (hop 64); official inference: hop 16, mean of patch
    outputs. Minimum 16 frames (four 2x2 pools).
dorfer_fcn  Dorfer & Widmer, DCASE 2018 Task 2 (2nd place). No official PyTorch code: the
    write-up (/work/shared/seeds/002_*, "Network Architecture" and "General Training
    Procedure") gives the design (VGG-style fully convolutional net, BN + ReLU, global
    average pooling over 41 class maps, softmax, 384-frame training excerpts, up to 3000
    frames at test time, 14,865,124 parameters); the layer list follows his Lasagne model
    CPJKU/dcase_task2 dcase_task2/models/vgg_gap_spec1_2.py (spectrogram version 1,
    nf = 64), whose count reproduces the write-up's 14,865,124 when BN mean and inv_std
    are counted (checked in ``selftest``):
        conv1 5x5/2 pad 2, 64    conv2 3x3, 64      maxpool 2x2
        conv3 3x3, 128           conv4 3x3, 128     maxpool 2x2
        conv5 3x3, 256   conv6 3x3, 256   conv7 3x3, 384   conv8 3x3, 384   maxpool 2x2
        conv9 3x3, 512           conv10 3x3, 512    maxpool 1x2 (time only)
        conv11 3x3, 512          conv12 3x3, 512    maxpool 1x2 (time only)
        conv13 3x3 valid, 512    conv14 1x1, 512
        conv15 1x1, 41 (+BN, no ReLU) -> mean over freq and time -> softmax
    every convN without bias, followed by bnN (eps 1e-4, Lasagne's default) and ReLU;
    dropout omitted (inference). Input ``[batch, 1, 128 mel, time]`` (his layout).
    Parameter names are plain: conv1..conv15, bn1..bn15. A Lasagne parameter dump maps
    layer by layer: W -> convN.weight; beta, gamma, mean -> bnN.bias, .weight,
    .running_mean; inv_std -> running_var = 1 / inv_std**2 - 1e-4.
    Minimum 191 frames (the valid 3x3 conv needs 3 time steps after a /64 reduction).
dcase2024_t1_baseline  Schmid et al., DCASE 2024 Task 1 baseline (CPJKU/dcase2024_task1_
    baseline, models/baseline.py ``Network``/``Block``, torchvision's
    ``Conv2dNormActivation`` re-created as a Sequential with the same child indices,
    run_training.py defaults). 61,148 parameters. Input ``[batch, 1, 256 mel, time]``;
    trained on 1 s clips = 65 frames; global average pooling, so any length >= 1 runs.

Front-end gaps (what livetag's steps cannot express exactly)
------------------------------------------------------------
dcase2018_t2_baseline: scipy.signal.spectrogram(mode='magnitude') with ``np.hamming(2048)``
    (SYMMETRIC), no centring, hop 1024, density scaling |X| / sqrt(sum w^2); librosa Slaney
    mel 64, 0-16 kHz; ln(x + 1e-8); then per-band mean/std of the training features.
    livetag: ``hamming`` is periodic (the gap; measured in ``selftest``), the scaling is
    folded exactly into ``log`` (eps = 1e-8 * sqrt(sum w^2)) + ``affine`` (offset
    -0.5 ln(sum w^2)); the scaler is ``normalize`` (identity unless ``--norm-stats``: the
    official code recomputes it from the training features, a checkpoint does not hold
    it). Not reproducible: per-file peak normalisation of the waveform (audio /
    max|audio|, non-causal) and the repetition of clips shorter than 128 frames.
dorfer_fcn: exact (librosa STFT 1024 / 192, perceptual weighting ref 1, amin 1e-10,
    top_db 99, mel 128 0-16 kHz over dB values = tests/fixtures/frontend/dorfer_v1),
    except: top_db is floored at the running maximum (BUNDLE_FORMAT.md), the SoX
    normalise-and-trim preprocessing is not applied, and short clips are not tiled.
dcase2024_t1_baseline: exact (torchaudio MelSpectrogram: periodic Hann 3072 centred in
    n_fft 4096, hop 500, center, reflect, power 2, HTK mel 256, 0-16 kHz, no norm;
    then ln(x + 1e-5); the repository's models/mel.py (pre-emphasis, Kaldi mel) is NOT
    what run_training.py uses). Differences: the original runs the network in float16
    (model.half()); the bundle is float32. Audio is resampled 44.1 -> 32 kHz by
    torchaudio's Resample in the original, by livetag's resampler here.

Needs torch, numpy, onnx, onnxruntime, librosa (mel matrix, A-weighting), scipy (the Kong
gap measurement); pinned in tools/requirements-export-dcase.txt.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

TOOLS = Path(__file__).resolve().parent
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))
from converter_common import float32_wav  # noqa: E402

LABELS_DIR = TOOLS / "labels"
KEYS_DIR = TOOLS / "fixtures" / "dcase_keys"
REPO = TOOLS.parent
OPSET = 17
PARITY_TOL = 1e-4
REFERENCE_SEED = 20240611


# ============================================================================ models
# ---------------------------------------------------------------- 1. Kong 2018 T2


def _kong_init_layer(layer: nn.Module) -> None:
    """models_pytorch.init_layer: He uniform (std sqrt(2/fan_in), bound std*sqrt(3)), bias 0."""
    w = layer.weight
    n = w[0].numel()  # n_in * kh * kw, or n_in for Linear
    bound = math.sqrt(2.0 / n) * math.sqrt(3.0)
    with torch.no_grad():
        w.uniform_(-bound, bound)
        if layer.bias is not None:
            layer.bias.zero_()


def _kong_init_bn(bn: nn.BatchNorm2d) -> None:
    with torch.no_grad():
        bn.weight.fill_(1.0)
        bn.bias.zero_()


class VggishConvBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        # registration order = the official state_dict order: conv1, conv2, bn1, bn2
        self.conv1 = nn.Conv2d(in_channels, out_channels, (3, 3), (1, 1), (1, 1), bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, (3, 3), (1, 1), (1, 1), bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        for m in (self.conv1, self.conv2):
            _kong_init_layer(m)
        for m in (self.bn1, self.bn2):
            _kong_init_bn(m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.max_pool2d(x, kernel_size=(2, 2), stride=(2, 2))


class Vggish(nn.Module):
    """Kong's DCASE 2018 T2 baseline. ``[batch, time, mel]`` -> log-probabilities [batch, 41]."""

    def __init__(self, classes_num: int = 41):
        super().__init__()
        self.conv_block1 = VggishConvBlock(1, 64)
        self.conv_block2 = VggishConvBlock(64, 128)
        self.conv_block3 = VggishConvBlock(128, 256)
        self.conv_block4 = VggishConvBlock(256, 512)
        self.fc_final = nn.Linear(512, classes_num, bias=True)
        _kong_init_layer(self.fc_final)

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 (official name)
        x = input.unsqueeze(1)  # (samples, 1, time_steps, mel_bins)
        x = self.conv_block1(x)
        x = self.conv_block2(x)
        x = self.conv_block3(x)
        x = self.conv_block4(x)
        # official: F.max_pool2d(x, kernel_size=x.shape[2:]).view(x.shape[0:2])
        x = torch.amax(x, dim=(2, 3))
        return F.log_softmax(self.fc_final(x), dim=-1)


# ---------------------------------------------------------------- 2. Dorfer FCN

# (out_channels as a multiple of nf, or "classes"; kernel; stride; padding; pool after)
_DORFER_LAYERS: list[tuple[object, int, int, int, tuple[int, int] | None]] = [
    (1, 5, 2, 2, None),
    (1, 3, 1, 1, (2, 2)),
    (2, 3, 1, 1, None),
    (2, 3, 1, 1, (2, 2)),
    (4, 3, 1, 1, None),
    (4, 3, 1, 1, None),
    (6, 3, 1, 1, None),
    (6, 3, 1, 1, (2, 2)),
    (8, 3, 1, 1, None),
    (8, 3, 1, 1, (1, 2)),
    (8, 3, 1, 1, None),
    (8, 3, 1, 1, (1, 2)),
    (8, 3, 1, 0, None),
    (8, 1, 1, 0, None),
    ("classes", 1, 1, 0, None),
]


class DorferFCN(nn.Module):
    """Dorfer's fully convolutional VGG (vgg_gap_spec1_2 layout, see the module docstring).

    ``[batch, 1, 128, time]`` (mel x frames) -> softmax probabilities [batch, 41]."""

    def __init__(self, n_classes: int = 41, nf: int = 64, in_bins: int = 128, bn_eps: float = 1e-4):
        super().__init__()
        self.in_bins = in_bins
        self.pools: list[tuple[int, int] | None] = []
        c_in = 1
        for i, (mult, k, s, p, pool) in enumerate(_DORFER_LAYERS, start=1):
            c_out = n_classes if mult == "classes" else int(mult) * nf
            conv = nn.Conv2d(c_in, c_out, k, s, p, bias=False)
            nn.init.kaiming_normal_(conv.weight, mode="fan_in", nonlinearity="relu")  # HeNormal(gain='relu')
            setattr(self, f"conv{i}", conv)
            setattr(self, f"bn{i}", nn.BatchNorm2d(c_out, eps=bn_eps))
            self.pools.append(pool)
            c_in = c_out
        self.n_layers = len(_DORFER_LAYERS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(1, self.n_layers + 1):
            x = getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x))
            if i < self.n_layers:
                x = F.relu(x)
            pool = self.pools[i - 1]
            if pool is not None:
                x = F.max_pool2d(x, kernel_size=pool, stride=pool)
        x = x.mean(dim=(2, 3))  # GlobalPoolLayer (mean) + FlattenLayer
        return F.softmax(x, dim=-1)


# ---------------------------------------------------------------- 3. DCASE 2024 T1


def make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:  # do not round down by more than 10 %
        new_v += divisor
    return new_v


class ConvNormAct(nn.Sequential):
    """torchvision ``Conv2dNormActivation`` with BatchNorm2d: children 0 conv (no bias),
    1 BN, 2 ReLU (absent when ``activation`` is False), so the keys are identical."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride=1, padding: int | None = None,
                 groups: int = 1, activation: bool = True):
        if padding is None:
            padding = (kernel_size - 1) // 2
        layers: list[nn.Module] = [
            nn.Conv2d(c_in, c_out, kernel_size, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        if activation:
            layers.append(nn.ReLU(inplace=False))
        super().__init__(*layers)


class Block(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, expansion_rate: float, stride):
        super().__init__()
        exp_channels = make_divisible(in_channels * expansion_rate, 8)
        exp_conv = ConvNormAct(in_channels, exp_channels, 1, 1)
        depth_conv = ConvNormAct(exp_channels, exp_channels, 3, stride, padding=1, groups=exp_channels)
        proj_conv = ConvNormAct(exp_channels, out_channels, 1, 1, activation=False)
        self.after_block_activation = nn.ReLU()
        if in_channels == out_channels:
            self.use_shortcut = True
            if stride == 1 or stride == (1, 1):
                self.shortcut = nn.Sequential()
            else:
                self.shortcut = nn.Sequential(nn.AvgPool2d(kernel_size=3, stride=stride, padding=1),
                                              nn.Sequential())
        else:
            self.use_shortcut = False
        self.block = nn.Sequential(exp_conv, depth_conv, proj_conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_shortcut:
            x = self.block(x) + self.shortcut(x)
        else:
            x = self.block(x)
        return self.after_block_activation(x)


class Network(nn.Module):
    """DCASE 2024 T1 baseline. ``[batch, 1, 256, time]`` log-mel -> logits [batch, 10]."""

    def __init__(self, n_classes=10, in_channels=1, base_channels=32, channels_multiplier=1.8,
                 expansion_rate=2.1, n_blocks=(3, 2, 1), strides=None):
        super().__init__()
        if strides is None:
            strides = dict(b2=(1, 1), b3=(1, 2), b4=(2, 1))
        n_stages = len(n_blocks)
        base_channels = make_divisible(base_channels, 8)
        channels_per_stage = [base_channels] + [
            make_divisible(base_channels * channels_multiplier ** stage_id, 8) for stage_id in range(n_stages)]
        self.total_block_count = 0
        self.in_c = nn.Sequential(
            ConvNormAct(in_channels, channels_per_stage[0] // 4, 3, 2),
            ConvNormAct(channels_per_stage[0] // 4, channels_per_stage[0], 3, 2),
        )
        self.stages = nn.Sequential()
        for stage_id in range(n_stages):
            stage = nn.Sequential()
            c_in, c_out = channels_per_stage[stage_id], channels_per_stage[stage_id + 1]
            for _ in range(n_blocks[stage_id]):
                self.total_block_count += 1
                bname = f"b{self.total_block_count}"
                stage.add_module(bname, Block(c_in, c_out, expansion_rate, strides.get(bname, (1, 1))))
                c_in = c_out
            self.stages.add_module(f"s{stage_id + 1}", stage)
        self.feed_forward = nn.Sequential(
            nn.Conv2d(channels_per_stage[-1], n_classes, kernel_size=(1, 1), stride=(1, 1), padding=0, bias=False),
            nn.BatchNorm2d(n_classes),
            nn.AdaptiveAvgPool2d((1, 1)),
        )
        self.apply(_t1_initialize_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.in_c(x)
        x = self.stages(x)
        x = self.feed_forward(x)
        return x.squeeze(2).squeeze(2)


def _t1_initialize_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode="fan_out")
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, 0, 0.01)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


# ============================================================================ front-end
# A NumPy version of livetag's front-end (src/dsp/stft.rs, src/dsp/frontend.rs) for the
# bundles' reference scores; ``selftest`` checks it against tests/fixtures/frontend.


def _window(kind: str, n: int) -> np.ndarray:
    k = np.arange(n, dtype=np.float64)
    if kind == "rect":
        return np.ones(n)
    denom = max(n - 1, 1) if kind == "hann_symmetric" else n
    phase = 2.0 * np.pi * k / denom
    if kind in ("hann", "hann_symmetric"):
        return 0.5 - 0.5 * np.cos(phase)
    if kind == "hamming":
        return 0.54 - 0.46 * np.cos(phase)
    raise ValueError(f"window {kind!r}")


def stft_spectrum(audio: np.ndarray, fe: dict) -> np.ndarray:
    """[frames, bins] magnitude (power 1) or power (power 2) spectrum, as livetag frames it."""
    n_fft, hop = fe["n_fft"], fe["hop_samples"]
    win_length = fe.get("win_length", n_fft)
    w = np.zeros(n_fft)
    off = (n_fft - win_length) // 2
    w[off:off + win_length] = _window(fe["window"], win_length)
    x = np.asarray(audio, dtype=np.float64)
    if fe["center"]:
        mode = {"constant": "constant", "reflect": "reflect"}[fe.get("pad_mode", "constant")]
        x = np.pad(x, (n_fft // 2, n_fft // 2), mode=mode)
        n_frames = 1 + len(audio) // hop
    else:
        n_frames = 1 + (len(audio) - n_fft) // hop if len(audio) >= n_fft else 0
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    mag = np.abs(np.fft.rfft(x[idx] * w[None, :], axis=1))
    spec = mag if fe["power"] == 1.0 else mag ** fe["power"]
    if fe.get("drop_nyquist", False):
        spec = spec[:, :-1]
    return spec


def apply_steps(spec: np.ndarray, fe: dict, sr: int) -> np.ndarray:
    import librosa

    x = spec.astype(np.float64)
    n_fft = fe["n_fft"]
    for step in fe["steps"]:
        op = step["op"]
        if op == "mel":
            if fe.get("drop_nyquist", False):
                raise NotImplementedError("mel after drop_nyquist")
            fb = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=step["n_bands"], fmin=step["fmin_hz"],
                                     fmax=step["fmax_hz"], htk=step["scale"] == "htk",
                                     norm="slaney" if step["norm"] == "slaney" else None)
            x = x @ fb.astype(np.float64).T
        elif op in ("db", "a_weighting_db"):
            amin, ref = step["amin"], step["ref"]
            x = 10.0 * np.log10(np.maximum(x, amin)) - 10.0 * np.log10(max(ref, amin))
            if step.get("top_db") is not None:  # causal: floor at the running maximum
                running = np.maximum.accumulate(x.max(axis=1))
                x = np.maximum(x, (running - step["top_db"])[:, None])
            if op == "a_weighting_db":
                freqs = np.arange(x.shape[1]) * sr / n_fft
                with np.errstate(divide="ignore"):  # 0 Hz: log10(0) = -inf, floored to -80 dB
                    weights = librosa.A_weighting(freqs, min_db=-80.0)
                x = x + weights[None, :]
        elif op == "log":
            x = np.log(x + step["eps"])
        elif op == "log10":
            x = np.log10(step["mul"] * x + step["add"])
        elif op == "float16":
            x = x.astype(np.float16).astype(np.float64)
        elif op == "affine":
            x = x * step["scale"] + step["offset"]
        elif op == "normalize":
            mean = np.asarray(step["mean"], dtype=np.float64)
            std = np.asarray(step["std"], dtype=np.float64)
            x = (x - mean) / std
        else:
            raise ValueError(f"step {op!r}")
    return x.astype(np.float32)


def livetag_features(audio: np.ndarray, sr: int, fe: dict) -> np.ndarray:
    """[frames, bands] float32: what the bundle's ``[frontend]`` gives offline."""
    return apply_steps(stft_spectrum(audio, fe), fe, sr)


def samples_for_frames(fe: dict, frames: int) -> int:
    steps = (frames - 1) * fe["hop_samples"]
    return steps if fe["center"] else steps + fe["n_fft"]


def reference_signal(sr: int, n: int, seed: int = REFERENCE_SEED) -> np.ndarray:
    """Deterministic test audio: tones with a loud onset bump, a chirp, clicks, soft noise."""
    t = np.arange(n) / sr
    rng = np.random.default_rng(seed)
    dur = n / sr
    env = 0.3 + 0.5 * np.exp(-((t - 0.025) / 0.02) ** 2)
    x = env * np.sin(2 * np.pi * 440.0 * t) * (t < 0.45 * dur)
    x += 0.15 * np.sin(2 * np.pi * 1250.0 * t + 3.0 * np.sin(2 * np.pi * 3.0 * t))
    f0, f1 = 200.0, 0.45 * sr
    chirp_t = np.clip(t - 0.5 * dur, 0.0, None)
    phase = 2 * np.pi * (f0 * chirp_t + 0.5 * (f1 - f0) / (0.5 * dur) * chirp_t ** 2)
    x += 0.2 * np.sin(phase) * (t >= 0.5 * dur)
    for click in (0.3, 0.7, 0.9):
        k = int(click * n)
        x[k] += 0.5
    x += 0.01 * rng.standard_normal(n)
    return (0.9 * x / np.max(np.abs(x))).astype(np.float32)


# ============================================================================ helpers


@dataclass(frozen=True)
class ParityInput:
    """One parity input tensor, in the model's input layout, regenerable from its fields:

    * ``source == "normal"``: ``np.float32(loc) + np.float32(scale) *
      np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)``;
    * ``source == "audio"``: batch row ``b`` is the bundle front-end's features
      (``livetag_features``) of ``calibration_audio(sr, samples_for_frames(fe, frames) +
      hop // 2, np.random.default_rng(seed + b))``: spectrogram-like input for nets whose
      random BN calibration makes i.i.d. noise saturate the softmax. (For
      dcase2018_t2_baseline the front-end's normalize uses ``fake_norm_stats(arch, 0)``.)
    """

    seed: int
    shape: tuple[int, ...]
    frames: int
    loc: float = 0.0
    scale: float = 1.0
    source: str = "normal"
    arch: str | None = None

    def array(self) -> np.ndarray:
        if self.source == "audio":
            a = ARCHS[self.arch]
            fe = a.bundle_frontend(fake_norm_stats(a, 0))
            n = samples_for_frames(fe, self.frames) + fe["hop_samples"] // 2
            rows = [a.features_to_input(livetag_features(
                calibration_audio(a.sample_rate, n, np.random.default_rng(self.seed + b)), a.sample_rate, fe))
                for b in range(self.shape[0])]
            x = np.concatenate(rows, axis=0)
            assert x.shape == tuple(self.shape), (x.shape, self.shape)
            return x
        z = np.random.default_rng(self.seed).standard_normal(self.shape, dtype=np.float32)
        return (np.float32(self.loc) + np.float32(self.scale) * z).astype(np.float32)

    def __array__(self, dtype=None, copy=None):
        a = self.array()
        return a if dtype is None else a.astype(dtype)

    def describe(self) -> dict:
        d = {"source": self.source, "seed": self.seed, "shape": list(self.shape), "frames": self.frames}
        if self.source == "normal":
            d.update(loc=self.loc, scale=self.scale)
        else:
            d.update(generator="tools/export_dcase.py ParityInput(source='audio', arch=...).array()")
        return d


def read_key_fixture(name: str) -> list[tuple[str, tuple[int, ...]]]:
    rows = []
    for line in (KEYS_DIR / f"{name}.txt").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        key, shape = line.split("\t")
        rows.append((key, tuple(int(v) for v in shape.split(",")) if shape else ()))
    return rows


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        r = repr(float(v))
        return r if any(c in r for c in ".e") else r + ".0"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(type(v))


def toml_table(d: dict) -> str:
    return "".join(f"{k} = {toml_value(v)}\n" for k, v in d.items() if v is not None)


def comment(text: str) -> str:
    return "".join(f"# {line}".rstrip() + "\n" for line in text.strip("\n").splitlines())


def activate(values: np.ndarray, kind: str, activation: str) -> np.ndarray:
    if kind == "probabilities":
        return values
    if activation == "softmax":
        z = values - values.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)
    return 1.0 / (1.0 + np.exp(-values))


def onnx_parameter_count(onnx_path: Path) -> int:
    """Values stored in the graph's initializers (what livetag's card counts)."""
    import onnx
    graph = onnx.load(str(onnx_path)).graph
    return sum(int(np.prod(t.dims)) for t in graph.initializer)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, x: torch.Tensor) -> dict:
    """Per forward of ``x`` (batch 1): conv k_h*k_w*C_in/groups*C_out*H_out*W_out, linear
    in*out; ``nessi`` adds 2*C per BatchNorm (what torchinfo, hence NeSsi, counts)."""
    totals = {"conv": 0, "linear": 0, "batchnorm": 0}
    hooks = []

    def conv_hook(m, _inp, out):
        kh, kw = m.kernel_size
        totals["conv"] += kh * kw * (m.in_channels // m.groups) * m.out_channels * out.shape[2] * out.shape[3]

    def lin_hook(m, _inp, _out):
        totals["linear"] += m.in_features * m.out_features

    def bn_hook(m, _inp, _out):
        totals["batchnorm"] += 2 * m.num_features

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(lin_hook))
        elif isinstance(m, nn.BatchNorm2d):
            hooks.append(m.register_forward_hook(bn_hook))
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    totals["conv_linear"] = totals["conv"] + totals["linear"]
    totals["nessi"] = totals["conv_linear"] + totals["batchnorm"]
    return totals


def onnx_macs(onnx_path: Path, input_shape: tuple[int, ...]) -> dict:
    """MACs read off the ONNX graph for one concrete input shape: Conv = prod(W.shape) *
    prod(output spatial) * batch; Gemm / MatMul = in * out * rows."""
    import onnx
    from onnx import shape_inference

    m = onnx.load(str(onnx_path))
    dims = m.graph.input[0].type.tensor_type.shape.dim
    for d, v in zip(dims, input_shape):
        d.ClearField("dim_param")
        d.dim_value = v
    m = shape_inference.infer_shapes(m)
    shapes = {}
    for vi in list(m.graph.value_info) + list(m.graph.output) + list(m.graph.input):
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    inits = {t.name: list(t.dims) for t in m.graph.initializer}
    out: dict[str, int] = {}
    for node in m.graph.node:
        if node.op_type == "Conv":
            w = inits[node.input[1]]
            y = shapes[node.output[0]]
            out["Conv"] = out.get("Conv", 0) + math.prod(w) * y[0] * math.prod(y[2:])
        elif node.op_type in ("Gemm", "MatMul"):
            a = shapes.get(node.input[0]) or inits.get(node.input[0])
            b = inits.get(node.input[1]) or shapes.get(node.input[1])
            rows = math.prod(a[:-1])
            out[node.op_type] = out.get(node.op_type, 0) + rows * math.prod(b)
    out["ops"] = sorted({n.op_type for n in m.graph.node})
    return out


def calibrate_bn(model: nn.Module, x: torch.Tensor, perturb_seed: int | None = None) -> None:
    """Optionally perturb BN affine parameters, then set every BN's running statistics to
    the batch statistics of a forward pass of ``x`` (so a random network's scores are not
    degenerate and every BN parameter matters in the parity check)."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if perturb_seed is not None:
        g = torch.Generator().manual_seed(perturb_seed)
        with torch.no_grad():
            for bn in bns:
                bn.weight.copy_(0.75 + 0.5 * torch.rand(bn.num_features, generator=g))
                bn.bias.copy_(0.1 * torch.randn(bn.num_features, generator=g))
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: exactly this batch's statistics
    model.train()
    with torch.no_grad():
        model(x)
    model.eval()
    for bn, mom in zip(bns, momenta):
        bn.momentum = mom


# ============================================================================ Arch


@dataclass
class Arch:
    name: str
    description: str
    builder: Callable[[], nn.Module]
    labels_file: str
    source: str  # where the architecture comes from (LICENSE, bundle.toml)
    input_name: str
    output_name: str
    layout: list[str]
    time_axis: int
    n_features: int
    sample_rate: int
    window_frames: int
    hop_frames: int
    min_frames: int
    arch_min_frames: int
    frontend: dict
    values: str
    activation: str
    parity_frames: list[int]
    parity_loc: float = 0.0
    parity_scale: float = 1.0
    parity_source: str = "normal"
    key_fixture: str | None = None
    input_comment: str = ""
    frontend_comment: str = ""
    output_comment: str = ""
    extra_comment: Callable[[Path], str] | None = None
    frontend_patch: Callable[[dict, object], dict] | None = None
    labels: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.labels = (LABELS_DIR / self.labels_file).read_text().split("\n")[:-1]

    # ------------------------------------------------------------------ interface
    def build(self) -> nn.Module:
        return self.builder().eval()

    def input_shape(self, frames: int, batch: int = 1) -> tuple[int, ...]:
        shape = []
        for axis in self.layout:
            shape.append({"batch": batch, "time": frames, "feature": self.n_features, "channel": 1}[axis])
        return tuple(shape)

    def parity_inputs(self) -> list[ParityInput]:
        out = []
        for i, frames in enumerate(self.parity_frames):
            batch = 2 if i == len(self.parity_frames) - 1 else 1  # the longest also checks batch > 1
            out.append(ParityInput(seed=1000 + 10 * i, shape=self.input_shape(frames, batch), frames=frames,
                                   loc=self.parity_loc, scale=self.parity_scale, source=self.parity_source,
                                   arch=self.name))
        return out

    def features_to_input(self, feats: np.ndarray) -> np.ndarray:
        """[time, feature] frames -> one model input in ``layout`` (batch 1)."""
        x = feats
        if self.layout.index("feature") < self.layout.index("time"):
            x = x.T
        x = x[None]
        if "channel" in self.layout:
            x = np.expand_dims(x, self.layout.index("channel"))
        return np.ascontiguousarray(x, dtype=np.float32)

    def bundle_frontend(self, norm_stats=None) -> dict:
        fe = json.loads(json.dumps(self.frontend))
        if self.frontend_patch is not None:
            fe = self.frontend_patch(fe, norm_stats)
        elif norm_stats is not None:
            raise ValueError(f"{self.name} has no normalisation step; --norm-stats does not apply")
        return fe

    def export(self, model: nn.Module, out_dir, *, weights: str = "unspecified weights",
               licence: str | None = None, norm_stats=None) -> None:
        out_dir = Path(out_dir)
        (out_dir / "reference").mkdir(parents=True, exist_ok=True)
        model = model.eval()
        onnx_path = out_dir / "model.onnx"
        export_onnx(self, model, onnx_path)
        (out_dir / "labels.txt").write_text("\n".join(self.labels) + "\n")
        licence = licence or "UNKNOWN"
        (out_dir / "LICENSE").write_text(self.licence_text(weights, licence))
        fe = self.bundle_frontend(norm_stats)
        text = self.bundle_toml(fe, weights, licence, onnx_path)
        parsed = tomllib.loads(text)
        assert parsed["frontend"] == fe, "bundle.toml does not round-trip"
        (out_dir / "bundle.toml").write_text(text)
        self.write_reference(out_dir, parsed["frontend"])

    # ------------------------------------------------------------------ bundle parts
    def licence_text(self, weights: str, licence: str) -> str:
        return (f"livetag bundle `{self.name}`, written by tools/export_dcase.py.\n\n"
                f"Weights: {weights}.\nLicence of these weights: {licence}.\n\n"
                f"Architecture: {self.source}\n"
                "The network code was re-implemented for livetag from the published description "
                "and code; no code or weights of the original authors are included.\n\n"
                "Random-initialisation weights generated by this tool carry livetag's own licence "
                "(MIT OR Apache-2.0). For a trained checkpoint, the checkpoint's licence applies: "
                "pass it with --licence and put its text here.\n")

    def bundle_toml(self, fe: dict, weights: str, licence: str, onnx_path: Path) -> str:
        parts = [comment(f"{self.description}\nGenerated by tools/export_dcase.py --arch {self.name}; "
                         f"weights: {weights}.\nDo not edit by hand.")]
        model = {"name": self.name, "description": self.description, "licence": licence}
        trained = count_params(self.build())
        if trained != onnx_parameter_count(onnx_path):
            # BatchNorm folded into the convolutions on export: the card reports both.
            model["trained_parameters"] = trained
        parts.append("\n[model]\n" + toml_table(model))
        parts.append("\n[input]\n" + toml_table({"kind": "features", "name": self.input_name,
                                                   "sample_rate_hz": self.sample_rate, "layout": self.layout}))
        parts.append(comment(self.input_comment))
        parts.append(toml_table({"window_frames": self.window_frames, "hop_frames": self.hop_frames,
                                 "min_frames": self.min_frames}))
        parts.append("\n" + comment(self.frontend_comment))
        top = {k: v for k, v in fe.items() if k != "steps"}
        parts.append("[frontend]\n" + toml_table(top))
        for step in fe["steps"]:
            parts.append("\n[[frontend.steps]]\n" + toml_table(step))
        parts.append("\n" + comment(self.output_comment))
        parts.append("[[outputs]]\n" + toml_table({"name": self.output_name, "kind": "clip",
                                                    "values": self.values, "activation": self.activation}))
        if self.extra_comment is not None:
            parts.append("\n" + comment(self.extra_comment(onnx_path)))
        parts.append("\n" + comment("reference/input.wav: tools/export_dcase.py's reference_signal, two "
                                    "windows long;\nexpected.json: its NumPy copy of livetag's front-end, "
                                    "ONNX Runtime, the activation above."))
        parts.append("[reference]\n" + toml_table({"audio": "reference/input.wav",
                                                    "expected": "reference/expected.json",
                                                    "tolerance": PARITY_TOL}))
        return "".join(parts)

    def reference_windows(self, fe: dict) -> tuple[np.ndarray, list[np.ndarray]]:
        frames = 2 * self.window_frames
        n = samples_for_frames(fe, frames)
        audio = reference_signal(self.sample_rate, n)
        feats = livetag_features(audio, self.sample_rate, fe)
        assert feats.shape[0] == frames, (feats.shape, frames)
        windows = [self.features_to_input(feats[s:s + self.window_frames])
                   for s in range(0, frames, self.window_frames)]
        return audio, windows

    def write_reference(self, out_dir: Path, fe: dict) -> None:
        import onnxruntime as ort

        audio, windows = self.reference_windows(fe)
        (out_dir / "reference" / "input.wav").write_bytes(float32_wav(audio, self.sample_rate))
        sess = ort.InferenceSession(str(out_dir / "model.onnx"), providers=["CPUExecutionProvider"])
        rows = []
        for w in windows:
            y = sess.run([self.output_name], {self.input_name: w})[0]
            rows.append(activate(y.astype(np.float64), self.values, self.activation)[0])
        expected = {"output": self.output_name, "scores": [[float(v) for v in r] for r in rows]}
        (out_dir / "reference" / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


def export_onnx(arch: Arch, model: nn.Module, path: Path) -> None:
    import onnx

    x = torch.from_numpy(ParityInput(7, arch.input_shape(arch.window_frames), arch.window_frames).array())
    torch.onnx.export(
        model, (x,), str(path), dynamo=False, opset_version=OPSET, do_constant_folding=True,
        input_names=[arch.input_name], output_names=[arch.output_name],
        dynamic_axes={arch.input_name: {0: "batch", arch.time_axis: "time"}, arch.output_name: {0: "batch"}},
    )
    m = onnx.load(str(path))
    onnx.checker.check_model(m)
    (inp,) = m.graph.input
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    want = [{"batch": "batch", "time": "time", "feature": arch.n_features, "channel": 1}[a] for a in arch.layout]
    assert inp.name == arch.input_name and dims == want, (inp.name, dims, want)
    assert [o.name for o in m.graph.output] == [arch.output_name]


# ---------------------------------------------------------------- per-arch settings

KONG_WINDOW = "hamming"
KONG_N_FFT = 2048
KONG_HAMMING_SQ = float(np.sum(np.hamming(KONG_N_FFT) ** 2))  # scipy density scaling, fs = 1


def _kong_frontend_patch(fe: dict, norm_stats) -> dict:
    if norm_stats is not None:
        mean, std = (np.asarray(a, dtype=np.float64).reshape(-1) for a in norm_stats)
        if mean.shape != (64,) or std.shape != (64,) or np.any(std <= 0):
            raise ValueError("--norm-stats needs mean[64] and std[64] > 0")
        fe["steps"][-1]["mean"] = [float(v) for v in mean]
        fe["steps"][-1]["std"] = [float(v) for v in std]
    return fe


def _t1_macs_comment(onnx_path: Path) -> str:
    m = onnx_macs(onnx_path, (1, 1, 256, 65))
    conv = m.get("Conv", 0)
    return (f"Complexity for 1 s (input [1, 1, 256, 65]): 61,148 parameters. ONNX graph: every MAC\n"
            f"is in Conv nodes (BatchNorm folded into them; no Gemm/MatMul): {conv:,} MACs =\n"
            f"k_h*k_w*C_in/groups*C_out*H_out*W_out summed. NeSsi/torchinfo also counts 2*C per\n"
            f"BatchNorm (2,708 here): 29,419,156, the README's number.")


ARCHS: dict[str, Arch] = {}

ARCHS["dcase2018_t2_baseline"] = Arch(
    name="dcase2018_t2_baseline",
    description="DCASE 2018 Task 2 baseline CNN (Kong et al.): 41 Freesound classes from 64-band log-mel",
    builder=lambda: Vggish(41),
    labels_file="fsdkaggle2018_41.txt",
    source=("Kong, Iqbal, Xu, Wang, Plumbley, \"DCASE 2018 Challenge baseline with convolutional neural "
            "networks\" (arXiv:1808.00773); PyTorch code qiuqiangkong/dcase2018_task2 "
            "(pytorch/models_pytorch.py Vggish)."),
    input_name="logmel",
    output_name="log_probabilities",
    layout=["batch", "time", "feature"],
    time_axis=1,
    n_features=64,
    sample_rate=32000,
    window_frames=128,
    hop_frames=16,
    min_frames=16,
    arch_min_frames=16,
    frontend={
        "n_fft": KONG_N_FFT, "win_length": KONG_N_FFT, "hop_samples": 1024, "window": KONG_WINDOW,
        "center": False, "power": 1.0, "drop_nyquist": False,
        "steps": [
            {"op": "mel", "n_bands": 64, "fmin_hz": 0.0, "fmax_hz": 16000.0, "scale": "slaney", "norm": "slaney"},
            {"op": "log", "eps": 1e-8 * math.sqrt(KONG_HAMMING_SQ)},
            {"op": "affine", "scale": 1.0, "offset": -0.5 * math.log(KONG_HAMMING_SQ)},
            {"op": "normalize", "mean": [0.0], "std": [1.0]},
        ],
    },
    values="logits",
    activation="softmax",
    parity_frames=[16, 128, 311],
    parity_source="audio",
    key_fixture="dcase2018_t2_baseline",
    frontend_patch=_kong_frontend_patch,
    input_comment=(
        "Trained on 128-frame patches (4.1 s, hop 64); the official inference averages patches\n"
        "every 16 frames (test_hop_frames). Global max pooling: any length >= 16 frames runs\n"
        "(four 2x2 max pools). The original repeats clips shorter than 128 frames instead."),
    frontend_comment=(
        "features.py LogMelExtractor: scipy.signal.spectrogram(np.hamming(2048), nperseg 2048,\n"
        "noverlap 1024, mode='magnitude') = |STFT| / sqrt(sum w^2), no centring; librosa Slaney\n"
        "mel 64, 0-16 kHz; ln(x + 1e-8). The 1/sqrt(sum w^2) scale is folded exactly into log\n"
        "(eps = 1e-8 sqrt(sum w^2)) and affine (offset -ln(sum w^2)/2), sum w^2 of np.hamming(2048).\n"
        "GAP: np.hamming is symmetric, livetag's hamming periodic. Not done: the per-file peak\n"
        "normalisation of the waveform. normalize = the training scaler (calculate_scalar);\n"
        "identity unless exported with --norm-stats."),
    output_comment=(
        "The official forward ends in log_softmax: softmax of these log-probabilities gives the\n"
        "probabilities exactly."),
)

ARCHS["dorfer_fcn"] = Arch(
    name="dorfer_fcn",
    description="Dorfer & Widmer DCASE 2018 Task 2 fully convolutional VGG: 41 Freesound classes",
    builder=lambda: DorferFCN(41),
    labels_file="fsdkaggle2018_41.txt",
    source=("Dorfer and Widmer, \"Training General-Purpose Audio Tagging Networks with Noisy Labels and "
            "Iterative Self-Verification\", DCASE 2018 workshop; layer list of CPJKU/dcase_task2 "
            "models/vgg_gap_spec1_2.py (Lasagne, MIT licence, Copyright 2018 Matthias Dorfer), "
            "re-implemented in PyTorch."),
    input_name="spectrogram",
    output_name="probabilities",
    layout=["batch", "channel", "feature", "time"],
    time_axis=3,
    n_features=128,
    sample_rate=32000,
    window_frames=384,
    hop_frames=192,
    min_frames=191,
    arch_min_frames=191,
    frontend={
        "n_fft": 1024, "win_length": 1024, "hop_samples": 192, "window": "hann", "center": True,
        "pad_mode": "reflect", "power": 2.0, "drop_nyquist": False,
        "steps": [
            {"op": "a_weighting_db", "ref": 1.0, "amin": 1e-10, "top_db": 99.0},
            {"op": "mel", "n_bands": 128, "fmin_hz": 0.0, "fmax_hz": 16000.0, "scale": "slaney", "norm": "slaney"},
        ],
    },
    values="probabilities",
    activation="softmax",
    parity_frames=[191, 384, 1000, 3000],
    parity_source="audio",
    input_comment=(
        "Trained on random 384-frame excerpts (2.3 s); evaluated on whole spectrograms of up to\n"
        "3000 frames (fully convolutional, global average pooling). Minimum 191 frames: the\n"
        "valid 3x3 conv13 needs 3 time steps after /64. Dorfer's live tagger predicted every\n"
        "10 frames on a GPU; the default hop here is half a window."),
    frontend_comment=(
        "prepare_spectrograms.py version 1 (librosa): STFT 1024 / hop 192, Hann, center, reflect;\n"
        "perceptual_weighting(|X|^2, ref 1, amin 1e-10, top_db 99); melspectrogram(S=..., 128\n"
        "bands, fmax None = 16 kHz) applied to the weighted dB values. top_db floors at the\n"
        "running maximum (docs/BUNDLE_FORMAT.md). Not done: SoX norm -0.1 dB + silence trimming."),
    output_comment="Softmax over the 41 class maps' global averages, inside the graph.",
)

ARCHS["dcase2024_t1_baseline"] = Arch(
    name="dcase2024_t1_baseline",
    description="DCASE 2024 Task 1 baseline (CP-Mobile style, 61,148 params): 10 acoustic scenes from 1 s",
    builder=lambda: Network(),
    labels_file="tau_scenes_10.txt",
    source=("Schmid et al., DCASE 2024 Task 1 baseline, CPJKU/dcase2024_task1_baseline "
            "(models/baseline.py Network, run_training.py defaults)."),
    input_name="logmel",
    output_name="logits",
    layout=["batch", "channel", "feature", "time"],
    time_axis=3,
    n_features=256,
    sample_rate=32000,
    window_frames=65,
    hop_frames=65,
    min_frames=33,
    arch_min_frames=1,
    frontend={
        "n_fft": 4096, "win_length": 3072, "hop_samples": 500, "window": "hann", "center": True,
        "pad_mode": "reflect", "power": 2.0, "drop_nyquist": False,
        "steps": [
            {"op": "mel", "n_bands": 256, "fmin_hz": 0.0, "fmax_hz": 16000.0, "scale": "htk", "norm": "none"},
            {"op": "log", "eps": 1e-5},
        ],
    },
    values="logits",
    activation="softmax",
    parity_frames=[1, 33, 65, 400],
    parity_source="audio",
    key_fixture="dcase2024_t1_baseline",
    extra_comment=_t1_macs_comment,
    input_comment=(
        "Trained on 1 s clips = 65 frames (center, hop 500 at 32 kHz). Global average pooling:\n"
        "any length >= 1 frame runs; livetag waits for half a clip (33 frames) before the first\n"
        "score (a choice, not an architectural limit)."),
    frontend_comment=(
        "run_training.py: torchaudio MelSpectrogram(32 kHz, n_fft 4096, win_length 3072, hop 500,\n"
        "256 mels, f_min 0, f_max None): periodic Hann centred in n_fft, center, reflect, power 2,\n"
        "HTK mel without norm; then ln(x + 1e-5). Exact in livetag. The original runs the network\n"
        "in float16 (model.half()); this bundle is float32."),
    output_comment="Logits; the official evaluation applies softmax.",
)


# ============================================================================ checkpoints


class RegistryEntry:
    """An Arch seen through tools/export.py's registry interface (export_common's docstring),
    so `tools/export.py --arch NAME` exports these models like the PANNs ones. Random weights
    are calibrated as `random_model` does, with seed 0; a Kong checkpoint needs its training
    statistics, which only this module's own runner takes (`--norm-stats`)."""

    def __init__(self, arch: Arch):
        self.arch = arch
        self.name = arch.name
        self.shown_outputs = [arch.output_name]
        self.norm_stats = None

    def build(self) -> nn.Module:
        return self.arch.build()

    def prepare_random(self, model: nn.Module, seed: int = 0) -> None:
        self.norm_stats = fake_norm_stats(self.arch, seed)
        batch = calibration_batch(self.arch, seed, norm_stats=self.norm_stats)
        calibrate_bn(model, torch.from_numpy(batch), perturb_seed=seed)

    def export(self, model: nn.Module, out_dir) -> None:
        import export_common
        weights = export_common.provenance(model).describe()
        self.arch.export(model, out_dir, weights=weights, norm_stats=self.norm_stats)

    def parity_inputs(self) -> list:
        import export_common
        return [export_common.ParityCase(
            label=f"{p.frames} frames x{p.shape[0]}",
            inputs={self.arch.input_name: p.array()},
            recipe=p.describe(),
        ) for p in self.arch.parity_inputs()]


def load_checkpoint(arch: Arch, path) -> nn.Module:
    """Official checkpoint containers: Kong's md_*_iters.tar ({'state_dict': ...}), the T1
    baseline's model_state_dict.pt (plain) or its Lightning .ckpt ('state_dict' with a
    'model.' prefix, other modules' buffers dropped), or a plain state dict."""
    obj = torch.load(str(path), map_location="cpu", weights_only=True)
    sd = obj
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if key in obj and isinstance(obj[key], dict):
                sd = obj[key]
                break
    if any(k.startswith("model.") for k in sd) and not all(k.startswith("model.") for k in sd):
        sd = {k: v for k, v in sd.items() if k.startswith("model.")}
    if sd and all(k.startswith("model.") for k in sd):
        sd = {k[len("model."):]: v for k, v in sd.items()}
    model = arch.builder()
    model.load_state_dict(sd, strict=True)
    return model.eval()


def synthetic_state_dict(arch: Arch, seed: int) -> dict[str, torch.Tensor]:
    """Random values under the OFFICIAL key names and shapes: from the hand-written fixture
    where the original is PyTorch, else from build(). Loaded strictly, BN calibrated."""
    g = torch.Generator().manual_seed(seed)
    if arch.key_fixture:
        keys = read_key_fixture(arch.key_fixture)
    else:
        keys = [(k, tuple(v.shape)) for k, v in arch.build().state_dict().items()]
    sd: dict[str, torch.Tensor] = {}
    for key, shape in keys:
        leaf = key.rsplit(".", 1)[1]
        if leaf == "num_batches_tracked":
            sd[key] = torch.tensor(1000, dtype=torch.long)
        elif leaf == "weight" and len(shape) >= 2:
            fan_in = math.prod(shape[1:])
            sd[key] = torch.randn(shape, generator=g) * math.sqrt(2.0 / fan_in)
        elif leaf == "weight":
            sd[key] = 0.75 + 0.5 * torch.rand(shape, generator=g)
        elif leaf == "running_var":
            sd[key] = 0.5 + torch.rand(shape, generator=g)
        else:  # bias, running_mean
            sd[key] = 0.1 * torch.randn(shape, generator=g)
    model = arch.builder()
    model.load_state_dict(sd, strict=True)  # the official key list fits this module
    calibrate_bn(model, torch.from_numpy(calibration_batch(arch, seed, norm_stats=fake_norm_stats(arch, seed))))
    return model.state_dict()


def calibration_audio(sr: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Random tones (100 Hz - 8 kHz), noise and clicks at random levels."""
    t = np.arange(n) / sr
    x = sum(rng.uniform(0.01, 0.3) * np.sin(2 * np.pi * rng.uniform(100, 8000) * t + rng.uniform(0, 6.3))
            for _ in range(3))
    x = x + 10 ** rng.uniform(-3.5, -1) * rng.standard_normal(n)
    x[rng.integers(0, n, 4)] += 0.3
    return (x * rng.uniform(0.1, 1.0) / np.max(np.abs(x))).astype(np.float32)


def calibration_batch(arch: Arch, seed: int, batch: int = 8, norm_stats=None) -> np.ndarray:
    """``batch`` windows of real front-end features (the bundle's front-end) of random
    audio: what BN statistics are calibrated on for random and synthetic weights."""
    rng = np.random.default_rng(seed + 1)
    fe = arch.bundle_frontend(norm_stats)
    n = samples_for_frames(fe, arch.window_frames)
    wins = [arch.features_to_input(livetag_features(calibration_audio(arch.sample_rate, n, rng),
                                                    arch.sample_rate, fe)) for _ in range(batch)]
    return np.concatenate(wins, axis=0)


def fake_norm_stats(arch: Arch, seed: int):
    """For an arch whose front-end ends in the training-data scaler (dcase2018_t2_baseline):
    per-band mean/std of the calibration features, as calculate_scalar computes them from
    the training features, so random weights see normalised input like a trained model."""
    if arch.frontend_patch is None:
        return None
    raw = calibration_batch(arch, seed + 7, batch=16)  # [batch, time, 64], identity normalize
    flat = raw.reshape(-1, raw.shape[-1]).astype(np.float64)
    return flat.mean(axis=0), flat.std(axis=0)


def random_model(arch: Arch, seed: int):
    """(model, norm_stats): official init under ``seed``, BN perturbed and calibrated."""
    torch.manual_seed(seed)
    model = arch.build()
    stats = fake_norm_stats(arch, seed)
    calibrate_bn(model, torch.from_numpy(calibration_batch(arch, seed, norm_stats=stats)), perturb_seed=seed)
    return model, stats


REGISTRY = {name: RegistryEntry(arch) for name, arch in ARCHS.items()}


def save_synthetic_checkpoint(arch: Arch, path, seed: int = 123, drop_num_batches_tracked=False) -> None:
    sd = synthetic_state_dict(arch, seed)
    if drop_num_batches_tracked:  # PyTorch 0.4.0 checkpoints (Kong's) have no such keys
        sd = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    if arch.name == "dcase2018_t2_baseline":  # pytorch/main_pytorch.py's md_{N}_iters.tar
        obj = {"iteration": 10000, "state_dict": sd, "optimizer": {}}
    else:
        obj = sd
    torch.save(obj, str(path))
    stats = fake_norm_stats(arch, seed)
    if stats is not None:  # what --norm-stats takes; a real one comes from the training features
        np.savez(str(path) + ".norm_stats.npz", mean=stats[0], std=stats[1])


# ============================================================================ parity


def check_parity(arch: Arch, model: nn.Module, onnx_path: Path) -> list[dict]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    rows = []
    for p in arch.parity_inputs():
        x = p.array()
        with torch.no_grad():
            want = model(torch.from_numpy(x)).numpy()
        got = sess.run([arch.output_name], {arch.input_name: x})[0]
        diff = float(np.max(np.abs(want.astype(np.float64) - got)))
        pw = activate(want.astype(np.float64), arch.values, arch.activation)
        pg = activate(got.astype(np.float64), arch.values, arch.activation)
        rows.append({**p.describe(), "input": x, "max_abs_diff": diff,
                     "max_abs_diff_activated": float(np.max(np.abs(pw - pg))),
                     "torch": want.tolist(), "onnxruntime": got.tolist()})
    return rows


def write_parity_json(arch: Arch, rows: list[dict], out_dir: Path, weights: str) -> None:
    (out_dir / "parity").mkdir(exist_ok=True)
    cases = []
    for i, r in enumerate(rows):
        name = f"parity/case{i}_{r['frames']}frames.f32"
        np.asarray(r["input"], dtype="<f4").tofile(out_dir / name)
        cases.append({**{k: r[k] for k in r if k in ("source", "seed", "shape", "frames", "loc", "scale", "generator")},
                      "input_file": name,
                      "torch": r["torch"], "onnxruntime": r["onnxruntime"], "max_abs_diff": r["max_abs_diff"]})
    doc = {
        "arch": arch.name, "weights": weights, "onnx": "model.onnx", "input": arch.input_name,
        "output": arch.output_name, "layout": arch.layout, "values": arch.values, "activation": arch.activation,
        "tolerance": PARITY_TOL, "torch_version": torch.__version__,
        "input_generator": "source 'normal': x = np.float32(loc) + np.float32(scale) * "
                           "np.random.default_rng(seed).standard_normal(shape, dtype=np.float32); source "
                           "'audio': see ParityInput in tools/export_dcase.py. Every input is also stored raw "
                           "(little-endian float32, C order, shape as given) in input_file",
        "outputs_are": "the raw model output (before the bundle's activation), PyTorch and ONNX Runtime",
        "cases": cases,
    }
    (out_dir / "parity.json").write_text(json.dumps(doc, indent=1) + "\n")


def runs_at(model: nn.Module, arch: Arch, frames: int) -> bool:
    x = torch.zeros(arch.input_shape(frames))
    try:
        with torch.no_grad():
            model(x)
        return True
    except RuntimeError:
        return False


# ============================================================================ selftest


def check_frontend_fixtures() -> list[tuple[str, float, float]]:
    """This file's NumPy front-end against livetag's front-end fixtures (librosa/madmom refs)."""
    root = REPO / "tests" / "fixtures" / "frontend"
    out = []
    for case in sorted(p for p in root.iterdir() if (p / "frontend.toml").exists()):
        spec = tomllib.loads((case / "frontend.toml").read_text())
        fe = spec["frontend"]
        if any(s["op"] == "log_filterbank" for s in fe["steps"]):
            continue  # madmom filterbank: not used by these bundles
        meta = json.loads((case / "meta.json").read_text())
        audio = np.fromfile(case / "input.f32", dtype="<f4")
        want = np.fromfile(case / "expected.f32", dtype="<f4").reshape(meta["frames"], meta["bands"])
        got = livetag_features(audio, spec["sample_rate_hz"], fe)
        skip = meta.get("causal_floor_last_differing_frame", -1) + 1  # global vs running top_db
        diff = np.abs(got[skip:].astype(np.float64) - want[skip:])
        out.append((case.name, float(diff.max()), float(diff.max() / max(np.abs(want).max(), 1e-30))))
    return out


def kong_window_gap() -> dict:
    """Official Kong log-mel (scipy, symmetric Hamming) vs the bundle's steps (periodic)."""
    import librosa
    import scipy.signal

    arch = ARCHS["dcase2018_t2_baseline"]
    fe = arch.bundle_frontend()
    audio = reference_signal(32000, samples_for_frames(fe, 256))
    _, _, s = scipy.signal.spectrogram(audio.astype(np.float64), window=np.hamming(2048), nperseg=2048,
                                       noverlap=1024, detrend=False, return_onesided=True, mode="magnitude")
    mel_w = librosa.filters.mel(sr=32000, n_fft=2048, n_mels=64, fmin=0.0, fmax=16000)
    official = np.log(s.T @ mel_w.T + 1e-8)
    ours = livetag_features(audio, 32000, fe).astype(np.float64)
    sym = np.abs(np.fft.rfft(audio.astype(np.float64)[np.arange(2048)[None] + 1024 * np.arange(ours.shape[0])[:, None]]
                             * np.hamming(2048), axis=1))
    folded = apply_steps(sym, fe, 32000).astype(np.float64)  # symmetric window + bundle steps
    return {"frames": ours.shape[0], "official_frames": official.shape[0],
            "scaling_fold_max_abs": float(np.abs(folded - official).max()),
            "periodic_window_max_abs": float(np.abs(ours - official).max()),
            "periodic_window_mean_abs": float(np.abs(ours - official).mean())}


def t1_frontend_gap() -> float:
    """torchaudio-style MelSpectrogram (torch.stft, float32, torchaudio's melscale_fbanks
    formula re-derived) + ln(x + 1e-5) vs the bundle's steps."""
    arch = ARCHS["dcase2024_t1_baseline"]
    fe = arch.bundle_frontend()
    audio = reference_signal(32000, 32000)
    x = torch.from_numpy(audio)[None]
    spec = torch.stft(x, 4096, hop_length=500, win_length=3072, window=torch.hann_window(3072),
                      center=True, pad_mode="reflect", normalized=False, onesided=True,
                      return_complex=True).abs() ** 2  # [1, 2049, T]
    all_freqs = torch.linspace(0, 16000, 2049)
    m_pts = torch.linspace(2595.0 * math.log10(1.0), 2595.0 * math.log10(1.0 + 16000 / 700.0), 258)
    f_pts = 700.0 * (10 ** (m_pts / 2595.0) - 1.0)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
    down = (-1.0 * slopes[:, :-2]) / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    fb = torch.max(torch.zeros(1), torch.min(down, up))  # [2049, 256]
    mel = torch.matmul(spec.transpose(-1, -2), fb).transpose(-1, -2)
    official = (mel + 1e-5).log()[0].T.numpy().astype(np.float64)
    ours = livetag_features(audio, 32000, fe).astype(np.float64)
    assert official.shape == ours.shape == (65, 256), (official.shape, ours.shape)
    return float(np.abs(official - ours).max())


def selftest() -> bool:
    ok = True

    def check(cond: bool, what: str) -> None:
        nonlocal ok
        ok &= bool(cond)
        print(f"  [{'ok' if cond else 'FAIL'}] {what}")

    print("front-end (NumPy copy of livetag's) vs tests/fixtures/frontend:")
    for name, abs_d, rel_d in check_frontend_fixtures():
        check(rel_d < 2e-5, f"{name}: max abs diff {abs_d:.2e} (rel {rel_d:.1e})")

    for arch in ARCHS.values():
        print(f"{arch.name}:")
        model = arch.build()
        n = count_params(model)
        print(f"  parameters: {n:,}")
        if arch.key_fixture:
            official = read_key_fixture(arch.key_fixture)
            mine = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
            check(mine == official, f"state_dict keys, order and shapes == hand-written fixture "
                                    f"tools/fixtures/dcase_keys/{arch.key_fixture}.txt ({len(official)} entries)")
            fixture_params = sum(math.prod(s) for k, s in official if k.endswith((".weight", ".bias")))
            check(fixture_params == n, f"fixture parameter count {fixture_params:,} == model {n:,}")
        if arch.name == "dcase2024_t1_baseline":
            check(n == 61148, "61,148 parameters (README)")
            macs = count_macs(model, torch.zeros(arch.input_shape(65)))
            print(f"  MACs per 1 s [1,1,256,65]: conv {macs['conv']:,} + linear {macs['linear']:,}; "
                  f"+ BN 2C {macs['batchnorm']:,} = {macs['nessi']:,}")
            check(macs["nessi"] == 29419156, "NeSsi-style MACs == 29,419,156 (README)")
        if arch.name == "dorfer_fcn":
            bn_ch = sum(m.num_features for m in model.modules() if isinstance(m, nn.BatchNorm2d))
            check(n + 2 * bn_ch == 14865124,
                  f"trainable {n:,} + BN mean/inv_std {2 * bn_ch:,} == 14,865,124 (write-up)")
        check(runs_at(model, arch, arch.arch_min_frames), f"runs at the minimum, {arch.arch_min_frames} frames")
        if arch.arch_min_frames > 1:
            check(not runs_at(model, arch, arch.arch_min_frames - 1),
                  f"fails at {arch.arch_min_frames - 1} frames (so the minimum is tight)")
        # strict loading of a synthetic checkpoint with the official keys and container
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            variants = [False, True] if arch.name == "dcase2018_t2_baseline" else [False]
            for drop in variants:
                p = Path(tmp) / "synthetic.pth"
                save_synthetic_checkpoint(arch, p, seed=321, drop_num_batches_tracked=drop)
                loaded = load_checkpoint(arch, p)
                x = torch.from_numpy(arch.parity_inputs()[1].array())
                ref = arch.builder()
                ref.load_state_dict(synthetic_state_dict(arch, 321), strict=True)
                with torch.no_grad():
                    same = torch.equal(loaded(x), ref.eval()(x))
                keys = "official keys" if arch.key_fixture else "this module's plain keys"
                check(same, f"synthetic checkpoint ({keys}" + (", no num_batches_tracked" if drop else "")
                      + ") loads with strict=True and computes the same")
    gap = kong_window_gap()
    print("dcase2018_t2_baseline front-end vs the official scipy/librosa log-mel "
          f"({gap['frames']} frames):")
    check(gap["frames"] == gap["official_frames"], "same frame count (no centring)")
    check(gap["scaling_fold_max_abs"] < 1e-4,
          f"scaling folded into log + affine: max abs {gap['scaling_fold_max_abs']:.1e} (symmetric window)")
    print(f"  GAP periodic vs symmetric Hamming: max abs {gap['periodic_window_max_abs']:.2e}, "
          f"mean abs {gap['periodic_window_mean_abs']:.2e} (log-mel units)")
    t1 = t1_frontend_gap()
    check(t1 < 1e-3, f"dcase2024_t1_baseline front-end vs torch.stft + torchaudio mel formula: max abs {t1:.2e}")
    return ok


# ============================================================================ main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", choices=sorted(ARCHS))
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--checkpoint", help="state dict / official checkpoint, loaded with strict=True")
    src.add_argument("--random-weights", action="store_true", help="official init under --seed (default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="bundle folder to write")
    ap.add_argument("--reference", action="store_true", help="also write OUT/parity.json and OUT/parity/*.f32")
    ap.add_argument("--licence", help="licence of the weights (default: livetag's for random weights)")
    ap.add_argument("--norm-stats", help="dcase2018_t2_baseline: .npz with mean[64], std[64] (training scaler)")
    ap.add_argument("--selftest", action="store_true", help="run every check, write nothing")
    ap.add_argument("--write-synthetic-checkpoint", metavar="PATH",
                    help="write a random checkpoint with the official key names and container, then exit")
    args = ap.parse_args(argv)

    if args.selftest:
        ok = selftest()
        print("selftest:", "PASSED" if ok else "FAILED")
        return 0 if ok else 1
    if not args.arch:
        ap.error("--arch is required")
    arch = ARCHS[args.arch]
    if args.write_synthetic_checkpoint:
        save_synthetic_checkpoint(arch, args.write_synthetic_checkpoint, seed=args.seed + 123)
        print(f"wrote {args.write_synthetic_checkpoint}"
              + (" and its .norm_stats.npz" if arch.frontend_patch is not None else ""))
        return 0
    if not args.out:
        ap.error("--out is required")
    out = Path(args.out)

    if args.checkpoint:
        model = load_checkpoint(arch, args.checkpoint)
        weights = f"checkpoint {Path(args.checkpoint).name} (loaded with strict=True)"
        licence = args.licence or "UNKNOWN"
    else:
        model, norm_stats = random_model(arch, args.seed)
        weights = (f"RANDOM (official initialisation, torch.manual_seed({args.seed}); BN affine perturbed and "
                   f"BN statistics calibrated on features of seeded random audio) - not a trained model")
        licence = args.licence or "MIT OR Apache-2.0"
        if norm_stats is not None and not args.norm_stats:
            weights += "; normalize = per-band mean/std of those features (stand-in for the training scaler)"
    if args.checkpoint:
        norm_stats = None
    if args.norm_stats:
        z = np.load(args.norm_stats)
        norm_stats = (z["mean"], z["std"])

    arch.export(model, out, weights=weights, licence=licence, norm_stats=norm_stats)
    rows = check_parity(arch, model, out / "model.onnx")
    print(f"{arch.name}: {count_params(model):,} parameters, model.onnx {(out / 'model.onnx').stat().st_size:,} bytes")
    fails = 0
    for r in rows:
        good = r["max_abs_diff"] <= PARITY_TOL
        fails += not good
        print(f"  parity {str(r['shape']):>22}: max |torch - onnxruntime| = {r['max_abs_diff']:.2e}"
              f" (after {arch.activation if arch.values == 'logits' else 'model'}: "
              f"{r['max_abs_diff_activated']:.2e}) {'ok' if good else 'FAIL'}")
    if arch.name == "dcase2024_t1_baseline":
        macs = count_macs(model, torch.zeros(arch.input_shape(65)))
        om = onnx_macs(out / "model.onnx", arch.input_shape(65))
        print(f"  MACs per 1 s: conv+linear {macs['conv_linear']:,}, NeSsi-style (+2C per BN) {macs['nessi']:,};"
              f" ONNX Conv nodes {om.get('Conv', 0):,}, Gemm {om.get('Gemm', 0):,}, MatMul {om.get('MatMul', 0):,}")
    if args.reference:
        write_parity_json(arch, rows, out, weights)
        print(f"  wrote {out / 'parity.json'}")
    if fails:
        print(f"PARITY FAILED on {fails} of {len(rows)} inputs (tolerance {PARITY_TOL})")
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
