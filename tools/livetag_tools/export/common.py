"""What every PyTorch -> livetag bundle exporter shares (`python -m livetag_tools.export`
drives them).

The architecture registry
-------------------------
`livetag_tools.export.registry` lists one module per architecture; each module's `ENTRY` is
any object with:

    name: str                      the --arch value, e.g. "Cnn14"
    build() -> torch.nn.Module     a fresh model, randomly initialised, whose state_dict()
                                   keys and shapes are the original code's, so that a real
                                   checkpoint loads with load_state_dict(strict=True). Its
                                   forward takes the ONNX inputs in order and returns a tuple
                                   of tensors in the order of the ONNX outputs (or a dict
                                   keyed by ONNX output name).
    export(model, out_dir) -> None writes the complete bundle into out_dir: model.onnx,
                                   bundle.toml, labels.txt, LICENSE and reference/ (use
                                   export_onnx, common.bundle.write_bundle_files and
                                   write_reference; `provenance(model)` says which weights
                                   the model holds).
    parity_inputs() -> list[ParityCase]
                                   at least 3 inputs of different lengths, the shortest the
                                   model accepts among them; the runner feeds each to
                                   PyTorch and ONNX Runtime and fails unless every output
                                   agrees (see check_parity for the tolerances).
    shown_outputs: list[str]       optional: the ONNX outputs the bundle lists in
                                   [[outputs]]; they must agree to PARITY_TOLERANCE
                                   absolutely, and they are what parity.json records.
                                   Default: every ONNX output.
    prepare_random(model) -> None  optional: called instead of loading a checkpoint, after
                                   build(), e.g. to give BatchNorm layers running statistics
                                   (the PANNs entries calibrate them on synthetic audio).
    load_checkpoint(model, path) -> str
                                   optional: loads a checkpoint that is not a torch state
                                   dict (a Keras .h5) into build()'s model, strictly, and
                                   returns the file's sha256; raises ValueError when it does
                                   not fit. Default: load_checkpoint below.

The runner seeds torch (torch.manual_seed) before build(), loads the checkpoint if one is
given (load_checkpoint), puts the model in eval mode, tags it with set_provenance, then calls
export(), then the parity check, then, with --reference, write_parity_json.
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from livetag_tools.common.fetch import sha256_file
from livetag_tools.common.onnx_session import make_session
from livetag_tools.common.wav import float32_wav

OPSET = 17
# ONNX Runtime vs PyTorch, absolute, on every output a bundle shows (probabilities).
PARITY_TOLERANCE = 1e-4
# Unbounded outputs (embeddings) are held to the same tolerance relative to their scale:
# |diff| <= PARITY_TOLERANCE * max(1, max |value|).

WAVEFORM_RECIPE = ("numpy.random.default_rng(seed).uniform(-0.5, 0.5, (batch, samples))"
                   ".astype(numpy.float32)")


def uniform_waveform(seed: int, batch: int, samples: int) -> np.ndarray:
    """The parity inputs of waveform models: regenerable from (seed, batch, samples) with
    WAVEFORM_RECIPE, so parity.json need not store them."""
    return np.random.default_rng(seed).uniform(-0.5, 0.5, (batch, samples)).astype(np.float32)


@dataclasses.dataclass
class ParityCase:
    """One parity input. `inputs` maps ONNX input names, in the model's argument order, to
    arrays; `recipe` is JSON that says how to regenerate them (written to parity.json)."""
    label: str
    inputs: dict[str, np.ndarray]
    recipe: dict[str, Any]


@dataclasses.dataclass
class Provenance:
    """Which weights a model holds: "random" (with the torch seed) or "checkpoint"."""
    weights: str
    seed: int | None = None
    checkpoint: str | None = None
    sha256: str | None = None

    def describe(self) -> str:
        if self.weights == "random":
            return f"RANDOM weights (torch seed {self.seed})"
        return f"checkpoint {Path(self.checkpoint).name} (sha256 {self.sha256})"


def set_provenance(model, prov: Provenance) -> None:
    model._livetag_provenance = prov


def provenance(model) -> Provenance:
    return getattr(model, "_livetag_provenance", Provenance("random", seed=None))


def load_checkpoint(model, path: str | Path) -> str:
    """Loads a state dict saved by torch.save, bare or as PANNs saves it ({'model': sd, ...}),
    with load_state_dict(strict=True): a missing, unexpected or mis-shaped key is an error.
    Returns the file's sha256."""
    import torch

    path = Path(path)
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, Mapping) and "model" in obj and isinstance(obj["model"], Mapping):
        state = obj["model"]
    elif isinstance(obj, Mapping):
        state = obj
    else:
        raise ValueError(f"{path}: expected a state dict or {{'model': state_dict}}, "
                         f"got {type(obj).__name__}")
    own = model.state_dict()
    wrong = [f"{k}: checkpoint {tuple(v.shape)}, model {tuple(own[k].shape)}"
             for k, v in state.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if wrong:
        raise ValueError(f"{path}: shapes differ (wrong architecture or hyper-parameters?):\n  "
                         + "\n  ".join(wrong[:10]))
    model.load_state_dict(state, strict=True)
    return sha256_file(path)


def count_params(model) -> dict[str, int]:
    """`total`: every parameter; `trainable`: those with requires_grad (PANNs' own count,
    which leaves out the frozen STFT and mel matrices)."""
    params = list(model.parameters())
    return {"total": sum(p.numel() for p in params),
            "trainable": sum(p.numel() for p in params if p.requires_grad)}


def export_onnx(model, example: Mapping[str, np.ndarray], path: Path,
                output_names: Sequence[str], dynamic_axes: Mapping[str, Mapping[int, str]],
                opset: int = OPSET) -> None:
    """torch.onnx's TorchScript exporter (dynamo=False): predictable with dynamic_axes."""
    import torch

    args = tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in example.values())
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter's notes (constant folding of strided Slice, its own
        # deprecation) say nothing about this graph's correctness: check_parity does.
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, str(path), dynamo=False, opset_version=opset,
                          input_names=list(example), output_names=list(output_names),
                          dynamic_axes={k: dict(v) for k, v in dynamic_axes.items()},
                          do_constant_folding=True)
    import onnx

    onnx.checker.check_model(str(path))


def torch_outputs(model, inputs: Mapping[str, np.ndarray],
                  output_names: Sequence[str]) -> dict[str, np.ndarray]:
    import torch

    args = tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in inputs.values())
    with torch.no_grad():
        out = model(*args)
    if isinstance(out, Mapping):
        return {k: out[k].numpy() for k in output_names}
    if not isinstance(out, (tuple, list)):
        out = (out,)
    if len(out) != len(output_names):
        raise ValueError(f"model returned {len(out)} outputs, the ONNX graph has "
                         f"{len(output_names)}: {list(output_names)}")
    return {k: v.numpy() for k, v in zip(output_names, out)}


def onnx_session(path: Path):
    # Threads at onnxruntime's default, unlike the converters': exports check parity within a
    # tolerance, and desed_crnn's reference rows were computed so. Warnings hidden.
    return make_session(str(path), threads=None, log_severity=3)


def onnx_output_names(path: Path) -> list[str]:
    return [o.name for o in onnx_session(path).get_outputs()]


class ParityError(RuntimeError):
    pass


def check_parity(model, onnx_path: Path, cases: Sequence[ParityCase],
                 shown_outputs: Sequence[str], log: Callable[[str], None] = print
                 ) -> list[dict[str, Any]]:
    """Runs every case through PyTorch and ONNX Runtime. Returns one record per case (recipe,
    PyTorch outputs, max |diff| per output); raises ParityError if any output disagrees:
    shown outputs by more than PARITY_TOLERANCE, others by more than PARITY_TOLERANCE times
    their scale. Needs at least 3 cases of different input shapes."""
    if len({tuple(a.shape for a in c.inputs.values()) for c in cases}) < 3:
        raise ParityError("parity needs at least 3 inputs of different lengths")
    session = onnx_session(onnx_path)
    names = [o.name for o in session.get_outputs()]
    failures, records = [], []
    for case in cases:
        want = torch_outputs(model, case.inputs, names)
        got = dict(zip(names, session.run(names, dict(case.inputs))))
        diffs = {}
        for name in names:
            if want[name].shape != got[name].shape:
                failures.append(f"{case.label}: {name} shape {got[name].shape}, PyTorch "
                                f"{want[name].shape}")
                continue
            diff = float(np.max(np.abs(want[name] - got[name]))) if want[name].size else 0.0
            scale = 1.0 if name in shown_outputs else max(1.0, float(np.max(np.abs(want[name]))))
            diffs[name] = diff
            if not diff <= PARITY_TOLERANCE * scale:
                failures.append(f"{case.label}: {name} max |diff| {diff:.3g} > "
                                f"{PARITY_TOLERANCE * scale:.3g}")
        log(f"  parity {case.label}: " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()))
        records.append({"case": case, "torch": want, "max_abs_diff": diffs})
    if failures:
        raise ParityError("ONNX Runtime disagrees with PyTorch:\n  " + "\n  ".join(failures))
    return records


def _float_list(a: np.ndarray) -> Any:
    """Nested lists of the float32 values, each written as its shortest decimal that reads
    back as the same float32 (the double parsed from that decimal prints as it)."""
    a = np.asarray(a, dtype=np.float32)
    shortest = np.array([float(s) for s in a.ravel().astype(str)], dtype=np.float64)
    return shortest.reshape(a.shape).tolist()


def dump_json(obj: Any, path: Path) -> None:
    def default(o):
        if isinstance(o, np.ndarray):
            return _float_list(o)
        if isinstance(o, (np.floating,)):
            return float(o)
        if isinstance(o, (np.integer,)):
            return int(o)
        raise TypeError(type(o))

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, default=default, separators=(",", ":")) + "\n")


def write_parity_json(path: Path, records: Sequence[dict[str, Any]],
                      shown_outputs: Sequence[str], extra: Mapping[str, Any]) -> None:
    """parity.json: for each parity case, how to regenerate its input and what PyTorch
    returned on the outputs the bundle shows, for a livetag test to compare at the
    tolerance."""
    # The inputs themselves go beside parity.json as raw little-endian float32, so a test in
    # any language feeds exactly what PyTorch saw (the recipes use NumPy's generator).
    cases = []
    for index, r in enumerate(records):
        inputs = {}
        for name, array in r["case"].inputs.items():
            file = f"parity-{index}-{name}.f32"
            (path.parent / file).write_bytes(np.ascontiguousarray(array, dtype="<f4").tobytes())
            inputs[name] = {"file": file, "shape": list(array.shape)}
        cases.append({
            "label": r["case"].label,
            "input": r["case"].recipe,
            "input_files": inputs,
            "onnx_runtime_max_abs_diff": r["max_abs_diff"],
            "outputs": {k: r["torch"][k] for k in shown_outputs},
        })
    dump_json({**extra, "tolerance": PARITY_TOLERANCE, "cases": cases}, path)


def file_windows(n_rows: int, window: int, hop: int, min_rows: int) -> list[tuple[int, int]]:
    """The windows livetag cuts from a file (src/dsp/window.rs, not live, stateless): ends at
    window, window + hop, ...; then, if rows remain, one window aligned to the end. A file
    shorter than min_rows is first padded to min_rows (src/tagger.rs)."""
    n_rows = max(n_rows, min_rows)
    spans, end = [], window
    while end <= n_rows:
        spans.append((end - window, end))
        end += hop
    last = spans[-1][1] if spans else 0
    if last < n_rows:
        spans.append((max(0, n_rows - window), n_rows))
    return spans


def write_reference(out_dir: Path, audio: np.ndarray, sample_rate_hz: int, output: str,
                    rows: Sequence[np.ndarray]) -> None:
    """reference/input.wav (float32, byte-reproducible) and reference/expected.json: one row
    of `output` per window that `livetag inspect --self-test` cuts (hop = window)."""
    ref = out_dir / "reference"
    ref.mkdir(parents=True, exist_ok=True)
    (ref / "input.wav").write_bytes(float32_wav(audio, sample_rate_hz))
    dump_json({"output": output, "scores": [np.asarray(r, np.float32) for r in rows]},
              ref / "expected.json")


class Stopwatch:
    def __init__(self):
        self.t0 = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.t0
