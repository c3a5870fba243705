"""The log-mel front-end every PANNs model computes inside its graph (torchlibrosa's
Spectrogram + LogmelFilterBank, as the original code uses them).

    STFT      Conv1d weights `spectrogram_extractor.stft.conv_real/conv_imag.weight`,
              [n_fft/2 + 1, 1, n_fft]: periodic Hann window times the DFT matrix; the
              signal is reflect-padded by n_fft/2 on both sides (librosa center=True), so a
              clip of T samples gives 1 + T // hop frames.
    power     real^2 + imag^2
    mel       `logmel_extractor.melW` [n_fft/2 + 1, 64]: librosa.filters.mel (Slaney scale
              and norm), fmin 50 Hz, fmax 14 kHz (Cnn14_16k: 8 kHz)
    dB        10 * log10(max(x, 1e-10))  (ref 1.0, no top_db)

The constants are computed as librosa / scipy compute them (float64, cast to float32 where
they are), so that random-weight bundles carry the same matrices a checkpoint does, without
making librosa a dependency of the export (tools/tests/test_export_panns.py compares them).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

AMIN = 1e-10


def hann_periodic(n: int) -> np.ndarray:
    """scipy.signal.get_window('hann', n, fftbins=True): the symmetric n+1-point window,
    0.5 + 0.5 cos over [-pi, pi], without its last point."""
    phase = np.linspace(-np.pi, np.pi, n + 1)
    w = np.zeros(n + 1)
    w += 0.5
    w += 0.5 * np.cos(phase)
    return w[:n]


def stft_kernels(n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """(real, imag) Conv1d kernels [n_fft/2 + 1, 1, n_fft]: window[n] * exp(-2 pi i n k / N),
    the DFT matrix taken as powers of its root of unity."""
    n = np.arange(n_fft)
    root = np.exp(-2j * np.pi / n_fft)
    dft = np.power(root, np.outer(n, n))[:, : n_fft // 2 + 1]
    windowed = dft * hann_periodic(n_fft)[:, None]
    real = np.real(windowed).T[:, None, :].astype(np.float32)
    imag = np.imag(windowed).T[:, None, :].astype(np.float32)
    return real, imag


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's auditory toolbox scale: linear below 1 kHz (200/3 Hz per mel), log above."""
    hz = np.asanyarray(hz, dtype=np.float64)
    mel = hz / (200.0 / 3)
    logstep = np.log(6.4) / 27.0
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-30) / 1000.0) / logstep, mel)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asanyarray(mel, dtype=np.float64)
    logstep = np.log(6.4) / 27.0
    return np.where(mel >= 15.0, 1000.0 * np.exp(logstep * (mel - 15.0)), (200.0 / 3) * mel)


def mel_matrix(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax).T
    (Slaney scale, Slaney area norm, float32): [n_fft/2 + 1, n_mels]."""
    fft_hz = np.linspace(0, sr / 2, 1 + n_fft // 2)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    ramps = np.subtract.outer(edges, fft_hz)
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float32)
    for i in range(n_mels):
        rising = -ramps[i] / widths[i]
        falling = ramps[i + 2] / widths[i + 1]
        weights[i] = np.maximum(0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2: n_mels + 2] - edges[:n_mels]))[:, None]
    return np.ascontiguousarray(weights.T)


# Modules, named as in the original so that state_dict keys match.

class Stft(nn.Module):
    def __init__(self, n_fft: int, hop: int):
        super().__init__()
        self.n_fft = n_fft
        bins = n_fft // 2 + 1
        self.conv_real = nn.Conv1d(1, bins, n_fft, stride=hop, bias=False)
        self.conv_imag = nn.Conv1d(1, bins, n_fft, stride=hop, bias=False)
        real, imag = stft_kernels(n_fft)
        with torch.no_grad():
            self.conv_real.weight.copy_(torch.from_numpy(real))
            self.conv_imag.weight.copy_(torch.from_numpy(imag))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.pad(wave[:, None, :], (self.n_fft // 2, self.n_fft // 2), mode="reflect")
        return self.conv_real(x), self.conv_imag(x)  # [batch, bins, frames] each


class Spectrogram(nn.Module):
    """Power spectrogram [batch, 1, frames, bins]."""

    def __init__(self, n_fft: int, hop: int):
        super().__init__()
        self.stft = Stft(n_fft, hop)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        real, imag = self.stft(wave)
        return (real ** 2 + imag ** 2).transpose(1, 2)[:, None]


class LogMel(nn.Module):
    def __init__(self, sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float):
        super().__init__()
        self.melW = nn.Parameter(torch.from_numpy(mel_matrix(sr, n_fft, n_mels, fmin, fmax)))

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        # 10 log10(max(x, amin)) - 10 log10(max(amin, ref)); ref = 1 makes the second term 0.
        return 10.0 * torch.log10(torch.clamp(torch.matmul(power, self.melW), min=AMIN))
