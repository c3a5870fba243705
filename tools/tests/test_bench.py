"""The Python sides of tools/benchmarks.sh run as modules on tiny inputs and print what the
runner parses; the runner's arguments and its BENCHMARKS.md rewriting work without a build."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from livetag_tools.bench import librosa_frontends, ort_op_profile, runner, tag_pipeline
from livetag_tools.common.cache import repo_root

ROOT = repo_root()
TINY_TONE = ROOT / "tests" / "models" / "tiny-tone"
TONES = ROOT / "tests" / "fixtures" / "tiny" / "tones.wav"


def run_module(module: str, *args: str) -> str:
    """`python -m module args` from tools/, as the runner starts it."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT / "tools", env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_parsers_take_the_runners_arguments():
    args = librosa_frontends.parser().parse_args(
        ["--seconds", "60", "--repeat", "5", "--threads", "1", "--cases", "musicnn,dorfer_v2"])
    assert (args.seconds, args.repeat, args.threads, args.cases) == \
        (60.0, 5, 1, "musicnn,dorfer_v2")
    args = tag_pipeline.parser().parse_args(["a.wav", "--model", "m", "--threads", "2",
                                             "--batch", "1", "--hop-secs", "10.0"])
    assert (args.file, args.model, args.threads, args.batch, args.hop_secs) == \
        ("a.wav", "m", 2, 1, 10.0)
    assert ort_op_profile.parser().parse_args(["b", "--runs", "3"]).runs == 3
    args = runner.parse_args(["--only", "frontends,tagging", "--threads", "1,2"])
    assert (args.only, args.threads, args.repeat) == ("frontends,tagging", [1, 2], 3)
    with pytest.raises(SystemExit, match="unknown section"):
        runner.parse_args(["--only", "gpu"])


def test_librosa_frontends_prints_one_row_per_case():
    out = run_module("livetag_tools.bench.librosa_frontends", "--seconds", "1", "--repeat", "1",
                     "--threads", "1", "--cases", "musicnn,dorfer_v2")
    rows = [json.loads(line) for line in out.splitlines()]
    by_impl = {(r["case"], r["impl"]): r for r in rows}
    # musicnn: centred frames of hop 256 at 16 kHz; dorfer_v2: frames of 1024 fully inside
    # 32 kHz at hop 128 (as the front-end reference).
    assert by_impl[("musicnn", "librosa")]["frames"] == 1 + 16000 // 256
    assert by_impl[("dorfer_v2", "numpy")]["frames"] == (32000 - 1024) // 128 + 1
    assert all(r["threads"] == 1 and r["frames_per_sec"] > 0 for r in rows)


def test_tag_pipeline_scores_the_tiny_tone_model():
    out = run_module("livetag_tools.bench.tag_pipeline", str(TONES), "--model", str(TINY_TONE),
                     "--batch", "2")
    phases = json.loads(out.strip().splitlines()[-1])
    # 1.8 s at 8 kHz = 113 frames of hop 128; 32-frame windows every 16 frames.
    assert phases["model"] == "tiny-tone" and phases["windows"] == 6
    expected = json.loads((ROOT / "tests/fixtures/tiny/tones.expected.json").read_text())
    first = expected["windows"][0]["scores"]
    assert phases["top1_first_window"] == first.index(max(first))
    for key in ("session_secs", "load_secs", "frontend_secs", "inference_secs", "total_secs"):
        assert phases[key] >= 0


def test_ort_op_profile_names_the_models_operators():
    out = run_module("livetag_tools.bench.ort_op_profile", str(TINY_TONE), "--runs", "2")
    assert out.startswith("tiny-tone: input [1, 32, 16], 1 thread(s)")
    assert "ReduceMean" in out and "MatMul" in out


def test_importing_leaves_thread_counts_alone():
    """Only `python -m` sets the thread counts (before NumPy loads); an import must not
    parse the importer's argv."""
    assert not hasattr(librosa_frontends, "ARGS") and not hasattr(tag_pipeline, "ARGS")


def test_write_doc_replaces_only_the_sections_run(tmp_path, monkeypatch):
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text("# Benchmarks\n\nintro\n\n<!-- section:models -->\nold\n"
                   "<!-- /section:models -->\n\n<!-- section:live -->\nkept\n"
                   "<!-- /section:live -->\n")
    monkeypatch.setattr(runner, "DOC", doc)
    body = runner.table(["bundle", "ms"], [["tiny", "0.01"]])
    block = runner.render("models", "Models", "cargo bench --bench models", body, "summary",
                          "a machine", "2026-01-01 00:00 UTC")
    runner.write_doc({"models": block})
    text = doc.read_text()
    assert "old" not in text and "kept" in text and "intro" in text
    assert "| bundle | ms |\n|---|---|\n| tiny | 0.01 |" in text
    assert "Command: `cargo bench --bench models`" in text
