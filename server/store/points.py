"""Queries on runs' metric points that the run manager needs beyond Store's own."""

from __future__ import annotations

import json

from server.store.db import Store


def last_point(store: Store, run_id: str) -> dict | None:
    """A run's newest stored metrics point, or None when it has none."""
    rows = store._read("SELECT data FROM points WHERE run_id = ? ORDER BY seq DESC LIMIT 1",
                       (run_id,))
    return json.loads(rows[0]["data"]) if rows else None


def point_count(store: Store, run_id: str) -> int:
    """How many metrics points of a run the store holds."""
    return store._read("SELECT COUNT(*) AS n FROM points WHERE run_id = ?", (run_id,))[0]["n"]


def sync_interrupted(store: Store, run_ids: list[str]) -> None:
    """Give runs a dead server left unfinished the step and epoch of their last saved point,
    so that their status agrees with their history."""
    for run_id in run_ids:
        point = last_point(store, run_id)
        if point is not None:
            store.update_run(run_id, step=int(point.get("step", 0)),
                             epoch=int(point.get("epoch", 0)))
