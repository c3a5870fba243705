"""PANNs Cnn14: six double 3x3 convolution blocks (the last without a pool), 2048-wide
head. The 16 kHz and decision-level variants subclass it."""

from __future__ import annotations

from livetag_tools.export.panns.base import DoubleConv, Panns, PannsArch


class Cnn14(Panns):
    time_halvings = 5
    _widths = [(1, 64), (64, 128), (128, 256), (256, 512), (512, 1024), (1024, 2048)]

    def __init__(self, sr=32000, n_fft=1024, hop=320, fmax=14000.0):
        super().__init__(sr, n_fft, hop, fmax, 2048)
        for i, (cin, cout) in enumerate(self._widths, 1):
            setattr(self, f"conv_block{i}", DoubleConv(cin, cout))
        self._head()

    def backbone(self, x):
        for i in range(1, 7):
            x = getattr(self, f"conv_block{i}")(x, 2 if i < 6 else 1)
        return x


ENTRY = PannsArch("Cnn14", Cnn14, "12 conv layers, 3x3", 0.431)
