"""Make a livetag model bundle of silero VAD from the PyPI wheel `silero-vad==6.2.3`.

    # from tools/:
    python -m livetag_tools.convert.silero --out ../models/silero-vad [--wheel PATH]

What it does
------------
1. Gets the wheel: `--wheel PATH`, or `pip download --no-deps silero-vad==6.2.3` into a
   cache folder (`wheels/` in livetag's cache, livetag_tools.common.fetch). The wheel's
   sha256 is checked, and so are those of the two members used: `silero_vad/data/
   silero_vad.onnx` (the opset-16 model that `load_silero_vad(onnx=True)` loads) and
   `silero_vad/utils_vad.py` (OnnxWrapper and get_speech_timestamps, whose chunking the
   bundle and this script follow; if it changes, re-read it).
2. Copies silero_vad.onnx into the bundle UNCHANGED (byte-identical, sha256 checked after
   writing), and writes labels.txt (`speech`), LICENSE (the wheel's MIT text) and
   bundle.toml.
3. Writes reference/input.wav (1024 samples = two 32 ms chunks of espeak-ng speech, see
   REFERENCE_* below; a float32 WAV written byte-for-byte reproducibly) and
   reference/expected.json: the speech probability of each 512-sample chunk, computed the
   way silero's own OnnxWrapper computes it (64 zeros of context before the first chunk,
   state zeros, context and state carried from chunk to chunk, one ONNX Runtime thread).
4. Self-checks, exiting non-zero if one fails:
   - the ONNX signature is what bundle.toml says (names, types, ranks);
   - the windows livetag's `inspect --self-test` cuts from reference/input.wav (hop = window
     = 576, a 64-sample lead-in of zeros, a last window aligned to the end of the audio) are
     sample for sample the wrapper's [context + chunk] inputs, so the self-test is a real
     comparison with silero's chunking (see "Why the reference clip is 1024 samples");
     the same holds for livetag's default hop of 512;
   - when `python -m livetag_tools.reference.silero` has written
     tests/fixtures/silero/*.expected.json with silero's own wrapper (torch + silero_vad):
     expected.json against the wrapper's probabilities for this very input.wav
     (bundle-reference.expected.json), and livetag's windowing (hop 512) against the wrapper
     on every fixture clip (max |dprob| <= 1e-3).

Why the reference clip is 1024 samples
--------------------------------------
silero consumes 512 new samples per call and prepends the last 64 samples it saw (zeros for
the first call): its model inputs are audio[512 k - 64 .. 512 k + 512]. In a livetag bundle
that is window_samples = 576, hop_samples = 512, lead_in_samples = 64 (64 zeros before the
stream), so the bundle's own hop reproduces silero exactly. But `livetag inspect
--self-test` windows with hop = window (576): its windows are audio[576 k - 64 .. 576 k +
512], which drift 64 samples further per window from silero's. The two agree on the first
window (zeros + audio[0 .. 512]) and, when the audio is 1024 samples long, on the second
too: the hop-576 grid leaves a tail, and livetag's last window is aligned to the end of the
audio, audio[448 .. 1024], which is silero's second input. For any longer clip the
self-test's windows are not silero's (only a signal periodic in 64 samples would give the
same inputs). So the reference is two chunks: the first with zero context and fresh state,
the second with carried context and state. The long-clip parity lives in
tests/fixtures/silero (livetag_tools.reference.silero), run with the bundle's hop of 512.
(livetag itself now windows stateful models at their own hop in the self-test and in file
tagging, and pads a partial last chunk with zeros as silero does, so both grids pass.)

Deterministic: model.onnx is the wheel's file; the WAV is written without libsndfile's
timestamped PEAK chunk; two runs give byte-identical bundles (the reference audio depends on
the installed espeak-ng and librosa's resampler, as livetag_tools.common.clips does; the
scores could differ between ONNX Runtime builds/CPUs in the last float32 bits only).

Needs the `models` extra (numpy, onnx, onnxruntime, librosa, soundfile: `tools/venv.sh
models`) and espeak-ng; no torch.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

from livetag_tools.common import clips
from livetag_tools.common.bundle import BundleToml, Note, write_bundle_files
from livetag_tools.common.cache import repo_root
from livetag_tools.common.fetch import fetch_wheel, sha256_bytes
from livetag_tools.common.onnx_session import make_session
from livetag_tools.common.wav import float32_wav, read_pcm16_wav

VERSION = "6.2.3"
WHEEL_NAME = f"silero_vad-{VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8"
ONNX_MEMBER = "silero_vad/data/silero_vad.onnx"
ONNX_SHA256 = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"
UTILS_MEMBER = "silero_vad/utils_vad.py"
UTILS_SHA256 = "15d0f6b3ef9590e22ca2f146e1436f6901da356cb552d3183df4100862b333cb"
LICENSE_MEMBER = f"silero_vad-{VERSION}.dist-info/licenses/LICENSE"

SR = 16000
CHUNK = 512      # new samples per call at 16 kHz (OnnxWrapper: num_samples)
CONTEXT = 64     # samples carried from the previous call (OnnxWrapper: context_size)
WINDOW = CHUNK + CONTEXT
STATE_SHAPE = (2, 1, 128)
TOLERANCE = 1e-4  # the bundle's self-test tolerance (the format's default)
FIXTURE_TOLERANCE = 1e-3

# The reference: two chunks of livetag_tools.common.clips speech, 1.92 s in (the espeak-ng
# sentence at 5.76 s = 180 chunks, as in tests/fixtures/silero). This offset was picked
# because both chunks score mid-range (~0.42 and ~0.43), where a wrong input or state
# shows up more than in a saturated 0.99.
REFERENCE_CLIP = ("speech", 5.76)
REFERENCE_OFFSET = 30720
REFERENCE_SAMPLES = 2 * CHUNK

ROOT = repo_root()
FIXTURES = ROOT / "tests" / "fixtures" / "silero"


# --------------------------------------------------------------------------------------
# Wheel
# --------------------------------------------------------------------------------------

def read_member(wheel: zipfile.ZipFile, name: str, sha256: str | None) -> bytes:
    data = wheel.read(name)
    if sha256 is not None and sha256_bytes(data) != sha256:
        sys.exit(f"{name} in the wheel has sha256 {sha256_bytes(data)}, expected {sha256}")
    return data


# --------------------------------------------------------------------------------------
# Running the model: silero's chunking, and livetag's windowing
# --------------------------------------------------------------------------------------

def wrapper_inputs(audio: np.ndarray) -> list[np.ndarray]:
    """The [context + chunk] inputs OnnxWrapper builds when get_speech_timestamps feeds it
    `audio`: chunks of 512 from sample 0, the last one padded with zeros at its end; the
    context is 64 zeros for the first chunk (fresh reset_states), then the last 64 samples of
    the previous input."""
    audio = np.asarray(audio, dtype=np.float32)
    n = -(-len(audio) // CHUNK)
    padded = np.zeros(n * CHUNK, dtype=np.float32)
    padded[:len(audio)] = audio
    stream = np.concatenate([np.zeros(CONTEXT, dtype=np.float32), padded])
    return [stream[k * CHUNK:k * CHUNK + WINDOW] for k in range(n)]


def livetag_windows(audio: np.ndarray, hop: int) -> list[np.ndarray]:
    """The windows livetag cuts from a file for this bundle (docs/BUNDLE_FORMAT.md, "First
    window and the tail"; src/tagger.rs tag_samples, src/dsp/stream.rs, src/dsp/window.rs):
    audio shorter than min_samples - lead_in (512) is padded with zeros at its end; the
    stream is 64 zeros of lead-in, then the audio; windows of 576 end every `hop` samples
    from 576 on; if the last one ends before the stream does, one more window ends at the
    end of the stream."""
    audio = np.asarray(audio, dtype=np.float32)
    if len(audio) < WINDOW - CONTEXT:
        audio = np.concatenate([audio, np.zeros(WINDOW - CONTEXT - len(audio), np.float32)])
    stream = np.concatenate([np.zeros(CONTEXT, dtype=np.float32), audio])
    ends = list(range(WINDOW, len(stream) + 1, hop))
    if not ends or ends[-1] < len(stream):
        ends.append(len(stream))
    return [stream[e - WINDOW:e] for e in ends]


def run_windows(session, windows: list[np.ndarray]) -> np.ndarray:
    """One window at a time, state carried (zeros first), `sr` = 16000: what the bundle's
    [[state]] and [[constants]] tables tell livetag to do."""
    state = np.zeros(STATE_SHAPE, dtype=np.float32)
    sr = np.array(SR, dtype=np.int64)
    probs = []
    for window in windows:
        out, state = session.run(["output", "stateN"],
                                 {"input": window[None, :], "state": state, "sr": sr})
        probs.append(out[0, 0])
    return np.array(probs, dtype=np.float32)


# --------------------------------------------------------------------------------------
# Bundle
# --------------------------------------------------------------------------------------

def reference_audio() -> np.ndarray:
    name, seconds = REFERENCE_CLIP
    clip = clips.synth(name, seconds, SR)
    if clip is None:
        sys.exit("the reference clip is espeak-ng speech: install espeak-ng")
    return np.asarray(clip[REFERENCE_OFFSET:REFERENCE_OFFSET + REFERENCE_SAMPLES], dtype=np.float32)


def bundle_doc() -> BundleToml:
    """The bundle.toml: a pure function (nothing fetched), so a test can hold it against the
    committed models/silero-vad/bundle.toml."""
    doc = BundleToml(
        f"silero VAD {VERSION} (Silero Team): speech probability of each 32 ms chunk of 16 kHz "
        "audio.\n"
        "Generated by `python -m livetag_tools.convert.silero` from the PyPI wheel\n"
        f"silero-vad=={VERSION}: model.onnx is the wheel's silero_vad/data/silero_vad.onnx "
        "(opset 16),\nunchanged. Do not edit by hand.")
    doc.table("model", [("name", "silero-vad"),
                        ("description", f"silero VAD {VERSION}: speech probability every 32 ms "
                                        "(16 kHz, stateful)"),
                        ("licence", "MIT")])
    doc.table("input", [
        ("kind", "waveform"), ("name", "input"), ("sample_rate_hz", SR),
        ("layout", ["batch", "time"]),
        Note("silero's OnnxWrapper feeds the model 64 samples of context (the end of the "
             "previous\ninput) followed by 512 new samples, so each window is 576 samples and "
             "windows start\nevery 512: window k is audio[512 k - 64 .. 512 k + 512]."),
        ("window_samples", WINDOW), ("hop_samples", CHUNK),
        Note("The first window's context is 64 zeros (OnnxWrapper after reset_states)."),
        ("lead_in_samples", CONTEXT)])
    doc.array("state", [("input", "state"), ("output", "stateN"), ("shape", list(STATE_SHAPE))],
              comment="The recurrent state [2, batch, 128], zeros at the start of a stream, "
                      "carried from each\nwindow's `stateN` into the next window's `state`.")
    doc.array("constants", [("name", "sr"), ("dtype", "int64"), ("shape", []),
                            ("values", [SR])],
              comment="The sample rate the model is told (it also accepts 8000, with 256 + "
                      "32-sample windows).")
    doc.array("outputs", [("name", "output"), ("kind", "clip"), ("values", "probabilities"),
                          ("activation", "sigmoid")],
              comment="`output` [batch, 1]: the speech probability (a sigmoid inside the "
                      "graph).")
    doc.table("reference", [("audio", "reference/input.wav"),
                            ("expected", "reference/expected.json"), ("tolerance", TOLERANCE)],
              comment="Two chunks of espeak-ng speech (1024 samples), the probabilities silero's "
                      "OnnxWrapper\ngives them: the first with zero context and fresh state, "
                      "the second with both carried.\nlivetag's self-test runs a stateful "
                      "bundle at its own hop, as silero chunks; the 1024\nsamples also match a "
                      "hop = window (576) grid (livetag_tools/convert/silero.py explains).")
    return doc


def check_signature(model_bytes: bytes) -> list[str]:
    import onnx
    from onnx import TensorProto
    model = onnx.load_from_string(model_bytes)
    problems = []
    opset = {o.domain: o.version for o in model.opset_import}.get("", None)
    if opset != 16:
        problems.append(f"opset {opset}, expected 16")

    def sig(values):
        out = {}
        for v in values:
            t = v.type.tensor_type
            out[v.name] = (t.elem_type, len(t.shape.dim),
                           [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim])
        return out

    inputs, outputs = sig(model.graph.input), sig(model.graph.output)
    F, I64 = TensorProto.FLOAT, TensorProto.INT64
    want_in = {"input": (F, 2), "state": (F, 3), "sr": (I64, 0)}
    want_out = {"output": (F, 2), "stateN": (F, 3)}
    for have, want, kind in ((inputs, want_in, "input"), (outputs, want_out, "output")):
        if set(have) != set(want):
            problems.append(f"{kind}s {sorted(have)}, expected {sorted(want)}")
            continue
        for name, (dtype, rank) in want.items():
            if have[name][:2] != (dtype, rank):
                problems.append(f"{kind} {name}: type/rank {have[name][:2]}, "
                                f"expected {(dtype, rank)}")
    if inputs.get("state", (0, 0, []))[2] not in ([2, None, 128],):
        problems.append(f"state dims {inputs.get('state')}, expected [2, batch, 128]")
    if outputs.get("output", (0, 0, []))[2] not in ([None, 1],):
        problems.append(f"output dims {outputs.get('output')}, expected [batch, 1]")
    return problems


def load_fixture_audio(path: Path) -> np.ndarray:
    return read_pcm16_wav(path, SR)


def compare_fixtures(session, fixtures: Path) -> tuple[list[dict], dict | None]:
    """livetag's windowing (hop 512) vs the probabilities silero's own wrapper wrote."""
    rows, bundle_ref = [], None
    for exp_path in sorted(fixtures.glob("*.expected.json")):
        exp = json.loads(exp_path.read_text())
        if exp_path.name == "bundle-reference.expected.json":
            bundle_ref = exp
            continue
        audio = load_fixture_audio(exp_path.with_name(exp["clip"] + ".wav"))
        # 9 significant digits: the float32 exactly
        want = np.array(exp["probabilities"], dtype=np.float32).astype(np.float64)
        ours = run_windows(session, livetag_windows(audio, CHUNK)).astype(np.float64)
        emulated = run_windows(session, wrapper_inputs(audio)).astype(np.float64)
        tail = len(audio) % CHUNK
        full = len(audio) // CHUNK
        row = {"clip": exp["clip"], "samples": len(audio), "chunks": len(want), "tail": tail,
               "mean": float(want.mean()),
               "emulated": (float(np.max(np.abs(emulated - want)))
                            if len(emulated) == len(want) else None),
               "full": (float(np.max(np.abs(ours[:full] - want[:full])))
                        if len(ours) >= full else None),
               "last": float(abs(ours[-1] - want[-1])) if tail else None,
               "count_ok": len(ours) == len(want)}
        rows.append(row)
    return rows, bundle_ref


def print_fixture_table(rows: list[dict]) -> bool:
    ok = True
    print(f"{'clip':<9} {'samples':>7} {'chunks':>6} {'tail':>4} {'mean p':>8} "
          f"{'wrapper chunking':>16} {'livetag hop 512':>15} {'last (tail) row':>15}")
    for r in rows:
        good = (r["count_ok"] and r["emulated"] is not None and r["emulated"] <= FIXTURE_TOLERANCE
                and r["full"] is not None and r["full"] <= FIXTURE_TOLERANCE)
        ok &= good
        last = "-" if r["last"] is None else f"{r['last']:.2e}"
        emulated = "n/a" if r["emulated"] is None else f"{r['emulated']:.2e}"
        full = "n/a" if r["full"] is None else f"{r['full']:.2e}"
        print(f"{r['clip']:<9} {r['samples']:>7} {r['chunks']:>6} {r['tail']:>4} {r['mean']:>8.4f} "
              f"{emulated:>16} {full:>15} {last:>15}{'' if good else '  FAIL'}")
    print("(max |dprob| against silero's wrapper. 'wrapper chunking': plain ONNX Runtime fed as "
          "OnnxWrapper is, last chunk zero-padded; 'livetag hop 512': the bundle's windows, all "
          "rows but a partial last one; 'last (tail) row': livetag's last window is the last 576 "
          "samples of the audio, silero's is the partial chunk padded with zeros: a different "
          "input by design, not a parity failure)")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True,
                    help="bundle folder to write, e.g. ../models/silero-vad")
    ap.add_argument("--wheel", help=f"{WHEEL_NAME} (default: pip download)")
    ap.add_argument("--fixtures", default=str(FIXTURES),
                    help="wrapper fixtures from `python -m livetag_tools.reference.silero`")
    args = ap.parse_args()

    wheel = zipfile.ZipFile(fetch_wheel(f"silero-vad=={VERSION}", WHEEL_NAME, WHEEL_SHA256,
                                        args.wheel))
    model_bytes = read_member(wheel, ONNX_MEMBER, ONNX_SHA256)
    read_member(wheel, UTILS_MEMBER, UTILS_SHA256)
    licence = read_member(wheel, LICENSE_MEMBER, None).decode("utf-8")
    ok = True
    problems = check_signature(model_bytes)
    for p in problems:
        print("signature: " + p)
    ok &= not problems

    out = Path(args.out)
    (out / "reference").mkdir(parents=True, exist_ok=True)
    (out / "model.onnx").write_bytes(model_bytes)
    written = sha256_bytes((out / "model.onnx").read_bytes())
    if written != ONNX_SHA256:
        print(f"model.onnx written with sha256 {written}, not the wheel's {ONNX_SHA256}")
        ok = False
    print(f"model.onnx: {ONNX_MEMBER} of silero-vad {VERSION}, {len(model_bytes)} bytes, "
          f"sha256 {written} (byte-identical copy)")
    write_bundle_files(out, bundle_doc(), ["speech"],
                       licence if licence.endswith("\n") else licence + "\n")

    audio = reference_audio()
    (out / "reference" / "input.wav").write_bytes(float32_wav(audio, SR))
    session = make_session(model_bytes)
    inputs = wrapper_inputs(audio)
    probs = run_windows(session, inputs)
    expected = {"output": "output", "scores": [[float(p)] for p in probs]}
    (out / "reference" / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"reference: {len(audio)} samples of {REFERENCE_CLIP[0]} from sample {REFERENCE_OFFSET}; "
          f"wrapper chunking gives {[round(float(p), 4) for p in probs]}")

    # ---- the self-test's windows are silero's inputs ----
    print("\nlivetag windows of reference/input.wav vs OnnxWrapper's inputs:")
    for hop, what in ((WINDOW, "self-test, hop = window = 576"), (CHUNK, "bundle hop 512")):
        windows = livetag_windows(audio, hop)
        same = len(windows) == len(inputs) and all(np.array_equal(a, b)
                                                   for a, b in zip(windows, inputs))
        scores = run_windows(session, windows)
        delta = float(np.max(np.abs(scores - probs))) if len(scores) == len(probs) else float("inf")
        good = same and delta <= TOLERANCE
        ok &= good
        print(f"  {what:<30} {len(windows)} windows, inputs identical: {'yes' if same else 'NO'}, "
              f"max |dprob| {delta:.2e}{'' if good else '  FAIL'}")

    # ---- silero's own wrapper (fixtures from livetag_tools.reference.silero) ----
    fixtures = Path(args.fixtures)
    if fixtures.is_dir() and any(fixtures.glob("*.expected.json")):
        rows, bundle_ref = compare_fixtures(session, fixtures)
        if bundle_ref is None:
            print(f"\n(no bundle-reference.expected.json in {fixtures}: expected.json not "
                  "checked against the wrapper)")
        else:
            want = np.array(bundle_ref["probabilities"], dtype=np.float32).astype(np.float64)
            delta = (float(np.max(np.abs(want - probs))) if len(want) == len(probs)
                     else float("inf"))
            good = delta <= TOLERANCE
            ok &= good
            print(f"\nexpected.json vs silero's OnnxWrapper on the same input.wav: max |dprob| "
                  f"{delta:.2e}{'' if good else '  FAIL'}")
        print(f"\nlivetag windowing vs silero's OnnxWrapper ({fixtures}):")
        ok &= print_fixture_table(rows)
    else:
        print(f"\n(no wrapper fixtures in {fixtures}: skipped the comparison with silero's "
              "wrapper)")

    print("\nOK: bundle written to " + str(out) if ok else "\nFAILED check")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
