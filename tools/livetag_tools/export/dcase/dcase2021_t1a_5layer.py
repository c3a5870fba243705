"""dcase2021_t1a_5layer: the seed's 5-layer variant of the DCASE 2021 Task 1A baseline (layers in
dcase2021_t1a_spec.VARIANTS; everything else as livetag_tools.export.dcase.dcase2021_t1a)."""

from __future__ import annotations

from livetag_tools.export.dcase.base import RegistryEntry
from livetag_tools.export.dcase.dcase2021_t1a import make_arch

ARCH = make_arch("dcase2021_t1a_5layer", __name__)
ENTRY = RegistryEntry(ARCH)
