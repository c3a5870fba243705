"""Label lists and state-dict key lists, read by the converters, exporters and tests.

    labels/audioset_527.csv   AudioSet's class_labels_indices.csv (index, MID, display name)
    labels/*.txt              the DCASE seeds' class lists, one per line
    keys/                     the parameter names and shapes of the original checkpoints,
                              written out independently of the exporters' models
"""

from pathlib import Path

DATA = Path(__file__).resolve().parent
LABELS = DATA / "labels"
KEYS = DATA / "keys"
