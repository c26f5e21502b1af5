"""Queries of the runs that outlive their web process (server/runs/ray_runner.py)."""

from __future__ import annotations

from server.store.db import TERMINAL, Store


def live_runs(store: Store) -> list[dict]:
    """Runs the store holds as queued or training: {id, status, created}, oldest first."""
    marks = ", ".join("?" * len(TERMINAL))
    rows = store._read(f"SELECT id, status, created FROM runs WHERE status NOT IN ({marks}) "
                       f"ORDER BY created", TERMINAL)
    return [dict(r) for r in rows]
