"""The Python pipeline a user would otherwise write: librosa + onnxruntime, file to scores.

    cd tools && python -m livetag_tools.bench.tag_pipeline FILE --model ../models/musicnn-mtt \
        [--threads 1] [--hop-secs S] [--batch 1]

(the `bench` venv: `tools/venv.sh bench`). It reads the same bundle livetag reads (the same
model.onnx, sample rate, window, hop and front-end), then does what the seed systems' own
scripts do:
  1. librosa.load(FILE, sr=<model rate>, mono=True)  (soundfile decode, soxr_hq resample);
  2. for a log-mel bundle, librosa.feature.melspectrogram over the whole file, then the
     bundle's steps (float16, log10, dB...) in NumPy; a waveform bundle gets the samples;
  3. the windows of the bundle's length at the hop, in batches, through one
     onnxruntime.InferenceSession (CPU provider, intra_op_num_threads = --threads);
and prints one JSON line with the seconds spent in each phase and the windows scored.
Peak memory is measured by the caller (`livetag_tools.bench.runner`), as for livetag.

Thread counts of OpenMP/BLAS are set to --threads before NumPy is imported.
"""
import argparse
import os
import sys

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        description="librosa + onnxruntime file tagging, timed by phase")
    ap.add_argument("file")
    ap.add_argument("--model", required=True, help="livetag bundle folder")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--hop-secs", type=float, default=None, help="default: the bundle's hop")
    ap.add_argument("--batch", type=int, default=1, help="windows per session.run")
    return ap


if __name__ == "__main__":
    # The thread counts only hold if they are in the environment before NumPy is imported
    # (below); imported as a module (tests), the caller's environment stands.
    ARGS = parser().parse_args()
    for var in THREAD_VARS:
        os.environ[var] = str(ARGS.threads)

import json  # noqa: E402
import time  # noqa: E402
import tomllib  # noqa: E402

import librosa  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402


def features(y, sr, fe):
    """The bundle's [frontend] through librosa, frames x bands."""
    mel = next(s for s in fe["steps"] if s["op"] == "mel")
    spec = librosa.feature.melspectrogram(
        y=y, sr=sr, n_fft=fe["n_fft"], win_length=fe.get("win_length", fe["n_fft"]),
        hop_length=fe["hop_samples"], window=fe.get("window", "hann"),
        center=fe.get("center", True), pad_mode=fe.get("pad_mode", "constant"),
        power=fe.get("power", 2.0), n_mels=mel["n_bands"], fmin=mel.get("fmin_hz", 0.0),
        fmax=mel.get("fmax_hz"), htk=mel.get("scale") == "htk",
        norm="slaney" if mel.get("norm") == "slaney" else None)
    for step in fe["steps"]:
        op = step["op"]
        if op == "mel":
            continue
        if op == "float16":
            spec = spec.astype(np.float16).astype(np.float32)
        elif op == "log10":
            spec = np.log10(step.get("mul", 1.0) * spec + step.get("add", 0.0))
        elif op == "log":
            spec = np.log(spec + step["eps"])
        elif op == "db":
            spec = librosa.power_to_db(spec, ref=step.get("ref", 1.0),
                                       amin=step.get("amin", 1e-10), top_db=step.get("top_db"))
        else:
            sys.exit(f"front-end step {op!r} is not mapped to librosa in this module")
    return np.ascontiguousarray(spec.T, dtype=np.float32)


def main(args: argparse.Namespace) -> None:
    bundle_dir = args.model
    with open(os.path.join(bundle_dir, "bundle.toml"), "rb") as f:
        bundle = tomllib.load(f)
    inp = bundle["input"]
    sr = inp["sample_rate_hz"]
    waveform = inp["kind"] == "waveform"

    t0 = time.perf_counter()
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(os.path.join(bundle_dir, "model.onnx"), options,
                                   providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    output_names = [o["name"] for o in bundle["outputs"]]
    t1 = time.perf_counter()

    y, _ = librosa.load(args.file, sr=sr, mono=True)
    t2 = time.perf_counter()

    if waveform:
        rows, window, hop = y, inp["window_samples"], inp["hop_samples"]
        unit = 1
    else:
        rows = features(y, sr, bundle["frontend"])
        window, hop = inp["window_frames"], inp["hop_frames"]
        unit = bundle["frontend"]["hop_samples"]
    if args.hop_secs:
        hop = max(1, round(args.hop_secs * sr / unit))
    t3 = time.perf_counter()

    starts = list(range(0, max(1, len(rows) - window + 1), hop))
    scores = []
    for b in range(0, len(starts), args.batch):
        batch = np.stack([rows[s:s + window] for s in starts[b:b + args.batch]])
        scores.append(session.run(output_names[:1], {input_name: batch})[0])
    scores = np.concatenate(scores)
    t4 = time.perf_counter()

    print(json.dumps({
        "model": bundle["model"]["name"], "windows": int(scores.shape[0]),
        "audio_secs": round(len(y) / sr, 3), "session_secs": round(t1 - t0, 4),
        "load_secs": round(t2 - t1, 4), "frontend_secs": round(t3 - t2, 4),
        "inference_secs": round(t4 - t3, 4), "total_secs": round(t4 - t0, 4),
        "top1_first_window": int(np.argmax(scores[0])), "onnxruntime": ort.__version__,
    }))


if __name__ == "__main__":
    main(ARGS)
