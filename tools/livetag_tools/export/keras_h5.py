"""Read a Keras `.h5` model file (the HDF5 format of `model.save("x.h5")` in tf.keras 2.x and
Keras 3) with h5py alone, and rebuild it as a PyTorch module for the ONNX exporters: no
TensorFlow at export time.

    from livetag_tools.export.keras_h5 import read_h5, to_torch
    spec = read_h5("model.h5")        # KerasModel: layers (class, config, weights), input shape
    net = to_torch(spec)              # nn.Module taking Keras' own input layout (NHWC)

What the file holds: the root attribute ``model_config`` (JSON: a ``Sequential`` or a
``Functional`` model whose layers form one chain) and the group ``model_weights`` with one
subgroup per layer (attribute ``layer_names``), each listing its arrays in the attribute
``weight_names`` ("conv2d/kernel:0" in tf.keras 2, "sequential/conv2d/kernel" in Keras 3;
the last path component names the array).

Layers rebuilt (everything the DCASE 2021 Task 1A baseline and its variants use), in
``channels_last`` only: InputLayer, Conv2D (stride 1, dilation 1, "valid", or "same" with
odd kernel sizes; with or without bias, any activation below), BatchNormalization (axis -1;
epsilon, center and scale from the config), Activation / ReLU / Softmax, MaxPooling2D
("valid"), Dropout / SpatialDropout2D (identity at inference), Flatten (in NHWC order, as
Keras flattens), Dense. Activations: linear, relu, softmax, sigmoid, tanh. Anything else is
refused with the layer's name and what is unsupported, never approximated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ACTIVATIONS = ("linear", "relu", "softmax", "sigmoid", "tanh")
# Layers with no weights and no effect at inference.
IDENTITY_LAYERS = ("Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout")


class KerasH5Error(ValueError):
    """The file is not a Keras .h5 model this reader can rebuild exactly."""


@dataclass
class KerasLayer:
    class_name: str
    name: str
    config: dict
    # Array name (last component of the stored weight name, ":0" dropped) -> values.
    weights: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class KerasModel:
    # Input shape without the batch axis, None where Keras left it free.
    input_shape: tuple[int | None, ...]
    layers: list[KerasLayer]
    keras_version: str
    backend: str

    def summary(self) -> list[tuple]:
        """The structure as comparable tuples (class, the config values that change the
        computation), without names or weights: what --arch variants are matched by."""
        rows = []
        for layer in self.layers:
            c = layer.config
            if layer.class_name == "Conv2D":
                rows.append(
                    ("Conv2D", c["filters"], _pair(c["kernel_size"]), c.get("padding", "valid"),
                     bool(c.get("use_bias", True)), _activation(layer))
                )
            elif layer.class_name == "BatchNormalization":
                rows.append(("BatchNormalization", float(c.get("epsilon", 1e-3))))
            elif layer.class_name in ("Activation", "ReLU", "Softmax"):
                rows.append(("Activation", _activation(layer)))
            elif layer.class_name == "MaxPooling2D":
                rows.append(("MaxPooling2D", _pair(c["pool_size"]), _strides(c)))
            elif layer.class_name == "Dense":
                rows.append(("Dense", c["units"], bool(c.get("use_bias", True)),
                             _activation(layer)))
            elif layer.class_name == "Flatten":
                rows.append(("Flatten",))
        return rows

    def parameter_count(self) -> dict[str, int]:
        """Keras' own counts: 'total' includes BatchNormalization's moving statistics,
        'trainable' does not (model.summary()'s two numbers)."""
        total = trainable = 0
        for layer in self.layers:
            for name, w in layer.weights.items():
                total += w.size
                if name not in ("moving_mean", "moving_variance"):
                    trainable += w.size
        return {"total": total, "trainable": trainable}


def _pair(v) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    a, b = v
    return (int(a), int(b))


def _strides(c: dict) -> tuple[int, int]:
    s = c.get("strides")
    return _pair(c["pool_size"]) if s is None else _pair(s)


def _activation(layer: KerasLayer) -> str:
    c = layer.config
    if layer.class_name == "ReLU":
        if c.get("max_value") is not None or float(c.get("negative_slope", 0.0)) != 0.0 or float(
            c.get("threshold", 0.0)
        ) != 0.0:
            raise KerasH5Error(f"layer {layer.name}: ReLU with max_value/negative_slope/"
                               "threshold is not supported")
        return "relu"
    if layer.class_name == "Softmax":
        if c.get("axis", -1) != -1:
            raise KerasH5Error(f"layer {layer.name}: Softmax over axis {c['axis']}, not -1")
        return "softmax"
    act = c.get("activation", "linear")
    if isinstance(act, dict):  # Keras 3 may serialise a registered function as a dict
        act = act.get("config", act.get("class_name"))
    if act is None:
        act = "linear"
    if act not in ACTIVATIONS:
        raise KerasH5Error(f"layer {layer.name}: activation {act!r} is not one of {ACTIVATIONS}")
    return act


def _text(v) -> str:
    return v.decode("utf8") if isinstance(v, bytes) else str(v)


def _input_shape(cfg: dict) -> tuple[int | None, ...] | None:
    for key in ("batch_shape", "batch_input_shape"):
        if cfg.get(key) is not None:
            return tuple(cfg[key][1:])
    return None


def read_h5(path) -> KerasModel:
    """The model structure and weights of a Keras ``.h5`` file (see the module docstring)."""
    import h5py

    path = Path(path)
    try:
        f = h5py.File(str(path), "r")
    except OSError as e:
        raise KerasH5Error(f"{path}: not an HDF5 file ({e})") from e
    with f:
        if "model_config" not in f.attrs:
            raise KerasH5Error(
                f"{path}: no model_config attribute; a weights-only file (save_weights) has "
                "no structure: save the whole model with model.save('model.h5')"
            )
        config = json.loads(_text(f.attrs["model_config"]))
        keras_version = _text(f.attrs.get("keras_version", "unknown"))
        backend = _text(f.attrs.get("backend", "unknown"))
        if "model_weights" not in f:
            raise KerasH5Error(f"{path}: no model_weights group")
        mw = f["model_weights"]
        stored = {}
        for lname in (_text(n) for n in mw.attrs["layer_names"]):
            g = mw[lname]
            arrays = {}
            for wname in (_text(n) for n in g.attrs["weight_names"]):
                key = wname.split("/")[-1].split(":")[0]
                arrays[key] = np.asarray(g[wname], dtype=np.float32)
            stored[lname] = arrays

    cls = config.get("class_name")
    cfg = config.get("config", {})
    if cls not in ("Sequential", "Functional", "Model"):
        raise KerasH5Error(f"{path}: model class {cls!r}; only Sequential and single-chain "
                           "Functional models are supported")
    raw_layers = cfg["layers"]
    if cls != "Sequential":
        _check_chain(path, raw_layers)
    input_shape = None
    layers = []
    for raw in raw_layers:
        lc = raw["config"]
        name = lc.get("name", raw.get("name"))
        shape = _input_shape(lc)
        if shape is not None and input_shape is None:
            input_shape = shape
        if raw["class_name"] == "InputLayer":
            continue
        if lc.get("data_format", "channels_last") != "channels_last":
            raise KerasH5Error(f"layer {name}: data_format {lc['data_format']!r}; only "
                               "channels_last is supported")
        layers.append(KerasLayer(raw["class_name"], name, lc, stored.get(name, {})))
    if input_shape is None and "build_input_shape" in cfg:
        input_shape = tuple(cfg["build_input_shape"][1:])
    if input_shape is None:
        raise KerasH5Error(f"{path}: the model config names no input shape")
    return KerasModel(tuple(input_shape), layers, keras_version, backend)


def _check_chain(path, raw_layers: list[dict]) -> None:
    """A Functional model is accepted when each layer's only input is the layer before."""
    prev = None
    for raw in raw_layers:
        nodes = raw.get("inbound_nodes", [])
        if prev is not None:
            names = json.dumps(nodes)
            if len(nodes) != 1 or f'"{prev}"' not in names:
                raise KerasH5Error(f"{path}: layer {raw['config'].get('name')} is not fed by "
                                   f"{prev} alone; only single-chain models are supported")
        prev = raw["config"].get("name", raw.get("name"))


def to_torch(model: KerasModel):
    """An nn.Module computing the Keras model at inference: input and output in Keras'
    layout (``[batch, *input_shape]``, NHWC for images). Weights copied exactly: Conv2D
    kernels [kh, kw, in, out] -> [out, in, kh, kw]; Dense kernels [in, out] -> [out, in]."""
    import torch
    import torch.nn as nn

    class Act(nn.Module):
        def __init__(self, kind: str, channel_dim: int):
            super().__init__()
            self.kind = kind
            self.channel_dim = channel_dim  # where Keras' last axis is in this tensor

        def forward(self, x):
            if self.kind == "relu":
                return torch.relu(x)
            if self.kind == "softmax":
                return torch.softmax(x, dim=self.channel_dim)
            if self.kind == "sigmoid":
                return torch.sigmoid(x)
            if self.kind == "tanh":
                return torch.tanh(x)
            return x

    class ToChannelsLast(nn.Module):
        def forward(self, x):
            return x.permute(0, 2, 3, 1)

    class Flatten(nn.Module):
        def forward(self, x):
            return torch.flatten(x, 1)  # one ONNX Flatten, no shape arithmetic

    class KerasNet(nn.Module):
        """NHWC in; NCHW inside the convolutional part; back to NHWC before Flatten so
        the flattened order (h, w, c) is the one the Keras Dense kernel was trained on."""

        def __init__(self, ops: list[nn.Module], image: bool):
            super().__init__()
            self.image = image
            self.ops = nn.ModuleList(ops)

        def forward(self, x):
            if self.image:
                x = x.permute(0, 3, 1, 2)
            for op in self.ops:
                x = op(x)
            return x

    image = len(model.input_shape) == 3
    channels = model.input_shape[-1]
    nchw = image  # the tensor is NCHW until Flatten (or the end)
    ops: list[nn.Module] = []
    for layer in model.layers:
        c, w, kind = layer.config, layer.weights, layer.class_name
        if kind == "Conv2D":
            if not nchw:
                raise KerasH5Error(f"layer {layer.name}: Conv2D after Flatten")
            if _pair(c.get("strides", 1)) != (1, 1) or _pair(c.get("dilation_rate", 1)) != (1, 1):
                raise KerasH5Error(f"layer {layer.name}: only stride 1, dilation 1 Conv2D")
            if int(c.get("groups", 1)) != 1:
                raise KerasH5Error(f"layer {layer.name}: grouped Conv2D is not supported")
            kernel = _pair(c["kernel_size"])
            pad = c.get("padding", "valid")
            if pad not in ("same", "valid"):
                raise KerasH5Error(f"layer {layer.name}: padding {pad!r}")
            k = w["kernel"]
            if k.shape[:3] != (*kernel, channels):
                raise KerasH5Error(f"layer {layer.name}: kernel shape {k.shape}, expected "
                                   f"{(*kernel, channels, c['filters'])}")
            if pad == "same" and (kernel[0] % 2 == 0 or kernel[1] % 2 == 0):
                # TF pads an even kernel asymmetrically; no fixture checks that here.
                raise KerasH5Error(f"layer {layer.name}: 'same' padding with the even kernel "
                                   f"{kernel} is not supported")
            # Odd kernels pad (k - 1) // 2 on each side under "same": Conv's own padding.
            conv = nn.Conv2d(channels, c["filters"], kernel, bias="bias" in w,
                             padding=((kernel[0] - 1) // 2, (kernel[1] - 1) // 2)
                             if pad == "same" else 0)
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(k.transpose(3, 2, 0, 1).copy()))
                if "bias" in w:
                    conv.bias.copy_(torch.from_numpy(w["bias"]))
            ops.append(conv)
            ops.append(Act(_activation(layer), 1))
            channels = c["filters"]
        elif kind == "BatchNormalization":
            axis = c.get("axis", -1)
            axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
            if axis not in (-1, 3 if image else 1):
                raise KerasH5Error(f"layer {layer.name}: BatchNormalization over axis {axis}")
            bn = nn.BatchNorm1d(channels, eps=float(c.get("epsilon", 1e-3)))
            if nchw:
                bn = nn.BatchNorm2d(channels, eps=float(c.get("epsilon", 1e-3)))
            with torch.no_grad():
                bn.weight.copy_(torch.from_numpy(w["gamma"]) if "gamma" in w
                                else torch.ones(channels))
                bn.bias.copy_(torch.from_numpy(w["beta"]) if "beta" in w
                              else torch.zeros(channels))
                bn.running_mean.copy_(torch.from_numpy(w["moving_mean"]))
                bn.running_var.copy_(torch.from_numpy(w["moving_variance"]))
            ops.append(bn)
        elif kind in ("Activation", "ReLU", "Softmax"):
            ops.append(Act(_activation(layer), 1 if nchw else -1))
        elif kind == "MaxPooling2D":
            if c.get("padding", "valid") != "valid":
                raise KerasH5Error(f"layer {layer.name}: MaxPooling2D padding "
                                   f"{c['padding']!r}; only 'valid' is supported")
            ops.append(nn.MaxPool2d(_pair(c["pool_size"]), _strides(c)))
        elif kind in IDENTITY_LAYERS:
            continue
        elif kind == "Flatten":
            if nchw:
                ops.append(ToChannelsLast())
                nchw = False
            ops.append(Flatten())
            channels = None  # known at the first Dense from its kernel
        elif kind == "Dense":
            if nchw:
                raise KerasH5Error(f"layer {layer.name}: Dense on a 4-D tensor (no Flatten)")
            k = w["kernel"]
            if channels is not None and k.shape[0] != channels:
                raise KerasH5Error(f"layer {layer.name}: kernel {k.shape} after {channels}")
            lin = nn.Linear(k.shape[0], c["units"], bias="bias" in w)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(k.T.copy()))
                if "bias" in w:
                    lin.bias.copy_(torch.from_numpy(w["bias"]))
            ops.append(lin)
            ops.append(Act(_activation(layer), -1))
            channels = c["units"]
        else:
            raise KerasH5Error(f"layer {layer.name}: {kind} is not supported (supported: "
                               "Conv2D, BatchNormalization, Activation, ReLU, Softmax, "
                               "MaxPooling2D, Dropout, Flatten, Dense)")
    if nchw and image:
        ops.append(ToChannelsLast())
    return KerasNet(ops, image).eval()
