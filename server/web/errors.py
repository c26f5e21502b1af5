"""Errors as data: one shape for HTTP ({error, message, details}) and Socket.IO acks alike."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from server.data import DatasetError
from server.graph.validate import FORMAT, VERSION
from server.runs import RunError
from server.runs.run import finite

log = logging.getLogger(__name__)

STATUS = {
    "bad_request": 400, "invalid_upload": 400, "forbidden": 403, "not_found": 404,
    "method_not_allowed": 405, "conflict": 409, "too_large": 413, "invalid_document": 422,
    "export_failed": 422, "baseline_failed": 422, "busy": 429, "internal": 500,
    "unavailable": 503, "unsupported_media_type": 415, "quota_exceeded": 429, "storage_full": 507,
    "unknown_event": 404,  # Socket.IO only: an event this server does not have
}
HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large",
              415: "unsupported_media_type"}


class ApiError(Exception):
    """A refused request: a code clients can branch on, a message people can read."""

    def __init__(self, code: str, message: str, errors: list | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.errors = errors or []

    @property
    def status(self) -> int:
        """The HTTP status for this code."""
        return STATUS.get(self.code, 400)

    def body(self) -> dict:
        """The HTTP error body."""
        return {"error": self.code, "message": self.message, "details": self.errors}

    def ack(self) -> dict:
        """The Socket.IO acknowledgement."""
        return {"ok": False, "error": self.code, "message": self.message, "errors": self.errors}


def api_error(e: Exception) -> ApiError:
    """Any error the layers below raise, as an ApiError (unknown ones become `internal`)."""
    if isinstance(e, ApiError):
        return e
    if isinstance(e, RunError):
        return ApiError(e.code, e.message, e.errors)
    if isinstance(e, DatasetError):
        return ApiError("invalid_upload", e.message, [e.to_json()])
    log.error("unexpected error", exc_info=e)
    return ApiError("internal", "the server hit an unexpected error; it has been logged")


def bad_request(message: str) -> ApiError:
    """A malformed request: wrong type, missing field, out of range."""
    return ApiError("bad_request", message)


def check_network(doc: dict) -> dict:
    """A design to save: any work in progress, as long as it is a Layerlab network document."""
    if doc.get("format") != FORMAT:
        raise bad_request(f"not a Layerlab network document: format must be '{FORMAT}'; "
                          f"got {doc.get('format')!r}"[:300])
    if doc.get("version") != VERSION:
        raise bad_request(f"unsupported document version {doc.get('version')!r}"[:120]
                          + f"; this server reads version {VERSION}")
    return doc


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON out, strict: a NaN or infinite float is written as null, never `NaN`."""

    def dumps(self, obj, **kwargs) -> str:
        """Strict JSON text; only a value holding a non-finite float is walked."""
        try:
            return super().dumps(obj, allow_nan=False, **kwargs)
        except ValueError:
            return super().dumps(finite(obj), allow_nan=False, **kwargs)


def register(app: Flask) -> None:
    """Strict JSON out; JSON errors for every /api/* route; pages keep Flask's error pages."""
    app.json = StrictJSONProvider(app)

    @app.errorhandler(ApiError)
    @app.errorhandler(RunError)
    @app.errorhandler(DatasetError)
    def known(e: Exception):
        err = api_error(e)
        return jsonify(err.body()), err.status

    @app.errorhandler(HTTPException)
    def http(e: HTTPException):
        if not request.path.startswith("/api/"):
            return e
        code = HTTP_CODES.get(e.code, "bad_request" if e.code < 500 else "internal")
        message = {413: f"the request body is larger than the "
                        f"{(request.max_content_length or 0) / 2**20:.1f} MiB limit",
                   404: f"no such API route: {request.method} {request.path}",
                   405: f"{request.method} is not allowed on {request.path}"}.get(e.code,
                                                                                 e.description)
        return jsonify(ApiError(code, message).body()), e.code

    @app.errorhandler(Exception)
    def unexpected(e: Exception):
        err = api_error(e)
        if not request.path.startswith("/api/"):
            return "Internal server error", 500
        return jsonify(err.body()), err.status
