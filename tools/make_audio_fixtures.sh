#!/usr/bin/env bash
# Regenerates the small audio fixtures used by tests/audio_io.rs.
#
# Tools (Debian 12 packages, install with
#   apt-get install -y sox libsox-fmt-all lame vorbis-tools flac python3):
#   SoX v14.4.2, LAME 3.100, oggenc (vorbis-tools 1.4.2), flac 1.4.2, Python 3.11.
#
# Determinism: sox runs with -R (repeatable) and -D (no dither) so the PCM is
# bit-identical between runs; oggenc gets a fixed --serial because it otherwise
# picks a random Ogg stream serial; flac/lame are deterministic for a given input.
# Encoder vendor strings embed the tool version, so other versions produce
# byte-different (but equivalent) files.
#
# Size: the whole set stays under ~200 KB. Uncompressed 16-bit wavs are 0.5 s
# (a 1.0 s 48 kHz stereo wav alone would be 192 KB); the compressed files are
# 1.0 s. Tests read durations from these constants, keep them in sync.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out_dir="${repo_root}/tests/fixtures/audio"
mkdir -p "${out_dir}"
tmp_dir="$(mktemp -d)"
trap 'rm -rf "${tmp_dir}"' EXIT

for tool in sox lame oggenc flac python3; do
    command -v "${tool}" >/dev/null || { echo "missing tool: ${tool}" >&2; exit 1; }
done

# Amplitude 0.5 keeps lossy encoders away from clipping.
synth() { # synth OUT RATE CHANNELS SECONDS sox-synth-args...
    local out="$1" rate="$2" channels="$3" seconds="$4"
    shift 4
    sox -R -D -n -r "${rate}" -c "${channels}" -b 16 -e signed-integer "${out}" \
        synth "${seconds}" "$@" vol 0.5
}

# 16-bit PCM wav, mono, 440 Hz, 0.5 s.
synth "${out_dir}/tone440_mono_44100.wav" 44100 1 0.5 sine 440

# FLAC, mono, 1000 Hz, 1.0 s.
synth "${tmp_dir}/tone1000_mono_48000.wav" 48000 1 1.0 sine 1000
flac --silent --force --best --no-padding --no-seektable \
    -o "${out_dir}/tone1000_mono_48000.flac" "${tmp_dir}/tone1000_mono_48000.wav"

# Ogg Vorbis, stereo (same 440 Hz tone in both channels), 1.0 s.
synth "${tmp_dir}/tone440_stereo_44100.wav" 44100 2 1.0 sine 440
oggenc --quiet --quality 2 --serial 440440 \
    -o "${out_dir}/tone440_stereo_44100.ogg" "${tmp_dir}/tone440_stereo_44100.wav"

# MP3 (CBR 64 kbit/s, mono) with the LAME/Xing header that carries encoder
# delay and padding, so a gapless decoder can restore the exact length.
synth "${tmp_dir}/tone440_mono_44100.wav" 44100 1 1.0 sine 440
lame --quiet --noreplaygain -b 64 -m m \
    "${tmp_dir}/tone440_mono_44100.wav" "${out_dir}/tone440_mono_44100.mp3"

# 16-bit PCM wav, stereo, 440 Hz left / 660 Hz right, 0.5 s.
synth "${out_dir}/tone440L_660R_stereo_48000.wav" 48000 2 0.5 sine 440 sine 660

# 32-bit IEEE float wav (16 kHz mono, 0.1 s of 440 Hz) with 3 NaN and 1 +inf
# samples. Written by hand because sox refuses to emit non-finite samples and
# Python's wave module only writes integer PCM.
python3 - "${out_dir}/nan_float32.wav" <<'PY'
import math
import struct
import sys

rate_hz = 16000
frames = rate_hz // 10
samples = [0.5 * math.sin(2.0 * math.pi * 440.0 * n / rate_hz) for n in range(frames)]
for index in (100, 800, 1500):
    samples[index] = float("nan")
samples[1200] = float("inf")

data = struct.pack("<%df" % frames, *samples)
fmt = struct.pack("<HHIIHH", 3, 1, rate_hz, rate_hz * 4, 4, 32)  # WAVE_FORMAT_IEEE_FLOAT
# Non-PCM wavs carry a 'fact' chunk with the frame count.
fact = struct.pack("<I", frames)
body = (
    b"WAVE"
    + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    + b"fact" + struct.pack("<I", len(fact)) + fact
    + b"data" + struct.pack("<I", len(data)) + data
)
with open(sys.argv[1], "wb") as f:
    f.write(b"RIFF" + struct.pack("<I", len(body)) + body)
PY

ls -l "${out_dir}"
du -ch "${out_dir}"/* | tail -1
