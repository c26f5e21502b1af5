"""The one error type of export, shared by the ONNX and the PyTorch-source exporters."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from server.export.onnx import ExportResult


class ExportError(Exception):
    """The model could not be exported, or its ONNX file disagrees with PyTorch."""

    def __init__(self, message: str, result: ExportResult | None = None):
        super().__init__(message)
        self.message = message
        self.result = result  # the failed check's figures, when there was a file to check
