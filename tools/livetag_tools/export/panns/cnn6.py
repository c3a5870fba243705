"""PANNs Cnn6: four 5x5 convolutions (PANNs' ConvBlock5x5), 512-wide head."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from livetag_tools.export.panns.base import Panns, PannsArch, batch_norm, xavier


class SingleConv5(nn.Module):
    """One 5x5 conv + BN + ReLU, then an average pool (PANNs' ConvBlock5x5)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = xavier(nn.Conv2d(cin, cout, 5, padding=2, bias=False))
        self.bn1 = batch_norm(cout)

    def forward(self, x: torch.Tensor, pool: int) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        return F.avg_pool2d(x, pool) if pool > 1 else x


class Cnn6(Panns):
    time_halvings = 4

    def __init__(self, sr=32000, n_fft=1024, hop=320, fmax=14000.0):
        super().__init__(sr, n_fft, hop, fmax, 512)
        for i, (cin, cout) in enumerate([(1, 64), (64, 128), (128, 256), (256, 512)], 1):
            setattr(self, f"conv_block{i}", SingleConv5(cin, cout))
        self._head()

    def backbone(self, x):
        for i in range(1, 5):
            x = getattr(self, f"conv_block{i}")(x, 2)
        return x


ENTRY = PannsArch("Cnn6", Cnn6, "4 conv layers, 5x5", 0.343)
