"""PANNs Cnn14_DecisionLevelMax: Cnn14 whose head classifies every pooled time step (each 32
STFT frames = 320 ms) and returns `clipwise_output` (max over time) and `framewise_output`:
segment scores held for 32 frames each, the last one repeated to the STFT frame count (the
original's interpolate + pad_framewise_output), at 100 frames/s."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from livetag_tools.export.panns.base import PannsArch
from livetag_tools.export.panns.cnn14 import Cnn14


class Cnn14_DecisionLevelMax(Cnn14):  # noqa: N801
    """Cnn14 whose head classifies every pooled time step; clip = max over steps."""

    output_names = ("clipwise_output", "framewise_output")
    segment_frames = 32  # 2^5 STFT frames per pooled step

    def forward(self, wave: torch.Tensor):
        logmel = self.logmel(wave)
        x = self.backbone(logmel).mean(dim=3)  # [B, 2048, steps]
        x = F.max_pool1d(x, 3, stride=1, padding=1) + F.avg_pool1d(x, 3, stride=1, padding=1)
        x = F.relu(self.fc1(x.transpose(1, 2)))
        segments = torch.sigmoid(self.fc_audioset(x))  # [B, steps, 527]
        clipwise = segments.amax(dim=1)
        # Frame t takes segment t // 32; frames past the last whole segment (the original
        # pads them with copies of the last frame) take the last segment.
        frames = torch.arange(logmel.shape[2], device=wave.device) // self.segment_frames
        last = torch.full_like(frames, 1) * (segments.shape[1] - 1)
        framewise = segments.index_select(1, torch.minimum(frames, last))
        return clipwise, framewise


ENTRY = PannsArch("Cnn14_DecisionLevelMax", Cnn14_DecisionLevelMax,
                  "Cnn14 with a per-step head, max over time; framewise output", 0.385)
