"""The DCASE 2021 Task 4 baseline CRNN exporter (livetag_tools.export.dcase.desed_crnn):
the rebuilt network is the original (state_dict against the hand-written key list, the
parameter count, the minimum length), the baseline's Lightning checkpoints load strictly,
the bundle's front-end plus the graph's clamp and scaler give the baseline's features, and
ONNX Runtime agrees with PyTorch on both outputs at several lengths."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import onnx
import pytest
import torch

from livetag_tools.export import __main__ as export_main
from livetag_tools.export.dcase import desed_crnn as d
from livetag_tools.export.dcase.base import read_key_fixture
from livetag_tools.export.registry import registry

# recipes/dcase2021_task4_baseline/local/classes_dict.py, classes_labels, in index order
BASELINE_CLASSES = [
    "Alarm_bell_ringing",
    "Blender",
    "Cat",
    "Dishes",
    "Dog",
    "Electric_shaver_toothbrush",
    "Frying",
    "Running_water",
    "Speech",
    "Vacuum_cleaner",
]


def test_registered_under_its_name():
    assert registry()[d.NAME] is d.ENTRY


def test_state_dict_equals_the_hand_written_key_list():
    mine = [(k, tuple(v.shape)) for k, v in d.build().state_dict().items()]
    assert mine == read_key_fixture(d.KEY_FIXTURE)  # keys, order and shapes


def test_parameter_count():
    official = read_key_fixture(d.KEY_FIXTURE)
    from_list = sum(
        int(np.prod(shape))
        for key, shape in official
        if not key.endswith(("running_mean", "running_var", "num_batches_tracked"))
    )
    assert from_list == sum(p.numel() for p in d.build().parameters()) == 1_112_420


def test_labels_are_in_the_baseline_order():
    assert d.labels() == BASELINE_CLASSES


def test_minimum_length_is_tight():
    model = d.build()
    assert d.ARCH_MIN_FRAMES == 4
    assert d.runs_at(model, 4)
    assert not d.runs_at(model, 3)


@pytest.mark.parametrize("frames", [4, 7, 626, 1001])
def test_strong_frames_are_a_quarter_of_the_input(frames):
    with torch.no_grad():
        strong, weak = d.build()(torch.zeros(1, d.N_MELS, frames))
    assert tuple(strong.shape) == (1, frames // 4, 10) and tuple(weak.shape) == (1, 10)
    assert d.FRAME_RATE_HZ == 15.625


def test_frontend_and_graph_scaler_give_the_baseline_features():
    exact = d.frontend_gap(dtype=torch.float64)
    assert exact["frames"] == 626
    assert exact["db_max_abs"] < 1e-5  # the formulas agree (float32 output rounding)
    # against the original's float32 arithmetic: the network input within 1e-5 of [0, 1]
    assert d.frontend_gap()["scaled_max_abs"] < 1e-5


def _checkpoint(tmp_path, seed=321):
    path = tmp_path / "epoch=199.ckpt"
    torch.save(d.synthetic_checkpoint(seed), path)
    return path


@pytest.mark.parametrize("which", ["sed_student", "sed_teacher"])
def test_lightning_checkpoint_loads_strictly(tmp_path, which):
    path = _checkpoint(tmp_path)
    obj = torch.load(path, weights_only=True)
    assert any(k.startswith("sed_student.") for k in obj["state_dict"])
    assert "mel_spec.mel_scale.fb" in obj["state_dict"]  # other modules' buffers dropped
    model = d.load_checkpoint(path, which)
    want = {k[len(which) + 1 :]: v for k, v in obj["state_dict"].items() if k.startswith(which)}
    got = model.state_dict()
    assert sorted(got) == sorted(want)
    assert all(torch.equal(got[k], want[k]) for k in want)


def test_plain_state_dict_loads_and_a_missing_key_fails(tmp_path):
    student = d.synthetic_checkpoint(5)["sed_student"]
    torch.save(student, tmp_path / "plain.pt")
    d.load_checkpoint(tmp_path / "plain.pt")
    del student["dense_softmax.bias"]
    torch.save(student, tmp_path / "broken.pt")
    with pytest.raises(RuntimeError, match="Missing key.*dense_softmax.bias"):
        d.load_checkpoint(tmp_path / "broken.pt")


def test_checkpoint_without_the_model_prefix_is_refused():
    with pytest.raises(ValueError, match="no `sed_student.` keys"):
        d.state_dict_from_checkpoint({"state_dict": {"model.dense.bias": torch.zeros(10)}})


def _check_bundle(out, parity_max):
    toml = tomllib.loads((out / "bundle.toml").read_text())
    assert toml["frontend"]["window"] == "hamming_symmetric"
    assert toml["frontend"]["power"] == 1.0
    strong = [o for o in toml["outputs"] if o["kind"] == "framewise"]
    assert strong == [
        {
            "name": "strong",
            "kind": "framewise",
            "values": "probabilities",
            "activation": "sigmoid",
            "frame_rate_hz": 15.625,
        }
    ]
    assert toml["events"] == {"median_frames": 7}
    assert (out / "labels.txt").read_text().split("\n")[:-1] == BASELINE_CLASSES
    graph = onnx.load(str(out / "model.onnx")).graph
    assert [n.op_type for n in graph.node].count("GRU") == 2  # one per layer, both ways
    parity = json.loads((out / "parity.json").read_text())
    assert parity_max(parity) <= 1e-4
    # The minimum runs in the graph too. (Below it ONNX Runtime's AveragePool does not fail
    # as PyTorch's does: it returns one frame; the bundle's min_frames 32 keeps livetag away.)
    sess = d.common.onnx_session(out / "model.onnx")
    strong4, weak4 = sess.run(None, {d.INPUT_NAME: d.audio_input(1, 4, 1)})
    assert strong4.shape == (1, 1, 10) and weak4.shape == (1, 10)


def _max_diff(parity):
    return max(v for c in parity["cases"] for v in c["onnx_runtime_max_abs_diff"].values())


@pytest.mark.slow
def test_random_weights_export_and_parity(tmp_path, capsys):
    out = tmp_path / "bundle"
    rc = export_main.main(
        ["--arch", d.NAME, "--random-weights", "--reference", "--out", str(out)]
    )
    assert rc == 0
    parity = json.loads((out / "parity.json").read_text())
    frames = sorted({c["input"]["frames"] for c in parity["cases"]})
    assert frames == [4, 7, 157, 626, 1001]
    _check_bundle(out, _max_diff)
    # the random heads are not near-constant, so parity is not on a flat output
    weak = np.array(json.loads((out / "reference" / "expected.json").read_text())["scores"])
    assert weak.max() - weak.min() > 0.2


@pytest.mark.slow
def test_synthetic_lightning_checkpoint_export_and_parity(tmp_path):
    path = _checkpoint(tmp_path, seed=77)
    out = tmp_path / "bundle"
    rc = d.main(["--checkpoint", str(path), "--reference", "--licence", "CC-BY-4.0",
                 "--out", str(out)])
    assert rc == 0
    _check_bundle(out, _max_diff)
    toml = tomllib.loads((out / "bundle.toml").read_text())
    assert toml["model"]["licence"] == "CC-BY-4.0"
    assert "sed_student (loaded with strict=True)" in (out / "LICENSE").read_text()


def test_pickled_extras_need_trust(tmp_path):
    """A .ckpt holding objects weights_only refuses (Lightning's extras) stops with a
    pointer to --trust-checkpoint, and loads with it."""
    import argparse

    obj = d.synthetic_checkpoint(9)
    obj["hparams"] = argparse.Namespace(lr=0.001)
    path = tmp_path / "with_extras.ckpt"
    torch.save(obj, path)
    with pytest.raises(SystemExit, match="--trust-checkpoint"):
        d.load_checkpoint(path)
    model = d.load_checkpoint(path, trust=True)
    assert torch.equal(model.state_dict()["dense.bias"], obj["sed_student"]["dense.bias"])
