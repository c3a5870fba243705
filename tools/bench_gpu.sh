#!/usr/bin/env bash
# GPU numbers on a machine with an NVIDIA GPU (never part of CI or the test suite):
#   tools/bench_gpu.sh ORT_GPU_DIR [BIRDNET_BUNDLE]
#
# ORT_GPU_DIR: the libraries of the onnxruntime-gpu 1.31.1 wheel (libonnxruntime.so.1.31.1,
#   libonnxruntime_providers_shared.so, libonnxruntime_providers_cuda.so), unzipped from
#   `pip download --no-deps --only-binary=:all: onnxruntime-gpu==1.31.1`.
# BIRDNET_BUNDLE: default livetag's cache (`livetag models fetch birdnet`).
# CUDA 13's libraries (cudart, cublas, cudnn 9, cufft, curand, nvrtc) are taken from the
# nvidia-* packages of the machine's python3 (PyTorch's), else from the system.
# Binaries: target/release/livetag and target/release/examples/infer_timing, built on any
# x86-64 Linux (`cargo build --release --example infer_timing`); no cargo is needed here.
# The Cnn14 export is made with that python3 (torch, onnx, torchlibrosa: the `export` extra
# of tools/pyproject.toml) when target/exports lacks it.
#
# Prints, in one run: the device; `livetag inspect --provider cuda` of each model, whose
# "nodes run by" row comes from ONNX Runtime's profile and shows which provider ran each
# node; per-window latency (batch 1) and batched throughput, CPU then CUDA; and file
# tagging of one hour of audio with BirdNET on CUDA, in times real time.
set -euo pipefail
cd "$(dirname "$0")/.."
ort_dir=$(realpath "${1:?usage: tools/bench_gpu.sh ORT_GPU_DIR [BIRDNET_BUNDLE]}")
birdnet="${2:-${LIVETAG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/livetag}/models/birdnet-v2.4}"
export ORT_DYLIB_PATH="$ort_dir/libonnxruntime.so.1.31.1"
site=$(python3 -c 'import site; print(site.getsitepackages()[0])' 2>/dev/null || true)
cuda_libs=$(ls -d "$site"/nvidia/*/lib 2>/dev/null | tr '\n' ':')
export LD_LIBRARY_PATH="$ort_dir:${cuda_libs}${LD_LIBRARY_PATH:-}"
bin=target/release/livetag
timing=target/release/examples/infer_timing

echo "== device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
echo "command: tools/bench_gpu.sh $*  ($(date -u '+%Y-%m-%d %H:%M UTC'))"

if [ ! -f target/exports/Cnn14/model.onnx ]; then
    (cd tools && python3 -m livetag_tools.export --arch Cnn14 --random-weights \
        --out ../target/exports/Cnn14) >&2
fi
models=(target/exports/Cnn14 "$birdnet")

echo "== where the nodes ran (ONNX Runtime profile, CUDA asked for)"
for model in "${models[@]}"; do
    "$bin" inspect "$model" --provider cuda | grep -E "^[^ ]|runs on|nodes run by"
done

echo "== per-window latency (batch 1) and batched throughput, CPU then CUDA"
for model in "${models[@]}"; do
    "$timing" "$model" --provider cpu --batch 8 --seconds 10
    for batch in 64 256; do
        "$timing" "$model" --provider cuda --batch "$batch" --seconds 10
    done
done

echo "== file tagging, one hour at 48 kHz, BirdNET on CUDA, non-overlapping 3 s windows"
audio=$(mktemp --suffix=.wav)
python3 - "$audio" <<'PY'
import sys, wave, numpy as np
rate, secs = 48000, 3600
t = np.arange(rate * 60) / rate
minute = (0.3 * np.sin(2 * np.pi * 3000 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0)).astype(np.float32)
pcm = (np.tile(minute, secs // 60) * 32767).astype("<i2")
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate); w.writeframes(pcm.tobytes())
PY
for batch in 64 512; do
    "$bin" tag "$audio" --model "$birdnet" --provider cuda --batch "$batch" 2>&1 >/dev/null | tail -1
done
rm -f "$audio"
