#!/usr/bin/env bash
# Runs every test on a fresh machine: fetches what the tests need (the ONNX Runtime library,
# via tools/setup.sh), then `cargo test`. The tests need no Python, GPU or sound card:
# reference features, tiny models and audio fixtures are committed.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cargo test
