"""Export a design: an ONNX file checked against ONNX Runtime, or readable PyTorch source."""

from server.export.errors import ExportError
from server.export.onnx import (
    ExportResult,
    cpu_copy,
    export_onnx,
    export_onnx_bytes,
    preferred_exporters,
    sample_input,
)
from server.export.pytorch import class_name, export_pytorch, export_pytorch_gan

__all__ = [
    "ExportError", "ExportResult", "class_name", "cpu_copy", "export_onnx", "export_onnx_bytes",
    "export_pytorch", "export_pytorch_gan", "preferred_exporters", "sample_input",
]
