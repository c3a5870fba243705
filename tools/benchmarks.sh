#!/usr/bin/env bash
# Every benchmark, side by side with the Python pipelines, in one run:
#   tools/benchmarks.sh                  # print the tables
#   tools/benchmarks.sh --write          # and regenerate docs/BENCHMARKS.md
#   tools/benchmarks.sh --only tagging   # one section (frontends, models, tagging, live)
# Sets up what it needs first: the Debian packages of the test suite (virtual microphone,
# virtual display), ONNX Runtime (tools/setup.sh), a Python venv with librosa and the same
# onnxruntime release (tools/requirements-bench.txt), and the Cnn14 export (PyTorch venv of
# tools/export_venv.sh). Takes about 25 minutes, 10 of them the live window's memory run.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/system-packages.sh test
tools/setup.sh
venv="${LIVETAG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/livetag}/venv-bench"
want=$(sha256sum < tools/requirements-bench.txt)
if [ "$(cat "$venv/requirements.sha256" 2>/dev/null)" != "$want" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --disable-pip-version-check --quiet -r tools/requirements-bench.txt
    echo "$want" > "$venv/requirements.sha256"
fi
if [ ! -f target/exports/Cnn14/model.onnx ]; then
    py=$(tools/export_venv.sh)
    "$py" tools/export.py --arch Cnn14 --random-weights --out target/exports
fi
cargo build --release --quiet
exec "$venv/bin/python" tools/benchmarks.py "$@"
