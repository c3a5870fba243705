#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what the tests need (Debian packages for
# the virtual microphone, the virtual display and software rendering; the ONNX Runtime
# library via tools/setup.sh), converts BirdNET (its licence keeps it out of the repository;
# `livetag models fetch` caches the result), lints and runs every Python test of tools/
# (ruff, pytest) in the venv of tools/locks/export.txt, exports every PyTorch architecture
# with random weights (`python -m livetag_tools.export`, checked against PyTorch), then
# `cargo test`. No GPU or sound card is needed; every other model and all reference outputs
# are committed.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/system-packages.sh test
tools/setup.sh
# What was just installed is now required: the sound-server and window tests fail
# instead of skipping.
cargo run --quiet -- models fetch birdnet
# Fuzzing (tests/fuzz.rs): 60 s per target here; plain `cargo test` gives each only 2 s.
export LIVETAG_VIRTUAL_MIC=1 LIVETAG_WINDOW_TEST=1 LIVETAG_REQUIRE_BIRDNET=1 LIVETAG_REQUIRE_EXPORTS=1 LIVETAG_FUZZ_SECS=60

# The Python side (tools/livetag_tools), in the venv CI installs from tools/locks/export.txt:
# lint, every pytest (the exporters against PyTorch, the converters against the committed
# bundles), then the exports tests/export_parity.rs loads.
py=$(tools/venv.sh export)
# A skipped test fails here (tools/tests/conftest.py): what a skip waits for was installed above.
(cd tools && "$py" -m ruff check . && LIVETAG_PYTEST_NO_SKIP=1 "$py" -m pytest)
(cd tools && "$py" -m livetag_tools.export --arch all --random-weights --reference --out ../target/exports)

cargo test
