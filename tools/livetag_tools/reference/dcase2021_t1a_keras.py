"""Keras reference fixtures for the DCASE 2021 Task 1A exporter (tests/fixtures/dcase2021_t1a):
each variant built in Keras itself with random weights, saved as `.h5`, and its outputs on
several clips' features. tools/tests/test_export_dcase2021_t1a.py exports those files
without TensorFlow and checks ONNX Runtime against these outputs.

    cd tools && "$(./venv.sh reference-keras)" -m livetag_tools.reference.dcase2021_t1a_keras

Needs the `reference-keras` venv (tools/locks/reference-keras.txt: Keras 3 on TensorFlow's
CPU backend, tf-keras for the tf.keras 2 file format the 2021 baseline wrote, h5py, librosa
for the front-end copy). Not run by CI; the fixtures are committed.

What it writes:

* ``<variant>.keras3.h5`` for the base, 4- and 5-layer networks (Keras 3's ``model.save``
  to .h5), and ``dcase2021_t1a.tf_keras.h5`` (the base network with the same weights saved
  by tf-keras 2, the format of the baseline's own TF 2.x checkpoints).
* ``inputs.npy``: [4, 40, 500, 1] float32, the bundle front-end's features
  (livetag_tools.export.dcase.frontend, the NumPy copy of livetag's) of
  ``dcase2021_t1a_spec.clip_audio(seed)`` for seeds 100..103, first 500 frames, normalised
  with ``norm_stats.npz``.
* ``norm_stats.npz``: mean[40], std[40] (n - 1, as dcase_util's Normalizer) of the features
  of eight calibration clips (seeds 200..207): what ``--norm-stats`` takes.
* ``expected.json``: per file, Keras' output for ``inputs.npy`` (softmax probabilities).
* ``dcase2021_t1a.fp16.tflite``: the base network through task1a_tflite.py's float16
  post-training quantisation, with its op list and the TFLite interpreter's outputs in
  expected.json ("tflite").

Random weights: Keras' default initialisers under ``keras.utils.set_random_seed``, then
every BatchNormalization's moving mean and variance set, in order, to the statistics of its
input on the calibration features, and gamma/beta drawn around 1/0, so no layer is an
identity and the softmax is not saturated.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from livetag_tools.export.dcase import dcase2021_t1a_spec as spec
from livetag_tools.export.dcase.frontend import livetag_features

OUT = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "dcase2021_t1a"
INPUT_SEEDS = [100, 101, 102, 103]
CALIBRATION_SEEDS = list(range(200, 208))
MODEL_SEED = 2021


def features(seed: int, fe: dict) -> np.ndarray:
    """[40, 500] features of one clip (livetag's front-end copy), the Keras input row."""
    f = livetag_features(spec.clip_audio(seed), spec.SAMPLE_RATE_HZ, fe)
    return f[: spec.WINDOW_FRAMES].T


def frontend_with(mean, std) -> dict:
    fe = json.loads(json.dumps(spec.FRONTEND))
    fe["steps"][-1]["mean"] = [float(v) for v in mean]
    fe["steps"][-1]["std"] = [float(v) for v in std]
    return fe


def build(keras, variant: str):
    layers = [keras.Input(shape=(spec.N_MELS, spec.WINDOW_FRAMES, 1))]
    for cfg in spec.keras_layers(variant):
        layers.append(getattr(keras.layers, cfg["class_name"])(**cfg["config"]))
    return keras.Sequential(layers, name=variant)


def calibrate(keras, model, x: np.ndarray, rng: np.random.Generator) -> None:
    """Sequential BN calibration: each BN's moving stats = its input's batch statistics
    (earlier BNs already final), then gamma/beta perturbed."""
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        probe = keras.Model(model.inputs, layer.input)
        h = np.asarray(probe(x, training=False), dtype=np.float64)
        mean, var = h.mean(axis=(0, 1, 2)), h.var(axis=(0, 1, 2))
        n = mean.shape[0]
        gamma = rng.uniform(0.75, 1.25, n)
        beta = 0.1 * rng.standard_normal(n)
        layer.set_weights([a.astype(np.float32) for a in (gamma, beta, mean, var)])


def write_tflite(tf, model, inputs: np.ndarray, expected: dict, keras_out: np.ndarray) -> None:
    """task1a_tflite.py's conversion (post-training float16 quantisation) of the base
    network, and the TFLite interpreter's outputs, one clip at a time as the baseline runs
    it."""
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_types = [tf.float16]
    buf = conv.convert()
    name = "dcase2021_t1a.fp16.tflite"
    (OUT / name).write_bytes(buf)
    interp = tf.lite.Interpreter(model_content=buf)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    rows = []
    for x in inputs:
        interp.set_tensor(inp["index"], x[None])
        interp.invoke()
        rows.append(interp.get_tensor(out["index"])[0].astype(np.float64))
    y = np.stack(rows)
    ops = sorted({d["op_name"] for d in interp._get_ops_details()} - {"DELEGATE"})
    expected["tflite"] = {
        "file": name,
        "conversion": "TFLiteConverter.from_keras_model(tf_keras model), optimizations "
        "[DEFAULT], target_spec.supported_types [float16] (task1a_tflite.py)",
        "ops": ops,
        "outputs": y.tolist(),
        "max_abs_diff_to_keras": float(np.max(np.abs(y - keras_out))),
    }
    print(f"{name}: ops {ops}, max |tflite - keras| = {np.max(np.abs(y - keras_out)):.2e}")


def main() -> int:
    import keras
    import tensorflow as tf
    import tf_keras

    OUT.mkdir(parents=True, exist_ok=True)
    identity = json.loads(json.dumps(spec.FRONTEND))
    calib_raw = np.stack([features(s, identity) for s in CALIBRATION_SEEDS])  # [8, 40, 500]
    bands = calib_raw.transpose(1, 0, 2).reshape(spec.N_MELS, -1).astype(np.float64)
    mean, std = bands.mean(axis=1), bands.std(axis=1, ddof=1)
    np.savez(OUT / "norm_stats.npz", mean=mean, std=std)
    fe = frontend_with(mean, std)
    calib = np.stack([features(s, fe) for s in CALIBRATION_SEEDS])[..., None].astype(np.float32)
    inputs = np.stack([features(s, fe) for s in INPUT_SEEDS])[..., None].astype(np.float32)
    np.save(OUT / "inputs.npy", inputs)

    expected = {
        "keras_version": keras.__version__,
        "tf_keras_version": tf_keras.__version__,
        "tensorflow_version": tf.__version__,
        "backend": keras.backend.backend(),
        "input_seeds": INPUT_SEEDS,
        "calibration_seeds": CALIBRATION_SEEDS,
        "inputs": "inputs.npy",
        "files": {},
    }
    for i, variant in enumerate(spec.VARIANTS):
        keras.utils.set_random_seed(MODEL_SEED + i)
        model = build(keras, variant)
        calibrate(keras, model, calib, np.random.default_rng(MODEL_SEED + i))
        name = f"{variant}.keras3.h5"
        model.save(OUT / name)
        y = np.asarray(model(inputs, training=False), dtype=np.float64)
        expected["files"][name] = {
            "variant": variant,
            "saved_by": f"keras {keras.__version__}",
            "parameters": int(model.count_params()),
            "outputs": y.tolist(),
        }
        print(f"{name}: {model.count_params():,} parameters, top classes "
              f"{y.argmax(axis=1).tolist()}, max p {y.max():.3f}")
        if variant == "dcase2021_t1a":
            # The same weights in the tf.keras 2 file format (the baseline's TF 2.x).
            legacy = tf_keras.Sequential(name=variant)
            legacy.add(tf_keras.Input(shape=(spec.N_MELS, spec.WINDOW_FRAMES, 1)))
            for cfg in spec.keras_layers(variant):
                legacy.add(getattr(tf_keras.layers, cfg["class_name"])(**cfg["config"]))
            legacy.set_weights(model.get_weights())
            lname = f"{variant}.tf_keras.h5"
            legacy.save(OUT / lname, save_format="h5")
            y2 = np.asarray(legacy(inputs, training=False), dtype=np.float64)
            expected["files"][lname] = {
                "variant": variant,
                "saved_by": f"tf_keras {tf_keras.__version__}",
                "parameters": int(legacy.count_params()),
                "outputs": y2.tolist(),
            }
            print(f"{lname}: max |tf_keras - keras 3| = {np.max(np.abs(y2 - y)):.2e}")
            write_tflite(tf, legacy, inputs, expected, y2)
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
