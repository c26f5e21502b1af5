"""The JSON sidecar kept beside an uploaded file (its kind and summary), read back with one
error per way it can fail, each saying to upload the file again."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import DatasetError


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
