"""The DCASE seed systems as livetag bundles: PyTorch re-implementations (2018 Task 2, Dorfer,
2024 Task 1, the 2021 Task 4 DESED CRNN) and Keras .h5 checkpoints read without TensorFlow
(2021 Task 1A).

    python -m livetag_tools.export --arch dorfer_fcn --random-weights --out DIR [--reference]
    python -m livetag_tools.export.dcase --arch dcase2024_t1_baseline \\
        --checkpoint model_state_dict.pt --out DIR
    python -m livetag_tools.export.dcase --arch dcase2018_t2_baseline --checkpoint md.tar \\
        --norm-stats scaler.npz --out DIR
    python -m livetag_tools.export.dcase --arch NAME --write-synthetic-checkpoint X.pth

One module per architecture (`dcase2018_t2_baseline`, `dorfer_fcn`, `dcase2024_t1_baseline`,
`desed_crnn`, `dcase2021_t1a` and its 4- and 5-layer variants:
the network with the official state_dict names, its front-end and its gaps, its `ARCH`, and
`ENTRY` for the exporter's registry); `base` holds the `Arch` description and what they
share; `frontend` is a NumPy copy of livetag's front-end. The checks that the
rebuilt networks and front-ends are the originals' (state_dict keys against the
hand-written lists in livetag_tools/data/keys/dcase_keys, strict loading of synthetic
checkpoints, parameter and MAC counts, tight minimum lengths, the front-end gaps) are
tools/tests/test_export_dcase.py.

An ``Arch`` has:

* ``build() -> torch.nn.Module``: the network with its official initialisation (seed it
  with ``torch.manual_seed`` first) and the official ``state_dict`` key names, in eval mode.
* ``export(model, out_dir, *, weights="...", licence=None, norm_stats=None) -> None``:
  writes the complete bundle: model.onnx (opset 17, dynamic batch and time axes, legacy
  TorchScript exporter), bundle.toml, labels.txt, LICENSE, reference/input.wav (float32,
  ``livetag_tools.common.wav.float32_wav``) and reference/expected.json (what ``livetag
  inspect --self-test`` must reproduce: the NumPy front-end, windows with hop = window, ONNX
  Runtime, the bundle's activation). ``weights`` is one line of provenance written into
  LICENSE and bundle.toml; ``licence`` the SPDX-like name; ``norm_stats`` = (mean[64],
  std[64]) only for dcase2018_t2_baseline (see its gaps).
* ``parity_inputs() -> list[ParityInput]``: >= 3 input tensors, the architecture's minimum
  length first, the last with batch 2. ``ParityInput`` has ``seed, shape, frames, source``
  and ``.array()`` / ``np.asarray(p)``: a float32 tensor in the model's input layout,
  regenerated from those fields. All three archs use ``source="audio"``: the bundle
  front-end's features of seeded random audio (i.i.d. noise would saturate the softmax of
  the BN-calibrated random nets, hiding errors); ``source="normal"`` (seeded
  ``default_rng`` noise, ``loc``/``scale``) exists too.
* plus facts used by the runners: ``input_name``, ``output_name``, ``layout``,
  ``window_frames``, ``hop_frames``, ``min_frames``, ``arch_min_frames``, ``values``,
  ``activation``.

The DCASE runner (``python -m livetag_tools.export.dcase``) builds the model
(``--random-weights``: official init under ``--seed``, BN affine perturbed and BN statistics
calibrated on the front-end features of seeded random audio so that scores are not
degenerate) or loads ``--checkpoint`` with ``load_state_dict(strict=True)``, exports, checks
ONNX Runtime against PyTorch on every parity input (max |diff| of the raw output <= 1e-4 or
exit 1), and with ``--reference`` writes ``DIR/parity.json`` (per input: how to regenerate
it, PyTorch's and ONNX Runtime's raw outputs) and ``DIR/parity/*.f32`` (the inputs, raw
little-endian float32). ``--checkpoint`` accepts Kong's ``md_*_iters.tar`` ({'state_dict':
...}), the T1 baseline's ``model_state_dict.pt`` or Lightning ``.ckpt`` (``model.`` prefix
stripped, other modules' buffers dropped), or a plain state dict. The common runner
(``python -m livetag_tools.export``) exports random weights the same way (seed 0 for the
calibration) and writes the parity.json tests/export_parity.rs reads.

Needs torch, numpy, onnx, onnxruntime, librosa (mel matrix, A-weighting), scipy (the Kong
gap measurement): the `export` extra (tools/venv.sh export).
"""
