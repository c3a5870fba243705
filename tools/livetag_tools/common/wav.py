"""Byte-reproducible WAV files: a committed bundle must rebuild byte for byte."""

from __future__ import annotations

import struct

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
