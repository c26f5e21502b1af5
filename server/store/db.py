"""The SQLite store: one file in WAL mode, one connection behind a lock, one transaction per write.

A `kill -9` of the server loses nothing committed: WAL with synchronous=NORMAL survives a crash of
the process (not of the machine), and every write below commits before it returns.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS designs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    document TEXT NOT NULL,        -- the network document as JSON
    created REAL NOT NULL,         -- unix time
    updated REAL NOT NULL,
    owner_hash TEXT                -- sha256 of the owner secret; NULL: saved before owners
);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,      -- sha256 of the owner token; the token itself is never kept
    name TEXT NOT NULL,
    document TEXT NOT NULL,        -- the design as it was trained
    status TEXT NOT NULL,          -- queued | starting | running | paused | finished | ...
    device TEXT,
    step INTEGER NOT NULL DEFAULT 0,
    epoch INTEGER NOT NULL DEFAULT 0,
    message TEXT,                  -- why a run failed or stopped
    created REAL NOT NULL,
    finished REAL,
    summary TEXT,                  -- final metrics as JSON
    design_key TEXT,               -- hash of the graph (server.runs.design_key): compare runs
    next_run_id TEXT               -- the run its owner started next (follow_on): watchers move on
);
CREATE TABLE IF NOT EXISTS points (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    data TEXT NOT NULL             -- one run_metrics point as JSON
);
CREATE INDEX IF NOT EXISTS points_by_run ON points (run_id, seq);
CREATE TABLE IF NOT EXISTS baselines (
    design_key TEXT NOT NULL,      -- the graph's hash, as runs.design_key
    dataset_key TEXT NOT NULL,     -- the dataset spec's hash (server.baseline.dataset_key)
    trees INTEGER NOT NULL,
    result TEXT NOT NULL,          -- the baseline JSON, without the boundary's bytes
    boundary BLOB,                 -- the boundary frame's uint8 data (2-D datasets)
    created REAL NOT NULL,
    PRIMARY KEY (design_key, dataset_key)  -- the latest baseline of a design on its data
);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    client TEXT NOT NULL,          -- the remote address that sent it (per-client quotas)
    bytes INTEGER NOT NULL,
    created REAL NOT NULL
);
"""
# Added after the first release: databases made before them gain the columns when opened.
MIGRATIONS = (("runs", "design_key", "TEXT"), ("runs", "next_run_id", "TEXT"),
              ("designs", "owner_hash", "TEXT"))
INDEXES = """CREATE INDEX IF NOT EXISTS runs_by_design ON runs (design_key, created);
CREATE INDEX IF NOT EXISTS designs_by_owner ON designs (owner_hash, updated);
CREATE INDEX IF NOT EXISTS uploads_by_client ON uploads (client);"""
TERMINAL = ("finished", "stopped", "failed")
RUN_FIELDS = ("status", "device", "step", "epoch", "message", "finished", "summary")
MAX_CHAIN = 10_000  # links followed at most from one run (links never make a loop; a guard)
SIZE_CACHE_SECONDS = 5.0  # how long one walk of the data folder's size is reused


class StoreError(Exception):
    """The store cannot do what was asked (the message says what)."""


class Store:
    """Designs, runs and metric history in `<data_dir>/layerlab.db`; weights in run folders."""

    def __init__(self, data_dir: str | Path):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.data_dir / "layerlab.db"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            self._db.executescript(SCHEMA)
            for table, column, kind in MIGRATIONS:
                have = {r["name"] for r in self._db.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            self._db.executescript(INDEXES)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed)."""
        with self._lock:
            self._db.close()

    def run_dir(self, run_id: str) -> Path:
        """The folder that holds a run's files (weights, exports)."""
        return self.data_dir / "runs" / run_id

    # -- designs -------------------------------------------------------------------------------

    def list_designs(self, owner_hashes: list[str] | None = None) -> list[dict]:
        """Designs newest first, without documents: every one, or those of some owners."""
        if owner_hashes is not None and not owner_hashes:
            return []
        marks = ", ".join("?" * len(owner_hashes or ()))
        where = f"WHERE owner_hash IN ({marks})" if owner_hashes else ""
        rows = self._read(f"SELECT id, name, created, updated FROM designs {where} "
                          f"ORDER BY updated DESC", tuple(owner_hashes or ()))
        return [dict(r) for r in rows]

    def get_design(self, design_id: str) -> dict | None:
        """One design with its document, or None (its owner_hash is not part of it)."""
        rows = self._read("SELECT id, name, document, created, updated FROM designs "
                          "WHERE id = ?", (design_id,))
        return _design(rows[0]) if rows else None

    def design_owner(self, design_id: str) -> tuple[bool, str | None]:
        """(whether the design exists, its owner_hash or None)."""
        rows = self._read("SELECT owner_hash FROM designs WHERE id = ?", (design_id,))
        return (True, rows[0]["owner_hash"]) if rows else (False, None)

    def owner_usage(self, owner_hash: str, besides: str = "") -> tuple[int, int]:
        """(designs, bytes of their documents) one owner keeps, besides one design."""
        row = self._read("SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(document)), 0) AS b "
                         "FROM designs WHERE owner_hash = ? AND id != ?",
                         (owner_hash, besides))[0]
        return row["n"], row["b"]

    def create_design(self, document: dict, owner_hash: str | None = None) -> dict:
        """Save a new design; returns it with its id."""
        design_id, now = secrets.token_urlsafe(6), time.time()
        with self._tx() as db:
            db.execute("INSERT INTO designs (id, name, document, created, updated, owner_hash) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       (design_id, _name(document), json.dumps(document), now, now, owner_hash))
        return self.get_design(design_id)

    def update_design(self, design_id: str, document: dict) -> dict | None:
        """Replace a design's document; None when there is no such design."""
        with self._tx() as db:
            cur = db.execute("UPDATE designs SET name = ?, document = ?, updated = ? WHERE id = ?",
                             (_name(document), json.dumps(document), time.time(), design_id))
        return self.get_design(design_id) if cur.rowcount else None

    def delete_design(self, design_id: str) -> bool:
        """Delete a design; False when there was none."""
        with self._tx() as db:
            return db.execute("DELETE FROM designs WHERE id = ?", (design_id,)).rowcount > 0

    # -- uploads and stored bytes --------------------------------------------------------------

    def add_upload(self, upload_id: str, client: str, size: int) -> None:
        """Record who sent an upload (per-client quotas)."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO uploads VALUES (?, ?, ?, ?)",
                       (upload_id, client, size, time.time()))

    def client_uploads(self, client: str, since: float = 0.0) -> tuple[int, int]:
        """(uploads, their bytes) one client has sent since a unix time."""
        row = self._read("SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM uploads "
                         "WHERE client = ? AND created >= ?", (client, since))[0]
        return row["n"], row["b"]

    def stored_bytes(self) -> int:
        """The data folder's size in bytes (one walk reused for a few seconds)."""
        now = time.monotonic()
        cached = getattr(self, "_size", None)
        if cached and now - cached[0] < SIZE_CACHE_SECONDS:
            return cached[1]
        total = 0
        for folder, _dirs, files in os.walk(self.data_dir):
            for name in files:
                try:
                    total += os.lstat(os.path.join(folder, name)).st_size
                except OSError:
                    pass  # removed while walking
        self._size = (now, total)
        return total

    def forget_size(self) -> None:
        """The next stored_bytes walks again (after a write that matters)."""
        self._size = None

    # -- runs ----------------------------------------------------------------------------------

    def create_run(self, run_id: str, token_hash: str, document: dict,
                   design_key: str | None = None) -> None:
        """Record a new, queued run."""
        with self._tx() as db:
            db.execute("INSERT INTO runs (id, token_hash, name, document, status, created, "
                       "design_key) VALUES (?, ?, ?, ?, 'queued', ?, ?)",
                       (run_id, token_hash, _name(document), json.dumps(document), time.time(),
                        design_key))

    def list_runs(self, design_key: str | None = None, limit: int = 20) -> list[dict]:
        """Runs newest first (of one design when `design_key` is given), without history."""
        where, args = ("WHERE design_key = ?", (design_key,)) if design_key else ("", ())
        rows = self._read(f"SELECT id, name, status, created, finished, summary, document, "
                          f"design_key FROM runs {where} ORDER BY created DESC, rowid DESC "
                          f"LIMIT ?", (*args, limit))
        return [{"run_id": r["id"], "name": r["name"], "status": r["status"],
                 "created": r["created"], "finished": r["finished"],
                 "summary": json.loads(r["summary"]) if r["summary"] else None,
                 "training": json.loads(r["document"]).get("training"),
                 "design_key": r["design_key"]} for r in rows]

    def runs_without_design_key(self) -> list[tuple[str, dict]]:
        """(id, document) of runs recorded before design keys existed."""
        rows = self._read("SELECT id, document FROM runs WHERE design_key IS NULL")
        return [(r["id"], json.loads(r["document"])) for r in rows]

    def set_design_keys(self, keys: dict[str, str]) -> None:
        """Record the design key of some runs: {run id: key}."""
        with self._tx() as db:
            db.executemany("UPDATE runs SET design_key = ? WHERE id = ?",
                           [(key, run_id) for run_id, key in keys.items()])

    def update_run(self, run_id: str, **fields) -> None:
        """Set some of status, device, step, epoch, message, finished, summary (a dict)."""
        unknown = set(fields) - set(RUN_FIELDS)
        if unknown:
            raise StoreError(f"runs have no field {sorted(unknown)[0]!r}")
        if "summary" in fields and fields["summary"] is not None:
            fields["summary"] = json.dumps(fields["summary"])
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._tx() as db:
            db.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*fields.values(), run_id))

    def set_next_run(self, run_id: str, next_run_id: str) -> None:
        """Record the run a run's owner started next (talk mode: its audience follows)."""
        with self._tx() as db:
            db.execute("UPDATE runs SET next_run_id = ? WHERE id = ?", (next_run_id, run_id))

    def chain(self, run_id: str) -> list[str]:
        """The run ids from `run_id` along its next_run_id links, in order ([] when unknown)."""
        rows = self._read(
            "WITH RECURSIVE chain(id, next, depth) AS ("
            " SELECT id, next_run_id, 0 FROM runs WHERE id = ?"
            " UNION ALL SELECT runs.id, runs.next_run_id, chain.depth + 1"
            " FROM runs JOIN chain ON runs.id = chain.next WHERE chain.depth < ?)"
            " SELECT id FROM chain ORDER BY depth", (run_id, MAX_CHAIN))
        return [r["id"] for r in rows]

    def get_run(self, run_id: str) -> dict | None:
        """A run's row (document and summary parsed), or None."""
        rows = self._read("SELECT * FROM runs WHERE id = ?", (run_id,))
        if not rows:
            return None
        run = dict(rows[0])
        run["document"] = json.loads(run["document"])
        run["summary"] = json.loads(run["summary"]) if run["summary"] else None
        return run

    def add_points(self, run_id: str, points: list[dict]) -> None:
        """Append metric points to a run's history in one transaction."""
        if points:
            with self._tx() as db:
                db.executemany("INSERT INTO points (run_id, step, data) VALUES (?, ?, ?)",
                               [(run_id, p.get("step", 0), json.dumps(p)) for p in points])

    def points(self, run_id: str) -> list[dict]:
        """A run's whole metric history, in order."""
        rows = self._read("SELECT data FROM points WHERE run_id = ? ORDER BY seq", (run_id,))
        return [json.loads(r["data"]) for r in rows]

    def delete_run(self, run_id: str) -> bool:
        """Delete an ended run: its points, its row and its folder; False when there was none."""
        with self._tx() as db:
            db.execute("DELETE FROM points WHERE run_id = ?", (run_id,))
            db.execute("UPDATE runs SET next_run_id = NULL WHERE next_run_id = ?", (run_id,))
            gone = db.execute("DELETE FROM runs WHERE id = ?", (run_id,)).rowcount > 0
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)
        self.forget_size()
        return gone

    # -- baselines -----------------------------------------------------------------------------

    def save_baseline(self, design_key: str, dataset_key: str, result: dict) -> dict:
        """Keep a design's random-forest baseline on one dataset, replacing the one before;
        returns it with `created`."""
        now = time.time()
        frame = result.get("boundary")
        kept = {**result, "created": now}
        if frame is not None:
            kept["boundary"] = {k: v for k, v in frame.items() if k != "data"}
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO baselines (design_key, dataset_key, trees, "
                       "result, boundary, created) VALUES (?, ?, ?, ?, ?, ?)",
                       (design_key, dataset_key, result["trees"], json.dumps(kept),
                        frame["data"] if frame is not None else None, now))
        return {**result, "created": now}

    def baselines(self, design_keys: list[str], dataset_key: str | None = None) -> list[dict]:
        """The stored baselines of some designs (on one dataset when given), newest first,
        each with its boundary's bytes."""
        if not design_keys:
            return []
        marks = ", ".join("?" * len(design_keys))
        where, args = f"design_key IN ({marks})", list(design_keys)
        if dataset_key is not None:
            where, args = f"{where} AND dataset_key = ?", [*args, dataset_key]
        rows = self._read(f"SELECT result, boundary FROM baselines WHERE {where} "
                          f"ORDER BY created DESC, rowid DESC", tuple(args))
        out = []
        for row in rows:
            result = json.loads(row["result"])
            if row["boundary"] is not None and "boundary" in result:
                result["boundary"]["data"] = bytes(row["boundary"])
            out.append(result)
        return out

    def mark_interrupted(self) -> list[str]:
        """Runs left unfinished by a server that died: mark them failed; returns their ids."""
        marks = ", ".join("?" * len(TERMINAL))
        rows = self._read(f"SELECT id FROM runs WHERE status NOT IN ({marks})", TERMINAL)
        ids = [r["id"] for r in rows]
        with self._tx() as db:
            db.executemany("UPDATE runs SET status = 'failed', finished = ?, message = ? "
                           "WHERE id = ?",
                           [(time.time(), "the server stopped while this run was in progress",
                             i) for i in ids])
        return ids


def _name(document: dict) -> str:
    name = document.get("name")
    return name[:200] if isinstance(name, str) and name.strip() else "Untitled"


def _design(row: sqlite3.Row) -> dict:
    design = dict(row)
    design["document"] = json.loads(design["document"])
    return design
