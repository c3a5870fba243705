"""The one bundle.toml writer: what it refuses, what it writes, and that its examples cover
every key it knows (tests/bundle_writer.rs then loads those examples in livetag)."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from livetag_tools.common import bundle_examples
from livetag_tools.common.bundle import (
    SECTIONS,
    BundleError,
    BundleToml,
    Note,
    toml_value,
    write_bundle_files,
)


def minimal() -> BundleToml:
    doc = BundleToml("A test bundle.\nDo not edit by hand.")
    doc.table("model", {"name": "m", "licence": "MIT"})
    doc.table("input", [("kind", "waveform"), ("name", "x"), ("sample_rate_hz", 16000),
                        ("layout", ["batch", "time"]), Note("Why 1 s."),
                        ("window_samples", 16000), ("hop_samples", 8000)])
    doc.array("outputs", {"name": "y", "kind": "clip", "values": "probabilities",
                          "activation": "sigmoid"}, comment="The graph ends in a sigmoid.")
    return doc


def test_layout_of_comments_tables_and_notes():
    assert minimal().render() == (
        "# A test bundle.\n# Do not edit by hand.\n"
        "\n[model]\nname = \"m\"\nlicence = \"MIT\"\n"
        "\n[input]\nkind = \"waveform\"\nname = \"x\"\nsample_rate_hz = 16000\n"
        "layout = [\"batch\", \"time\"]\n# Why 1 s.\nwindow_samples = 16000\nhop_samples = 8000\n"
        "\n# The graph ends in a sigmoid.\n[[outputs]]\nname = \"y\"\nkind = \"clip\"\n"
        "values = \"probabilities\"\nactivation = \"sigmoid\"\n")


@pytest.mark.parametrize("value, text", [
    (True, "true"), (3, "3"), (2.0, "2.0"), (1e-05, "1e-05"), (0.0001, "0.0001"),
    (1e20, "1e+20"), ("a \"q\" é", "\"a \\\"q\\\" é\""), ([1, 2.5, "x"], "[1, 2.5, \"x\"]"),
    ("tab\tline\nDEL\x7f", "\"tab\\tline\\nDEL\\u007f\""), (np.float32(0.25), "0.25"),
    (np.int64(-3), "-3"), (2**63 - 1, "9223372036854775807"),
])
def test_values_read_back_as_written(value, text):
    assert toml_value(value) == text
    assert tomllib.loads(f"k = {text}")["k"] == value


@pytest.mark.parametrize("value, problem", [
    (float("nan"), "not a finite number"), (float("inf"), "not a finite number"),
    (2**63, "does not fit a 64-bit integer"), (np.zeros(2), "cannot write"), (None, "cannot write"),
])
def test_values_livetag_cannot_read_are_refused(value, problem):
    with pytest.raises(BundleError, match=problem):
        toml_value(value)


def test_unknown_key_is_refused_with_the_keys_livetag_reads():
    doc = BundleToml("x")
    with pytest.raises(BundleError, match=r"\[model\]: livetag does not read `licnce`; "
                                          r"it reads description, file, .*licence"):
        doc.table("model", {"name": "m", "licnce": "MIT"})


def test_unknown_table_and_wrong_table_kind_are_refused():
    with pytest.raises(BundleError, match=r"\[modle\]: livetag reads no such table"):
        BundleToml("x").table("modle", {"name": "m"})
    with pytest.raises(BundleError, match=r"\[outputs\] is an array of tables"):
        BundleToml("x").table("outputs", {"name": "y"})
    with pytest.raises(BundleError, match=r"\[\[live\]\]: livetag reads no such array"):
        BundleToml("x").array("live", {"hop_secs": 1.0})


def test_missing_required_sections_and_keys():
    with pytest.raises(BundleError, match=r"\[model\]: missing licence"):
        BundleToml("x").table("model", {"name": "m"})
    doc = BundleToml("x")
    doc.table("model", {"name": "m", "licence": "MIT"})
    with pytest.raises(BundleError, match="needs \\[input\\]"):
        doc.render()
    with pytest.raises(BundleError, match="before \\[frontend\\]"):
        doc.array("frontend.steps", {"op": "mel"})


def test_none_means_left_out_and_steps_nest_under_frontend():
    doc = minimal()
    doc.table("live", {"window_secs": 2.0, "hop_secs": None})
    text = doc.render()
    assert "hop_secs" not in text
    assert tomllib.loads(text)["live"] == {"window_secs": 2.0}


def test_labels_with_line_breaks_are_refused(tmp_path):
    with pytest.raises(BundleError, match=r"label 1 \('a\\nb'\)"):
        write_bundle_files(tmp_path, minimal(), ["ok", "a\nb"], "licence\n")
    with pytest.raises(BundleError, match="2 ontology ids for 1 labels"):
        write_bundle_files(tmp_path, minimal(), ["ok"], "licence\n", label_ids=["/m/1", "/m/2"])


def test_examples_use_every_key_the_writer_knows():
    """So that tests/bundle_writer.rs, which loads the examples in livetag, covers every key."""
    used = bundle_examples.keys_used()
    missing = {name: sorted(keys - used[name]) for name, keys in SECTIONS.items()
               if keys - used[name]}
    assert not missing, f"keys no example writes: {missing}"


def test_examples_write_complete_bundles(tmp_path):
    folders = bundle_examples.write_examples(tmp_path)
    assert [f.name for f in folders] == ["example-features", "example-state",
                                         "example-framewise"]
    features = tmp_path / "example-features"
    assert sorted(p.name for p in features.iterdir()) == [
        "COPYING", "bundle.toml", "classes.txt", "graph.onnx", "ids.txt", "reference"]
    spec = tomllib.loads((features / "bundle.toml").read_text())
    assert [s["op"] for s in spec["frontend"]["steps"]] == ["mel", "db"]


def test_front_end_steps_are_checked_by_op():
    doc = minimal()
    doc.table("frontend", {"n_fft": 512, "hop_samples": 256, "window": "hann", "center": True,
                           "power": 2.0})
    doc.array("frontend.steps", {"op": "db", "ref": 1.0, "amin": 1e-10, "top_db": 80.0})
    with pytest.raises(BundleError, match=r"no step op 'dB'; ops: a_weighting_db, affine"):
        doc.array("frontend.steps", {"op": "dB"})
    with pytest.raises(BundleError, match=r"does not read `eps`; it reads add, mul, op"):
        doc.array("frontend.steps", {"op": "log10", "mul": 1.0, "add": 1.0, "eps": 1e-6})
