#!/usr/bin/env bash
# Every benchmark, side by side with the Python pipelines, in one run:
#   tools/benchmarks.sh                  # print the tables
#   tools/benchmarks.sh --write          # and regenerate docs/BENCHMARKS.md
#   tools/benchmarks.sh --only tagging   # one section (frontends, models, tagging, live)
# Sets up what it needs first: the Debian packages of the test suite (virtual microphone,
# virtual display), ONNX Runtime (tools/setup.sh), the `bench` venv with librosa and the same
# onnxruntime release (tools/venv.sh bench, tools/locks/bench.txt), and the Cnn14 export
# (the `export` venv). Takes about 25 minutes, 10 of them the live window's memory run.
# The tables come from `python -m livetag_tools.bench.runner` (its --help lists the options).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/system-packages.sh test
tools/setup.sh
py=$(tools/venv.sh bench)
if [ ! -f target/exports/Cnn14/model.onnx ]; then
    export_py=$(tools/venv.sh export)
    (cd tools && "$export_py" -m livetag_tools.export --arch Cnn14 --random-weights \
        --out ../target/exports/Cnn14)
fi
cargo build --release --quiet
cd tools
exec "$py" -m livetag_tools.bench.runner "$@"
