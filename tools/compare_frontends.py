#!/usr/bin/env python3
"""livetag front-ends vs librosa (and madmom), on the same 60 s signals, in one run.

    python tools/compare_frontends.py            # needs the venv of tools/requirements.txt

Runs `cargo bench --bench frontends` (criterion; livetag streams the audio in 10 ms chunks,
one thread) and `tools/bench_librosa.py --threads 1` back to back, then prints frames per
second for both and the ratio. The goal is livetag >= 20x librosa.
"""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ["librosa_mel_slaney_db", "librosa_mel_htk_log", "panns_logmel", "musicnn", "dorfer_v1", "dorfer_v2"]


def livetag_rates():
    subprocess.run(["cargo", "bench", "--bench", "frontends", "--", "--noplot"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    rates = {}
    for case in CASES:
        est = ROOT / "target" / "criterion" / "frontend" / case / "new"
        ns_per_iter = json.loads((est / "estimates.json").read_text())["mean"]["point_estimate"]
        frames = json.loads((est / "benchmark.json").read_text())["throughput"]["Elements"]
        rates[case] = frames / (ns_per_iter * 1e-9)
    return rates


def python_rates():
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "bench_librosa.py"), "--seconds", "60",
                          "--repeat", "5", "--threads", "1"], cwd=ROOT, check=True, capture_output=True, text=True)
    rates = {}
    for line in out.stdout.splitlines():
        row = json.loads(line)
        # For dorfer_v2 prefer madmom itself over the NumPy re-implementation.
        if row["case"] not in rates or row.get("impl") == "madmom":
            rates[row["case"]] = (row["frames_per_sec"], row.get("impl", "librosa"))
    return rates


def main():
    ours = livetag_rates()
    theirs = python_rates()
    print(f"{'front-end':24s} {'livetag frames/s':>17s} {'python frames/s':>16s} {'reference':>10s} {'ratio':>7s}")
    ratios = []
    for case in CASES:
        py, impl = theirs[case]
        ratio = ours[case] / py
        ratios.append(ratio)
        print(f"{case:24s} {ours[case]:17,.0f} {py:16,.0f} {impl:>10s} {ratio:6.1f}x")
    print(f"smallest ratio {min(ratios):.1f}x (goal >= 20x)")


if __name__ == "__main__":
    main()
