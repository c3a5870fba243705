#!/usr/bin/env bash
# The exporter's Python (torch is its dependency only): a venv in livetag's cache, rebuilt
# when the pinned requirements change. Prints the path of its python.
#   py=$(tools/export_venv.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${LIVETAG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/livetag}/venv-export"
want=$(cat tools/requirements-export.txt tools/requirements-models.txt | sha256sum)
if [ "$(cat "$venv/requirements.sha256" 2>/dev/null)" != "$want" ]; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --disable-pip-version-check --quiet -r tools/requirements-export.txt >&2
    echo "$want" > "$venv/requirements.sha256"
fi
echo "$venv/bin/python"
