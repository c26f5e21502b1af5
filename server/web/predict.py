"""POST /api/runs/<run_id>/predict: the server's answer for one input, computed with ONNX Runtime
on the run's exported model.onnx (the very file Export ONNX downloads), so the page's Try panel
can set what onnxruntime-web computed in the browser beside it.

The model is Layerlab's own export of an ended run (never a stranger's file), small, and run on
the CPU with one thread in the request; sessions are kept for the few runs tried last.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import numpy as np
from flask import Blueprint, current_app, jsonify, request

from server.runs.artifacts import run_onnx
from server.web.errors import ApiError, bad_request
from server.web.parse import JSON_TYPES, parse_json
from server.web.routes import ended_run
from server.web.services import lab

bp = Blueprint("predict", __name__)
MAX_BATCH = 64  # inputs one request may hold
MAX_VALUES = 2**20  # numbers in one request's input, all inputs together
KEPT_SESSIONS = 8  # ONNX Runtime sessions kept, one per run, least recently used dropped
DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64,
          "tensor(int64)": np.int64, "tensor(int32)": np.int32}

_sessions: OrderedDict[str, tuple[float, object]] = OrderedDict()
_lock = threading.Lock()


@bp.post("/api/runs/<run_id>/predict")
def predict(run_id: str):
    """Body {"input": [[...]]} (a batch, shaped as the model's input) -> {"output": [[...]],
    "shape", "seconds" (ONNX Runtime's run alone), "input_name", "output_name"}."""
    values = body_input()
    artifact = run_onnx(lab().store, ended_run(run_id))
    session = session_for(run_id, artifact.path)
    spec = session.get_inputs()[0]
    array = as_input(values, spec)
    started = time.perf_counter()
    try:
        outputs = session.run(None, {spec.name: array})
    except Exception as e:  # noqa: BLE001 - ONNX Runtime's own errors, told as data
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ApiError("bad_request", f"ONNX Runtime could not run the input: {first}"[:300],
                       [{"field": "input", "message": "not accepted by the model"}]) from None
    seconds = time.perf_counter() - started
    out = np.asarray(outputs[0])
    return jsonify({"output": out.astype(np.float64).tolist(), "shape": list(out.shape),
                    "seconds": seconds, "input_name": spec.name,
                    "output_name": session.get_outputs()[0].name})


def body_input() -> list:
    """The request's `input`: a JSON list, the body strict and bounded."""
    if request.mimetype != JSON_TYPES:
        raise ApiError("unsupported_media_type", f"send {{\"input\": [[...]]}} as {JSON_TYPES}; "
                       f"got {request.mimetype or 'no Content-Type'!r}"[:300])
    limit = current_app.config["MAX_DOCUMENT_BYTES"]
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise ApiError("too_large", f"the request body is larger than the {limit / 2**20:.1f} "
                       "MiB limit")
    body = parse_json(raw, "the request body") if raw.strip() else None
    if not isinstance(body, dict) or not isinstance(body.get("input"), list):
        raise bad_request('the body must be {"input": [[...]]}: a batch of inputs shaped as the '
                          "model's input")
    unknown = sorted(set(body) - {"input"})
    if unknown:
        raise bad_request(f"unknown field(s) {', '.join(map(repr, unknown))}; send only 'input'")
    return body["input"]


def as_input(values: list, spec) -> np.ndarray:
    """The input as the array the model takes, or a bad_request saying what shape it wants."""
    dims = list(spec.shape)
    wanted = "[" + ", ".join(str(d) if isinstance(d, int) else "batch" for d in dims) + "]"
    try:
        array = np.asarray(values, dtype=DTYPES.get(spec.type, np.float32))
    except (ValueError, TypeError, OverflowError):
        raise bad_request(f"input must be numbers in a regular nested list shaped {wanted}") \
            from None
    if array.size > MAX_VALUES:
        raise ApiError("too_large", f"input holds {array.size:,} numbers; at most "
                       f"{MAX_VALUES:,} are run at once")
    fits = array.ndim == len(dims) and all(
        not isinstance(d, int) or d == n for d, n in zip(dims, array.shape, strict=True))
    if not fits:
        raise bad_request(f"input is shaped {list(array.shape)}; the model takes {wanted}")
    if not 1 <= array.shape[0] <= MAX_BATCH:
        raise bad_request(f"input holds {array.shape[0]} examples; send 1 to {MAX_BATCH}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise bad_request("input holds a value that is not a finite number")
    return array


def session_for(run_id: str, path):
    """The run's ONNX Runtime session (made once per file, CPU, one thread)."""
    import onnxruntime as ort  # imported on first use: only this route runs models here

    stamp = path.stat().st_mtime
    with _lock:
        kept = _sessions.get(run_id)
        if kept and kept[0] == stamp:
            _sessions.move_to_end(run_id)
            return kept[1]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    with _lock:
        _sessions[run_id] = (stamp, session)
        while len(_sessions) > KEPT_SESSIONS:
            _sessions.popitem(last=False)
    return session
