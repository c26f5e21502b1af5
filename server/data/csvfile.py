"""Uploaded CSV tables: checking, storing and summarising them (pure Python, stdlib only)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import secrets
import threading
from array import array
from pathlib import Path
from typing import Any

from .atomic import write_atomic
from .errors import DatasetError
from .parsing import summarise

UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_BYTES = 20 * 2**20
NUMERIC_CLASS_LIMIT = 20  # a whole-number target with at most this many values is a class label
MAX_CLASSES = 100  # a class column may have at most this many distinct values
PREVIEW_ROWS = 5
MAX_COLUMNS = 1000  # defaults of CSV_MAX_COLUMNS / CSV_MAX_ROWS (server/data/parsing.py)
MAX_ROWS = 1_000_000
SIDECAR_VERSION = 1
_DELIMITERS = (",", ";", "\t", "|")


def _number(cell: str) -> float | None:
    """The cell as a finite float, else None."""
    if "_" in cell:
        return None
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _fmt(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _where(line: int, row: int) -> str:
    return f"line {line} (data row {row})"


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _delimiter(text: str) -> str:
    first = text.lstrip("\r\n").split("\n", 1)[0]
    counts = {d: first.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _rows(text: str, delimiter: str):
    """Yield (line number, cells) for each non-blank row."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        for cells in reader:
            cells = [c.strip() for c in cells]
            if any(cells):
                yield reader.line_num, cells
    except csv.Error as exc:
        raise DatasetError(f"the file is not a readable CSV table at line {reader.line_num}: "
                           f"{exc}", "upload") from exc


class _Column:
    """Running facts about one column while a table is read."""

    def __init__(self, name: str):
        self.name, self.bad, self.integral = name, None, True
        self.nums: set[float] = set()
        self.texts: set[str] = set()

    def add(self, cell: str, line: int, row: int) -> None:
        """Count one cell (at a file line and data row) into the column's facts."""
        value = _number(cell)
        if value is None:
            if self.bad is None:
                self.bad = [line, row, cell]
        else:
            self.integral = self.integral and value.is_integer()
            if len(self.nums) <= MAX_CLASSES:
                self.nums.add(value)
        if len(self.texts) <= MAX_CLASSES:
            self.texts.add(cell)

    def summary(self) -> dict:
        """The column's facts as JSON: numeric, first bad value, integral, distinct values."""
        numeric = self.bad is None
        if numeric:
            distinct: list = sorted(self.nums)
        else:
            distinct = sorted(self.texts)
        return {"numeric": numeric, "bad": self.bad, "integral": numeric and self.integral,
                "distinct": distinct[:MAX_CLASSES], "overflow": len(distinct) > MAX_CLASSES}


def _header(text: str, max_columns: int | None = None) -> tuple[str, list[str], Any]:
    if not text.strip():
        raise DatasetError("the file is empty", "upload")
    delimiter = _delimiter(text)
    rows = _rows(text, delimiter)
    try:
        _, header = next(rows)
    except StopIteration:
        raise DatasetError("the file is empty", "upload") from None
    for i, name in enumerate(header, 1):
        if not name:
            raise DatasetError(f"column {i} has no name: the first line must name every column",
                               "upload")
    if len(set(header)) != len(header):
        dup = next(n for n in header if header.count(n) > 1)
        raise DatasetError(f"column name {dup!r} appears more than once in the header", "upload")
    if all(_number(n) is not None for n in header):
        raise DatasetError("the first line must be a header naming the columns; it holds only "
                           f"numbers ({', '.join(header[:4])})", "upload")
    if len(header) < 2:
        raise DatasetError("the table needs at least two columns: features and a target",
                           "upload")
    if max_columns is not None and len(header) > max_columns:
        # Checked on the header, before any row: each column costs memory while reading.
        raise DatasetError(f"the table has {len(header):,} columns; the limit is "
                           f"{max_columns:,} (setting CSV_MAX_COLUMNS)", "upload")
    return delimiter, header, rows


def parse_table(text: str, *, max_columns: int = MAX_COLUMNS, max_rows: int = MAX_ROWS) -> dict:
    """Check a CSV table's structure and summarise its columns (raises DatasetError)."""
    delimiter, header, rows = _header(text, max_columns)
    cols = [_Column(n) for n in header]
    preview: list[list[str]] = []
    n = 0
    for line, cells in rows:
        n += 1
        if n > max_rows:
            raise DatasetError(f"the table has more than {max_rows:,} data rows; the limit is "
                               f"{max_rows:,} (setting CSV_MAX_ROWS)", "upload")
        if len(cells) != len(header):
            raise DatasetError(f"{_where(line, n)} has {len(cells)} values but the header has "
                               f"{len(header)} columns", "upload")
        for col, cell in zip(cols, cells, strict=True):
            if not cell:
                raise DatasetError(f"{_where(line, n)} has an empty value in column "
                                   f"{col.name!r}; fill it in or remove the row", "upload")
            col.add(cell, line, n)
        if len(preview) < PREVIEW_ROWS:
            preview.append(cells)
    if n < 2:
        raise DatasetError(f"the table needs at least 2 data rows below the header (found {n})",
                           "upload")
    stats = [c.summary() for c in cols]
    text_cols = [c for c in cols if c.bad is not None]
    if len(text_cols) > 1:
        c = text_cols[1]
        line, row, value = c.bad
        raise DatasetError(f"column {c.name!r} has a non-numeric value {value!r} at "
                           f"{_where(line, row)}; only one column (the target) may hold text, "
                           f"and {text_cols[0].name!r} already does", "upload")
    return {"columns": header, "rows": n, "delimiter": delimiter, "preview": preview,
            "stats": stats}


def upload_path(data_dir: str | os.PathLike, upload_id: Any) -> Path:
    """The path of an upload's CSV file (checks the id's form, not that the file exists)."""
    if not isinstance(upload_id, str) or not UPLOAD_ID.match(upload_id):
        raise DatasetError(f"upload id must match [A-Za-z0-9_-]{{1,64}} (got {upload_id!r})",
                           "upload")
    return Path(data_dir) / "uploads" / f"{upload_id}.csv"


def _sidecar(path: Path, summary: dict, filename: str) -> None:
    st = path.stat()
    meta = {"version": SIDECAR_VERSION, "filename": filename, "size": st.st_size,
            "mtime_ns": st.st_mtime_ns, **summary}
    write_atomic(path.with_suffix(".json"), json.dumps(meta).encode())


def _public(upload_id: str, summary: dict, filename: str) -> dict:
    kinds = {c: ("numeric" if s["numeric"] else "text")
             for c, s in zip(summary["columns"], summary["stats"], strict=True)}
    text = [c for c, k in kinds.items() if k == "text"]
    return {"upload_id": upload_id, "filename": filename, "columns": summary["columns"],
            "rows": summary["rows"], "preview": summary["preview"], "kinds": kinds,
            "suggested_target": text[0] if text else summary["columns"][-1]}


def save_upload(data_dir: str | os.PathLike, filename: str, raw_bytes: bytes,
                max_bytes: int = MAX_BYTES) -> dict:
    """Check and store an uploaded CSV; returns {upload_id, columns, rows, preview, ...}."""
    if len(raw_bytes) > max_bytes:
        raise DatasetError(f"the file is {len(raw_bytes) / 2**20:.1f} MiB; the limit is "
                           f"{max_bytes / 2**20:.0f} MiB", "upload")
    summary = summarise(raw_bytes)  # a big file is read in a parse process, not this thread
    filename = Path(str(filename or "upload.csv").replace("\\", "/")).name[:200] or "upload.csv"
    upload_id = secrets.token_hex(8)
    path = upload_path(data_dir, upload_id)
    write_atomic(path, raw_bytes)
    _sidecar(path, summary, filename)
    return _public(upload_id, summary, filename)


_summaries: dict[str, tuple[tuple, dict]] = {}  # path -> (stamp, summary), newest last
_SUMMARIES_KEPT = 32


_summaries_lock = threading.Lock()


def _remember(key: str, stamp: tuple, summary: dict) -> None:
    with _summaries_lock:
        _summaries.pop(key, None)
        _summaries[key] = (stamp, summary)
        while len(_summaries) > _SUMMARIES_KEPT:
            _summaries.pop(next(iter(_summaries)))


def inspect_upload(data_dir: str | os.PathLike, upload_id: Any) -> dict:
    """An upload's summary: from its sidecar JSON when fresh, else by reading the file."""
    path = upload_path(data_dir, upload_id)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise DatasetError(f"upload {upload_id!r} was not found; upload the CSV file again",
                           "upload") from None
    stamp = (SIDECAR_VERSION, st.st_size, st.st_mtime_ns)
    cached = _summaries.get(str(path))
    if cached is not None and cached[0] == stamp:
        return cached[1]  # every validate of a design asks: never re-read even the sidecar
    try:
        meta = json.loads(path.with_suffix(".json").read_text())
        if (meta.get("version"), meta.get("size"), meta.get("mtime_ns")) == stamp:
            _remember(str(path), stamp, meta)
            return meta
    except (OSError, ValueError):
        pass
    summary = summarise(path.read_bytes())
    try:
        _sidecar(path, summary, path.name)
    except OSError:
        pass
    return summary


def _target(summary: dict, target: Any, task: str) -> dict:
    """Decide the target column's task and classes."""
    columns = summary["columns"]
    if target not in columns:
        raise DatasetError(f"target column {target!r} is not in the table; its columns are: "
                           f"{', '.join(columns)}", "target")
    ti = columns.index(target)
    for name, s in zip(columns, summary["stats"], strict=True):
        if name != target and not s["numeric"]:
            line, row, value = s["bad"]
            raise DatasetError(f"column {name!r} has a non-numeric value {value!r} at "
                               f"{_where(line, row)}; every column except the target must hold "
                               f"numbers (choose {name!r} as the target or fix the file)",
                               "target")
    s = summary["stats"][ti]
    if task == "auto":
        small = s["integral"] and not s["overflow"] and len(s["distinct"]) <= NUMERIC_CLASS_LIMIT
        task = "classification" if not s["numeric"] or small else "regression"
    if task == "regression":
        if not s["numeric"]:
            line, row, value = s["bad"]
            raise DatasetError(f"regression needs a numeric target, but column {target!r} has "
                               f"{value!r} at {_where(line, row)}", "task")
        return {"task": task, "classes": None, "target_index": ti}
    if s["overflow"]:
        raise DatasetError(f"target column {target!r} has more than {MAX_CLASSES} distinct "
                           "values; too many classes (use a numeric target for regression)",
                           "target")
    values = s["distinct"]
    if len(values) < 2:
        raise DatasetError(f"target column {target!r} has a single value; classification needs "
                           "at least 2 classes", "target")
    classes = [_fmt(v) for v in values] if s["numeric"] else list(values)
    return {"task": task, "classes": classes, "target_index": ti, "values": values}


def describe_upload(data_dir: str | os.PathLike, upload_id: Any, target: Any,
                    task: str = "auto") -> dict:
    """Task, classes, feature count and rows of an upload with a chosen target column."""
    summary = inspect_upload(data_dir, upload_id)
    info = _target(summary, target, task)
    return {**info, "rows": summary["rows"], "n_features": len(summary["columns"]) - 1,
            "features": [c for c in summary["columns"] if c != target]}


def read_upload(data_dir: str | os.PathLike, upload_id: Any, target: Any,
                task: str = "auto") -> tuple[array, array, dict]:
    """Read an upload: (flat float features, targets as floats or class indices, info)."""
    info = describe_upload(data_dir, upload_id, target, task)
    path = upload_path(data_dir, upload_id)
    text = _decode(path.read_bytes())
    ti = info["target_index"]
    index: dict[Any, int] | None = None
    if info["task"] == "classification":
        index = {v: i for i, v in enumerate(info["values"])}
    feats, ys = array("d"), array("d")
    _, _, rows = _header(text)
    for _, cells in rows:
        for j, cell in enumerate(cells):
            if j != ti:
                feats.append(float(cell))
        cell = cells[ti]
        if index is None:
            ys.append(float(cell))
        else:
            key: Any = cell if isinstance(info["values"][0], str) else float(cell)
            ys.append(index[key])
    return feats, ys, info
