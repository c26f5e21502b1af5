"""The importer's one error, its size limit and a bounded file read: what the CLI and the web
need before any ONNX machinery (or torch) is imported."""

from __future__ import annotations

MAX_BYTES = 512 * 2**20  # the CLI's limit: the Budget's 100 million float32 weights fit


class OnnxImportError(Exception):
    """An ONNX file that cannot become a design; `details` lists every problem found.

    `code` is the web API's error code: `invalid_upload` (400) or `too_large` (413)."""

    def __init__(self, message: str, details: list[dict] | None = None,
                 code: str = "invalid_upload"):
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.code = code


def read_file(path, max_bytes: int = MAX_BYTES) -> bytes:
    """A file's bytes, refused past `max_bytes` without reading more than that."""
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise OnnxImportError(f"the file is larger than the {size_text(max_bytes)} limit",
                              code="too_large")
    return data


def size_text(n: int) -> str:
    """A byte count as people read it: 900 bytes, 12 KiB, 3.4 MiB."""
    if n < 2**10:
        return f"{n} bytes"
    if n < 2**20:
        return f"{n / 2**10:.0f} KiB"
    return f"{n / 2**20:.1f} MiB".replace(".0 MiB", " MiB")
