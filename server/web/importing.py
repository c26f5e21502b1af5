"""POST /api/import (CONTRACTS.md §7): an ONNX file in (multipart field `file`), a design and
its weights out, the weights stored as an upload so that `training.init: {"weights": id}`
starts a run from them. The file is parsed, run and rebuilt in an export process (the pool
of server/runs/artifacts.py: one at a time, under its memory cap), never in this one."""

from __future__ import annotations

import secrets

from flask import Blueprint, current_app, jsonify

from server.importer.errors import size_text
from server.importer.job import import_to_upload
from server.runs.artifacts import EXPORTS
from server.web.errors import ApiError
from server.web.routes import quota, take_upload
from server.web.services import lab

bp = Blueprint("importing", __name__)


@bp.post("/api/import")
def import_model():
    """An ONNX model as multipart field `file` -> {ok, document, weights (upload id), warnings,
    max_abs_diff}; refused with 400 (not a model, unsupported operators: each node named), 413
    (past MAX_UPLOAD_BYTES) or 415 (not multipart)."""
    config = current_app.config
    limit = config["MAX_UPLOAD_BYTES"]
    file, client, size = take_upload("the ONNX model", limit)
    store = lab().store
    raw = file.read(limit + 1)
    if len(raw) > limit:
        raise ApiError("too_large", f"the file is larger than the {size_text(limit)} limit "
                       "(setting MAX_UPLOAD_BYTES)")
    if not raw:
        raise ApiError("invalid_upload", "the file is empty; choose an .onnx model file")
    if size + len(raw) > config["MAX_UPLOAD_BYTES_PER_CLIENT"]:
        raise quota(f"{client}'s uploads would pass "
                    f"{config['MAX_UPLOAD_BYTES_PER_CLIENT'] / 2**20:.0f} MiB together",
                    "MAX_UPLOAD_BYTES_PER_CLIENT")
    upload_id = secrets.token_hex(8)
    done = EXPORTS.call(import_to_upload, raw, file.filename or "model.onnx",
                        str(lab().data_dir), upload_id, limit)
    store.add_upload(upload_id, client, done["bytes"])
    store.forget_size()
    return jsonify({"ok": True, "document": done["document"], "weights": upload_id,
                    "warnings": done["warnings"], "max_abs_diff": done["max_abs_diff"]}), 201
