"""The one writer of `bundle.toml` (docs/BUNDLE_FORMAT.md) and of a bundle's text files.

Every converter and exporter describes its bundle with `BundleToml` instead of a string
template of its own, so the format is typed out once in Python as it is once in Rust
(src/bundle/spec.rs). The two are held together by tests, not by care:
- `SECTIONS` below lists each table's keys as the Rust reader spells them; the writer
  refuses any other key, so a typo fails at export time rather than at load time;
- `livetag_tools.common.bundle_examples` writes one bundle of every kind, using every key
  listed here, and `tests/bundle_writer.rs` loads each in livetag (whose reader refuses
  unknown keys), while `tools/tests/test_bundle.py` checks that the examples do use every key.

Comments are part of a bundle (they say why a window is that long, where weights came from),
so the writer keeps them where the author put them: `header` on top, `comment=` before a
table, and `Note(...)` between two keys.

    doc = BundleToml("CED-tiny ...\\nDo not edit by hand.")
    doc.table("model", {"name": "ced-tiny", "description": "...", "licence": "Apache-2.0"})
    doc.table("input", [("kind", "waveform"), Note("Files: 10 s windows ..."),
                        ("window_samples", 160000)])
    doc.array("outputs", {...}, comment="`logits` is a misnomer upstream ...")
    write_bundle_files(out, doc, labels=labels, licence_text=text)
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence, Union

# Each table and its keys, as src/bundle/spec.rs and src/dsp/frontend.rs read them.
# tests/bundle_writer.rs compares these with the keys livetag's own types serialise to, so a
# key added on either side alone fails a test.
SECTIONS: dict[str, frozenset[str]] = {
    "model": frozenset({"name", "description", "file", "labels", "licence", "licence_file",
                        "trained_parameters"}),
    "input": frozenset({"kind", "name", "sample_rate_hz", "layout", "window_frames",
                        "hop_frames", "min_frames", "window_samples", "hop_samples",
                        "min_samples", "max_samples", "lead_in_samples"}),
    "frontend": frozenset({"n_fft", "win_length", "hop_samples", "window", "center",
                           "pad_mode", "power", "drop_nyquist"}),
    "outputs": frozenset({"name", "kind", "values", "activation", "logit_clip",
                          "frame_rate_hz"}),
    "state": frozenset({"input", "output", "shape", "init"}),
    "constants": frozenset({"name", "dtype", "shape", "values"}),
    "ontology": frozenset({"name", "ids"}),
    # Post-processing of framewise outputs into events: `median_frames` is one odd length for
    # every class or a list with one per label (the DESED baseline's per-class filters).
    "events": frozenset({"median_frames"}),
    "live": frozenset({"window_secs", "hop_secs"}),
    "reference": frozenset({"audio", "expected", "tolerance"}),
}
# The keys of each `[[frontend.steps]]` op besides `op` itself (src/dsp/frontend.rs, StepSpec).
STEP_KEYS: dict[str, frozenset[str]] = {
    "mel": frozenset({"n_bands", "fmin_hz", "fmax_hz", "scale", "norm"}),
    "log_filterbank": frozenset({"bands_per_octave", "fmin_hz", "fmax_hz", "fref_hz",
                                 "norm_filters", "unique_filters"}),
    "a_weighting_db": frozenset({"ref", "amin", "top_db"}),
    "db": frozenset({"ref", "amin", "top_db"}),
    "log": frozenset({"eps"}),
    "log10": frozenset({"mul", "add"}),
    "float16": frozenset(),
    "affine": frozenset({"scale", "offset"}),
    "normalize": frozenset({"mean", "std"}),
}
# Tables written as `[[name]]`, any number of times.
ARRAY_SECTIONS = frozenset({"outputs", "state", "constants", "frontend.steps"})
REQUIRED = {"model": {"name", "licence"}, "input": {"kind", "name", "sample_rate_hz", "layout"},
            "outputs": {"name", "kind", "values", "activation"}, "frontend.steps": {"op"}}

Value = Union[bool, int, float, str, Sequence["Value"]]


@dataclass(frozen=True)
class Note:
    """A comment between two keys of a table."""
    text: str


Entries = Union[Mapping[str, Value], Iterable[Union[tuple[str, Value], Note]]]


class BundleError(ValueError):
    """A bundle description livetag would refuse; raised before anything is written."""


def comment_lines(text: str) -> str:
    """`text` as `# ` lines (an empty line becomes a bare `#`)."""
    return "".join(f"# {line}".rstrip() + "\n" for line in text.strip("\n").splitlines())


def toml_value(value: Value) -> str:
    """One value as livetag's TOML reader takes it. NumPy scalars are written as the Python
    numbers they hold; what livetag could not read (NaN, infinity, integers beyond i64) is
    refused here rather than written."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        value = value.item()  # a NumPy scalar
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise BundleError(f"{value} does not fit a 64-bit integer")
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BundleError(f"{value} is not a finite number")
        text = repr(value)
        return text if any(c in text for c in ".e") else text + ".0"
    if isinstance(value, str):
        # JSON escapes every control character TOML refuses raw except DEL.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise BundleError(f"cannot write {value!r} ({type(value).__name__}) to bundle.toml")


class BundleToml:
    """A bundle.toml being written: tables in the order added, with their comments."""

    def __init__(self, header: str):
        self._parts: list[str] = [comment_lines(header)]
        self._values: dict[str, object] = {}

    def table(self, name: str, entries: Entries, *, comment: str | None = None) -> BundleToml:
        """`[name]`; `entries` is a mapping or a sequence of `(key, value)` and `Note`s.
        Keys whose value is None are left out (livetag's default applies)."""
        if name in ARRAY_SECTIONS:
            raise BundleError(f"[{name}] is an array of tables: use .array({name!r}, ...)")
        if name in self._values:
            raise BundleError(f"[{name}] written twice")
        self._values[name] = self._section(f"[{name}]", name, entries, comment)
        return self

    def array(self, name: str, entries: Entries, *, comment: str | None = None) -> BundleToml:
        """One `[[name]]` entry (outputs, state, constants, frontend.steps)."""
        if name not in ARRAY_SECTIONS:
            raise BundleError(f"[[{name}]]: livetag reads no such array; "
                              f"arrays: {', '.join(sorted(ARRAY_SECTIONS))}")
        values = self._section(f"[[{name}]]", name, entries, comment)
        if name == "frontend.steps":
            frontend = self._values.get("frontend")
            if not isinstance(frontend, dict):
                raise BundleError("[[frontend.steps]] written before [frontend]")
            frontend.setdefault("steps", []).append(values)
        else:
            self._values.setdefault(name, []).append(values)
        return self

    def comment(self, text: str) -> BundleToml:
        """A comment block of its own, after a blank line (not attached to a table)."""
        self._parts.append("\n" + comment_lines(text))
        return self

    def _section(self, header: str, name: str, entries: Entries,
                 comment: str | None) -> dict[str, Value]:
        items = list(entries.items()) if isinstance(entries, Mapping) else list(entries)
        if name == "frontend.steps":
            op = dict(i for i in items if not isinstance(i, Note)).get("op")
            if op not in STEP_KEYS:
                raise BundleError(f"{header}: livetag has no step op {op!r}; "
                                  f"ops: {', '.join(sorted(STEP_KEYS))}")
            allowed = STEP_KEYS[op] | {"op"}
        elif name in SECTIONS:
            allowed = SECTIONS[name]
        else:
            raise BundleError(f"[{name}]: livetag reads no such table; "
                              f"tables: {', '.join(sorted(SECTIONS))}")
        lines = ["\n", comment_lines(comment) if comment else "", header, "\n"]
        values: dict[str, Value] = {}
        for item in items:
            if isinstance(item, Note):
                lines.append(comment_lines(item.text))
                continue
            key, value = item
            if value is None:
                continue
            if key not in allowed:
                raise BundleError(f"{header}: livetag does not read `{key}`; "
                                  f"it reads {', '.join(sorted(allowed))}")
            if key in values:
                raise BundleError(f"{header}: `{key}` written twice")
            values[key] = value
            lines.append(f"{key} = {toml_value(value)}\n")
        missing = REQUIRED.get(name, set()) - values.keys()
        if missing:
            raise BundleError(f"{header}: missing {', '.join(sorted(missing))}")
        self._parts.append("".join(lines))
        return values

    def render(self) -> str:
        """The file's text, after checking that it parses back to what was written."""
        text = "".join(self._parts)
        for name in ("model", "input", "outputs"):
            if name not in self._values:
                raise BundleError(f"bundle.toml needs [{name}]" if name != "outputs"
                                  else "bundle.toml needs at least one [[outputs]]")
        try:
            parsed = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise BundleError(f"bundle.toml would not parse: {error}") from error
        if parsed != _plain(self._values):
            raise BundleError("bundle.toml does not read back as written (a value the TOML "
                              "writer cannot express?)")
        return text

    def write(self, out_dir: Path) -> Path:
        path = Path(out_dir) / "bundle.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render(), encoding="utf-8")
        return path


def _plain(value):
    """Tuples as lists, as tomllib reads arrays back."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def write_labels(path: Path, labels: Sequence[str]) -> None:
    """One label per line. livetag reads a line as a label, so none may hold a line break."""
    for i, label in enumerate(labels):
        if "\n" in label or "\r" in label or not label.strip():
            raise BundleError(f"label {i} ({label!r}) is empty or holds a line break")
    Path(path).write_text("".join(f"{label}\n" for label in labels), encoding="utf-8")


def write_bundle_files(out_dir: Path, doc: BundleToml, labels: Sequence[str],
                       licence_text: str, *, label_ids: Sequence[str] | None = None,
                       notice: str | None = None) -> None:
    """bundle.toml, labels.txt, LICENSE and, when given, label_ids.txt (one ontology id per
    label) and NOTICE. model.onnx and reference/ are the caller's."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if label_ids is not None and len(label_ids) != len(labels):
        raise BundleError(f"{len(label_ids)} ontology ids for {len(labels)} labels")
    doc.write(out_dir)
    write_labels(out_dir / "labels.txt", labels)
    if label_ids is not None:
        write_labels(out_dir / "label_ids.txt", label_ids)
    (out_dir / "LICENSE").write_text(licence_text, encoding="utf-8")
    if notice is not None:
        (out_dir / "NOTICE").write_text(notice, encoding="utf-8")


def known_keys() -> dict[str, dict[str, list[str]]]:
    """What this writer knows, for tests/bundle_writer.rs to compare with livetag's types."""
    return {"tables": {name: sorted(keys) for name, keys in SECTIONS.items()},
            "steps": {op: sorted(keys) for op, keys in STEP_KEYS.items()}}


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--keys"]:
        sys.exit("usage: python -m livetag_tools.common.bundle --keys   (prints the known keys)")
    print(json.dumps(known_keys(), indent=1))
