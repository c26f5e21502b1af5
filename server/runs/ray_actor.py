"""A run as a Ray actor: worker.py's `train` in a thread of the actor, its messages kept in a
stream that every web process following the run reads (ray_bridge.py).

The actor is made by the bridge of the web process that starts the run, named
`layerlab-run-<id>` in the namespace `layerlab` and detached, so it outlives that process and any
other finds it by the run's id. It trains one run: the same job, commands and messages as a
pool worker (worker.py), so the run manager cannot tell the two apart. Ray is imported here
only inside the actor's methods: the module loads without it.
"""

from __future__ import annotations

import bisect
import os
import socket
import threading
import time
from pathlib import Path

from server.runs import worker

MARK = "ray-cluster-id"  # the file in the data folder that names it (shared-folder check)
LOG_KEEP = 200_000  # small messages (points, statuses) kept for late readers: ~1 hour at 50/s
FRAMES_KEEP = 8  # pictures messages kept: a late reader needs only the newest (latest wins)
READ_LIMIT = 2000  # messages one read returns at most
ORPHAN_SECONDS = 600.0  # an ended run whose owner never released it exits after this long
# A web process tells the actor how many of its clients watch the run when that changes and
# again every COUNT_REFRESH seconds (ray_runner.py); a count older than COUNT_STALE seconds is a
# process that died with its watchers, and no longer counts.
COUNT_REFRESH = 2.0
COUNT_STALE = 3 * COUNT_REFRESH
END = ("done", "failed")


class Stream:
    """A run's messages, numbered, each point also by its place among the points; readers ask
    for what came after the last number they saw and wait for it a while."""

    def __init__(self, keep: int = LOG_KEEP, frames_keep: int = FRAMES_KEEP):
        self.keep, self.frames_keep = keep, frames_keep
        self.cond = threading.Condition()
        self.seq = 0  # the last message's number
        self.points = 0  # points so far
        self.log: list[tuple] = []  # (seq, point index or None, message), all but pictures
        self.frames: list[tuple] = []  # (seq, None, message) of pictures, newest last

    def append(self, message: tuple) -> None:
        """Keep one message from the trainer (its `send`)."""
        with self.cond:
            self.seq += 1
            index = None
            if message[0] == "point":
                self.points += 1
                index = self.points
            kept, limit = (self.frames, self.frames_keep) if message[0] == "frames" \
                else (self.log, self.keep)
            kept.append((self.seq, index, message))
            if len(kept) > limit + limit // 4:  # trimmed in chunks: appends stay cheap
                del kept[:len(kept) - limit]
            self.cond.notify_all()

    def since(self, after: int, frames_after: int | None, timeout: float) -> list[tuple]:
        """Messages numbered past `after` (pictures past `frames_after`; None: none), in order;
        waits up to `timeout` seconds for the first."""
        def news() -> bool:
            return self.log[-1][0] > after if self.log else False

        def picture_news() -> bool:
            return frames_after is not None and bool(self.frames) and \
                self.frames[-1][0] > frames_after

        with self.cond:
            self.cond.wait_for(lambda: news() or picture_news(), timeout)
            start = bisect.bisect_right(self.log, after, key=lambda e: e[0])
            small = self.log[start:start + READ_LIMIT]
            if frames_after is None:
                return small
            last = small[-1][0] if len(small) == READ_LIMIT else self.seq
            pictures = [e for e in self.frames if frames_after < e[0] <= last]
        return sorted(small + pictures, key=lambda e: e[0])


class RunActor:
    """One run on a Ray worker process (made remote by the bridge with ray.remote)."""

    def __init__(self):
        self.stream = Stream()
        self.current = worker.Current()
        self.wants: dict[str, bool] = {}  # web process -> whether its watchers want pictures
        self.counts: dict[str, tuple[int, float]] = {}  # web process -> (its watchers, when)
        self.counted: dict[str, int] | None = None  # the counts last put in the stream
        self.lock = threading.Lock()
        self.released = threading.Event()

    def start(self, job: dict, data_dir: str, mark: str, threads: int, who: str) -> dict:
        """Train `job` in a thread; `mark` must be the data folder's own (it is shared)."""
        found = _read_mark(Path(data_dir))
        if found != mark:
            self.stream.append(("failed", job["run_id"], f"the Ray node {socket.gethostname()} "
                                f"does not see the server's data folder {data_dir}: mount it at "
                                "the same path on every Ray node (docs/DEPLOY.md)", None))
            return self.info()
        import torch

        torch.set_num_threads(max(1, threads))
        from server.train import Control

        work = worker.prepare(job, Control, self.stream.append)
        with self.lock:
            self.wants[who] = bool(job.get("visuals"))
        with self.current.lock:
            self.current.run_id, self.current.control, self.current.visuals = \
                job["run_id"], work[1], work[2]
        threading.Thread(target=self._train, args=(work, data_dir), name="train",
                         daemon=True).start()
        return self.info()

    def _train(self, work: tuple, data_dir: str) -> None:
        try:
            worker.train(work, self.current, self.stream.append, data_dir)
        finally:
            # Nobody released it (its owner and every other server gone): do not hold the
            # node's CPU or GPU for ever.
            if not self.released.wait(ORPHAN_SECONDS):
                os._exit(0)

    def command(self, action: str, arg, who: str) -> None:
        """A control from web process `who`; pictures are made while any process wants them."""
        with self.current.lock:
            control, visuals = self.current.control, self.current.visuals
        if control is None:
            return
        if action == "watchers":
            self._count(who, int(arg))
            return
        if action == "visuals":
            with self.lock:
                self.wants[who] = bool(arg)
                arg = any(self.wants.values())
        worker.apply(control, visuals, action, arg)

    def _count(self, who: str, watchers: int) -> None:
        """Keep web process `who`'s watcher count; when the live counts change, every process
        following the run reads them in its stream (("watchers", run_id, {process: count}))."""
        now = time.monotonic()
        with self.lock:
            self.counts[who] = (watchers, now)
            live = {w: n for w, (n, at) in self.counts.items() if now - at <= COUNT_STALE and n}
            if live == self.counted:
                return
            self.counted = live
        self.stream.append(("watchers", self.current.run_id, live))

    def read(self, after: int, frames_after: int | None, timeout: float) -> list[tuple]:
        """Messages past `after` (see Stream.since)."""
        return self.stream.since(after, frames_after, timeout)

    def info(self) -> dict:
        """Where the actor runs: its host and process id."""
        return {"host": socket.gethostname(), "pid": os.getpid()}

    def release(self, grace: float) -> None:
        """The run's end is recorded: exit after `grace` seconds (late readers still read)."""
        import ray

        self.released.set()
        time.sleep(grace)
        ray.actor.exit_actor()


def _read_mark(data_dir: Path) -> str | None:
    try:
        return (data_dir / MARK).read_text().strip()
    except OSError:
        return None
