"""The DCASE 2021 Task 1A baseline's facts without torch (the Keras reference venv imports
this too): its front-end as a livetag ``[frontend]`` table, and the layer lists of the
base network and the seed's 4- and 5-layer variants.

Sources (marmoi/dcase2021_task1a_baseline, task1a.yaml; the features come from
DCASE-REPO/dcase_util 0.2.x, dcase_util/features/features.py ``MelExtractor``):

* ``feature_extractor: fs: 44100``; ``mel: spectrogram_type: magnitude,
  hop_length_seconds: 0.02, win_length_seconds: 0.04, window_type: hamming_asymmetric,
  n_mels: 40, n_fft: 2048, fmin: 0, fmax: 22050, htk: false, normalize_mel_bands: false``.
* ``SpectralFeatureExtractor``: ``win_length_samples = int(fs * win_length_seconds)`` = 1764,
  hop 882; ``hamming_asymmetric`` = ``scipy.signal.hamming(n, sym=False)`` (periodic);
  ``numpy.abs(librosa.stft(y + eps, n_fft, win_length, hop_length, center=True,
  window))``, eps = ``numpy.spacing(1)``; librosa pads a shorter window centred in n_fft.
  pad_mode: librosa's default, ``reflect`` before librosa 0.10 (the baseline's 2021
  environment; 0.10 changed the default to ``constant``).
* ``MelExtractor``: ``librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk)`` with
  librosa's default ``norm`` (Slaney area normalisation), ``numpy.dot(mel_basis,
  spectrogram)``, then ``numpy.log(mel_spectrum + eps)``.
* ``NormalizationProcessor`` with the fold's ``dcase_util.data.Normalizer``: ``(x - mean) /
  std`` per band, mean and std (n - 1 denominator) over the training features.
* ``SequencingProcessor: sequence_length: 500, hop_length: 500``, ``DataShapingProcessor``
  to [sequence, data, time], channels_last: the Keras input is ``[batch, 40, 500, 1]``.

Model (task1a.yaml ``learner_method_parameters.cnn.model.config``): per CNN layer
Conv2D(filters, 7, padding "same", glorot_uniform) + BatchNormalization(axis -1) +
Activation("relu"), then MaxPooling2D + Dropout(0.3) where listed; Flatten,
Dense(100, relu), Dropout(0.3), Dense(10, softmax). The 4- and 5-layer variants are the
seed's (../shared/seeds/004: "Baseline CNN 확장").
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE_HZ = 44100
N_MELS = 40
WINDOW_FRAMES = 500  # 10 s at hop 882 (SequencingProcessor sequence_length)
N_CLASSES = 10
DENSE_UNITS = 100
KERNEL = 7
DROPOUT = 0.3
LOG_EPS = float(np.spacing(1))  # dcase_util's self.eps

# (filters, pool size after the block or None), per CNN layer.
VARIANTS: dict[str, list[tuple[int, tuple[int, int] | None]]] = {
    "dcase2021_t1a": [(16, None), (16, (5, 5)), (32, (4, 100))],
    "dcase2021_t1a_4layer": [(16, None), (16, (5, 5)), (16, (4, 4)), (16, (2, 5))],
    "dcase2021_t1a_5layer": [(16, None), (32, (5, 5)), (32, (2, 5)), (32, (2, 5)),
                             (32, (1, 2))],
}

FRONTEND = {
    "n_fft": 2048,
    "win_length": 1764,
    "hop_samples": 882,
    "window": "hamming",
    "center": True,
    "pad_mode": "reflect",
    "power": 1.0,
    "drop_nyquist": False,
    "steps": [
        {"op": "mel", "n_bands": N_MELS, "fmin_hz": 0.0, "fmax_hz": 22050.0, "scale": "slaney",
         "norm": "slaney"},
        {"op": "log", "eps": LOG_EPS},
        # The fold's training scaler; identity until --norm-stats gives it.
        {"op": "normalize", "mean": [0.0], "std": [1.0]},
    ],
}


def keras_layers(variant: str) -> list[dict]:
    """The variant as Keras layer configs (class_name, config), as task1a.yaml writes them
    (dcase_util.tfkeras.create_sequential_model builds a Sequential from such a list)."""
    out: list[dict] = []
    for filters, pool in VARIANTS[variant]:
        out.append({"class_name": "Conv2D",
                    "config": {"filters": filters, "kernel_size": KERNEL, "padding": "same"}})
        out.append({"class_name": "BatchNormalization", "config": {"axis": -1}})
        out.append({"class_name": "Activation", "config": {"activation": "relu"}})
        if pool is not None:
            out.append({"class_name": "MaxPooling2D", "config": {"pool_size": list(pool)}})
            out.append({"class_name": "Dropout", "config": {"rate": DROPOUT}})
    out += [
        {"class_name": "Flatten", "config": {}},
        {"class_name": "Dense", "config": {"units": DENSE_UNITS, "activation": "relu"}},
        {"class_name": "Dropout", "config": {"rate": DROPOUT}},
        {"class_name": "Dense", "config": {"units": N_CLASSES, "activation": "softmax"}},
    ]
    return out


def structure(variant: str) -> list[tuple]:
    """What ``KerasModel.summary()`` gives for a file of this variant (Keras' defaults:
    use_bias True, BatchNormalization epsilon 1e-3, pool strides = pool size)."""
    rows: list[tuple] = []
    for filters, pool in VARIANTS[variant]:
        rows.append(("Conv2D", filters, (KERNEL, KERNEL), "same", True, "linear"))
        rows.append(("BatchNormalization", 1e-3))
        rows.append(("Activation", "relu"))
        if pool is not None:
            rows.append(("MaxPooling2D", tuple(pool), tuple(pool)))
    rows += [("Flatten",), ("Dense", DENSE_UNITS, True, "relu"),
             ("Dense", N_CLASSES, True, "softmax")]
    return rows


def pooled_time(variant: str, frames: int) -> int:
    t = frames
    for _, pool in VARIANTS[variant]:
        if pool is not None:
            t //= pool[1]
    return t


def frame_range(variant: str) -> tuple[int, int]:
    """Input lengths (frames) the trained Dense accepts: those whose pooled time equals the
    one of 500 frames (floor pooling), e.g. 500..999 for the base network."""
    want = pooled_time(variant, WINDOW_FRAMES)
    lo = min(t for t in range(1, 4 * WINDOW_FRAMES) if pooled_time(variant, t) == want)
    hi = max(t for t in range(1, 4 * WINDOW_FRAMES) if pooled_time(variant, t) == want)
    return lo, hi


def clip_audio(seed: int, seconds: float = 10.0) -> np.ndarray:
    """A seeded 'scene' for parity inputs: a few steady tones, a slow chirp, coloured noise
    and clicks at random levels (not a recording; the comparison is about the network)."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * SAMPLE_RATE_HZ))
    t = np.arange(n) / SAMPLE_RATE_HZ
    x = np.zeros(n)
    for _ in range(4):
        x += rng.uniform(0.01, 0.2) * np.sin(2 * np.pi * rng.uniform(60, 12000) * t
                                             + rng.uniform(0, 6.3))
    f0, f1 = rng.uniform(100, 1000), rng.uniform(2000, 15000)
    x += 0.05 * np.sin(2 * np.pi * (f0 * t + 0.5 * (f1 - f0) / seconds * t**2))
    noise = rng.standard_normal(n)
    noise = np.cumsum(noise) * 0.02 * rng.uniform(0, 1) + noise  # some low-frequency weight
    noise -= noise.mean()
    x += 10 ** rng.uniform(-2.5, -1) * noise / np.max(np.abs(noise))
    x[rng.integers(0, n, 6)] += 0.3
    return (x * rng.uniform(0.1, 0.9) / np.max(np.abs(x))).astype(np.float32)
