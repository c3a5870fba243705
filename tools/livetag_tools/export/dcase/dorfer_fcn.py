"""dorfer_fcn: Dorfer & Widmer, DCASE 2018 Task 2 (2nd place).

No official PyTorch code: the write-up ("Network Architecture" and "General Training
Procedure") gives the design (VGG-style fully convolutional net, BN + ReLU, global average
pooling over 41 class maps, softmax, 384-frame training excerpts, up to 3000 frames at test
time, 14,865,124 parameters); the layer list follows his Lasagne model CPJKU/dcase_task2
dcase_task2/models/vgg_gap_spec1_2.py (spectrogram version 1, nf = 64), whose count
reproduces the write-up's 14,865,124 when BN mean and inv_std are counted (checked by
tools/tests/test_export_dcase.py):

    conv1 5x5/2 pad 2, 64    conv2 3x3, 64      maxpool 2x2
    conv3 3x3, 128           conv4 3x3, 128     maxpool 2x2
    conv5 3x3, 256   conv6 3x3, 256   conv7 3x3, 384   conv8 3x3, 384   maxpool 2x2
    conv9 3x3, 512           conv10 3x3, 512    maxpool 1x2 (time only)
    conv11 3x3, 512          conv12 3x3, 512    maxpool 1x2 (time only)
    conv13 3x3 valid, 512    conv14 1x1, 512
    conv15 1x1, 41 (+BN, no ReLU) -> mean over freq and time -> softmax

every convN without bias, followed by bnN (eps 1e-4, Lasagne's default) and ReLU; dropout
omitted (inference). Input ``[batch, 1, 128 mel, time]`` (his layout). Parameter names are
plain: conv1..conv15, bn1..bn15. A Lasagne parameter dump maps layer by layer: W ->
convN.weight; beta, gamma, mean -> bnN.bias, .weight, .running_mean; inv_std -> running_var
= 1 / inv_std**2 - 1e-4. Minimum 191 frames (the valid 3x3 conv needs 3 time steps after a
/64 reduction).

Front-end: exact (librosa STFT 1024 / 192, perceptual weighting ref 1, amin 1e-10, top_db
99, mel 128 0-16 kHz over dB values = tests/fixtures/frontend/dorfer_v1), except: top_db is
floored at the running maximum (BUNDLE_FORMAT.md), the SoX normalise-and-trim preprocessing
is not applied, and short clips are not tiled.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from livetag_tools.export.dcase.base import Arch, RegistryEntry

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
            nn.init.kaiming_normal_(
                conv.weight, mode="fan_in", nonlinearity="relu"
            )  # HeNormal(gain='relu')
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


ARCH = Arch(
    module=__name__,
    name="dorfer_fcn",
    description="Dorfer & Widmer DCASE 2018 Task 2 fully convolutional VGG: 41 Freesound classes",
    builder=lambda: DorferFCN(41),
    labels_file="fsdkaggle2018_41.txt",
    source=(
        'Dorfer and Widmer, "Training General-Purpose Audio Tagging Networks with Noisy Labels and '
        'Iterative Self-Verification", DCASE 2018 workshop; layer list of CPJKU/dcase_task2 '
        "models/vgg_gap_spec1_2.py (Lasagne, MIT licence, Copyright 2018 Matthias Dorfer), "
        "re-implemented in PyTorch."
    ),
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
        "n_fft": 1024,
        "win_length": 1024,
        "hop_samples": 192,
        "window": "hann",
        "center": True,
        "pad_mode": "reflect",
        "power": 2.0,
        "drop_nyquist": False,
        "steps": [
            {"op": "a_weighting_db", "ref": 1.0, "amin": 1e-10, "top_db": 99.0},
            {
                "op": "mel",
                "n_bands": 128,
                "fmin_hz": 0.0,
                "fmax_hz": 16000.0,
                "scale": "slaney",
                "norm": "slaney",
            },
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
        "10 frames on a GPU; the default hop here is half a window."
    ),
    frontend_comment=(
        "prepare_spectrograms.py version 1 (librosa): STFT 1024 / hop 192, Hann, center, reflect;\n"
        "perceptual_weighting(|X|^2, ref 1, amin 1e-10, top_db 99); melspectrogram(S=..., 128\n"
        "bands, fmax None = 16 kHz) applied to the weighted dB values. top_db floors at the\n"
        "running maximum (docs/BUNDLE_FORMAT.md). Not done: SoX norm -0.1 dB + silence trimming."
    ),
    output_comment="Softmax over the 41 class maps' global averages, inside the graph.",
)

ENTRY = RegistryEntry(ARCH)
