#!/usr/bin/env bash
# The venv for one extra of tools/pyproject.toml (models, export, reference, reference-tf,
# bench), in livetag's cache, with tools/locks/EXTRA.txt installed into it; installed again
# only when the lock changes, so CI's cache reuses it. Prints the path of its python.
#   py=$(tools/venv.sh export) && (cd tools && "$py" -m pytest)
set -euo pipefail
extra=${1:?usage: tools/venv.sh EXTRA (a lock file in tools/locks/)}
cd "$(dirname "$0")"
lock="locks/$extra.txt"
if [ ! -f "$lock" ]; then
    echo "tools/venv.sh: no lock file tools/$lock; extras: $(cd locks && ls | sed 's/\.txt$//' | tr '\n' ' ')" >&2
    exit 1
fi
venv="${LIVETAG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/livetag}/venv-$extra"
want=$(sha256sum < "$lock")
if [ "$(cat "$venv/lock.sha256" 2>/dev/null)" != "$want" ]; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --disable-pip-version-check --quiet -r "$lock" >&2
    echo "$want" > "$venv/lock.sha256"
fi
echo "$venv/bin/python"
