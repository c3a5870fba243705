"""dcase2021_t1a: the DCASE 2021 Task 1A baseline (Keras CNN, 10 acoustic scenes from 10 s of
40-band log-mel; marmoi/dcase2021_task1a_baseline, task1a.yaml) and, as
dcase2021_t1a_4layer / dcase2021_t1a_5layer, the seed's deeper variants. 46,246 Keras
parameters (46,118 trainable; BatchNormalization's moving statistics are the rest).

A trained model is the baseline's own ``model.save(...h5)`` file, read with h5py (no
TensorFlow; livetag_tools.export.keras_h5) and rebuilt in PyTorch for the ONNX export:

    python -m livetag_tools.export.dcase --arch dcase2021_t1a --checkpoint model.h5 \\
        --norm-stats norm_fold_1.npz --out DIR

The file's layers must be the ``--arch`` variant's (the error names the variant that
matches). ``--norm-stats``: an .npz with ``mean[40]`` and ``std[40]``, the fold's
``dcase_util.data.Normalizer`` (its ``mean`` and ``std`` properties); without it the
bundle's ``normalize`` step is the identity, which a trained model was never fed. In the
baseline's own environment: ``n = dcase_util.data.Normalizer().load(filename=
"norm_fold_1.cpickle"); numpy.savez("norm_fold_1.npz", mean=n.mean.ravel(),
std=n.std.ravel())``.

The TFLite model (task1a_tflite.py: ``TFLiteConverter.from_keras_model``, Optimize.DEFAULT,
``supported_types = [tf.float16]``) holds the same network with float16 weights: CONV_2D
(BatchNorm folded, ReLU fused), MAX_POOL_2D, RESHAPE, FULLY_CONNECTED, SOFTMAX, and a
DEQUANTIZE float16 -> float32 per weight tensor. livetag_tools.convert.tflite converts that
graph (tools/tests/test_export_dcase2021_t1a.py: within 1e-5 of the TFLite interpreter), but
no command makes a bundle from the .tflite: export the .h5, the float32 original of the same
weights (float16 rounding moved Keras' outputs by up to 5.4e-4 on the parity clips).

Input ``[batch, 40 mel, time, 1]`` (Keras' channels_last, as the baseline feeds it); the
Dense layer fixes the pooled time, so lengths from 500 frames up to
``dcase2021_t1a_spec.frame_range`` (999 frames for the base network) run; livetag feeds
500-frame (10 s) windows with hop 500, as the baseline's SequencingProcessor does. Output:
the softmax probabilities (the last Dense layer's activation is in the graph).

Front-end (see dcase2021_t1a_spec for the source lines): exact in livetag except two
things that change nothing measurable: dcase_util adds numpy.spacing(1) (2.2e-16) to the
waveform before the STFT (a DC offset 13 orders below any audio), and livetag runs the
front-end in float32 where librosa uses float64 (the front-end parity tests bound that).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from livetag_tools.export.dcase import dcase2021_t1a_spec as spec
from livetag_tools.export.dcase.base import Arch, RegistryEntry
from livetag_tools.export.keras_h5 import KerasH5Error, KerasLayer, KerasModel, read_h5, to_torch


def random_keras_model(variant: str) -> KerasModel:
    """The variant with Keras' default initialisation (glorot_uniform kernels, zero biases,
    BatchNormalization gamma 1, beta 0, moving mean 0, variance 1; the yaml's Dense
    ``kernel_initializer: uniform`` is U(-0.05, 0.05)), drawn from torch's generator so
    ``torch.manual_seed`` makes it reproducible like the PyTorch exporters."""
    seed = int(torch.randint(0, 2**31 - 1, ()).item())
    rng = np.random.default_rng(seed)
    channels = 1
    layers = []
    flat = spec.N_MELS * spec.WINDOW_FRAMES
    for i, cfg in enumerate(spec.keras_layers(variant)):
        kind, c = cfg["class_name"], dict(cfg["config"])
        w: dict[str, np.ndarray] = {}
        if kind == "Conv2D":
            k = c["kernel_size"]
            fan_in, fan_out = k * k * channels, k * k * c["filters"]
            lim = math.sqrt(6.0 / (fan_in + fan_out))
            w["kernel"] = rng.uniform(-lim, lim, (k, k, channels, c["filters"])).astype(np.float32)
            w["bias"] = np.zeros(c["filters"], np.float32)
            channels = c["filters"]
        elif kind == "BatchNormalization":
            w = {"gamma": np.ones(channels, np.float32), "beta": np.zeros(channels, np.float32),
                 "moving_mean": np.zeros(channels, np.float32),
                 "moving_variance": np.ones(channels, np.float32)}
        elif kind == "Dense":
            n_in = flat if not layers or layers[-1].class_name == "Flatten" else channels
            w["kernel"] = rng.uniform(-0.05, 0.05, (n_in, c["units"])).astype(np.float32)
            w["bias"] = np.zeros(c["units"], np.float32)
            channels = c["units"]
        elif kind == "Flatten":
            h, t = spec.N_MELS, spec.WINDOW_FRAMES
            for _, pool in spec.VARIANTS[variant]:
                if pool is not None:
                    h, t = h // pool[0], t // pool[1]
            flat = h * t * channels
        c.setdefault("name", f"{kind.lower()}_{i}")
        layers.append(KerasLayer(kind, c["name"], c, w))
    return KerasModel((spec.N_MELS, spec.WINDOW_FRAMES, 1), layers, "livetag", "none")


def load_h5(variant: str, path) -> torch.nn.Module:
    """A Keras .h5 of ``variant`` as a PyTorch module; refuses other structures."""
    model = read_h5(path)
    if (model.input_shape[0], model.input_shape[-1]) != (spec.N_MELS, 1) or len(
        model.input_shape
    ) != 3:
        raise KerasH5Error(f"{path}: input shape {model.input_shape}; the baseline's is "
                           f"({spec.N_MELS}, {spec.WINDOW_FRAMES}, 1)")
    got = model.summary()
    if got != spec.structure(variant):
        match = [v for v in spec.VARIANTS if spec.structure(v) == got]
        hint = (f"it is --arch {match[0]}" if match else
                "it matches none of " + ", ".join(spec.VARIANTS))
        raise KerasH5Error(f"{path}: its layers are not {variant}'s ({hint}); layers: {got}")
    return to_torch(model)


def _norm_patch(fe: dict, norm_stats) -> dict:
    if norm_stats is not None:
        mean, std = (np.asarray(a, dtype=np.float64).reshape(-1) for a in norm_stats)
        if mean.shape != (spec.N_MELS,) or std.shape != (spec.N_MELS,) or np.any(std <= 0):
            raise ValueError(f"--norm-stats needs mean[{spec.N_MELS}] and "
                             f"std[{spec.N_MELS}] > 0")
        fe["steps"][-1]["mean"] = [float(v) for v in mean]
        fe["steps"][-1]["std"] = [float(v) for v in std]
    return fe


def make_arch(variant: str, module: str) -> Arch:
    lo, hi = spec.frame_range(variant)
    blocks = ", ".join(f"{f}" + (f" pool {p[0]}x{p[1]}" if p else "")
                       for f, p in spec.VARIANTS[variant])
    title = {"dcase2021_t1a": "baseline", "dcase2021_t1a_4layer": "4-layer variant",
             "dcase2021_t1a_5layer": "5-layer variant"}[variant]
    return Arch(
        module=module,
        name=variant,
        description=f"DCASE 2021 Task 1A {title} (Keras CNN; conv blocks {blocks}): 10 "
        "acoustic scenes from 10 s of 40-band log-mel",
        builder=lambda: to_torch(random_keras_model(variant)),
        labels_file="tau_scenes_10.txt",
        source=(
            "DCASE 2021 Task 1A baseline, marmoi/dcase2021_task1a_baseline (task1a.yaml model "
            "config, dcase_util MelExtractor)"
            + ("" if variant == "dcase2021_t1a" else
               "; deeper variant from the livetag seed description (004)")
            + ". A Keras .h5 is read with h5py and rebuilt in PyTorch."
        ),
        input_name="logmel",
        output_name="probabilities",
        layout=["batch", "feature", "time", "channel"],
        time_axis=2,
        n_features=spec.N_MELS,
        sample_rate=spec.SAMPLE_RATE_HZ,
        window_frames=spec.WINDOW_FRAMES,
        hop_frames=spec.WINDOW_FRAMES,
        min_frames=spec.WINDOW_FRAMES,
        arch_min_frames=lo,
        frontend=spec.FRONTEND,
        frontend_patch=_norm_patch,
        values="probabilities",
        activation="softmax",
        parity_frames=[lo, (lo + hi) // 2, hi],
        parity_source="audio",
        input_comment=(
            f"Keras channels_last [batch, 40 mel, time, 1]. Trained on 500 frames (10 s); the "
            f"Dense layer\nfixes the pooled time, so {lo}..{hi} frames run. Windows of 500 "
            "with hop 500, as the\nbaseline's SequencingProcessor."
        ),
        frontend_comment=(
            "dcase_util MelExtractor (task1a.yaml): 44.1 kHz, magnitude STFT n_fft 2048, "
            "win 0.04 s = 1764\n(periodic Hamming, 'hamming_asymmetric', centred in n_fft), hop "
            "0.02 s = 882, center with librosa\n< 0.10's reflect padding; 40 Slaney mel bands "
            "0-22050 Hz with Slaney norm; ln(x + 2.2e-16);\nthen the fold's training scaler "
            "(Normalizer mean/std per band; identity unless --norm-stats)."
        ),
        output_comment="Softmax probabilities (the Keras model's last Dense activation).",
        checkpoint_loader=lambda path: load_h5(variant, Path(path)),
    )


ARCH = make_arch("dcase2021_t1a", __name__)
ENTRY = RegistryEntry(ARCH)
