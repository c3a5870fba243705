"""TFLite -> ONNX without TensorFlow: a flatbuffer reader, a NumPy interpreter of the graph
and an ONNX emitter (onnx.helper), shared by livetag_tools.convert.birdnet and
livetag_tools.convert.yamnet.

    from livetag_tools.convert.tflite import (parse_tflite, dequantize, add_batch_axis,
                                              run_numpy, build_onnx)

    tfl = parse_tflite(tflite_bytes)           # TFLite schema: Model, SubGraph, Tensor, ...
    tfl = dequantize(tfl)                      # int8/uint8 constants -> float32 (float: no-op)
    tfl = add_batch_axis(tfl)                  # only for graphs whose input has no batch axis
    vals1 = run_numpy(tfl, audio[None])        # every tensor's value at batch 1 ...
    vals2 = run_numpy(tfl, np.stack([a, b]))   # ... and 2: shapes, folded constants, batch axes
    onnx_model, emitter = build_onnx(tfl, vals1, vals2, input_name="audio", output_name="logits",
                                     graph_name="...", producer_name="...", doc_string="...",
                                     requantize=False)

How
---
* The reader parses the flatbuffer itself (no `tflite`, `flatbuffers` or TensorFlow package):
  tensors with their quantisation (scale and zero point, per tensor or per channel), buffers,
  operators and the option tables of the operators listed in BUILTIN_OPS. Anything else
  raises NotImplementedError instead of converting wrongly.
* `run_numpy` is a second implementation of every op (float64, NHWC as TFLite; np.fft for
  the FFT, sliding-window convolutions). The emitter runs it twice, at batch 1 and 2: that
  gives every tensor's shape, folds everything that does not depend on the audio into
  constants, and finds the dimensions that follow the batch size (-1 in ONNX Reshapes).
* The emitter keeps 4-D tensors NCHW from the first convolution on, turns TF "SAME" padding
  into explicit pads and fused activations into nodes, and folds the STFT's element-wise
  window, zero padding and DFT (RFFT2D, cosine and sine matrices) and a following linear map
  (e.g. a mel FULLY_CONNECTED when only the real part is used) into one MatMul per part.
  |X| (COMPLEX_ABS) is sqrt(re^2 + im^2) of the two MatMuls.
* Quantised models (int8 weights and activations, e.g. YAMNet in convert/yamnet.py):
  `dequantize` turns every quantised constant into float32, (q - zero_point) * scale with
  per-channel scales (int32 biases carry their own scale, input scale x weight scale), and
  retypes int8 activations as float32 while keeping their scale and zero point. The ONNX
  graph then computes in float. With `requantize=True` every op whose output TFLite stores
  as int8 is followed by QuantizeLinear -> DequantizeLinear with that tensor's scale and zero
  point, which reproduces the int8 rounding and clamping of the activations (the
  computation between them is float: TFLite's fixed-point requantisation multipliers can
  round differently by one step now and then). QUANTIZE and DEQUANTIZE ops themselves
  become identities (plus that pair). Ops that only move data (RESHAPE, SPLIT, ...) with the
  same scale as their input get no pair.
* `add_batch_axis` is for graphs whose input is one example with no batch axis (YAMNet's
  [15600] waveform): it gives every tensor before the graph's own leading batch axis of 1 an
  extra leading axis (STRIDED_SLICE masks, GATHER axes, PAD rows and RESHAPE targets shifted)
  and turns that first RESHAPE to [1, ...] into one to [-1, ...]: the ONNX model then takes
  [batch, samples].

Deterministic: the ONNX bytes depend only on the .tflite bytes and the numpy and onnx
versions (nodes and initializers in a fixed order, no timestamps).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field, replace

import numpy as np

OPSET = 17


# --------------------------------------------------------------------------------------
# TFLite flatbuffer reader (only what the converters need)
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
        return [Table(self.buf,
                      start + 4 * k + struct.unpack_from("<I", self.buf, start + 4 * k)[0])
                for k in range(n)]

    def string(self, i: int) -> str:
        start, n = self._vector(i)
        return self.buf[start:start + n].decode("utf-8")


BUILTIN_OPS = {
    0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D",
    6: "DEQUANTIZE", 9: "FULLY_CONNECTED", 49: "SPLIT", 73: "LOG", 114: "QUANTIZE",
    135: "COMPLEX_ABS", 14: "LOGISTIC", 17: "MAX_POOL_2D", 18: "MUL", 22: "RESHAPE",
    34: "PAD", 36: "GATHER", 39: "TRANSPOSE", 40: "MEAN", 41: "SUB", 42: "DIV", 43: "SQUEEZE",
    45: "STRIDED_SLICE", 53: "CAST", 55: "MAXIMUM", 70: "EXPAND_DIMS", 77: "SHAPE", 78: "POW",
    81: "REDUCE_PROD", 82: "REDUCE_MAX", 83: "PACK", 89: "REDUCE_MIN", 90: "FLOOR_DIV",
    96: "RANGE", 102: "SPLIT_V", 105: "REVERSE_V2", 131: "RFFT2D", 25: "SOFTMAX",
}
TENSOR_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64,
                6: np.bool_, 8: np.complex64, 9: np.int8}
# Activations stored as integers: Q/DQ pairs when requantising.
QUANTIZED_TYPES = (np.int8, np.uint8)
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
    "SOFTMAX": (9, [("beta", "f", 0.0)]),
}


@dataclass
class Quant:
    """real = (q - zero_point) * scale; one entry per tensor, or per slice along `axis`."""
    scale: np.ndarray  # float32 [1] or [channels]
    zero_point: np.ndarray  # int64, same length
    axis: int
    qtype: type = np.int8  # the integer type TFLite stores the tensor as

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        shape = [1] * q.ndim
        if len(self.scale) > 1:
            shape[self.axis] = len(self.scale)
        zp = self.zero_point.reshape(shape) if len(self.scale) > 1 else self.zero_point[0]
        sc = (self.scale.astype(np.float64).reshape(shape) if len(self.scale) > 1
              else float(self.scale[0]))
        return (q.astype(np.float64) - zp) * sc


@dataclass
class Tensor:
    index: int
    name: str
    dtype: type
    data: np.ndarray | None  # constant tensors only
    quant: Quant | None = None  # quantised tensors only (scale and zero point)
    qdata: np.ndarray | None = None  # a dequantised constant's integers, as stored in the file


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
        qtable, quant = t.table(4), None
        if qtable is not None and len(qtable.array(2, np.float32)):
            quant = Quant(qtable.array(2, np.float32), qtable.array(3, np.int64).astype(np.int64),
                          qtable.scalar(6, "i", 0), TENSOR_TYPES[ttype])
            if len(quant.zero_point) != len(quant.scale):
                raise NotImplementedError(f"tensor {i}: {len(quant.scale)} scales, "
                                          f"{len(quant.zero_point)} zero points")
        raw = buffers[t.scalar(2, "I", 0)]
        shape = tuple(int(d) for d in t.array(0, np.int32))
        data = None
        if len(raw):
            data = raw.view(np.dtype(TENSOR_TYPES[ttype]).newbyteorder("<")).reshape(shape)
            data = data.astype(TENSOR_TYPES[ttype])
        elif 0 in shape:  # an empty constant (e.g. the shape [] of a reshape to a scalar)
            data = np.zeros(shape, TENSOR_TYPES[ttype])
        tensors.append(Tensor(i, t.string(3), TENSOR_TYPES[ttype], data, quant))
    ops = []
    for k, o in enumerate(sg.tables(3)):
        kind = codes[o.scalar(0, "I", 0)]
        op = Op(k, kind, [int(v) for v in o.array(1, np.int32)],
                [int(v) for v in o.array(2, np.int32)])
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
            op.opts["squeeze_dims"] = (table.array(0, np.int32) if table is not None
                                       else np.zeros(0, np.int32))
        ops.append(op)
    return TfliteModel(tensors, ops, [int(v) for v in sg.array(1, np.int32)],
                       [int(v) for v in sg.array(2, np.int32)])


def is_quantized_activation(t: Tensor) -> bool:
    """An audio-dependent tensor that TFLite stores as int8/uint8 (after `dequantize`, its
    dtype is float32 and only `quant` remembers it)."""
    return t.quant is not None and t.data is None


def dequantize(model: TfliteModel) -> TfliteModel:
    """Quantised constants -> float32 values; quantised activations retyped float32 (their
    `quant` is kept for the Q/DQ pairs of `requantize`). A float model is returned as is."""
    tensors = []
    for t in model.tensors:
        if t.dtype == np.float16:
            # float16-quantised weights (TFLiteConverter's supported_types=[float16]): each
            # value is exact in float32, and the DEQUANTIZE after it becomes an identity.
            data = None if t.data is None else t.data.astype(np.float32)
            tensors.append(replace(t, dtype=np.float32, data=data))
            continue
        if t.quant is None or t.dtype not in (np.int8, np.uint8, np.int16, np.int32):
            tensors.append(t)
            continue
        if t.data is not None:
            if len(t.quant.scale) == 1 and float(t.quant.scale[0]) == 0.0:
                tensors.append(t)  # an integer constant with a placeholder quantisation
                continue
            data = t.quant.dequantize(t.data).astype(np.float32)
            tensors.append(replace(t, dtype=np.float32, data=data, qdata=t.data))
        else:
            if len(t.quant.scale) != 1:
                raise NotImplementedError(f"tensor {t.index}: per-channel quantised activation")
            tensors.append(replace(t, dtype=np.float32))
    return replace(model, tensors=tensors)


# Ops whose output values are a subset or rearrangement of their input's: with the same
# scale and zero point, requantising their output would change nothing.
DATA_MOVEMENT = {"RESHAPE", "SQUEEZE", "EXPAND_DIMS", "SPLIT", "SPLIT_V", "STRIDED_SLICE",
                 "TRANSPOSE", "GATHER", "REVERSE_V2", "PAD", "MAX_POOL_2D", "CONCATENATION"}


def add_batch_axis(model: TfliteModel) -> TfliteModel:
    """For a graph whose input is ONE example without a batch axis (YAMNet: [15600]): every
    tensor computed from the input gets a new leading batch axis, up to the first RESHAPE to
    a shape [1, ...] (the graph's own batch axis), which becomes a RESHAPE to [-1, ...], as
    do the later RESHAPEs to constant shapes [1, ...] (the graph's batch axis was fixed at 1).
    Only the ops whose meaning changes with an extra leading axis are rewritten (shape, axis
    and padding constants are new tensors); any op not handled raises NotImplementedError."""
    tensors = list(model.tensors)
    ops = []
    lifted = set(model.inputs)
    merged: set[int] = set()  # tensors after the merge: leading axis = the batch

    def new_const(data: np.ndarray, like: int) -> int:
        t = tensors[like]
        tensors.append(Tensor(len(tensors), t.name + "/batched", t.dtype, data))
        return len(tensors) - 1

    def const(i: int) -> np.ndarray:
        if i in lifted or tensors[i].data is None:
            raise NotImplementedError(
                f"add_batch_axis: tensor {i} {tensors[i].name} is not a constant")
        return tensors[i].data

    elementwise = {"ADD", "SUB", "MUL", "DIV", "MAXIMUM", "POW", "LOG", "LOGISTIC", "COMPLEX_ABS",
                   "QUANTIZE", "DEQUANTIZE", "CAST", "RFFT2D"}  # RFFT2D: innermost two axes
    for op in model.ops:
        ins = [i for i in op.inputs if i >= 0]
        if not any(i in lifted for i in ins):
            if any(i in merged for i in ins):
                merged.update(op.outputs)
                if op.kind == "RESHAPE":
                    op = replace(op, inputs=list(op.inputs), opts=dict(op.opts))
                    has_input = len(op.inputs) > 1 and op.inputs[1] >= 0
                    shape = const(op.inputs[1]) if has_input else np.asarray(op.opts["new_shape"])
                    if not len(shape) or shape[0] != 1 or -1 in shape:
                        raise NotImplementedError(f"add_batch_axis: RESHAPE {op.index} to "
                                                  f"{shape} after the batch axis")
                    new = np.concatenate([[-1], shape[1:]]).astype(np.int32)
                    if has_input:
                        op.inputs[1] = new_const(new, op.inputs[1])
                    if "new_shape" in op.opts:
                        op.opts["new_shape"] = new
            ops.append(op)
            continue
        op = replace(op, inputs=list(op.inputs), opts=dict(op.opts))
        out_lifted = True
        k = op.kind
        if k in elementwise:
            for i in ins:
                if i not in lifted and tensors[i].data is not None and tensors[i].data.ndim > 1 \
                        and k != "RFFT2D":
                    # a constant of the data's full rank would broadcast against the batch axis
                    raise NotImplementedError(
                        f"add_batch_axis: {k} with a rank-{tensors[i].data.ndim} constant")
        elif k == "STRIDED_SLICE":
            o = op.opts
            if o["ellipsis_mask"] or o["new_axis_mask"]:
                raise NotImplementedError("add_batch_axis: STRIDED_SLICE ellipsis/new-axis masks")
            for j, first in ((1, 0), (2, 0), (3, 1)):
                c = const(op.inputs[j])
                op.inputs[j] = new_const(np.concatenate([np.array([first], c.dtype), c]),
                                         op.inputs[j])
            o["begin_mask"] = o["begin_mask"] << 1 | 1
            o["end_mask"] = o["end_mask"] << 1 | 1
            o["shrink_axis_mask"] <<= 1
        elif k == "RESHAPE":
            if len(op.inputs) > 1 and op.inputs[1] >= 0:
                shape = const(op.inputs[1]).astype(np.int64)
            else:
                shape = np.asarray(op.opts["new_shape"], np.int64)
            if -1 in shape:
                raise NotImplementedError("add_batch_axis: RESHAPE with -1")
            if len(shape) and shape[0] == 1:  # the graph's own batch axis: merge ours into it
                new = np.concatenate([[-1], shape[1:]])
                out_lifted = False
            else:
                new = np.concatenate([[-1], shape])
            new = new.astype(np.int32)
            if len(op.inputs) > 1 and op.inputs[1] >= 0:
                op.inputs[1] = new_const(new, op.inputs[1])
            if "new_shape" in op.opts:
                op.opts["new_shape"] = new
        elif k == "GATHER":
            if op.opts["batch_dims"] or op.inputs[1] in lifted:
                raise NotImplementedError("add_batch_axis: GATHER batch_dims or data indices")
            if op.opts["axis"] >= 0:
                op.opts["axis"] += 1
        elif k == "PAD":
            pads = const(op.inputs[1])
            op.inputs[1] = new_const(np.concatenate([np.zeros((1, 2), pads.dtype), pads]),
                                     op.inputs[1])
        elif k == "FULLY_CONNECTED":
            op.opts["keep_num_dims"] = True  # [B, ..., K] -> [B, ..., N]; was [..., K] -> [..., N]
        else:
            raise NotImplementedError(f"add_batch_axis: {k}")
        ops.append(op)
        (lifted if out_lifted else merged).update(op.outputs)
    return replace(model, tensors=tensors, ops=ops)


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
    if k == "SOFTMAX":
        e = np.exp(o["beta"] * (x - x.max(axis=-1, keepdims=True)))
        return [e / e.sum(axis=-1, keepdims=True)]
    if k == "LOG":
        return [np.log(x)]
    if k == "COMPLEX_ABS":
        return [np.abs(x)]
    if k in ("QUANTIZE", "DEQUANTIZE"):  # values are real numbers here; see run_numpy
        return [np.asarray(x, dtype=np.float64)]
    reducers = {"MEAN": np.mean, "REDUCE_MIN": np.min, "REDUCE_MAX": np.max, "REDUCE_PROD": np.prod}
    if k in reducers:
        axes = tuple(sorted({int(v) % x.ndim for v in np.ravel(a[1])}))
        return [reducers[k](x, axis=axes, keepdims=o["keep_dims"]).astype(x.dtype)]
    if k == "SHAPE":
        return [np.array(x.shape, dtype=out_dtypes[0])]
    if k == "SPLIT":
        axis = int(np.ravel(x)[0]) % a[1].ndim
        return np.split(a[1], len(op.outputs), axis=axis)
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
        dims = ([int(d) % x.ndim for d in o["squeeze_dims"]]
                or [i for i, d in enumerate(x.shape) if d == 1])
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


def np_requantize(x: np.ndarray, q: Quant) -> np.ndarray:
    """Round to the tensor's integer grid and clamp to its type, as ONNX QuantizeLinear
    (half to even) followed by DequantizeLinear."""
    info = np.iinfo(q.qtype)
    scale, zp = float(q.scale[0]), int(q.zero_point[0])
    return (np.clip(np.round(x / scale) + zp, info.min, info.max) - zp) * scale


def run_numpy(model: TfliteModel, audio: np.ndarray,
              requantize: bool = False) -> dict[int, np.ndarray]:
    """Every tensor's value for the input `audio` (batch first); floats in float64. With
    `requantize` (a `dequantize`d model), quantised activations are rounded to their
    integer grid after each op."""
    def f64(a):
        return a.astype(np.float64) if a.dtype == np.float32 else a
    vals = {t.index: f64(t.data) for t in model.tensors if t.data is not None}
    vals[model.inputs[0]] = np.asarray(audio, dtype=np.float64)
    for op in model.ops:
        outs = np_op(op, [vals.get(i) if i >= 0 else None for i in op.inputs],
                     [model.tensors[i].dtype for i in op.outputs])
        for i, v in zip(op.outputs, outs):
            t = model.tensors[i]
            if requantize and is_quantized_activation(t):
                v = np_requantize(v, t.quant)
            vals[i] = v
    return vals


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
    complex: bool  # an FFT's value: `matrix` gives its real part, `imag` its imaginary part
    imag: np.ndarray | None = None  # float64 [K, N], complex values only
    # A consumer that folds it leaves the entry, so other consumers can still materialise it.


class Emitter:
    def __init__(self, model: TfliteModel, vals1: dict, vals2: dict, requantize: bool = False,
                 int8_weights: bool = False):
        from onnx import helper, numpy_helper
        self.requantize, self.int8_weights = requantize, int8_weights
        self.requantized = 0
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
            name = (f"c{len(self.consts)}_{key[0]}" if isinstance(key, tuple)
                    else f"c{len(self.consts)}_{key}")
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
            raise NotImplementedError(
                f"tensor {t} {self.m.tensors[t].name}: batch-dependent constant")
        return a

    def fconst(self, t: int, transform=None, tag: str = "") -> str:
        """Float32 initializer of a constant tensor, optionally transformed."""
        name = self.m.tensors[t].name.split(";")[0].replace("model/", "")
        tensor = self.m.tensors[t]
        if self.int8_weights and tensor.qdata is not None:
            return self.qconst(t, name, transform, tag)
        a = self.static(t).astype(np.float32)
        return self.const((f"{name}{tag}", t, tag), transform(a) if transform else a)

    def qconst(self, t: int, name: str, transform, tag: str) -> str:
        """The file's integers as an initializer and a DequantizeLinear (per channel where
        TFLite's scales are): what ONNX Runtime fuses into integer kernels (QLinearConv,
        QGemm) between the activations' Q/DQ pairs."""
        tensor = self.m.tensors[t]
        q = tensor.quant
        data = tensor.qdata
        axis = None
        if len(q.scale) > 1:  # where does the channel axis go under `transform`?
            shape = [1] * data.ndim
            shape[q.axis] = len(q.scale)
            marker = np.broadcast_to(np.arange(len(q.scale)).reshape(shape), data.shape)
            moved = transform(marker) if transform else marker
            axis = [a for a in range(moved.ndim) if moved.shape[a] == len(q.scale)
                    and np.array_equal(np.moveaxis(moved, a, 0).reshape(len(q.scale), -1)[:, 0],
                                       np.arange(len(q.scale)))][0]
        ints = transform(data) if transform else data
        key = f"{name}{tag}"
        qname = self.const((key, t, tag, "q"), np.ascontiguousarray(ints))
        scale = self.const((key + "/scale", t, tag), q.scale.astype(np.float32) if axis is not None
                           else np.array(q.scale[0], np.float32))
        zp = (q.zero_point.astype(data.dtype) if axis is not None
              else np.array(q.zero_point[0], data.dtype))
        zname = self.const((key + "/zero_point", t, tag), zp)
        attrs = {"axis": int(axis)} if axis is not None else {}
        return self.node("DequantizeLinear", [qname, scale, zname], qname + "/dq", **attrs)

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
        if ((d.src_shapes[0][:-1], d.src_shapes[1][:-1])
                != (self.shape(t)[:-1], self.shape(t, True)[:-1])):
            y = self.node("Reshape", [y, self.ints(self.reshape_target(t))], self.vname(t))
        self.set_out(t, y)

    def apply_matrix(self, d: Deferred, out: str, key) -> str:
        """src @ matrix. A full matrix is applied as (x - x0) @ M + x0 * colsum(M), x0 = the
        first element of each row: exact for constant rows (digital silence, zero padding),
        where TFLite's FFT gives exact zeros but a plain float32 MatMul leaves ~1e-6 of
        rounding noise (BirdNET's |x|^0.46 magnitude compression lifts that to ~2e-3)."""
        key = key or (out, "matrix")
        if d.matrix.ndim == 1:
            return self.node("Mul", [d.src, self.const(key, d.matrix.astype(np.float32))], out)
        x0 = self.node("Slice", [d.src, self.ints([0]), self.ints([1]), self.ints([-1])],
                       out + "/x0")
        dx = self.node("Sub", [d.src, x0], out + "/dx")
        y = self.node("MatMul", [dx, self.const(key, d.matrix.astype(np.float32))], out + "/dx_m")
        colsum = d.matrix.sum(axis=0, keepdims=True).astype(np.float32)
        y0 = self.node("MatMul", [x0, self.const((key[0] + "/colsum",) + tuple(key[1:]), colsum)],
                       out + "/x0_m")
        return self.node("Add", [y, y0], out)

    def nhwc(self, t: int) -> str:
        self.materialise(t)
        if self.layout[t] == "nhwc":
            return self.names[t]
        key = (t, "nhwc")
        if key not in self.converted:
            self.converted[key] = self.node("Transpose", [self.names[t]], f"t{t}/nhwc",
                                            perm=list(NCHW_TO_NHWC))
        return self.converted[key]

    def nchw(self, t: int) -> str:
        self.materialise(t)
        if self.layout[t] == "nchw":
            return self.names[t]
        if len(self.shape(t)) != 4:
            raise NotImplementedError(f"tensor {t}: NCHW of rank {len(self.shape(t))}")
        key = (t, "nchw")
        if key not in self.converted:
            self.converted[key] = self.node("Transpose", [self.names[t]], f"t{t}/nchw",
                                            perm=list(NHWC_TO_NCHW))
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
        if self.requantize:
            for t in op.outputs:
                if self.needs_requant(op, t):
                    self.requant(t)

    def needs_requant(self, op: Op, t: int) -> bool:
        q = self.m.tensors[t].quant
        if not is_quantized_activation(self.m.tensors[t]):
            return False
        if op.kind in DATA_MOVEMENT:
            qin = self.m.tensors[op.inputs[0 if op.kind != "SPLIT" else 1]].quant
            if qin is not None and np.array_equal(qin.scale, q.scale) and np.array_equal(
                    qin.zero_point, q.zero_point) and qin.qtype == q.qtype:
                return False
        return True

    def requant(self, t: int) -> None:
        """QuantizeLinear -> DequantizeLinear with the tensor's TFLite scale and zero point."""
        q = self.m.tensors[t].quant
        self.materialise(t)
        scale = self.const(("qscale", float(q.scale[0])), np.array(q.scale[0], np.float32))
        zp_type = np.int8 if q.qtype == np.int8 else np.uint8
        zp = self.const(("qzero", zp_type.__name__, int(q.zero_point[0])),
                        np.array(q.zero_point[0], zp_type))
        name = self.vname(t)
        y = self.node("QuantizeLinear", [self.names[t], scale, zp], name + "/q")
        y = self.node("DequantizeLinear", [y, scale, zp], name + "/dq")
        self.set_out(t, y, self.layout[t])
        self.requantized += 1

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
                    self.deferred[out] = Deferred(self.names[x],
                                                  (self.shape(x), self.shape(x, True)), c, False)
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
        y = self.node("Sigmoid", [self.names[x]], self.vname(op.outputs[0]))
        self.set_out(op.outputs[0], y, self.layout[x])

    def op_softmax(self, op):
        """Over TFLite's last axis (channels: axis 1 when the value is held as NCHW)."""
        x = op.inputs[0]
        self.materialise(x)
        y = self.names[x]
        if op.opts["beta"] != 1.0:
            beta = float(op.opts["beta"])
            y = self.node("Mul", [y, self.const(("beta", beta), np.array(beta, np.float32))],
                          self.vname(op.outputs[0]) + "/beta")
        rank = len(self.shape(x))
        axis = AXIS_TO_NCHW[3] if self.layout[x] == "nchw" and rank == 4 else -1
        y = self.node("Softmax", [y], self.vname(op.outputs[0]), axis=axis)
        self.set_out(op.outputs[0], y, self.layout[x])

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
                y = self.node(onnx_type, [self.names[x]], self.vname(out), axes=sorted(mapped),
                              keepdims=keep)
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
            self.deferred[out] = replace(self.deferred[x], complex=False, imag=None)  # real part
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
        phase = 2 * np.pi * (np.outer(np.arange(n), k) % n) / n  # exact phase, float64
        cos, sin = np.cos(phase), -np.sin(phase)  # X[k] = sum x[n] (cos - i sin)

        def fold(m, dft):
            return dft if m is None else (m[:, None] * dft if m.ndim == 1 else m @ dft)
        d = self.deferred.get(x)
        if d is None:
            d = Deferred(self.nhwc(x), (self.shape(x), self.shape(x, True)), cos, False)
            imag = sin
        else:
            imag = fold(d.matrix, sin)
            d = replace(d, matrix=fold(d.matrix, cos))
        self.deferred[out] = replace(d, complex=True, imag=imag)
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
            y = self.apply_matrix(replace(d, matrix=mat), name + "/folded",
                                  (wname + "/folded", op.index))
            if bias is not None:
                y = self.node("Add", [y, self.fconst(bias)], name + "/bias")
            if (d.src_shapes[0][:-1] != self.shape(out)[:-1]
                    or len(d.src_shapes[0]) != len(self.shape(out))):
                y = self.node("Reshape", [y, self.ints(self.reshape_target(out))],
                              name + "/reshape")
        else:
            xin = self.nhwc(x)
            if len(self.shape(x)) != 2 and not op.opts["keep_num_dims"]:
                xin = self.node("Reshape", [xin, self.ints([-1, w.shape[1]])], name + "/flat")
            if len(self.shape(out)) == 2:
                ins = ([xin, self.fconst(op.inputs[1])]
                       + ([self.fconst(bias)] if bias is not None else []))
                y = self.node("Gemm", ins, name + "/gemm", transB=1)
            else:
                weight_t = self.fconst(op.inputs[1], lambda a: a.T.copy(), "/T")
                y = self.node("MatMul", [xin, weight_t], name + "/matmul")
                if bias is not None:
                    y = self.node("Add", [y, self.fconst(bias)], name + "/bias")
        if act:
            y = self.activation(y, act, name)
        self.set_out(out, y)

    def op_log(self, op):
        x = op.inputs[0]
        self.materialise(x)
        y = self.node("Log", [self.names[x]], self.vname(op.outputs[0]))
        self.set_out(op.outputs[0], y, self.layout[x])

    def op_complex_abs(self, op):
        """|FFT| = sqrt(re^2 + im^2), re and im each one MatMul of the deferred source."""
        x, out = op.inputs[0], op.outputs[0]
        d = self.deferred.get(x)
        if d is None or not d.complex or d.imag is None:
            raise NotImplementedError(f"COMPLEX_ABS {op.index} of a value that is not a folded FFT")
        name = self.vname(out)
        re_ = self.apply_matrix(replace(d, imag=None), name + "/re", (name + "/re", "matrix"))
        im = self.apply_matrix(replace(d, matrix=d.imag, imag=None), name + "/im",
                               (name + "/im", "matrix"))
        sq = self.node("Add", [self.node("Mul", [re_, re_], name + "/re2"),
                               self.node("Mul", [im, im], name + "/im2")], name + "/power")
        y = self.node("Sqrt", [sq], name)
        if ((d.src_shapes[0][:-1], d.src_shapes[1][:-1])
                != (self.shape(out)[:-1], self.shape(out, True)[:-1])):
            y = self.node("Reshape", [y, self.ints(self.reshape_target(out))], name + "/reshape")
        self.set_out(out, y)

    def _identity(self, op):
        """QUANTIZE / DEQUANTIZE: the values are real numbers already (see `dequantize`);
        with `requantize`, emit() adds the Q/DQ pair of a quantised output."""
        x = op.inputs[0]
        self.materialise(x)
        self.set_out(op.outputs[0], self.names[x], self.layout[x])

    op_quantize = op_dequantize = _identity

    def op_split(self, op):
        axis_t, x = op.inputs
        rank = len(self.shape(x))
        axis = int(np.ravel(self.static(axis_t))[0]) % rank
        if len(op.outputs) == 1:
            self.materialise(x)
            self.set_out(op.outputs[0], self.names[x], self.layout[x])
            return
        self.materialise(x)
        layout = self.layout[x]
        onnx_axis = AXIS_TO_NCHW[axis] if layout == "nchw" else axis
        n = self.shape(x)[axis] // len(op.outputs)
        outs = [self.vname(t) for t in op.outputs]
        self.nodes.append(self.helper.make_node("Split",
                                                [self.names[x], self.ints([n] * len(outs))], outs,
                                                name=outs[0] + "/split", axis=onnx_axis))
        for t, name in zip(op.outputs, outs):
            self.set_out(t, name, layout)

    def op_reverse_v2(self, op):
        x, out = op.inputs[0], op.outputs[0]
        y = self.nhwc(x)
        rank = len(self.shape(x))
        axes = sorted({int(v) % rank for v in np.ravel(self.static(op.inputs[1]))})
        for k, axis in enumerate(axes):
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
                sl = slice(None if o["begin_mask"] >> i & 1 else b,
                           None if o["end_mask"] >> i & 1 else e, s)
                out_ranges.append(sl.indices(shape[i]))
            return out_ranges

        r1, r2 = ranges(self.v1, self.shape(x)), ranges(self.v2, self.shape(x, True))
        starts, ends, axes, steps = [], [], [], []
        for i, (a, b) in enumerate(zip(r1, r2)):
            if a == (0, self.shape(x)[i], 1) and b == (0, self.shape(x, True)[i], 1):
                continue  # the whole axis
            if a != b:
                raise NotImplementedError(
                    f"STRIDED_SLICE {op.index}: batch-dependent range on axis {i}")
            start, stop, step = a
            starts.append(start)
            ends.append(INT64_MIN if step < 0 and stop < 0 else stop)
            axes.append(i)
            steps.append(step)
        y = self.nhwc(x)
        if axes:
            bounds = [self.ints(starts), self.ints(ends), self.ints(axes), self.ints(steps)]
            y = self.node("Slice", [y, *bounds], self.vname(out) + "/slice")
        if o["shrink_axis_mask"]:
            y = self.node("Reshape", [y, self.ints(self.reshape_target(out))], self.vname(out))
        self.set_out(out, y)

    def op_pad(self, op):
        x, out = op.inputs[0], op.outputs[0]
        pads = self.static(op.inputs[1]).astype(np.int64)  # [rank, 2]
        d = self.deferred.get(x)
        if d is not None and not d.complex and not pads[:-1].any():
            # zeros around the last axis of src @ M: src @ [0 | M | 0], still one matrix
            m = np.diag(d.matrix) if d.matrix.ndim == 1 else d.matrix
            before, after = (int(v) for v in pads[-1])
            m = np.concatenate([np.zeros((m.shape[0], before)), m, np.zeros((m.shape[0], after))],
                               axis=1)
            self.deferred[out] = replace(d, matrix=m)
            return
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
    def build(self, input_name: str, output_name: str, graph_name: str, producer_name: str,
              doc_string: str):
        from onnx import TensorProto
        helper = self.helper
        (inp,), (outp,) = self.m.inputs, self.m.outputs
        self.set_out(inp, input_name)
        for op in self.m.ops:
            self.emit(op)
        y = self.nhwc(outp)
        producers = [n for n in self.nodes if y in n.output]
        consumers = [n for n in self.nodes if y in n.input]
        if producers and not consumers and producers[0].op_type != "Split":
            producers[0].output[0] = output_name
            producers[0].name = output_name
        else:
            self.node("Identity", [y], output_name)
        graph = helper.make_graph(
            self.nodes, graph_name,
            [helper.make_tensor_value_info(input_name, TensorProto.FLOAT,
                                           ["batch", *self.shape(inp)[1:]])],
            [helper.make_tensor_value_info(output_name, TensorProto.FLOAT,
                                           ["batch", *self.shape(outp)[1:]])],
            initializer=self.inits)
        model = helper.make_model(graph, producer_name=producer_name, producer_version="1",
                                  opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8
        model.doc_string = doc_string
        return model


def build_onnx(model: TfliteModel, vals1: dict, vals2: dict, *, input_name: str, output_name: str,
               graph_name: str, producer_name: str, doc_string: str, requantize: bool = False,
               int8_weights: bool = False):
    """The ONNX model (checked with onnx.checker) and its Emitter (for statistics)."""
    import onnx
    em = Emitter(model, vals1, vals2, requantize=requantize, int8_weights=int8_weights)
    onnx_model = em.build(input_name, output_name, graph_name, producer_name, doc_string)
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model, em


def top_k(probs: np.ndarray, k: int) -> list[int]:
    """Indices of the k largest values, best first; ties in index order (stable)."""
    return [int(i) for i in np.argsort(-np.asarray(probs), kind="stable")[:k]]

