#!/usr/bin/env bash
# One-time set-up for livetag on a fresh machine: installs the ALSA headers cpal builds
# against (tools/system-packages.sh), then fetches the ONNX Runtime shared library from the
# onnxruntime wheel on PyPI (no Python is needed at run time) into livetag's cache, where
# the app finds it. Safe to run again; it does nothing when everything is there.
#
#   LIVETAG_CACHE_DIR   cache folder (default ${XDG_CACHE_HOME:-~/.cache}/livetag)
#   LIVETAG_ORT_WHEEL   onnxruntime or onnxruntime-gpu (default: -gpu when an NVIDIA driver exists)
set -euo pipefail

ORT_VERSION=1.31.1
cache="${LIVETAG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/livetag}"
dest="$cache/onnxruntime-$ORT_VERSION"
lib="$dest/libonnxruntime.so.$ORT_VERSION"

"$(dirname "$0")/system-packages.sh" build

if [ -f "$lib" ]; then
    echo "ONNX Runtime $ORT_VERSION is already in $dest"
    exit 0
fi

wheel="${LIVETAG_ORT_WHEEL:-}"
if [ -z "$wheel" ]; then
    # The GPU wheel (256 MB) also runs on CPU, but only pays off where a driver can use it.
    if ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1' || command -v nvidia-smi >/dev/null 2>&1; then
        wheel=onnxruntime-gpu
    else
        wheel=onnxruntime
    fi
fi

python=$(command -v python3 || command -v python || true)
if [ -z "$python" ]; then
    echo "tools/setup.sh needs python3 with pip to download the $wheel wheel" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "Fetching $wheel==$ORT_VERSION (ONNX Runtime library) ..."
"$python" -m pip download --quiet --no-deps --only-binary=:all: --dest "$work" "$wheel==$ORT_VERSION"
"$python" -m zipfile -e "$work"/*.whl "$work/unpacked"
mkdir -p "$dest"
cp "$work"/unpacked/onnxruntime/capi/libonnxruntime*.so* "$dest/"
echo "ONNX Runtime $ORT_VERSION ($wheel) installed in $dest"
