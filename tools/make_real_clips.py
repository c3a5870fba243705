#!/usr/bin/env python3
"""Build tests/fixtures/real_clips/: short excerpts of REAL recorded sounds,
each with a hand-chosen AudioSet label, for checking an AudioSet tagger.

Source: the Debian package gcompris-qt-data (pinned version, sha256-checked),
which ships the GCompris activity resources inside Qt resource bundles
(usr/share/gcompris-qt/rcc/*.rcc). This script:

  1. runs `apt-get download gcompris-qt-data=3.1-2` into a temporary folder
     and checks the .deb's sha256;
  2. unpacks it with `dpkg-deb -x`;
  3. reads the chosen sound files out of the .rcc bundles (the small .rcc
     reader below; no Qt needed);
  4. cuts each clip with sox at the explicit start/end given in CLIPS,
     downmixes to mono, resamples to 16 kHz and writes 16-bit PCM WAV
     (sox -D: no dither, so the output is deterministic; -G: guard against
     clipping from the resampler);
  5. writes clips.csv and NOTICE (per-clip source, authors, licence, and
     the licence texts as given in the package's debian/copyright).

Labels were chosen from the file names, the package's documentation and a
look at each recording's spectrogram, before running any model on them.

Requirements: Debian/Ubuntu with apt-get and dpkg-deb, sox (with Ogg Vorbis
support, e.g. Debian's sox + libsox-fmt-all), Python 3.8+ (stdlib only).
Output is byte-reproducible for a given sox version (made with SoX 14.4.2).

Usage:  python3 tools/make_real_clips.py [--out DIR]
"""

import argparse
import csv
import fnmatch
import hashlib
import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

PACKAGE = "gcompris-qt-data"
VERSION = "3.1-2"
DEB_SHA256 = "e9cf06ab2105529068df73085784e835d2ff03f870d2a8091f09125d40abac9f"
RCC_DIR = "usr/share/gcompris-qt/rcc"
COPYRIGHT = "usr/share/doc/gcompris-qt-data/copyright"
RATE = 16000

# Licences the clips may be under (checked against debian/copyright).
ALLOWED = ("GPL-3", "GPL-3+", "CC-BY-3.0", "CC0-1.0", "free-art")

LACUT_NOTE = (
    "By its name a recording of Lionel Allorge like the *_LA.ogg files next to it "
    "(Free Art License 1.2, memory-sound/resource/Licence.txt), but its name matches "
    "neither pattern of that stanza, so debian/copyright puts it under 'Files: *'."
)

# Extra notes for the NOTICE, per source file name.
NOTES = {
    "LRFrogsInPondDuringStormLACut.ogg": LACUT_NOTE,
    "LRStartAndStopCarEngine1LACut.ogg": LACUT_NOTE,
}

A = "/gcompris/src/activities/"
# (out name, rcc bundle, path in bundle, start s, end s or None = to the end,
#  label display name, [also acceptable display names])
CLIPS = [
    # animals
    ("dog_bark.wav", "memory-sound", A + "memory-sound/resource/LRBark_3_LA_cut.ogg", 0.0, None, "Bark", ["Dog"]),
    ("dog_bark_farm.wav", "explore_farm_animals", A + "explore_farm_animals/resource/animals/dog.ogg", 0.0, None, "Bark", ["Dog"]),
    ("cat_meow.wav", "explore_farm_animals", A + "explore_farm_animals/resource/animals/cat.ogg", 0.0, None, "Meow", ["Cat"]),
    ("cow_moo.wav", "explore_farm_animals", A + "explore_farm_animals/resource/animals/cow.ogg", 0.0, None, "Moo", ["Cattle, bovinae"]),
    ("duck_quack.wav", "explore_farm_animals", A + "explore_farm_animals/resource/animals/duck.ogg", 0.0, None, "Quack", ["Duck"]),
    ("horse_neigh.wav", "explore_farm_animals", A + "explore_farm_animals/resource/animals/horse.ogg", 0.0, None, "Neigh, whinny", ["Horse"]),
    ("owl_hoot.wav", "explore_farm_animals", A + "explore_farm_animals/resource/animals/owl.ogg", 0.0, None, "Hoot", ["Owl"]),
    ("pig_oink.wav", "explore_farm_animals", A + "explore_farm_animals/resource/animals/pig.ogg", 0.0, 5.0, "Oink", ["Pig"]),
    ("sheep_bleat.wav", "explore_farm_animals", A + "explore_farm_animals/resource/animals/sheep.ogg", 0.0, None, "Bleat", ["Sheep"]),
    ("chickens_cluck.wav", "explore_farm_animals", A + "explore_farm_animals/resource/animals/chickens.ogg", 0.0, 5.0, "Cluck", ["Chicken, rooster", "Fowl"]),
    ("frog_croak.wav", "memory-sound", A + "memory-sound/resource/LRFrogsInPondDuringStormLACut.ogg", 0.0, None, "Croak", ["Frog"]),
    # vehicles, engines
    ("helicopter.wav", "guessnumber", A + "guessnumber/resource/helicopter.wav", 0.0, None, "Helicopter", []),
    ("train_slowing_down.wav", "memory-sound", A + "memory-sound/resource/LRTrain_slowing_down_01_LA_cut.ogg", 0.0, None, "Train", ["Rail transport", "Railroad car, train wagon"]),
    ("car_engine_start.wav", "memory-sound", A + "memory-sound/resource/LRStartAndStopCarEngine1LACut.ogg", 0.0, None, "Engine starting", ["Engine", "Idling", "Car", "Medium engine (mid frequency)"]),
    # domestic
    ("door_open.wav", "memory-sound", A + "memory-sound/resource/LRDoor_Open_2_LA.ogg", 0.0, None, "Door", []),
    ("knock.wav", "melody", A + "melody/resource/knock.wav", 0.0, None, "Knock", ["Door"]),
    ("water_fill.wav", "canal_lock", A + "canal_lock/resource/water_fill.wav", 0.0, None, "Water", ["Liquid", "Fill (with liquid)", "Gush", "Pour"]),
    # human
    ("applause.wav", "memory-sound", A + "memory-sound/resource/LRApplauses_1_LA_cut.ogg", 0.0, None, "Applause", ["Clapping"]),
    ("heartbeat.wav", "memory-sound", A + "memory-sound/resource/LRHeart_beat_01_LA.ogg", 0.0, None, "Heart sounds, heartbeat", []),
    # natural
    ("rain_garden.wav", "memory-sound", A + "memory-sound/resource/LRRain_in_garden_01_LA_cut.ogg", 0.0, None, "Rain", ["Raindrop", "Rain on surface"]),
    # musical instruments
    ("violin.wav", "instruments", A + "instruments/resource/violin.ogg", 0.0, 4.0, "Violin, fiddle", ["Bowed string instrument"]),
    ("piano.wav", "instruments", A + "instruments/resource/piano.ogg", 0.0, 4.0, "Piano", ["Keyboard (musical)"]),
    ("trumpet.wav", "instruments", A + "instruments/resource/trumpet.ogg", 0.8, 4.8, "Trumpet", ["Brass instrument"]),
    ("flute.wav", "instruments", A + "instruments/resource/flute_traversiere.ogg", 0.0, 4.0, "Flute", ["Wind instrument, woodwind instrument"]),
    ("acoustic_guitar.wav", "instruments", A + "instruments/resource/guitar.ogg", 0.0, 4.0, "Acoustic guitar", ["Guitar", "Plucked string instrument"]),
    ("accordion.wav", "instruments", A + "instruments/resource/accordion.ogg", 0.0, 4.0, "Accordion", []),
    ("harp.wav", "instruments", A + "instruments/resource/harp.ogg", 0.0, 4.0, "Harp", ["Plucked string instrument"]),
    ("saxophone.wav", "instruments", A + "instruments/resource/saxophone.ogg", 0.2, 4.2, "Saxophone", ["Wind instrument, woodwind instrument"]),
    ("snare_drum.wav", "instruments", A + "instruments/resource/snare_drum.ogg", 0.9, 4.9, "Snare drum", ["Drum"]),
    ("tambourine.wav", "instruments", A + "instruments/resource/tambourine.ogg", 0.0, 4.0, "Tambourine", []),
    ("harmonica.wav", "instruments", A + "instruments/resource/harmonica.ogg", 0.0, 4.0, "Harmonica", []),
]

LICENCE_URLS = {
    "GPL-3": "https://www.gnu.org/licenses/gpl-3.0.txt (on Debian: /usr/share/common-licenses/GPL-3)",
    "GPL-3+": "https://www.gnu.org/licenses/gpl-3.0.txt (on Debian: /usr/share/common-licenses/GPL-3)",
    "CC-BY-3.0": "https://creativecommons.org/licenses/by/3.0/",
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "free-art": "Free Art License 1.2, http://artlibre.org/licence/lal/en/",
}


def read_rcc(buf):
    """Return {path: bytes} for the files in a Qt binary resource (.rcc)."""
    if buf[:4] != b"qres":
        raise ValueError("not a Qt resource file")
    version, tree, data, names = struct.unpack(">IIII", buf[4:20])
    node_size = 14 if version == 1 else 22

    def name_at(off):
        (n,) = struct.unpack(">H", buf[names + off:names + off + 2])
        start = names + off + 6  # u16 length, u32 hash, UTF-16BE text
        return buf[start:start + 2 * n].decode("utf-16-be")

    out = {}
    stack = [(0, "")]
    while stack:
        index, prefix = stack.pop()
        p = tree + index * node_size
        name_off, flags = struct.unpack(">IH", buf[p:p + 6])
        name = name_at(name_off) if index else ""
        if flags & 2:  # directory
            count, first = struct.unpack(">II", buf[p + 6:p + 14])
            for child in range(first, first + count):
                stack.append((child, prefix + name + "/"))
            continue
        (data_off,) = struct.unpack(">I", buf[p + 10:p + 14])
        q = data + data_off
        (size,) = struct.unpack(">I", buf[q:q + 4])
        blob = buf[q + 4:q + 4 + size]
        if flags & 1:  # zlib, prefixed with the uncompressed size
            blob = zlib.decompress(blob[4:])
        elif flags & 4:
            raise ValueError("zstd-compressed resource not supported: " + prefix + name)
        out[prefix + name] = blob
    return out


def load_labels(path):
    by_name = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by_name[row["display_name"]] = row["mid"]
    return by_name


def copyright_stanzas(copyright_text):
    """Parse the Files stanzas of a machine-readable debian/copyright."""
    stanzas = []
    for para in copyright_text.split("\n\n"):
        fields, key = {}, None
        for line in para.split("\n"):
            if line[:1] in (" ", "\t") and key:
                fields[key].append(line.strip())
            elif ":" in line:
                key, value = line.split(":", 1)
                fields[key] = [value.strip()] if value.strip() else []
        if "Files" in fields:
            patterns = " ".join(fields["Files"]).split()
            stanzas.append(dict(
                files=patterns,
                copyright=[c for c in fields.get("Copyright", []) if c != "."],
                licence=fields.get("License", [""])[0],
                comment=fields.get("Comment", []),
            ))
    return stanzas


def stanza_for(stanzas, path):
    """The last stanza whose Files patterns match path (DEP-5 rule)."""
    found = None
    for st in stanzas:
        for pat in st["files"]:
            if fnmatch.fnmatchcase(path, pat):
                found = dict(st, matched=pat)
                break
    if found is None:
        raise KeyError(path)
    return found


def licence_paragraphs(copyright_text):
    paras = {}
    for para in copyright_text.split("\n\n"):
        if para.startswith("License: "):
            paras[para.split("\n", 1)[0][len("License: "):].strip()] = para
    return paras


def run(cmd, cwd=None):
    subprocess.run(cmd, cwd=cwd, check=True)


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(repo, "tests", "fixtures", "real_clips"))
    args = ap.parse_args()

    for tool in ("apt-get", "dpkg-deb", "sox"):
        if shutil.which(tool) is None:
            sys.exit(f"missing tool: {tool}")
    labels = load_labels(os.path.join(repo, "tools", "labels", "audioset_527.csv"))

    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)  # so apt's sandbox user may write, if it is used
        run(["apt-get", "download", "-q", f"{PACKAGE}={VERSION}"], cwd=tmp)
        debs = [f for f in os.listdir(tmp) if f.endswith(".deb")]
        if len(debs) != 1:
            sys.exit(f"expected one .deb, got {debs}")
        deb = os.path.join(tmp, debs[0])
        with open(deb, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if digest != DEB_SHA256:
            sys.exit(f"sha256 mismatch for {debs[0]}: {digest}")
        root = os.path.join(tmp, "root")
        run(["dpkg-deb", "-x", deb, root])

        with open(os.path.join(root, COPYRIGHT), encoding="utf-8") as f:
            copyright_text = f.read()
        stanzas = copyright_stanzas(copyright_text)

        bundles = {}
        rows = []
        src_dir = os.path.join(tmp, "src")
        os.makedirs(src_dir)
        for out_name, bundle, path, start, end, label, also in CLIPS:
            if bundle not in bundles:
                with open(os.path.join(root, RCC_DIR, bundle + ".rcc"), "rb") as f:
                    bundles[bundle] = read_rcc(f.read())
            st = stanza_for(stanzas, path[len("/gcompris/"):])
            if st["licence"] not in ALLOWED:
                sys.exit(f"{path}: licence {st['licence']!r} not in {ALLOWED}")
            src = os.path.join(src_dir, os.path.basename(path))
            with open(src, "wb") as f:
                f.write(bundles[bundle][path])
            dst = os.path.join(args.out, out_name)
            trim = ["trim", f"{start:.3f}"] + ([f"={end:.3f}"] if end is not None else [])
            run(["sox", "-D", "-G", "--no-show-progress", src,
                 "-r", str(RATE), "-b", "16", "-c", "1", "-e", "signed-integer", "-t", "wav", dst]
                + trim)
            rows.append(dict(
                file=out_name,
                mid=labels[label],
                label=label,
                also_ok=";".join(labels[a] for a in also),
                source_package=f"{PACKAGE}={VERSION}",
                source_file=f"{RCC_DIR}/{bundle}.rcc:{path}",
                licence=st["licence"],
                _stanza=st,
                _note=NOTES.get(os.path.basename(path)),
                _span=(start, end),
            ))
        fal_text = bundles["memory-sound"][A + "memory-sound/resource/Licence.txt"]
        lic_paras = licence_paragraphs(copyright_text)

    cols = ["file", "mid", "label", "also_ok", "source_package", "source_file", "licence"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    with open(os.path.join(args.out, "clips.csv"), "w", encoding="utf-8", newline="") as f:
        f.write(buf.getvalue())

    n = []
    n.append("Real recorded sound clips for testing an AudioSet tagger")
    n.append("=" * 56)
    n.append("")
    n.append(f"All clips are excerpts of files in the Debian package {PACKAGE}, version {VERSION}")
    n.append(f"(sha256 of {PACKAGE}_{VERSION}_all.deb: {DEB_SHA256}),")
    n.append("the data of GCompris (https://gcompris.net), read from the Qt resource")
    n.append(f"bundles in /{RCC_DIR}/. Licences and authors are as given in the")
    n.append(f"package's /{COPYRIGHT}.")
    n.append("")
    n.append("Modifications: each clip was cut to the span shown, mixed down to mono,")
    n.append(f"resampled to {RATE} Hz and stored as 16-bit PCM WAV by tools/make_real_clips.py")
    n.append("(sox). Nothing else was changed.")
    n.append("")
    n.append("Per clip")
    n.append("--------")
    for r in rows:
        st = r["_stanza"]
        start, end = r["_span"]
        span = f"{start:.3f} s to {'end' if end is None else f'{end:.3f} s'}"
        n.append("")
        n.append(f"{r['file']}")
        n.append(f"  source:    {r['source_package']} {r['source_file']}")
        n.append(f"  excerpt:   {span}")
        n.append(f"  copyright: {'; '.join(st['copyright'])}")
        n.append(f"  licence:   {st['licence']} ({LICENCE_URLS[st['licence']]})")
        n.append(f"  stanza:    debian/copyright, the one with 'Files: {st['matched']}'")
        for c in st["comment"]:
            n.append(f"  comment:   {c}")
        if r["_note"]:
            n.append(f"  note:      {r['_note']}")
    n.append("")
    n.append("Licence texts")
    n.append("-------------")
    n.append("")
    n.append("Free Art License 1.2, as shipped next to the recordings")
    n.append("(gcompris/src/activities/memory-sound/resource/Licence.txt):")
    n.append("")
    n.append(fal_text.decode("utf-8", errors="replace").replace("\r\n", "\n").rstrip("\n"))
    for key in sorted({r["licence"] for r in rows} - {"free-art"}):
        n.append("")
        n.append(f"As given in the package's debian/copyright for {key}:")
        n.append("")
        n.append(lic_paras[key])
    n.append("")
    n.append("Full GPL version 3 text: " + LICENCE_URLS["GPL-3"])
    with open(os.path.join(args.out, "NOTICE"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(n) + "\n")

    print(f"wrote {len(rows)} clips, clips.csv and NOTICE to {args.out}")


if __name__ == "__main__":
    main()
