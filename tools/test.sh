#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what the tests need (Debian packages for
# the virtual microphone, the virtual display and software rendering; the ONNX Runtime
# library via tools/setup.sh), converts BirdNET (its licence keeps it out of the repository;
# `livetag models fetch` caches the result), exports every PyTorch architecture with random
# weights (tools/export.py, checked against PyTorch), then `cargo test`. No GPU or sound card
# is needed; every other model and all reference outputs are committed.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/system-packages.sh test
tools/setup.sh
# What was just installed is now required: the sound-server and window tests fail
# instead of skipping.
cargo run --quiet -- models fetch birdnet

# PyTorch exports for tests/export_parity.rs, from the exporter's own venv.
py=$(tools/export_venv.sh)
"$py" -m unittest discover -s tools -p 'test_export*.py'
"$py" tools/export_dcase.py --selftest
"$py" tools/export.py --arch all --random-weights --reference --out target/exports

# Fuzzing (tests/fuzz.rs): 60 s per target here; plain `cargo test` gives each only 2 s.
export LIVETAG_VIRTUAL_MIC=1 LIVETAG_WINDOW_TEST=1 LIVETAG_REQUIRE_BIRDNET=1 LIVETAG_REQUIRE_EXPORTS=1 LIVETAG_FUZZ_SECS=60
cargo test
