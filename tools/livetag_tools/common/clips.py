"""Test clips that livetag's reference scripts synthesise themselves: a whistle, a flute-like
tone, white noise, a drum pattern, a chirp and espeak-ng speech. Each generator is
deterministic (fixed seeds) and takes the sample rate, so every model's parity fixtures can be
made at its own rate from the same recipes.

    from livetag_tools.common.clips import CLIPS, synth
    audio = synth("whistle", seconds=6.0, sr=16000)   # float32, mono, None if unavailable
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from livetag_tools.common.wav import write_pcm16_wav

# Whistle: see `python -m livetag_tools.reference.musicnn --whistle-search` for how it was chosen.
WHISTLE = dict(f0=1500.0, vibrato_hz=5.5, vibrato_cents=40.0, breath_db=-30.0,
               second_harmonic_db=-30.0, attack_s=0.08)


def synth_whistle(n_samples: int, seed: int = 0, f0: float = WHISTLE["f0"],
                  vibrato_hz: float = WHISTLE["vibrato_hz"],
                  vibrato_cents: float = WHISTLE["vibrato_cents"],
                  breath_db: float = WHISTLE["breath_db"],
                  second_harmonic_db: float = WHISTLE["second_harmonic_db"],
                  attack_s: float = WHISTLE["attack_s"], amplitude: float = 0.5,
                  sr: int = 16000) -> np.ndarray:
    """A whistle-like tone: sine with vibrato, a weak 2nd harmonic, breath noise band-passed
    around the pitch, soft attack and release. Deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / sr
    # vibrato grows in over the first half second, with slight rate drift
    depth = vibrato_cents * np.minimum(1.0, t / 0.5)
    cents = depth * np.sin(2 * np.pi * vibrato_hz * t + 0.3 * np.sin(2 * np.pi * 0.7 * t))
    freq = f0 * 2.0 ** (cents / 1200.0)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    tone = np.sin(phase) + 10 ** (second_harmonic_db / 20) * np.sin(2 * phase + 0.5)
    # breath: white noise shaped by a band around f0 (FFT mask), amplitude-modulated like the tone
    noise = rng.standard_normal(n_samples)
    spec = np.fft.rfft(noise)
    fr = np.fft.rfftfreq(n_samples, 1 / sr)
    spec *= np.exp(-0.5 * ((fr - f0) / (0.6 * f0)) ** 2) + 0.05
    noise = np.fft.irfft(spec, n_samples)
    noise /= np.sqrt(np.mean(noise ** 2)) + 1e-12
    env = np.minimum(1.0, t / attack_s) * np.minimum(1.0, (t[-1] - t) / 0.05 + 1e-9)
    env = np.clip(env, 0, 1) * (1 + 0.05 * np.sin(2 * np.pi * 0.9 * t))
    y = env * (tone / np.sqrt(0.5) + 10 ** (breath_db / 20) * noise)
    y = amplitude * y / np.max(np.abs(y))
    return y.astype(np.float32)


def _fade(y: np.ndarray, sr: int, seconds: float = 0.02) -> np.ndarray:
    n = int(seconds * sr)
    ramp = np.linspace(0, 1, n)
    y = y.copy()
    y[:n] *= ramp
    y[-n:] *= ramp[::-1]
    return y


def whistle(seconds: float, sr: int, **params) -> np.ndarray:
    return synth_whistle(int(seconds * sr), seed=0, sr=sr, **params)


def flute440(seconds: float, sr: int) -> np.ndarray:
    """440 Hz flute-like tone: harmonics falling ~12 dB/octave-ish, light vibrato, breath."""
    rng = np.random.default_rng(2)
    t = np.arange(int(seconds * sr)) / sr
    f = 440.0 * 2 ** (15 * np.sin(2 * np.pi * 5 * t) / 1200)
    phase = 2 * np.pi * np.cumsum(f) / sr
    amps = [1.0, 0.5, 0.3, 0.12, 0.06, 0.03]
    y = sum(a * np.sin((k + 1) * phase) for k, a in enumerate(amps))
    y = y + 0.02 * rng.standard_normal(len(t))
    return 0.4 * _fade(y / np.max(np.abs(y)), sr, 0.08)


def noise(seconds: float, sr: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    return np.clip(0.25 * rng.standard_normal(int(seconds * sr)), -1, 1)


def drums(seconds: float, sr: int) -> np.ndarray:
    """120 bpm: kick on 1 and 3, snare on 2 and 4, closed hats on eighths."""
    rng = np.random.default_rng(4)
    n = int(seconds * sr)
    y = np.zeros(n)
    beat = sr // 2  # 0.5 s at 120 bpm
    tk = np.arange(int(0.3 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 * tk + 60 * (1 - np.exp(-tk * 30)) / 30)) * np.exp(-tk * 12)
    ts = np.arange(int(0.2 * sr)) / sr
    snare = (0.6 * rng.standard_normal(len(ts)) + 0.4 * np.sin(2 * np.pi * 190 * ts)) \
        * np.exp(-ts * 20)
    th = np.arange(int(0.05 * sr)) / sr
    hat_noise = np.diff(rng.standard_normal(len(th) + 1))  # crude high-pass
    hat = 0.25 * hat_noise * np.exp(-th * 80)
    for i, start in enumerate(range(0, n, beat)):
        for sound, offset in ((kick if i % 2 == 0 else snare, 0), (hat, 0), (hat, beat // 2)):
            s = start + offset
            e = min(n, s + len(sound))
            if s < n:
                y[s:e] += sound[:e - s]
    return 0.5 * y / np.max(np.abs(y))


def chirp(seconds: float, sr: int) -> np.ndarray:
    """Exponential sine sweep 100 Hz -> 7 kHz."""
    t = np.arange(int(seconds * sr)) / sr
    f0, f1 = 100.0, 7000.0
    k = np.log(f1 / f0) / seconds
    return 0.4 * _fade(np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k), sr)


SPEECH_TEXT = ("The quick brown fox jumps over the lazy dog. "
               "She sells sea shells by the sea shore.")


def speech(seconds: float, sr: int) -> np.ndarray | None:
    """espeak-ng reading SPEECH_TEXT, resampled with librosa; None without espeak-ng."""
    exe = shutil.which("espeak-ng")
    if not exe:
        return None
    import librosa
    import soundfile as sf
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run([exe, "-v", "en-us", "-s", "150", "-w", str(path), SPEECH_TEXT], check=True)
        y, file_sr = sf.read(str(path), dtype="float64")
    if y.ndim > 1:
        y = y.mean(axis=1)
    y = librosa.resample(y, orig_sr=file_sr, target_sr=sr)
    n = int(seconds * sr)
    y = np.pad(y, (0, max(0, n - len(y))))[:n]
    return 0.5 * y / np.max(np.abs(y))


GENERATORS = {
    "whistle": whistle,
    "flute440": flute440,
    "noise": noise,
    "drums": drums,
    "chirp": chirp,
    "speech": speech,
}


def synth(name: str, seconds: float, sr: int) -> np.ndarray | None:
    return GENERATORS[name](seconds, sr)


def write_clip_wavs(folder: Path, audio_by_name, sr: int):
    """Writes each `(name, audio)` as `folder/<name>.wav` (16-bit, as the original frameworks
    read their inputs) and yields `(name, path)`. A clip this machine cannot make (audio None:
    speech without espeak-ng) is skipped, and said."""
    for name, audio in audio_by_name:
        if audio is None:
            print(f"{name}: skipped (espeak-ng not installed)")
            continue
        path = Path(folder) / f"{name}.wav"
        write_pcm16_wav(path, audio, sr)
        yield name, path
