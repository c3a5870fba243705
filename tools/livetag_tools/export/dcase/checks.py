"""Measurements tools/tests/test_export_dcase.py holds the DCASE exporters to: the NumPy
front-end against livetag's own fixtures, and each bundle front-end against the original
system's, where the two differ by design (the "gaps" the architecture modules describe).
"""

from __future__ import annotations

import json
import math
import tomllib

import numpy as np
import torch

from livetag_tools.common.cache import repo_root
from livetag_tools.export.dcase import dcase2018_t2_baseline as kong
from livetag_tools.export.dcase import dcase2024_t1_baseline as t1
from livetag_tools.export.dcase.base import reference_signal
from livetag_tools.export.dcase.frontend import apply_steps, livetag_features, samples_for_frames

FRONTEND_FIXTURES = repo_root() / "tests" / "fixtures" / "frontend"


def frontend_fixture_cases() -> list[str]:
    """livetag's front-end fixtures (librosa references) the NumPy copy can compute: all but
    madmom's log filterbank, which no DCASE bundle uses."""
    cases = []
    for case in sorted(p for p in FRONTEND_FIXTURES.iterdir() if (p / "frontend.toml").exists()):
        fe = tomllib.loads((case / "frontend.toml").read_text())["frontend"]
        if not any(s["op"] == "log_filterbank" for s in fe["steps"]):
            cases.append(case.name)
    return cases


def frontend_fixture_diff(name: str) -> tuple[float, float]:
    """(max abs, max abs relative to the largest value) of the NumPy front-end against one
    fixture, past the frames where livetag's running top_db floor differs from the global one
    the reference used."""
    case = FRONTEND_FIXTURES / name
    spec = tomllib.loads((case / "frontend.toml").read_text())
    meta = json.loads((case / "meta.json").read_text())
    audio = np.fromfile(case / "input.f32", dtype="<f4")
    want = np.fromfile(case / "expected.f32", dtype="<f4").reshape(meta["frames"], meta["bands"])
    got = livetag_features(audio, spec["sample_rate_hz"], spec["frontend"])
    skip = meta.get("causal_floor_last_differing_frame", -1) + 1  # global vs running top_db
    diff = np.abs(got[skip:].astype(np.float64) - want[skip:])
    return float(diff.max()), float(diff.max() / max(np.abs(want).max(), 1e-30))


def kong_frontend_gap() -> dict:
    """The baseline's own log-mel (features.py LogMelExtractor: scipy.signal.spectrogram with
    np.hamming, librosa Slaney mel, ln(x + 1e-8)) against the bundle's front-end as livetag
    computes it (the NumPy copy)."""
    import librosa
    import scipy.signal

    arch = kong.ARCH
    fe = arch.bundle_frontend()
    audio = reference_signal(32000, samples_for_frames(fe, 256))
    _, _, s = scipy.signal.spectrogram(
        audio.astype(np.float64),
        window=np.hamming(2048),
        nperseg=2048,
        noverlap=1024,
        detrend=False,
        return_onesided=True,
        mode="magnitude",
    )
    mel_w = librosa.filters.mel(sr=32000, n_fft=2048, n_mels=64, fmin=0.0, fmax=16000)
    official = np.log(s.T @ mel_w.T + 1e-8)
    ours = livetag_features(audio, 32000, fe).astype(np.float64)
    sym = np.abs(
        np.fft.rfft(
            audio.astype(np.float64)[
                np.arange(2048)[None] + 1024 * np.arange(ours.shape[0])[:, None]
            ]
            * np.hamming(2048),
            axis=1,
        )
    )
    folded = apply_steps(sym, fe, 32000).astype(np.float64)  # symmetric window + bundle steps
    return {
        "frames": ours.shape[0],
        "official_frames": official.shape[0],
        "scaling_fold_max_abs": float(np.abs(folded - official).max()),
        "livetag_max_abs": float(np.abs(ours - official).max()),
        "livetag_mean_abs": float(np.abs(ours - official).mean()),
    }


def t1_frontend_gap() -> float:
    """torchaudio-style MelSpectrogram (torch.stft, float32, torchaudio's melscale_fbanks
    formula re-derived) + ln(x + 1e-5) vs the bundle's steps."""
    arch = t1.ARCH
    fe = arch.bundle_frontend()
    audio = reference_signal(32000, 32000)
    x = torch.from_numpy(audio)[None]
    spec = (
        torch.stft(
            x,
            4096,
            hop_length=500,
            win_length=3072,
            window=torch.hann_window(3072),
            center=True,
            pad_mode="reflect",
            normalized=False,
            onesided=True,
            return_complex=True,
        ).abs()
        ** 2
    )  # [1, 2049, T]
    all_freqs = torch.linspace(0, 16000, 2049)
    m_pts = torch.linspace(2595.0 * math.log10(1.0), 2595.0 * math.log10(1.0 + 16000 / 700.0), 258)
    f_pts = 700.0 * (10 ** (m_pts / 2595.0) - 1.0)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
    down = (-1.0 * slopes[:, :-2]) / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    fb = torch.max(torch.zeros(1), torch.min(down, up))  # [2049, 256]
    mel = torch.matmul(spec.transpose(-1, -2), fb).transpose(-1, -2)
    official = (mel + 1e-5).log()[0].T.numpy().astype(np.float64)
    ours = livetag_features(audio, 32000, fe).astype(np.float64)
    assert official.shape == ours.shape == (65, 256), (official.shape, ours.shape)
    return float(np.abs(official - ours).max())
