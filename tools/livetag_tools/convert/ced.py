"""Make livetag's default bundle, CED-tiny (527 AudioSet classes), from the Rust crate
`soundevents` 0.5.0, and the parity fixtures that check livetag against the original model.

    # from tools/:
    python -m livetag_tools.convert.ced --out ../models/ced-tiny \
        [--fixtures ../tests/fixtures/ced-tiny]

What it does
------------
1. Gets two crates through cargo (`cargo info NAME@VERSION` puts the `.crate` in cargo's
   registry cache; nothing else is built or installed) and checks their sha256:
   - `soundevents` 0.5.0: `models/tiny.onnx`, CED-tiny exported to ONNX (opset 19, int8
     weights; Apache-2.0 per the crate's THIRD_PARTY_NOTICES.md; upstream mispeech/ced-tiny),
     and the Apache-2.0 licence text.
   - `soundevents-dataset` 0.4.0: `assets/class_labels_indices.csv`, the AudioSet label
     order the model's 527 outputs follow (CC BY 4.0, Google), with each class's MID, so
     livetag can join the labels to the AudioSet ontology (the same crate livetag links).
   The `soundevents` crate itself is never a dependency: it pins another ort release.
2. Writes the bundle, byte-reproducible: model.onnx (tiny.onnx unchanged, sha256 checked after
   writing), labels.txt (display names), label_ids.txt (MIDs), LICENSE (Apache-2.0), NOTICE
   (provenance and attributions), bundle.toml, and a self-test pair: reference/input.wav
   (espeak-ng speech, as livetag_tools.common.clips makes it) with reference/expected.json.
3. With --fixtures: clips of several lengths (shorter than the model's minimum, between the
   minimum and the window, longer with a tail), the windows livetag cuts from them (its rule
   is restated in `livetag_windows`), and the original tiny.onnx's probabilities for each
   window from onnxruntime in Python, one window per call. tests/ced_parity.rs runs the same
   clips through livetag (decoding, windowing, padding, batching) and compares, <= 1e-5.

Needs the `models` extra (numpy, onnx, onnxruntime, librosa, soundfile: `tools/venv.sh
models`), cargo and espeak-ng.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tarfile
from pathlib import Path

import numpy as np

from livetag_tools.common import clips
from livetag_tools.common.bundle import BundleToml, Note, write_bundle_files
from livetag_tools.common.cache import repo_root
from livetag_tools.common.fetch import archive_member, fetch_crate, sha256_bytes
from livetag_tools.common.onnx_session import make_session
from livetag_tools.common.wav import float32_wav

# (crate, version, sha256 of the .crate)
MODEL_CRATE = ("soundevents", "0.5.0",
               "6e6d2cefd03bfaf30a8b237d9a34e86e7a181e7a6ce078c22e06f12e50fed1a2")
DATASET_CRATE = ("soundevents-dataset", "0.4.0",
                 "70f485955fe81154083e2600191811d25a6259b0d8876e204ba53b0292af01de")
ONNX_MEMBER = "models/tiny.onnx"
ONNX_SHA256 = "3890f227660be71886ff48633d11a731993e0206db8a486781412c28a0873435"
LABELS_MEMBER = "assets/class_labels_indices.csv"
LICENSE_MEMBER = "LICENSE-APACHE"

SR = 16000
# The graph accepts 2,400 to 163,679 samples (63 position slots of 16 frames of 10 ms);
# livetag uses whole seconds inside that range.
WINDOW = 10 * SR        # files: CED was trained and evaluated on 10 s AudioSet clips
HOP = SR                # files: a record per second
MIN = SR // 2           # shorter windows than 0.5 s drift far from the longer ones' scores
MAX = 10 * SR
LIVE_WINDOW_SECS = 2.0  # live: docs/BENCHMARKS.md, "Live defaults of the default model"
LIVE_HOP_SECS = 0.04    # Dorfer's live tagger predicted every 10 frames of 4 ms
TOLERANCE = 1e-5

ROOT = repo_root()
FIXTURES = ROOT / "tests" / "fixtures" / "ced-tiny"
# (clip, seconds): a window shorter than the minimum (padded to it), one between the
# minimum and the window (one window of the clip's length), and two longer than the window
# whose tails fall off the 1 s grid (a last window aligned to the end).
FIXTURE_CLIPS = [("whistle", 0.3), ("speech", 3.3), ("drums", 11.45), ("speech", 12.7),
                 ("noise", 1.0)]


# --------------------------------------------------------------------------------------
# Crates
# --------------------------------------------------------------------------------------

def member(crate: tarfile.TarFile, prefix: str, name: str, sha256: str | None = None) -> bytes:
    return archive_member(crate, f"{prefix}/{name}", sha256)


def audioset_labels(csv_bytes: bytes) -> list[tuple[str, str]]:
    rows = list(csv.DictReader(io.StringIO(csv_bytes.decode("utf-8"))))
    if [int(r["index"]) for r in rows] != list(range(527)):
        sys.exit(f"{LABELS_MEMBER}: expected indices 0..526 in order")
    return [(r["mid"], r["display_name"]) for r in rows]


# --------------------------------------------------------------------------------------
# Windows and scores
# --------------------------------------------------------------------------------------

def livetag_windows(audio: np.ndarray, window: int = WINDOW, hop: int = HOP,
                    minimum: int = MIN) -> list[tuple[int, np.ndarray]]:
    """The windows livetag cuts from a file (docs/BUNDLE_FORMAT.md, "First window and the
    tail"): audio shorter than the minimum is padded with zeros to it; windows end every
    `hop` from `window` on; a tail the grid leaves uncovered gets one more window aligned to
    the end; audio between the minimum and the window is one window of its own length."""
    audio = np.asarray(audio, dtype=np.float32)
    if len(audio) < minimum:
        audio = np.concatenate([audio, np.zeros(minimum - len(audio), np.float32)])
    ends = list(range(window, len(audio) + 1, hop))
    if not ends or ends[-1] < len(audio):
        ends.append(len(audio))
    return [(max(0, e - window), audio[max(0, e - window):e]) for e in ends]


def scores(session, windows: list[np.ndarray]) -> np.ndarray:
    """tiny.onnx's `logits` output is already sigmoid probabilities (the graph ends in a
    Sigmoid); one window per call."""
    rows = [session.run(["logits"], {"waveform": w[None, :]})[0][0] for w in windows]
    return np.array(rows, dtype=np.float32)


def check_graph(model: bytes) -> None:
    import onnx
    graph = onnx.load_from_string(model).graph
    ins = [(i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim])
           for i in graph.input]
    outs = [o.name for o in graph.output]
    producer = {o: n for n in graph.node for o in n.output}
    last = producer[outs[0]].op_type if outs and outs[0] in producer else None
    print(f"tiny.onnx: inputs {ins}, outputs {outs}, output made by {last}")
    # The output's name says logits, but a Sigmoid makes it.
    if [n for n, _ in ins] != ["waveform"] or outs[0] != "logits" or last != "Sigmoid":
        sys.exit("tiny.onnx is not the graph this bundle describes")


# --------------------------------------------------------------------------------------
# Bundle files
# --------------------------------------------------------------------------------------

def bundle_doc() -> BundleToml:
    """The bundle.toml: a pure function (nothing fetched), so a test can hold it against the
    committed models/ced-tiny/bundle.toml."""
    doc = BundleToml(
        'CED-tiny (Dinkel et al., "CED: Consistent ensemble distillation for audio tagging",\n'
        "ICASSP 2024; 48.1 mAP on AudioSet at this size): 527 AudioSet classes from 16 kHz "
        "audio.\n"
        "Generated by `python -m livetag_tools.convert.ced` from the Rust crate "
        f"{MODEL_CRATE[0]} {MODEL_CRATE[1]}:\n"
        "model.onnx is its models/tiny.onnx, unchanged. Do not edit by hand.")
    doc.table("model", [("name", "ced-tiny"),
                        ("description", "CED-tiny: 527 AudioSet sound classes (speech, animals, "
                                        "music, vehicles, alarms, ...)"),
                        ("licence", "Apache-2.0")])
    doc.table("input", [
        ("kind", "waveform"), ("name", "waveform"), ("sample_rate_hz", SR),
        ("layout", ["batch", "time"]),
        Note("The front-end is inside the graph (reflect pad, STFT 512/160, 64 mel, dB, "
             "BatchNorm,\n16x16 patches). Files: 10 s windows, what CED was trained and "
             "evaluated on, one per\nsecond. The graph takes any length from 2,400 to 163,679 "
             "samples; below 0.5 s scores\ndrift far from those of longer windows, so livetag "
             "goes no lower."),
        ("window_samples", WINDOW), ("hop_samples", HOP), ("min_samples", MIN),
        ("max_samples", MAX)])
    doc.table("live", [("window_secs", LIVE_WINDOW_SECS), ("hop_secs", LIVE_HOP_SECS)],
              comment="Live: a prediction every 40 ms (Dorfer's live tagger: every 10 frames) "
                      "on the last 2 s.\nBoth can be changed in the window (Model > Live "
                      "window) within min and max above.")
    doc.array("outputs", [("name", "logits"), ("kind", "clip"), ("values", "probabilities"),
                          ("activation", "sigmoid")],
              comment="`logits` is a misnomer upstream: the graph ends in a Sigmoid.")
    doc.table("ontology", [("name", "audioset"), ("ids", "label_ids.txt")],
              comment="The labels are AudioSet classes (class_labels_indices.csv order), one MID "
                      "per line here.")
    doc.table("reference", [("audio", "reference/input.wav"),
                            ("expected", "reference/expected.json"), ("tolerance", TOLERANCE)],
              comment="3 s of espeak-ng speech, and what tiny.onnx gives it in Python's "
                      "onnxruntime.")
    return doc


def notice(model_crate_sha: str, dataset_crate_sha: str, third_party: str) -> str:
    return f"""\
ced-tiny bundle for livetag
===========================

model.onnx
  CED-tiny (mispeech/ced-tiny; https://github.com/RicherMans/CED; arXiv:2308.11957),
  Apache-2.0 (LICENSE beside this file), as exported to ONNX and published in the
  Rust crate {MODEL_CRATE[0]} {MODEL_CRATE[1]} (file {ONNX_MEMBER}, copied unchanged).
  .crate sha256 {model_crate_sha}
  {ONNX_MEMBER} sha256 {ONNX_SHA256}

labels.txt, label_ids.txt
  AudioSet class_labels_indices.csv (Google Inc., CC BY 4.0), as carried by the Rust
  crate {DATASET_CRATE[0]} {DATASET_CRATE[1]} ({LABELS_MEMBER}).
  .crate sha256 {dataset_crate_sha}
  livetag joins the labels to the AudioSet ontology, which is made available by Google
  Inc. under a Creative Commons Attribution-ShareAlike 4.0 International (CC BY-SA 4.0)
  licence (https://github.com/audioset/ontology).

reference/input.wav
  espeak-ng speech made by livetag_tools.common.clips (livetag, MIT OR Apache-2.0).

The crate's own notice, as published:

{third_party.strip()}
"""


def write_fixtures(session, fixtures: Path) -> None:
    fixtures.mkdir(parents=True, exist_ok=True)
    for old in fixtures.glob("*"):
        old.unlink()
    for clip, seconds in FIXTURE_CLIPS:
        audio = clips.synth(clip, seconds, SR)
        if audio is None:
            sys.exit(f"the {clip} fixture needs espeak-ng")
        name = f"{clip}-{seconds:g}s"
        (fixtures / f"{name}.wav").write_bytes(float32_wav(audio, SR))
        windows = livetag_windows(audio)
        probs = scores(session, [w for _, w in windows])
        (fixtures / f"{name}.expected.json").write_text(json.dumps({
            "clip": name,
            "source": "tiny.onnx (soundevents 0.5.0) in onnxruntime, one window per call",
            "windows": [{"start_samples": s, "samples": len(w)} for s, w in windows],
            "scores": [[float(x) for x in row] for row in probs],
        }) + "\n")
        top = probs.mean(axis=0).argsort()[::-1][:3]
        print(f"fixture {name}: {len(windows)} windows of {[len(w) for _, w in windows][:3]}"
              f"{'...' if len(windows) > 3 else ''} samples; mean top-3 {top.tolist()}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="bundle folder, e.g. ../models/ced-tiny")
    ap.add_argument("--fixtures", help=f"also write parity fixtures here (e.g. {FIXTURES})")
    args = ap.parse_args()

    model_crate = fetch_crate(*MODEL_CRATE)
    prefix = f"{MODEL_CRATE[0]}-{MODEL_CRATE[1]}"
    model = member(model_crate, prefix, ONNX_MEMBER, ONNX_SHA256)
    licence = member(model_crate, prefix, LICENSE_MEMBER).decode("utf-8")
    third_party = member(model_crate, prefix, "THIRD_PARTY_NOTICES.md").decode("utf-8")
    dataset_crate = fetch_crate(*DATASET_CRATE)
    labels = audioset_labels(member(dataset_crate, f"{DATASET_CRATE[0]}-{DATASET_CRATE[1]}",
                                    LABELS_MEMBER))
    check_graph(model)

    out = Path(args.out)
    (out / "reference").mkdir(parents=True, exist_ok=True)
    (out / "model.onnx").write_bytes(model)
    if sha256_bytes((out / "model.onnx").read_bytes()) != ONNX_SHA256:
        sys.exit("model.onnx was not written byte for byte")
    write_bundle_files(out, bundle_doc(), [name for _, name in labels],
                       licence if licence.endswith("\n") else licence + "\n",
                       label_ids=[mid for mid, _ in labels],
                       notice=notice(MODEL_CRATE[2], DATASET_CRATE[2], third_party))

    session = make_session(model)
    audio = clips.synth("speech", 3.0, SR)
    if audio is None:
        sys.exit("the reference clip is espeak-ng speech: install espeak-ng")
    (out / "reference" / "input.wav").write_bytes(float32_wav(audio, SR))
    # The self-test windows with hop = window: 3 s is one window of its own length.
    windows = livetag_windows(audio, hop=WINDOW)
    probs = scores(session, [w for _, w in windows])
    (out / "reference" / "expected.json").write_text(json.dumps(
        {"output": "logits", "scores": [[float(x) for x in row] for row in probs]}) + "\n")
    best = probs[0].argsort()[::-1][:3]
    print("reference: speech 3 s ->",
          ", ".join(f"{labels[i][1]} {probs[0][i]:.3f}" for i in best))
    # CED knows espeak-ng for what it is: "Speech synthesizer", a child of "Speech".
    if labels[best[0]][1] not in ("Speech", "Speech synthesizer"):
        sys.exit("the reference speech is not tagged as speech: something is off")

    if args.fixtures:
        write_fixtures(session, Path(args.fixtures))
    print(f"OK: bundle written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
