"""Parse big CSV uploads in a spawned process: the server's threads share one GIL, so a long
parse in a request thread would stall every other client (issue 16, finding 7).

At most `CSV_PARSE_WORKERS` parses run at once; a parse waits `CSV_PARSE_WAIT` seconds for its
turn and is then refused as busy; the parse process may take `CSV_PARSE_MEMORY_BYTES` of address
space. The app sets them from its config (`configure`); elsewhere the defaults hold.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from .errors import DatasetError

DEFAULTS = {
    "CSV_PARSE_WORKERS": 1,
    "CSV_PARSE_WAIT": 30.0,
    "CSV_PARSE_MEMORY_BYTES": 2 * 2**30,
    "CSV_INLINE_BYTES": 256 * 2**10,  # smaller files parse in the calling thread (milliseconds)
    "CSV_MAX_COLUMNS": 1000,  # as csvfile.MAX_COLUMNS and MAX_ROWS (which import this)
    "CSV_MAX_ROWS": 1_000_000,
}

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_slots: threading.BoundedSemaphore | None = None
_workers = 0


SETTINGS = dict(DEFAULTS)  # the values in force; the app sets them from its config


def configure(config) -> None:
    """Take the parse settings from an app config (a mapping with DEFAULTS' names)."""
    SETTINGS.update({name: config.get(name, default) for name, default in DEFAULTS.items()})


def setting(name: str):
    """A parse setting in force."""
    return SETTINGS[name]


def _cap_memory(limit: int) -> None:
    """In the parse process: past `limit` bytes an allocation fails instead of swapping."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass  # not Linux, or a lower hard limit already: the row and column caps still hold


def _parse_job(raw: bytes, max_columns: int, max_rows: int) -> dict:
    """In the parse process: the table's summary, or its DatasetError as data."""
    from .csvfile import _decode, parse_table

    try:
        return {"value": parse_table(_decode(raw), max_columns=max_columns, max_rows=max_rows)}
    except DatasetError as e:
        return {"error": (e.message, e.field)}
    except MemoryError:
        return {"error": ("the file needs more memory to read than the server allows "
                          "(CSV_PARSE_MEMORY_BYTES); upload a smaller table", "upload")}


def _executor(workers: int, memory: int) -> tuple[ProcessPoolExecutor, threading.Semaphore]:
    global _pool, _slots, _workers
    with _lock:
        if _pool is None or _workers != workers:
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            _pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_cap_memory, initargs=(memory,))
            _slots, _workers = threading.BoundedSemaphore(workers), workers
        return _pool, _slots


def _reset() -> None:
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


def summarise(raw: bytes) -> dict:
    """parse_table of raw CSV bytes under the column and row caps, in a parse process if big."""
    max_columns, max_rows = int(setting("CSV_MAX_COLUMNS")), int(setting("CSV_MAX_ROWS"))
    if len(raw) <= int(setting("CSV_INLINE_BYTES")):
        outcome = _parse_job(raw, max_columns, max_rows)
    else:
        workers = max(1, int(setting("CSV_PARSE_WORKERS")))
        pool, slots = _executor(workers, int(setting("CSV_PARSE_MEMORY_BYTES")))
        if not slots.acquire(timeout=float(setting("CSV_PARSE_WAIT"))):
            raise DatasetError(f"the server is already reading {workers} other upload(s); "
                               "try again in a minute (busy)", "upload")
        try:
            outcome = pool.submit(_parse_job, raw, max_columns, max_rows).result()
        except BrokenProcessPool:
            _reset()
            raise DatasetError("reading the file took more memory than the server allows "
                               "(CSV_PARSE_MEMORY_BYTES); upload a smaller table",
                               "upload") from None
        finally:
            slots.release()
    if "error" in outcome:
        raise DatasetError(*outcome["error"])
    return outcome["value"]
