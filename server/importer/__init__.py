"""ONNX -> Layerlab (CONTRACTS.md §7 Import): a model file becomes a document and its weights.

    result = import_onnx(data)  # the bytes of an .onnx file
    result.document             # a layerlab.network document (no dataset: choose one to train)
    result.state_dict           # its weights under the builder's names (layers.ID.weight, ...)

The file is read (its size first), run once in ONNX Runtime, cut into units that each become
one catalog layer, and every layer is tested against that run before the whole design is built
and compared again. An operator with no layer type is an OnnxImportError naming every such
node. docs/DECISIONS.md says what is fused and what is refused.

Importing this package loads neither torch nor onnx (the web process names the import job of
server/importer/job.py without running it); import_onnx loads them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.importer.errors import MAX_BYTES, OnnxImportError, read_file

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


@dataclass
class ImportResult:
    """A design made from an ONNX file."""

    document: dict  # the layerlab.network document
    state_dict: dict[str, torch.Tensor]  # its weights, loadable with strict=True
    warnings: list[str]  # what changed on the way, a sentence each
    max_abs_diff: float  # |design - ONNX Runtime| on a random sample
    seconds: float  # wall time of the import


def import_onnx(data: bytes, *, name: str | None = None, max_bytes: int = MAX_BYTES,
                folder=None) -> ImportResult:
    """The design in an ONNX file's bytes; raises OnnxImportError with every problem found.

    `folder`: where the file lies, for weights it keeps in separate files (the CLI's case)."""
    from server.importer.capture import capture
    from server.importer.document import assemble, verify
    from server.importer.graph import view
    from server.importer.reading import read_model
    from server.importer.recognize import place_all

    started = time.perf_counter()
    try:
        graph = view(read_model(data, max_bytes, folder))
        run = capture(graph)
        placed, problems = place_all(graph, run)
        if problems:
            listed = ", ".join(f"{p['node']} ({p['op']})" for p in problems)
            raise OnnxImportError(f"{len(problems)} ONNX node(s) have no Layerlab layer type: "
                                  f"{listed}", problems)
        document, state, warnings = assemble(graph, run, placed, name)
        diff = verify(document, state, graph, run)
    except (OnnxImportError, MemoryError):
        raise
    except Exception as e:  # a model no rule here expected: still a sentence, not a traceback
        log.warning("ONNX import failed unexpectedly", exc_info=e)
        line = (str(e).strip().splitlines() or [""])[0][:200]
        raise OnnxImportError(f"the model could not be imported ({type(e).__name__}: {line})",
                              code="invalid_upload") from None
    return ImportResult(document, state, warnings, diff, time.perf_counter() - started)


__all__ = ["MAX_BYTES", "ImportResult", "OnnxImportError", "import_onnx", "read_file"]
