"""POST /api/import (CONTRACTS.md §7): an ONNX file in (multipart field `file`), a design and
its weights out, the weights stored as an upload so that `training.init: {"weights": id}`
starts a run from them. The file is parsed, run and rebuilt in an export process (the pool
of server/runs/artifacts.py: one at a time, under its memory cap), never in this one."""

from __future__ import annotations

import secrets
import time

from flask import Blueprint, current_app, jsonify, request

from server.importer.errors import size_text
from server.importer.job import import_to_upload
from server.runs.artifacts import EXPORTS
from server.web.errors import ApiError, bad_request
from server.web.routes import check_storage, quota
from server.web.services import lab

bp = Blueprint("importing", __name__)


@bp.post("/api/import")
def import_model():
    """An ONNX model as multipart field `file` -> {ok, document, weights (upload id), warnings,
    max_abs_diff}; refused with 400 (not a model, unsupported operators: each node named), 413
    (past MAX_UPLOAD_BYTES) or 415 (not multipart)."""
    config = current_app.config
    limit = config["MAX_UPLOAD_BYTES"]
    request.max_content_length = limit + 2**16  # the form's own bytes besides the file
    if request.mimetype != "multipart/form-data":
        raise ApiError("unsupported_media_type", "send the ONNX model as multipart/form-data "
                       f"(field 'file'), not {request.mimetype or 'no Content-Type'}")
    client = request.remote_addr or "unknown"
    store = lab().store
    hours = config["UPLOAD_QUOTA_HOURS"]
    count, size = store.client_uploads(client, time.time() - hours * 3600)
    if count >= config["MAX_UPLOADS_PER_CLIENT"]:
        raise quota(f"{client} has uploaded {count} files in {hours:g} hours, the most allowed",
                    "MAX_UPLOADS_PER_CLIENT")
    check_storage()
    file = request.files.get("file")
    if file is None:
        raise bad_request("send the ONNX model as the multipart form field 'file'")
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
