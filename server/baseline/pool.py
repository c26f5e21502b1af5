"""Forests fitted for the server in spawned processes, never in the server's own.

At most `workers` fits run at once, each in a process of its own that is ended once it passes
`seconds` (its data's loading included, the process's own start not) or dies (out of memory,
killed); the server only waits on a pipe, so it keeps serving everyone else. A process that
finished a fit stays warm for the next one (numpy and scikit-learn already loaded); one that
timed out or died is replaced on the next call. Jobs past the ones fitting wait their turn
`wait` seconds at most, and no more than `queue` of them wait at once: beyond that a caller
is told `busy` at once.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable

from server.baseline.check import BaselineError

log = logging.getLogger(__name__)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
START_SECONDS = 60  # the longest a new process may take to load its libraries


class BaselinePool:
    """Random-forest fits in spawned processes: bounded in number, time and memory."""

    def __init__(self, workers: int = 1, seconds: float = 300.0, memory: int = 4 * 2**30,
                 wait: float = 60.0, queue: int = 8, threads: int = 1):
        self._lock = threading.Lock()
        self._idle: list[_Fitter] = []  # warm processes waiting for a job
        self._busy: set[_Fitter] = set()
        self._waiting = 0
        self.configure(workers, seconds, memory, wait, queue, threads)

    def configure(self, workers: int, seconds: float, memory: int, wait: float, queue: int,
                  threads: int) -> None:
        """Set the bounds (the app does, from its BASELINE_* settings)."""
        self.workers = workers  # forests fitted at once, each in its own process
        self.seconds = seconds  # the longest one fit may take, loading its data included
        self.memory = memory  # bytes of address space a fitting process may take (Linux)
        self.wait = wait  # seconds a fit waits for its turn before the caller gets `busy`
        self.queue = queue  # fits that may wait for a turn at once
        self.threads = threads  # CPU threads one fit uses (scikit-learn's n_jobs)
        self._slots = threading.BoundedSemaphore(workers)

    def call(self, document: dict, trees: int, data_dir: str,
             progress: Callable[[int], None] | None = None) -> dict:
        """The baseline JSON of a checked document, fitted in a pool process; `progress` gets
        the trees grown so far, in the calling thread. Raises BaselineError."""
        slots = self._slots
        with self._lock:
            if self._waiting >= self.queue + self.workers:
                raise self._busy_error()
            self._waiting += 1
        try:
            if not slots.acquire(timeout=self.wait):
                raise self._busy_error()
            try:
                return self._fit({"document": document, "trees": trees, "data_dir": data_dir,
                                  "threads": self.threads}, progress)
            finally:
                slots.release()
        finally:
            with self._lock:
                self._waiting -= 1

    def _busy_error(self) -> BaselineError:
        return BaselineError("busy", f"{self.workers} baseline(s) are already being fitted and "
                             "others wait their turn; try again in a minute")

    def _fit(self, job: dict, progress) -> dict:
        with self._lock:
            fitter = self._idle.pop() if self._idle else _Fitter(self.memory, self.threads)
            self._busy.add(fitter)
        keep = False
        try:
            outcome = fitter.run(job, self.seconds, progress)
            keep = outcome[0] == "done" or not outcome[-1]  # an error that leaves it sound
        finally:
            with self._lock:
                self._busy.discard(fitter)
                if keep and len(self._idle) < self.workers:
                    self._idle.append(fitter)
                else:
                    fitter.end()
        if outcome[0] == "done":
            return outcome[1]
        raise BaselineError(*outcome[1:4])

    def shutdown(self) -> None:
        """End every fitting process (the server is stopping); a fit in progress fails."""
        with self._lock:
            fitters, self._idle = [*self._idle, *self._busy], []
        for fitter in fitters:
            fitter.end()


class _Fitter:
    """One spawned process that fits forests, one job at a time, over a pipe."""

    def __init__(self, memory: int, threads: int):
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=serve, args=(child, memory, threads),
                                   name="layerlab-baseline", daemon=True)
        self.process.start()
        child.close()
        self.memory = memory
        self.ready = False  # it has said so, with its libraries loaded

    def run(self, job: dict, seconds: float, progress) -> tuple:
        """("done", result) or ("error", code, message, errors, retire). The job's clock starts
        once the process has loaded numpy and scikit-learn."""
        try:
            if not self.ready:
                if not self.conn.poll(START_SECONDS):
                    return ("error", "baseline_failed", f"the baseline process did not start "
                            f"within {START_SECONDS} s", [], True)
                self.ready = self.conn.recv() == ("ready",)
            self.conn.send(job)
            deadline = time.monotonic() + seconds
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not self.conn.poll(left):
                    return ("error", "baseline_failed", f"the baseline took longer than "
                            f"{seconds:g} s (BASELINE_SECONDS) and was stopped; use fewer "
                            "trees or fewer samples", [], True)
                message = self.conn.recv()
                if message[0] != "progress":
                    return message
                if progress is not None:
                    progress(message[1])
        except (EOFError, OSError):
            return ("error", "baseline_failed", self._death(), [], True)

    def _death(self) -> str:
        self.process.join(1)
        code = self.process.exitcode
        if code is not None and code >= 0:
            return (f"the baseline process ended unexpectedly (exit status {code}); the "
                    "server's log says why")
        how = f"it was killed (signal {-code})" if code is not None else "it stopped answering"
        return (f"the baseline process ended unexpectedly: {how}, most often because it ran "
                f"out of memory (its limit is {self.memory / 2**30:.1f} GiB, "
                "BASELINE_MEMORY_BYTES); use fewer trees or fewer samples")

    def end(self) -> None:
        """Stop the process now (it holds nothing worth saving)."""
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)


def serve(conn, memory: int, threads: int) -> None:
    """The fitting process: cap its memory and threads, then fit each job the pipe brings
    until the server closes it."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    except (ImportError, ValueError, OSError):
        pass  # not Linux, or a lower hard limit already: the pool's time bound still holds
    from server.baseline.forest import fit_forest  # numpy and scikit-learn load here, once

    conn.send(("ready",))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the server closed the pipe or died
        conn.send(fit(job, fit_forest, lambda grown: conn.send(("progress", grown))))


def fit(job: dict, fit_forest, progress) -> tuple:
    """One job's outcome as data: ("done", result) or ("error", code, message, errors,
    retire), retire meaning this process should not fit again."""
    from server.baseline.check import check_document
    from server.data import DatasetError

    try:
        network = check_document(job["document"], job["data_dir"])
        fitted = fit_forest(network, job["trees"], data_dir=job["data_dir"],
                            jobs=job["threads"], progress=progress)
        return ("done", fitted.result)
    except BaselineError as e:
        return ("error", e.code, e.message, e.errors, False)
    except DatasetError as e:  # data that validation could not see fail (a download, say)
        return ("error", "baseline_failed", e.message, [e.to_json()], False)
    except MemoryError:
        return ("error", "baseline_failed", "the baseline ran out of memory (its limit is "
                "BASELINE_MEMORY_BYTES); use fewer trees or fewer samples", [], True)
    except Exception as e:  # noqa: BLE001 - a dataset that fails to load, or a bug: a message
        log.exception("the baseline failed")
        return ("error", "baseline_failed", f"the baseline failed: {e}"[:500], [], True)
