"""What ended runs leave besides weights and history: their timelines, read back for seeks."""

from __future__ import annotations

import bisect
import logging
import threading
from collections import OrderedDict

from server.runs.run import RunError
from server.runs.timeline import Timeline
from server.store import Store

log = logging.getLogger(__name__)
CACHED = 8  # ended runs' timelines kept in memory


class Records:
    """Saves a run's timeline when it ends and reads it back (a few kept in memory)."""

    def __init__(self, store: Store):
        self.store = store
        self._cache: OrderedDict[str, Timeline | None] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, run_id: str, timeline: Timeline) -> None:
        """An ended run's timeline: save it in the run's folder (when it has anything)."""
        if timeline.checkpoints or timeline.samples is not None:
            try:
                timeline.save(self.store.run_dir(run_id))
            except OSError:
                log.exception("could not save the timeline of run %s", run_id)
        self._remember(run_id, timeline)

    def timeline(self, run_id: str, need_run: bool = False) -> Timeline | None:
        """An ended run's timeline (None if it has none); with need_run, not_found for no run."""
        with self._lock:
            if run_id in self._cache:
                self._cache.move_to_end(run_id)
                return self._cache[run_id]
        if need_run and self.store.get_run(run_id) is None:
            raise RunError("not_found", f"there is no run {run_id!r}")
        timeline = Timeline.load(self.store.run_dir(run_id))
        self._remember(run_id, timeline)
        return timeline

    def _remember(self, run_id: str, timeline: Timeline | None) -> None:
        with self._lock:
            self._cache[run_id] = timeline
            self._cache.move_to_end(run_id)
            while len(self._cache) > CACHED:
                self._cache.popitem(last=False)


def seek_answer(run_id: str, checkpoint: dict | None, history: list[dict]) -> dict:
    """The seek ack: the checkpoint's step, its frames by kind, and where its metrics end."""
    if checkpoint is None:
        raise RunError("not_found", f"run {run_id} has no checkpoints yet: pictures are made "
                       "only while someone watches a run, and once when it ends")
    steps = [p.get("step", 0) for p in history]
    answer = {"ok": True, "step": checkpoint["step"], "epoch": checkpoint["epoch"],
              "time": checkpoint["time"],
              "metrics_index": bisect.bisect_right(steps, checkpoint["step"])}
    for event, payload in checkpoint["frames"].items():
        answer[event.removeprefix("run_")] = payload
    return answer
