"""POST /api/import's work, done in an export process (server/runs/artifacts.py's pool): the
stranger's file is parsed and run there, under that pool's memory cap, and the server process
never loads torch, onnx or ONNX Runtime for it (this module imports them only when it runs)."""

from __future__ import annotations

from pathlib import Path

from server.graph.init import weights_upload_path
from server.importer import OnnxImportError, import_onnx


def import_to_upload(data: bytes, filename: str, data_dir: str, upload_id: str,
                     max_bytes: int) -> dict:
    """Import, and write the weights where training.init {"weights": upload_id} reads them.

    Answers the pool's outcome: {"value": {document, warnings, max_abs_diff, bytes}} or
    {"error": (code, message, details)}."""
    from server.model import save_weights

    try:
        result = import_onnx(data, name=Path(filename or "model.onnx").stem,
                             max_bytes=max_bytes)
        path = save_weights(result.state_dict, weights_upload_path(data_dir, upload_id))
    except OnnxImportError as e:
        return {"error": (e.code, e.message, e.details)}
    except MemoryError:
        return {"error": ("too_large", "the import ran out of memory; the model is too large "
                          "for this server")}
    return {"value": {"document": result.document, "warnings": result.warnings,
                      "max_abs_diff": result.max_abs_diff, "bytes": path.stat().st_size}}
