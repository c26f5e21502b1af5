"""Reading requests: the body of a JSON route as a network document."""

from __future__ import annotations

from flask import current_app, request

from server.web.errors import bad_request, check_document


def body_document() -> dict:
    """The request body as a document: JSON, an object, within MAX_DOCUMENT_BYTES."""
    doc = request.get_json(force=True, silent=True)
    if doc is None:
        raise bad_request("the request body must be a JSON document")
    return check_document(doc, current_app.config["MAX_DOCUMENT_BYTES"])
