#!/usr/bin/env python3
"""Export a PyTorch architecture to a livetag model bundle, and prove the ONNX graph right.

Run from tools/ (the `export` extra: tools/venv.sh export):

    python -m livetag_tools.export --arch Cnn14 --checkpoint Cnn14_mAP=0.431.pth --out DIR
    python -m livetag_tools.export --arch Cnn14 --random-weights [--seed 0] --out DIR [--reference]
    python -m livetag_tools.export --arch all --random-weights --reference --out ../target/exports
    python -m livetag_tools.export --list

For each architecture: build the model (livetag_tools.export.registry lists them; the entry
interface is in livetag_tools.export.common), load the checkpoint with strict=True (a bare
state dict or PANNs' {'model': state_dict}) or keep seeded random weights, write the bundle
(model.onnx with dynamic batch and time axes, opset 17; bundle.toml; labels.txt; LICENSE;
reference/), then run ONNX Runtime against PyTorch on >= 3 input lengths. Any output off by
more than 1e-4 fails the run (exit 1). --reference also writes DIR/parity.json: each parity
input's recipe (seed, batch, length) and PyTorch's outputs on it, for a livetag test
(tests/export_parity.rs) to reproduce. With --arch all, each architecture's bundle goes to
DIR/<arch>.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from livetag_tools.export import common
from livetag_tools.export.registry import registry


def export_one(entry, out_dir: Path, checkpoint: str | None, seed: int, reference: bool) -> dict:
    import torch

    clock = common.Stopwatch()
    torch.manual_seed(seed)
    model = entry.build()
    if checkpoint:
        try:
            loader = getattr(entry, "load_checkpoint", None) or common.load_checkpoint
            sha = loader(model, checkpoint)
        except (ValueError, RuntimeError) as e:  # wrong keys or shapes: no bundle
            raise SystemExit(f"{entry.name}: {checkpoint} does not fit:\n{e}")
        prov = common.Provenance("checkpoint", checkpoint=str(checkpoint), sha256=sha)
    else:
        if hasattr(entry, "prepare_random"):
            entry.prepare_random(model)
        prov = common.Provenance("random", seed=seed)
    model.eval()
    common.set_provenance(model, prov)
    print(f"{entry.name}: {prov.describe()} -> {out_dir}")
    entry.export(model, out_dir)
    export_s = clock.seconds()
    cases = entry.parity_inputs()
    shown = getattr(entry, "shown_outputs", None) or common.onnx_output_names(
        out_dir / "model.onnx"
    )
    try:
        records = common.check_parity(model, out_dir / "model.onnx", cases, shown)
    except common.ParityError:
        (out_dir / "bundle.toml").unlink(missing_ok=True)  # not a loadable bundle any more
        raise
    if reference:
        common.write_parity_json(
            out_dir / "parity.json",
            records,
            shown,
            {
                "arch": entry.name,
                "weights": prov.describe(),
                "model": "model.onnx",
                "note": "inputs are regenerated from each case's `input` recipe; outputs are "
                "PyTorch's",
            },
        )
    params = common.count_params(model)
    stats = {
        "arch": entry.name,
        "params_total": params["total"],
        "params_trainable": params["trainable"],
        "onnx_bytes": (out_dir / "model.onnx").stat().st_size,
        "export_s": round(export_s, 2),
        "total_s": round(clock.seconds(), 2),
        "parity": {r["case"].label: r["max_abs_diff"] for r in records},
    }
    if hasattr(entry, "min_samples"):
        stats["min_samples"] = entry.min_samples
    print(
        f"{entry.name}: OK, {params['total']:,} parameters ({params['trainable']:,} "
        f"trainable), model.onnx {stats['onnx_bytes'] / 1e6:.1f} MB, "
        f"{stats['total_s']:.1f} s"
    )
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m livetag_tools.export", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--arch", help="architecture name, or `all`")
    parser.add_argument("--checkpoint", help="a .pth state dict (bare or {'model': ...})")
    parser.add_argument(
        "--random-weights",
        action="store_true",
        help="export seeded random weights (tests the export path)",
    )
    parser.add_argument("--seed", type=int, default=0, help="torch seed for --random-weights")
    parser.add_argument("--out", type=Path, help="bundle folder (with `all`: a parent folder)")
    parser.add_argument(
        "--reference", action="store_true", help="also write parity.json beside the bundle files"
    )
    parser.add_argument("--list", action="store_true", help="list the architectures")
    parser.add_argument("--stats", type=Path, help="write per-architecture numbers as JSON")
    args = parser.parse_args(argv)

    archs = registry()
    if args.list:
        print("\n".join(archs))
        return 0
    if not args.arch or not args.out:
        parser.error("--arch and --out are required")
    if bool(args.checkpoint) == bool(args.random_weights):
        parser.error("give exactly one of --checkpoint FILE and --random-weights")
    if args.arch == "all":
        if args.checkpoint:
            parser.error("--arch all exports random weights only")
        chosen = list(archs.values())
    elif args.arch in archs:
        chosen = [archs[args.arch]]
    else:
        parser.error(f"unknown --arch {args.arch}; known: {', '.join(archs)}, all")
    # A trained model whose front-end ends in its training data's scaler needs that scaler,
    # which this runner does not take: exporting an identity would feed it wrong features.
    needs_scaler = getattr(getattr(chosen[0], "arch", None), "frontend_patch", None)
    if args.checkpoint and needs_scaler is not None:
        parser.error(f"a trained {args.arch} needs its training scaler: run `python -m "
                     f"livetag_tools.export.dcase --arch {args.arch} --checkpoint "
                     f"{args.checkpoint} --norm-stats PATH --out {args.out}`")

    started = time.perf_counter()
    results, failed = [], []
    for entry in chosen:
        out_dir = args.out / entry.name if args.arch == "all" else args.out
        try:
            results.append(export_one(entry, out_dir, args.checkpoint, args.seed, args.reference))
        except common.ParityError as e:
            print(f"{entry.name}: FAILED parity\n  {e}", file=sys.stderr)
            failed.append(entry.name)
    wall = time.perf_counter() - started
    print(
        f"{len(results)} exported, {len(failed)} failed in {wall:.1f} s"
        + (f": {', '.join(failed)}" if failed else "")
    )
    if args.stats:
        args.stats.parent.mkdir(parents=True, exist_ok=True)
        args.stats.write_text(
            json.dumps({"wall_s": round(wall, 1), "archs": results}, indent=1) + "\n"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
