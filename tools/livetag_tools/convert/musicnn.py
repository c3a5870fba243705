"""Convert the pretrained musicnn model from the PyPI wheel `musicnn==0.1.0` into a livetag
model bundle, without TensorFlow.

    # from tools/:
    python -m livetag_tools.convert.musicnn --out ../models/musicnn-mtt \
        [--model MTT_musicnn] [--wheel PATH]

What it does
------------
1. Gets the wheel: `--wheel PATH`, or `pip download --no-deps musicnn==0.1.0` into a cache
   folder (`wheels/` in livetag's cache: `$LIVETAG_CACHE_DIR`, `$XDG_CACHE_HOME/livetag` or
   `~/.cache/livetag`). The wheel's sha256 is checked.
2. Reads the TF1 checkpoint inside it (`musicnn/<model>/.index`, an SSTable of
   BundleEntryProto records, and `.data-00000-of-00001`, raw little-endian tensors) with
   NumPy and a ~40-line protobuf/SSTable reader; each tensor's crc32c is verified.
3. Rebuilds `build_musicnn()` of the wheel's `musicnn/models.py` as an ONNX graph (opset 17)
   with `onnx.helper`: input batch norm; timbral convs 7x38 and 7x67 (time padded 3+3 with
   zeros *after* the batch norm, frequency "valid") and temporal convs 128x1, 64x1, 32x1
   (TF "same": pad (k-1)//2 before, k//2 after); each conv -> ReLU -> batch norm -> max over
   frequency; 561 channels -> three 7-tap dense convs (64 filters) with residuals; concat of
   [front-end, cnn1, cnn2, cnn3] (753) -> max and mean over time, interleaved as TF's
   flatten of [753, 2] does -> batch norm -> dense 200 ReLU -> batch norm -> dense 50.
   Batch norms use the moving statistics (inference) and TF's epsilon 0.001.
4. Writes the bundle: model.onnx, labels.txt, LICENSE, bundle.toml and reference/
   (input.wav: a synthesised whistle of exactly 187 frames, 47616 samples at 16 kHz;
   expected.json: this ONNX model's probabilities on librosa features computed as musicnn's
   extractor computes them).
5. Parity: the ONNX graph against an independent NumPy forward pass of the same checkpoint,
   at 187 frames and other lengths; and, when `tests/fixtures/musicnn/*.expected.json`
   exist (written by `python -m livetag_tools.reference.musicnn` with musicnn's own
   TensorFlow pipeline),
   against TensorFlow's probabilities. It exits non-zero if a check fails.

ONNX signature: input `melspectrogram` float32 [batch, time, 96] (both symbolic), outputs
`probabilities` (sigmoid) and `logits`, float32 [batch, 50]. Any time >= 1 runs: every conv
keeps the time length (explicit zero padding), all pooling over frequency is over a fixed
width and all pooling over time is global. The model was trained on 187 frames (~3 s);
shorter windows give valid but different scores (see `--min-frames`).

Front-end (musicnn/extractor.py, librosa defaults): mono 16 kHz; STFT n_fft 512, periodic
Hann, hop 256, center=True (librosa >= 0.10 pads zeros); power 2; 96 Slaney mel bands
0-8000 Hz, Slaney norm; cast to float16; then log10(10000 * x + 1). musicnn 0.1.0 does the
last step on the float16 array, which NumPy 1 promoted to float32 but NumPy >= 2 keeps in
float16 (overflow to inf above 6.55); we cast to float32 first (NumPy 1 behaviour).

Deterministic: the ONNX file depends only on the wheel's bytes (no timestamps, no random
numbers, initializers in a fixed order), so two runs give byte-identical model.onnx (checked
with sha256: 387fe1f6bebd3e48f77cb8edeb8249c2edda12ac1516dd58d57b888ba1659bd4 for MTT_musicnn
with onnx 1.23.2). The reference wav comes from a fixed-seed generator and is written without
libsndfile's timestamped PEAK chunk, so it is byte-identical too; expected.json could differ
between ONNX Runtime builds/CPUs in the last bits of float32 only.

Needs the `models` extra (numpy, onnx, onnxruntime, librosa, soundfile: `tools/venv.sh
models`); no TF.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np

from livetag_tools.common.bundle import BundleToml, Note, write_bundle_files
from livetag_tools.common.cache import repo_root
from livetag_tools.common.clips import synth_whistle
from livetag_tools.common.fetch import fetch_wheel, sha256_bytes
from livetag_tools.common.onnx_session import make_session
from livetag_tools.common.wav import float32_wav

WHEEL_NAME = "musicnn-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa"
# musicnn/models.py in that wheel; the graph below mirrors build_musicnn() in this file.
MODELS_PY_SHA256 = "ca0a4e64b33fa79ef716d56188202cfdb31c123fa5721addb1e295405b671cf8"

SR = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
N_FRAMES = 187  # librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1
BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization default
OPSET = 17
REFERENCE_SAMPLES = (N_FRAMES - 1) * HOP  # 47616: exactly 187 frames with center=True
TOLERANCE = 1e-4

ROOT = repo_root()


# --------------------------------------------------------------------------------------
# Wheel
# --------------------------------------------------------------------------------------

class Wheel:
    def __init__(self, path: Path):
        self.zip = zipfile.ZipFile(path)

    def read(self, name: str) -> bytes:
        return self.zip.read(name)

    def text(self, name: str) -> str:
        return self.read(name).decode("utf-8")

    def labels(self, model: str) -> list[str]:
        """MTT_LABELS / MSD_LABELS from musicnn/configuration.py, without importing it."""
        import ast
        tree = ast.parse(self.text("musicnn/configuration.py"))
        want = "MTT_LABELS" if model.startswith("MTT") else "MSD_LABELS"
        for node in tree.body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == want:
                return list(ast.literal_eval(node.value))
        raise KeyError(want)

    def licence(self) -> tuple[str, str]:
        for name in self.zip.namelist():
            base = name.rsplit("/", 1)[-1]
            if ".dist-info/" in name and base.upper().startswith(("LICENSE", "LICENCE", "COPYING")):
                return self.text(name), name
        meta = next(n for n in self.zip.namelist() if n.endswith(".dist-info/METADATA"))
        for line in self.text(meta).splitlines():
            if line.startswith("License:"):
                return line.split(":", 1)[1].strip() + "\n", meta + " (License: field)"
        raise KeyError("no licence in wheel")


# --------------------------------------------------------------------------------------
# TF1 checkpoint (tensor bundle) reader
# --------------------------------------------------------------------------------------

def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, pos


def _sstable_block(buf: bytes, offset: int, size: int):
    """Entries of one LevelDB-format block (prefix-compressed keys, restart array at end)."""
    if buf[offset + size] != 0:
        raise ValueError("compressed checkpoint index blocks are not supported")
    block = buf[offset:offset + size]
    restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * restarts
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        yield key, block[pos:pos + value_len]
        pos += value_len


def _proto_fields(buf: bytes):
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value = buf[pos:pos + length]
            pos += length
        elif wire == 5:
            value = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        else:
            raise ValueError(f"protobuf wire type {wire}")
        yield field, value


_CRC32C_TABLE = None


def crc32c(data: bytes) -> int:
    global _CRC32C_TABLE
    if _CRC32C_TABLE is None:
        table = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            table.append(c)
        _CRC32C_TABLE = table
    table, crc = _CRC32C_TABLE, 0xFFFFFFFF
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TF stores crc32c::Mask(crc32c(data)) in BundleEntryProto.crc32c."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64, 10: np.bool_}


class Checkpoint:
    """TF tensor bundle: `.index` maps names to BundleEntryProto
    {1 dtype, 2 shape, 3 shard_id, 4 offset, 5 size, 6 crc32c}; `.data-00000-of-00001`."""

    def __init__(self, index: bytes, data: bytes):
        self.data = data
        self.entries: dict[str, dict] = {}
        self.cache: dict[str, np.ndarray] = {}
        footer = index[-48:]
        if footer[-8:] != struct.pack("<Q", 0xDB4775248B80FB57):
            raise ValueError("not a TF checkpoint index (bad SSTable magic)")
        pos = 0
        for _ in range(2):  # metaindex handle, then index handle
            block_offset, pos = _varint(footer, pos)
            block_size, pos = _varint(footer, pos)
        for _, handle in _sstable_block(index, block_offset, block_size):
            offset, p = _varint(handle, 0)
            size, _ = _varint(handle, p)
            for key, value in _sstable_block(index, offset, size):
                if key == b"":
                    continue  # BundleHeaderProto
                entry = {"dtype": 0, "shape": [], "shard": 0, "offset": 0, "size": 0, "crc": None}
                for field, v in _proto_fields(value):
                    if field == 1:
                        entry["dtype"] = v
                    elif field == 2:
                        entry["shape"] = [dict(_proto_fields(d)).get(1, 0)
                                          for f, d in _proto_fields(v) if f == 2]
                    elif field == 3:
                        entry["shard"] = v
                    elif field == 4:
                        entry["offset"] = v
                    elif field == 5:
                        entry["size"] = v
                    elif field == 6:
                        entry["crc"] = v
                    elif field == 7:
                        raise ValueError(f"{key!r}: sliced tensors are not supported")
                self.entries[key.decode()] = entry

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.cache:
            self.cache[name] = self._read(name)
        return self.cache[name]

    def _read(self, name: str) -> np.ndarray:
        e = self.entries[name]
        if e["shard"] != 0:
            raise ValueError(f"{name}: shard {e['shard']}")
        raw = self.data[e["offset"]:e["offset"] + e["size"]]
        if e["crc"] is not None and masked_crc32c(raw) != e["crc"]:
            raise ValueError(f"{name}: crc32c mismatch")
        dtype = np.dtype(_DTYPES[e["dtype"]]).newbyteorder("<")
        return np.frombuffer(raw, dtype=dtype).reshape(e["shape"]).astype(dtype.type)


def load_checkpoint(wheel: Wheel, model: str) -> Checkpoint:
    base = f"musicnn/{model}/"
    return Checkpoint(wheel.read(base + ".index"), wheel.read(base + ".data-00000-of-00001"))


# --------------------------------------------------------------------------------------
# The network (musicnn/models.py: build_musicnn, MTT/MSD_musicnn: 64 mid-end filters,
# 200 back-end units). Layer names are TF's auto-generated ones, in creation order.
# --------------------------------------------------------------------------------------

FRONT_CONVS = [  # (tf layer, bn layer, kind)
    ("conv2d", "batch_normalization_1", "timbral"),     # 7 x int(0.4*96)=38, 204 filters
    ("conv2d_1", "batch_normalization_2", "timbral"),   # 7 x int(0.7*96)=67, 204 filters
    ("conv2d_2", "batch_normalization_3", "temporal"),  # 128 x 1, 51 filters, "same"
    ("conv2d_3", "batch_normalization_4", "temporal"),  # 64 x 1
    ("conv2d_4", "batch_normalization_5", "temporal"),  # 32 x 1
]
MID_CONVS = [("conv2d_5", "batch_normalization_6"), ("conv2d_6", "batch_normalization_7"),
             ("conv2d_7", "batch_normalization_8")]


def bn_affine(ck: Checkpoint, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Inference batch norm as y = x * scale + shift (computed in float64, stored float32)."""
    gamma = ck[f"{name}/gamma"].astype(np.float64)
    beta = ck[f"{name}/beta"].astype(np.float64)
    mean = ck[f"{name}/moving_mean"].astype(np.float64)
    var = ck[f"{name}/moving_variance"].astype(np.float64)
    scale = gamma / np.sqrt(var + BN_EPS)
    return scale.astype(np.float32), (beta - mean * scale).astype(np.float32)


def time_pads(kind: str, k: int) -> tuple[int, int]:
    """Zero padding (before, after) on the time axis. Timbral and mid-end convs pad 3+3 then
    use "valid"; the temporal convs use TF "same": (k-1)//2 before, k//2 after."""
    if kind == "temporal":
        return (k - 1) // 2, k // 2
    return 3, 3


def build_onnx(ck: Checkpoint, model: str, n_labels: int):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits: list = []
    nodes: list = []

    def const(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op: str, inputs: list[str], name: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def bn(x: str, layer: str, shape: tuple[int, ...], tag: str) -> str:
        scale, shift = bn_affine(ck, layer)
        s = const(f"{layer}/scale", scale.reshape(shape))
        b = const(f"{layer}/shift", shift.reshape(shape))
        return node("Add", [node("Mul", [x, s], f"{tag}/bn_mul"), b], f"{tag}/bn")

    axes = lambda name, values: const(name, np.array(values, dtype=np.int64))  # noqa: E731

    # input batch norm (one channel) on [B, T, 96], then NCHW [B, 1, T, 96]
    x = bn("melspectrogram", "batch_normalization", (), "input")
    x4 = node("Unsqueeze", [x, axes("axes_1", [1])], "input/nchw")

    fronts = []
    for i, (conv, bnl, kind) in enumerate(FRONT_CONVS):
        w = ck[f"{conv}/kernel"]  # [kh, kw, 1, out]
        kh = w.shape[0]
        before, after = time_pads(kind, kh)
        wt = const(f"{conv}/kernel", w.transpose(3, 2, 0, 1))  # [out, 1, kh, kw]
        bias = const(f"{conv}/bias", ck[f"{conv}/bias"])
        tag = f"front{i}"
        y = node("Conv", [x4, wt, bias], f"{tag}/conv", kernel_shape=[kh, w.shape[1]],
                 pads=[before, 0, after, 0], strides=[1, 1], dilations=[1, 1])
        y = node("Relu", [y], f"{tag}/relu")
        y = bn(y, bnl, (1, -1, 1, 1), tag)
        # max_pooling2d over the whole remaining frequency axis, then squeeze
        fronts.append(node("ReduceMax", [y], f"{tag}/maxfreq", axes=[3], keepdims=0))
    front = node("Concat", fronts, "frontend", axis=1)  # [B, 561, T]

    feats = [front]
    h = front
    residual = None
    for i, (conv, bnl) in enumerate(MID_CONVS):
        w = ck[f"{conv}/kernel"]  # [7, C_in, 1, 64]: a 1-D conv with C_in channels
        wt = const(f"{conv}/kernel", w[:, :, 0, :].transpose(2, 1, 0))  # [64, C_in, 7]
        bias = const(f"{conv}/bias", ck[f"{conv}/bias"])
        tag = f"mid{i}"
        y = node("Conv", [h, wt, bias], f"{tag}/conv", kernel_shape=[w.shape[0]], pads=[3, 3],
                 strides=[1], dilations=[1])
        y = node("Relu", [y], f"{tag}/relu")
        y = bn(y, bnl, (1, -1, 1), tag)
        if residual is not None:
            y = node("Add", [y, residual], f"{tag}/res")
        residual = h = y
        feats.append(y)
    mid = node("Concat", feats, "midend", axis=1)  # [B, 753, T]

    # back-end: max and mean over time, concat on a new last axis, flatten (interleaved)
    mx = node("ReduceMax", [mid], "back/max", axes=[2], keepdims=1)
    mean = node("ReduceMean", [mid], "back/mean", axes=[2], keepdims=1)
    pool = node("Concat", [mx, mean], "back/pool", axis=2)  # [B, 753, 2]
    flat = node("Flatten", [pool], "back/flat", axis=1)  # [B, 1506]
    flat = bn(flat, "batch_normalization_9", (1, -1), "back/flat")
    d = node("MatMul", [flat, const("dense/kernel", ck["dense/kernel"])], "back/dense")
    d = node("Add", [d, const("dense/bias", ck["dense/bias"])], "back/dense_bias")
    d = node("Relu", [d], "back/dense_relu")
    d = bn(d, "batch_normalization_10", (1, -1), "back/dense")
    out = node("MatMul", [d, const("dense_1/kernel", ck["dense_1/kernel"])], "back/out")
    nodes.append(helper.make_node("Add", [out, const("dense_1/bias", ck["dense_1/bias"])],
                                  ["logits"], name="logits"))
    nodes.append(helper.make_node("Sigmoid", ["logits"], ["probabilities"], name="probabilities"))

    graph = helper.make_graph(
        nodes, model.lower().replace("_", "-"),
        [helper.make_tensor_value_info("melspectrogram", TensorProto.FLOAT,
                                       ["batch", "time", N_MELS])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", n_labels]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", n_labels])],
        initializer=inits)
    # The producer keeps the converter's first name: it is part of model.onnx's bytes, and
    # the committed bundle must rebuild byte for byte.
    m = helper.make_model(graph, producer_name="livetag convert_musicnn.py",
                          producer_version="1", opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    m.doc_string = (f"musicnn {model} (musicnn 0.1.0, MTG-UPF, ISC), converted from the TF1 "
                    "checkpoint without TensorFlow. Input: log10(10000*mel+1) [batch, time, 96].")
    onnx.checker.check_model(m, full_check=True)
    return m


# --------------------------------------------------------------------------------------
# Independent NumPy forward pass (for checking the ONNX graph)
# --------------------------------------------------------------------------------------

def numpy_forward(ck: Checkpoint, mel: np.ndarray) -> np.ndarray:
    """Logits for mel [B, T, 96], following models.py in TF's NHWC layout, float64."""
    f64 = lambda a: np.asarray(a, dtype=np.float64)  # noqa: E731

    def bn(x, layer):
        g, b = f64(ck[f"{layer}/gamma"]), f64(ck[f"{layer}/beta"])
        m, v = f64(ck[f"{layer}/moving_mean"]), f64(ck[f"{layer}/moving_variance"])
        return (x - m) / np.sqrt(v + BN_EPS) * g + b

    def conv_valid(x, w):  # x [B, H, W, C], w [kh, kw, C, O] -> [B, H-kh+1, W-kw+1, O]
        kh, kw = w.shape[:2]
        win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))  # B,H',W',C,kh,kw
        return np.einsum("bhwcij,ijco->bhwo", win, w, optimize=True)

    x = bn(f64(mel)[..., None], "batch_normalization")  # [B, T, 96, 1]
    outs = []
    for conv, bnl, kind in FRONT_CONVS:
        w = f64(ck[f"{conv}/kernel"])
        before, after = time_pads(kind, w.shape[0])
        xp = np.pad(x, [(0, 0), (before, after), (0, 0), (0, 0)])
        y = np.maximum(conv_valid(xp, w) + f64(ck[f"{conv}/bias"]), 0)
        outs.append(bn(y, bnl).max(axis=2))  # [B, T, C]
    h = np.concatenate(outs, axis=2)
    feats, residual = [h], None
    for conv, bnl in MID_CONVS:
        w = f64(ck[f"{conv}/kernel"])[:, :, 0, :]  # [7, C, 64]
        hp = np.pad(h, [(0, 0), (3, 3), (0, 0)])
        win = np.lib.stride_tricks.sliding_window_view(hp, 7, axis=1)  # B, T, C, 7
        y = np.einsum("btck,kco->bto", win, w, optimize=True) + f64(ck[f"{conv}/bias"])
        y = np.maximum(y, 0)
        y = bn(y, bnl)
        if residual is not None:
            y = y + residual
        residual = h = y
        feats.append(y)
    mid = np.concatenate(feats, axis=2)  # [B, T, 753]
    pool = np.stack([mid.max(axis=1), mid.mean(axis=1)], axis=2).reshape(mid.shape[0], -1)
    d = bn(pool, "batch_normalization_9") @ f64(ck["dense/kernel"]) + f64(ck["dense/bias"])
    d = bn(np.maximum(d, 0), "batch_normalization_10")
    return d @ f64(ck["dense_1/kernel"]) + f64(ck["dense_1/bias"])


# --------------------------------------------------------------------------------------
# Front-end and test audio (shared with livetag_tools.reference.musicnn)
# --------------------------------------------------------------------------------------

def musicnn_features(audio: np.ndarray) -> np.ndarray:
    """musicnn/extractor.py batch_data()'s log-mel [T, 96] float32, with the NumPy-2 fix."""
    import librosa
    rep = librosa.feature.melspectrogram(y=audio, sr=SR, hop_length=HOP, n_fft=N_FFT,
                                         n_mels=N_MELS).T
    rep = rep.astype(np.float16)
    # musicnn: np.log10(10000 * rep + 1) on float16; NumPy 1 computed it in float32.
    return np.log10(10000 * rep.astype(np.float32) + 1)


def load_audio(path) -> np.ndarray:
    import librosa
    audio, _ = librosa.load(str(path), sr=SR)  # as musicnn's extractor
    return audio


def patches(rep: np.ndarray, n_frames: int = N_FRAMES) -> list[tuple[int, int]]:
    """musicnn's batching with input_overlap=False: non-overlapping patches; a last partial
    patch is dropped (range(0, T - n + 1, n)); a clip shorter than n frames has none."""
    return [(s, s + n_frames) for s in range(0, rep.shape[0] - n_frames + 1, n_frames)]




# --------------------------------------------------------------------------------------
# Bundle
# --------------------------------------------------------------------------------------

# What each checkpoint was trained on (musicnn's README and configuration.py).
DATASETS = {
    "MTT_musicnn": "50 MagnaTagATune tags",
    "MSD_musicnn": "50 Million Song Dataset (Last.fm) tags",
}


def bundle_doc(model: str, min_frames: int) -> BundleToml:
    """The bundle.toml of `model`: a pure function of its arguments (nothing fetched), so a
    test can hold it against the committed models/musicnn-*/bundle.toml."""
    name = model.lower().replace("_musicnn", "").replace("_", "-")
    tags = DATASETS[model]
    doc = BundleToml(
        f"musicnn {model}: music auto-tagging, {tags} (Pons & Serra, ISMIR-LBD 2019).\n"
        "Generated by `python -m livetag_tools.convert.musicnn` from the PyPI wheel\n"
        "musicnn==0.1.0 (TF1 checkpoint read with NumPy, graph rebuilt with onnx.helper; no\n"
        "TensorFlow). Do not edit by hand.")
    doc.table("model", [("name", f"musicnn-{name}"),
                        ("description", f"musicnn {model} (MTG-UPF): {tags} from 3 s log-mel "
                                        "patches"),
                        ("licence", "ISC")])
    doc.table("input", [
        ("kind", "features"), ("name", "melspectrogram"), ("sample_rate_hz", SR),
        ("layout", ["batch", "time", "feature"]),
        Note("trained on 187-frame patches (librosa.time_to_frames(3 s) + 1, ~2.99 s); musicnn "
             "tags\nnon-overlapping patches. The graph itself runs for any time length >= 1 "
             "(convs keep the\nlength, pooling over time is global), but below ~94 frames "
             "(1.5 s) scores drift far from\nthe full window, so livetag does not go below "
             "that."),
        ("window_frames", N_FRAMES), ("hop_frames", N_FRAMES), ("min_frames", min_frames)])
    doc.table("frontend", [("n_fft", N_FFT), ("win_length", N_FFT), ("hop_samples", HOP),
                           ("window", "hann"), ("center", True), ("pad_mode", "constant"),
                           ("power", 2.0), ("drop_nyquist", False)],
              comment="musicnn/extractor.py: librosa.feature.melspectrogram defaults, then "
                      "float16, then log10.")
    doc.array("frontend.steps", [("op", "mel"), ("n_bands", N_MELS), ("fmin_hz", 0.0),
                                 ("fmax_hz", 8000.0), ("scale", "slaney"), ("norm", "slaney")])
    doc.array("frontend.steps", [("op", "float16")])
    doc.array("frontend.steps", [("op", "log10"), ("mul", 10000.0), ("add", 1.0)])
    doc.array("outputs", [("name", "probabilities"), ("kind", "clip"),
                          ("values", "probabilities"), ("activation", "sigmoid")])
    doc.table("reference", [("audio", "reference/input.wav"),
                            ("expected", "reference/expected.json"), ("tolerance", TOLERANCE)])
    return doc


def run_onnx(session, mel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs, logits = session.run(["probabilities", "logits"],
                                {"melspectrogram": np.ascontiguousarray(mel, dtype=np.float32)})
    return probs, logits


def compare_with_tf_fixtures(session, labels: list[str], fixtures: Path) -> list[dict]:
    """ONNX (librosa features) vs the TF probabilities in fixtures/<clip>.expected.json."""
    rows = []
    for exp_path in sorted(fixtures.glob("*.expected.json")):
        exp = json.loads(exp_path.read_text())
        wav = exp_path.parent / exp["wav"]
        rep = musicnn_features(load_audio(wav))
        spans = patches(rep)
        tf_probs = np.array(exp["probabilities"], dtype=np.float64)
        if len(spans) != len(tf_probs):
            rows.append({"clip": exp["clip"], "error": f"{len(spans)} patches vs {len(tf_probs)}"})
            continue
        ours, _ = run_onnx(session, np.stack([rep[a:b] for a, b in spans]))
        delta = float(np.max(np.abs(ours - tf_probs)))
        top5 = lambda p: list(np.argsort(-p, kind="stable")[:5])  # noqa: E731
        top5_same = all(top5(o) == top5(t) for o, t in zip(ours, tf_probs))
        mean = ours.mean(axis=0)
        rows.append({"clip": exp["clip"], "patches": len(spans), "max_abs_delta": delta,
                     "top5_identical": top5_same,
                     "top5": [labels[i] for i in np.argsort(-mean, kind="stable")[:5]]})
    return rows


def print_tf_table(rows: list[dict]) -> bool:
    ok = True
    print(f"{'clip':<10} {'patches':>7} {'max |dprob|':>12} {'top-5 same':>10}  top-5 (ONNX, mean)")
    for r in rows:
        if "error" in r:
            print(f"{r['clip']:<10} ERROR {r['error']}")
            ok = False
            continue
        good = r["max_abs_delta"] <= 1e-3 and r["top5_identical"]
        ok &= good
        print(f"{r['clip']:<10} {r['patches']:>7} {r['max_abs_delta']:>12.2e} "
              f"{'yes' if r['top5_identical'] else 'NO':>10}  {', '.join(r['top5'])}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True,
                    help="bundle folder to write, e.g. ../models/musicnn-mtt")
    ap.add_argument("--model", default="MTT_musicnn", choices=["MTT_musicnn", "MSD_musicnn"])
    ap.add_argument("--wheel", help="musicnn-0.1.0-py3-none-any.whl (default: pip download)")
    ap.add_argument("--min-frames", type=int, default=94,
                    help="min_frames written to bundle.toml (default 94 frames, ~1.5 s: shorter "
                    "windows run, since the graph accepts 1 frame, but their scores drift up to "
                    "0.2-0.7 from the full window)")
    ap.add_argument("--fixtures", help="TF reference fixtures from "
                    "`python -m livetag_tools.reference.musicnn` "
                    "(default tests/fixtures/musicnn for MTT, tests/fixtures/musicnn-msd for MSD)")
    args = ap.parse_args()
    if args.fixtures is None:
        suffix = "" if args.model == "MTT_musicnn" else "-msd"
        args.fixtures = str(ROOT / "tests" / "fixtures" / f"musicnn{suffix}")

    wheel = Wheel(fetch_wheel("musicnn==0.1.0", WHEEL_NAME, WHEEL_SHA256, args.wheel))
    models_py = sha256_bytes(wheel.read("musicnn/models.py"))
    if models_py != MODELS_PY_SHA256:
        sys.exit(f"musicnn/models.py changed ({models_py}); re-check the graph against it")
    labels = wheel.labels(args.model)
    licence, licence_src = wheel.licence()
    ck = load_checkpoint(wheel, args.model)
    model = build_onnx(ck, args.model, len(labels))
    model_bytes = model.SerializeToString()
    n_params = sum(int(np.prod(i.dims)) for i in model.graph.initializer)
    print(f"{args.model}: {len(model.graph.node)} nodes, {n_params} parameters, "
          f"{len(model_bytes)} bytes, sha256 {sha256_bytes(model_bytes)}")

    out = Path(args.out)
    (out / "reference").mkdir(parents=True, exist_ok=True)
    (out / "model.onnx").write_bytes(model_bytes)
    write_bundle_files(out, bundle_doc(args.model, args.min_frames), labels,
                       licence if licence.endswith("\n") else licence + "\n")
    print(f"LICENSE from the wheel's {licence_src}")

    audio = synth_whistle(REFERENCE_SAMPLES, seed=0, sr=SR)
    wav_path = out / "reference" / "input.wav"
    wav_path.write_bytes(float32_wav(audio, SR))
    rep = musicnn_features(load_audio(wav_path))
    assert rep.shape == (N_FRAMES, N_MELS), rep.shape

    session = make_session(model_bytes)
    probs, logits = run_onnx(session, rep[None])
    expected = {"output": "probabilities", "scores": [[float(v) for v in probs[0]]]}
    (out / "reference" / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    top = np.argsort(-probs[0], kind="stable")[:5]
    print("reference whistle top-5: " + ", ".join(f"{labels[i]} {probs[0][i]:.3f}" for i in top))

    # ---- parity 1: ONNX vs independent NumPy forward pass (float64) ----
    ok = True
    rng = np.random.default_rng(1)
    print("\nONNX vs NumPy forward pass of the checkpoint (float64):")
    print(f"{'input':<22} {'max |dlogit|':>12} {'max |dprob|':>12}")
    cases = [("whistle 187", rep[None])]
    for t in (1, 32, 94, 300):
        cases.append((f"random [2, {t}, 96]", rng.uniform(0, 4, (2, t, N_MELS)).astype(np.float32)))
    for name, mel in cases:
        p, lg = run_onnx(session, mel)
        ref = numpy_forward(ck, mel)
        dl = float(np.max(np.abs(lg - ref)))
        dp = float(np.max(np.abs(p - 1 / (1 + np.exp(-ref)))))
        good = np.isfinite(dl) and dp <= 1e-5 and p.shape == (mel.shape[0], len(labels))
        ok &= good
        print(f"{name:<22} {dl:>12.2e} {dp:>12.2e}{'' if good else '  FAIL'}")

    # ---- parity 2: ONNX vs musicnn's own TF pipeline (livetag_tools.reference.musicnn) ----
    fixtures = Path(args.fixtures)
    if fixtures.is_dir() and any(fixtures.glob("*.expected.json")):
        print(f"\nONNX (librosa features) vs musicnn TensorFlow ({fixtures}):")
        ok &= print_tf_table(compare_with_tf_fixtures(session, labels, fixtures))
    else:
        print(f"\n(no TF fixtures in {fixtures}: skipped the TensorFlow comparison)")

    print("\nOK: bundle written to " + str(out) if ok else "\nFAILED parity check")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
