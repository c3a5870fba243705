"""The DCASE exporters (livetag_tools.export.dcase): that each rebuilt network is the
original (state_dict keys against the hand-written lists in livetag_tools/data/keys, the
published parameter and MAC counts, tight minimum lengths, strict loading of checkpoints in
the official containers) and that the NumPy front-end is livetag's and, where the original
system's differs, by how much. The tolerances are those of the exporters' former built-in
self-test."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from livetag_tools.export.dcase import checks
from livetag_tools.export.dcase.base import (
    RegistryEntry,
    count_macs,
    count_params,
    load_checkpoint,
    read_key_fixture,
    runs_at,
    save_synthetic_checkpoint,
    synthetic_state_dict,
)
from livetag_tools.export.registry import registry

ARCHS = {name: e.arch for name, e in registry().items() if isinstance(e, RegistryEntry)}
WITH_KEY_FIXTURE = [name for name, a in ARCHS.items() if a.key_fixture]


def test_registry_has_every_dcase_arch():
    assert sorted(ARCHS) == ["dcase2018_t2_baseline", "dcase2021_t1a", "dcase2021_t1a_4layer",
                             "dcase2021_t1a_5layer", "dcase2024_t1_baseline", "dorfer_fcn"]
    assert WITH_KEY_FIXTURE == ["dcase2018_t2_baseline", "dcase2024_t1_baseline"]


# ------------------------------------------------------------------------ front-end

FIXTURES = checks.frontend_fixture_cases()


def test_frontend_fixtures_found():
    assert len(FIXTURES) >= 3, FIXTURES


@pytest.mark.parametrize("name", FIXTURES)
def test_numpy_frontend_matches_livetag_fixture(name):
    abs_diff, rel_diff = checks.frontend_fixture_diff(name)
    assert rel_diff < 2e-5, f"{name}: max abs diff {abs_diff:.2e} (rel {rel_diff:.1e})"


def test_kong_frontend_frame_count_is_the_official_one():
    gap = checks.kong_frontend_gap()
    assert gap["frames"] == gap["official_frames"]  # no centring


def test_kong_scaling_folds_into_log_and_affine():
    # With the official symmetric window, the bundle's steps are the official log-mel.
    assert checks.kong_frontend_gap()["scaling_fold_max_abs"] < 1e-4


def test_kong_frontend_is_the_baselines_log_mel():
    # The bundle's front-end (hamming_symmetric) as livetag computes it against features.py's
    # LogMelExtractor (scipy.signal.spectrogram, np.hamming, librosa mel, ln(x + 1e-8)). With
    # the periodic "hamming" it had, this was 4.9e-3.
    gap = checks.kong_frontend_gap()
    assert gap["livetag_max_abs"] <= 1e-4, gap


def test_t1_frontend_matches_torch_stft_and_torchaudio_mel():
    assert checks.t1_frontend_gap() < 1e-3


# ------------------------------------------------------------------------ networks

@pytest.mark.parametrize("name", WITH_KEY_FIXTURE)
def test_state_dict_equals_the_hand_written_fixture(name):
    arch = ARCHS[name]
    official = read_key_fixture(arch.key_fixture)
    mine = [(k, tuple(v.shape)) for k, v in arch.build().state_dict().items()]
    assert mine == official  # keys, order and shapes


@pytest.mark.parametrize("name", WITH_KEY_FIXTURE)
def test_fixture_parameter_count_equals_the_model(name):
    arch = ARCHS[name]
    official = read_key_fixture(arch.key_fixture)
    fixture_params = sum(math.prod(s) for k, s in official if k.endswith((".weight", ".bias")))
    assert fixture_params == count_params(arch.build())


def test_t1_has_the_readme_parameter_count():
    assert count_params(ARCHS["dcase2024_t1_baseline"].build()) == 61148


def test_t1_has_the_readme_macs():
    arch = ARCHS["dcase2024_t1_baseline"]
    macs = count_macs(arch.build(), torch.zeros(arch.input_shape(65)))
    assert macs["nessi"] == 29419156  # NeSsi-style: conv + linear + 2C per BatchNorm


def test_dorfer_has_the_write_up_parameter_count():
    model = ARCHS["dorfer_fcn"].build()
    bn_channels = sum(m.num_features for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    # Lasagne counts BN mean and inv_std as parameters.
    assert count_params(model) + 2 * bn_channels == 14865124


@pytest.mark.parametrize("name", list(ARCHS))
def test_runs_at_the_minimum_length(name):
    arch = ARCHS[name]
    assert runs_at(arch.build(), arch, arch.arch_min_frames)


@pytest.mark.parametrize("name", [n for n, a in ARCHS.items() if a.arch_min_frames > 1])
def test_minimum_length_is_tight(name):
    arch = ARCHS[name]
    assert not runs_at(arch.build(), arch, arch.arch_min_frames - 1)


@pytest.mark.slow
@pytest.mark.parametrize("name,drop_num_batches_tracked", [
    ("dcase2018_t2_baseline", False),
    ("dcase2018_t2_baseline", True),  # PyTorch 0.4.0 checkpoints (Kong's) have no such keys
    ("dorfer_fcn", False),
    ("dcase2024_t1_baseline", False),
])
def test_synthetic_checkpoint_loads_strictly_and_computes_the_same(
        name, drop_num_batches_tracked, tmp_path):
    """A checkpoint with the official key names (the hand-written list where the original is
    PyTorch) in the official container loads with strict=True and computes what the state
    dict it was made from computes."""
    arch = ARCHS[name]
    path = tmp_path / "synthetic.pth"
    save_synthetic_checkpoint(arch, path, seed=321,
                              drop_num_batches_tracked=drop_num_batches_tracked)
    loaded = load_checkpoint(arch, path)
    x = torch.from_numpy(arch.parity_inputs()[1].array())
    ref = arch.builder()
    ref.load_state_dict(synthetic_state_dict(arch, 321), strict=True)
    with torch.no_grad():
        assert torch.equal(loaded(x), ref.eval()(x))


# --- --norm-stats (the Kong baseline's training scaler) -----------------------------------


def _dcase_main_error(capsys, argv) -> str:
    """Runs the DCASE runner and returns what it printed to stderr when it refused."""
    from livetag_tools.export.dcase.__main__ import main as dcase_main

    with pytest.raises(SystemExit) as exit_info:
        dcase_main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_norm_stats_file_problems_are_named(tmp_path, capsys):
    import numpy as np

    base = ["--arch", "dcase2018_t2_baseline", "--out", str(tmp_path / "out")]
    missing = tmp_path / "nowhere.npz"
    err = _dcase_main_error(capsys, [*base, "--norm-stats", str(missing)])
    assert f"--norm-stats {missing}: no such file" in err, err
    assert "np.savez(PATH, mean=mean, std=std)" in err, err

    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file")
    err = _dcase_main_error(capsys, [*base, "--norm-stats", str(garbage)])
    assert f"--norm-stats {garbage}: not an .npz file" in err, err

    no_std = tmp_path / "no_std.npz"
    np.savez(no_std, mean=np.zeros(64))
    err = _dcase_main_error(capsys, [*base, "--norm-stats", str(no_std)])
    assert f"--norm-stats {no_std}: has no 'std' array (it holds ['mean'])" in err, err

    short = tmp_path / "short.npz"
    np.savez(short, mean=np.zeros(40), std=np.ones(40))
    err = _dcase_main_error(capsys, [*base, "--norm-stats", str(short)])
    assert "`mean` has 40 values, but dcase2018_t2_baseline has 64 mel bands" in err, err

    zero = tmp_path / "zero.npz"
    std = np.ones(64)
    std[5] = 0.0
    np.savez(zero, mean=np.zeros(64), std=std)
    err = _dcase_main_error(capsys, [*base, "--norm-stats", str(zero)])
    assert "`std` of band 5 is 0.0; every band's std must be above 0" in err, err

    # Fine stats are read back as given.
    from livetag_tools.export.dcase.__main__ import read_norm_stats

    good = tmp_path / "good.npz"
    np.savez(good, mean=np.arange(64.0), std=np.full(64, 2.0))
    mean, std = read_norm_stats(good, ARCHS["dcase2018_t2_baseline"])
    assert mean[63] == 63.0 and std[0] == 2.0


def test_a_trained_kong_checkpoint_needs_its_norm_stats(tmp_path, capsys):
    ckpt = tmp_path / "md_10000_iters.tar"
    ckpt.write_bytes(b"")  # refused before it is read
    err = _dcase_main_error(
        capsys,
        ["--arch", "dcase2018_t2_baseline", "--checkpoint", str(ckpt), "--out", str(tmp_path)],
    )
    assert "--norm-stats is missing" in err and "training" in err, err


def test_norm_stats_are_refused_where_there_is_no_scaler(tmp_path, capsys):
    stats = tmp_path / "s.npz"
    stats.write_bytes(b"")
    err = _dcase_main_error(
        capsys,
        ["--arch", "dcase2024_t1_baseline", "--norm-stats", str(stats), "--out", str(tmp_path)],
    )
    assert "dcase2024_t1_baseline has no normalisation step" in err, err
