"""The warm pool: spawned worker processes and the handles the server keeps on them."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from server.runs import worker

CONTEXT = mp.get_context("spawn")  # never fork: torch and threads do not survive a fork
MAX_BOOT_FAILURES = 3  # workers dying before they are ready: stop keeping a warm pool


@dataclass
class Worker:
    """One warm training process with its command queue and the server's end of its pipe."""

    slot: int  # a small number; with several GPUs it picks the worker's GPU
    process: mp.process.BaseProcess
    commands: mp.queues.Queue  # server -> worker
    conn: Connection  # worker -> server (read end)
    ready: bool = False  # torch imported, waiting for jobs
    run_id: str | None = None  # the job it is training (or finishing after a stop)
    stop_asked: float | None = None  # monotonic time its job was told to stop
    over_memory: str | None = None  # why the memory watchdog ended it (fails its run)
    died: str | None = None  # why it ended, when a runner knows better than its exit code
    closed: bool = field(default=False, repr=False)

    @property
    def busy(self) -> bool:
        """True while it holds a job."""
        return self.run_id is not None

    def send(self, *message) -> None:
        """Queue a command for the worker (never blocks)."""
        self.commands.put(message)

    def close(self, timeout: float = 2.0) -> None:
        """Wait up to `timeout` seconds for the worker to exit (after "exit"), then release it."""
        if self.process.is_alive():
            self.send("exit")
            self.process.join(timeout)
        self.release()

    def end(self) -> None:
        """Kill the process now; its pipe stays readable for what it sent before."""
        if self.process.is_alive():
            self.process.kill()
            self.process.join(1.0)

    def release(self) -> None:
        """End the process and close its queue and pipe."""
        if self.closed:
            return
        self.end()
        self.closed = True
        self.commands.cancel_join_thread()
        self.commands.close()
        self.conn.close()


class WorkerPool:
    """At most `limit` workers; once started, `size` of them are kept alive and warm. The
    local runner (runner.py): its runs end with the server.

    Not locked itself: the RunManager calls it with its own lock held.
    """

    outlives_server = False

    def __init__(self, data_dir: Path, limit: int, size: int, threads: int,
                 on_spawn: Callable[[], None]):
        self.data_dir = data_dir
        self.limit = limit  # the most workers at once (= runs training at once)
        self.size = min(size, limit)  # warm workers kept once the pool has started
        # One core stays with the server; the rest are shared by the concurrent runs.
        self.threads = threads or max(1, ((os.cpu_count() or 1) - 1) // limit)
        self.on_spawn = on_spawn  # called after each spawn (the manager starts its drainer)
        self.workers: list[Worker] = []
        self.started = False
        self.boot_failures = 0  # in a row; reset by a worker that gets ready

    def idle(self) -> Worker | None:
        """An idle worker (a ready one first), spawning one if there is room; else None."""
        idle = [w for w in self.workers if not w.busy]
        if idle:
            return max(idle, key=lambda w: w.ready)
        return self.spawn() if len(self.workers) < self.limit else None

    def top_up(self) -> None:
        """Start workers until `size` are alive (once started, unless workers keep dying)."""
        if self.started and self.boot_failures < MAX_BOOT_FAILURES:
            while len(self.workers) < self.size:
                self.spawn()

    def spawn(self) -> Worker:
        """Start one more worker in the lowest free slot."""
        used = {w.slot for w in self.workers}
        slot = next(i for i in range(len(used) + 1) if i not in used)
        w = start_worker(slot, self.data_dir, self.threads)
        self.workers.append(w)
        self.on_spawn()
        return w

    def remove(self, w: Worker) -> bool:
        """Forget a dead worker and release it; False if it was already gone."""
        if w not in self.workers:
            return False
        self.workers.remove(w)
        w.release()
        self.boot_failures = 0 if w.ready else self.boot_failures + 1
        return True

    def adopt(self, run_id: str) -> None:
        """Another server's run: a pool has none (its runs live and end in its server)."""
        return None

    def describe(self) -> dict:
        """GET /api/health's `runner`."""
        return {"kind": "local", "ok": True, "message": None}

    def refusal(self) -> None:
        """Why a new run cannot start now: never, here (the queue takes it)."""
        return None

    def close(self) -> None:
        """End every worker."""
        workers, self.workers = self.workers, []
        for w in workers:
            w.send("exit")
        for w in workers:
            w.close()


def start_worker(slot: int, data_dir: Path, threads: int) -> Worker:
    """Spawn a worker; it imports torch in the background and then reports ready."""
    recv, send = CONTEXT.Pipe(duplex=False)
    commands = CONTEXT.Queue()
    process = CONTEXT.Process(target=worker.main, name=f"layerlab-worker-{slot}", daemon=True,
                              args=(slot, commands, send, str(data_dir), threads))
    process.start()
    send.close()  # only the worker writes: its death then reads as EOF here
    return Worker(slot, process, commands, recv)


def rss(pid: int | None) -> int | None:
    """A process's resident memory in bytes (VmRSS), or None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_limit(concurrent: int) -> int:
    """The default cap on one worker's memory: 60% of RAM shared by the concurrent runs, at
    most 8 GiB, so that the machine never swaps."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 << 30
    return min(8 << 30, int(ram * 0.6 / max(concurrent, 1)))


def gib(n: int) -> str:
    """Bytes in GiB, in words (MiB below one GiB)."""
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):.0f} MiB"


def exit_reason(code: int | None) -> str:
    """Why a worker process ended, in words."""
    if code is None:
        return "it stopped responding"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        if -code == signal.SIGKILL:
            return f"it was killed ({name}), most often because the machine ran out of memory"
        return f"it was ended by {name}"
    return f"it exited with code {code}"
