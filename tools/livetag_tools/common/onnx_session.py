"""The one way the tools open an ONNX model: CPU provider, and a fixed thread count, because
the committed expected.json values come from these sessions and onnxruntime may sum in another
order with more threads."""

from __future__ import annotations


def make_session(model: bytes | str, threads: int | None = 1, log_severity: int | None = None):
    """`model`: the ONNX bytes or a path. `threads=1` (intra and inter op) is how the
    references run (silero's OnnxWrapper(force_onnx_cpu=True), TFLite num_threads=1) and what
    every converter's fixtures were computed with; `threads=None` leaves onnxruntime's default
    (one per core). `log_severity=3` hides onnxruntime's warnings."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    if threads is not None:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    if log_severity is not None:
        opts.log_severity_level = log_severity
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
