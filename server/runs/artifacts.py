"""Files made from runs and designs: a run's ONNX export (made once, then cached) and fresh exports.

torch and the exporters are imported on first use, so a server that never exports stays light.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from server.data.atomic import write_atomic
from server.runs.run import RunError
from server.store import Store

WEIGHTS = "weights.safetensors"
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass
class Artifact:
    """A file to send: its bytes or path, the name to save it as, and the ONNX check result."""

    filename: str
    mimetype: str
    path: Path | None = None
    data: bytes | None = None
    check: dict | None = None  # {"ok", "max_abs_diff", "opset", "exporter"} for ONNX files


def slug(name: str) -> str:
    """A file-name-safe version of a design name: 'Spiral MLP' -> 'spiral-mlp'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "design"


def run_onnx(store: Store, run: dict) -> Artifact:
    """A finished run's model as ONNX, exported and checked once, then served from disk."""
    folder = store.run_dir(run["id"])
    path, meta = folder / "model.onnx", folder / "model.onnx.json"
    name = f"{slug(run['name'])}.onnx"
    with _lock(run["id"]):
        if path.is_file() and meta.is_file():
            return Artifact(name, "application/octet-stream", path=path,
                            check=json.loads(meta.read_text()))
        if not (folder / WEIGHTS).is_file():
            why = f" (it {run['status']}: {run['message']})" if run.get("message") else ""
            raise RunError("not_found", f"run {run['id']} has no weights to export{why}")
        network, model = _model(run["document"], store.data_dir, folder / WEIGHTS)
        data, check = _onnx(model, network)
        write_atomic(path, data)
        write_atomic(meta, json.dumps(check).encode())
    return Artifact(name, "application/octet-stream", path=path, check=check)


def run_weights(store: Store, run: dict) -> Artifact:
    """A run's weights file."""
    path = store.run_dir(run["id"]) / WEIGHTS
    if not path.is_file():
        raise RunError("not_found", f"run {run['id']} has no weights (it {run['status']})")
    return Artifact(f"{slug(run['name'])}.safetensors", "application/octet-stream", path=path)


def export_document(document: dict, fmt: str, data_dir) -> Artifact:
    """A design with fresh (seeded) weights as ONNX or PyTorch source."""
    network, model = _model(document, data_dir, None)
    if fmt == "onnx":
        data, check = _onnx(model, network)
        return Artifact(f"{slug(network.name)}.onnx", "application/octet-stream", data=data,
                        check=check)
    try:
        from server.export import export_pytorch
    except ImportError:
        raise RunError("unavailable", "PyTorch source export is not available on this "
                       "server yet") from None
    source = export_pytorch(network, model.state_dict())
    return Artifact(f"{slug(network.name)}.py", "text/x-python", data=source.encode())


def check_header(check: dict) -> str:
    """The X-Layerlab-Check header value, e.g. 'ok=true; max_abs_diff=1.2e-07; opset=18; ...'."""
    diff = check.get("max_abs_diff")
    return (f"ok={'true' if check.get('ok') else 'false'}; "
            f"max_abs_diff={'none' if diff is None else f'{diff:.3g}'}; "
            f"opset={check.get('opset')}; exporter={check.get('exporter')}")


def _model(document: dict, data_dir, weights: Path | None):
    from server.graph import DocumentError, parse_document
    from server.model import WeightsError, apply_weights, build_model, load_weights

    try:
        network = parse_document(document, data_dir=data_dir)
    except DocumentError as e:
        raise RunError("invalid_document", f"the design cannot be exported: {e}",
                       e.errors) from None
    model = build_model(network, seed=network.training["seed"])
    if weights is not None:
        try:
            apply_weights(model, load_weights(weights))
        except WeightsError as e:
            raise RunError("export_failed", str(e)) from None
    return network, model.eval()


def _onnx(model, network) -> tuple[bytes, dict]:
    from server.export import ExportError, export_onnx_bytes

    try:
        data, result = export_onnx_bytes(model, network, check=True)
    except ExportError as e:
        raise RunError("export_failed", e.message) from None
    return data, {"ok": result.ok, "max_abs_diff": result.max_abs_diff, "opset": result.opset,
                  "exporter": result.exporter}


def _lock(run_id: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(run_id, threading.Lock())


