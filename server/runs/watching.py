"""What watchers ask of the run manager: join and leave a run's room, its pictures, its
timeline, its summary, and where the run's owner went on to (follow_on). RunManager inherits
these; they use its lock, runs and store.
"""

from __future__ import annotations

from collections.abc import Callable

from server.runs.frames import greet_ended
from server.runs.records import seek_answer
from server.runs.run import Run, RunError, stored_status, thin

# GET /api/runs/<id> of an ended run: its whole stored history up to this many points (then
# evenly thinned); a live run's is its bounded in-memory one. history_downsampled says which.
DETAILS_LIMIT = 100_000


class Watching:
    """The watcher-facing half of RunManager (see manager.py for the state it reads)."""

    def watch(self, run_id: str, join: Callable[[str], None],
              client: str) -> tuple[dict, list, dict]:
        """Join a run's room read-only; returns (its status, its history so far, bounded, and
        {design_key, document, next_run_id?, latest_run_id?} for the ack)."""
        with self.lock:
            run = self.runs.get(run_id) or self.pool.adopt(run_id)  # another server's run
            if run is not None:
                self._join(run, join, client)
                self._publish(run)
                links = self._links(run_id) if run.next_run_id else {}
                return run.status(self._position(run)), list(run.history), {
                    "design_key": run.design_key, "document": run.document, **links}
        row = self.store.get_run(run_id)
        if row is None:
            raise RunError("not_found", f"there is no run {run_id!r}")
        join(run_id)
        # Links are read after joining: a follow_on stores its link before it emits run_next
        # to the room, so this watcher either sees the link here or is in the room for the event.
        return stored_status(row), self._stored_history(run_id), {
            "design_key": row["design_key"], "document": row["document"], **self._links(run_id)}

    def follow_on(self, run_id: str, token: object, next_id: str, next_token: object) -> None:
        """Link a run to the next one its owner started (both tokens): its watchers move on."""
        if next_id == run_id:
            raise RunError("bad_request", "a run cannot follow on from itself")
        with self.lock:
            run = self._owned(run_id, token)
            self._owned(next_id, next_token)
            if run_id in self.store.chain(next_id):
                raise RunError("conflict", f"run {next_id} already leads on to run {run_id}")
            self.store.set_next_run(run_id, next_id)
            run.next_run_id = next_id
            self.emit("run_next", {"run_id": run_id, "next_run_id": next_id}, to=run_id)

    def leave(self, client: str, run_id: str | None = None) -> None:
        """A client stops watching one run (or, disconnected, every run)."""
        with self.lock:
            watched = self.clients.get(client, set())
            for rid in list(watched) if run_id is None else [run_id]:
                watched.discard(rid)
                run = self.runs.get(rid)
                if run is not None and client in run.watchers:
                    run.watchers.discard(client)
                    run.frames.forget(client)
                    self._watchers_changed(run)
            if run_id is None or not watched:
                self.clients.pop(client, None)

    def greet(self, run_id: str, client: str) -> None:
        """Send a new watcher the run's fixed samples and newest pictures."""
        with self.lock:
            run = self.runs.get(run_id)
            if run is not None:
                if client in run.watchers:
                    run.frames.greet(client)
                return
        greet_ended(self.emit, client, self.records.timeline(run_id))

    def publish_frame(self, run_id: str, event: str, frame: dict) -> None:
        """Offer a heavy frame (run_activations, run_boundary, ...) to a run's watchers."""
        with self.lock:
            run = self.runs.get(run_id)
            if run is not None:
                run.frames.publish(event, frame, list(run.watchers))

    def select(self, run_id: str, token: object, index: int) -> None:
        """Follow fixed sample `index` through a live run's network (token holder only)."""
        self._set_live(run_id, token, "selected", "select", index)

    def timeline(self, run_id: str) -> list[dict]:
        """A run's checkpoints: step, epoch and time of training of each."""
        with self.lock:
            run = self.runs.get(run_id)
            if run is not None:
                return run.frames.timeline.index()
        timeline = self.records.timeline(run_id, need_run=True)
        return timeline.index() if timeline else []

    def seek(self, run_id: str, step: int) -> dict:
        """The pictures of the last checkpoint at or before `step`, and where its metrics end."""
        with self.lock:
            run = self.runs.get(run_id)
            if run is not None:
                return seek_answer(run_id, run.frames.timeline.at(step),
                                   run.history + run.unsent)
        timeline = self.records.timeline(run_id, need_run=True)
        return seek_answer(run_id, timeline.at(step) if timeline else None,
                           self._stored_history(run_id))

    def details(self, run_id: str) -> dict:
        """A run's summary for GET /api/runs/<id>: status, config, result and history."""
        with self.lock:
            run = self.runs.get(run_id)
            live = (run.status(self._position(run)), list(run.history), run.thinned) \
                if run else None
        row = self.store.get_run(run_id)
        if row is None:
            raise RunError("not_found", f"there is no run {run_id!r}")
        if live is None:
            points = self.store.points(run_id)
            history = thin(points, DETAILS_LIMIT)
            live = stored_status(row), history, len(history) < len(points)
        status, history, thinned = live
        return {"history_downsampled": thinned, "run_id": run_id, "name": row["name"],
                "status": status,
                "document": row["document"], "config": row["document"].get("training"),
                "result": row["summary"], "history": history, "created": row["created"],
                "finished": row["finished"], "design_key": row["design_key"],
                "has_weights": (self.store.run_dir(run_id) / "weights.safetensors").is_file(),
                "next_run_id": None, "latest_run_id": None, **self._links(run_id)}

    def _stored_history(self, run_id: str) -> list[dict]:
        """An ended run's history from the store, thinned to the live bound (watch, seek)."""
        return thin(self.store.points(run_id), self.config.history_limit)

    def _links(self, run_id: str) -> dict:
        """{next_run_id, latest_run_id} of a run its owner went on from (the end of the chain
        of links, so a late watcher jumps there at once); {} for a run with no link."""
        chain = self.store.chain(run_id)
        return {"next_run_id": chain[1], "latest_run_id": chain[-1]} if len(chain) > 1 else {}

    # -- internals (called with the lock held) -----------------------------------------------

    def _join(self, run: Run, join: Callable[[str], None], client: str | None) -> None:
        join(run.id)
        if client is not None and client not in run.watchers:
            run.watchers.add(client)
            self.clients.setdefault(client, set()).add(run.id)
            if len(run.watchers) == 1 and run.worker is not None:
                run.worker.send("control", run.id, "visuals", True)

    def _watchers_changed(self, run: Run) -> None:
        """Pictures stop when the last watcher leaves; everyone sees the new count."""
        if not run.watchers and run.worker is not None:
            run.worker.send("control", run.id, "visuals", False)
        self._publish(run)
