#!/usr/bin/env bash
# Peak memory of `livetag tag` against file length (streaming: it must not grow with the
# file). Makes 48 kHz stereo 16-bit FLAC of a 440 Hz tone and white noise with sox, tags
# each with musicnn-mtt, and reports the peak RSS (/usr/bin/time -v) and wall time.
#   tools/bench_tag_memory.sh                    # 10 min, 2 h and 8 h
#   tools/bench_tag_memory.sh 10:00 2:00:00      # chosen lengths (sox durations)
# Files are kept in target/bench-memory (about 0.4 GB per hour of audio; checked against
# free disk space first). LIVETAG_BENCH_MODEL picks another model.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${LIVETAG_BENCH_MODEL:-musicnn-mtt}
dir=target/bench-memory
export LIVETAG_MODEL_PATH=${LIVETAG_MODEL_PATH:-$PWD/models}
command -v sox >/dev/null || { echo "needs sox (apt-get install sox)" >&2; exit 1; }
mkdir -p "$dir"
cargo build --release --quiet --bin livetag
if [ $# -gt 0 ]; then durations=("$@"); else durations=(10:00 2:00:00 8:00:00); fi

seconds() { # sox duration [[h:]m:]s -> seconds
    awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }' <<< "$1"
}

printf '%-9s %9s %12s %9s %9s %8s\n' length flac_MB peak_RSS_MB wall_s realtime windows
for length in "${durations[@]}"; do
    file="$dir/tone-noise-${length//:/-}.flac"
    if [ ! -f "$file" ]; then
        need_kb=$(( $(seconds "$length") * 120 + 1024 ))
        free_kb=$(df -Pk "$dir" | awk 'NR == 2 { print $4 }')
        if [ "$free_kb" -lt "$need_kb" ]; then
            echo "$length: needs about $((need_kb / 1024)) MB of disk, $((free_kb / 1024)) MB free; skipped" >&2
            continue
        fi
        sox -n -r 48000 -c 2 -b 16 "$file" synth "$length" sine 440 whitenoise vol 0.5
    fi
    start=$(date +%s.%N)
    /usr/bin/time -v -o "$dir/time.txt" target/release/livetag tag --model "$model" "$file" \
        > "$dir/out.jsonl" 2> "$dir/stderr.txt"
    end=$(date +%s.%N)
    rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$dir/time.txt")
    awk -v l="$length" -v mb="$(( $(stat -c %s "$file") / 1048576 ))" -v rss="$rss_kb" \
        -v s="$start" -v e="$end" -v secs="$(seconds "$length")" -v w="$(wc -l < "$dir/out.jsonl")" \
        'BEGIN { printf "%-9s %9d %12.1f %9.1f %8.0fx %8d\n", l, mb, rss / 1024, e - s, secs / (e - s), w }'
done
