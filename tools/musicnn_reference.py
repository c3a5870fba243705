#!/usr/bin/env python3
"""Reference outputs from musicnn's OWN pipeline (musicnn 0.1.0 + TensorFlow), and a parity
check of livetag's converted ONNX model against them.

    # TensorFlow lives in its own venv; the converter never needs it:
    python3.11 -m venv /work/venv-tf
    /work/venv-tf/bin/pip install tensorflow-cpu tf-keras librosa soundfile onnxruntime
    /work/venv-tf/bin/pip install --no-deps musicnn==0.1.0
    /work/venv-tf/bin/python tools/musicnn_reference.py            # fixtures + comparison
    /work/venv-tf/bin/python tools/musicnn_reference.py --whistle-search
    python tools/musicnn_reference.py --compare-only                 # no TF needed

It synthesises short 16 kHz clips (whistle, flute-like 440 Hz tone, white noise, a 120 bpm
drum pattern, a chirp, and espeak-ng speech when espeak-ng is installed), writes each to
tests/fixtures/musicnn/<clip>.wav (16-bit PCM) and tags it with
`musicnn.extractor.extractor(wav, model="MTT_musicnn", input_length=3, input_overlap=False)`:
librosa log-mel, non-overlapping 187-frame patches (a last partial patch is DROPPED; a clip
shorter than 187 frames fails inside musicnn), one TF session run per patch. The result is
written to tests/fixtures/musicnn/<clip>.expected.json. Then the ONNX model
(models/musicnn-mtt/model.onnx, from tools/convert_musicnn.py) is run with onnxruntime on
the same librosa features and compared: max |dprob| and whether the top-5 tags are the same.

Runtime patches to musicnn 0.1.0 (its code predates TF 2.16 and NumPy 2):
- TF_USE_LEGACY_KERAS=1 with the `tf-keras` package: `tf.compat.v1.layers` is not available
  with Keras 3.
- The NumPy-2 float16 bug: batch_data() does `np.log10(10000 * audio_rep + 1)` on a float16
  array; NumPy 1 promoted that to float32, NumPy 2 keeps float16 and overflows to inf for
  mel power > 6.55. We patch that one line of batch_data's source to cast to float32 first.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import convert_musicnn as conv  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "musicnn"
SR = conv.SR


# --------------------------------------------------------------------------------------
# Clips
# --------------------------------------------------------------------------------------

def _fade(y: np.ndarray, seconds: float = 0.02) -> np.ndarray:
    n = int(seconds * SR)
    ramp = np.linspace(0, 1, n)
    y = y.copy()
    y[:n] *= ramp
    y[-n:] *= ramp[::-1]
    return y


def flute440(seconds: float) -> np.ndarray:
    """440 Hz flute-like tone: harmonics falling ~12 dB/octave-ish, light vibrato, breath."""
    rng = np.random.default_rng(2)
    t = np.arange(int(seconds * SR)) / SR
    f = 440.0 * 2 ** (15 * np.sin(2 * np.pi * 5 * t) / 1200)
    phase = 2 * np.pi * np.cumsum(f) / SR
    amps = [1.0, 0.5, 0.3, 0.12, 0.06, 0.03]
    y = sum(a * np.sin((k + 1) * phase) for k, a in enumerate(amps))
    y = y + 0.02 * rng.standard_normal(len(t))
    return 0.4 * _fade(y / np.max(np.abs(y)), 0.08)


def noise(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(3)
    return np.clip(0.25 * rng.standard_normal(int(seconds * SR)), -1, 1)


def drums(seconds: float) -> np.ndarray:
    """120 bpm: kick on 1 and 3, snare on 2 and 4, closed hats on eighths."""
    rng = np.random.default_rng(4)
    n = int(seconds * SR)
    y = np.zeros(n)
    beat = SR // 2  # 0.5 s at 120 bpm
    tk = np.arange(int(0.3 * SR)) / SR
    kick = np.sin(2 * np.pi * (50 * tk + 60 * (1 - np.exp(-tk * 30)) / 30)) * np.exp(-tk * 12)
    ts = np.arange(int(0.2 * SR)) / SR
    snare = (0.6 * rng.standard_normal(len(ts)) + 0.4 * np.sin(2 * np.pi * 190 * ts)) * np.exp(-ts * 20)
    th = np.arange(int(0.05 * SR)) / SR
    hat_noise = np.diff(rng.standard_normal(len(th) + 1))  # crude high-pass
    hat = 0.25 * hat_noise * np.exp(-th * 80)
    for i, start in enumerate(range(0, n, beat)):
        for sound, offset in ((kick if i % 2 == 0 else snare, 0), (hat, 0), (hat, beat // 2)):
            s = start + offset
            e = min(n, s + len(sound))
            if s < n:
                y[s:e] += sound[:e - s]
    return 0.5 * y / np.max(np.abs(y))


def chirp(seconds: float) -> np.ndarray:
    """Exponential sine sweep 100 Hz -> 7 kHz."""
    t = np.arange(int(seconds * SR)) / SR
    f0, f1 = 100.0, 7000.0
    k = np.log(f1 / f0) / seconds
    return 0.4 * _fade(np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k))


SPEECH_TEXT = ("The quick brown fox jumps over the lazy dog. "
               "She sells sea shells by the sea shore.")


def speech(seconds: float) -> np.ndarray | None:
    exe = shutil.which("espeak-ng")
    if not exe:
        return None
    import librosa
    import soundfile as sf
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run([exe, "-v", "en-us", "-s", "150", "-w", str(path), SPEECH_TEXT], check=True)
        y, sr = sf.read(str(path), dtype="float64")
    if y.ndim > 1:
        y = y.mean(axis=1)
    y = librosa.resample(y, orig_sr=sr, target_sr=SR)
    n = int(seconds * SR)
    y = np.pad(y, (0, max(0, n - len(y))))[:n]
    return 0.5 * y / np.max(np.abs(y))


def whistle(seconds: float, **params) -> np.ndarray:
    return conv.synth_whistle(int(seconds * SR), seed=0, **params)


# name -> (function, seconds). Lengths vary so that some clips have 2 patches and all drop
# a partial tail (musicnn's batching); every clip has >= 187 frames (~2.99 s).
CLIPS = {
    "whistle": (whistle, 6.0),
    "flute440": (flute440, 4.0),
    "noise": (noise, 3.5),
    "drums": (drums, 6.0),
    "chirp": (chirp, 5.0),
    "speech": (speech, 6.0),
}


# --------------------------------------------------------------------------------------
# musicnn's own pipeline, patched for NumPy 2 / TF >= 2.16
# --------------------------------------------------------------------------------------

_extractor = None


def musicnn_extractor():
    global _extractor
    if _extractor is None:
        from musicnn import extractor as ex
        src = inspect.getsource(ex.batch_data)
        bad = "audio_rep = np.log10(10000 * audio_rep + 1)"
        if bad not in src:
            raise RuntimeError("musicnn batch_data changed; re-check the float16 fix")
        src = src.replace(bad, "audio_rep = np.log10(10000 * audio_rep.astype(np.float32) + 1)")
        exec(compile(src, inspect.getsourcefile(ex.batch_data), "exec"), ex.__dict__)
        _extractor = ex
    return _extractor


def tf_tag(wav: Path) -> np.ndarray:
    ex = musicnn_extractor()
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):  # musicnn prints progress
        taggram, _labels = ex.extractor(str(wav), model="MTT_musicnn", input_length=3,
                                        input_overlap=False, extract_features=False)
    return np.asarray(taggram, dtype=np.float64)


def versions() -> dict:
    from importlib.metadata import version
    import librosa
    import tensorflow as tf
    return {"musicnn": version("musicnn"), "tensorflow": tf.__version__,
            "librosa": librosa.__version__, "numpy": np.__version__}


def write_wav(path: Path, y: np.ndarray) -> None:
    import soundfile as sf
    sf.write(str(path), np.clip(y, -1, 1).astype(np.float32), SR, subtype="PCM_16", format="WAV")


def generate(out: Path, labels: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    vers = versions()
    for name, (fn, seconds) in CLIPS.items():
        y = fn(seconds)
        if y is None:
            print(f"{name}: skipped (espeak-ng not installed)")
            continue
        wav = out / f"{name}.wav"
        write_wav(wav, y)
        probs = tf_tag(wav)
        rep = conv.musicnn_features(conv.load_audio(wav))
        spans = conv.patches(rep)
        assert len(spans) == len(probs), (name, len(spans), probs.shape)
        hop_s = conv.HOP / SR
        doc = {
            "clip": name,
            "wav": wav.name,
            "sample_rate_hz": SR,
            "model": "MTT_musicnn",
            "pipeline": ("musicnn.extractor.extractor(input_length=3, input_overlap=False); "
                         "batch_data patched: log10(10000 * float32(float16(mel)) + 1)"),
            "frames": int(rep.shape[0]),
            "patch_frames": conv.N_FRAMES,
            "dropped_tail_frames": int(rep.shape[0] - len(spans) * conv.N_FRAMES),
            "patches": [{"start_frame": a, "end_frame": b, "start_s": round(a * hop_s, 6),
                         "end_s": round(b * hop_s, 6)} for a, b in spans],
            "time_note": "frame t is centred on t * 256 / 16000 s (librosa center=True)",
            "versions": vers,
            "top5": [[labels[i] for i in np.argsort(-p, kind="stable")[:5]] for p in probs],
            "probabilities": [[float(v) for v in p] for p in probs],
        }
        if name == "whistle":
            doc["synthesis"] = dict(conv.WHISTLE)
        (out / f"{name}.expected.json").write_text(json.dumps(doc, indent=1) + "\n")
        print(f"{name}: {len(spans)} patch(es), top-5 {doc['top5'][0]}")


def whistle_search(labels: list[str]) -> None:
    """Which whistle syntheses make musicnn (TF) put 'flute' in its top 3?"""
    flute = labels.index("flute")
    grid = []
    for f0 in (700.0, 1000.0, 1500.0, 2000.0, 2500.0):
        for vib in (0.0, 40.0, 100.0):
            for breath in (-60.0, -30.0, -15.0):
                grid.append(dict(f0=f0, vibrato_cents=vib, breath_db=breath))
    print(f"{'f0':>6} {'vib':>5} {'breath':>6}  {'flute':>6} {'rank':>4}  top-5")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "w.wav"
        for params in grid:
            write_wav(wav, whistle(3.0, **params))
            p = tf_tag(wav).mean(axis=0)
            order = list(np.argsort(-p, kind="stable"))
            rank = order.index(flute) + 1
            print(f"{params['f0']:>6.0f} {params['vibrato_cents']:>5.0f} {params['breath_db']:>6.0f}  "
                  f"{p[flute]:>6.3f} {rank:>4}  " + ", ".join(f"{labels[i]} {p[i]:.2f}" for i in order[:5]),
                  flush=True)


def compare(onnx_path: Path, fixtures: Path, labels: list[str]) -> bool:
    session = conv.make_session(onnx_path.read_bytes())
    print(f"\nONNX {onnx_path} (librosa features) vs musicnn TensorFlow fixtures:")
    return conv.print_tf_table(conv.compare_with_tf_fixtures(session, labels, fixtures))


def main() -> int:
    ap = argparse.ArgumentParser(description="musicnn TF reference fixtures and ONNX parity")
    ap.add_argument("--fixtures", default=str(FIXTURES))
    ap.add_argument("--onnx", default=str(ROOT / "models" / "musicnn-mtt" / "model.onnx"))
    ap.add_argument("--compare-only", action="store_true", help="skip TF; compare ONNX to fixtures")
    ap.add_argument("--whistle-search", action="store_true", help="TF tags of whistle variants")
    args = ap.parse_args()
    labels = [line for line in (Path(args.onnx).parent / "labels.txt").read_text().splitlines()]
    if args.whistle_search:
        whistle_search(labels)
        return 0
    if not args.compare_only:
        generate(Path(args.fixtures), labels)
    return 0 if compare(Path(args.onnx), Path(args.fixtures), labels) else 1


if __name__ == "__main__":
    sys.exit(main())
