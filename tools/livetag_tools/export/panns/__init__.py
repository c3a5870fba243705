"""PANNs AudioSet taggers (Kong et al. 2019, "PANNs: Large-Scale Pretrained Audio Neural
Networks for Audio Pattern Recognition") rebuilt for export to livetag bundles.

Written for livetag from the paper's description and the published hyper-parameters, so
that each model's state_dict() has exactly the keys and shapes of the original PyTorch code
(audioset_tagging_cnn, pytorch/models.py with torchlibrosa's Spectrogram/LogmelFilterBank):
a released checkpoint (`torch.load(path)['model']`) loads with strict=True. Inference only:
no SpecAugment, mixup or dropout (all identity in eval mode).

Every model takes the waveform `[batch, samples]` and computes its own log-mel front-end
(`frontend`), then bn0 (BatchNorm over the 64 mel bins), then CNN blocks whose 2x2 average
pools halve time and mel, and the clip head of `base.Panns`. One module per architecture;
`base` holds what they share.
"""
