"""The ONNX Runtime session settings every model of ours runs with (rapidocr makes its own)."""

from __future__ import annotations

from typing import Any


def session_options(threads: int) -> Any:
    """``threads`` intra-op threads and one inter-op thread, nodes run in order, warnings only.

    Threads that wait for work sleep rather than spin: a spinning thread takes the core from whatever
    else runs beside it (a search's PostgreSQL backends, another job). Measured on the 2-core
    development machine with another process busy, 2 threads: MiniLM on a search query 20-25 -> 9.8 ms
    (p50), a batch of 32 texts 630-730 -> 270-280 ms; the object detector 66 -> 45 ms of CPU a
    picture. The outputs are the same."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return options
