"""tools/ is one package: modules find each other by absolute import (`python -m
livetag_tools....` from tools/, pytest's `pythonpath = ["."]`), never by editing the import
path, so a moved or renamed module fails at import instead of finding a stale copy."""

from __future__ import annotations

import re
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1]
# Spelled in two parts so that this file does not match itself.
IMPORT_PATH = re.compile(r"\bsys" + r"\.path\b")


def test_no_python_file_in_tools_edits_the_import_path():
    offenders = []
    for path in sorted(TOOLS.rglob("*.py")):
        if any(part.startswith(".") or part in ("__pycache__", "build") for part in
               path.relative_to(TOOLS).parts):
            continue
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if IMPORT_PATH.search(line):
                offenders.append(f"{path.relative_to(TOOLS)}:{number}: {line.strip()}")
    assert not offenders, "import path edited (use absolute imports):\n" + "\n".join(offenders)
