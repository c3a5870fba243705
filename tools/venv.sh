#!/usr/bin/env bash
# The venv for one extra of tools/pyproject.toml (models, export, reference, reference-tf,
# bench), in livetag's cache, with tools/locks/EXTRA.txt installed into it; installed again
# only when the lock changes, so CI's cache reuses it, and then synced: what the lock no
# longer lists is uninstalled, so no test passes on a package CI would not have. (Made afresh
# instead, the export venv would download torch and its CUDA libraries again.) Prints the
# path of its python.
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
    # torch's CUDA packages are resolved per platform and left out of the lock: kept.
    extra=$("$venv/bin/python" - "$lock" <<'PY'
import re, sys
from importlib import metadata
def norm(name): return re.sub(r"[-_.]+", "-", name).lower()
wanted = {norm(re.split(r"[=<>~!\[; ]", line.strip())[0]) for line in open(sys.argv[1])
          if line.strip() and not line.lstrip().startswith(("#", "-"))}
print(" ".join(sorted({d.metadata["Name"] for d in metadata.distributions()
                       if norm(d.metadata["Name"]) not in wanted | {"pip", "setuptools", "wheel"}
                       and not norm(d.metadata["Name"]).startswith(("nvidia-", "cuda-", "triton"))})))
PY
)
    if [ -n "$extra" ]; then
        echo "tools/venv.sh: uninstalling what $lock no longer lists: $extra" >&2
        # shellcheck disable=SC2086
        "$venv/bin/pip" uninstall --disable-pip-version-check --quiet -y $extra >&2
    fi
    echo "$want" > "$venv/lock.sha256"
fi
echo "$venv/bin/python"
