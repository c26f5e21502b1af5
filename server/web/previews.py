"""Dataset previews for the picker: a few hundred points, a few images or series, or a table.

Query parameters are the dataset spec's own keys (strings, converted by the spec's types) plus
`limit`; previews are small JSON, made from the training split, and cached by spec.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

from server.data import DATASETS, DatasetError, describe, load_dataset
from server.web.errors import ApiError

MAX_POINTS, MAX_IMAGES, MAX_SERIES = 500, 16, 4
MAX_CLASS_IMAGES = 96  # an image upload's preview: up to 8 a class, this many in all


def dataset_preview(name: str, args: dict, data_dir: Path) -> dict:
    """The preview JSON of dataset `name` with the spec given as query `args`."""
    meta = DATASETS.get(name)
    if meta is None:
        raise ApiError("not_found", f"there is no dataset {name!r}; known: {', '.join(DATASETS)}",
                       [{"field": "name", "message": "unknown dataset"}])
    spec, limit = query_spec(meta, args)
    if meta.kind == "download" and not downloaded(name, data_dir):
        raise ApiError("not_found", f"{name} is downloaded the first time a design trains on it; "
                       "its preview is available after that", [{"field": "name",
                                                                "message": "not downloaded"}])
    try:
        return json.loads(_cached(str(data_dir), json.dumps(spec, sort_keys=True), limit))
    except DatasetError as e:
        raise ApiError("bad_request", e.message, [e.to_json()]) from None


def query_spec(meta, args: dict) -> tuple[dict, int]:
    """A dataset spec from query strings, each converted to its param's type; and the limit."""
    params = {p.name: p for p in meta.params}
    spec: dict = {"name": meta.name}
    limit = MAX_POINTS
    for key, raw in args.items():
        if key == "limit":
            limit = _number(key, raw, int)
            if not 1 <= limit <= MAX_POINTS:
                raise _bad(key, f"limit must be from 1 to {MAX_POINTS}; got {limit}")
        elif key not in params:
            raise _bad(key, f"{meta.name} does not take {key!r}; it takes: "
                       f"{', '.join(params) or 'nothing'}")
        elif params[key].type == "shape":
            parts = raw.replace("x", ",").split(",")
            spec[key] = [_number(key, part.strip(), int) for part in parts]
        elif params[key].type == "choice" and all(isinstance(c, int) for c in params[key].choices):
            spec[key] = _number(key, raw, int)
        elif params[key].type in ("int", "float"):
            spec[key] = _number(key, raw, int if params[key].type == "int" else float)
        else:
            spec[key] = raw
    return spec, limit


def downloaded(name: str, data_dir: Path) -> bool:
    """Whether a downloaded dataset's files are already in the cache."""
    from server.data.downloads import FILES, cache_dir

    return all((cache_dir(data_dir, name) / f).exists() for f in FILES)


@functools.lru_cache(maxsize=32)
def _cached(data_dir: str, spec: str, limit: int) -> str:
    return json.dumps(make_preview(json.loads(spec), Path(data_dir), limit))


def make_preview(spec: dict, data_dir: Path, limit: int) -> dict:
    """The preview of a checked spec (loads the data)."""
    if spec["name"] == "csv":
        return table(spec, data_dir)
    if spec["name"] == "text":
        return text(spec, data_dir)
    data = load_dataset(spec, data_dir)
    info, x, y = data.info, data.x_train, data.y_train
    if spec["name"] == "images":  # a grid: a row of examples per class
        from server.data.imagezip import preview_indices

        pick = preview_indices(y, len(info.classes or ()))[:MAX_CLASS_IMAGES]
        x, y = x[pick], y[pick]
        limit = len(pick)
    if info.extent is not None and tuple(info.input_shape) == (2,):
        n = min(limit, MAX_POINTS)
        return {"kind": "points", "x": _round(x[:n]), "y": _targets(y[:n]),
                "extent": list(info.extent), "task": info.task, "input_shape": [2]}
    if len(info.input_shape) == 3:
        n = limit if spec["name"] == "images" else min(limit, MAX_IMAGES)
        return {"kind": "images", "shape": list(info.input_shape),
                "images": _round(x[:n].reshape(len(x[:n]), -1)), "labels": _targets(y[:n]),
                "classes": info.classes, "task": info.task}
    n = min(limit, MAX_SERIES)
    return {"kind": "sequences", "x": _round(x[:n].reshape(len(x[:n]), -1)),
            "y": _targets(y[:n]), "task": info.task, "classes": info.classes,
            "input_shape": list(info.input_shape)}


def table(spec: dict, data_dir: Path) -> dict:
    """An uploaded table: its columns, size, first rows, and what the target makes of it."""
    from server.data.csvfile import inspect_upload

    info = describe(spec, data_dir)
    summary = inspect_upload(data_dir, spec["upload"])
    return {"kind": "table", "columns": summary["columns"], "rows": summary["rows"],
            "preview": summary["preview"], "target": spec["target"], "task": info.task,
            "classes": info.classes, "input_shape": list(info.input_shape)}


def text(spec: dict, data_dir: Path) -> dict:
    """An uploaded text: its opening, length and vocabulary."""
    from server.data.textfile import inspect_text

    info = describe(spec, data_dir)
    summary = inspect_text(data_dir, spec["upload"])
    return {"kind": "text", "preview": summary["preview"], "characters": summary["characters"],
            "vocab": summary["vocab"], "task": info.task, "classes": info.classes,
            "input_shape": list(info.input_shape)}


def _round(a) -> list:
    return [[round(float(v), 4) for v in row] for row in a]


def _targets(y) -> list:
    if y.dtype.kind in "iu":
        return [int(v) for v in y]
    return [round(float(v), 4) for v in y.reshape(len(y), -1)[:, 0]]


def _number(key: str, raw: str, kind: type):
    try:
        value = kind(raw)
    except ValueError:
        raise _bad(key, f"{key} must be {'a whole number' if kind is int else 'a number'}; "
                   f"got {raw!r}"[:300]) from None
    if kind is float and not math.isfinite(value):
        raise _bad(key, f"{key} must be a finite number; got {raw!r}")
    return value


def _bad(field: str, message: str) -> ApiError:
    return ApiError("bad_request", message, [{"field": field, "message": message}])
