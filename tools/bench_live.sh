#!/usr/bin/env bash
# Live-path benchmark, printed as figures:
#   1. capture-to-result latency (p50/p99) through a PulseAudio virtual microphone, with
#      the longest audio-callback duration, from `livetag listen --headless`;
#   2. UI time per frame with the spectrogram scrolling, from the real window under Xvfb
#      (demo mode), plus that run's capture-to-screen latency.
# Needs: tools/test.sh's packages (pulseaudio, xvfb). Uses the release build.
#   tools/bench_live.sh [SECONDS]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-20}"
cargo build --release --quiet
bin=target/release/livetag

runtime=$(mktemp -d)
chmod 700 "$runtime"
export XDG_RUNTIME_DIR="$runtime"
cleanup() {
    pulseaudio --kill 2>/dev/null || true
    [ -n "${xvfb_pid:-}" ] && kill "$xvfb_pid" 2>/dev/null || true
    rm -rf "$runtime"
}
trap cleanup EXIT
pulseaudio --daemonize=yes --exit-idle-time=-1 2>/dev/null
pactl load-module module-null-sink sink_name=virtmic_sink rate=48000 channels=1 >/dev/null
pactl load-module module-remap-source master=virtmic_sink.monitor source_name=virtmic >/dev/null
pactl set-default-source virtmic

echo "== capture-to-result latency, virtual microphone, ${secs} s, $(nproc) cores =="
( end=$((SECONDS + secs)); while [ $SECONDS -lt $end ]; do
    paplay --latency-msec=20 --device=virtmic_sink assets/whistle.wav; done ) &
player=$!
"$bin" listen --headless --device virtmic --duration "${secs}s" 2>&1 >/dev/null \
    | grep -E '^livetag listen' | tail -1
kill "$player" 2>/dev/null || true

echo "== UI frame time, real window under Xvfb, demo mode, ${secs} s =="
Xvfb :98 -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xvfb_pid=$!
sleep 1
DISPLAY=:98 XDG_DATA_HOME="$runtime" "$bin" listen --file assets/whistle.wav --duration "${secs}s" 2>&1 \
    | grep -E '^livetag: [0-9]+ frames' | tail -1
