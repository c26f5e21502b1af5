"""The JSON sidecar kept beside an uploaded file (its kind and summary), read back with one
error per way it can fail, each saying to upload the file again."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path

from .atomic import write_atomic
from .errors import DatasetError

SIDECAR_VERSION = 1


def store_upload(path_of: Callable[[str], Path], kind: str, filename: str, default: str,
                 data: bytes, summary: dict) -> tuple[str, dict]:
    """Write an upload and its sidecar under a new id: (the id, the sidecar's contents)."""
    filename = Path(str(filename or default).replace("\\", "/")).name[:200] or default
    upload_id = secrets.token_hex(8)
    path = path_of(upload_id)
    write_atomic(path, data)
    meta = {"version": SIDECAR_VERSION, "kind": kind, "filename": filename, **summary}
    write_atomic(path.with_suffix(".json"), json.dumps(meta).encode())
    return upload_id, meta


def read_sidecar(path: Path, kind: str, what: str, upload_id: str) -> dict:
    """The summary stored beside upload `path`, checked to be of `kind` (`what` names it)."""
    try:
        meta = json.loads(path.with_suffix(".json").read_text())
    except FileNotFoundError:
        raise DatasetError(f"{what} upload {upload_id!r} was not found; upload the file again",
                           "upload") from None
    except (OSError, ValueError) as e:
        raise DatasetError(f"{what} upload {upload_id!r} cannot be read ({e}); upload it again",
                           "upload") from None
    if meta.get("kind") != kind or not path.is_file():
        raise DatasetError(f"upload {upload_id!r} is not a {what} upload; upload the file again",
                           "upload")
    return meta
