"""dcase2018_t2_baseline: Kong et al., DCASE 2018 Task 2 PyTorch baseline
(qiuqiangkong/dcase2018_task2: pytorch/models_pytorch.py ``Vggish``, the model
pytorch/main_pytorch.py trains; utils/config.py; features.py ``LogMelExtractor``).

4 x [conv3x3-BN-ReLU, conv3x3-BN-ReLU, maxpool 2x2] (64, 128, 256, 512), global max pool
over time and mel, Linear(512, 41), log_softmax. Input ``[batch, time, 64]``.
``F.max_pool2d(x, kernel_size=x.shape[2:])`` is written ``torch.amax(x, (2, 3))`` (same
values; the original bakes the trace-time length into the ONNX graph). Trained on 128-frame
patches (hop 64); official inference: hop 16, mean of patch outputs. Minimum 16 frames (four
2x2 pools).

Front-end (features.py ``LogMelExtractor``): scipy.signal.spectrogram(mode='magnitude') with
``np.hamming(2048)`` (symmetric: livetag's ``hamming_symmetric``), no centring, hop 1024,
density scaling |X| / sqrt(sum w^2); librosa Slaney mel 64, 0-16 kHz; ln(x + 1e-8); then
per-band mean/std of the training features. livetag folds the scaling exactly into ``log``
(eps = 1e-8 * sqrt(sum w^2)) + ``affine`` (offset -0.5 ln(sum w^2)); tools/tests/
test_export_dcase.py holds the result to the baseline's formula within 1e-4, and
tests/frontend_parity.rs (fixture ``kong_dcase2018_logmel``) the Rust front-end. The scaler
is ``normalize`` (identity unless ``--norm-stats``: the
official code recomputes it from the training features, a checkpoint does not hold it). Not
reproducible: per-file peak normalisation of the waveform (audio / max|audio|, non-causal)
and the repetition of clips shorter than 128 frames.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from livetag_tools.export.dcase.base import Arch, RegistryEntry


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


KONG_WINDOW = "hamming_symmetric"  # np.hamming
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


ARCH = Arch(
    module=__name__,
    name="dcase2018_t2_baseline",
    description="DCASE 2018 Task 2 baseline CNN (Kong et al.): 41 Freesound classes from "
    "64-band log-mel",
    builder=lambda: Vggish(41),
    labels_file="fsdkaggle2018_41.txt",
    source=(
        'Kong, Iqbal, Xu, Wang, Plumbley, "DCASE 2018 Challenge baseline with convolutional neural '
        'networks" (arXiv:1808.00773); PyTorch code qiuqiangkong/dcase2018_task2 '
        "(pytorch/models_pytorch.py Vggish)."
    ),
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
        "n_fft": KONG_N_FFT,
        "win_length": KONG_N_FFT,
        "hop_samples": 1024,
        "window": KONG_WINDOW,
        "center": False,
        "power": 1.0,
        "drop_nyquist": False,
        "steps": [
            {
                "op": "mel",
                "n_bands": 64,
                "fmin_hz": 0.0,
                "fmax_hz": 16000.0,
                "scale": "slaney",
                "norm": "slaney",
            },
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
        "(four 2x2 max pools). The original repeats clips shorter than 128 frames instead."
    ),
    frontend_comment=(
        "features.py LogMelExtractor: scipy.signal.spectrogram(np.hamming(2048), nperseg 2048,\n"
        "noverlap 1024, mode='magnitude') = |STFT| / sqrt(sum w^2), no centring; librosa Slaney\n"
        "mel 64, 0-16 kHz; ln(x + 1e-8). The 1/sqrt(sum w^2) scale is folded exactly into log\n"
        "(eps = 1e-8 sqrt(sum w^2)) and affine (offset -ln(sum w^2)/2), sum w^2 of "
        "np.hamming(2048).\n"
        "np.hamming is symmetric: hamming_symmetric. Not done: the per-file peak\n"
        "normalisation of the waveform. normalize = the training scaler (calculate_scalar);\n"
        "identity unless exported with --norm-stats."
    ),
    output_comment=(
        "The official forward ends in log_softmax: softmax of these log-probabilities gives the\n"
        "probabilities exactly."
    ),
)

ENTRY = RegistryEntry(ARCH)
