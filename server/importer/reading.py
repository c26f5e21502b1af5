"""Reading an ONNX file from a stranger: its size first, then the protobuf, then onnx's checks.

Nothing here runs the model; every way a file can be wrong ends in one OnnxImportError with a
sentence a user can act on, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import onnx

from server.importer.errors import MAX_BYTES, OnnxImportError, size_text

DOMAINS = ("", "ai.onnx")  # the standard operators; other domains have no layer types


def read_model(data: bytes, max_bytes: int = MAX_BYTES, folder=None) -> onnx.ModelProto:
    """The checked ModelProto in `data` (refused past `max_bytes` before it is parsed).

    Weights kept in separate files (what torch.onnx.export writes beside a path by default)
    are read from `folder`, the model file's own, when one is given (the CLI); an upload has
    none, so such a file is refused there."""
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
    if external and folder is None:
        raise OnnxImportError(f"the model keeps {len(external)} weight tensor(s) in separate "
                              f"files ({', '.join(external[:3])}); export it as one "
                              "self-contained .onnx file (torch.onnx.export(..., "
                              "external_data=False))")
    if external:
        _load_external(model, Path(folder), max_bytes - len(data))
    try:
        onnx.checker.check_model(model)
        onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as e:  # ValidationError, InferenceError
        raise OnnxImportError(f"the file is not a valid ONNX model: {_first_line(e)}") from None
    if not any(o.domain in DOMAINS for o in model.opset_import):
        raise OnnxImportError("the model uses no standard ONNX operator set")
    return model


def _load_external(model: onnx.ModelProto, folder: Path, room: int) -> None:
    """Read the weights a model keeps beside it, each file inside `folder`, within `room`."""
    from onnx.external_data_helper import load_external_data_for_model

    base = folder.resolve()
    locations = {e.value for t in model.graph.initializer for e in t.external_data
                 if e.key == "location"}
    total = 0
    for location in sorted(locations):
        path = (base / location).resolve()
        if base not in path.parents or not path.is_file():
            raise OnnxImportError(f"the model's weights file {location!r} is not beside it "
                                  f"in {folder}")
        total += path.stat().st_size
    if total > room:
        raise OnnxImportError(f"the model's weights files hold {size_text(total)}; with the "
                              f"model the limit is {size_text(room)} more", code="too_large")
    try:
        load_external_data_for_model(model, str(base))
    except Exception as e:  # a short or unreadable weights file
        raise OnnxImportError(f"the model's weights files could not be read: "
                              f"{_first_line(e)}") from None


def opset_of(model: onnx.ModelProto) -> int:
    """The model's version of the standard operator set."""
    return max(o.version for o in model.opset_import if o.domain in DOMAINS)


def _first_line(e: BaseException) -> str:
    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(e).__name__
    return text if len(text) <= 240 else text[:237] + "..."
