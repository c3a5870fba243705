"""Reference outputs from musicnn's OWN pipeline (musicnn 0.1.0 + TensorFlow), and a parity
check of livetag's converted ONNX model against them.

    # from tools/. TensorFlow lives in its own venv (the `reference-tf` extra); the
    # converter and --compare-only never need it:
    py=$(./venv.sh reference-tf)
    $py -m livetag_tools.reference.musicnn                      # fixtures + comparison
    $py -m livetag_tools.reference.musicnn --whistle-search
    python -m livetag_tools.reference.musicnn --compare-only    # no TF needed (`models` extra)

musicnn itself is not installed (its metadata pins numpy<1.17): unless an installed `musicnn`
is importable, its code is loaded from the pinned wheel the converter fetches (sha256
checked), unpacked into livetag's cache, since its extractor restores the checkpoint from
files beside its own source.

It synthesises short 16 kHz clips (whistle, flute-like 440 Hz tone, white noise, a 120 bpm
drum pattern, a chirp, and espeak-ng speech when espeak-ng is installed), writes each to
tests/fixtures/musicnn/<clip>.wav (16-bit PCM) and tags it with
`musicnn.extractor.extractor(wav, model="MTT_musicnn", input_length=3, input_overlap=False)`:
librosa log-mel, non-overlapping 187-frame patches (a last partial patch is DROPPED; a clip
shorter than 187 frames fails inside musicnn), one TF session run per patch. The result is
written to tests/fixtures/musicnn/<clip>.expected.json. Then the ONNX model
(models/musicnn-mtt/model.onnx, from livetag_tools.convert.musicnn) is run with onnxruntime on
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
import importlib.util
import inspect
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402

from livetag_tools.common import clips  # noqa: E402
from livetag_tools.common.cache import livetag_cache, repo_root  # noqa: E402
from livetag_tools.common.fetch import fetch_wheel  # noqa: E402
from livetag_tools.common.onnx_session import make_session  # noqa: E402
from livetag_tools.common.wav import write_pcm16_wav  # noqa: E402
from livetag_tools.convert import musicnn as conv  # noqa: E402

ROOT = repo_root()
FIXTURES = ROOT / "tests" / "fixtures" / "musicnn"
SR = conv.SR


# --------------------------------------------------------------------------------------
# Clips
# --------------------------------------------------------------------------------------

# name -> (function, seconds). Lengths vary so that some clips have 2 patches and all drop
# a partial tail (musicnn's batching); every clip has >= 187 frames (~2.99 s).
CLIPS = {"whistle": 6.0, "flute440": 4.0, "noise": 3.5, "drums": 6.0, "chirp": 5.0, "speech": 6.0}


# --------------------------------------------------------------------------------------
# musicnn's own pipeline, patched for NumPy 2 / TF >= 2.16
# --------------------------------------------------------------------------------------

_extractor = None


def musicnn_package(wheel: str | None = None):
    """The `musicnn` package: an installed one, else the pinned wheel's, unpacked into
    `<cache>/musicnn-0.1.0` and registered in sys.modules under its own name (its modules
    import each other as `musicnn.*`)."""
    if "musicnn" in sys.modules:
        return sys.modules["musicnn"]
    if importlib.util.find_spec("musicnn") is not None:
        import musicnn
        return musicnn
    root = livetag_cache() / "musicnn-0.1.0"
    if not (root / "musicnn" / "__init__.py").exists():
        path = fetch_wheel("musicnn==0.1.0", conv.WHEEL_NAME, conv.WHEEL_SHA256, wheel)
        with zipfile.ZipFile(path) as whl:
            whl.extractall(root)
    package = root / "musicnn"
    spec = importlib.util.spec_from_file_location(
        "musicnn", package / "__init__.py", submodule_search_locations=[str(package)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["musicnn"] = module
    spec.loader.exec_module(module)
    return module


def musicnn_extractor():
    global _extractor
    if _extractor is None:
        musicnn_package()
        from musicnn import extractor as ex
        src = inspect.getsource(ex.batch_data)
        bad = "audio_rep = np.log10(10000 * audio_rep + 1)"
        if bad not in src:
            raise RuntimeError("musicnn batch_data changed; re-check the float16 fix")
        src = src.replace(bad, "audio_rep = np.log10(10000 * audio_rep.astype(np.float32) + 1)")
        exec(compile(src, inspect.getsourcefile(ex.batch_data), "exec"), ex.__dict__)
        _extractor = ex
    return _extractor


MODEL = "MTT_musicnn"  # set from --model


def tf_tag(wav: Path) -> np.ndarray:
    ex = musicnn_extractor()
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):  # musicnn prints progress
        taggram, _labels = ex.extractor(str(wav), model=MODEL, input_length=3,
                                        input_overlap=False, extract_features=False)
    return np.asarray(taggram, dtype=np.float64)


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    import librosa
    import tensorflow as tf
    try:
        musicnn = version("musicnn")
    except PackageNotFoundError:  # loaded from the pinned wheel (musicnn_package)
        musicnn = "0.1.0"
    return {"musicnn": musicnn, "tensorflow": tf.__version__,
            "librosa": librosa.__version__, "numpy": np.__version__}


def generate(out: Path, labels: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    vers = versions()
    synthesised = ((name, clips.synth(name, seconds, SR)) for name, seconds in CLIPS.items())
    # Every musicnn checkpoint is tagged on the same 16 kHz clips, kept once in FIXTURES.
    for name, wav in clips.write_clip_wavs(FIXTURES, synthesised, SR):
        probs = tf_tag(wav)
        rep = conv.musicnn_features(conv.load_audio(wav))
        spans = conv.patches(rep)
        assert len(spans) == len(probs), (name, len(spans), probs.shape)
        hop_s = conv.HOP / SR
        doc = {
            "clip": name,
            "wav": os.path.relpath(wav, out),
            "sample_rate_hz": SR,
            "model": MODEL,
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
            doc["synthesis"] = dict(clips.WHISTLE)
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
            write_pcm16_wav(wav, clips.whistle(3.0, SR, **params), SR)
            p = tf_tag(wav).mean(axis=0)
            order = list(np.argsort(-p, kind="stable"))
            rank = order.index(flute) + 1
            top = ", ".join(f"{labels[i]} {p[i]:.2f}" for i in order[:5])
            print(f"{params['f0']:>6.0f} {params['vibrato_cents']:>5.0f} "
                  f"{params['breath_db']:>6.0f}  {p[flute]:>6.3f} {rank:>4}  {top}", flush=True)


def compare(onnx_path: Path, fixtures: Path, labels: list[str]) -> bool:
    session = make_session(onnx_path.read_bytes())
    print(f"\nONNX {onnx_path} (librosa features) vs musicnn TensorFlow fixtures:")
    return conv.print_tf_table(conv.compare_with_tf_fixtures(session, labels, fixtures))


def main() -> int:
    global MODEL
    ap = argparse.ArgumentParser(description="musicnn TF reference fixtures and ONNX parity")
    ap.add_argument("--model", default="MTT_musicnn", choices=["MTT_musicnn", "MSD_musicnn"])
    ap.add_argument("--fixtures", help="default tests/fixtures/musicnn (MTT) or musicnn-msd (MSD)")
    ap.add_argument("--onnx",
                    help="default models/musicnn-mtt/model.onnx or musicnn-msd/model.onnx")
    ap.add_argument("--wheel", help=f"{conv.WHEEL_NAME} to take musicnn's code from, when it "
                    "is not installed (default: pip download into livetag's cache)")
    ap.add_argument("--compare-only", action="store_true", help="skip TF; compare ONNX to fixtures")
    ap.add_argument("--whistle-search", action="store_true", help="TF tags of whistle variants")
    args = ap.parse_args()
    MODEL = args.model
    suffix = "" if MODEL == "MTT_musicnn" else "-msd"
    args.fixtures = args.fixtures or str(FIXTURES.parent / f"musicnn{suffix}")
    bundle = "musicnn-mtt" if MODEL == "MTT_musicnn" else "musicnn-msd"
    args.onnx = args.onnx or str(ROOT / "models" / bundle / "model.onnx")
    labels = [line for line in (Path(args.onnx).parent / "labels.txt").read_text().splitlines()]
    if not args.compare_only:
        musicnn_package(args.wheel)
    if args.whistle_search:
        whistle_search(labels)
        return 0
    if not args.compare_only:
        generate(Path(args.fixtures), labels)
    return 0 if compare(Path(args.onnx), Path(args.fixtures), labels) else 1


if __name__ == "__main__":
    sys.exit(main())
