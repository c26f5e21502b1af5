"""The runner: what the run manager asks of whatever trains its runs. Two implement it:

- pool.WorkerPool, the local runner (the default): warm spawned processes on this machine;
  its runs end with the server.
- ray_runner.RayRunner (`layerlab serve --runner ray`): each run a Ray actor anywhere in a
  cluster; its runs outlive the server, and another server takes them over.

Nothing above server/runs knows which one trains. The workers either hands out look alike to
the manager and the drainer: `conn` and `process.sentinel` to wait on, `send(...)` for the
commands of worker.py, and the fields the manager keeps on them (run_id, stop_asked, ...).
"""

from __future__ import annotations

from typing import Protocol


class Runner(Protocol):
    """A runner, as RunManager calls it with its lock held."""

    outlives_server: bool  # runs go on when this server ends (another takes them over)
    workers: list  # every worker the drainer reads
    started: bool  # set by the manager once runs are wanted (warm_up, the first train)
    boot_failures: int  # workers in a row that died before they were ready

    def idle(self):
        """A worker for a queued run now, or None (the run waits)."""

    def top_up(self) -> None:
        """Keep warm what should be warm; tidy what is no longer needed."""

    def remove(self, w) -> bool:
        """Forget a dead worker; False if it was already gone."""

    def close(self) -> None:
        """End (or let go of) every worker: the server is stopping."""

    def adopt(self, run_id: str):
        """A live copy of another server's run (its watchers and owner are served here), or
        None."""

    def describe(self) -> dict:
        """What GET /api/health says of it: {kind, ok, message, ...}."""

    def refusal(self) -> str | None:
        """Why a new run cannot start now (the message `train` answers), or None."""
