"""What serving a model folder needs and nothing more: the folder's file names and an ONNX
Runtime session. Imports no torch, so that a served model runs without it
(`selector.serving.pyfunc`)."""

from __future__ import annotations

from typing import Any

from selector.process import flushing_denormals

MODEL_FILE = "selector-model.json"
TORCHSCRIPT_FILE = "model.pt"
ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"


def onnx_session(model: bytes | str, *, threads: int = 0) -> Any:
    """An ONNX Runtime session on the CPU (``threads`` 0: its default) that leaves the calling
    thread's denormal mode as it was. Creating a session sets that mode to the session's
    option, off by default: it undid `selector.process.flush_denormals` for every training
    run after the comparison's ONNX timings (the refit of a long-sequence model among them).
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    # Idle threads sleep instead of spinning: a spinning pool took the cores from the next
    # model's run (a GRU's batch shares, `selector.serving.predict`) for no gain of its own.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.set_denormal_as_zero",
                                     "1" if flushing_denormals() else "0")
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
