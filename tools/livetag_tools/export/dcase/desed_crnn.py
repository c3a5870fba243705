"""desed_crnn_baseline: the DCASE 2021 Task 4 baseline CRNN for sound event detection on
DESED (DESED_task, desed_task/nnet/CRNN.py, CNN.py, RNN.py as of the 2021 recipe, commit
e844f5f; hyper-parameters from recipes/dcase2021_task4_baseline/confs/sed.yaml `net`):
7 conv blocks (3x3 conv, BatchNorm eps 1e-3, "GLU" = Linear over channels times
sigmoid of the input, dropout, average pooling [2,2],[2,2],[1,2]x5 over (time, mel)), a
2-layer bidirectional GRU (128 per direction), then per frame `dense` + sigmoid (strong)
and `dense_softmax` attention pooling (weak). 1,112,420 parameters. The original
state_dict names are kept, so a trained checkpoint loads with strict=True (the Lightning
.ckpt's `sed_student.` or `sed_teacher.` prefix is handled: see `state_dict_from_checkpoint`).

Front-end (local/sed_trainer.py, SEDTask4_2021.__init__ and take_log; sed.yaml `feats`):
torchaudio MelSpectrogram(sample_rate 16000, n_fft 2048, win_length 2048, hop_length 256,
f_min 0, f_max 8000, n_mels 128, window_fn torch.hamming_window, wkwargs {"periodic":
False}, power 1) with torchaudio's defaults center=True, pad_mode "reflect", HTK mel without
norm; then AmplitudeToDB(stype "amplitude", amin 1e-5, ref 1, top_db None) =
20*log10(max(mel, 1e-5)); then .clamp(min=-50, max=80); then TorchScaler("instance",
"minmax", dims (1, 2), eps 1e-8) over each clip's whole [mel, time] spectrogram.

In the bundle: livetag's front-end computes everything up to 20*log10(max(mel, 1e-5)) (a
symmetric Hamming window, magnitude STFT, the HTK mel matrix, `db` with amin 1e-5, then
`affine` x2 turning 10*log10 into 20*log10). The clamp and the per-clip min-max scaler
are in the ONNX graph (`DesedCrnnExport`): the scaler's statistics are those of the
spectrogram the network is given, and in the bundle that is the window the model sees, so
putting them in the graph is what the original computes whenever the window is the clip
(10 s windows, the DESED clip length). A live stream has no clips: each 10 s window is
normalised on its own, the closest analogue. livetag's front-end has no per-window
statistics step, and none is needed.

The network's forward takes [batch, mel, time] and returns strong [batch, class, frames];
the export wrapper returns strong as [batch, frames, class] (livetag's framewise layout).
Strong frames are 4 STFT frames (time pooling 2 x 2): 16000 / 256 / 4 = 15.625 Hz, frame
k at k * 0.064 s (the baseline's ManyHotEncoder._frame_to_time); the graph needs >= 4 STFT
frames (AvgPool2d floors: 3 -> 1 -> 0).

Post-processing (local/utils.py batched_decode_preds, sed.yaml training.median_window):
threshold, then scipy.ndimage.median_filter over 7 output frames (0.448 s), the same
length for every class in the 2021 baseline (per-class lengths came with the 2024 recipe,
for another model and 27 classes): `[events] median_frames = 7`. Median filtering commutes
with thresholding, so livetag filtering the probabilities is the same decision.

Attention pooling: the original's softmax is over the LAST axis of [batch, frames, class]
(nn.Softmax(dim=-1)), i.e. over classes, not over time; weak = sum_t(strong * w) / sum_t(w)
with w clamped to [1e-7, 1]. Kept as is.

Run: `python -m livetag_tools.export --arch desed_crnn_baseline --random-weights --out DIR`,
or for a trained checkpoint (a Lightning .ckpt or a plain state dict):
`python -m livetag_tools.export.dcase.desed_crnn --checkpoint last.ckpt --out DIR
[--teacher] [--licence NAME] [--reference]`.
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from livetag_tools.common.bundle import BundleToml, Note, write_bundle_files
from livetag_tools.data import LABELS
from livetag_tools.export import common
from livetag_tools.export.dcase.base import (
    calibrate_bn,
    calibration_audio,
    onnx_parameter_count,
    read_key_fixture,
    reference_signal,
)
from livetag_tools.export.dcase.frontend import livetag_features, samples_for_frames

NAME = "desed_crnn_baseline"
KEY_FIXTURE = "desed_crnn_baseline"
SAMPLE_RATE_HZ = 16000
HOP_SAMPLES = 256
N_MELS = 128
TIME_POOLING = 4  # pooling [2, 2] then [2, 2]: the first axis of each is time
FRAME_RATE_HZ = SAMPLE_RATE_HZ / HOP_SAMPLES / TIME_POOLING  # 15.625
# 10 s DESED clips: 1 + 160000 // 256 STFT frames (center=True), as the baseline sees them.
WINDOW_FRAMES = 1 + 10 * SAMPLE_RATE_HZ // HOP_SAMPLES  # 626
# Live hop: 64 STFT frames (1.024 s), a multiple of the time pooling, so consecutive
# windows' strong frames fall on one 64 ms grid.
HOP_FRAMES = 64
# The smallest input the graph accepts: AvgPool2d floors, so 2 x 2 time pooling needs 4.
ARCH_MIN_FRAMES = TIME_POOLING
MEDIAN_FRAMES = 7  # sed.yaml training.median_window, in strong frames
# livetag's first score waits for 32 STFT frames = 8 strong frames: enough for one median
# filter of 7 (a choice; the graph runs from 4).
MIN_FRAMES = 32
INPUT_NAME = "mel_db"
OUTPUT_NAMES = ("strong", "weak")

# sed.yaml `net`
NET_CONFIG = dict(
    dropout=0.5,
    n_layers_RNN=2,  # sed.yaml's `rnn_layers` reaches CRNN via **kwargs; CRNN's default is 2
    n_in_channel=1,
    nclass=10,
    attention=True,
    n_RNN_cell=128,
    activation="glu",
    rnn_type="BGRU",
    kernel_size=[3, 3, 3, 3, 3, 3, 3],
    padding=[1, 1, 1, 1, 1, 1, 1],
    stride=[1, 1, 1, 1, 1, 1, 1],
    nb_filters=[16, 32, 64, 128, 128, 128, 128],
    pooling=[[2, 2], [2, 2], [1, 2], [1, 2], [1, 2], [1, 2], [1, 2]],
    dropout_recurrent=0,
)

# Bundle front-end: everything before the clamp (see the module docstring).
FRONTEND = {
    "n_fft": 2048,
    "win_length": 2048,
    "hop_samples": HOP_SAMPLES,
    "window": "hamming_symmetric",
    "center": True,
    "pad_mode": "reflect",
    "power": 1.0,
    "drop_nyquist": False,
    "steps": [
        {
            "op": "mel",
            "n_bands": N_MELS,
            "fmin_hz": 0.0,
            "fmax_hz": 8000.0,
            "scale": "htk",
            "norm": "none",
        },
        {"op": "db", "ref": 1.0, "amin": 1e-5},
        # AmplitudeToDB(stype="amplitude") is 20*log10: the db step's 10*log10, doubled.
        {"op": "affine", "scale": 2.0, "offset": 0.0},
    ],
}
# take_log's clamp, in dB
CLAMP_MIN_DB, CLAMP_MAX_DB = -50.0, 80.0
SCALER_EPS = 1e-8
RANDOM_HEAD_GAIN = 8.0  # random weights only: see calibrate_random


# ---------------------------------------------------------------------------- network
class GLU(nn.Module):
    """CNN.py's GLU: a Linear over channels, gated by the sigmoid of the INPUT (not of a
    second half, unlike torch's GLU)."""

    def __init__(self, input_num: int):
        super().__init__()
        self.sigmoid = nn.Sigmoid()
        self.linear = nn.Linear(input_num, input_num)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lin = self.linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return lin * self.sigmoid(x)


class CNN(nn.Module):
    """CNN.py's CNN (batch normalisation, GLU activation; the only branches sed.yaml uses)."""

    def __init__(
        self,
        n_in_channel: int,
        activation: str = "glu",
        conv_dropout: float = 0.0,
        kernel_size=(3, 3, 3),
        padding=(1, 1, 1),
        stride=(1, 1, 1),
        nb_filters=(64, 64, 64),
        pooling=((1, 4), (1, 4), (1, 4)),
    ):
        super().__init__()
        if activation != "glu":
            raise ValueError("only the baseline's GLU activation is rebuilt")
        self.nb_filters = list(nb_filters)
        cnn = nn.Sequential()
        for i, n_out in enumerate(nb_filters):
            n_in = n_in_channel if i == 0 else nb_filters[i - 1]
            cnn.add_module(
                f"conv{i}", nn.Conv2d(n_in, n_out, kernel_size[i], stride[i], padding[i])
            )
            cnn.add_module(f"batchnorm{i}", nn.BatchNorm2d(n_out, eps=0.001, momentum=0.99))
            cnn.add_module(f"glu{i}", GLU(n_out))
            cnn.add_module(f"dropout{i}", nn.Dropout(conv_dropout))
            cnn.add_module(f"pooling{i}", nn.AvgPool2d(tuple(pooling[i])))
        self.cnn = cnn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cnn(x)


class BidirectionalGRU(nn.Module):
    def __init__(self, n_in: int, n_hidden: int, dropout: float = 0.0, num_layers: int = 1):
        super().__init__()
        self.rnn = nn.GRU(
            n_in,
            n_hidden,
            bidirectional=True,
            dropout=dropout,
            batch_first=True,
            num_layers=num_layers,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        recurrent, _ = self.rnn(x)
        return recurrent


class CRNN(nn.Module):
    """CRNN.py's CRNN with sed.yaml's settings: [batch, mel, time] (scaled log-mel) ->
    strong [batch, class, frames] (sigmoid), weak [batch, class]."""

    def __init__(
        self,
        n_in_channel: int = 1,
        nclass: int = 10,
        attention: bool = True,
        activation: str = "glu",
        dropout: float = 0.5,
        rnn_type: str = "BGRU",
        n_RNN_cell: int = 128,
        n_layers_RNN: int = 2,
        dropout_recurrent: float = 0.0,
        **cnn_kwargs,
    ):
        super().__init__()
        if rnn_type != "BGRU" or not attention or n_in_channel != 1:
            raise ValueError("only the baseline's BGRU with attention on 1 channel is rebuilt")
        self.attention = attention
        self.cnn = CNN(
            n_in_channel=n_in_channel, activation=activation, conv_dropout=dropout, **cnn_kwargs
        )
        self.rnn = BidirectionalGRU(
            n_in=self.cnn.nb_filters[-1],
            n_hidden=n_RNN_cell,
            dropout=dropout_recurrent,
            num_layers=n_layers_RNN,
        )
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(n_RNN_cell * 2, nclass)
        self.sigmoid = nn.Sigmoid()
        self.dense_softmax = nn.Linear(n_RNN_cell * 2, nclass)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.transpose(1, 2).unsqueeze(1)  # [batch, 1, frames, mel]
        x = self.cnn(x)
        bs, chan, frames, freq = x.size()
        if freq != 1:  # not with 128 mels: 7 halvings leave 1 band
            warnings.warn(f"Output shape is: {(bs, frames, chan * freq)}, from {freq} freq")
            x = x.permute(0, 2, 1, 3).contiguous().view(bs, frames, chan * freq)
        else:
            x = x.squeeze(-1).permute(0, 2, 1)  # [batch, frames, chan]
        x = self.rnn(x)
        x = self.dropout(x)
        strong = self.sigmoid(self.dense(x))  # [batch, frames, class]
        sof = self.softmax(self.dense_softmax(x))  # over classes, as the original
        sof = torch.clamp(sof, min=1e-7, max=1)
        weak = (strong * sof).sum(1) / sof.sum(1)
        return strong.transpose(1, 2), weak


class DesedCrnnExport(CRNN):
    """What the bundle's graph computes: the input is livetag's features,
    20*log10(max(mel, 1e-5)) [batch, mel, time]; take_log's clamp and the instance min-max
    TorchScaler come first (no parameters, so the state_dict is CRNN's own), and strong is
    returned as [batch, frames, class]."""

    def forward(self, mel_db: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = mel_db.clamp(min=CLAMP_MIN_DB, max=CLAMP_MAX_DB)
        lo = torch.amin(x, dim=(1, 2), keepdim=True)
        hi = torch.amax(x, dim=(1, 2), keepdim=True)
        x = (x - lo) / (hi - lo + SCALER_EPS)
        strong, weak = super().forward(x)
        return strong.transpose(1, 2), weak


def build() -> DesedCrnnExport:
    """PyTorch's default initialisation (the baseline applies none of its own)."""
    return DesedCrnnExport(**NET_CONFIG).eval()


def labels() -> list[str]:
    return (LABELS / "desed_10.txt").read_text().split("\n")[:-1]


def runs_at(model: nn.Module, frames: int) -> bool:
    try:
        with torch.no_grad():
            model(torch.zeros(1, N_MELS, frames))
        return True
    except RuntimeError:
        return False


# ---------------------------------------------------------------------------- inputs
def features(audio: np.ndarray) -> np.ndarray:
    """The bundle front-end's features as the model input [1, mel, time]."""
    return np.ascontiguousarray(livetag_features(audio, SAMPLE_RATE_HZ, FRONTEND).T[None])


def audio_input(seed: int, frames: int, batch: int) -> np.ndarray:
    """[batch, 128, frames]: features of seeded random audio (`calibration_audio`, row b
    from np.random.default_rng(seed + b)), `frames` STFT frames long."""
    n = samples_for_frames(FRONTEND, frames)
    rows = [
        features(calibration_audio(SAMPLE_RATE_HZ, n, np.random.default_rng(seed + b)))
        for b in range(batch)
    ]
    x = np.concatenate(rows, axis=0).astype(np.float32)
    assert x.shape == (batch, N_MELS, frames), x.shape
    return x


# The minimum first, one just above it, one not a multiple of the pooling, the 10 s clip
# with batch 2, and a clip longer than any the baseline was trained on.
PARITY_CASES = [(ARCH_MIN_FRAMES, 1), (7, 1), (157, 1), (WINDOW_FRAMES, 2), (1001, 1)]


def parity_cases() -> list[common.ParityCase]:
    cases = []
    for i, (frames, batch) in enumerate(PARITY_CASES):
        seed = 1000 + 10 * i
        cases.append(
            common.ParityCase(
                label=f"{frames} frames x{batch}",
                inputs={INPUT_NAME: audio_input(seed, frames, batch)},
                recipe={
                    "source": "audio",
                    "generator": f"{__name__}.audio_input(seed, frames, batch)",
                    "seed": seed,
                    "frames": frames,
                    "batch": batch,
                },
            )
        )
    return cases


def original_frontend(
    audio: np.ndarray, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """The baseline's features, re-derived in float32 torch (torchaudio is not needed):
    MelSpectrogram as sed_trainer.py configures it (torch.stft with a symmetric Hamming
    window, magnitude, torchaudio's HTK melscale_fbanks formula, no norm), then take_log
    (AmplitudeToDB amplitude, amin 1e-5, clamp -50..80) and the instance min-max scaler.
    Returns (dB [1, mel, time], scaled [1, mel, time]); `dtype` float64 separates the
    formulas from float32 rounding."""
    x = torch.from_numpy(np.asarray(audio, dtype=np.float32)).to(dtype)[None]
    spec = torch.stft(
        x,
        2048,
        hop_length=HOP_SAMPLES,
        win_length=2048,
        window=torch.hamming_window(2048, periodic=False, dtype=dtype),
        center=True,
        pad_mode="reflect",
        normalized=False,
        onesided=True,
        return_complex=True,
    ).abs()  # power 1: [1, 1025, time]
    all_freqs = torch.linspace(0, SAMPLE_RATE_HZ // 2, 1025, dtype=dtype)
    m_max = 2595.0 * math.log10(1.0 + 8000.0 / 700.0)
    f_pts = 700.0 * (10 ** (torch.linspace(0.0, m_max, N_MELS + 2, dtype=dtype) / 2595.0) - 1.0)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
    down = (-1.0 * slopes[:, :-2]) / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    fb = torch.clamp(torch.min(down, up), min=0.0)  # [1025, 128]
    mel = torch.matmul(spec.transpose(-1, -2), fb).transpose(-1, -2)
    db = (20.0 * torch.log10(torch.clamp(mel, min=1e-5))).clamp(min=-50, max=80)
    lo = torch.amin(db, dim=(1, 2), keepdim=True)
    hi = torch.amax(db, dim=(1, 2), keepdim=True)
    return db, (db - lo) / (hi - lo + SCALER_EPS)


def frontend_gap(seconds: float = 10.0, dtype: torch.dtype = torch.float32) -> dict:
    """Max |difference| between the baseline's features (computed in `dtype`) and the
    bundle's (NumPy front-end, float32 out, then the graph's clamp and scaler) on
    base.reference_signal: in dB after the clamp, and on the scaled network input."""
    audio = reference_signal(SAMPLE_RATE_HZ, int(seconds * SAMPLE_RATE_HZ))
    want_db, want_scaled = original_frontend(audio, dtype)
    got_db = torch.from_numpy(features(audio)).to(dtype)
    got_db = got_db.clamp(min=CLAMP_MIN_DB, max=CLAMP_MAX_DB)
    lo = torch.amin(got_db, dim=(1, 2), keepdim=True)
    hi = torch.amax(got_db, dim=(1, 2), keepdim=True)
    got_scaled = (got_db - lo) / (hi - lo + SCALER_EPS)
    assert want_db.shape == got_db.shape, (want_db.shape, got_db.shape)
    return {
        "frames": int(got_db.shape[2]),
        "db_max_abs": float((want_db - got_db).abs().max()),
        "scaled_max_abs": float((want_scaled - got_scaled).abs().max()),
    }


def calibrate_random(model: nn.Module, seed: int = 0) -> None:
    """Random weights: BN affine perturbed and BN statistics set from 8 windows of features
    of seeded random audio (base.calibrate_bn), so scores are not degenerate; the two heads
    scaled x8, since at PyTorch's default init (uniform +-1/16 over 256 GRU outputs) every
    probability stays within 0.48..0.54, and parity on near-constant outputs proves little.
    With it they spread over about 0.35..0.75."""
    x = torch.from_numpy(audio_input(10_000 + seed, WINDOW_FRAMES, 8))
    calibrate_bn(model, x, perturb_seed=seed)
    with torch.no_grad():
        for head in (model.dense, model.dense_softmax):
            head.weight.mul_(RANDOM_HEAD_GAIN)


# ---------------------------------------------------------------------------- checkpoints
def state_dict_from_checkpoint(obj, which: str = "sed_student") -> dict[str, torch.Tensor]:
    """The CRNN's state_dict out of what the baseline saves: its Lightning .ckpt holds
    `state_dict` with keys `sed_student.*`, `sed_teacher.*` and the front-end's
    `mel_spec.*` buffers, and (SEDTask4_2021.on_save_checkpoint) unprefixed copies under
    `sed_student` / `sed_teacher`; a plain CRNN state dict is taken as it is."""
    if not isinstance(obj, Mapping):
        raise ValueError(f"expected a checkpoint dict, got {type(obj).__name__}")
    prefix = which + "."
    inner = obj.get("state_dict")
    if isinstance(inner, Mapping) and any(k.startswith(prefix) for k in inner):
        return {k[len(prefix) :]: v for k, v in inner.items() if k.startswith(prefix)}
    if isinstance(obj.get(which), Mapping):
        return dict(obj[which])
    if isinstance(inner, Mapping):
        raise ValueError(f"checkpoint's state_dict has no `{prefix}` keys")
    return dict(obj)


def load_checkpoint(path, which: str = "sed_student", trust: bool = False) -> DesedCrnnExport:
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=not trust)
    except Exception as e:  # pickle refused by weights_only: say what to do
        if trust:
            raise
        raise SystemExit(
            f"{path}: torch.load(weights_only=True) refused it ({e.__class__.__name__}: "
            f"{str(e).splitlines()[0]}). Lightning checkpoints can hold pickled objects "
            "besides tensors; if you trust the file, pass --trust-checkpoint."
        ) from e
    model = build()
    model.load_state_dict(state_dict_from_checkpoint(obj, which), strict=True)
    return model.eval()


def synthetic_checkpoint(seed: int) -> dict:
    """A checkpoint in the baseline's Lightning format: random values under the keys and
    shapes of the hand-written list (student and teacher), the mel front-end's buffers,
    and on_save_checkpoint's unprefixed copies."""
    g = torch.Generator().manual_seed(seed)
    student: dict[str, torch.Tensor] = {}
    for key, shape in read_key_fixture(KEY_FIXTURE):
        leaf = key.rsplit(".", 1)[1]
        if leaf == "num_batches_tracked":
            student[key] = torch.tensor(1000, dtype=torch.long)
        elif leaf == "running_var":
            student[key] = 0.5 + torch.rand(shape, generator=g)
        elif leaf == "running_mean":
            student[key] = 0.1 * torch.randn(shape, generator=g)
        elif "batchnorm" in key and leaf == "weight":
            student[key] = 0.75 + 0.5 * torch.rand(shape, generator=g)
        else:  # conv / linear / GRU weights and biases
            fan_in = shape[-1] if len(shape) == 2 else math.prod(shape[1:]) if shape else 1
            student[key] = torch.randn(shape, generator=g) / math.sqrt(fan_in)
    teacher = {k: v.clone() for k, v in student.items()}
    state = {f"sed_student.{k}": v for k, v in student.items()}
    state.update({f"sed_teacher.{k}": v for k, v in teacher.items()})
    # torchaudio MelSpectrogram's buffers, as the LightningModule's state_dict holds them
    state["mel_spec.spectrogram.window"] = torch.hamming_window(2048, periodic=False)
    state["mel_spec.mel_scale.fb"] = torch.zeros(1025, N_MELS)
    return {
        "epoch": 199,
        "global_step": 1000,
        "pytorch-lightning_version": "1.2.4",
        "state_dict": state,
        "sed_student": student,
        "sed_teacher": teacher,
    }


# ---------------------------------------------------------------------------- bundle
def bundle_toml(weights: str, licence: str, onnx_path: Path, trained: int) -> BundleToml:
    doc = BundleToml(
        f"DCASE 2021 Task 4 baseline CRNN (DESED, 10 domestic sound events).\nGenerated by "
        f"{__name__} (--arch {NAME}); weights: {weights}.\nDo not edit by hand."
    )
    model = {
        "name": NAME,
        "description": "DCASE 2021 Task 4 baseline CRNN: 10 DESED sound events, framewise "
        "at 15.625 Hz",
        "licence": licence,
    }
    if trained != onnx_parameter_count(onnx_path):
        model["trained_parameters"] = trained  # BN folded into the convolutions on export
    doc.table("model", model)
    doc.table(
        "input",
        [
            ("kind", "features"),
            ("name", INPUT_NAME),
            ("sample_rate_hz", SAMPLE_RATE_HZ),
            ("layout", ["batch", "feature", "time"]),
            Note(
                "The baseline sees 10 s clips: 626 frames (center, hop 256 at 16 kHz). The "
                "graph min-max\nnormalises each window as the baseline does each clip. Hop "
                "64 frames (1.024 s, a\nmultiple of the 4x time pooling, so strong frames of "
                "consecutive windows share one grid)."
            ),
            ("window_frames", WINDOW_FRAMES),
            ("hop_frames", HOP_FRAMES),
            Note(
                f"The graph runs from {ARCH_MIN_FRAMES} frames (2 x 2 time pooling); the first "
                f"score waits for {MIN_FRAMES}\n(8 strong frames, one median filter of 7)."
            ),
            ("min_frames", MIN_FRAMES),
        ],
    )
    fe = {k: v for k, v in FRONTEND.items() if k != "steps"}
    doc.table(
        "frontend",
        fe,
        comment=(
            "local/sed_trainer.py: torchaudio MelSpectrogram(16 kHz, n_fft 2048, win_length "
            "2048, hop 256,\nf_min 0, f_max 8000, 128 mels, torch.hamming_window(periodic="
            "False), power 1): center,\nreflect, HTK mel without norm; take_log: AmplitudeToDB("
            "'amplitude', amin 1e-5) =\n20*log10(max(mel, 1e-5)) = db (10*log10) then x2. Its "
            ".clamp(-50, 80) and the\nTorchScaler('instance', 'minmax', dims (1, 2)) are in the "
            "ONNX graph."
        ),
    )
    for step in FRONTEND["steps"]:
        doc.array("frontend.steps", step)
    doc.array(
        "outputs",
        {"name": "weak", "kind": "clip", "values": "probabilities", "activation": "sigmoid"},
        comment="weak [batch, 10]: clip probabilities, attention pooling of the strong ones.",
    )
    doc.array(
        "outputs",
        {
            "name": "strong",
            "kind": "framewise",
            "values": "probabilities",
            "activation": "sigmoid",
            "frame_rate_hz": FRAME_RATE_HZ,
        },
        comment=(
            "strong [batch, frames, 10]: frames = time // 4 (AvgPool2d floors), one per 4 STFT "
            "frames,\n16000 / 256 / 4 = 15.625 Hz; frame k at k * 0.064 s, as the baseline's "
            "encoder places it."
        ),
    )
    doc.table(
        "events",
        {"median_frames": MEDIAN_FRAMES},
        comment=(
            "sed.yaml training.median_window: 7 strong frames (0.448 s), one length for every "
            "class\nin the 2021 baseline (local/utils.py batched_decode_preds)."
        ),
    )
    doc.table(
        "reference",
        {
            "audio": "reference/input.wav",
            "expected": "reference/expected.json",
            "tolerance": common.PARITY_TOLERANCE,
        },
        comment=(
            f"reference/input.wav: livetag_tools.export.dcase.base's reference_signal, two "
            f"windows long;\nexpected.json: weak, from {__name__}'s NumPy copy of livetag's "
            "front-end and ONNX Runtime."
        ),
    )
    return doc


def licence_text(weights: str, licence: str) -> str:
    return (
        f"livetag bundle `{NAME}`, written by {__name__}.\n\n"
        f"Weights: {weights}.\nLicence of these weights: {licence}.\n\n"
        "Architecture: DCASE 2021 Task 4 baseline CRNN (Turpault, Serizel, Ronchetti, Cornell "
        "et al.,\nDCASE-REPO/DESED_task, desed_task/nnet/CRNN.py; recipes/"
        "dcase2021_task4_baseline).\nThe network code was re-implemented for livetag from the "
        "published description and code;\nno code or weights of the original authors are "
        "included.\n\nRandom-initialisation weights generated by this tool carry livetag's own "
        "licence\n(MIT OR Apache-2.0). For a trained checkpoint, the checkpoint's licence "
        "applies: pass it\nwith --licence and put its text here.\n"
    )


def export_bundle(model: nn.Module, out_dir, weights: str, licence: str) -> None:
    import onnx

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    onnx_path = out_dir / "model.onnx"
    example = {INPUT_NAME: audio_input(7, WINDOW_FRAMES, 1)}
    common.export_onnx(
        model,
        example,
        onnx_path,
        OUTPUT_NAMES,
        {
            INPUT_NAME: {0: "batch", 2: "time"},
            "strong": {0: "batch", 1: "frames"},
            "weak": {0: "batch"},
        },
    )
    ops = {n.op_type for n in onnx.load(str(onnx_path)).graph.node}
    if "GRU" not in ops:
        raise RuntimeError(f"the GRU was not exported as an ONNX GRU node: {sorted(ops)}")
    trained = sum(p.numel() for p in model.parameters())
    write_bundle_files(
        out_dir,
        bundle_toml(weights, licence, onnx_path, trained),
        labels(),
        licence_text(weights, licence),
    )
    write_reference(out_dir)


def write_reference(out_dir: Path) -> None:
    """Two 10 s windows, hop = window, as `livetag inspect --self-test` cuts them."""
    frames = 2 * WINDOW_FRAMES
    audio = reference_signal(SAMPLE_RATE_HZ, samples_for_frames(FRONTEND, frames))
    feats = features(audio)
    assert feats.shape[2] == frames, feats.shape
    sess = common.onnx_session(out_dir / "model.onnx")
    rows = []
    for start in range(0, frames, WINDOW_FRAMES):
        window = np.ascontiguousarray(feats[:, :, start : start + WINDOW_FRAMES])
        rows.append(sess.run(["weak"], {INPUT_NAME: window})[0][0])
    common.write_reference(out_dir, audio, SAMPLE_RATE_HZ, "weak", rows)


class Entry:
    """The exporter registry's interface (livetag_tools.export.common)."""

    name = NAME
    shown_outputs = list(OUTPUT_NAMES)
    min_frames = ARCH_MIN_FRAMES

    def build(self) -> DesedCrnnExport:
        return build()

    def prepare_random(self, model: nn.Module, seed: int = 0) -> None:
        calibrate_random(model, seed)

    def export(self, model: nn.Module, out_dir) -> None:
        prov = common.provenance(model)
        weights = prov.describe()
        licence = "MIT OR Apache-2.0" if prov.weights == "random" else "UNKNOWN"
        export_bundle(model, out_dir, weights, licence)

    def parity_inputs(self) -> list[common.ParityCase]:
        return parity_cases()


ENTRY = Entry()


# ---------------------------------------------------------------------------- runner
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog=f"python -m {__name__}",
        description="Export the DCASE 2021 Task 4 baseline CRNN (a Lightning .ckpt or a plain "
        "state dict) to a livetag bundle.",
    )
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="the baseline's .ckpt, loaded with strict=True")
    src.add_argument("--random-weights", action="store_true", help="seeded random weights")
    src.add_argument(
        "--write-synthetic-checkpoint",
        metavar="PATH",
        help="write a random checkpoint in the baseline's Lightning format, then exit",
    )
    ap.add_argument("--teacher", action="store_true", help="take sed_teacher, not sed_student")
    ap.add_argument("--trust-checkpoint", action="store_true", help="torch.load without "
                    "weights_only (only for a file you trust)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--licence", help="licence of the weights")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--reference", action="store_true", help="also write OUT/parity.json")
    args = ap.parse_args(argv)

    if args.write_synthetic_checkpoint:
        torch.save(synthetic_checkpoint(args.seed + 123), args.write_synthetic_checkpoint)
        print(f"wrote {args.write_synthetic_checkpoint}")
        return 0
    if not args.out:
        ap.error("--out is required")
    which = "sed_teacher" if args.teacher else "sed_student"
    if args.checkpoint:
        model = load_checkpoint(args.checkpoint, which, args.trust_checkpoint)
        sha = common.sha256_file(Path(args.checkpoint))
        prov = common.Provenance("checkpoint", checkpoint=str(args.checkpoint), sha256=sha)
        weights = f"{prov.describe()}, {which} (loaded with strict=True)"
        licence = args.licence or "UNKNOWN"
    else:
        torch.manual_seed(args.seed)
        model = build()
        calibrate_random(model, args.seed)
        prov = common.Provenance("random", seed=args.seed)
        weights = prov.describe()
        licence = args.licence or "MIT OR Apache-2.0"
    model.eval()
    export_bundle(model, args.out, weights, licence)
    cases = parity_cases()
    records = common.check_parity(model, args.out / "model.onnx", cases, list(OUTPUT_NAMES))
    if args.reference:
        common.write_parity_json(
            args.out / "parity.json",
            records,
            list(OUTPUT_NAMES),
            {"arch": NAME, "weights": weights, "model": "model.onnx"},
        )
    n = sum(p.numel() for p in model.parameters())
    print(f"{NAME}: {n:,} parameters; parity OK on {len(cases)} inputs; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
