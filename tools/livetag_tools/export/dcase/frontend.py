"""A NumPy copy of livetag's front-end (src/dsp/stft.rs, src/dsp/frontend.rs): it computes the
DCASE bundles' reference scores and the features their parity inputs and BatchNorm
calibration are made of, so those match what livetag feeds the model.
tools/tests/test_export_dcase.py checks it against tests/fixtures/frontend.
"""

from __future__ import annotations

import numpy as np


def _window(kind: str, n: int) -> np.ndarray:
    k = np.arange(n, dtype=np.float64)
    if kind == "rect":
        return np.ones(n)
    # Periodic windows divide by N, symmetric ones (np.hanning, np.hamming) by N - 1.
    denom = max(n - 1, 1) if kind.endswith("_symmetric") else n
    phase = 2.0 * np.pi * k / denom
    if kind in ("hann", "hann_symmetric"):
        return 0.5 - 0.5 * np.cos(phase)
    if kind in ("hamming", "hamming_symmetric"):
        return 0.54 - 0.46 * np.cos(phase)
    raise ValueError(f"window {kind!r}")


def stft_spectrum(audio: np.ndarray, fe: dict) -> np.ndarray:
    """[frames, bins] magnitude (power 1) or power (power 2) spectrum, as livetag frames it."""
    n_fft, hop = fe["n_fft"], fe["hop_samples"]
    win_length = fe.get("win_length", n_fft)
    w = np.zeros(n_fft)
    off = (n_fft - win_length) // 2
    w[off : off + win_length] = _window(fe["window"], win_length)
    x = np.asarray(audio, dtype=np.float64)
    if fe["center"]:
        mode = {"constant": "constant", "reflect": "reflect"}[fe.get("pad_mode", "constant")]
        x = np.pad(x, (n_fft // 2, n_fft // 2), mode=mode)
        n_frames = 1 + len(audio) // hop
    else:
        n_frames = 1 + (len(audio) - n_fft) // hop if len(audio) >= n_fft else 0
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    mag = np.abs(np.fft.rfft(x[idx] * w[None, :], axis=1))
    spec = mag if fe["power"] == 1.0 else mag ** fe["power"]
    if fe.get("drop_nyquist", False):
        spec = spec[:, :-1]
    return spec


def apply_steps(spec: np.ndarray, fe: dict, sr: int) -> np.ndarray:
    import librosa

    x = spec.astype(np.float64)
    n_fft = fe["n_fft"]
    for step in fe["steps"]:
        op = step["op"]
        if op == "mel":
            if fe.get("drop_nyquist", False):
                raise NotImplementedError("mel after drop_nyquist")
            fb = librosa.filters.mel(
                sr=sr,
                n_fft=n_fft,
                n_mels=step["n_bands"],
                fmin=step["fmin_hz"],
                fmax=step["fmax_hz"],
                htk=step["scale"] == "htk",
                norm="slaney" if step["norm"] == "slaney" else None,
            )
            x = x @ fb.astype(np.float64).T
        elif op in ("db", "a_weighting_db"):
            amin, ref = step["amin"], step["ref"]
            x = 10.0 * np.log10(np.maximum(x, amin)) - 10.0 * np.log10(max(ref, amin))
            if step.get("top_db") is not None:  # causal: floor at the running maximum
                running = np.maximum.accumulate(x.max(axis=1))
                x = np.maximum(x, (running - step["top_db"])[:, None])
            if op == "a_weighting_db":
                freqs = np.arange(x.shape[1]) * sr / n_fft
                with np.errstate(divide="ignore"):  # 0 Hz: log10(0) = -inf, floored to -80 dB
                    weights = librosa.A_weighting(freqs, min_db=-80.0)
                x = x + weights[None, :]
        elif op == "log":
            x = np.log(x + step["eps"])
        elif op == "log10":
            x = np.log10(step["mul"] * x + step["add"])
        elif op == "float16":
            x = x.astype(np.float16).astype(np.float64)
        elif op == "affine":
            x = x * step["scale"] + step["offset"]
        elif op == "normalize":
            mean = np.asarray(step["mean"], dtype=np.float64)
            std = np.asarray(step["std"], dtype=np.float64)
            x = (x - mean) / std
        else:
            raise ValueError(f"step {op!r}")
    return x.astype(np.float32)


def livetag_features(audio: np.ndarray, sr: int, fe: dict) -> np.ndarray:
    """[frames, bands] float32: what the bundle's ``[frontend]`` gives offline."""
    return apply_steps(stft_spectrum(audio, fe), fe, sr)


def samples_for_frames(fe: dict, frames: int) -> int:
    steps = (frames - 1) * fe["hop_samples"]
    return steps if fe["center"] else steps + fe["n_fft"]
