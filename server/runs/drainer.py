"""The drainer: one thread that reads every worker's pipe and notices dead workers.

Each worker writes to a pipe of its own rather than to a queue shared by all: a shared
multiprocessing.Queue holds a lock across processes, and a worker killed mid-write (the OOM
killer does not wait) would leave it held and silence every other run. A dead worker here only
closes its own pipe.
"""

from __future__ import annotations

import logging
import threading
import time
from multiprocessing.connection import wait
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from server.runs.manager import RunManager
    from server.runs.pool import Worker

log = logging.getLogger(__name__)
TICK = 0.02  # seconds the drainer waits for a message before it checks its timers


class Drainer(threading.Thread):
    """Turns worker messages into manager calls; the manager emits and writes the store."""

    def __init__(self, manager: RunManager):
        super().__init__(name="layerlab-drainer", daemon=True)
        self.manager = manager
        self._stop_event = threading.Event()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to end and wait for it."""
        self._stop_event.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self._once()
            except Exception:  # noqa: BLE001 - the drainer must outlive any one bad message
                log.exception("the drainer hit an error; it carries on")
                time.sleep(TICK)

    def _once(self) -> None:
        with self.manager.lock:
            live = [w for w in self.manager.pool.workers if not w.closed]
        if not live:
            time.sleep(TICK)
            self.manager.tick(time.monotonic())
            return
        handles = {w.conn: w for w in live} | {w.process.sentinel: w for w in live}
        try:
            ready = wait(list(handles), timeout=TICK)
        except (OSError, ValueError):  # a pipe closed under us: look again next round
            ready = []
        dead = []
        for handle in ready:
            w = handles[handle]
            if handle is w.conn:
                self._read(w)
            elif w not in dead:
                dead.append(w)
        for w in dead:
            self._read(w)  # what it sent before it died comes first
            self.manager.worker_died(w)
        self.manager.tick(time.monotonic())

    def _read(self, w: Worker) -> None:
        """Apply every message waiting in a worker's pipe."""
        try:
            while not w.closed and w.conn.poll():
                self.manager.on_message(w, w.conn.recv())
        except (EOFError, OSError):
            pass  # the worker is gone; its sentinel reports it
        except Exception:  # noqa: BLE001 - a message cut short by a kill cannot be unpickled
            log.warning("unreadable message from worker %s; ending it", w.slot)
            w.end()
