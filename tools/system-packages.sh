#!/usr/bin/env bash
# Installs the Debian packages livetag needs, skipping those already there.
#   tools/system-packages.sh build   ALSA headers for cpal (to build the app)
#   tools/system-packages.sh test    also PulseAudio (virtual microphone), Xvfb and Mesa's
#                                    software Vulkan/GL (the real window and UI snapshots),
#                                    Python's venv (to convert BirdNET for its parity test)
#                                    and espeak-ng (the converters' speech reference clips)
set -euo pipefail

packages=(libasound2-dev pkg-config)
if [ "${1:-build}" = test ]; then
    packages+=(pulseaudio pulseaudio-utils libasound2-plugins xvfb mesa-vulkan-drivers libgl1-mesa-dri espeak-ng)
    # BirdNET's parity test converts the model with `livetag models fetch`, in a Python venv.
    command -v python3 >/dev/null 2>&1 || packages+=(python3)
    python3 -c 'import ensurepip' 2>/dev/null || packages+=(python3-venv)
fi

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
else
    echo "livetag needs these Debian packages: ${missing[*]} (run apt-get install as root)" >&2
    exit 1
fi
echo "Installing ${missing[*]} ..."
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
