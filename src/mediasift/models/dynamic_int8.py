"""A transformer's ONNX graph made to compute in int8: ONNX Runtime's dynamic quantization.

A model shipped "with int8 weights" may only store them so: each weight is cast back to float and
scaled in the graph, ONNX Runtime folds that into float weights when it loads the model, and every
MatMul runs in float32. Dynamic quantization turns the MatMuls whose right side is a weight into
integer MatMuls (the activations quantized per call, the weights per output channel), which the
CPU's int8 dot-product instructions run at about twice the speed on these machines. The MatMuls of
two activations (attention's scores and its weighted sum) stay in float: quantizing them lost the
most accuracy for the least time.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

# What this builder does, for the name of a cached build (built_cache.entry_name).
RECIPE = "fold-basic;matmul-weights;qint8;per-channel"


def quantize(source: Path, target: Path) -> None:
    """Write ``source``'s graph quantized (see the module) to ``target``."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="mediasift-quantize-") as scratch:
        folded = Path(scratch) / "folded.onnx"
        # ONNX Runtime's basic graph optimisations fold the weights' cast-and-scale into constants,
        # which the quantizer needs: it quantizes a MatMul only when its weight is one.
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        options.log_severity_level = 3
        ort.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])
        graph = onnx.load(str(folded)).graph
        weights = {initializer.name for initializer in graph.initializer}
        of_activations = [node.name for node in graph.node if node.op_type == "MatMul" and node.input[1] not in weights]
        quiet = _Advice()
        logging.getLogger().addFilter(quiet)
        try:
            quantize_dynamic(
                folded, target, weight_type=QuantType.QInt8, per_channel=True, nodes_to_exclude=of_activations
            )
        finally:
            logging.getLogger().removeFilter(quiet)


class _Advice(logging.Filter):
    """Drops the quantizer's advice to run its shape pre-processing first (logged on the root logger
    at every call): the graph's shapes do not bear on which MatMuls it quantizes here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Please consider to run pre-processing")
