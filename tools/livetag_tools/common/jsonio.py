"""The reference fixtures' JSON layout: indented, but each window's `probabilities` (hundreds
to thousands of numbers) on one line, so a diff of a regenerated fixture stays readable."""

from __future__ import annotations

import json


def dump_windows_json(doc: dict) -> str:
    """`doc` as indented JSON, each of `doc["windows"][i]["probabilities"]` on one line.
    Replaces those lists in `doc` by placeholders (callers write `doc` once, then drop it)."""
    rows = []
    for w in doc["windows"]:
        rows.append(json.dumps(w["probabilities"], separators=(",", ":")))
        w["probabilities"] = f"@@probabilities{len(rows) - 1}@@"
    text = json.dumps(doc, indent=1) + "\n"
    for i, row in enumerate(rows):
        text = text.replace(f'"@@probabilities{i}@@"', row)
    return text
