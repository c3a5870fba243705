"""The exporter's registry and command line: every architecture module is registered (so
`--arch all` exports it and tests/export_parity.rs checks it) and the CLI starts."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import livetag_tools.export as export
from livetag_tools.common.cache import repo_root
from livetag_tools.export import registry


def architecture_modules() -> list[str]:
    """Every module under livetag_tools.export that defines a registry ENTRY, as registry's
    MODULES names it (relative to the package)."""
    found = []
    for info in pkgutil.walk_packages(export.__path__, prefix=f"{export.__name__}."):
        if info.ispkg or info.name.rsplit(".", 1)[1].startswith("_"):
            continue
        module = __import__(info.name, fromlist=["ENTRY"])
        if hasattr(module, "ENTRY"):
            found.append(info.name.removeprefix(f"{export.__name__}."))
    return found


def test_every_architecture_module_is_registered():
    assert sorted(architecture_modules()) == sorted(registry.MODULES)


def test_registry_names_are_unique_and_in_module_order():
    archs = registry.registry()
    assert len(archs) == len(registry.MODULES)
    assert list(archs) == ["Cnn6", "Cnn10", "Cnn14", "Cnn14_16k", "Cnn14_DecisionLevelMax",
                           "MobileNetV1", "dcase2018_t2_baseline", "dorfer_fcn",
                           "dcase2024_t1_baseline", "desed_crnn_baseline", "dcase2021_t1a",
                           "dcase2021_t1a_4layer", "dcase2021_t1a_5layer"]


def test_every_entry_has_the_registry_interface():
    for name, entry in registry.registry().items():
        assert entry.name == name
        for method in ("build", "export", "parity_inputs"):
            assert callable(getattr(entry, method)), (name, method)


def run_cli(*args: str, module: str = "livetag_tools.export") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True,
                          text=True, cwd=repo_root() / "tools")


def test_help_runs():
    run = run_cli("--help")
    assert run.returncode == 0, run.stderr
    assert "--random-weights" in run.stdout and "--reference" in run.stdout


def test_list_prints_every_architecture():
    run = run_cli("--list")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == list(registry.registry())


@pytest.mark.parametrize("args", [["--arch", "NoSuchNet", "--random-weights"],
                                  ["--arch", "Cnn6"]])
def test_bad_arguments_fail(args, tmp_path):
    out = tmp_path / "x"
    run = run_cli(*args, "--out", str(out))
    assert run.returncode == 2, run.stdout + run.stderr
    assert not out.exists()


def test_dcase_runner_help_runs():
    run = run_cli("--help", module="livetag_tools.export.dcase")
    assert run.returncode == 0, run.stderr
    assert "--norm-stats" in run.stdout
