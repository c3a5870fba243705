"""What every PANNs architecture shares: the model skeleton (front-end, bn0, clip head), the
convolution blocks, and `PannsArch`, the registry entry that writes a PANNs bundle.

Minimum input: every 2x2 average pool needs at least 2 time steps, so a model with k time
halvings needs 2^k STFT frames, i.e. 1 + T // hop >= 2^k <=> T >= (2^k - 1) * hop samples.
PyTorch raises below that; ONNX Runtime does not, it returns meaningless scores (pools to
zero steps, reductions over nothing), so the bundle's min_samples is what keeps livetag
above it (it pads shorter files with silence).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from livetag_tools.common import clips
from livetag_tools.common.bundle import BundleToml, Note, write_bundle_files
from livetag_tools.data import LABELS
from livetag_tools.export import common
from livetag_tools.export.panns.frontend import LogMel, Spectrogram

LABELS_CSV = LABELS / "audioset_527.csv"
CLASSES = 527


# ---------------------------------------------------------------------------------------
# Modules, named as in the original so that state_dict keys match.


def xavier(layer: nn.Module) -> nn.Module:
    nn.init.xavier_uniform_(layer.weight)
    if getattr(layer, "bias", None) is not None:
        nn.init.zeros_(layer.bias)
    return layer


def batch_norm(channels: int) -> nn.Module:
    bn = nn.BatchNorm2d(channels)
    nn.init.ones_(bn.weight)
    nn.init.zeros_(bn.bias)
    return bn


class DoubleConv(nn.Module):
    """Two 3x3 conv + BN + ReLU, then an average pool (PANNs' ConvBlock)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        # Registration order is the original's: conv1, conv2, bn1, bn2.
        self.conv1 = xavier(nn.Conv2d(cin, cout, 3, padding=1, bias=False))
        self.conv2 = xavier(nn.Conv2d(cout, cout, 3, padding=1, bias=False))
        self.bn1 = batch_norm(cout)
        self.bn2 = batch_norm(cout)

    def forward(self, x: torch.Tensor, pool: int) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, pool) if pool > 1 else x


class Panns(nn.Module):
    """Front-end, bn0, a backbone (subclass), and the clip-level head: mean over mel, max +
    mean over time, fc1 (`embedding`), sigmoid over the 527 classes (`clipwise_output`)."""

    output_names = ("clipwise_output", "embedding")
    time_halvings = 0
    # The class's default rate, read by PannsArch before any model is built.
    sample_rate_hz = 32000

    def __init__(self, sr: int, n_fft: int, hop: int, fmax: float, embed: int):
        super().__init__()
        self.sample_rate_hz, self.hop = sr, hop
        self.spectrogram_extractor = Spectrogram(n_fft, hop)
        self.logmel_extractor = LogMel(sr, n_fft, 64, 50.0, fmax)
        for p in (*self.spectrogram_extractor.parameters(), *self.logmel_extractor.parameters()):
            p.requires_grad_(False)  # frozen in the original too (freeze_parameters=True)
        self.bn0 = batch_norm(64)
        self._embed = embed

    def _head(self) -> None:
        self.fc1 = xavier(nn.Linear(self._embed, self._embed))
        self.fc_audioset = xavier(nn.Linear(self._embed, CLASSES))

    def logmel(self, wave: torch.Tensor) -> torch.Tensor:
        x = self.logmel_extractor(self.spectrogram_extractor(wave))  # [B, 1, frames, 64]
        return self.bn0(x.transpose(1, 3)).transpose(1, 3)

    def backbone(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, wave: torch.Tensor):
        x = self.backbone(self.logmel(wave)).mean(dim=3)  # [B, C, steps]
        x = x.amax(dim=2) + x.mean(dim=2)
        embedding = F.relu(self.fc1(x))
        return torch.sigmoid(self.fc_audioset(embedding)), embedding


# ---------------------------------------------------------------------------------------
# Registry entries.


def audioset_labels() -> list[str]:
    with open(LABELS_CSV, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["index", "mid", "display_name"], rows[0]
    labels = [r[2] for r in rows[1:]]
    assert [int(r[0]) for r in rows[1:]] == list(range(CLASSES)), "labels out of order"
    return labels


MIT_TEXT = """\
Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
THE SOFTWARE.
"""

# The self-test clip: four 3 s scenes from livetag_tools.common.clips, 12 s in all, so that
# `inspect --self-test` (hop = window = 10 s) runs a full window and a tail window 2-12 s.
REFERENCE_SCENES = ["whistle", "drums", "chirp", "noise"]
REFERENCE_SCENE_SECONDS = 3.0
REFERENCE_NOISE_FLOOR = 0.01
REFERENCE_NOISE_SEED = 527

PARITY_SECONDS = [1.0, 2.5, 10.0]


class PannsArch:
    """One PANNs architecture: builds the model and writes its bundle."""

    def __init__(
        self, name: str, cls: type[Panns], description: str, mean_average_precision: float
    ):
        self.name = name
        self.cls = cls
        self.description = description
        self.map = mean_average_precision
        self.sample_rate_hz = cls.sample_rate_hz
        self.hop = self.sample_rate_hz // 100  # 10 ms STFT hop (320 at 32 kHz, 160 at 16 kHz)
        self.time_halvings = cls.time_halvings
        self.shown_outputs = (
            list(cls.output_names)
            if "framewise_output" in cls.output_names
            else ["clipwise_output"]
        )

    # window: PANNs were trained on 10 s clips.
    @property
    def window_samples(self) -> int:
        return 10 * self.sample_rate_hz

    @property
    def min_samples(self) -> int:
        """The shortest clip the graph accepts: 2^k STFT frames for k time halvings."""
        return (2**self.time_halvings - 1) * self.hop

    @property
    def hop_samples(self) -> int:
        """0.96 s = 96 STFT frames, a whole number of pooled time steps (32 frames = 320 ms
        for 5 halvings, 16 for 4): consecutive windows see the same pooled segments, so the
        framewise output of DecisionLevelMax lines up from window to window; about one
        prediction a second."""
        return 96 * self.hop

    def bundle_name(self, prov: common.Provenance) -> str:
        base = "panns-" + self.name.lower().replace("_", "-")
        return base + ("-random" if prov.weights == "random" else "")

    def build(self) -> Panns:
        return self.cls()

    def prepare_random(self, model: Panns) -> None:
        """Random weights with BatchNorm at its initial statistics (mean 0, variance 1) give
        saturated, meaningless outputs, and a parity check on them proves little. So the
        running statistics are set from a forward pass in training mode (cumulative averages)
        over synthetic audio: every layer then sees unit-scale activations, like a trained
        model. Deterministic (fixed clips), and not a trained tagger."""
        sr = self.sample_rate_hz
        waves = [
            clips.synth(n, 5.0, sr) for n in ["whistle", "flute440", "noise", "drums", "chirp"]
        ]
        batch = torch.from_numpy(np.stack(waves).astype(np.float32))
        bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None
        model.train()
        with torch.no_grad():
            model(batch)
        model.eval()
        for bn in bns:
            bn.momentum = 0.1
            bn.num_batches_tracked.zero_()

    def parity_inputs(self) -> list[common.ParityCase]:
        sr = self.sample_rate_hz
        lengths = [("min", self.min_samples, 1)] + [
            (f"{s:g}s", int(s * sr), 2 if s == 1.0 else 1) for s in PARITY_SECONDS
        ]
        cases = []
        for seed, (label, samples, batch) in enumerate(lengths):
            cases.append(
                common.ParityCase(
                    label=f"{label}({samples}x{batch})",
                    inputs={"waveform": common.uniform_waveform(seed, batch, samples)},
                    recipe={
                        "generator": common.WAVEFORM_RECIPE,
                        "seed": seed,
                        "batch": batch,
                        "samples": samples,
                        "seconds": samples / sr,
                    },
                )
            )
        return cases

    def reference_audio(self) -> np.ndarray:
        """The scenes at peak 0.5 over a white-noise floor (uniform +-0.01, about -45 dBFS):
        without it, mel bins the scenes leave empty hold only float32 rounding noise of the
        STFT, whose log differs from run to run (PyTorch float32 vs float64 differ by up to
        3e-3 on the clean scenes with random weights), and no two runtimes agree to 1e-4."""
        sr = self.sample_rate_hz
        parts = [clips.synth(n, REFERENCE_SCENE_SECONDS, sr) for n in REFERENCE_SCENES]
        scenes = np.concatenate(parts).astype(np.float64)
        floor = np.random.default_rng(REFERENCE_NOISE_SEED).uniform(-1, 1, len(scenes))
        return (0.5 * scenes / np.max(np.abs(scenes)) + REFERENCE_NOISE_FLOOR * floor).astype(
            np.float32
        )

    def export(self, model: Panns, out_dir: Path) -> None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        model.eval()
        prov = common.provenance(model)
        names = list(model.output_names)
        axes = {
            "waveform": {0: "batch", 1: "samples"},
            "clipwise_output": {0: "batch"},
            "embedding": {0: "batch"},
            "framewise_output": {0: "batch", 1: "frames"},
        }
        common.export_onnx(
            model,
            {"waveform": common.uniform_waveform(0, 1, self.sample_rate_hz)},
            out_dir / "model.onnx",
            names,
            {k: v for k, v in axes.items() if k == "waveform" or k in names},
        )
        write_bundle_files(out_dir, self.bundle_toml(prov), audioset_labels(), self.licence(prov))
        audio = self.reference_audio()
        rows = []
        for start, end in common.file_windows(
            len(audio), self.window_samples, self.window_samples, self.min_samples
        ):
            out = common.torch_outputs(model, {"waveform": audio[None, start:end]}, names)
            rows.append(out["clipwise_output"][0])
        common.write_reference(out_dir, audio, self.sample_rate_hz, "clipwise_output", rows)

    def licence(self, prov: common.Provenance) -> str:
        if prov.weights == "random":
            head = (
                f"This bundle holds RANDOMLY INITIALISED weights (torch seed {prov.seed}; "
                "BatchNorm statistics\nset from synthetic audio), NOT trained PANNs weights: "
                "it tests livetag's export\nand runtime path and tags nothing. The architecture "
                f"({self.name}) follows PANNs\n(Kong et al. 2019, audioset_tagging_cnn, MIT "
                "licence); the model code that produced\nit is livetag's "
                f"{self.cls.__module__}.\nThe 527 labels are AudioSet's ontology display "
                "names (Google, CC BY 4.0).\n"
            )
        else:
            head = (
                f"Weights: {Path(prov.checkpoint).name} (sha256 {prov.sha256}), a PANNs "
                "checkpoint\n(Kong et al. 2019). PANNs' code (audioset_tagging_cnn) is under "
                "the MIT licence\nbelow; check the terms of the release the checkpoint came "
                "from (the PANNs\npretrained models' Zenodo record, 3576403) before "
                "redistributing this bundle.\nThe 527 labels are AudioSet's ontology display "
                "names (Google, CC BY 4.0).\n"
            )
        return (
            head + "\nThe MIT License\n\nCopyright (c) Qiuqiang Kong et al. (PANNs)\n\n" + MIT_TEXT
        )

    def bundle_toml(self, prov: common.Provenance) -> BundleToml:
        sr, framewise = self.sample_rate_hz, "framewise_output" in self.shown_outputs
        random_note = (
            "RANDOM WEIGHTS (architecture test, tags nothing): " if prov.weights == "random" else ""
        )
        k = self.time_halvings
        doc = BundleToml(
            f"PANNs {self.name} (Kong et al. 2019): AudioSet tagging, {CLASSES} classes, "
            f"from {sr // 1000} kHz audio.\n"
            f"Generated by `python -m livetag_tools.export --arch {self.name}` "
            f"({self.cls.__module__}) from {prov.describe()}.\n"
            "The log-mel front-end (STFT as Conv1d, mel matrix, dB, bn0) is inside the graph.\n"
            "Do not edit by hand."
        )
        doc.table(
            "model",
            {
                "name": self.bundle_name(prov),
                "description": f"{random_note}PANNs {self.name} ({self.description}; "
                f"AudioSet mAP {self.map} when trained): {CLASSES} AudioSet classes",
                "licence": "MIT",
            },
        )
        doc.table(
            "input",
            [
                ("kind", "waveform"),
                ("name", "waveform"),
                ("sample_rate_hz", sr),
                ("layout", ["batch", "time"]),
                Note(
                    f"Trained on 10 s clips. The graph takes any length >= min_samples: "
                    f"{k} 2x2 average pools\n"
                    f"need 2^{k} = {2**k} STFT frames (1 + samples // {self.hop}), i.e. "
                    f"{self.min_samples} samples ({self.min_samples / sr:g} s)."
                ),
                ("window_samples", self.window_samples),
                Note(
                    f"0.96 s = 96 STFT frames, a whole number of pooled steps "
                    f"({2**k} frames = {2**k * 10} ms): windows stay on their grid."
                ),
                ("hop_samples", self.hop_samples),
                ("min_samples", self.min_samples),
            ],
        )
        probabilities = {"kind": "clip", "values": "probabilities", "activation": "sigmoid"}
        if framewise:
            doc.array(
                "outputs",
                {"name": "clipwise_output", **probabilities},
                comment=(
                    "clipwise_output [batch, 527]: sigmoid probabilities, max of the framewise "
                    "steps."
                ),
            )
            doc.array(
                "outputs",
                {
                    "name": "framewise_output",
                    **probabilities,
                    "kind": "framewise",
                    "frame_rate_hz": sr / self.hop,
                },
                comment=(
                    f"framewise_output [batch, frames, 527], frames = 1 + samples // "
                    f"{self.hop} (one per STFT frame):\n"
                    "each 320 ms pooled step's probabilities held for 32 frames, "
                    "the last step repeated to the end."
                ),
            )
        else:
            doc.array(
                "outputs",
                {"name": "clipwise_output", **probabilities},
                comment=(
                    "clipwise_output [batch, 527]: sigmoid probabilities (max + mean pooled over "
                    "time).\nThe graph also returns `embedding` (fc1 activations), not listed here."
                ),
            )
        doc.table(
            "reference",
            {
                "audio": "reference/input.wav",
                "expected": "reference/expected.json",
                "tolerance": 0.0001,
            },
            comment=(
                "12 s of livetag_tools.common.clips scenes (whistle, drums, chirp, noise; "
                "3 s each) over a\n-45 dBFS white-noise floor (empty mel bins would hold only "
                "float32 rounding noise);\nwindows 0-10 s and 10 s aligned to the end (2-12 s); "
                "scores from PyTorch."
            ),
        )
        return doc
