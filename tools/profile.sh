#!/usr/bin/env bash
# Instructions per frame of each front-end, counted by callgrind (repeatable on a shared,
# noisy machine, unlike timings), and the top functions of one case.
#   tools/profile.sh                 # every case, whole front-end and STFT alone
#   tools/profile.sh musicnn         # also the top functions of that case
# The count is taken from two runs (5 and 10 passes over 60 s of audio), so set-up
# (reading the fixture, building the filterbank) cancels out.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --example frontend_loop
bin=target/release/examples/frontend_loop
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() { # case, repeats, extra flag -> "instructions frames"
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1.$2$3" "$bin" "$1" "$2" $3 \
        2>"$out/log" | sed -E 's/.*: ([0-9]+) frames.*/\1/' | tr '\n' ' '
    grep -E "Collected" "$out/log" | awk '{print $NF}'
}
cases="librosa_mel_slaney_db librosa_mel_htk_log panns_logmel musicnn dorfer_v1 dorfer_v2"
printf '%-24s %18s %18s\n' "front-end" "instr/frame" "STFT instr/frame"
for case in $cases; do
    row="$case"
    for flag in "" "--stft-only"; do
        read -r f5 i5 <<<"$(count "$case" 5 "$flag")"
        read -r f10 i10 <<<"$(count "$case" 10 "$flag")"
        row="$row $(( (i10 - i5) / (f10 - f5) ))"
    done
    printf '%-24s %18s %18s\n' $row
done
if [ $# -gt 0 ]; then
    valgrind --tool=callgrind --callgrind-out-file="$out/top" "$bin" "$1" 10 >/dev/null 2>&1
    callgrind_annotate --inclusive=no "$out/top" 2>/dev/null | grep -E '^ *[0-9,]+ \(' | head -15
fi
