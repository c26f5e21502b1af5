"""The Ray runner: each run is a Ray actor (ray_actor.py) that outlives the web process that
started it; the run manager sees it as a pool worker (pool.py) and cannot tell the difference.

A RayWorker has what the manager and the drainer read of a pool Worker: `conn`, the read end of a
local pipe, and `process.sentinel`, another pipe's read end that closes when the actor dies. One
thread here (the demux) reads the bridge's pipe (ray_bridge.py: the process that talks to Ray)
and writes each run's messages into its worker's pipe, so the drainer's `wait()` just works.

Every web process that serves a run's watchers follows the run: it reads the actor's stream
itself and keeps its own copy of the run (a mirror), so its watchers get points and pictures
from their own process, never through another. One process owns each run (leases.py): it
writes the run's points and states to the store and records its end; mirrors write nothing.
When an owner dies its leases lapse and another process takes its runs over: it claims the
lease, follows the run if it did not yet, and from the point the store holds on it writes what
the dead owner had not (the points after the stored ones, numbered by the actor), so a kill -9
of the owner loses no point. A run still queued in a dead owner is queued again by the taker.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING

from server.runs import ray_bridge
from server.runs.frames import LiveFrames
from server.runs.leases import RedisLeases, SoleLeases
from server.runs.pool import CONTEXT
from server.runs.ray_actor import COUNT_REFRESH, END, MARK
from server.runs.run import TERMINAL, Run
from server.runs.timeline import Timeline
from server.store.cluster import live_runs
from server.store.points import point_count

if TYPE_CHECKING:
    from server.runs.manager import RunManager

log = logging.getLogger(__name__)
OWNED = "owned"  # the marker a takeover writes into a run's pipe (see Inbox.recv)
TAIL = 20_000  # points kept per run for a takeover's back-fill (far more than a lease's worth)
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0)  # seconds before restarting a bridge that ended
COUNT_CHECK = 0.25  # seconds between two looks at how many clients watch each run (_count)


@dataclass
class Cluster:
    """What this process knows of the Ray cluster, for GET /api/health and refusals."""

    address: str
    ok: bool = False
    message: str | None = "connecting to the Ray cluster"
    since: float = field(default_factory=time.monotonic)  # when `ok` last changed
    resources: dict = field(default_factory=dict)  # {cpus, gpus, nodes} when connected
    failed_runs: bool = False  # the runs this process owns were failed for this loss
    connecting: bool = True  # not yet heard from: `train` queues runs rather than refuse them


class Handle:
    """What the manager and the drainer read of a worker's process."""

    pid = None  # no local process: the memory watchdog skips it (Ray has its own)
    exitcode = None

    def __init__(self, sentinel: Connection):
        self.sentinel = sentinel


class Inbox:
    """A run's pipe as the drainer reads it. A takeover's marker comes in order with the run's
    messages: everything before it was a mirror's, everything after it the owner's."""

    def __init__(self, conn: Connection, runner: RayRunner, worker: RayWorker):
        self.conn, self.runner, self.worker = conn, runner, worker

    def fileno(self) -> int:
        return self.conn.fileno()

    def poll(self, timeout: float = 0.0) -> bool:
        return self.conn.poll(timeout)

    def recv(self) -> tuple:
        message = self.conn.recv()
        if message[0] == OWNED:
            self.runner.promote(self.worker, message[2])  # the manager then ignores the marker
        return message

    def close(self) -> None:
        self.conn.close()


class RayWorker:
    """A run's actor as the run manager sees a pool worker."""

    def __init__(self, runner: RayRunner, slot: int, role: str):
        recv, self.writer = CONTEXT.Pipe(duplex=False)
        sentinel, self.sentinel_writer = CONTEXT.Pipe(duplex=False)
        self.runner, self.slot, self.role = runner, slot, role  # role: "owner" or "follower"
        self.conn = Inbox(recv, runner, self)
        self.process = Handle(sentinel)
        self.ready = True  # nothing to warm up here: the actor is made per run
        self.run_id: str | None = None  # the run it trains (None once the run ended)
        self.bound: str | None = None  # the run it is for, even after it ended
        self.stop_asked: float | None = None
        self.over_memory: str | None = None
        self.died: str | None = None  # why its actor ended (fails its run)
        self.closed = False
        # Kept by the demux (under `lock`, never taken with the manager's lock held):
        self.lock = threading.Lock()
        self.after = 0  # the last message number forwarded
        self.frames_after: int | None = None  # the last pictures message number forwarded
        self.pictures = False  # this process's watchers want pictures
        self.seen = 0  # the number of the last point forwarded
        self.tail: deque = deque(maxlen=TAIL)  # (point number, point), the newest
        self.promote_at: int | None = None  # a takeover: the points the store holds
        self.dead = False  # its pipes are closed

    @property
    def busy(self) -> bool:
        """True while it holds a run."""
        return self.run_id is not None

    def send(self, *message) -> None:
        """A command for the run (job, control, exit), as a pool worker takes it."""
        self.runner.command(self, message)

    def end(self) -> None:
        """Kill the actor (its run ignored a stop)."""
        self.runner.send_bridge(("kill", self.bound))

    def close(self, timeout: float = 2.0) -> None:
        """Stop following the run (its actor goes on)."""
        self.release()

    def release(self) -> None:
        """Close this process's ends; the demux closes its own when it next writes."""
        if self.closed:
            return
        self.closed = True
        self.conn.close()
        self.process.sentinel.close()
        self.runner.forget(self)


class RayRunner:
    """Runs as Ray actors: the runner interface of pool.WorkerPool (idle, top_up, remove,
    close, workers) plus adopt, describe and refusal. Not locked itself: the manager calls it
    with its lock held; its own threads take that lock."""

    outlives_server = True  # a run goes on when this process ends

    def __init__(self, manager: RunManager, address: str, message_queue: str | None,
                 limit: int, threads: int, lease_seconds: float, lost_fail_seconds: float):
        self.manager, self.store = manager, manager.store
        self.address, self.limit, self.size = address, limit, 0
        self.threads = max(1, threads)
        self.lease_seconds, self.lost_fail_seconds = lease_seconds, lost_fail_seconds
        self.who = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.leases = RedisLeases(message_queue, self.who, lease_seconds) if message_queue \
            else SoleLeases()
        self.cluster = Cluster(address)
        self.mark = ensure_mark(Path(self.store.data_dir))
        self.workers: list[RayWorker] = []
        self.routes: dict[str, RayWorker] = {}  # run id -> the worker its messages go to
        self.started = False
        self.boot_failures = 0
        self.bridge = None  # (process, commands, conn) of the bridge, while one runs
        self._restarts = 0
        self._restart_at = 0.0
        self._slots = 0
        self._released: list[str] = []  # leases to give up (outside the manager's lock)
        self._retired: list[RayWorker] = []  # released workers whose pipes the demux closes
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._scan_now = threading.Event()

    # -- the runner interface (called with the manager's lock held) ----------------------------

    def idle(self) -> RayWorker | None:
        """A new worker for a queued run, or None: the cluster is away or this process already
        has `limit` runs training."""
        if not self.cluster.ok:
            return None
        if sum(w.role == "owner" and w.busy for w in self.workers) >= self.limit:
            return None
        return self._new_worker("owner")

    def top_up(self) -> None:
        """Start the threads (once); let go of workers whose runs ended."""
        self.start()
        for w in [w for w in self.workers if not w.busy]:
            self.remove(w)

    def remove(self, w: RayWorker) -> bool:
        """Forget a worker and release it; False if it was already gone."""
        if w not in self.workers:
            return False
        self.workers.remove(w)
        w.release()
        return True

    def close(self) -> None:
        """Leave: stop following every run (they go on training) and give up their leases so
        that another process takes them over at once."""
        self._stopping.set()
        owned = [r.id for r in self.manager.runs.values() if r.owned]
        for w in list(self.workers):
            w.closed = True
            w.conn.close()
            w.process.sentinel.close()
        self.workers = []
        for run_id in owned:
            self.leases.release(run_id)
        bridge = self.bridge
        if bridge is not None:  # the demux closes its pipe when it sees the process end
            process, commands, _ = bridge
            commands.put(("exit",))
            process.join(2.0)
            if process.is_alive():
                process.kill()

    def adopt(self, run_id: str) -> Run | None:
        """A mirror of a run that another process owns (or owned), for the watchers and the
        owner's controls this process serves; None for a run that is not queued or training."""
        row = self.store.get_run(run_id)
        if row is None or row["status"] in TERMINAL:
            return None
        self.start()
        return self._mirror(row, wait=True)

    def describe(self) -> dict:
        """GET /api/health's `runner`."""
        c = self.cluster
        return {"kind": "ray", "address": c.address, "ok": c.ok, "message": c.message,
                "connecting": c.connecting, **c.resources, "server": self.who,
                "leases": "redis" if self.leases.shared else "sole",
                "owned": sum(r.owned for r in self.manager.runs.values()),
                "mirrored": sum(not r.owned for r in self.manager.runs.values())}

    def refusal(self) -> str | None:
        """Why a new run cannot start now, or None (while first connecting, runs queue)."""
        if self.cluster.ok or self.cluster.connecting:
            return None
        return (f"the Ray cluster cannot train new runs now: {self.cluster.message}; finished "
                "runs can still be read and exported")

    def command(self, w: RayWorker, message: tuple) -> None:
        """Carry a pool-worker command to the run's actor."""
        kind = message[0]
        if kind == "job":
            job = message[1]
            w.bound = job["run_id"]
            w.pictures = bool(job.get("visuals"))
            self.routes[w.bound] = w
            self.send_bridge(("start", w.bound, job, str(self.store.data_dir), self.mark,
                              self.threads))
        elif kind == "control":
            _, run_id, action, arg = message
            if action == "visuals":
                w.pictures = bool(arg)
            self.send_bridge(("control", run_id, action, arg))

    def forget(self, w: RayWorker) -> None:
        """A worker was released: stop reading its run; an ended run's actor may exit."""
        self._retired.append(w)
        run_id = w.bound
        if run_id is None:
            return
        if self.routes.get(run_id) is w:
            del self.routes[run_id]
        ended = run_id not in self.manager.runs
        owner = w.role == "owner"
        self.send_bridge(("release" if ended and owner else "detach", run_id))
        if ended and owner:
            self._released.append(run_id)

    # -- threads -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the demux and lease threads (the first call only)."""
        if self._threads or self._stopping.is_set():
            return
        for name, target in (("layerlab-ray-demux", self._demux),
                             ("layerlab-ray-leases", self._keep),
                             ("layerlab-ray-counts", self._count)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            self._threads.append(thread)
            thread.start()

    def send_bridge(self, message: tuple) -> None:
        """A command for the bridge (dropped while none runs: it is re-attached on connect)."""
        bridge = self.bridge
        if bridge is not None:
            bridge[1].put(message)

    def _demux(self) -> None:
        while not self._stopping.is_set():
            bridge = self.bridge
            if bridge is None:
                if time.monotonic() >= self._restart_at:
                    self._spawn_bridge()
                else:
                    time.sleep(0.1)
                continue
            process, _, conn = bridge
            try:
                ready = wait([conn, process.sentinel], timeout=0.5)
            except (OSError, ValueError):
                ready = [process.sentinel]
            try:
                while conn.poll():
                    self._on_bridge(conn.recv())
            except (EOFError, OSError):
                ready.append(process.sentinel)
            except Exception:  # noqa: BLE001 - the demux must outlive any one bad message
                log.exception("the Ray demux hit an error; it carries on")
            if process.sentinel in ready:
                self._bridge_ended(bridge)
            while self._retired:  # the write ends are the demux's to close
                w = self._retired.pop()
                with w.lock:
                    if not w.dead:
                        self._close_pipes(w)

    def _spawn_bridge(self) -> None:
        recv, send = CONTEXT.Pipe(duplex=False)
        commands = CONTEXT.Queue()
        process = CONTEXT.Process(target=ray_bridge.main, name="layerlab-ray-bridge",
                                  daemon=True, args=(self.address, self.who, commands, send))
        process.start()
        send.close()
        self.bridge = (process, commands, recv)

    def _bridge_ended(self, bridge: tuple) -> None:
        process, commands, conn = bridge
        process.join(1.0)
        conn.close()
        commands.cancel_join_thread()
        commands.close()
        if self.bridge is bridge:
            self.bridge = None
        if self._stopping.is_set():
            return
        delay = RESTART_DELAYS[min(self._restarts, len(RESTART_DELAYS) - 1)]
        self._restarts += 1
        self._restart_at = time.monotonic() + delay
        if self.cluster.ok:
            self._set_cluster(False, f"the connection to the Ray cluster at {self.address} "
                                     f"ended (exit code {process.exitcode}); reconnecting")
        log.warning("Ray bridge ended (exit code %s): %s; again in %g s", process.exitcode,
                    self.cluster.message, delay)

    def _on_bridge(self, message: tuple) -> None:
        kind = message[0]
        if kind == "msg":
            _, run_id, seq, index, body = message
            w = self.routes.get(run_id)
            if w is not None:
                self._forward(w, seq, index, body)
        elif kind == "cluster":
            self._set_cluster(message[1], message[2])
        elif kind in ("died", "missing"):
            w = self.routes.get(message[1])
            if w is not None:
                self._died(w, f"the Ray actor training this run died: {message[2]}"
                           if kind == "died" else "its Ray actor is gone (the cluster lost it, "
                           "or the server that started the run stopped before it began)")

    def _count(self) -> None:
        """Tell each run's actor how many of this process's clients watch it, when that changes
        and every COUNT_REFRESH seconds, so that every process's run_status counts them all."""
        sent: dict[str, tuple[int, float]] = {}  # run id -> (count, when) last told
        while not self._stopping.wait(COUNT_CHECK):
            now = time.monotonic()
            with self.manager.lock:
                counts = {r.id: len(r.watchers) for r in self.manager.runs.values()
                          if isinstance(r.worker, RayWorker)}
            for run_id, n in counts.items():
                last = sent.get(run_id)
                if last is None or last[0] != n or now - last[1] >= COUNT_REFRESH:
                    sent[run_id] = (n, now)
                    self.send_bridge(("control", run_id, "watchers", n))
            for run_id in set(sent) - set(counts):
                del sent[run_id]

    def _set_cluster(self, ok: bool, info) -> None:
        c = self.cluster
        before = (c.ok, c.message, c.connecting)
        c.connecting = False
        if ok:
            c.resources, self._restarts = info, 0
        if ok != c.ok:
            c.ok, c.since, c.failed_runs = ok, time.monotonic(), False
            log.info("Ray cluster at %s: %s", self.address, "connected" if ok else info)
        c.message = None if ok else info
        if (c.ok, c.message, c.connecting) != before:
            self.manager.announce_runner()  # every page of this process says so
        if ok:
            self._reattach()
            self._scan_now.set()

    def _reattach(self) -> None:
        """A new bridge reads nothing yet: follow every run again from where it was."""
        with self.manager.lock:
            for w in self.workers:
                if w.bound and not w.closed:
                    self.send_bridge(("attach", w.bound, w.after,
                                      w.frames_after if w.pictures else None,
                                      w.role == "follower"))
            self.manager._schedule()  # runs that waited for the cluster

    # -- a run's stream (the demux; each worker's lock, never with the manager's) ----------------

    def _forward(self, w: RayWorker, seq: int, index: int | None, message: tuple) -> None:
        with w.lock:
            if w.dead:
                return
            if message[0] == "frames":
                w.frames_after = seq
            else:
                w.after = seq
            if index is not None:
                w.seen = index
                w.tail.append((index, message[2]))
            if message[0] == "watchers":  # {process: its watchers}: the others' sum here
                message = ("watchers", message[1],
                           sum(n for who, n in message[2].items() if who != self.who))
            if message[0] in END and w.promote_at is not None:
                self._mark_owned(w)  # the end is the new owner's to record
            self._write(w, message)
            if w.promote_at is not None and w.seen >= w.promote_at:
                self._mark_owned(w)

    def _mark_owned(self, w: RayWorker) -> None:
        """Put the takeover's marker in the run's pipe, with the points the store lacks."""
        backfill = [point for index, point in w.tail if index > w.promote_at]
        w.promote_at = None
        self._write(w, (OWNED, w.bound, backfill))

    def _write(self, w: RayWorker, message: tuple) -> None:
        try:
            w.writer.send(message)
        except OSError:  # the manager released the worker
            self._close_pipes(w)

    def _died(self, w: RayWorker, why: str) -> None:
        with w.lock:
            if w.dead:
                return
            if w.role == "follower" and w.promote_at is None:
                # A mirror never decides how its run ended (the actor may have exited after
                # its end, which this process read late): the store will say (_end_mirror).
                self._scan_now.set()
                return
            w.died = why
            if w.promote_at is not None:
                self._mark_owned(w)
            self._close_pipes(w)

    def _close_pipes(self, w: RayWorker) -> None:
        w.dead = True
        w.writer.close()
        w.sentinel_writer.close()  # the drainer sees the sentinel and calls worker_died

    def promote(self, w: RayWorker, backfill: list[dict]) -> None:
        """The marker reached the drainer: from here on this process owns the run."""
        manager = self.manager
        with manager.lock:
            run = manager.runs.get(w.bound)
            if run is None or run.owned or run.worker is not w:
                return
            manager._flush(run, time.monotonic())  # a mirror's points, already in backfill
            run.owned, w.role = True, "owner"
            self.store.add_points(run.id, backfill)
            self.store.update_run(run.id, status=run.state, device=run.device, step=run.step,
                                  epoch=int(run.epoch))
        log.info("took over run %s (%d points the store lacked)", run.id, len(backfill))

    # -- leases and takeovers ------------------------------------------------------------------

    def _keep(self) -> None:
        """Renew this process's leases, give up its ended runs' and take over lapsed ones."""
        last_scan = 0.0
        while not self._stopping.is_set():
            self._scan_now.wait(self.lease_seconds / 3)
            self._scan_now.clear()
            if self._stopping.is_set():
                return
            try:
                self._renew()
                if self.cluster.ok and time.monotonic() - last_scan >= self.lease_seconds / 3:
                    last_scan = time.monotonic()
                    self._scan()
                self._fail_if_lost()
            except Exception:  # noqa: BLE001 - a store or Redis hiccup: try again next round
                log.exception("keeping the Ray runs' leases failed; trying again")

    def _renew(self) -> None:
        released, self._released = self._released, []
        for run_id in released:
            self.leases.release(run_id)
        with self.manager.lock:
            owned = [r.id for r in self.manager.runs.values() if r.owned]
        lost = set(owned) - self.leases.hold(owned)
        if lost:
            with self.manager.lock:
                for run_id in lost:
                    self._demote(run_id)

    def _demote(self, run_id: str) -> None:
        """Another process holds the lease now (this one stalled past it): mirror the run."""
        run = self.manager.runs.get(run_id)
        if run is None or not run.owned:
            return
        log.warning("lost the lease of run %s to another server; mirroring it", run_id)
        run.owned, run.unsaved = False, []
        if run_id in self.manager.queue:  # the taker queued it again: it starts there
            self.manager.queue.remove(run_id)
            self._attach_mirror(run, wait=True)
        elif isinstance(run.worker, RayWorker):
            run.worker.role = "follower"

    def _scan(self) -> None:
        """Take over the live runs whose owner's lease lapsed; end mirrors the store ended."""
        rows = live_runs(self.store)
        live = {row["id"] for row in rows}
        for row in rows:
            with self.manager.lock:
                run = self.manager.runs.get(row["id"])
                if run is not None and run.owned:
                    continue
            # A run its owner has just made may have no lease yet: wait until it surely has.
            if self.leases.shared and time.time() - row["created"] < 2 * self.lease_seconds:
                continue
            if self.leases.claim(row["id"]):
                self._take_over(row["id"])
        with self.manager.lock:
            ended = [r for r in self.manager.runs.values() if not r.owned and r.id not in live]
        for run in ended:
            self._end_mirror(run)

    def _take_over(self, run_id: str) -> None:
        manager = self.manager
        with manager.lock:
            row = self.store.get_run(run_id)
            run = manager.runs.get(run_id)
            if row is None or row["status"] in TERMINAL or (run is not None and run.owned):
                if row is None or row["status"] in TERMINAL:
                    self._released.append(run_id)
                return
            log.info("taking over run %s (%s) from a server that stopped", run_id, row["status"])
            if row["status"] == "queued":
                self._queue_here(run, row)
                return
            if run is None:
                run = self._mirror(row, wait=False)
            w = run.worker
            count = point_count(self.store, run_id)
            attach = ("attach", run_id, w.after, w.frames_after if w.pictures else None, False)
        with w.lock:  # before the attach: a missing actor must find the takeover under way
            w.promote_at = count
            if w.seen >= count:
                self._mark_owned(w)
        self.send_bridge(attach)  # no longer waits for the actor: the owner says it is gone

    def _queue_here(self, run: Run | None, row: dict) -> None:
        """A run a dead owner still had queued: it waits in this process's queue now."""
        manager = self.manager
        if run is None:
            run = self._run(row)
            manager.runs[run.id] = run
        elif isinstance(run.worker, RayWorker):
            self.remove(run.worker)
        run.worker, run.owned, run.state = None, True, "queued"
        manager.queue.append(run.id)
        manager._schedule()

    def _end_mirror(self, run: Run) -> None:
        """The store holds the run's end (its owner recorded it): the mirror ends so too."""
        row = self.store.get_run(run.id)
        if row is None or row["status"] not in TERMINAL:
            return
        with self.manager.lock:
            if self.manager.runs.get(run.id) is not run or run.owned:
                return
            self.manager._finish(run, row["status"], summary=row["summary"],
                                 message=row["message"])
            if isinstance(run.worker, RayWorker):
                run.worker.run_id = None
                self.remove(run.worker)

    def _fail_if_lost(self) -> None:
        """The cluster has been away longer than its nodes outlive their head: the actors of
        this process's runs are gone, and so are the runs."""
        c = self.cluster
        if c.ok or c.failed_runs or time.monotonic() - c.since < self.lost_fail_seconds:
            return
        c.failed_runs = True
        with self.manager.lock:
            victims = [w for w in self.workers if w.role == "owner" and w.busy]
        for w in victims:
            self._died(w, f"the Ray cluster was lost while this run trained: {c.message}")

    # -- mirrors -------------------------------------------------------------------------------

    def _run(self, row: dict) -> Run:
        config = self.manager.config
        run = Run(row["id"], row["token_hash"], row["document"], state="starting",
                  device=row["device"], step=row["step"], epoch=row["epoch"],
                  message=row["message"], design_key=row["design_key"],
                  next_run_id=row["next_run_id"], owned=False)
        run.frames = LiveFrames(self.manager.emit, config.frame_ack_timeout,
                                Timeline(config.timeline_interval, config.timeline_limit))
        return run

    def _mirror(self, row: dict, wait: bool) -> Run:
        """Follow a run another process owns: its actor's whole stream, from the start (a run
        queued there shows as starting here until it starts)."""
        run = self._run(row)
        self.manager.runs[run.id] = run
        self._attach_mirror(run, wait)
        return run

    def _attach_mirror(self, run: Run, wait: bool) -> None:
        w = self._new_worker("follower")
        w.run_id = w.bound = run.id
        run.worker, run.state = w, "starting"
        self.routes[run.id] = w
        self.send_bridge(("attach", run.id, 0, None, wait))

    def _new_worker(self, role: str) -> RayWorker:
        self._slots += 1
        w = RayWorker(self, self._slots, role)
        self.workers.append(w)
        self.manager._start_drainer()
        return w


def ensure_mark(data_dir: Path) -> str:
    """The data folder's name for actors to check it is the same folder (made once)."""
    path = data_dir / MARK
    if not path.is_file():
        temp = data_dir / f".{MARK}.{secrets.token_hex(4)}"
        temp.write_text(secrets.token_hex(16))
        try:
            os.link(temp, path)  # atomic, and never replaces the mark another server made
        except FileExistsError:
            pass
        finally:
            temp.unlink()
    return path.read_text().strip()


def ray_runner(address: str, message_queue: str | None, lease_seconds: float,
               lost_fail_seconds: float) -> Callable[[RunManager], RayRunner]:
    """ManagerConfig.runner for `layerlab serve --runner ray`."""
    def make(manager: RunManager) -> RayRunner:
        config = manager.config
        return RayRunner(manager, address, message_queue, config.max_concurrent,
                         config.threads or 1, lease_seconds, lost_fail_seconds)

    return make
