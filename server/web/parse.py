"""Reading requests: strict, bounded JSON in (HTTP bodies and Socket.IO packets), strict out.

Whatever a client sends, reading it ends in a value or a `bad_request` naming where the
problem is: never a RecursionError, a TypeError from a bytes value, or a NaN kept as a number.
"""

from __future__ import annotations

import json
import re

from flask import current_app, request
from socketio import packet

from server.web.errors import ApiError, bad_request, finite

MAX_DEPTH = 64  # most levels of nested arrays and objects; documents need about 6
CONTAINERS = (dict, list)
MAX_NUMBER = 2**53  # largest magnitude of a number: beyond it JavaScript loses integers
JSON_TYPES = "application/json"
RESERVED = "reserved:"  # prefix of a client-sent event named like connect or disconnect
RESERVED_EVENTS = ("connect", "connect_error", "disconnect", "*")  # "*" names the catch-all
EVENT_NAME = re.compile(r'\s*\[\s*"([A-Za-z0-9_:.-]{1,64})"')


class BadNumber:
    """A number literal strict JSON refuses (NaN, Infinity, or too large), kept to be named."""

    def __init__(self, text: str):
        self.text = text


class Invalid:
    """A Socket.IO payload that could not be read; its handler answers with the message."""

    def __init__(self, message: str, event: str = ""):
        self.message = message
        self.event = event


def _decode(text: str):
    """json.loads with NaN and Infinity kept aside as BadNumber (numbers are checked after)."""
    # No parse_int/parse_float hooks: a Python call per number makes a 4 MiB body take seconds.
    return json.loads(text, parse_constant=BadNumber)


def parse_json(text: str | bytes, what: str = "the document"):
    """A strict JSON value from text: bounded depth and numbers, or a bad_request."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise bad_request(f"{what} is not UTF-8 text (byte {e.start})") from None
    try:
        value = _decode(text)
    except RecursionError:
        raise bad_request(f"{what} is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as e:
        if "integer string conversion" in str(e):
            raise bad_request(f"{what} holds a number of more than 4,300 digits") from None
        raise bad_request(f"{what} is not a JSON document: {e}"[:300]) from None
    return check_json(value, what)


def check_json(value, what: str = "the document"):
    """`value` if it is plain JSON within the bounds; else a bad_request naming the field."""
    if not _plain(value):
        _refuse(value, what)
    return value


def _plain(value) -> bool:
    """Whether a value is plain JSON within the bounds: the fast check, level by level."""
    level, depth = [value], 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            return False
        below = []
        for node in level:
            kind = type(node)
            if kind is dict:
                if not all(key.isascii() or _unicode(key) for key in node):
                    return False
                node = node.values()
            elif kind is not list:
                return _problem(node) is None
            for item in node:
                kind = type(item)
                if kind is str:
                    if item.isascii() or _unicode(item):
                        continue
                    return False
                if kind is bool or item is None:
                    continue
                if kind is int or kind is float:
                    if -MAX_NUMBER <= item <= MAX_NUMBER:  # False for NaN too
                        continue
                    return False
                if kind is dict or kind is list:
                    below.append(item)
                    continue
                return False
        level = below
    return True


def _refuse(value, what: str) -> None:
    """Raise the bad_request for the first problem in a value _plain refused, naming where."""
    if isinstance(value, Invalid):
        raise bad_request(value.message)
    problem = _problem(value)
    if problem:
        raise bad_request(f"{what} {problem}"[:300])
    stack = [(value, ())]
    while stack:
        node, path = stack.pop()
        if len(path) >= MAX_DEPTH:
            raise bad_request(f"{where(what, path)} is nested more than {MAX_DEPTH} levels deep")
        for key, item in node.items() if type(node) is dict else enumerate(node):
            problem = _problem(key) if type(node) is dict else None
            if problem:
                raise bad_request(f"{where(what, (*path, key))}'s name {problem}"[:300])
            problem = _problem(item)
            if problem == "":
                stack.append((item, (*path, key)))
            elif problem:
                raise bad_request(f"{where(what, (*path, key))} {problem}"[:300])


def _problem(value) -> str | None:
    """Why a value is not plain, bounded JSON; '' for a container, None for a fine scalar."""
    kind = type(value)
    if kind is dict or kind is list:
        return ""
    if kind is int or kind is float:
        if -MAX_NUMBER <= value <= MAX_NUMBER:  # False for NaN; no float() of a huge int
            return None
        text = str(value)
        text = text if len(text) <= 24 else f"{text[:12]}… ({len(text)} digits)"
        return f"is {text}: numbers must be finite and at most 2**53 in magnitude"
    if kind is str:
        if value.isascii() or _unicode(value):
            return None
        return "holds a lone surrogate (half of a UTF-16 pair): text must be valid Unicode"
    if value is None or kind is bool:
        return None
    if isinstance(value, BadNumber):
        return (f"is {value.text[:40]}: JSON numbers must be finite and at most 2**53 in "
                "magnitude (NaN and Infinity are not JSON)")
    if isinstance(value, (bytes, bytearray)):
        return "holds binary data; send JSON values only"
    if isinstance(value, Invalid):
        return value.message
    return f"holds a {kind.__name__}, not a JSON value"


def _unicode(text: str) -> bool:
    """Whether a string is valid Unicode: JSON's \\ud800 escapes can leave half a pair."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def where(what: str, path: tuple) -> str:
    """A field path as people write it: nodes[0].params.shape (or `what` for the whole)."""
    if not path:
        return what
    out = ""
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        elif key.isidentifier() and len(key) <= 40:
            out += f".{key}" if out else key
        else:
            out += f"[{json.dumps(key[:40])}]"
    return out if len(out) <= 120 else out[:120] + "…"


def check_document(doc: object, limit: int, what: str = "the document") -> dict:
    """A payload (already through check_json) that must be a network document: a JSON object
    within the size limit."""
    if not isinstance(doc, dict):
        raise bad_request(f"{what} must be a JSON object; got {_kind(doc)}")
    size = len(json.dumps(doc, separators=(",", ":")))
    if size > limit:
        raise bad_request(f"{what} is {size / 2**20:.1f} MiB; the limit is "
                          f"{limit / 2**20:.1f} MiB")
    return doc


def _kind(value: object) -> str:
    return {list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "nothing"}.get(type(value), "binary data"
                                                         if isinstance(value, bytes) else
                                                         type(value).__name__)


def body_document() -> dict:
    """The request body as a document: application/json, strict JSON, an object, bounded."""
    if request.mimetype != JSON_TYPES:
        raise ApiError("unsupported_media_type", f"send the document as {JSON_TYPES}; got "
                       f"{request.mimetype or 'no Content-Type'!r}"[:300])
    limit = current_app.config["MAX_DOCUMENT_BYTES"]
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise ApiError("too_large", f"the request body is larger than the "
                       f"{limit / 2**20:.1f} MiB limit")
    if not raw.strip():
        raise bad_request("the request body must be a JSON document")
    return check_document(parse_json(raw, "the request body"), limit)


# -- Socket.IO -------------------------------------------------------------------------------


class StrictJSON:
    """The json module python-socketio encodes and decodes packets with."""

    @staticmethod
    def dumps(obj, **kwargs) -> str:
        """Strict JSON: a non-finite float is written as null."""
        try:
            return json.dumps(obj, allow_nan=False, **kwargs)
        except ValueError:  # rare (a NaN metric): only then walk the value
            return json.dumps(finite(obj), allow_nan=False, **kwargs)

    @staticmethod
    def loads(text, **kwargs):
        """The decoded value, or an Invalid saying why not (the packet still gets an answer)."""
        name = EVENT_NAME.match(text) if isinstance(text, str) else None
        event = name.group(1) if name else ""
        try:
            return _decode(text)
        except RecursionError:
            return Invalid(f"the payload is nested more than {MAX_DEPTH} levels deep", event)
        except (ValueError, TypeError) as e:
            return Invalid(f"the payload is not valid JSON: {e}"[:300], event)


class StrictPacket(packet.Packet):
    """Socket.IO packets read through StrictJSON, bounded in depth, each event answerable."""

    json = StrictJSON

    def decode(self, encoded_packet):
        """Decode as python-socketio does, then make the data safe to dispatch."""
        attachments = super().decode(encoded_packet)
        kind = self.packet_type
        if kind in (packet.EVENT, packet.BINARY_EVENT):
            self.data = event_data(self.data)
        elif kind in (packet.ACK, packet.BINARY_ACK):
            self.data = [bounded(v) for v in self.data] if isinstance(self.data, list) else [
                bounded(self.data)]
        elif kind == packet.CONNECT:
            self.data = bounded(self.data)
        return attachments

    @classmethod
    def reconstruct_binary(cls, data, attachments):
        """Put the attachments in place; placeholders that do not match make the data Invalid."""
        try:
            return super().reconstruct_binary(data, attachments)
        except (IndexError, KeyError, TypeError):
            event = data[0] if isinstance(data, list) and data else ""
            return [event, Invalid("the binary attachments do not match their placeholders")]


def event_data(data) -> list:
    """[name, *args] that python-socketio can dispatch, whatever the client sent."""
    if isinstance(data, Invalid):
        return [data.event, data]
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        return ["", Invalid("a Socket.IO event is a list: [name, payload]")]
    name = data[0]
    if name in RESERVED_EVENTS:
        name = RESERVED + name  # the catch-all answers it, not the connection's own handler
    return [name, *(bounded(arg) for arg in data[1:])]


def bounded(value):
    """`value`, or an Invalid if it nests deeper than MAX_DEPTH (before the library recurses)."""
    level, depth = [value], 0
    while level:
        depth += 1
        below = []
        for node in level:
            kind = type(node)
            if kind is dict:
                node = node.values()
            elif kind is not list:
                continue
            below += [v for v in node if type(v) in CONTAINERS]
        if below and depth >= MAX_DEPTH:
            return Invalid(f"the payload is nested more than {MAX_DEPTH} levels deep")
        level = below
    return value
