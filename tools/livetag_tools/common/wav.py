"""Byte-reproducible WAV files (a committed bundle or fixture must rebuild byte for byte), and
the one reader of the 16-bit fixtures."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np


def float32_wav(audio: np.ndarray, sr: int) -> bytes:
    """Mono IEEE-float WAV (fmt 3, fact chunk), byte-for-byte reproducible. (libsndfile, and
    so soundfile, adds a PEAK chunk holding a timestamp to float WAVs.)"""
    data = np.asarray(audio, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, sr, sr * 4, 4, 32)
    fact = struct.pack("<I", len(audio))
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"fact" + struct.pack("<I", len(fact)) + fact
            + b"data" + struct.pack("<I", len(data)) + data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def write_pcm16_wav(path: Path, audio: np.ndarray, sr: int) -> None:
    """Mono 16-bit PCM WAV of `audio` clipped to [-1, 1], through soundfile: the committed
    reference fixtures were written this way, and libsndfile's float -> int16 rounding is what
    keeps them byte for byte."""
    import soundfile as sf
    sf.write(str(path), np.clip(audio, -1, 1).astype(np.float32), sr, subtype="PCM_16",
             format="WAV")


def read_pcm16_wav(path: Path, sr: int) -> np.ndarray:
    """A mono WAV as float32 (int16 / 32768, as librosa and soundfile give); refuses another
    rate or channel count rather than resample."""
    import soundfile as sf
    audio, got = sf.read(str(path), dtype="float32")
    if got != sr or audio.ndim != 1:
        raise ValueError(f"{path}: {got} Hz, {audio.ndim} dims; expected mono {sr} Hz")
    return audio
