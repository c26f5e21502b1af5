"""Errors as data: one shape for HTTP ({error, message, details}) and Socket.IO acks alike."""

from __future__ import annotations

import json
import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from server.data import DatasetError
from server.graph.validate import FORMAT, VERSION
from server.runs import RunError

log = logging.getLogger(__name__)

STATUS = {
    "bad_request": 400, "invalid_upload": 400, "forbidden": 403, "not_found": 404,
    "method_not_allowed": 405, "conflict": 409, "too_large": 413, "invalid_document": 422,
    "export_failed": 422, "busy": 429, "internal": 500,
    "unavailable": 503,
}
HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}


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


def check_document(doc: object, limit: int, what: str = "the document") -> dict:
    """A payload that must be a network document: a JSON object within the size limit."""
    if not isinstance(doc, dict):
        raise bad_request(f"{what} must be a JSON object; got {_kind(doc)}")
    size = len(json.dumps(doc, separators=(",", ":")))
    if size > limit:
        raise bad_request(f"{what} is {size / 2**20:.1f} MiB; the limit is "
                          f"{limit / 2**20:.1f} MiB")
    return doc


def check_network(doc: dict) -> dict:
    """A design to save: any work in progress, as long as it is a Layerlab network document."""
    if doc.get("format") != FORMAT:
        raise bad_request(f"not a Layerlab network document: format must be '{FORMAT}'; "
                          f"got {doc.get('format')!r}")
    if doc.get("version") != VERSION:
        raise bad_request(f"unsupported document version {doc.get('version')!r}; this server "
                          f"reads version {VERSION}")
    return doc


def _kind(value: object) -> str:
    return {list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "nothing"}.get(type(value), type(value).__name__)


def register(app: Flask) -> None:
    """JSON errors for every /api/* route; pages keep Flask's own error pages."""

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
