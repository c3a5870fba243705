"""The architectures `python -m livetag_tools.export` knows, one module each, in `--arch all`
order. A module's `ENTRY` is its registry entry (the interface is in
livetag_tools.export.common's docstring); adding an architecture is its module plus one line
here.
"""

from __future__ import annotations

import importlib

MODULES = [
    "panns.cnn6",
    "panns.cnn10",
    "panns.cnn14",
    "panns.cnn14_16k",
    "panns.cnn14_decision_level_max",
    "panns.mobilenet_v1",
    "dcase.dcase2018_t2_baseline",
    "dcase.dorfer_fcn",
    "dcase.dcase2024_t1_baseline",
    "dcase.desed_crnn",
    "dcase.dcase2021_t1a",
    "dcase.dcase2021_t1a_4layer",
    "dcase.dcase2021_t1a_5layer",
]


def registry() -> dict:
    """{--arch name: entry}, from every module in MODULES."""
    archs = {}
    for module in MODULES:
        entry = importlib.import_module(f"{__package__}.{module}").ENTRY
        if entry.name in archs:
            raise SystemExit(f"architecture {entry.name} is registered twice")
        archs[entry.name] = entry
    return archs
