"""One bundle of every kind, written with `BundleToml` and using every key it knows, for
`tests/bundle_writer.rs` to load in livetag: the check that the Python writer and the Rust
reader describe the same format. The graphs are the tiny test models in tests/models.

    python -m livetag_tools.common.bundle_examples OUT_DIR    # from tools/; stdlib only
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from .bundle import SECTIONS, BundleToml, Note, write_bundle_files
from .cache import repo_root

TEST_MODELS = repo_root() / "tests" / "models"
LICENCE = "CC0-1.0: written by livetag_tools.common.bundle_examples for livetag's tests.\n"


def features_bundle() -> tuple[str, BundleToml, list[str], list[str] | None]:
    """A log-mel front-end computed by livetag, every optional key of [model], [input],
    [frontend], [live], [ontology] and [reference] spelled out."""
    doc = BundleToml("Features in, a clip out, an ontology and a self-test.\nDo not edit by hand.")
    doc.table("model", [("name", "example-features"),
                        ("description", "every optional key, written out"),
                        ("file", "graph.onnx"), ("labels", "classes.txt"),
                        ("licence", "CC0-1.0"), ("licence_file", "COPYING"),
                        ("trained_parameters", 1234)])
    doc.table("input", [("kind", "features"), ("name", "features"), ("sample_rate_hz", 8000),
                        ("layout", ("batch", "time", "feature")),
                        Note("A note between two keys."),
                        ("window_frames", 32), ("hop_frames", 16), ("min_frames", 8)])
    doc.table("frontend", {"n_fft": 256, "win_length": 256, "hop_samples": 128,
                           "window": "hann", "center": True, "pad_mode": "constant",
                           "power": 2.0, "drop_nyquist": False}, comment="The front-end.")
    doc.array("frontend.steps", {"op": "mel", "n_bands": 16, "fmin_hz": 0.0, "fmax_hz": 4000.0,
                                 "scale": "slaney", "norm": "slaney"})
    doc.array("frontend.steps", {"op": "db", "ref": 1.0, "amin": 1e-10})
    doc.array("outputs", {"name": "logits", "kind": "clip", "values": "logits",
                          "activation": "softmax", "logit_clip": 30.0})
    doc.table("live", {"window_secs": 0.5, "hop_secs": 0.25})
    doc.table("ontology", {"name": "audioset", "ids": "ids.txt"})
    doc.comment("A comment block of its own.")
    doc.table("reference", {"audio": "reference/input.wav", "expected": "reference/expected.json",
                            "tolerance": 1e-4})
    # Speech, Animal, Music: AudioSet MIDs for the tone model's three classes.
    return "tiny-tone", doc, ["low", "mid", "high"], ["/m/09x0r", "/m/0jbk", "/m/04rlf"]


def state_bundle() -> tuple[str, BundleToml, list[str], list[str] | None]:
    """Samples in, a recurrent state carried between windows, a constant input."""
    doc = BundleToml("Waveform in, with state and a constant.")
    doc.table("model", {"name": "example-state", "licence": "CC0-1.0"})
    doc.table("input", {"kind": "waveform", "name": "audio", "sample_rate_hz": 8000,
                        "layout": ["batch", "time"], "window_samples": 8, "hop_samples": 8,
                        "lead_in_samples": 2})
    doc.array("outputs", {"name": "score", "kind": "clip", "values": "probabilities",
                          "activation": "sigmoid"})
    doc.array("state", {"input": "h", "output": "h_out", "shape": [1, 1], "init": 0.0})
    doc.array("constants", {"name": "gain", "dtype": "int64", "shape": [], "values": [2]})
    return "tiny-state", doc, ["sum"], None


def framewise_bundle() -> tuple[str, BundleToml, list[str], list[str] | None]:
    """Samples in, clip and framewise outputs, a window range."""
    doc = BundleToml("Waveform in, clip and framewise outputs.")
    doc.table("model", {"name": "example-framewise", "licence": "CC0-1.0"})
    doc.table("input", {"kind": "waveform", "name": "audio", "sample_rate_hz": 8000,
                        "layout": ["batch", "time"], "window_samples": 8000,
                        "hop_samples": 4000, "min_samples": 4000, "max_samples": 8000})
    doc.array("outputs", {"name": "clip", "kind": "clip", "values": "logits",
                          "activation": "sigmoid"})
    doc.array("outputs", {"name": "frames", "kind": "framewise", "values": "logits",
                          "activation": "sigmoid", "frame_rate_hz": 20.0})
    doc.table("events", {"median_frames": [3, 5]}, comment="One median length per class.")
    return "tiny-sed", doc, ["low", "high"], None


EXAMPLES = [features_bundle, state_bundle, framewise_bundle]


def keys_used() -> dict[str, set[str]]:
    """Which keys of each table the examples write (tests check that this is all of them)."""
    used: dict[str, set[str]] = {name: set() for name in SECTIONS}
    for make in EXAMPLES:
        _, doc, _, _ = make()
        for name, value in doc._values.items():
            for table in value if isinstance(value, list) else [value]:
                used[name] |= set(table) - {"steps"}
    return used


def write_examples(out: Path) -> list[Path]:
    written = []
    for make in EXAMPLES:
        graph_from, doc, labels, ids = make()
        source = TEST_MODELS / graph_from
        model = doc._values["model"]
        folder = out / str(model["name"])
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        write_bundle_files(folder, doc, labels, LICENCE, label_ids=None)
        # The optional file names the features example chose.
        (folder / "LICENSE").rename(folder / str(model.get("licence_file", "LICENSE")))
        (folder / "labels.txt").rename(folder / str(model.get("labels", "labels.txt")))
        shutil.copyfile(source / "model.onnx", folder / str(model.get("file", "model.onnx")))
        if ids is not None:
            (folder / str(doc._values["ontology"]["ids"])).write_text(
                "".join(f"{i}\n" for i in ids))
        if "reference" in doc._values:
            shutil.copytree(source / "reference", folder / "reference")
        written.append(folder)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    for folder in write_examples(Path(argv[0])):
        print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
