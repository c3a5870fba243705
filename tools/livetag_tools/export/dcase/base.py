"""What the three DCASE seed-system exporters share: the `Arch` description and the bundle it
writes, parity inputs, BatchNorm calibration of random weights, checkpoint loading and MAC
counts. Each architecture is one module beside this one (see the package docstring).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

from livetag_tools.common.bundle import BundleToml, Note, write_bundle_files
from livetag_tools.common.fetch import sha256_file
from livetag_tools.common.wav import float32_wav
from livetag_tools.data import KEYS, LABELS
from livetag_tools.export import common
from livetag_tools.export.dcase.frontend import livetag_features, samples_for_frames

OPSET = common.OPSET
PARITY_TOL = common.PARITY_TOLERANCE
REFERENCE_SEED = 20240611


def reference_signal(sr: int, n: int, seed: int = REFERENCE_SEED) -> np.ndarray:
    """Deterministic test audio: tones with a loud onset bump, a chirp, clicks, soft noise."""
    t = np.arange(n) / sr
    rng = np.random.default_rng(seed)
    dur = n / sr
    env = 0.3 + 0.5 * np.exp(-(((t - 0.025) / 0.02) ** 2))
    x = env * np.sin(2 * np.pi * 440.0 * t) * (t < 0.45 * dur)
    x += 0.15 * np.sin(2 * np.pi * 1250.0 * t + 3.0 * np.sin(2 * np.pi * 3.0 * t))
    f0, f1 = 200.0, 0.45 * sr
    chirp_t = np.clip(t - 0.5 * dur, 0.0, None)
    phase = 2 * np.pi * (f0 * chirp_t + 0.5 * (f1 - f0) / (0.5 * dur) * chirp_t**2)
    x += 0.2 * np.sin(phase) * (t >= 0.5 * dur)
    for click in (0.3, 0.7, 0.9):
        k = int(click * n)
        x[k] += 0.5
    x += 0.01 * rng.standard_normal(n)
    return (0.9 * x / np.max(np.abs(x))).astype(np.float32)


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
    # The architecture whose front-end makes "audio" inputs (not part of the recipe).
    arch: Arch | None = field(default=None, compare=False, repr=False)

    def array(self) -> np.ndarray:
        if self.source == "audio":
            a = self.arch
            fe = a.bundle_frontend(fake_norm_stats(a, 0))
            n = samples_for_frames(fe, self.frames) + fe["hop_samples"] // 2
            rows = [
                a.features_to_input(
                    livetag_features(
                        calibration_audio(a.sample_rate, n, np.random.default_rng(self.seed + b)),
                        a.sample_rate,
                        fe,
                    )
                )
                for b in range(self.shape[0])
            ]
            x = np.concatenate(rows, axis=0)
            assert x.shape == tuple(self.shape), (x.shape, self.shape)
            return x
        z = np.random.default_rng(self.seed).standard_normal(self.shape, dtype=np.float32)
        return (np.float32(self.loc) + np.float32(self.scale) * z).astype(np.float32)

    def __array__(self, dtype=None, copy=None):
        a = self.array()
        return a if dtype is None else a.astype(dtype)

    def describe(self) -> dict:
        d = {
            "source": self.source,
            "seed": self.seed,
            "shape": list(self.shape),
            "frames": self.frames,
        }
        if self.source == "normal":
            d.update(loc=self.loc, scale=self.scale)
        else:
            d.update(
                generator="livetag_tools.export.dcase.base.ParityInput(source='audio', "
                "arch=...).array()"
            )
        return d


def read_key_fixture(name: str) -> list[tuple[str, tuple[int, ...]]]:
    rows = []
    for line in (KEYS / "dcase_keys" / f"{name}.txt").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        key, shape = line.split("\t")
        rows.append((key, tuple(int(v) for v in shape.split(",")) if shape else ()))
    return rows


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
        totals["conv"] += (
            kh * kw * (m.in_channels // m.groups) * m.out_channels * out.shape[2] * out.shape[3]
        )

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
    # Reads a checkpoint file that is not a torch state dict (dcase2021_t1a: Keras .h5) into
    # the module to export; None: load_checkpoint's torch containers.
    checkpoint_loader: Callable[[Path], nn.Module] | None = None
    # The defining module's __name__: bundle.toml and LICENSE name it as their origin.
    module: str = ""

    def __post_init__(self):
        self.labels = (LABELS / self.labels_file).read_text().split("\n")[:-1]

    # ------------------------------------------------------------------ interface
    def build(self) -> nn.Module:
        return self.builder().eval()

    def input_shape(self, frames: int, batch: int = 1) -> tuple[int, ...]:
        shape = []
        for axis in self.layout:
            shape.append(
                {"batch": batch, "time": frames, "feature": self.n_features, "channel": 1}[axis]
            )
        return tuple(shape)

    def parity_inputs(self) -> list[ParityInput]:
        out = []
        for i, frames in enumerate(self.parity_frames):
            batch = (
                2 if i == len(self.parity_frames) - 1 else 1
            )  # the longest also checks batch > 1
            out.append(
                ParityInput(
                    seed=1000 + 10 * i,
                    shape=self.input_shape(frames, batch),
                    frames=frames,
                    loc=self.parity_loc,
                    scale=self.parity_scale,
                    source=self.parity_source,
                    arch=self,
                )
            )
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

    def export(
        self,
        model: nn.Module,
        out_dir,
        *,
        weights: str = "unspecified weights",
        licence: str | None = None,
        norm_stats=None,
    ) -> None:
        out_dir = Path(out_dir)
        (out_dir / "reference").mkdir(parents=True, exist_ok=True)
        model = model.eval()
        onnx_path = out_dir / "model.onnx"
        export_onnx(self, model, onnx_path)
        licence = licence or "UNKNOWN"
        fe = self.bundle_frontend(norm_stats)
        # The writer checks that bundle.toml reads back as written, so the reference scores
        # below come from the front-end livetag will read.
        write_bundle_files(
            out_dir,
            self.bundle_toml(fe, weights, licence, onnx_path),
            self.labels,
            self.licence_text(weights, licence),
        )
        self.write_reference(out_dir, fe)

    # ------------------------------------------------------------------ bundle parts
    def licence_text(self, weights: str, licence: str) -> str:
        return (
            f"livetag bundle `{self.name}`, written by {self.module}.\n\n"
            f"Weights: {weights}.\nLicence of these weights: {licence}.\n\n"
            f"Architecture: {self.source}\n"
            "The network code was re-implemented for livetag from the published description "
            "and code; no code or weights of the original authors are included.\n\n"
            "Random-initialisation weights generated by this tool carry livetag's own licence "
            "(MIT OR Apache-2.0). For a trained checkpoint, the checkpoint's licence applies: "
            "pass it with --licence and put its text here.\n"
        )

    def bundle_toml(self, fe: dict, weights: str, licence: str, onnx_path: Path) -> BundleToml:
        doc = BundleToml(
            # Either runner (livetag_tools.export or .export.dcase) writes it: name the module.
            f"{self.description}\nGenerated by {self.module} (--arch {self.name}); "
            f"weights: {weights}.\n"
            "Do not edit by hand."
        )
        model = {"name": self.name, "description": self.description, "licence": licence}
        trained = count_params(self.build())
        if trained != onnx_parameter_count(onnx_path):
            # BatchNorm folded into the convolutions on export: the card reports both.
            model["trained_parameters"] = trained
        doc.table("model", model)
        doc.table(
            "input",
            [
                ("kind", "features"),
                ("name", self.input_name),
                ("sample_rate_hz", self.sample_rate),
                ("layout", self.layout),
                Note(self.input_comment),
                ("window_frames", self.window_frames),
                ("hop_frames", self.hop_frames),
                ("min_frames", self.min_frames),
            ],
        )
        doc.table(
            "frontend", {k: v for k, v in fe.items() if k != "steps"}, comment=self.frontend_comment
        )
        for step in fe["steps"]:
            doc.array("frontend.steps", step)
        doc.array(
            "outputs",
            {
                "name": self.output_name,
                "kind": "clip",
                "values": self.values,
                "activation": self.activation,
            },
            comment=self.output_comment,
        )
        if self.extra_comment is not None:
            doc.comment(self.extra_comment(onnx_path))
        doc.table(
            "reference",
            {
                "audio": "reference/input.wav",
                "expected": "reference/expected.json",
                "tolerance": PARITY_TOL,
            },
            comment="reference/input.wav: livetag_tools.export.dcase.base's "
            "reference_signal, two windows long;\nexpected.json: its NumPy copy "
            "of livetag's front-end, ONNX Runtime, the activation above.",
        )
        return doc

    def reference_windows(self, fe: dict) -> tuple[np.ndarray, list[np.ndarray]]:
        frames = 2 * self.window_frames
        n = samples_for_frames(fe, frames)
        audio = reference_signal(self.sample_rate, n)
        feats = livetag_features(audio, self.sample_rate, fe)
        assert feats.shape[0] == frames, (feats.shape, frames)
        windows = [
            self.features_to_input(feats[s : s + self.window_frames])
            for s in range(0, frames, self.window_frames)
        ]
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

    x = torch.from_numpy(
        ParityInput(7, arch.input_shape(arch.window_frames), arch.window_frames).array()
    )
    torch.onnx.export(
        model,
        (x,),
        str(path),
        dynamo=False,
        opset_version=OPSET,
        do_constant_folding=True,
        input_names=[arch.input_name],
        output_names=[arch.output_name],
        dynamic_axes={
            arch.input_name: {0: "batch", arch.time_axis: "time"},
            arch.output_name: {0: "batch"},
        },
    )
    m = onnx.load(str(path))
    onnx.checker.check_model(m)
    (inp,) = m.graph.input
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    want = [
        {"batch": "batch", "time": "time", "feature": arch.n_features, "channel": 1}[a]
        for a in arch.layout
    ]
    assert inp.name == arch.input_name and dims == want, (inp.name, dims, want)
    assert [o.name for o in m.graph.output] == [arch.output_name]


class RegistryEntry:
    """An Arch seen through the exporter's registry interface (livetag_tools.export.common),
    so `python -m livetag_tools.export --arch NAME` exports these models like the PANNs ones.
    Random weights are calibrated as `random_model` does, with seed 0; a Kong checkpoint
    needs its training statistics, which only the DCASE runner takes
    (`python -m livetag_tools.export.dcase --norm-stats`)."""

    def __init__(self, arch: Arch):
        self.arch = arch
        self.name = arch.name
        self.shown_outputs = [arch.output_name]
        self.norm_stats = None

    def build(self) -> nn.Module:
        return self.arch.build()

    def load_checkpoint(self, model: nn.Module, path) -> str:
        """Only for archs with a checkpoint_loader (the Keras .h5 of dcase2021_t1a): the
        module it reads, copied strictly into build()'s model (same structure, same keys);
        torch checkpoints go through common.load_checkpoint."""
        if self.arch.checkpoint_loader is None:
            return common.load_checkpoint(model, path)
        loaded = self.arch.checkpoint_loader(Path(path))
        model.load_state_dict(loaded.state_dict(), strict=True)
        return sha256_file(path)

    def prepare_random(self, model: nn.Module, seed: int = 0) -> None:
        self.norm_stats = fake_norm_stats(self.arch, seed)
        batch = calibration_batch(self.arch, seed, norm_stats=self.norm_stats)
        calibrate_bn(model, torch.from_numpy(batch), perturb_seed=seed)

    def export(self, model: nn.Module, out_dir) -> None:
        weights = common.provenance(model).describe()
        self.arch.export(model, out_dir, weights=weights, norm_stats=self.norm_stats)

    def parity_inputs(self) -> list:
        return [
            common.ParityCase(
                label=f"{p.frames} frames x{p.shape[0]}",
                inputs={self.arch.input_name: p.array()},
                recipe=p.describe(),
            )
            for p in self.arch.parity_inputs()
        ]


def load_checkpoint(arch: Arch, path) -> nn.Module:
    """Official checkpoint containers: Kong's md_*_iters.tar ({'state_dict': ...}), the T1
    baseline's model_state_dict.pt (plain) or its Lightning .ckpt ('state_dict' with a
    'model.' prefix, other modules' buffers dropped), or a plain state dict; an arch with a
    checkpoint_loader reads its own format."""
    if arch.checkpoint_loader is not None:
        return arch.checkpoint_loader(Path(path)).eval()
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
        sd = {k[len("model.") :]: v for k, v in sd.items()}
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
    calibrate_bn(
        model,
        torch.from_numpy(calibration_batch(arch, seed, norm_stats=fake_norm_stats(arch, seed))),
    )
    return model.state_dict()


def calibration_audio(sr: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Random tones (100 Hz - 8 kHz), noise and clicks at random levels."""
    t = np.arange(n) / sr
    x = sum(
        rng.uniform(0.01, 0.3)
        * np.sin(2 * np.pi * rng.uniform(100, 8000) * t + rng.uniform(0, 6.3))
        for _ in range(3)
    )
    x = x + 10 ** rng.uniform(-3.5, -1) * rng.standard_normal(n)
    x[rng.integers(0, n, 4)] += 0.3
    return (x * rng.uniform(0.1, 1.0) / np.max(np.abs(x))).astype(np.float32)


def calibration_batch(arch: Arch, seed: int, batch: int = 8, norm_stats=None) -> np.ndarray:
    """``batch`` windows of real front-end features (the bundle's front-end) of random
    audio: what BN statistics are calibrated on for random and synthetic weights."""
    rng = np.random.default_rng(seed + 1)
    fe = arch.bundle_frontend(norm_stats)
    n = samples_for_frames(fe, arch.window_frames)
    wins = [
        arch.features_to_input(
            livetag_features(calibration_audio(arch.sample_rate, n, rng), arch.sample_rate, fe)
        )
        for _ in range(batch)
    ]
    return np.concatenate(wins, axis=0)


def fake_norm_stats(arch: Arch, seed: int):
    """For an arch whose front-end ends in the training-data scaler (dcase2018_t2_baseline):
    per-band mean/std of the calibration features, as calculate_scalar computes them from
    the training features, so random weights see normalised input like a trained model."""
    if arch.frontend_patch is None:
        return None
    raw = calibration_batch(arch, seed + 7, batch=16)  # identity normalize
    raw = np.moveaxis(raw, arch.layout.index("feature"), -1)  # bands last, for any layout
    flat = raw.reshape(-1, raw.shape[-1]).astype(np.float64)
    return flat.mean(axis=0), flat.std(axis=0)


def random_model(arch: Arch, seed: int):
    """(model, norm_stats): official init under ``seed``, BN perturbed and calibrated."""
    torch.manual_seed(seed)
    model = arch.build()
    stats = fake_norm_stats(arch, seed)
    calibrate_bn(
        model, torch.from_numpy(calibration_batch(arch, seed, norm_stats=stats)), perturb_seed=seed
    )
    return model, stats


def save_synthetic_checkpoint(
    arch: Arch, path, seed: int = 123, drop_num_batches_tracked=False
) -> None:
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
        rows.append(
            {
                **p.describe(),
                "input": x,
                "max_abs_diff": diff,
                "max_abs_diff_activated": float(np.max(np.abs(pw - pg))),
                "torch": want.tolist(),
                "onnxruntime": got.tolist(),
            }
        )
    return rows


def write_parity_json(arch: Arch, rows: list[dict], out_dir: Path, weights: str) -> None:
    (out_dir / "parity").mkdir(exist_ok=True)
    cases = []
    for i, r in enumerate(rows):
        name = f"parity/case{i}_{r['frames']}frames.f32"
        np.asarray(r["input"], dtype="<f4").tofile(out_dir / name)
        cases.append(
            {
                **{
                    k: r[k]
                    for k in r
                    if k in ("source", "seed", "shape", "frames", "loc", "scale", "generator")
                },
                "input_file": name,
                "torch": r["torch"],
                "onnxruntime": r["onnxruntime"],
                "max_abs_diff": r["max_abs_diff"],
            }
        )
    doc = {
        "arch": arch.name,
        "weights": weights,
        "onnx": "model.onnx",
        "input": arch.input_name,
        "output": arch.output_name,
        "layout": arch.layout,
        "values": arch.values,
        "activation": arch.activation,
        "tolerance": PARITY_TOL,
        "torch_version": torch.__version__,
        "input_generator": "source 'normal': x = np.float32(loc) + np.float32(scale) * "
        "np.random.default_rng(seed).standard_normal(shape, dtype=np.float32); source "
        "'audio': see ParityInput in livetag_tools.export.dcase.base. Every input is also "
        "stored raw (little-endian float32, C order, shape as given) in input_file",
        "outputs_are": "the raw model output (before the bundle's activation), PyTorch and "
        "ONNX Runtime",
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
