"""tools/fetchable.toml against the code: `livetag models fetch` embeds only the files listed
there (build.rs), so a converter that gains an import of an unlisted module would break the
fetch on a user's machine while every test in the checkout still passed. Here the imports are
followed instead of trusted: for every fetchable model, everything its module imports from
livetag_tools (transitively, package __init__ files and imports inside functions included)
must be listed, and every third-party import must be pinned in its lock."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest

from livetag_tools.common.cache import repo_root

TOOLS = repo_root() / "tools"
PACKAGE = "livetag_tools"
FETCHABLE = tomllib.loads((TOOLS / "fetchable.toml").read_text(encoding="utf-8"))["model"]

# Imports a converter makes only for an optional check the fetch never runs
# (`--check-tflite`: the TFLite interpreter, tried in this order).
OPTIONAL = {"ai_edge_litert", "tensorflow"}
# Import name -> distribution name, where they differ.
DISTRIBUTIONS: dict[str, str] = {}


def module_path(root: Path, module: str) -> Path | None:
    """The file of `module` below `root` (a module or a package's __init__), if any."""
    base = root.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imports_of(root: Path, module: str, path: Path) -> tuple[set[str], set[str]]:
    """(`PACKAGE` modules, other top-level names) that the file of `module` imports anywhere
    in it, relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    ours, others = set(), set()

    def add(name: str) -> None:
        if name == PACKAGE or name.startswith(PACKAGE + "."):
            ours.add(name)
        else:
            others.add(name.partition(".")[0])

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - (node.level - 1)])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module
            add(source)
            # `from package import module` imports a module, not just a name.
            for alias in node.names:
                if module_path(root, f"{source}.{alias.name}"):
                    add(f"{source}.{alias.name}")
    return ours, others


def closure(root: Path, module: str) -> tuple[set[str], set[str]]:
    """Every file (relative to `root`) that importing `module` runs, parents' __init__ files
    included, and the top-level names of everything else they import."""
    files, others, seen, todo = set(), set(), set(), [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in seen:
                continue
            seen.add(prefix)
            path = module_path(root, prefix)
            if path is None:
                raise ValueError(f"{prefix} is imported but is no module below {root}")
            files.add(path.relative_to(root).as_posix())
            ours, theirs = imports_of(root, prefix, path)
            todo.extend(ours)
            others |= theirs
    return files, others


def pinned(lock: Path) -> set[str]:
    """Normalised distribution names pinned in a lock file."""
    names = set()
    for line in lock.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(normalise(re.split(r"[=<>!~\[; ]", line, maxsplit=1)[0]))
    return names


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(params=FETCHABLE, ids=lambda m: m["name"])
def model(request):
    return request.param


def test_listed_files_exist_and_hold_the_module_and_lock(model):
    listed = model["files"]
    assert len(set(listed)) == len(listed), "a file listed twice"
    missing = [f for f in listed if not (TOOLS / f).is_file()]
    assert not missing, f"tools/fetchable.toml lists files that do not exist: {missing}"
    assert model["lock"] in listed
    module_file = module_path(TOOLS, model["module"])
    assert module_file is not None, f"no module {model['module']} in tools/"
    assert module_file.relative_to(TOOLS).as_posix() in listed


def test_every_livetag_tools_import_is_listed(model):
    needed, _ = closure(TOOLS, model["module"])
    missing = sorted(needed - set(model["files"]))
    assert not missing, (
        f"`python -m {model['module']}` imports files tools/fetchable.toml does not list for "
        f"{model['name']!r}, so `livetag models fetch {model['name']}` would fail: add {missing}")


def test_every_third_party_import_is_pinned_in_the_lock(model):
    _, others = closure(TOOLS, model["module"])
    third_party = others - set(sys.stdlib_module_names) - {"__future__"} - OPTIONAL
    lock = pinned(TOOLS / model["lock"])
    unpinned = sorted(m for m in third_party if normalise(DISTRIBUTIONS.get(m, m)) not in lock)
    assert not unpinned, f"{model['module']} imports {unpinned}, not pinned in {model['lock']}"


def test_the_walker_follows_every_kind_of_import(tmp_path):
    """The closure on a made-up package: absolute, relative, `from package import module`,
    imports inside functions and parent __init__ files all count; names that are not
    modules and modules nobody imports do not."""
    files = {
        "livetag_tools/__init__.py": "",
        "livetag_tools/a/__init__.py": "from . import helpers\n",
        "livetag_tools/a/helpers.py": "",
        "livetag_tools/a/main.py": (
            "import numpy as np\n"
            "from livetag_tools.b import thing\n"
            "from .sibling import NAME\n"
            "def later():\n"
            "    import livetag_tools.c.lazy\n"
            "    from ..d import deep\n"),
        "livetag_tools/a/sibling.py": "NAME = 1\n",
        "livetag_tools/b/__init__.py": "",
        "livetag_tools/b/thing.py": "import json\n",
        "livetag_tools/c/__init__.py": "",
        "livetag_tools/c/lazy.py": "",
        "livetag_tools/d/__init__.py": "",
        "livetag_tools/d/deep.py": "import onnx\n",
        "livetag_tools/unused.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found, others = closure(tmp_path, "livetag_tools.a.main")
    assert found == set(files) - {"livetag_tools/unused.py"}
    assert others == {"numpy", "json", "onnx"}
