"""PANNs MobileNetV1: depthwise-separable convolutions, average pools in place of strides."""

from __future__ import annotations

import torch.nn as nn

from livetag_tools.export.panns.base import Panns, PannsArch, batch_norm, xavier


def _conv_pool_bn(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(xavier(nn.Conv2d(cin, cout, 3, 1, 1, bias=False)), nn.AvgPool2d(stride),
                         batch_norm(cout), nn.ReLU())


def _depthwise_separable(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        xavier(nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False)), nn.AvgPool2d(stride),
        batch_norm(cin), nn.ReLU(),
        xavier(nn.Conv2d(cin, cout, 1, 1, 0, bias=False)), batch_norm(cout), nn.ReLU())


class MobileNetV1(Panns):
    """MobileNetV1 layout with average pools in place of strides; `features.N.*` keys."""

    time_halvings = 5
    _layout = [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1),
               (256, 512, 2), (512, 512, 1), (512, 512, 1), (512, 512, 1), (512, 512, 1),
               (512, 512, 1), (512, 1024, 2), (1024, 1024, 1)]

    def __init__(self, sr=32000, n_fft=1024, hop=320, fmax=14000.0):
        super().__init__(sr, n_fft, hop, fmax, 1024)
        self.features = nn.Sequential(
            _conv_pool_bn(1, 32, 2), *(_depthwise_separable(a, b, s) for a, b, s in self._layout))
        self._head()

    def backbone(self, x):
        return self.features(x)


ENTRY = PannsArch("MobileNetV1", MobileNetV1, "depthwise-separable convolutions", 0.389)
