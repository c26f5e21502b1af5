"""Reading an ONNX file from a stranger: its size first, then the protobuf, then onnx's checks.

Nothing here runs the model; every way a file can be wrong ends in one OnnxImportError with a
sentence a user can act on, never a traceback.
"""

from __future__ import annotations

import onnx

from server.importer.errors import MAX_BYTES, OnnxImportError, size_text

DOMAINS = ("", "ai.onnx")  # the standard operators; other domains have no layer types


def read_model(data: bytes, max_bytes: int = MAX_BYTES) -> onnx.ModelProto:
    """The checked ModelProto in `data` (refused past `max_bytes` before it is parsed)."""
    if not data:
        raise OnnxImportError("the file is empty; choose an .onnx model file")
    if len(data) > max_bytes:
        raise OnnxImportError(f"the file is {size_text(len(data))}; the limit is "
                              f"{size_text(max_bytes)}", code="too_large")
    try:
        model = onnx.load_model_from_string(data)
    except Exception:  # protobuf's DecodeError, or anything a corrupt file provokes
        raise OnnxImportError("the file is not an ONNX model: it cannot be read as one (it may "
                              "be truncated, or another kind of file)") from None
    if not model.ir_version or not model.opset_import or not model.graph.node:
        raise OnnxImportError("the file is not an ONNX model: it has no graph, IR version "
                              "or operator set")
    external = [t.name for t in model.graph.initializer
                if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:
        raise OnnxImportError(f"the model keeps {len(external)} weight tensor(s) in separate "
                              f"files ({', '.join(external[:3])}); export it as one "
                              "self-contained .onnx file")
    try:
        onnx.checker.check_model(model)
        onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as e:  # ValidationError, InferenceError
        raise OnnxImportError(f"the file is not a valid ONNX model: {_first_line(e)}") from None
    if not any(o.domain in DOMAINS for o in model.opset_import):
        raise OnnxImportError("the model uses no standard ONNX operator set")
    return model


def opset_of(model: onnx.ModelProto) -> int:
    """The model's version of the standard operator set."""
    return max(o.version for o in model.opset_import if o.domain in DOMAINS)


def _first_line(e: BaseException) -> str:
    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(e).__name__
    return text if len(text) <= 240 else text[:237] + "..."
