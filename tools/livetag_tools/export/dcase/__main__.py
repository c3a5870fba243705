"""The DCASE exporters' own runner: what `python -m livetag_tools.export` does not take, i.e.
a trained checkpoint's --licence and --norm-stats (the Kong baseline's training scaler), and
synthetic checkpoints with the official key names and containers.

    python -m livetag_tools.export.dcase --arch dcase2024_t1_baseline \\
        --checkpoint model_state_dict.pt --out DIR [--reference]
    python -m livetag_tools.export.dcase --arch NAME --write-synthetic-checkpoint X.pth
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

import numpy as np
import torch

from livetag_tools.export.dcase.base import (
    PARITY_TOL,
    Arch,
    RegistryEntry,
    check_parity,
    count_macs,
    count_params,
    load_checkpoint,
    onnx_macs,
    random_model,
    save_synthetic_checkpoint,
    write_parity_json,
)
from livetag_tools.export.registry import registry


class NormStatsError(Exception):
    """--norm-stats is missing, unreadable or malformed; the message names the file and the
    fix."""


NORM_STATS_HOWTO = (
    "an .npz with arrays `mean` and `std`, one value per mel band, the per-band mean and "
    "standard deviation of the training log-mel features (the baseline's calculate_scalar); "
    "write it with np.savez(PATH, mean=mean, std=std)"
)


def read_norm_stats(path: str | Path, arch: Arch) -> tuple[np.ndarray, np.ndarray]:
    """``arch``'s training scaler from ``path``, checked: an .npz holding ``mean`` and ``std``
    of ``arch.n_features`` finite values each, every std above 0."""
    path = Path(path)
    bands = arch.n_features
    what = f"--norm-stats {path}"
    if not path.is_file():
        raise NormStatsError(f"{what}: no such file; it must be {NORM_STATS_HOWTO}")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k], dtype=np.float64) for k in z.files}
    except Exception as e:  # noqa: BLE001 (np.load raises many types for a non-npz file)
        raise NormStatsError(
            f"{what}: not an .npz file numpy can read ({type(e).__name__}: {e}); it must be "
            f"{NORM_STATS_HOWTO}"
        ) from e
    missing = [k for k in ("mean", "std") if k not in arrays]
    if missing:
        raise NormStatsError(
            f"{what}: has no {' or '.join(repr(k) for k in missing)} array (it holds "
            f"{sorted(arrays) or 'no arrays'}); it must be {NORM_STATS_HOWTO}"
        )
    mean, std = arrays["mean"].reshape(-1), arrays["std"].reshape(-1)
    for name, a in (("mean", mean), ("std", std)):
        if a.shape != (bands,):
            raise NormStatsError(
                f"{what}: `{name}` has {a.size} values, but {arch.name} has {bands} mel bands; "
                f"it must be {NORM_STATS_HOWTO}"
            )
        if not np.all(np.isfinite(a)):
            raise NormStatsError(f"{what}: `{name}` holds NaN or infinite values")
    if np.any(std <= 0):
        band = int(np.argmax(std <= 0))
        raise NormStatsError(
            f"{what}: `std` of band {band} is {std[band]}; every band's std must be above 0 "
            f"(features are divided by it)"
        )
    return mean, std


def dcase_archs() -> dict[str, Arch]:
    return {name: e.arch for name, e in registry().items() if isinstance(e, RegistryEntry)}


def main(argv=None) -> int:
    archs = dcase_archs()
    ap = argparse.ArgumentParser(
        prog="python -m livetag_tools.export.dcase", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--arch", choices=sorted(archs))
    src = ap.add_mutually_exclusive_group()
    src.add_argument(
        "--checkpoint", help="state dict / official checkpoint, loaded with strict=True"
    )
    src.add_argument(
        "--random-weights", action="store_true", help="official init under --seed (default)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="bundle folder to write")
    ap.add_argument(
        "--reference", action="store_true", help="also write OUT/parity.json and OUT/parity/*.f32"
    )
    ap.add_argument(
        "--licence", help="licence of the weights (default: livetag's for random weights)"
    )
    ap.add_argument(
        "--norm-stats",
        help="dcase2018_t2_baseline: .npz with mean[64], std[64], the training scaler "
        "(required with --checkpoint)",
    )
    ap.add_argument(
        "--write-synthetic-checkpoint",
        metavar="PATH",
        help="write a random checkpoint with the official key names and container, then exit",
    )
    args = ap.parse_args(argv)

    if not args.arch:
        ap.error("--arch is required")
    arch = archs[args.arch]
    if args.write_synthetic_checkpoint:
        save_synthetic_checkpoint(arch, args.write_synthetic_checkpoint, seed=args.seed + 123)
        print(
            f"wrote {args.write_synthetic_checkpoint}"
            + (" and its .norm_stats.npz" if arch.frontend_patch is not None else "")
        )
        return 0
    if not args.out:
        ap.error("--out is required")
    out = Path(args.out)

    # The scaler is checked before any model is built, so a bad file fails at once.
    takes_stats = arch.frontend_patch is not None
    if args.norm_stats and not takes_stats:
        ap.error(f"--norm-stats: {arch.name} has no normalisation step; leave the option out")
    if takes_stats and args.checkpoint and not args.norm_stats:
        ap.error(
            f"--norm-stats is missing: a trained {arch.name} expects features normalised by "
            f"the scaler of its training data, which its checkpoint does not hold. Give "
            f"--norm-stats PATH, {NORM_STATS_HOWTO}"
        )
    given_stats = None
    if args.norm_stats:
        try:
            given_stats = read_norm_stats(args.norm_stats, arch)
        except NormStatsError as e:
            ap.error(str(e))

    if args.checkpoint:
        try:
            model = load_checkpoint(arch, args.checkpoint)
        except (ValueError, RuntimeError, OSError, pickle.UnpicklingError) as e:
            # Wrong keys, shapes or layers, or not a checkpoint at all: no bundle.
            raise SystemExit(f"{arch.name}: {args.checkpoint} does not fit:\n{e}") from e
        weights = f"checkpoint {Path(args.checkpoint).name} (loaded with strict=True)"
        licence = args.licence or "UNKNOWN"
    else:
        model, norm_stats = random_model(arch, args.seed)
        weights = (
            f"RANDOM (official initialisation, torch.manual_seed({args.seed}); BN affine "
            f"perturbed and BN statistics calibrated on features of seeded random audio) - not "
            f"a trained model"
        )
        licence = args.licence or "MIT OR Apache-2.0"
        if norm_stats is not None and not args.norm_stats:
            weights += (
                "; normalize = per-band mean/std of those features (stand-in for the training "
                "scaler)"
            )
    if args.checkpoint:
        norm_stats = None
    if given_stats is not None:
        norm_stats = given_stats

    arch.export(model, out, weights=weights, licence=licence, norm_stats=norm_stats)
    rows = check_parity(arch, model, out / "model.onnx")
    size = (out / "model.onnx").stat().st_size
    print(f"{arch.name}: {count_params(model):,} parameters, model.onnx {size:,} bytes")
    fails = 0
    for r in rows:
        good = r["max_abs_diff"] <= PARITY_TOL
        fails += not good
        print(
            f"  parity {str(r['shape']):>22}: max |torch - onnxruntime| = {r['max_abs_diff']:.2e}"
            f" (after {arch.activation if arch.values == 'logits' else 'model'}: "
            f"{r['max_abs_diff_activated']:.2e}) {'ok' if good else 'FAIL'}"
        )
    if arch.name == "dcase2024_t1_baseline":
        macs = count_macs(model, torch.zeros(arch.input_shape(65)))
        om = onnx_macs(out / "model.onnx", arch.input_shape(65))
        print(
            f"  MACs per 1 s: conv+linear {macs['conv_linear']:,}, NeSsi-style (+2C per BN) "
            f"{macs['nessi']:,}; ONNX Conv nodes {om.get('Conv', 0):,}, Gemm "
            f"{om.get('Gemm', 0):,}, MatMul {om.get('MatMul', 0):,}"
        )
    if args.reference:
        write_parity_json(arch, rows, out, weights)
        print(f"  wrote {out / 'parity.json'}")
    if fails:
        print(f"PARITY FAILED on {fails} of {len(rows)} inputs (tolerance {PARITY_TOL})")
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
