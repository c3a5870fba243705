"""Time the Python reference front-ends that livetag replaces.

    cd tools && python -m livetag_tools.bench.librosa_frontends --seconds 60 --repeat 5 \
        [--wav FILE] [--threads N] [--cases musicnn,dorfer_v2]

(the `bench` venv: `tools/venv.sh bench`; tools/benchmarks.sh runs this for its front-end
table). For each case of `livetag_tools.reference.frontend` it builds a signal at the case's
sample rate (the 2 s test signal tiled to --seconds, or --wav mixed to mono and resampled with
librosa.resample; preparation is not timed), runs the pipeline once to warm up (numba JIT,
filter caches, FFT plans), then --repeat times, and prints one JSON object per line:

    {"case": ..., "impl": ..., "frames": N, "seconds_audio": S, "best_secs": T,
     "frames_per_sec": N/T, "realtime_factor": S/T}

best_secs is the minimum over the repeats (time.perf_counter). OMP/OpenBLAS/MKL/numba
thread counts are set to --threads (default 1) BEFORE NumPy is imported, so comparisons
with livetag's single-threaded front-end are fair.

dorfer_v2 is timed with madmom 0.16.1 (behind the reference's compat shims) when it
imports, and always also with the NumPy re-implementation ("impl": "numpy").
"""

import argparse
import os

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="Time librosa/madmom reference front-ends.")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1,
                    help="BLAS/OpenMP/numba threads (default 1)")
    ap.add_argument("--wav", type=str, default=None,
                    help="read this file instead of the synthetic signal")
    ap.add_argument("--cases", type=str, default=None,
                    help="comma-separated subset of case names")
    return ap


if __name__ == "__main__":
    # The thread counts only hold if they are in the environment before NumPy is imported
    # (below); imported as a module (tests), the caller's environment stands.
    ARGS = parser().parse_args()
    for var in THREAD_VARS:
        os.environ[var] = str(ARGS.threads)

import json  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import librosa  # noqa: E402
import numpy as np  # noqa: E402

from livetag_tools.reference import frontend as fr  # noqa: E402


def mel_db(y, sr, top_db):
    S = librosa.feature.melspectrogram(
        y=y, sr=sr, n_fft=2048, hop_length=512, window="hann", center=True, pad_mode="constant",
        power=2.0, n_mels=128, fmin=0.0, fmax=11025.0, htk=False, norm="slaney")
    return librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=top_db).T


def mel_htk_log(y, sr):
    S = librosa.feature.melspectrogram(
        y=y, sr=sr, n_fft=400, win_length=400, hop_length=160, window="hann", center=True,
        pad_mode="constant", power=2.0, n_mels=64, fmin=125.0, fmax=7500.0, htk=True, norm=None)
    return np.log(S + 0.001).T


def panns(y, sr):
    S = librosa.feature.melspectrogram(
        y=y, sr=sr, n_fft=1024, hop_length=320, win_length=1024, window="hann", center=True,
        pad_mode="reflect", power=2.0, n_mels=64, fmin=50.0, fmax=14000.0, htk=False,
        norm="slaney")
    return librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=None).T


def musicnn(y, sr):
    S = librosa.feature.melspectrogram(y=y, sr=sr, hop_length=256, n_fft=512, n_mels=96)
    return np.log10(10000 * S.astype(np.float16).astype(np.float32) + 1).T


def dorfer_v1(y, sr):
    S = np.abs(librosa.stft(y, n_fft=1024, hop_length=192, window="hann", center=True,
                            pad_mode="reflect"))
    freqs = librosa.fft_frequencies(sr=sr, n_fft=1024)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        W = librosa.perceptual_weighting(S ** 2, freqs, ref=1.0, amin=1e-10, top_db=99.0)
    return librosa.feature.melspectrogram(S=W, sr=sr, n_mels=128, fmax=16000).T


def dorfer_v2_numpy(y, sr):
    return fr.madmom_log_filtered_spec_numpy(y, sr, 1024, 128, 26, 20.0, 14000.0)


def main(args: argparse.Namespace) -> None:
    mm = fr.import_madmom()
    cases = [
        ("librosa_mel_slaney_db", "librosa", 22050, lambda y, sr: mel_db(y, sr, None)),
        ("librosa_mel_htk_log", "librosa", 16000, mel_htk_log),
        ("panns_logmel", "librosa", 32000, panns),
        ("musicnn", "librosa", 16000, musicnn),
        ("dorfer_v1", "librosa", 32000, dorfer_v1),
    ]
    if mm is not None:
        cases.append(("dorfer_v2", f"madmom {mm['version']}", 32000,
                      lambda y, sr: fr.madmom_dorfer_v2(mm, y, sr, 1024, 128)))
    cases.append(("dorfer_v2", "numpy", 32000, dorfer_v2_numpy))
    cases.append(("streaming_db_top_db", "librosa", 22050, lambda y, sr: mel_db(y, sr, 80.0)))
    if args.cases:
        wanted = set(args.cases.split(","))
        cases = [c for c in cases if c[0] in wanted]

    wav = None
    if args.wav:
        import soundfile as sf
        data, wav_sr = sf.read(args.wav, dtype="float32", always_2d=True)
        wav = (data.mean(axis=1).astype(np.float32), wav_sr)

    signals = {}
    for name, impl, sr, fn in cases:
        if sr not in signals:
            if wav is not None:
                y = librosa.resample(wav[0], orig_sr=wav[1], target_sr=sr).astype(np.float32)
                if args.seconds and args.seconds > 0:
                    y = y[: int(args.seconds * sr)]
            else:
                base = fr.make_signal(sr)
                n = int(round(args.seconds * sr))
                y = np.tile(base, -(-n // len(base)))[:n].copy()
            signals[sr] = y
        y = signals[sr]
        out = fn(y, sr)  # warm-up
        frames = int(np.asarray(out).shape[0])
        best = float("inf")
        for _ in range(max(1, args.repeat)):
            t0 = time.perf_counter()
            fn(y, sr)
            best = min(best, time.perf_counter() - t0)
        secs = len(y) / sr
        print(json.dumps({
            "case": name, "impl": impl, "frames": frames, "seconds_audio": round(secs, 3),
            "best_secs": round(best, 6), "frames_per_sec": round(frames / best, 1),
            "realtime_factor": round(secs / best, 1), "threads": args.threads,
        }), flush=True)


if __name__ == "__main__":
    main(ARGS)
