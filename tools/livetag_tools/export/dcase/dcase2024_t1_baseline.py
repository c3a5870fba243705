"""dcase2024_t1_baseline: Schmid et al., DCASE 2024 Task 1 baseline
(CPJKU/dcase2024_task1_baseline, models/baseline.py ``Network``/``Block``, torchvision's
``Conv2dNormActivation`` re-created as a Sequential with the same child indices,
run_training.py defaults). 61,148 parameters. Input ``[batch, 1, 256 mel, time]``; trained
on 1 s clips = 65 frames; global average pooling, so any length >= 1 runs.

Front-end: exact (torchaudio MelSpectrogram: periodic Hann 3072 centred in n_fft 4096, hop
500, center, reflect, power 2, HTK mel 256, 0-16 kHz, no norm; then ln(x + 1e-5); the
repository's models/mel.py (pre-emphasis, Kaldi mel) is NOT what run_training.py uses).
Differences: the original runs the network in float16 (model.half()); the bundle is float32.
Audio is resampled 44.1 -> 32 kHz by torchaudio's Resample in the original, by livetag's
resampler here.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from livetag_tools.export.dcase.base import Arch, RegistryEntry, onnx_macs


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

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel_size: int,
        stride=1,
        padding: int | None = None,
        groups: int = 1,
        activation: bool = True,
    ):
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
        depth_conv = ConvNormAct(
            exp_channels, exp_channels, 3, stride, padding=1, groups=exp_channels
        )
        proj_conv = ConvNormAct(exp_channels, out_channels, 1, 1, activation=False)
        self.after_block_activation = nn.ReLU()
        if in_channels == out_channels:
            self.use_shortcut = True
            if stride == 1 or stride == (1, 1):
                self.shortcut = nn.Sequential()
            else:
                self.shortcut = nn.Sequential(
                    nn.AvgPool2d(kernel_size=3, stride=stride, padding=1), nn.Sequential()
                )
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

    def __init__(
        self,
        n_classes=10,
        in_channels=1,
        base_channels=32,
        channels_multiplier=1.8,
        expansion_rate=2.1,
        n_blocks=(3, 2, 1),
        strides=None,
    ):
        super().__init__()
        if strides is None:
            strides = dict(b2=(1, 1), b3=(1, 2), b4=(2, 1))
        n_stages = len(n_blocks)
        base_channels = make_divisible(base_channels, 8)
        channels_per_stage = [base_channels] + [
            make_divisible(base_channels * channels_multiplier**stage_id, 8)
            for stage_id in range(n_stages)
        ]
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
                stage.add_module(
                    bname, Block(c_in, c_out, expansion_rate, strides.get(bname, (1, 1)))
                )
                c_in = c_out
            self.stages.add_module(f"s{stage_id + 1}", stage)
        self.feed_forward = nn.Sequential(
            nn.Conv2d(
                channels_per_stage[-1],
                n_classes,
                kernel_size=(1, 1),
                stride=(1, 1),
                padding=0,
                bias=False,
            ),
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


def _t1_macs_comment(onnx_path: Path) -> str:
    m = onnx_macs(onnx_path, (1, 1, 256, 65))
    conv = m.get("Conv", 0)
    return (
        f"Complexity for 1 s (input [1, 1, 256, 65]): 61,148 parameters. ONNX graph: every MAC\n"
        f"is in Conv nodes (BatchNorm folded into them; no Gemm/MatMul): {conv:,} MACs =\n"
        f"k_h*k_w*C_in/groups*C_out*H_out*W_out summed. NeSsi/torchinfo also counts 2*C per\n"
        f"BatchNorm (2,708 here): 29,419,156, the README's number."
    )


ARCH = Arch(
    module=__name__,
    name="dcase2024_t1_baseline",
    description="DCASE 2024 Task 1 baseline (CP-Mobile style, 61,148 params): 10 acoustic "
    "scenes from 1 s",
    builder=lambda: Network(),
    labels_file="tau_scenes_10.txt",
    source=(
        "Schmid et al., DCASE 2024 Task 1 baseline, CPJKU/dcase2024_task1_baseline "
        "(models/baseline.py Network, run_training.py defaults)."
    ),
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
        "n_fft": 4096,
        "win_length": 3072,
        "hop_samples": 500,
        "window": "hann",
        "center": True,
        "pad_mode": "reflect",
        "power": 2.0,
        "drop_nyquist": False,
        "steps": [
            {
                "op": "mel",
                "n_bands": 256,
                "fmin_hz": 0.0,
                "fmax_hz": 16000.0,
                "scale": "htk",
                "norm": "none",
            },
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
        "score (a choice, not an architectural limit)."
    ),
    frontend_comment=(
        "run_training.py: torchaudio MelSpectrogram(32 kHz, n_fft 4096, win_length 3072, hop 500,\n"
        "256 mels, f_min 0, f_max None): periodic Hann centred in n_fft, center, reflect, "
        "power 2,\n"
        "HTK mel without norm; then ln(x + 1e-5). Exact in livetag. The original runs the network\n"
        "in float16 (model.half()); this bundle is float32."
    ),
    output_comment="Logits; the official evaluation applies softmax.",
)

ENTRY = RegistryEntry(ARCH)
