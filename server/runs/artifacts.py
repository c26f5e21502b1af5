"""Files made from runs and designs: a run's ONNX export (made once, then cached) and fresh exports.

Every export is built in a separate spawned process (`EXPORTS`), one at a time by default and
under a memory cap, so a 100-million-parameter export takes no memory from the server process and
never holds up other clients' requests. torch and the exporters are imported there, on first use.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
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
        check = EXPORTS.call(_run_onnx_job, run["document"], str(store.data_dir), str(folder))
    return Artifact(name, "application/octet-stream", path=path, check=check)


def run_weights(store: Store, run: dict) -> Artifact:
    """A run's weights file."""
    path = store.run_dir(run["id"]) / WEIGHTS
    if not path.is_file():
        raise RunError("not_found", f"run {run['id']} has no weights (it {run['status']})")
    return Artifact(f"{slug(run['name'])}.safetensors", "application/octet-stream", path=path)


def export_document(document: dict, fmt: str, data_dir) -> Artifact:
    """A design with fresh (seeded) weights as ONNX or PyTorch source."""
    return Artifact(**EXPORTS.call(_export_job, document, fmt, str(data_dir)))


def check_header(check: dict) -> str:
    """The X-Layerlab-Check header value, e.g. 'ok=true; max_abs_diff=1.2e-07; opset=18; ...'."""
    diff = check.get("max_abs_diff")
    return (f"ok={'true' if check.get('ok') else 'false'}; "
            f"max_abs_diff={'none' if diff is None else f'{diff:.3g}'}; "
            f"opset={check.get('opset')}; exporter={check.get('exporter')}")


class ExportPool:
    """Exports in spawned processes: at most `workers` at once, each under a memory cap."""

    def __init__(self, workers: int = 1, memory: int = 8 * 2**30, wait: float = 120.0):
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self.configure(workers, memory, wait)

    def configure(self, workers: int, memory: int, wait: float) -> None:
        """Set the bounds (the app does, from its config); running export processes end."""
        self.workers = workers  # exports built at once
        self.memory = memory  # bytes of address space an export process may take (Linux)
        self.wait = wait  # seconds an export waits for its turn before the caller gets `busy`
        self._slots = threading.BoundedSemaphore(workers)
        self._reset()

    def call(self, job, *args):
        """Run `job(*args)` in an export process; its RunError comes back as raised there."""
        slots = self._slots
        if not slots.acquire(timeout=self.wait):
            raise RunError("busy", f"{self.workers} export(s) are already being built; "
                           "try again in a minute")
        try:
            outcome = self._executor().submit(job, *args).result()
        except BrokenProcessPool:
            self._reset()
            raise RunError("export_failed", "the export process ran out of memory (its limit "
                           f"is {self.memory / 2**30:.1f} GiB); make the design smaller") from None
        finally:
            slots.release()
        if "error" in outcome:
            raise RunError(*outcome["error"])
        return outcome["value"]

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_cap_memory, initargs=(self.memory,))
            return self._pool

    def _reset(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        """End the export processes (the server is stopping)."""
        self._reset()


EXPORTS = ExportPool()


def _cap_memory(limit: int) -> None:
    """In the export process: past `limit` bytes an allocation fails instead of the machine
    swapping (exports run on the CPU, where an address-space limit is safe)."""
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass  # not Linux, or a lower hard limit already: the pool's bound still holds


def _outcome(fn, *args) -> dict:
    """In an export process: fn's value, or its RunError (or running out of memory) as data."""
    try:
        return {"value": fn(*args)}
    except RunError as e:
        if "MemoryError" in e.message or "bad_alloc" in e.message:
            return {"error": ("export_failed", _out_of_memory())}
        return {"error": (e.code, e.message, e.errors)}
    except MemoryError:
        return {"error": ("export_failed", _out_of_memory())}


def _out_of_memory() -> str:
    import resource

    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    cap = "" if limit == resource.RLIM_INFINITY else f" of {limit / 2**30:.1f} GiB"
    return (f"the export ran out of memory: it needs more than its limit{cap} "
            "(EXPORT_MEMORY_BYTES); make the design smaller")


def _export_job(document: dict, fmt: str, data_dir: str) -> dict:
    """A fresh export, built in an export process."""
    return _outcome(_export_job_body, document, fmt, data_dir)


def _run_onnx_job(document: dict, data_dir: str, folder: str) -> dict:
    """A run's ONNX file, written into its folder by an export process."""
    return _outcome(_run_onnx_job_body, document, data_dir, folder)


def _export_job_body(document: dict, fmt: str, data_dir: str) -> dict:
    network, model = _model(document, data_dir, None)
    if fmt == "onnx":
        data, check = _onnx(model, network)
        return {"filename": f"{slug(network.name)}.onnx", "mimetype": "application/octet-stream",
                "data": data, "check": check}
    from server.kinds import kind_of

    source = kind_of(network).pytorch_source(network, model)
    return {"filename": f"{slug(network.name)}.py", "mimetype": "text/x-python",
            "data": source.encode()}


def _run_onnx_job_body(document: dict, data_dir: str, folder: str) -> dict:
    folder = Path(folder)
    network, model = _model(document, data_dir, folder / WEIGHTS)
    data, check = _onnx(model, network)
    write_atomic(folder / "model.onnx", data)
    write_atomic(folder / "model.onnx.json", json.dumps(check).encode())
    return check


def _model(document: dict, data_dir, weights: Path | None):
    from server.graph import DocumentError, parse_document
    from server.kinds import kind_of
    from server.model import WeightsError, apply_weights, load_weights

    try:
        network = parse_document(document, data_dir=data_dir)
    except DocumentError as e:
        raise RunError("invalid_document", f"the design cannot be exported: {e}",
                       e.errors) from None
    model = kind_of(network).build(network, seed=network.training["seed"])
    if weights is not None:
        try:
            apply_weights(model, load_weights(weights))
        except WeightsError as e:
            raise RunError("export_failed", str(e)) from None
    return network, model.eval()


def _onnx(model, network) -> tuple[bytes, dict]:
    """What the design's kind exports (a gan: its generator), checked against ONNX Runtime."""
    from server.export import ExportError, export_onnx_bytes
    from server.kinds import kind_of

    network, model, input_name = kind_of(network).onnx_target(network, model)
    try:
        data, result = export_onnx_bytes(model, network, check=True, input_name=input_name)
    except ExportError as e:
        raise RunError("export_failed", e.message) from None
    return data, {"ok": result.ok, "max_abs_diff": result.max_abs_diff, "opset": result.opset,
                  "exporter": result.exporter}


def _lock(run_id: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(run_id, threading.Lock())



