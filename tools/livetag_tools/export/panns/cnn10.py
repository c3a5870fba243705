"""PANNs Cnn10: four double 3x3 convolution blocks, 512-wide head."""

from __future__ import annotations

from livetag_tools.export.panns.base import DoubleConv, Panns, PannsArch


class Cnn10(Panns):
    time_halvings = 4

    def __init__(self, sr=32000, n_fft=1024, hop=320, fmax=14000.0):
        super().__init__(sr, n_fft, hop, fmax, 512)
        for i, (cin, cout) in enumerate([(1, 64), (64, 128), (128, 256), (256, 512)], 1):
            setattr(self, f"conv_block{i}", DoubleConv(cin, cout))
        self._head()

    def backbone(self, x):
        for i in range(1, 5):
            x = getattr(self, f"conv_block{i}")(x, 2)
        return x


ENTRY = PannsArch("Cnn10", Cnn10, "8 conv layers, 3x3", 0.380)
