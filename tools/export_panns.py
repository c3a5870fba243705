"""PANNs AudioSet taggers (Kong et al. 2019, "PANNs: Large-Scale Pretrained Audio Neural
Networks for Audio Pattern Recognition") rebuilt for export to livetag bundles.

Written for livetag from the paper's description and the published hyper-parameters, so
that each model's state_dict() has exactly the keys and shapes of the original PyTorch code
(audioset_tagging_cnn, pytorch/models.py with torchlibrosa's Spectrogram/LogmelFilterBank):
a released checkpoint (`torch.load(path)['model']`) loads with strict=True. Inference only:
no SpecAugment, mixup or dropout (all identity in eval mode).

Every model takes the waveform `[batch, samples]` and computes its own log-mel front-end:

    STFT      Conv1d weights `spectrogram_extractor.stft.conv_real/conv_imag.weight`,
              [n_fft/2 + 1, 1, n_fft]: periodic Hann window times the DFT matrix; the
              signal is reflect-padded by n_fft/2 on both sides (librosa center=True), so a
              clip of T samples gives 1 + T // hop frames.
    power     real^2 + imag^2
    mel       `logmel_extractor.melW` [n_fft/2 + 1, 64]: librosa.filters.mel (Slaney scale
              and norm), fmin 50 Hz, fmax 14 kHz (Cnn14_16k: 8 kHz)
    dB        10 * log10(max(x, 1e-10))  (ref 1.0, no top_db)
    bn0       BatchNorm over the 64 mel bins

then CNN blocks whose 2x2 average pools halve time and mel, mean over mel, and max + mean
over time for the clip-level `clipwise_output` (sigmoid, 527 AudioSet classes) and
`embedding` (fc1 activations). Cnn14_DecisionLevelMax instead classifies every pooled time
step (each 32 STFT frames = 320 ms) and returns `clipwise_output` (max over time) and
`framewise_output`: segment scores held for 32 frames each, the last one repeated to the
STFT frame count (the original's interpolate + pad_framewise_output), at 100 frames/s.

Minimum input: every 2x2 average pool needs at least 2 time steps, so a model with k time
halvings needs 2^k STFT frames, i.e. 1 + T // hop >= 2^k <=> T >= (2^k - 1) * hop samples.
PyTorch raises below that; ONNX Runtime does not, it returns meaningless scores (pools to
zero steps, reductions over nothing), so the bundle's min_samples is what keeps livetag
above it (it pads shorter files with silence).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export_common as common  # noqa: E402
import reference_clips  # noqa: E402

LABELS_CSV = Path(__file__).resolve().parent / "labels" / "audioset_527.csv"
CLASSES = 527
AMIN = 1e-10


# ---------------------------------------------------------------------------------------
# Front-end constants, computed as librosa / scipy compute them (float64, cast to float32
# where they are), so that random-weight bundles carry the same matrices a checkpoint does.

def hann_periodic(n: int) -> np.ndarray:
    """scipy.signal.get_window('hann', n, fftbins=True): the symmetric n+1-point window,
    0.5 + 0.5 cos over [-pi, pi], without its last point."""
    phase = np.linspace(-np.pi, np.pi, n + 1)
    w = np.zeros(n + 1)
    w += 0.5
    w += 0.5 * np.cos(phase)
    return w[:n]


def stft_kernels(n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """(real, imag) Conv1d kernels [n_fft/2 + 1, 1, n_fft]: window[n] * exp(-2 pi i n k / N),
    the DFT matrix taken as powers of its root of unity."""
    n = np.arange(n_fft)
    root = np.exp(-2j * np.pi / n_fft)
    dft = np.power(root, np.outer(n, n))[:, : n_fft // 2 + 1]
    windowed = dft * hann_periodic(n_fft)[:, None]
    real = np.real(windowed).T[:, None, :].astype(np.float32)
    imag = np.imag(windowed).T[:, None, :].astype(np.float32)
    return real, imag


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's auditory toolbox scale: linear below 1 kHz (200/3 Hz per mel), log above."""
    hz = np.asanyarray(hz, dtype=np.float64)
    mel = hz / (200.0 / 3)
    logstep = np.log(6.4) / 27.0
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-30) / 1000.0) / logstep, mel)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asanyarray(mel, dtype=np.float64)
    logstep = np.log(6.4) / 27.0
    return np.where(mel >= 15.0, 1000.0 * np.exp(logstep * (mel - 15.0)), (200.0 / 3) * mel)


def mel_matrix(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax).T
    (Slaney scale, Slaney area norm, float32): [n_fft/2 + 1, n_mels]."""
    fft_hz = np.linspace(0, sr / 2, 1 + n_fft // 2)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    ramps = np.subtract.outer(edges, fft_hz)
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float32)
    for i in range(n_mels):
        rising = -ramps[i] / widths[i]
        falling = ramps[i + 2] / widths[i + 1]
        weights[i] = np.maximum(0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2: n_mels + 2] - edges[:n_mels]))[:, None]
    return np.ascontiguousarray(weights.T)


# ---------------------------------------------------------------------------------------
# Modules, named as in the original so that state_dict keys match.

class _Stft(nn.Module):
    def __init__(self, n_fft: int, hop: int):
        super().__init__()
        self.n_fft = n_fft
        bins = n_fft // 2 + 1
        self.conv_real = nn.Conv1d(1, bins, n_fft, stride=hop, bias=False)
        self.conv_imag = nn.Conv1d(1, bins, n_fft, stride=hop, bias=False)
        real, imag = stft_kernels(n_fft)
        with torch.no_grad():
            self.conv_real.weight.copy_(torch.from_numpy(real))
            self.conv_imag.weight.copy_(torch.from_numpy(imag))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.pad(wave[:, None, :], (self.n_fft // 2, self.n_fft // 2), mode="reflect")
        return self.conv_real(x), self.conv_imag(x)  # [batch, bins, frames] each


class _Spectrogram(nn.Module):
    """Power spectrogram [batch, 1, frames, bins]."""

    def __init__(self, n_fft: int, hop: int):
        super().__init__()
        self.stft = _Stft(n_fft, hop)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        real, imag = self.stft(wave)
        return (real ** 2 + imag ** 2).transpose(1, 2)[:, None]


class _LogMel(nn.Module):
    def __init__(self, sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float):
        super().__init__()
        self.melW = nn.Parameter(torch.from_numpy(mel_matrix(sr, n_fft, n_mels, fmin, fmax)))

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        # 10 log10(max(x, amin)) - 10 log10(max(amin, ref)); ref = 1 makes the second term 0.
        return 10.0 * torch.log10(torch.clamp(torch.matmul(power, self.melW), min=AMIN))


def _xavier(layer: nn.Module) -> nn.Module:
    nn.init.xavier_uniform_(layer.weight)
    if getattr(layer, "bias", None) is not None:
        nn.init.zeros_(layer.bias)
    return layer


def _bn(channels: int) -> nn.Module:
    bn = nn.BatchNorm2d(channels)
    nn.init.ones_(bn.weight)
    nn.init.zeros_(bn.bias)
    return bn


class _DoubleConv(nn.Module):
    """Two 3x3 conv + BN + ReLU, then an average pool (PANNs' ConvBlock)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        # Registration order is the original's: conv1, conv2, bn1, bn2.
        self.conv1 = _xavier(nn.Conv2d(cin, cout, 3, padding=1, bias=False))
        self.conv2 = _xavier(nn.Conv2d(cout, cout, 3, padding=1, bias=False))
        self.bn1 = _bn(cout)
        self.bn2 = _bn(cout)

    def forward(self, x: torch.Tensor, pool: int) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, pool) if pool > 1 else x


class _SingleConv5(nn.Module):
    """One 5x5 conv + BN + ReLU, then an average pool (PANNs' ConvBlock5x5)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = _xavier(nn.Conv2d(cin, cout, 5, padding=2, bias=False))
        self.bn1 = _bn(cout)

    def forward(self, x: torch.Tensor, pool: int) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        return F.avg_pool2d(x, pool) if pool > 1 else x


class _Panns(nn.Module):
    """Front-end, bn0, a backbone (subclass), and the clip-level head."""

    output_names = ("clipwise_output", "embedding")
    time_halvings = 0

    def __init__(self, sr: int, n_fft: int, hop: int, fmax: float, embed: int):
        super().__init__()
        self.sample_rate_hz, self.hop = sr, hop
        self.spectrogram_extractor = _Spectrogram(n_fft, hop)
        self.logmel_extractor = _LogMel(sr, n_fft, 64, 50.0, fmax)
        for p in (*self.spectrogram_extractor.parameters(), *self.logmel_extractor.parameters()):
            p.requires_grad_(False)  # frozen in the original too (freeze_parameters=True)
        self.bn0 = _bn(64)
        self._embed = embed

    def _head(self) -> None:
        self.fc1 = _xavier(nn.Linear(self._embed, self._embed))
        self.fc_audioset = _xavier(nn.Linear(self._embed, CLASSES))

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


class Cnn6(_Panns):
    time_halvings = 4

    def __init__(self, sr=32000, n_fft=1024, hop=320, fmax=14000.0):
        super().__init__(sr, n_fft, hop, fmax, 512)
        for i, (cin, cout) in enumerate([(1, 64), (64, 128), (128, 256), (256, 512)], 1):
            setattr(self, f"conv_block{i}", _SingleConv5(cin, cout))
        self._head()

    def backbone(self, x):
        for i in range(1, 5):
            x = getattr(self, f"conv_block{i}")(x, 2)
        return x


class Cnn10(_Panns):
    time_halvings = 4

    def __init__(self, sr=32000, n_fft=1024, hop=320, fmax=14000.0):
        super().__init__(sr, n_fft, hop, fmax, 512)
        for i, (cin, cout) in enumerate([(1, 64), (64, 128), (128, 256), (256, 512)], 1):
            setattr(self, f"conv_block{i}", _DoubleConv(cin, cout))
        self._head()

    def backbone(self, x):
        for i in range(1, 5):
            x = getattr(self, f"conv_block{i}")(x, 2)
        return x


class Cnn14(_Panns):
    time_halvings = 5
    _widths = [(1, 64), (64, 128), (128, 256), (256, 512), (512, 1024), (1024, 2048)]

    def __init__(self, sr=32000, n_fft=1024, hop=320, fmax=14000.0):
        super().__init__(sr, n_fft, hop, fmax, 2048)
        for i, (cin, cout) in enumerate(self._widths, 1):
            setattr(self, f"conv_block{i}", _DoubleConv(cin, cout))
        self._head()

    def backbone(self, x):
        for i in range(1, 7):
            x = getattr(self, f"conv_block{i}")(x, 2 if i < 6 else 1)
        return x


class Cnn14_16k(Cnn14):  # noqa: N801 (the original's name)
    def __init__(self):
        super().__init__(sr=16000, n_fft=512, hop=160, fmax=8000.0)


class Cnn14_DecisionLevelMax(Cnn14):  # noqa: N801
    """Cnn14 whose head classifies every pooled time step; clip = max over steps."""

    output_names = ("clipwise_output", "framewise_output")
    segment_frames = 32  # 2^5 STFT frames per pooled step

    def forward(self, wave: torch.Tensor):
        logmel = self.logmel(wave)
        x = self.backbone(logmel).mean(dim=3)  # [B, 2048, steps]
        x = F.max_pool1d(x, 3, stride=1, padding=1) + F.avg_pool1d(x, 3, stride=1, padding=1)
        x = F.relu(self.fc1(x.transpose(1, 2)))
        segments = torch.sigmoid(self.fc_audioset(x))  # [B, steps, 527]
        clipwise = segments.amax(dim=1)
        # Frame t takes segment t // 32; frames past the last whole segment (the original
        # pads them with copies of the last frame) take the last segment.
        frames = torch.arange(logmel.shape[2], device=wave.device) // self.segment_frames
        last = torch.full_like(frames, 1) * (segments.shape[1] - 1)
        framewise = segments.index_select(1, torch.minimum(frames, last))
        return clipwise, framewise


def _conv_pool_bn(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(_xavier(nn.Conv2d(cin, cout, 3, 1, 1, bias=False)), nn.AvgPool2d(stride),
                         _bn(cout), nn.ReLU())


def _depthwise_separable(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        _xavier(nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False)), nn.AvgPool2d(stride),
        _bn(cin), nn.ReLU(),
        _xavier(nn.Conv2d(cin, cout, 1, 1, 0, bias=False)), _bn(cout), nn.ReLU())


class MobileNetV1(_Panns):
    """MobileNetV1 layout with average pools in place of strides; `features.N.*` keys."""

    time_halvings = 5
    _layout = [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1),
               (256, 512, 2), (512, 512, 1), (512, 512, 1), (512, 512, 1), (512, 512, 1),
               (512, 512, 1), (512, 1024, 2), (1024, 1024, 1)]

    def __init__(self, sr=32000, n_fft=1024, hop=320, fmax=14000.0):
        super().__init__(sr, n_fft, hop, fmax, 1024)
        self.features = nn.Sequential(
            _conv_pool_bn(1, 32, 2), *(_depthwise_separable(a, b, s) for a, b, s in self._layout))
        self._head()

    def backbone(self, x):
        return self.features(x)


# ---------------------------------------------------------------------------------------
# Registry entries.

def audioset_labels() -> list[str]:
    import csv

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

# The self-test clip: four 3 s scenes from tools/reference_clips.py, 12 s in all, so that
# `inspect --self-test` (hop = window = 10 s) runs a full window and a tail window 2-12 s.
REFERENCE_SCENES = ["whistle", "drums", "chirp", "noise"]
REFERENCE_SCENE_SECONDS = 3.0
REFERENCE_NOISE_FLOOR = 0.01
REFERENCE_NOISE_SEED = 527

PARITY_SECONDS = [1.0, 2.5, 10.0]


class PannsArch:
    """One PANNs architecture: builds the model and writes its bundle."""

    def __init__(self, name: str, cls: type[_Panns], description: str,
                 mean_average_precision: float):
        self.name = name
        self.cls = cls
        self.description = description
        self.map = mean_average_precision
        self.sample_rate_hz = 16000 if cls is Cnn14_16k else 32000
        self.hop = self.sample_rate_hz // 100  # 10 ms STFT hop (320 at 32 kHz, 160 at 16 kHz)
        self.time_halvings = cls.time_halvings
        self.shown_outputs = list(cls.output_names) if cls is Cnn14_DecisionLevelMax \
            else ["clipwise_output"]

    # window: PANNs were trained on 10 s clips.
    @property
    def window_samples(self) -> int:
        return 10 * self.sample_rate_hz

    @property
    def min_samples(self) -> int:
        """The shortest clip the graph accepts: 2^k STFT frames for k time halvings."""
        return (2 ** self.time_halvings - 1) * self.hop

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

    def build(self) -> _Panns:
        return self.cls()

    def prepare_random(self, model: _Panns) -> None:
        """Random weights with BatchNorm at its initial statistics (mean 0, variance 1) give
        saturated, meaningless outputs, and a parity check on them proves little. So the
        running statistics are set from a forward pass in training mode (cumulative averages)
        over synthetic audio: every layer then sees unit-scale activations, like a trained
        model. Deterministic (fixed clips), and not a trained tagger."""
        sr = self.sample_rate_hz
        clips = [reference_clips.synth(n, 5.0, sr)
                 for n in ["whistle", "flute440", "noise", "drums", "chirp"]]
        batch = torch.from_numpy(np.stack(clips).astype(np.float32))
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
            (f"{s:g}s", int(s * sr), 2 if s == 1.0 else 1) for s in PARITY_SECONDS]
        cases = []
        for seed, (label, samples, batch) in enumerate(lengths):
            cases.append(common.ParityCase(
                label=f"{label}({samples}x{batch})",
                inputs={"waveform": common.uniform_waveform(seed, batch, samples)},
                recipe={"generator": common.WAVEFORM_RECIPE, "seed": seed, "batch": batch,
                        "samples": samples, "seconds": samples / sr}))
        return cases

    def reference_audio(self) -> np.ndarray:
        """The scenes at peak 0.5 over a white-noise floor (uniform +-0.01, about -45 dBFS):
        without it, mel bins the scenes leave empty hold only float32 rounding noise of the
        STFT, whose log differs from run to run (PyTorch float32 vs float64 differ by up to
        3e-3 on the clean scenes with random weights), and no two runtimes agree to 1e-4."""
        sr = self.sample_rate_hz
        parts = [reference_clips.synth(n, REFERENCE_SCENE_SECONDS, sr) for n in REFERENCE_SCENES]
        scenes = np.concatenate(parts).astype(np.float64)
        floor = np.random.default_rng(REFERENCE_NOISE_SEED).uniform(-1, 1, len(scenes))
        return (0.5 * scenes / np.max(np.abs(scenes)) + REFERENCE_NOISE_FLOOR * floor
                ).astype(np.float32)

    def export(self, model: _Panns, out_dir: Path) -> None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        model.eval()
        prov = common.provenance(model)
        names = list(model.output_names)
        axes = {"waveform": {0: "batch", 1: "samples"},
                "clipwise_output": {0: "batch"}, "embedding": {0: "batch"},
                "framewise_output": {0: "batch", 1: "frames"}}
        common.export_onnx(model, {"waveform": common.uniform_waveform(0, 1, self.sample_rate_hz)},
                           out_dir / "model.onnx", names,
                           {k: v for k, v in axes.items() if k == "waveform" or k in names})
        common.write_bundle_files(out_dir, self.bundle_toml(prov), audioset_labels(),
                                  self.licence(prov))
        audio = self.reference_audio()
        rows = []
        for start, end in common.file_windows(len(audio), self.window_samples, self.window_samples,
                                              self.min_samples):
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
                "licence); the model code that produced\nit is livetag's tools/export_panns.py."
                "\nThe 527 labels are AudioSet's ontology display names (Google, CC BY 4.0).\n")
        else:
            head = (
                f"Weights: {Path(prov.checkpoint).name} (sha256 {prov.sha256}), a PANNs "
                "checkpoint\n(Kong et al. 2019). PANNs' code (audioset_tagging_cnn) is under "
                "the MIT licence\nbelow; check the terms of the release the checkpoint came "
                "from (the PANNs\npretrained models' Zenodo record, 3576403) before "
                "redistributing this bundle.\nThe 527 labels are AudioSet's ontology display "
                "names (Google, CC BY 4.0).\n")
        return head + "\nThe MIT License\n\nCopyright (c) Qiuqiang Kong et al. (PANNs)\n\n" + MIT_TEXT

    def bundle_toml(self, prov: common.Provenance) -> str:
        sr, framewise = self.sample_rate_hz, "framewise_output" in self.shown_outputs
        random_note = ("RANDOM WEIGHTS (architecture test, tags nothing): "
                       if prov.weights == "random" else "")
        lines = [
            f"# PANNs {self.name} (Kong et al. 2019): AudioSet tagging, {CLASSES} classes, "
            f"from {sr // 1000} kHz audio.",
            f"# Generated by tools/export.py --arch {self.name} (tools/export_panns.py) from "
            f"{prov.describe()}.",
            "# The log-mel front-end (STFT as Conv1d, mel matrix, dB, bn0) is inside the graph.",
            "# Do not edit by hand.",
            "",
            "[model]",
            f'name = "{self.bundle_name(prov)}"',
            f'description = "{random_note}PANNs {self.name} ({self.description}; '
            f'AudioSet mAP {self.map} when trained): {CLASSES} AudioSet classes"',
            'licence = "MIT"',
            "",
            "[input]",
            'kind = "waveform"',
            'name = "waveform"',
            f"sample_rate_hz = {sr}",
            'layout = ["batch", "time"]',
            f"# Trained on 10 s clips. The graph takes any length >= min_samples: "
            f"{self.time_halvings} 2x2 average pools",
            f"# need 2^{self.time_halvings} = {2 ** self.time_halvings} STFT frames "
            f"(1 + samples // {self.hop}), i.e. "
            f"{self.min_samples} samples ({self.min_samples / sr:g} s).",
            f"window_samples = {self.window_samples}",
            f"# 0.96 s = 96 STFT frames, a whole number of pooled steps "
            f"({2 ** self.time_halvings} frames = {2 ** self.time_halvings * 10} ms): "
            "windows stay on their grid.",
            f"hop_samples = {self.hop_samples}",
            f"min_samples = {self.min_samples}",
            "",
            "# clipwise_output [batch, 527]: sigmoid probabilities (max + mean pooled over time)."
            if not framewise else
            "# clipwise_output [batch, 527]: sigmoid probabilities, max of the framewise steps.",
            *([] if framewise else
              ["# The graph also returns `embedding` (fc1 activations), not listed here."]),
            "[[outputs]]",
            'name = "clipwise_output"',
            'kind = "clip"',
            'values = "probabilities"',
            'activation = "sigmoid"',
        ]
        if framewise:
            lines += [
                "",
                "# framewise_output [batch, frames, 527], frames = 1 + samples // "
                f"{self.hop} (one per STFT frame):",
                "# each 320 ms pooled step's probabilities held for 32 frames, the last "
                "step repeated to the end.",
                "[[outputs]]",
                'name = "framewise_output"',
                'kind = "framewise"',
                'values = "probabilities"',
                'activation = "sigmoid"',
                f"frame_rate_hz = {sr / self.hop:.1f}",
            ]
        lines += [
            "",
            "# 12 s of tools/reference_clips.py scenes (whistle, drums, chirp, noise; 3 s each) "
            "over a",
            "# -45 dBFS white-noise floor (empty mel bins would hold only float32 rounding "
            "noise);",
            "# windows 0-10 s and 10 s aligned to the end (2-12 s); scores from PyTorch.",
            "[reference]",
            'audio = "reference/input.wav"',
            'expected = "reference/expected.json"',
            "tolerance = 0.0001",
        ]
        return "\n".join(lines) + "\n"


ARCHS = {a.name: a for a in [
    PannsArch("Cnn6", Cnn6, "4 conv layers, 5x5", 0.343),
    PannsArch("Cnn10", Cnn10, "8 conv layers, 3x3", 0.380),
    PannsArch("Cnn14", Cnn14, "12 conv layers, 3x3", 0.431),
    PannsArch("Cnn14_16k", Cnn14_16k, "Cnn14 at 16 kHz, fmax 8 kHz", 0.438),
    PannsArch("Cnn14_DecisionLevelMax", Cnn14_DecisionLevelMax,
              "Cnn14 with a per-step head, max over time; framewise output", 0.385),
    PannsArch("MobileNetV1", MobileNetV1, "depthwise-separable convolutions", 0.389),
]}
