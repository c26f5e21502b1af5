"""The baseline JSON as text carries it: the boundary frame's bytes as base64."""

from __future__ import annotations

import base64


def json_ready(result: dict) -> dict:
    """`result` with boundary.data (uint8 bytes, as Socket.IO sends them) as base64 text and
    boundary.encoding "base64", for HTTP bodies and `layerlab baseline --json`."""
    frame = result.get("boundary")
    if frame is None or not isinstance(frame.get("data"), (bytes, bytearray)):
        return result
    data = base64.b64encode(bytes(frame["data"])).decode("ascii")
    return {**result, "boundary": {**frame, "data": data, "encoding": "base64"}}
