"""Reference generator for livetag's front-end parity tests.

Run from ``tools/`` in a venv with librosa, NumPy and SciPy (``tools/venv.sh bench`` has
them, at the versions the committed fixtures were made with) and, for ``dorfer_v2``, madmom:

    cd tools && python -m livetag_tools.reference.frontend --require-madmom
    cd tools && python -m livetag_tools.reference.frontend --no-madmom --out /tmp/frontend

madmom 0.16.1 is an sdist with Cython extensions that builds on Python 3.11 only without
build isolation, so no lock installs it; into a copy of that venv:

    pip install Cython==3.3.1 wheel==0.48.0
    pip install --no-build-isolation madmom==0.16.1

Without madmom every file but ``dorfer_v2/meta.json`` comes out the same (its features too:
the NumPy re-implementation below matches madmom bit for bit on this signal); that file then
names the re-implementation as the reference instead of madmom.

It (re)writes, deterministically, ``tests/fixtures/frontend/<case>/``:

* ``frontend.toml``  top-level ``sample_rate_hz`` and a ``[frontend]`` table in the
                      vocabulary of docs/BUNDLE_FORMAT.md (every key written, except an
                      absent ``top_db``: TOML has no null).
* ``input.f32``      the mono input signal, raw little-endian float32.
* ``expected.f32``   the expected features, raw little-endian float32, row-major
                      ``[frames][bands]``.
* ``meta.json``      frames, bands, sample rate, what computed it (with versions), notes.

The references are the libraries themselves, called the way the original systems call them:

* librosa 0.11 (``librosa.feature.melspectrogram``, ``librosa.power_to_db``,
  ``librosa.perceptual_weighting``) for every STFT + mel case;
* madmom 0.16.1 (``FramedSignalProcessor`` / ``SpectrogramProcessor`` /
  ``LogarithmicFilteredSpectrogramProcessor`` with ``LogFilterbank``) for ``dorfer_v2``.
  madmom 0.16.1 (the last release) predates Python 3.10 and NumPy 1.24; it is imported here
  behind two compatibility shims that change no numerics: ``collections.MutableSequence``
  & co. are aliased to ``collections.abc``, and ``np.float`` / ``np.int`` / ``np.bool`` /
  ``np.complex`` / ``np.object`` are set to the builtins they were aliases of in NumPy < 1.24.

  If madmom cannot be imported, ``dorfer_v2`` falls back to ``madmom_log_filtered_spec_numpy``
  below, a NumPy RE-IMPLEMENTATION OF THE madmom 0.16 FORMULAS (log_frequencies with fref
  440, frequencies2bins snapping to the nearest bin, unique bins, TriangularFilter with
  ``np.linspace(..., endpoint=False)``, each filter divided by its sum, overlapping
  filters, the small-filter rule ``stop - start < 2``; np.hanning window; n_fft/2 bins;
  ``log10(1 * x + 1)``). When madmom is importable the re-implementation is still run and
  its difference from madmom is recorded in meta.json. ``--require-madmom`` makes a missing
  madmom an error.

After writing, an independent NumPy re-implementation (own framing/padding, np.fft.rfft,
``librosa.filters.mel`` only for the filter matrix) re-derives cases 1, 3, 4 and 7 and
prints the maximum relative difference.
"""

from __future__ import annotations

import argparse
import collections
import collections.abc
import json
import math
import shutil
import sys
import tomllib
import warnings
from pathlib import Path

import librosa
import numpy as np
import scipy
import scipy.signal

from livetag_tools.common.bundle import toml_value
from livetag_tools.common.cache import repo_root

DURATION_S = 2.0
SEED = 20240611
FIXTURE_ROOT = repo_root() / "tests" / "fixtures" / "frontend"


# --------------------------------------------------------------------------- signal


def make_signal(sr: int, seconds: float = DURATION_S, seed: int = SEED) -> np.ndarray:
    """The test signal, float32 mono at ``sr``.

    * 440 Hz tone, amplitude 0.3, from sample 0 (full amplitude at once) to 1.0 s, with a
      smooth louder bump (amplitude up to 0.8) centred on 0.025 s: the loudest frame of every
      case lies in the first 0.1 s (matters for ``top_db``, see BUNDLE_FORMAT.md);
    * a linear chirp 200 Hz -> 0.45 * sr from 1.0 s to 2.0 s (clipped to ``seconds``),
      amplitude 0.2;
    * single-sample clicks of +0.5 at a few fixed times;
    * white Gaussian noise, std 1e-3 (about -60 dBFS), throughout, from a fixed seed.
    """
    n = int(round(seconds * sr))
    t = np.arange(n, dtype=np.float64) / sr
    x = np.zeros(n, dtype=np.float64)

    # tone with the early burst
    env = np.full(n, 0.3)
    b0, b1 = 0.010, 0.040  # burst: raised cosine from 10 ms to 40 ms, peak at 25 ms
    inb = (t >= b0) & (t < b1)
    env[inb] += 0.5 * 0.5 * (1.0 - np.cos(2.0 * np.pi * (t[inb] - b0) / (b1 - b0)))
    tone = (t < 1.0)
    x[tone] += env[tone] * np.sin(2.0 * np.pi * 440.0 * t[tone])

    # chirp over the second second
    ch = (t >= 1.0) & (t < 2.0)
    x[ch] += 0.2 * scipy.signal.chirp(t[ch] - 1.0, f0=200.0, t1=1.0, f1=0.45 * sr, method="linear")

    # clicks (times chosen away from the burst)
    for click_s in (0.31, 0.77, 1.23, 1.61, 1.92):
        i = int(click_s * sr)
        if i < n:
            x[i] += 0.5

    # noise floor
    rng = np.random.default_rng(seed)
    x += 1e-3 * rng.standard_normal(n)
    return x.astype(np.float32)


# --------------------------------------------------------------------------- madmom


def import_madmom():
    """Import madmom 0.16.1 behind numerics-neutral compatibility shims; None if absent."""
    for name in ("MutableSequence", "Sequence", "Iterable", "Mapping", "MutableMapping",
                 "Callable"):
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))
    for name, value in (("float", float), ("int", int), ("bool", bool), ("complex", complex),
                        ("object", object)):
        if name not in np.__dict__:
            setattr(np, name, value)
    try:
        import madmom  # noqa: F401
        from madmom.audio.filters import LogFilterbank
        from madmom.audio.signal import FramedSignalProcessor, Signal
        from madmom.audio.spectrogram import (
            LogarithmicFilteredSpectrogramProcessor,
            SpectrogramProcessor,
        )
    except Exception as exc:  # pragma: no cover - environment dependent
        print(f"madmom not usable ({exc!r}); using the NumPy re-implementation", file=sys.stderr)
        return None
    return {
        "version": getattr(madmom, "__version__", "unknown"),
        "LogFilterbank": LogFilterbank,
        "FramedSignalProcessor": FramedSignalProcessor,
        "Signal": Signal,
        "LogarithmicFilteredSpectrogramProcessor": LogarithmicFilteredSpectrogramProcessor,
        "SpectrogramProcessor": SpectrogramProcessor,
    }


def madmom_dorfer_v2(mm, y: np.ndarray, sr: int, frame_size: int, hop: int) -> np.ndarray:
    """Dorfer's version-2 processor chain, minus SignalProcessor(norm=True)."""
    sig = mm["Signal"](y, sample_rate=sr, num_channels=1)
    frames = mm["FramedSignalProcessor"](frame_size=frame_size, hop_size=hop, origin="future")(sig)
    spec = mm["SpectrogramProcessor"](frame_size=frame_size)(frames)
    filt = mm["LogarithmicFilteredSpectrogramProcessor"](
        filterbank=mm["LogFilterbank"], num_bands=26, fmin=20, fmax=14000
    )(spec)
    return np.asarray(filt)


# madmom 0.16 formulas, re-implemented (used as the reference only when madmom is absent)


def mm_log_frequencies(bands_per_octave, fmin, fmax, fref=440.0):
    left = np.floor(np.log2(float(fmin) / fref) * bands_per_octave)
    right = np.ceil(np.log2(float(fmax) / fref) * bands_per_octave)
    freqs = fref * 2.0 ** (np.arange(left, right) / float(bands_per_octave))
    freqs = freqs[np.searchsorted(freqs, fmin):]
    freqs = freqs[: np.searchsorted(freqs, fmax, "right")]
    return freqs


def mm_frequencies2bins(freqs, bin_freqs, unique_bins=False):
    idx = bin_freqs.searchsorted(freqs)
    idx = np.clip(idx, 1, len(bin_freqs) - 1)
    left = bin_freqs[idx - 1]
    right = bin_freqs[idx]
    idx -= freqs - left < right - freqs
    if unique_bins:
        idx = np.unique(idx)
    return idx


def mm_log_filterbank(n_bins, sr, bands_per_octave, fmin, fmax, fref=440.0, norm=True, unique=True):
    """[n_bins, n_bands] float32, as madmom.audio.filters.LogarithmicFilterbank."""
    bin_freqs = np.fft.fftfreq(n_bins * 2, 1.0 / sr)[:n_bins]
    bins = mm_frequencies2bins(mm_log_frequencies(bands_per_octave, fmin, fmax, fref), bin_freqs,
                               unique)
    if len(bins) < 3:
        raise ValueError("need at least 3 bins for a triangular filterbank")
    bands = []
    for i in range(len(bins) - 2):
        start, center, stop = (int(b) for b in bins[i : i + 3])
        if stop - start < 2:  # small-filter rule (overlap=True)
            center = start
            stop = start + 1
        c, s = center - start, stop - start
        data = np.zeros(s, dtype=np.float32)
        data[:c] = np.linspace(0, 1, c, endpoint=False)
        data[c:] = np.linspace(1, 0, s - c, endpoint=False)
        if norm:
            data /= np.sum(data)
        bands.append((start, stop, data))
    fb = np.zeros((n_bins, len(bands)), dtype=np.float32)
    for j, (start, stop, data) in enumerate(bands):
        fb[start:stop, j] = np.maximum(data, fb[start:stop, j])
    return fb


def madmom_log_filtered_spec_numpy(y, sr, frame_size, hop, bands_per_octave, fmin, fmax,
                                   n_frames=None):
    """madmom 0.16 version-2 chain re-implemented in NumPy (frames fully inside only)."""
    if n_frames is None:
        n_frames = (len(y) - frame_size) // hop + 1
    idx = np.arange(n_frames)[:, None] * hop + np.arange(frame_size)[None, :]
    frames = y[idx]
    win = np.hanning(frame_size)  # float64, as madmom (float signals: no int scaling)
    spec = np.fft.fft(frames * win, frame_size, axis=1)[:, : frame_size // 2]
    spec = np.abs(spec.astype(np.complex64))  # madmom stores STFT as complex64
    fb = mm_log_filterbank(frame_size // 2, sr, bands_per_octave, fmin, fmax)
    out = np.dot(spec, fb)
    return np.log10(1 * out + 1).astype(np.float32)


# --------------------------------------------------------------------------- cases


def mel_step(n_bands, fmin, fmax, scale="slaney", norm="slaney"):
    return {"op": "mel", "n_bands": n_bands, "fmin_hz": float(fmin), "fmax_hz": float(fmax),
            "scale": scale, "norm": norm}


def db_step(ref=1.0, amin=1e-10, top_db=None, op="db"):
    d = {"op": op, "ref": float(ref), "amin": float(amin)}
    if top_db is not None:
        d["top_db"] = float(top_db)
    return d


def stft_table(n_fft, hop, *, win_length=None, window="hann", center=True, pad_mode="constant",
               power=2.0, drop_nyquist=False):
    return {"n_fft": n_fft, "win_length": win_length if win_length is not None else n_fft,
            "hop_samples": hop, "window": window, "center": center, "pad_mode": pad_mode,
            "power": float(power), "drop_nyquist": drop_nyquist}


def causal_floor_report(pre_db: np.ndarray, top_db: float) -> dict:
    """Compare librosa's global-max floor with a causal running-max floor.

    ``pre_db`` is [bins_or_bands, frames] of dB values before flooring."""
    glob = np.maximum(pre_db, pre_db.max() - top_db)
    running = np.maximum.accumulate(pre_db.max(axis=0))
    causal = np.maximum(pre_db, running[None, :] - top_db)
    diff = np.any(glob != causal, axis=0)
    return {
        "values_floored_by_top_db": int(np.count_nonzero(pre_db < pre_db.max() - top_db)),
        "causal_floor_differing_values": int(np.count_nonzero(glob != causal)),
        "causal_floor_last_differing_frame": int(np.nonzero(diff)[0].max()) if diff.any() else -1,
    }


def case_mel_db(y, sr, top_db):
    S = librosa.feature.melspectrogram(
        y=y, sr=sr, n_fft=2048, hop_length=512, win_length=None, window="hann", center=True,
        pad_mode="constant", power=2.0, n_mels=128, fmin=0.0, fmax=11025.0, htk=False,
        norm="slaney")
    pre = librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=None)
    D = librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=top_db)
    peak_frame = int(np.unravel_index(np.argmax(pre), pre.shape)[1])
    info = {"peak_frame": peak_frame, "intermediate_dtype": str(S.dtype)}
    if top_db is not None:
        info.update(causal_floor_report(pre, top_db))
    return D.T, info


def case_mel_htk_log(y, sr):
    S = librosa.feature.melspectrogram(
        y=y, sr=sr, n_fft=400, win_length=400, hop_length=160, window="hann", center=True,
        pad_mode="constant", power=2.0, n_mels=64, fmin=125.0, fmax=7500.0, htk=True, norm=None)
    return np.log(S + 0.001).T, {"intermediate_dtype": str(S.dtype)}


def case_panns(y, sr):
    # torchlibrosa Spectrogram(n_fft=1024, hop_length=320, win_length=1024, window='hann',
    # center=True, pad_mode='reflect', power=2.0) + LogmelFilterBank(sr=32000, n_fft=1024,
    # n_mels=64, fmin=50, fmax=14000, ref=1.0, amin=1e-10, top_db=None); its melW is
    # librosa.filters.mel(...) (htk=False, norm='slaney') and its power_to_db is librosa's.
    S = librosa.feature.melspectrogram(
        y=y, sr=sr, n_fft=1024, hop_length=320, win_length=1024, window="hann", center=True,
        pad_mode="reflect", power=2.0, n_mels=64, fmin=50.0, fmax=14000.0, htk=False, norm="slaney")
    return (librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=None).T,
            {"intermediate_dtype": str(S.dtype)})


def case_musicnn(y, sr):
    # musicnn.extractor.batch_data: librosa.feature.melspectrogram(y=audio, sr=16000,
    # hop_length=256, n_fft=512, n_mels=96).T ; astype(np.float16) ; np.log10(10000 * x + 1)
    # with the NumPy-2 fix: back to float32 before the multiply.
    S = librosa.feature.melspectrogram(y=y, sr=sr, hop_length=256, n_fft=512, n_mels=96)
    S16 = S.astype(np.float16)
    n_f16_zero = int(np.count_nonzero((S16 == 0) & (S != 0)))
    out = np.log10(10000 * S16.astype(np.float32) + 1)
    return out.T, {"intermediate_dtype": str(S.dtype), "float16_flushed_to_zero": n_f16_zero}


def case_dorfer_v1(y, sr):
    X = librosa.stft(y, n_fft=1024, hop_length=192, win_length=None, window="hann", center=True,
                     pad_mode="reflect")
    S = np.abs(X)
    freqs = librosa.fft_frequencies(sr=sr, n_fft=1024)
    with warnings.catch_warnings():
        # log10(0) at the 0 Hz bin -> floored to -80
        warnings.simplefilter("ignore", RuntimeWarning)
        W = librosa.perceptual_weighting(S ** 2, freqs, ref=1.0, amin=1e-10, top_db=99.0)
        a_w = librosa.A_weighting(freqs)
    M = librosa.feature.melspectrogram(S=W, sr=sr, n_mels=128, fmax=16000)
    pre = librosa.power_to_db(S ** 2, ref=1.0, amin=1e-10, top_db=None)
    peak_frame = int(np.unravel_index(np.argmax(pre), pre.shape)[1])
    info = {
        "peak_frame": peak_frame,
        "intermediate_dtype": f"power {S.dtype}, weighted {W.dtype}, mel {M.dtype}",
        "a_weighting_db_bin0": float(a_w[0]),
        "a_weighting_db_bin1": float(a_w[1]),
        "a_weighting_db_max": float(a_w.max()),
        "a_weighting_db_last_bin": float(a_w[-1]),
    }
    info.update(causal_floor_report(pre, 99.0))
    return M.T, info


def case_dorfer_v2(y, sr, mm):
    frame_size, hop = 1024, 128
    n_inside = (len(y) - frame_size) // hop + 1
    ours = madmom_log_filtered_spec_numpy(y, sr, frame_size, hop, 26, 20.0, 14000.0, n_inside)
    info = {}
    if mm is not None:
        full = madmom_dorfer_v2(mm, y, sr, frame_size, hop)
        info["madmom_total_frames"] = int(full.shape[0])
        out = full[:n_inside]
        rel = np.max(np.abs(out.astype(np.float64) - ours) / np.maximum(np.abs(out), 1e-6))
        info["numpy_reimplementation_max_rel_diff"] = float(rel)
        info["numpy_reimplementation_max_abs_diff"] = float(
            np.max(np.abs(out.astype(np.float64) - ours)))
    else:
        out = ours
    return out, info


def case_kong_dcase2018(y, sr):
    # DCASE 2018 Task 2 baseline, qiuqiangkong/dcase2018_task2 features.py LogMelExtractor
    # (config: 32 kHz, window_size 2048, overlap 1024, mel_bins 64) as it computes it:
    # scipy.signal.spectrogram(audio, window=np.hamming(2048), nperseg=2048, noverlap=1024,
    # detrend=False, return_onesided=True, mode='magnitude'); .T @ librosa.filters.mel(sr,
    # n_fft=2048, n_mels=64, fmin=0, fmax=sr // 2).T; np.log(x + 1e-8); float32.
    _, _, x = scipy.signal.spectrogram(y.astype(np.float64), window=np.hamming(2048),
                                       nperseg=2048, noverlap=1024, detrend=False,
                                       return_onesided=True, mode="magnitude")
    mel_w = librosa.filters.mel(sr=sr, n_fft=2048, n_mels=64, fmin=0.0, fmax=sr // 2).T
    return np.log(x.T @ mel_w + 1e-8).astype(np.float32), {"intermediate_dtype": str(x.dtype)}


def kong_frontend() -> dict:
    """The baseline's log-mel in livetag's steps: scipy's density scaling divides |X| by
    sqrt(sum w^2), folded into log's eps and an affine offset (ln(a / c + e) =
    ln(a + e c) - ln c)."""
    window_sq = float(np.sum(np.hamming(2048) ** 2))
    return {**stft_table(2048, 1024, window="hamming_symmetric", center=False, power=1.0),
            "steps": [mel_step(64, 0, 16000),
                      {"op": "log", "eps": 1e-8 * math.sqrt(window_sq)},
                      {"op": "affine", "scale": 1.0, "offset": -0.5 * math.log(window_sq)}]}


def build_cases(mm):
    mm_ref = (f"madmom {mm['version']} (FramedSignalProcessor/SpectrogramProcessor/"
              "LogarithmicFilteredSpectrogramProcessor+LogFilterbank, compat shims)" if mm else
              "NumPy re-implementation of madmom 0.16 formulas (madmom unavailable)")
    topdb_note = ("top_db is applied by librosa against the GLOBAL maximum of the whole signal; "
                  "the "
                  "loudest frame is peak_frame (in the first 0.1 s), so a causal running-max floor "
                  "matches librosa exactly from peak_frame on; frames before it may differ (lower "
                  "floor).")
    return [
        {
            "name": "librosa_mel_slaney_db", "sr": 22050,
            "frontend": {**stft_table(2048, 512), "steps": [mel_step(128, 0, 11025), db_step()]},
            "compute": lambda y, sr: case_mel_db(y, sr, None),
            "reference": "librosa.feature.melspectrogram(y, sr=22050, n_fft=2048, hop_length=512, "
                         "window='hann', center=True, pad_mode='constant', power=2.0, n_mels=128, "
                         "fmin=0, "
                         "fmax=11025, htk=False, norm='slaney') -> librosa.power_to_db(S, ref=1.0, "
                         "amin=1e-10, top_db=None)",
            "notes": "float32 throughout (float32 input -> complex64 STFT -> float32 mel). No "
                     "top_db: key omitted.",
        },
        {
            "name": "librosa_mel_htk_log", "sr": 16000,
            "frontend": {**stft_table(400, 160, win_length=400),
                         "steps": [mel_step(64, 125, 7500, "htk", "none"),
                                   {"op": "log", "eps": 0.001}]},
            "compute": case_mel_htk_log,
            "reference": "librosa.feature.melspectrogram(y, sr=16000, n_fft=400, win_length=400, "
                         "hop_length=160, window='hann', center=True, pad_mode='constant', "
                         "power=2.0, "
                         "n_mels=64, fmin=125, fmax=7500, htk=True, norm=None) -> np.log(S + "
                         "0.001)",
            "notes": "YAMNet-LIKE parameters only: real YAMNet uses a magnitude spectrogram, "
                     "fft_length 512 for "
                     "the 400-sample window, no centring, and TF's own HTK mel matrix. float32 "
                     "throughout.",
        },
        {
            "name": "panns_logmel", "sr": 32000,
            "frontend": {**stft_table(1024, 320, win_length=1024, pad_mode="reflect"),
                         "steps": [mel_step(64, 50, 14000), db_step()]},
            "compute": case_panns,
            "reference": "librosa equivalent of torchlibrosa Spectrogram+LogmelFilterBank: "
                         "librosa.feature.melspectrogram(y, sr=32000, n_fft=1024, hop_length=320, "
                         "win_length=1024, window='hann', center=True, pad_mode='reflect', "
                         "power=2.0, "
                         "n_mels=64, fmin=50, fmax=14000, htk=False, norm='slaney') -> "
                         "librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=None)",
            "notes": "torchlibrosa computes the STFT as float32 conv1d, so real PANNs differ from "
                     "this by "
                     "float32 rounding only. No top_db: key omitted.",
        },
        {
            "name": "musicnn", "sr": 16000,
            "frontend": {**stft_table(512, 256),
                         "steps": [mel_step(96, 0, 8000), {"op": "float16"},
                                   {"op": "log10", "mul": 10000.0, "add": 1.0}]},
            "compute": case_musicnn,
            "reference": "librosa.feature.melspectrogram(y, sr=16000, hop_length=256, n_fft=512, "
                         "n_mels=96) "
                         "(defaults: hann, center=True, pad_mode='constant', power 2, fmin 0, fmax "
                         "8000, "
                         "slaney/slaney) -> .astype(np.float16).astype(np.float32) -> "
                         "np.log10(10000 * x + 1)",
            "notes": "NumPy-2 fix: the float16-rounded mel is cast back to float32 BEFORE the "
                     "multiply "
                     "(musicnn 0.1.0 under NumPy 2 multiplies in float16 and overflows). The "
                     "librosa used "
                     "for training padded 'reflect'; librosa >= 0.10 pads zeros, as here.",
        },
        {
            "name": "dorfer_v1", "sr": 32000,
            "frontend": {**stft_table(1024, 192, pad_mode="reflect"),
                         "steps": [db_step(top_db=99.0, op="a_weighting_db"),
                                   mel_step(128, 0, 16000)]},
            "compute": case_dorfer_v1,
            "reference": "S = np.abs(librosa.stft(y, n_fft=1024, hop_length=192, window='hann', "
                         "center=True, "
                         "pad_mode='reflect')); W = librosa.perceptual_weighting(S**2, "
                         "librosa.fft_frequencies(sr=32000, n_fft=1024), ref=1.0, amin=1e-10, "
                         "top_db=99.0); "
                         "librosa.feature.melspectrogram(S=W, sr=32000, n_mels=128, fmax=16000)",
            "notes": "top_db=99 is applied inside power_to_db to the UNWEIGHTED dB values, against "
                     "their "
                     "GLOBAL max over the whole signal (peak_frame), before the A-weighting offset "
                     "is added. "
                     + topdb_note + " A-weighting is librosa.A_weighting(min_db=-80): the 0 Hz bin "
                                    "is "
                     "log10(0) = -inf, floored to -80 dB. The mel matrix is applied to dB values "
                     "(Dorfer's "
                     "pipeline). librosa computes the A-weighting offset in float64, so the "
                     "weighted "
                     "spectrogram and the mel product are float64 (mel matrix float32); cast to "
                     "float32 "
                     "at the end.",
        },
        {
            "name": "dorfer_v2", "sr": 32000,
            "frontend": {**stft_table(1024, 128, window="hann_symmetric", center=False, power=1.0,
                                      drop_nyquist=True),
                         "steps": [{"op": "log_filterbank", "bands_per_octave": 26, "fmin_hz": 20.0,
                                    "fmax_hz": 14000.0, "fref_hz": 440.0, "norm_filters": True,
                                    "unique_filters": True},
                                   {"op": "log10", "mul": 1.0, "add": 1.0}]},
            "compute": lambda y, sr: case_dorfer_v2(y, sr, mm),
            "reference": mm_ref,
            "notes": "origin='future': frame t starts at sample t*128 (center=false; pad_mode is "
                     "irrelevant). "
                     "np.hanning(1024) (symmetric), |FFT| of the first 512 bins (no Nyquist), "
                     "LogarithmicFilterbank(26/oct, 20-14000 Hz, fref 440, norm, unique), log10(x "
                     "+ 1). "
                     "SignalProcessor(norm=True) (whole-file peak normalisation, not causal) is "
                     "NOT applied; "
                     "livetag omits it. Only frames lying fully inside the signal (start + 1024 <= "
                     "len) "
                     "are emitted; madmom itself would add ceil(len/hop) - that many zero-padded "
                     "tail frames. "
                     "Float input: madmom's int16 window scaling (1/32767 for int16 files) does "
                     "not apply. "
                     "Cross-check: unpatched madmom 0.16.1 on Python 3.9 / NumPy 1.23.5 / SciPy "
                     "1.10.1 gave "
                     "max abs diff 1.2e-7 from these values (FFT rounding).",
        },
        {
            "name": "kong_dcase2018_logmel", "sr": 32000,
            "frontend": kong_frontend(),
            "compute": case_kong_dcase2018,
            "reference": "scipy.signal.spectrogram(y, window=np.hamming(2048), nperseg=2048, "
                         "noverlap=1024, detrend=False, return_onesided=True, "
                         "mode='magnitude').T @ librosa.filters.mel(sr=32000, n_fft=2048, "
                         "n_mels=64, fmin=0, fmax=16000).T -> np.log(x + 1e-8) (the DCASE 2018 "
                         "Task 2 baseline's features.py LogMelExtractor)",
            "notes": "Symmetric Hamming (np.hamming), no centring: frame t starts at sample "
                     "t*1024, only frames inside the signal. scipy's density scaling "
                     "|X| / sqrt(sum w^2) is folded into the log's eps and an affine offset. "
                     "The baseline's per-file peak normalisation (audio / max|audio|) is not "
                     "part of the front-end.",
        },
        {
            "name": "streaming_db_top_db", "sr": 22050,
            "frontend": {**stft_table(2048, 512),
                         "steps": [mel_step(128, 0, 11025), db_step(top_db=80.0)]},
            "compute": lambda y, sr: case_mel_db(y, sr, 80.0),
            "reference": "as librosa_mel_slaney_db but librosa.power_to_db(S, ref=1.0, "
                         "amin=1e-10, top_db=80.0)",
            "notes": topdb_note,
        },
    ]


# --------------------------------------------------------------------------- writing


def frontend_toml(sr, fe):
    lines = [f"sample_rate_hz = {sr}", "", "[frontend]"]
    for k in ("n_fft", "win_length", "hop_samples", "window", "center", "pad_mode", "power",
              "drop_nyquist"):
        lines.append(f"{k} = {toml_value(fe[k])}")
    for step in fe["steps"]:
        lines += ["", "[[frontend.steps]]"]
        for k, v in step.items():
            lines.append(f"{k} = {toml_value(v)}")
    return "\n".join(lines) + "\n"


def versions():
    return {"python": sys.version.split()[0], "numpy": np.__version__, "scipy": scipy.__version__,
            "librosa": librosa.__version__}


def write_case(case, out_root: Path, vers):
    sr = case["sr"]
    y = make_signal(sr)
    feats, info = case["compute"](y, sr)
    feats = np.ascontiguousarray(np.asarray(feats), dtype=np.float32)
    assert feats.ndim == 2 and np.all(np.isfinite(feats)), case["name"]
    d = out_root / case["name"]
    d.mkdir(parents=True, exist_ok=True)
    toml_text = frontend_toml(sr, case["frontend"])
    parsed = tomllib.loads(toml_text)  # round-trip check
    assert parsed["sample_rate_hz"] == sr
    assert parsed["frontend"]["n_fft"] == case["frontend"]["n_fft"]
    (d / "frontend.toml").write_text(toml_text)
    y.astype("<f4").tofile(d / "input.f32")
    feats.astype("<f4").tofile(d / "expected.f32")
    lib_vers = {k: v for k, v in vers.items() if k != "madmom" or case["name"] == "dorfer_v2"}
    vtxt = ", ".join(f"{k} {v}" for k, v in lib_vers.items())
    prefix = "" if case["name"] == "dorfer_v2" else f"librosa {librosa.__version__}: "
    ref = f"{prefix}{case['reference']}; {vtxt}"
    fe = case["frontend"]
    meta = {
        "frames": int(feats.shape[0]),
        "bands": int(feats.shape[1]),
        "sample_rate_hz": sr,
        "n_fft": fe["n_fft"],
        "hop_samples": fe["hop_samples"],
        "input_samples": int(len(y)),
        "reference": ref,
        "notes": case["notes"],
        "max_abs_value": float(np.max(np.abs(feats))),
        "min_value": float(feats.min()),
        "max_value": float(feats.max()),
    }
    for k, v in info.items():
        meta[k] = v
    if "peak_frame" in info:
        meta["peak_time_s"] = round(info["peak_frame"] * fe["hop_samples"] / sr, 6)
        assert meta["peak_time_s"] < 0.1, (case["name"], meta["peak_time_s"])
    (d / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return y, feats, meta


# --------------------------------------------------------------------------- self-check


def own_stft_power(y, n_fft, hop, pad_mode):
    """Independent: explicit centre padding + framing + periodic Hann + np.fft.rfft, float64."""
    y = y.astype(np.float64)
    pad = n_fft // 2
    yp = np.pad(y, pad, mode="reflect" if pad_mode == "reflect" else "constant")
    n_frames = 1 + (len(yp) - n_fft) // hop
    win = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    idx = np.arange(n_frames)[:, None] * hop + np.arange(n_fft)[None, :]
    spec = np.fft.rfft(yp[idx] * win, axis=1)
    return (spec.real ** 2 + spec.imag ** 2)  # [frames, bins]


def self_check(out_root: Path):
    results = {}

    def load(name):
        meta = json.loads((out_root / name / "meta.json").read_text())
        y = np.fromfile(out_root / name / "input.f32", dtype="<f4")
        e = np.fromfile(out_root / name / "expected.f32", dtype="<f4")
        e = e.reshape(meta["frames"], meta["bands"])
        return y, e, meta

    def rel(a, b, floor):
        return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), floor)))

    # case 1 / 7
    y, e, m = load("librosa_mel_slaney_db")
    fb = librosa.filters.mel(sr=22050, n_fft=2048, n_mels=128, fmin=0.0, fmax=11025.0, htk=False,
                             norm="slaney", dtype=np.float64)
    mel = own_stft_power(y, 2048, 512, "constant") @ fb.T
    db = 10.0 * np.log10(np.maximum(mel, 1e-10))
    assert db.shape == e.shape
    results["librosa_mel_slaney_db"] = {"max_rel_diff": rel(e, db, 1.0),
                                        "max_abs_diff_db": float(np.max(np.abs(e - db)))}
    y7, e7, m7 = load("streaming_db_top_db")
    db7 = np.maximum(db, db.max() - 80.0)
    results["streaming_db_top_db"] = {"max_rel_diff": rel(e7, db7, 1.0),
                                      "max_abs_diff_db": float(np.max(np.abs(e7 - db7))),
                                      "own_peak_frame":
                                          int(np.unravel_index(np.argmax(db), db.shape)[0]),
                                      "meta_peak_frame": m7["peak_frame"]}

    # case 3
    y, e, m = load("panns_logmel")
    fb = librosa.filters.mel(sr=32000, n_fft=1024, n_mels=64, fmin=50.0, fmax=14000.0, htk=False,
                             norm="slaney", dtype=np.float64)
    db = 10.0 * np.log10(np.maximum(own_stft_power(y, 1024, 320, "reflect") @ fb.T, 1e-10))
    results["panns_logmel"] = {"max_rel_diff": rel(e, db, 1.0),
                               "max_abs_diff_db": float(np.max(np.abs(e - db)))}

    # case 4 (float16 rounding may flip at a half-ulp boundary; count those)
    y, e, m = load("musicnn")
    fb = librosa.filters.mel(sr=16000, n_fft=512, n_mels=96, fmin=0.0, fmax=8000.0, htk=False,
                             norm="slaney", dtype=np.float64)
    mel = own_stft_power(y, 512, 256, "constant") @ fb.T
    ours = np.log10(10000.0 * mel.astype(np.float16).astype(np.float64) + 1.0)
    ours16 = mel.astype(np.float16)
    theirs16 = ((10.0 ** e.astype(np.float64) - 1.0) / 10000.0).astype(np.float16)
    flips = ours16 != theirs16  # float32-vs-float64 mel landing on the other side of a half-ulp
    same = ~flips
    results["musicnn"] = {"max_rel_diff": rel(e, ours, 1e-3),
                          "max_abs_diff": float(np.max(np.abs(e - ours))),
                          "float16_rounding_flips": int(np.count_nonzero(flips)),
                          "max_rel_diff_where_float16_agrees": rel(e[same], ours[same], 1e-3)}
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=FIXTURE_ROOT)
    ap.add_argument("--require-madmom", action="store_true")
    ap.add_argument("--no-madmom", action="store_true",
                    help="use the NumPy re-implementation for dorfer_v2")
    args = ap.parse_args(argv)

    mm = None if args.no_madmom else import_madmom()
    if mm is None and args.require_madmom:
        sys.exit("madmom required but not importable")
    vers = versions()
    if mm is not None:
        vers["madmom"] = mm["version"]

    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    total = 0
    for case in build_cases(mm):
        _, feats, meta = write_case(case, args.out, vers)
        size = sum(p.stat().st_size for p in (args.out / case["name"]).iterdir())
        total += size
        print(f"{case['name']:24s} frames {meta['frames']:4d} bands {meta['bands']:3d} "
              f"max|x| {meta['max_abs_value']:.4g} {size / 1024:.0f} KiB"
              + (f" peak_frame {meta['peak_frame']}" if "peak_frame" in meta else ""))
    print(f"total {total / 1024:.0f} KiB")
    print(json.dumps(self_check(args.out), indent=2))


if __name__ == "__main__":
    main()
