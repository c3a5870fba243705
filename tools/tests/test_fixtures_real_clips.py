"""tests/fixtures/real_clips against `livetag_tools.fixtures.real_clips`'s own table.

Rebuilding the clips needs a 44 MB Debian package and sox, so it is not run here (the
module checks the package's sha256 itself); what is checked is that the committed labels,
sources and spans are the ones the module's CLIPS table states, and that its Qt resource
reader reads what a resource file holds."""

from __future__ import annotations

import csv
import re
import struct
import zlib

from livetag_tools.common.cache import repo_root
from livetag_tools.data import LABELS
from livetag_tools.fixtures import real_clips as rc

COMMITTED = repo_root() / "tests" / "fixtures" / "real_clips"


def committed_rows() -> list[dict[str, str]]:
    with open(COMMITTED / "clips.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_clips_csv_is_the_table():
    mids = rc.load_labels(LABELS / "audioset_527.csv")
    rows = committed_rows()
    assert [r["file"] for r in rows] == [c[0] for c in rc.CLIPS]
    for row, (name, bundle, path, _start, _end, label, also) in zip(rows, rc.CLIPS):
        assert row["label"] == label and row["mid"] == mids[label], name
        assert row["also_ok"] == ";".join(mids[a] for a in also), name
        assert row["source_package"] == f"{rc.PACKAGE}={rc.VERSION}"
        assert row["source_file"] == f"{rc.RCC_DIR}/{bundle}.rcc:{path}"
        assert row["licence"] in rc.ALLOWED
    assert sorted(p.name for p in COMMITTED.glob("*.wav")) == sorted(c[0] for c in rc.CLIPS)


def test_notice_states_each_span_and_the_module():
    notice = (COMMITTED / "NOTICE").read_text(encoding="utf-8")
    spans = dict(re.findall(r"^(\S+\.wav)\n  source: .*\n  excerpt:   (.*)$", notice, re.M))
    for name, _bundle, _path, start, end, _label, _also in rc.CLIPS:
        assert spans[name] == f"{start:.3f} s to {'end' if end is None else f'{end:.3f} s'}"
    assert f"sha256 of {rc.PACKAGE}_{rc.VERSION}_all.deb: {rc.DEB_SHA256}" in notice
    assert "`python -m livetag_tools.fixtures.real_clips`" in notice


def test_committed_clips_are_16_khz_mono_pcm():
    for name, *_ in rc.CLIPS:
        head = (COMMITTED / name).read_bytes()[:44]
        fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", head[20:36])
        assert (head[:4], head[8:12], fmt, channels, rate, bits) == \
            (b"RIFF", b"WAVE", 1, 1, rc.RATE, 16), name


def make_rcc(compressed: bytes, plain: bytes, top: bytes) -> bytes:
    """A version-1 Qt resource file as rcc lays it out: a tree of 14-byte nodes (a folder's
    children consecutive), size-prefixed data (zlib entries also prefixed with their
    uncompressed size) and UTF-16 names. Holds /sounds/cat.ogg (zlib), /sounds/dog.ogg and
    /Licence.txt."""
    names, offsets = b"", {}
    for text in ("sounds", "Licence.txt", "cat.ogg", "dog.ogg"):
        offsets[text] = len(names)
        names += struct.pack(">HI", len(text), 0) + text.encode("utf-16-be")
    blobs = [struct.pack(">I", len(compressed)) + zlib.compress(compressed), plain, top]
    data, at = b"", []
    for blob in blobs:
        at.append(len(data))
        data += struct.pack(">I", len(blob)) + blob
    folder = ">IHII"  # name, flags (2: folder), child count, first child
    file = ">IHHHI"  # name, flags (1: zlib), country, language, data offset
    tree = (struct.pack(folder, 0, 2, 2, 1)                      # 0: root
            + struct.pack(folder, offsets["sounds"], 2, 2, 3)    # 1: /sounds
            + struct.pack(file, offsets["Licence.txt"], 0, 0, 0, at[2])  # 2
            + struct.pack(file, offsets["cat.ogg"], 1, 0, 0, at[0])      # 3
            + struct.pack(file, offsets["dog.ogg"], 0, 0, 0, at[1]))     # 4
    header = 20
    return (b"qres" + struct.pack(">IIII", 1, header, header + len(tree),
                                  header + len(tree) + len(data)) + tree + data + names)


def test_rcc_reader_reads_plain_and_zlib_entries():
    cat, dog, licence = b"meow" * 50, b"OggS" + bytes(range(200)), "Art Libre \u00e9\n".encode()
    assert rc.read_rcc(make_rcc(cat, dog, licence)) == {
        "/sounds/cat.ogg": cat, "/sounds/dog.ogg": dog, "/Licence.txt": licence}


def test_copyright_stanzas_last_match_wins():
    text = ("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
            "Files: *\nCopyright: GCompris authors\nLicense: GPL-3+\n\n"
            "Files: src/activities/memory-sound/resource/*_LA.ogg\n"
            "Copyright: Lionel Allorge\nLicense: free-art\nComment: recorded for GCompris\n\n"
            "License: GPL-3+\n On Debian systems ...\n")
    stanzas = rc.copyright_stanzas(text)
    own = rc.stanza_for(stanzas, "src/activities/memory-sound/resource/LRDoor_Open_2_LA.ogg")
    assert (own["licence"], own["copyright"], own["comment"]) == \
        ("free-art", ["Lionel Allorge"], ["recorded for GCompris"])
    assert rc.stanza_for(stanzas, "src/activities/melody/resource/knock.wav")["licence"] == \
        "GPL-3+"
    assert rc.licence_paragraphs(text)["GPL-3+"].startswith("License: GPL-3+\n On Debian")
