"""Tests of tools/export_panns.py and tools/export_common.py (stdlib unittest; needs the
packages of tools/requirements-export.txt; the librosa / torchlibrosa cross-checks are
skipped where those are not installed).

    python -m unittest discover -s tools -p 'test_export*.py' -v
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import tomllib
import unittest
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import export_common as common  # noqa: E402
import export_panns as panns  # noqa: E402

OFFICIAL_CNN14 = json.loads((TOOLS / "fixtures" / "panns_cnn14_state_dict.json").read_text())


def shapes(model) -> list[tuple[str, list[int]]]:
    return [(k, list(v.shape)) for k, v in model.state_dict().items()]


def _bn_keys(prefix: str, n: int) -> list[tuple[str, list[int]]]:
    return [(f"{prefix}.{s}", [n]) for s in ("weight", "bias", "running_mean", "running_var")] \
        + [(f"{prefix}.num_batches_tracked", [])]


class StateDictKeys(unittest.TestCase):
    """The keys and shapes of the original code, written out independently of the models."""

    def test_cnn14_equals_the_hand_written_official_list(self):
        want = [(k, s) for k, s in OFFICIAL_CNN14["keys"]]
        self.assertEqual(shapes(panns.Cnn14()), want)

    def test_decision_level_max_has_cnn14_keys(self):
        want = [(k, s) for k, s in OFFICIAL_CNN14["keys"]]
        self.assertEqual(shapes(panns.Cnn14_DecisionLevelMax()), want)

    def test_cnn14_16k_differs_only_in_the_front_end(self):
        want = [(k, s) for k, s in OFFICIAL_CNN14["keys"]]
        want[0] = ("spectrogram_extractor.stft.conv_real.weight", [257, 1, 512])
        want[1] = ("spectrogram_extractor.stft.conv_imag.weight", [257, 1, 512])
        want[2] = ("logmel_extractor.melW", [257, 64])
        self.assertEqual(shapes(panns.Cnn14_16k()), want)

    def test_cnn6_and_cnn10(self):
        front = [("spectrogram_extractor.stft.conv_real.weight", [513, 1, 1024]),
                 ("spectrogram_extractor.stft.conv_imag.weight", [513, 1, 1024]),
                 ("logmel_extractor.melW", [513, 64])] + _bn_keys("bn0", 64)
        head = [("fc1.weight", [512, 512]), ("fc1.bias", [512]),
                ("fc_audioset.weight", [527, 512]), ("fc_audioset.bias", [527])]
        chans = [(1, 64), (64, 128), (128, 256), (256, 512)]
        cnn6 = front + sum(([(f"conv_block{i}.conv1.weight", [o, c, 5, 5])]
                            + _bn_keys(f"conv_block{i}.bn1", o)
                            for i, (c, o) in enumerate(chans, 1)), []) + head
        cnn10 = front + sum(([(f"conv_block{i}.conv1.weight", [o, c, 3, 3]),
                              (f"conv_block{i}.conv2.weight", [o, o, 3, 3])]
                             + _bn_keys(f"conv_block{i}.bn1", o) + _bn_keys(f"conv_block{i}.bn2", o)
                             for i, (c, o) in enumerate(chans, 1)), []) + head
        self.assertEqual(shapes(panns.Cnn6()), cnn6)
        self.assertEqual(shapes(panns.Cnn10()), cnn10)

    def test_mobilenet_v1(self):
        got = dict(shapes(panns.MobileNetV1()))
        self.assertEqual(len(got), 8 + 6 + 13 * 12 + 4)
        spot = {
            "features.0.0.weight": [32, 1, 3, 3], "features.0.2.running_var": [32],
            "features.1.0.weight": [32, 1, 3, 3], "features.1.2.weight": [32],
            "features.1.4.weight": [64, 32, 1, 1], "features.1.5.bias": [64],
            "features.12.0.weight": [512, 1, 3, 3], "features.12.4.weight": [1024, 512, 1, 1],
            "features.13.0.weight": [1024, 1, 3, 3], "features.13.5.num_batches_tracked": [],
            "fc1.weight": [1024, 1024], "fc_audioset.weight": [527, 1024],
            "logmel_extractor.melW": [513, 64],
        }
        for k, s in spot.items():
            self.assertEqual(got.get(k), s, k)
        # Sub-modules 1, 3 and 6 of each block are pools and ReLUs: no parameters.
        self.assertFalse([k for k in got if k.startswith("features.") and
                          k.split(".")[2] in ("1", "3", "6")])

    def test_parameter_counts(self):
        # PANNs' count_parameters (requires_grad only: the STFT and mel are frozen).
        counts = {name: common.count_params(arch.build())["trainable"]
                  for name, arch in panns.ARCHS.items()}
        self.assertEqual(counts["Cnn14"], 80_753_615)
        self.assertEqual(counts["Cnn14_16k"], 80_753_615)
        self.assertEqual(counts["Cnn14_DecisionLevelMax"], 80_753_615)
        self.assertEqual(counts["Cnn10"], 5_219_279)
        self.assertEqual(counts["Cnn6"], 4_837_455)
        self.assertEqual(counts["MobileNetV1"], 4_796_303)


class Checkpoints(unittest.TestCase):
    """Synthetic checkpoints with the official names load with strict=True."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def synthetic(self, model, seed=1):
        g = torch.Generator().manual_seed(seed)
        sd = {}
        for k, v in model.state_dict().items():
            if v.dtype == torch.long:
                sd[k] = torch.tensor(7)
            elif k.endswith("running_var"):
                sd[k] = torch.rand(v.shape, generator=g) + 0.5
            else:
                sd[k] = torch.randn(v.shape, generator=g) * 0.05
        return sd

    def test_every_arch_loads_panns_and_bare_state_dicts(self):
        for name, arch in panns.ARCHS.items():
            with self.subTest(name):
                sd = self.synthetic(arch.build())
                for i, obj in enumerate([{"model": sd, "iteration": 300000}, sd]):
                    path = self.dir / f"{name}-{i}.pth"
                    torch.save(obj, path)
                    model = arch.build()
                    sha = common.load_checkpoint(model, path)
                    self.assertEqual(len(sha), 64)
                    for k, v in model.state_dict().items():
                        self.assertTrue(torch.equal(v, sd[k]), k)

    def test_missing_unexpected_and_misshapen_keys_fail(self):
        arch = panns.ARCHS["Cnn6"]
        sd = self.synthetic(arch.build())
        missing = dict(sd)
        del missing["fc1.bias"]
        extra = dict(sd, **{"spec_augmenter.weight": torch.zeros(1)})
        wrong = dict(sd, **{"fc_audioset.weight": torch.zeros(10, 512)})
        for label, bad in [("missing", missing), ("unexpected", extra), ("shape", wrong)]:
            with self.subTest(label):
                path = self.dir / f"{label}.pth"
                torch.save({"model": bad}, path)
                with self.assertRaises((RuntimeError, ValueError)):
                    common.load_checkpoint(arch.build(), path)


class FrontEnd(unittest.TestCase):
    def test_minimum_lengths(self):
        expect = {"Cnn6": 4800, "Cnn10": 4800, "Cnn14": 9920, "Cnn14_16k": 4960,
                  "Cnn14_DecisionLevelMax": 9920, "MobileNetV1": 9920}
        for name, arch in panns.ARCHS.items():
            with self.subTest(name):
                self.assertEqual(arch.min_samples, expect[name])
                model = arch.build().eval()
                with torch.no_grad():
                    out = model(torch.zeros(1, arch.min_samples))
                    self.assertEqual(tuple(out[0].shape), (1, 527))
                    with self.assertRaises(RuntimeError):
                        model(torch.zeros(1, arch.min_samples - 1))

    def test_mel_and_window_match_librosa(self):
        try:
            import librosa
            import scipy.signal
        except ImportError:
            self.skipTest("librosa not installed")
        for sr, n_fft, fmax in [(32000, 1024, 14000), (16000, 512, 8000)]:
            want = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=64, fmin=50, fmax=fmax).T
            np.testing.assert_array_equal(panns.mel_matrix(sr, n_fft, 64, 50.0, fmax), want)
            np.testing.assert_array_equal(panns.hann_periodic(n_fft),
                                          scipy.signal.get_window("hann", n_fft, fftbins=True))

    def test_front_end_matches_torchlibrosa(self):
        try:
            from torchlibrosa.stft import LogmelFilterBank, Spectrogram
        except ImportError:
            self.skipTest("torchlibrosa not installed")
        wave = torch.from_numpy(common.uniform_waveform(3, 2, 20000))
        for cls, sr, n_fft, hop, fmax in [(panns.Cnn6, 32000, 1024, 320, 14000),
                                          (panns.Cnn14_16k, 16000, 512, 160, 8000)]:
            model = cls()
            spec = Spectrogram(n_fft=n_fft, hop_length=hop, win_length=n_fft, window="hann",
                               center=True, pad_mode="reflect", freeze_parameters=True)
            mel = LogmelFilterBank(sr=sr, n_fft=n_fft, n_mels=64, fmin=50, fmax=fmax, ref=1.0,
                                   amin=1e-10, top_db=None, freeze_parameters=True)
            ours = {**{f"spectrogram_extractor.{k}": v for k, v in spec.state_dict().items()},
                    **{f"logmel_extractor.{k}": v for k, v in mel.state_dict().items()}}
            theirs = {k: v for k, v in model.state_dict().items() if k in ours}
            self.assertEqual(sorted(ours), sorted(theirs))
            for k in ours:
                self.assertTrue(torch.equal(ours[k], theirs[k]), k)
            with torch.no_grad():
                torch.testing.assert_close(
                    model.logmel_extractor(model.spectrogram_extractor(wave)), mel(spec(wave)),
                    rtol=0, atol=0)


class DecisionLevelMax(unittest.TestCase):
    def test_framewise_is_the_original_interpolate_and_pad(self):
        torch.manual_seed(0)
        model = panns.Cnn14_DecisionLevelMax().eval()
        for samples in [9920, 32000, 102080]:  # 32, 101 and 320 frames
            wave = torch.from_numpy(common.uniform_waveform(samples, 1, samples))
            with torch.no_grad():
                clip, framewise = model(wave)
                # The original head, step by step (models.py / pytorch_utils.py).
                logmel = model.logmel(wave)
                frames = logmel.shape[2]
                x = model.backbone(logmel).mean(dim=3)
                x = F.max_pool1d(x, 3, 1, 1) + F.avg_pool1d(x, 3, 1, 1)
                seg = torch.sigmoid(model.fc_audioset(F.relu(model.fc1(x.transpose(1, 2)))))
                up = seg[:, :, None, :].repeat(1, 1, 32, 1).reshape(1, seg.shape[1] * 32, 527)
                pad = up[:, -1:, :].repeat(1, frames - up.shape[1], 1)
                want = torch.cat((up, pad), dim=1)
            self.assertEqual(framewise.shape, (1, 1 + samples // 320, 527))
            torch.testing.assert_close(framewise, want, rtol=0, atol=0)
            torch.testing.assert_close(clip, seg.amax(dim=1), rtol=0, atol=0)


class Windows(unittest.TestCase):
    def test_file_windows_follow_livetag(self):
        self.assertEqual(common.file_windows(12, 10, 10, 3), [(0, 10), (2, 12)])
        self.assertEqual(common.file_windows(20, 10, 10, 3), [(0, 10), (10, 20)])
        self.assertEqual(common.file_windows(7, 10, 4, 3), [(0, 7)])
        self.assertEqual(common.file_windows(2, 10, 4, 3), [(0, 3)])
        self.assertEqual(common.file_windows(15, 10, 4, 3), [(0, 10), (4, 14), (5, 15)])


class EndToEnd(unittest.TestCase):
    def test_export_cnn6_random_with_reference(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "b"
            run = subprocess.run([sys.executable, str(TOOLS / "export.py"), "--arch", "Cnn6",
                                  "--random-weights", "--seed", "3", "--reference", "--out",
                                  str(out)], capture_output=True, text=True)
            self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
            spec = tomllib.loads((out / "bundle.toml").read_text())
            self.assertEqual(spec["input"]["min_samples"], 4800)
            self.assertEqual(spec["outputs"][0]["name"], "clipwise_output")
            labels = (out / "labels.txt").read_text().splitlines()
            self.assertEqual((len(labels), labels[0], labels[526]),
                             (527, "Speech", "Field recording"))
            self.assertIn("RANDOM", (out / "LICENSE").read_text())
            expected = json.loads((out / "reference" / "expected.json").read_text())
            self.assertEqual(len(expected["scores"]), 2)
            # parity.json: regenerate each input from its recipe; ONNX Runtime must agree.
            parity = json.loads((out / "parity.json").read_text())
            self.assertGreaterEqual(len(parity["cases"]), 3)
            session = common.onnx_session(out / "model.onnx")
            for case in parity["cases"]:
                r = case["input"]
                wave = common.uniform_waveform(r["seed"], r["batch"], r["samples"])
                got = session.run(["clipwise_output"], {"waveform": wave})[0]
                want = np.array(case["outputs"]["clipwise_output"], np.float32)
                self.assertLessEqual(float(np.abs(got - want).max()), parity["tolerance"])
            self.assertEqual(min(c["input"]["samples"] for c in parity["cases"]), 4800)


if __name__ == "__main__":
    unittest.main()
