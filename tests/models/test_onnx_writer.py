"""models/onnx_writer.py against the onnx package's parser and checker, and run by ONNX Runtime."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort

from mediasift.models import onnx_writer


def _model() -> bytes:
    weights = np.arange(2 * 3 * 3 * 3, dtype=np.float32).reshape(2, 3, 3, 3) / 50.0
    return onnx_writer.model(
        [
            onnx_writer.node("Conv", ["x", "w"], ["conv"], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
            onnx_writer.node("LeakyRelu", ["conv"], ["leaky"], alpha=0.25),
            onnx_writer.node("Flatten", ["leaky"], ["flat"], axis=-1),
            onnx_writer.node("Reshape", ["flat", "shape"], ["y"]),
        ],
        [onnx_writer.tensor("w", weights), onnx_writer.tensor("shape", np.array([1, -1, 2], np.int64))],
        [onnx_writer.float_value("x", [1, 3, 5, 5])],
        [onnx_writer.float_value("y", [1, "positions", 2])],
        opset=13,
    )


def test_the_onnx_package_reads_what_is_written() -> None:
    model = onnx.load_from_string(_model())
    onnx.checker.check_model(model, full_check=True)
    conv, leaky, flatten, _ = model.graph.node
    assert (conv.op_type, list(conv.input), list(conv.output)) == ("Conv", ["x", "w"], ["conv"])
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in [*conv.attribute, *leaky.attribute]}
    assert attributes == {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": b"SAME_UPPER", "alpha": 0.25}
    assert onnx.helper.get_attribute_value(flatten.attribute[0]) == -1  # a negative int64
    shape = onnx.numpy_helper.to_array(model.graph.initializer[1])
    assert shape.tolist() == [1, -1, 2] and shape.dtype == np.int64
    assert [d.dim_param or d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim] == [1, "positions", 2]
    assert model.opset_import[0].version == 13 and model.ir_version == 8


def test_onnx_runtime_runs_it_as_numpy_computes_it() -> None:
    x = np.random.default_rng(0).normal(size=(1, 3, 5, 5)).astype(np.float32)
    (y,) = ort.InferenceSession(_model(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    weights = np.arange(2 * 3 * 3 * 3, dtype=np.float32).reshape(2, 3, 3, 3) / 50.0
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))  # SAME with stride 2 on 5: one each side
    conv = np.array(
        [[[(padded[0, :, i : i + 3, j : j + 3] * weights[o]).sum() for j in range(0, 5, 2)] for i in range(0, 5, 2)]
         for o in range(2)]
    )  # fmt: skip
    expected = np.where(conv > 0, conv, 0.25 * conv).reshape(1, -1, 2)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
