"""Reference outputs from silero VAD's OWN wrapper (silero-vad 6.2.3: OnnxWrapper, driven by
get_speech_timestamps, with torch), and a parity check of livetag's bundle against them.

    # from tools/. torch and silero-vad come with the `reference` extra; the converter and
    # --compare-only never need them:
    py=$(./venv.sh reference)
    $py -m livetag_tools.reference.silero                   # fixtures + comparison
    python -m livetag_tools.reference.silero --compare-only  # no torch (`models` extra)

It synthesises 16 kHz clips with livetag_tools.common.clips (whistle, flute-like 440 Hz tone,
white noise, a 120 bpm drum pattern, a chirp, espeak-ng speech), writes each to
tests/fixtures/silero/<clip>.wav (16-bit PCM), reads it back as float32 (int16 / 32768)
and runs silero's own code on it:

    model = silero_vad.load_silero_vad(onnx=True)        # OnnxWrapper(silero_vad.onnx,
                                                         #   force_onnx_cpu=True), opset 16
    silero_vad.get_speech_timestamps(audio, Recorder(model), sampling_rate=16000)

Recorder only passes calls through to the wrapper and notes what each `model(chunk, sr)`
returned, so the probabilities are those of the wheel's own loop: model.reset_states(),
then chunks audio[512 k .. 512 k + 512] from k = 0, the last one padded with zeros at its
end to 512 samples (torch.nn.functional.pad) when the length is not a multiple of 512; the
wrapper prepends 64 samples of context (zeros after reset_states, then the last 64 samples
of its previous input) and carries the [2, 1, 128] state. The same probabilities are
checked against the wrapper's other entry point, `model.audio_forward(audio, 16000)`
(reset, zero-pad, same chunking). Results go to tests/fixtures/silero/<clip>.expected.json:
per-chunk probabilities (9 significant digits: the float32 value exactly), the speech
segments get_speech_timestamps found, versions, the pipeline.

It also runs the wrapper on the bundle's own reference/input.wav (models/silero-vad, from
livetag_tools.convert.silero) and writes bundle-reference.expected.json, which the converter
checks its expected.json against.

--compare-only (and the end of a full run): the bundle's model.onnx with plain
onnxruntime, fed as livetag's bundle spec describes (64 zeros of lead-in, windows of
[64 context + 512 new] samples every 512, state carried, sr = 16000; a last window aligned
to the end of the audio when the length is not a multiple of 512), against the fixtures:
max |dprob| per clip, target <= 1e-3.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from livetag_tools.common import clips
from livetag_tools.common.cache import repo_root
from livetag_tools.common.fetch import sha256_file
from livetag_tools.common.onnx_session import make_session
from livetag_tools.convert import silero as conv

ROOT = repo_root()
FIXTURES = conv.FIXTURES
BUNDLE = ROOT / "models" / "silero-vad"
SR = conv.SR

# name -> seconds. Three lengths are whole 512-sample chunks (flute440 4.0 s, drums 4.8 s,
# speech 5.76 s, which holds the whole espeak-ng sentence); three leave a partial last chunk
# that silero pads with zeros (whistle 6.0 s: 256 samples, noise 3.5 s: 192, chirp 5.0 s: 128).
CLIPS = {"whistle": 6.0, "flute440": 4.0, "noise": 3.5, "drums": 4.8, "chirp": 5.0, "speech": 5.76}

PIPELINE = ("silero_vad.get_speech_timestamps(audio, model, sampling_rate=16000) with "
            "model = silero_vad.load_silero_vad(onnx=True) (OnnxWrapper, silero_vad.onnx opset 16, "
            "CPU, 1 thread); probabilities recorded from each model(chunk, 16000) call: "
            "reset_states() first, 512-sample chunks from sample 0, last chunk zero-padded at its "
            "end, 64 samples of context (zeros for the first chunk) and the state carried by the "
            "wrapper; equal to model.audio_forward(audio, 16000)")


def sig9(x: float) -> float:
    """9 significant digits: round-trips any float32 exactly."""
    return float(f"{float(x):.9g}")


# --------------------------------------------------------------------------------------
# silero's own wrapper
# --------------------------------------------------------------------------------------

class Recorder:
    """Passes get_speech_timestamps' calls to the wrapper and keeps what they returned."""

    def __init__(self, model):
        self.model = model
        self.probs: list[float] = []

    def reset_states(self, *args, **kwargs):
        return self.model.reset_states(*args, **kwargs)

    def __call__(self, x, sr):
        out = self.model(x, sr)
        self.probs.append(out.item())
        return out


_model = None


def wrapper_model():
    global _model
    if _model is None:
        import silero_vad
        if silero_vad.__version__ != conv.VERSION:
            sys.exit(f"silero-vad {silero_vad.__version__} is installed; the bundle is "
                     f"{conv.VERSION}")
        pkg = Path(silero_vad.__file__).parent
        for rel, want in (("utils_vad.py", conv.UTILS_SHA256),
                          ("data/silero_vad.onnx", conv.ONNX_SHA256)):
            got = sha256_file(pkg / rel)
            if got != want:
                sys.exit(f"installed silero_vad/{rel} has sha256 {got}, the wheel's is {want}")
        _model = silero_vad.load_silero_vad(onnx=True)
        if type(_model).__name__ != "OnnxWrapper":
            sys.exit(f"load_silero_vad(onnx=True) gave {type(_model)}")
    return _model


def wrapper_probs(audio: np.ndarray) -> tuple[list[float], list[dict]]:
    import silero_vad
    import torch
    model = wrapper_model()
    rec = Recorder(model)
    x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    segments = silero_vad.get_speech_timestamps(x, rec, sampling_rate=SR)
    forward = model.audio_forward(x, SR).numpy()[0]
    if len(forward) != len(rec.probs) or not np.array_equal(forward, np.float32(rec.probs)):
        sys.exit("get_speech_timestamps and audio_forward disagree")
    return rec.probs, [{k: int(v) for k, v in s.items()} for s in segments]


def versions() -> dict:
    import platform
    from importlib.metadata import version

    import onnxruntime
    import torch
    return {"silero-vad": version("silero-vad"), "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def fixture(name: str, wav: str, audio_read: str, audio: np.ndarray, probs: list[float],
            segments: list[dict], vers: dict) -> dict:
    n = len(audio)
    return {
        "clip": name,
        "wav": wav,
        "sample_rate_hz": SR,
        "samples": n,
        "chunk_samples": conv.CHUNK,
        "context_samples": conv.CONTEXT,
        "chunks": len(probs),
        "tail_samples": n % conv.CHUNK,
        "last_chunk": (f"partial: {n % conv.CHUNK} samples + {conv.CHUNK - n % conv.CHUNK} zeros"
                       if n % conv.CHUNK else "full"),
        "pipeline": PIPELINE,
        "audio_read": audio_read,
        "versions": vers,
        "wheel_sha256": conv.WHEEL_SHA256,
        "onnx_sha256": conv.ONNX_SHA256,
        "speech_timestamps_samples": segments,
        "mean_probability": sig9(np.mean(probs)),
        "probabilities": [sig9(p) for p in probs],
    }


def generate(out: Path, bundle: Path) -> bool:
    out.mkdir(parents=True, exist_ok=True)
    vers = versions()
    synthesised = ((name, clips.synth(name, seconds, SR)) for name, seconds in CLIPS.items())
    for name, wav in clips.write_clip_wavs(out, synthesised, SR):
        audio = conv.load_fixture_audio(wav)
        probs, segments = wrapper_probs(audio)
        doc = fixture(name, wav.name,
                      "16-bit PCM WAV read with soundfile as float32: int16 / 32768",
                      audio, probs, segments, vers)
        (out / f"{name}.expected.json").write_text(json.dumps(doc, indent=1) + "\n")
        print(f"{name}: {len(audio)} samples, {len(probs)} chunks, mean p {np.mean(probs):.4f}, "
              f"speech segments {segments}")

    ok = True
    ref_wav = bundle / "reference" / "input.wav"
    if ref_wav.exists():
        audio = conv.load_fixture_audio(ref_wav)
        probs, segments = wrapper_probs(audio)
        rel = str(ref_wav.relative_to(ROOT)) if ref_wav.is_relative_to(ROOT) else str(ref_wav)
        doc = fixture("bundle-reference", rel, "float32 WAV read with soundfile, unchanged",
                      audio, probs, segments, vers)
        (out / "bundle-reference.expected.json").write_text(json.dumps(doc, indent=1) + "\n")
        expected = json.loads((bundle / "reference" / "expected.json").read_text())["scores"]
        got = np.array([row[0] for row in expected])
        delta = (float(np.max(np.abs(got - np.array(probs)))) if len(got) == len(probs)
                 else float("inf"))
        good = delta <= conv.TOLERANCE
        ok &= good
        print(f"bundle reference {rel}: wrapper {[round(p, 4) for p in probs]}, "
              f"expected.json max |dprob| {delta:.2e}{'' if good else '  FAIL'}")
    else:
        print(f"(no {ref_wav}: run `python -m livetag_tools.convert.silero` first for the "
              "bundle-reference fixture)")
    return ok


def compare(onnx_path: Path, fixtures: Path) -> bool:
    session = make_session(str(onnx_path))
    rows, bundle_ref = conv.compare_fixtures(session, fixtures)
    if not rows:
        print(f"no fixtures in {fixtures}")
        return False
    print(f"\nONNX {onnx_path} with onnxruntime, livetag windowing, vs silero's wrapper "
          f"({fixtures}):")
    ok = conv.print_fixture_table(rows)
    if bundle_ref is not None:
        audio = conv.load_fixture_audio(ROOT / bundle_ref["wav"])
        ours = conv.run_windows(session, conv.livetag_windows(audio, conv.WINDOW))
        want = np.array(bundle_ref["probabilities"], dtype=np.float32)
        delta = float(np.max(np.abs(ours - want))) if len(ours) == len(want) else float("inf")
        good = delta <= conv.TOLERANCE
        ok &= good
        print(f"bundle reference ({bundle_ref['wav']}), self-test windowing (hop = window = 576): "
              f"max |dprob| {delta:.2e}{'' if good else '  FAIL'}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description="silero VAD wrapper fixtures and bundle parity")
    ap.add_argument("--fixtures", default=str(FIXTURES))
    ap.add_argument("--bundle", default=str(BUNDLE))
    ap.add_argument("--compare-only", action="store_true",
                    help="skip the wrapper (no torch); compare the bundle's ONNX to the fixtures")
    args = ap.parse_args()
    ok = True
    if not args.compare_only:
        ok &= generate(Path(args.fixtures), Path(args.bundle))
    ok &= compare(Path(args.bundle) / "model.onnx", Path(args.fixtures))
    print("\nOK" if ok else "\nFAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
