"""PANNs Cnn14_16k: Cnn14 on 16 kHz audio (n_fft 512, hop 160, fmax 8 kHz)."""

from __future__ import annotations

from livetag_tools.export.panns.base import PannsArch
from livetag_tools.export.panns.cnn14 import Cnn14


class Cnn14_16k(Cnn14):  # noqa: N801 (the original's name)
    sample_rate_hz = 16000

    def __init__(self):
        super().__init__(sr=16000, n_fft=512, hop=160, fmax=8000.0)


ENTRY = PannsArch("Cnn14_16k", Cnn14_16k, "Cnn14 at 16 kHz, fmax 8 kHz", 0.438)
