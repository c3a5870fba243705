"""Where ONNX Runtime spends one model window's time, by operator (CPU provider, profiling on).

    py=$(tools/venv.sh bench)
    cd tools && "$py" -m livetag_tools.bench.ort_op_profile BUNDLE [--threads 1] [--runs 10]

Runs a window of the bundle's trained length (noise) --runs times after one warm-up and
prints the share of kernel time per operator type and the ten costliest nodes. This is the
part of file tagging livetag and a Python pipeline share: both call the same library.
"""
import argparse
import collections
import json
import os
import tempfile
import tomllib

import numpy as np
import onnxruntime as ort


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="ONNX Runtime kernel time of one bundle's "
                                             "window, by operator")
    ap.add_argument("bundle")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=10)
    return ap


def main(argv=None):
    args = parser().parse_args(argv)
    with open(os.path.join(args.bundle, "bundle.toml"), "rb") as f:
        spec = tomllib.load(f)
    inp = spec["input"]
    if inp["kind"] == "waveform":
        shape = [1, inp["window_samples"]]
    else:
        bands = next(s["n_bands"] for s in spec["frontend"]["steps"] if "n_bands" in s)
        sizes = {"batch": 1, "time": inp["window_frames"], "feature": bands, "channel": 1}
        shape = [sizes[axis] for axis in inp["layout"]]
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        options.profile_file_prefix = os.path.join(tmp, "ort")
        session = ort.InferenceSession(os.path.join(args.bundle, "model.onnx"), options,
                                       providers=["CPUExecutionProvider"])
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        feed = {session.get_inputs()[0].name: x}
        session.run(None, feed)
        for _ in range(args.runs):
            session.run(None, feed)
        with open(session.end_profiling()) as f:
            events = json.load(f)
    by_op, by_node = collections.Counter(), collections.Counter()
    runs = 0
    for e in events:
        if e.get("cat") == "Session" and e["name"] == "model_run":
            runs += 1
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            by_op[e["args"]["op_name"]] += e["dur"]
            by_node[e["name"][: -len("_kernel_time")]] += e["dur"]
    total = sum(by_op.values())
    print(f"{spec['model']['name']}: input {shape}, {args.threads} thread(s), "
          f"{total / max(runs, 1) / 1000:.2f} ms of kernels per run")
    for op, us in by_op.most_common(8):
        print(f"  {op:24s} {100 * us / total:5.1f} %")
    print("  costliest nodes:")
    for node, us in by_node.most_common(10):
        print(f"    {node:40s} {100 * us / total:5.1f} %")


if __name__ == "__main__":
    main()
