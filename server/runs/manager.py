"""RunManager: every run's life, from `train` to its last point in the store.

Handlers call the public methods from their own threads; one drainer thread (drainer.py) reads
the workers' pipes and calls back in here. One lock guards all state; a run's points join its
history and are emitted under it, so a watcher's snapshot and the live stream never overlap.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from server.graph import DocumentError, validate
from server.runs.drainer import Drainer
from server.runs.frames import LiveFrames
from server.runs.placement import Gpu, Placement, detect_gpus, gpus_with_room
from server.runs.pool import Worker, WorkerPool, exit_reason, gib, memory_limit, rss
from server.runs.records import Records
from server.runs.run import (
    ACTIONS,
    TERMINAL,
    Run,
    RunError,
    design_key,
    finite,
    finite_point,
    hash_token,
    start_order,
    token_matches,
)
from server.runs.runner import Runner
from server.runs.timeline import Timeline
from server.runs.watching import Watching
from server.store import Store
from server.store.points import sync_interrupted

log = logging.getLogger(__name__)
Emit = Callable[..., None]  # emit(event, payload, to=room_or_client, callback=None)


@dataclass
class ManagerConfig:
    """How many runs train at once and how their results flow."""

    max_concurrent: int = 2  # runs training at once; later ones wait in a fair queue
    pool_size: int = 2  # warm workers kept alive (at most max_concurrent)
    stop_grace: float = 3.0  # seconds a stopped run's worker gets before it is killed
    metrics_interval: float = 0.05  # least seconds between two run_metrics of one run
    save_interval: float = 0.5  # seconds between history writes to the store
    max_queued: int = 100  # runs allowed to wait; beyond it `train` is refused as busy
    # Runs one connection may have queued or training at once: without it one client can fill
    # the queue with endless runs and every other client's `train` is refused. 0: no limit.
    max_per_client: int = 4
    max_per_address: int = 8  # the same for one remote address (its connections together)
    frame_ack_timeout: float = 10.0  # seconds a heavy frame may wait for its ack
    threads: int = 0  # torch threads per worker; 0: (CPU cores - 1) / max_concurrent
    insight: dict = field(default_factory=dict)  # {"rates": {kind: per second}, "budget"}
    timeline_interval: float = 1.0  # seconds of training between two timeline checkpoints
    # Bytes of resident memory a worker may use while training (checked every
    # memory_interval s from /proc; over it the worker is killed and its run fails). 0: the
    # default of pool.memory_limit: min(8 GiB, 60% of RAM / max_concurrent); -1: no cap.
    max_worker_memory: int = 0
    memory_interval: float = 0.25
    # Points of a live run's history kept in memory and sent in watch acks (downsampled when
    # full); ended runs' acks are thinned to it from the store. 0: keep every point.
    history_limit: int = 2000
    timeline_limit: int = 200  # checkpoints kept per run (thinned evenly when full)
    gpus: list[Gpu] | None = None  # the GPUs runs are placed on; None: found at start
    # Makes the runner runs train on (runner.py): None, the local WorkerPool of warm processes;
    # ray_runner.ray_runner(...) for Ray actors that outlive this process.
    runner: Callable[[RunManager], Runner] | None = None


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8, ::1 and names that are not addresses (no address limit)."""
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return True


class RunManager(Watching):
    """Owns runs, the fair queue, the warm worker pool and the drainer thread."""

    def __init__(self, store: Store, config: ManagerConfig, emit: Emit):
        self.store = store
        self.config = config
        self.emit = emit
        self.runs: dict[str, Run] = {}  # live runs: not yet finished, stopped or failed
        self.queue: deque[str] = deque()  # ids of queued runs in arrival order (see _order)
        self.clients: dict[str, set[str]] = {}  # client id -> runs it watches
        self.lock = threading.RLock()
        self.pool: Runner = config.runner(self) if config.runner else WorkerPool(
            Path(store.data_dir), config.max_concurrent, config.pool_size, config.threads,
            self._start_drainer)
        self._drainer: Drainer | None = None
        self._closing = False
        self.memory_cap = config.max_worker_memory or memory_limit(config.max_concurrent)
        self.placement = Placement(gpus_with_room(detect_gpus(), None) if config.gpus is None
                                   else config.gpus)
        self._memory_checked = 0.0
        # Runs that outlive a server are taken over by the next one (ray_runner.py).
        self.interrupted = [] if self.pool.outlives_server else store.mark_interrupted()
        sync_interrupted(store, self.interrupted)  # their status step is their last point's
        self.records = Records(store)
        missing = store.runs_without_design_key()
        if missing:
            store.set_design_keys({run_id: design_key(doc) for run_id, doc in missing})

    # -- asked by clients ----------------------------------------------------------------------

    def warm_up(self) -> None:
        """Start the warm worker pool now instead of on the first run."""
        with self.lock:
            self.pool.started = True
            self.pool.top_up()

    def submit(self, document: dict, join: Callable[[str], None], client: str | None,
               address: str | None = None) -> tuple:
        """Queue a run of a valid document; the client (a connection, from `address`) joins its
        room. Returns (id, token, design_key)."""
        report = validate(document, data_dir=self.store.data_dir)
        errors = report.errors
        if not errors and report.network.dataset is None:
            source = "environment" if report.network.training["kind"] == "dqn" else "dataset"
            errors = [{"node": None, "param": f"training.{source}",
                       "message": f"choose {'an' if source[0] == 'e' else 'a'} {source} to "
                                  f"train on"}]
        if errors:
            raise RunError("invalid_document", f"the design cannot be trained: "
                           f"{DocumentError(errors)}", errors)
        token = secrets.token_urlsafe(16)
        with self.lock:
            if self._closing:
                raise RunError("unavailable", "the server is shutting down")
            refusal = self.pool.refusal()
            if refusal:
                raise RunError("unavailable", refusal)
            if len(self.queue) >= self.config.max_queued:
                raise RunError("busy", f"{len(self.queue)} runs are already waiting to train; "
                               "try again when one has finished")
            self._check_quota(client, address)
            run = Run(self._new_id(), hash_token(token), document, design_key=design_key(document),
                      client=client, address=address)
            run.frames = LiveFrames(self.emit, self.config.frame_ack_timeout,
                                    Timeline(self.config.timeline_interval,
                                             self.config.timeline_limit))
            self.store.create_run(run.id, run.token_hash, document, run.design_key)
            self.runs[run.id] = run
            self.queue.append(run.id)
            self._join(run, join, client)
            self.pool.started = True
            self._schedule()  # publishes every queued run whose position changed, this one too
        return run.id, token, run.design_key

    def _check_quota(self, client: str | None, address: str | None) -> None:
        """Refuse a run past the per-connection or per-address limit (lock held)."""
        # Without these one client fills the queue with endless runs and every other client's
        # `train` is refused; loopback is the machine's own user and has no address limit.
        for who, value, limit, name in (
                ("connection", client, self.config.max_per_client, "MAX_RUNS_PER_CLIENT"),
                ("address", address, self.config.max_per_address, "MAX_RUNS_PER_ADDRESS")):
            if value is None or not limit or (who == "address" and is_loopback(value)):
                continue
            attr = "client" if who == "connection" else "address"
            if sum(getattr(r, attr) == value for r in self.runs.values()) >= limit:
                raise RunError("quota_exceeded", f"this {who} already has {limit} runs queued "
                               f"or training, the limit per {who} ({name}); stop one or wait "
                               "for one to finish")

    def control(self, run_id: str, token: object, action: str, steps: int = 1,
                network: str | None = None) -> str:
        """Pause, resume, step or stop a run; returns the state it is in or heading for. A gan's
        step may run only one `network`: "d", "g" or "both" (one iteration, the default)."""
        with self.lock:
            run = self._owned(run_id, token)
            if run.terminal:
                if action == "stop":
                    return run.state
                raise RunError("conflict", f"run {run_id} has already {run.state}")
            if run.state == "queued" or (run.state == "starting" and action == "stop"):
                return self._control_waiting(run, action, steps)
            arg = [steps, network] if action == "step" and network not in (None, "both") \
                else steps
            run.worker.send("control", run.id, action, arg)
            if action == "stop":
                run.worker.stop_asked = time.monotonic()
            return ACTIONS[action]

    def set_lr(self, run_id: str, token: object, lr: float | None,
               generator_lr: float | None = None, epsilon: float | None = None) -> None:
        """Change a run's rates from its next step on: the learning rate (a gan's
        discriminator's; `generator_lr` its generator's; optimizer state is kept) and a dqn's
        exploration rate `epsilon` (which then holds)."""
        commands = (("lr", lr, "set_lr", lambda v: v), ("generator_lr", generator_lr, "set_lr",
                                                        lambda v: [v, "g"]),
                    ("epsilon", epsilon, "set_epsilon", lambda v: v))
        with self.lock:
            run = self._owned(run_id, token)
            if lr is None and generator_lr is None and epsilon is None:
                return
            if run.terminal:
                raise RunError("conflict", f"run {run_id} has already {run.state}")
            for attr, value, command, arg in commands:
                if value is None:
                    continue
                if run.worker is None:
                    setattr(run, attr, float(value))
                else:
                    run.worker.send("control", run.id, command, arg(float(value)))

    def kind_of_run(self, run_id: str, token: object) -> str:
        """The training kind of a run the token controls."""
        with self.lock:
            run = self._owned(run_id, token)
            return ((run.document or {}).get("training") or {}).get("kind") or "supervised"

    def set_greedy(self, run_id: str, token: object, on: bool) -> None:
        """A dqn run's pictures follow its greedy player (the policy without exploring)."""
        self._set_live(run_id, token, "greedy", "greedy", bool(on))

    def set_speed(self, run_id: str, token: object, speed: float | None) -> None:
        """Slow motion: at most `speed` steps a second (None: full speed)."""
        self._set_live(run_id, token, "speed", "set_speed", speed)

    def _set_live(self, run_id: str, token: object, attr: str, command: str, value) -> None:
        """Keep a setting of a run the token controls and tell its worker, if it has one."""
        with self.lock:
            run = self._owned(run_id, token)
            if run.terminal:
                raise RunError("conflict", f"run {run_id} has already {run.state}")
            setattr(run, attr, value)
            if run.worker is not None:
                run.worker.send("control", run.id, command, value)

    # -- read by routes ------------------------------------------------------------------------

    def is_live(self, run_id: str) -> bool:
        """True while a run is queued or training (here, or in another server's runner)."""
        with self.lock:
            if run_id in self.runs:
                return True
        if not self.pool.outlives_server:
            return False
        row = self.store.get_run(run_id)
        return row is not None and row["status"] not in TERMINAL

    def runner(self) -> dict:
        """GET /api/health's `runner`: where runs train and whether new ones can start."""
        with self.lock:
            return self.pool.describe()

    def announce_runner(self) -> None:
        """Tell every page this process serves that the runner's state changed (server_status:
        a lost Ray cluster, and its return)."""
        self.emit("server_status", {"runner": self.runner()}, to=None)

    def devices(self) -> dict:
        """GET /api/devices: CPU cores, each GPU with its runs and their memory, and where a
        run asking for `auto` would go now."""
        with self.lock:
            return {**self.placement.describe(os.cpu_count()),
                    "max_concurrent": self.config.max_concurrent, "queued": len(self.queue)}

    def stats(self) -> dict:
        """Counts for GET /api/health."""
        with self.lock:
            workers = self.pool.workers
            return {"queued": len(self.queue), "active": sum(w.busy for w in workers),
                    "workers": len(workers), "ready_workers": sum(w.ready for w in workers),
                    "max_concurrent": self.config.max_concurrent}

    # -- driven by the drainer -----------------------------------------------------------------

    def on_message(self, w: Worker, message: tuple) -> None:
        """Apply one message from a worker (see server/runs/worker.py for the kinds)."""
        kind = message[0]
        with self.lock:
            if kind == "ready":
                w.ready, self.pool.boot_failures = True, 0
                if w.stop_asked:  # the stop grace counts from when it can obey
                    w.stop_asked = time.monotonic()
                return
            run = self.runs.get(message[1])
            if kind in ("done", "failed") and w.run_id == message[1]:
                w.run_id, w.stop_asked = None, None
            if run is not None and not run.terminal:
                self._apply(run, kind, message[2:])
            if not w.busy:
                self._schedule()

    def tick(self, now: float) -> None:
        """Send due metric batches, save history, end workers that ignore a stop."""
        batches = []
        with self.lock:
            for run in self.runs.values():
                if run.unsent and now - run.last_sent >= self.config.metrics_interval:
                    self._flush(run, now)
                if run.unsaved and now - run.last_saved >= self.config.save_interval:
                    batches.append((run.id, run.unsaved))
                    run.unsaved, run.last_saved = [], now
            late = [w for w in self.pool.workers if w.stop_asked and w.ready
                    and now - w.stop_asked > self.config.stop_grace]
            if self.memory_cap > 0 and now - self._memory_checked >= self.config.memory_interval:
                self._memory_checked = now
                late += self._over_memory()
        for run_id, points in batches:
            self.store.add_points(run_id, points)
        for w in late:
            w.end()  # the drainer sees its sentinel next and calls worker_died

    def _over_memory(self) -> list[Worker]:
        """Busy workers whose resident memory passed the cap, marked with the reason."""
        # A watchdog rather than RLIMIT_AS: CUDA reserves far more address space than it uses.
        over = []
        for w in self.pool.workers:
            used = rss(w.process.pid) if w.busy and not w.over_memory else None
            if used is not None and used > self.memory_cap:
                w.over_memory = (f"the run used {gib(used)} of memory; the limit is "
                                 f"{gib(self.memory_cap)} (MAX_WORKER_MEMORY): use a smaller "
                                 "design, batch size or dataset")
                over.append(w)
        return over

    def worker_died(self, w: Worker) -> None:
        """A worker process ended: fail (or stop) its run and replace it."""
        with self.lock:
            if not self.pool.remove(w):
                return
            run = self.runs.get(w.run_id) if w.run_id else None
            if run is not None and not run.terminal:
                if w.over_memory:
                    self._finish(run, "failed", message=w.over_memory)
                elif w.stop_asked:
                    self._finish(run, "stopped", message="stopped; its training process was "
                                 f"ended after not stopping within {self.config.stop_grace:g} s")
                else:
                    self._finish(run, "failed", message=w.died or "the training process "
                                 f"ended unexpectedly: {exit_reason(w.process.exitcode)}")
            self._schedule()

    # -- shutting down -------------------------------------------------------------------------

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every run, record it, and end the workers (bounded by `timeout` seconds).
        Runs that outlive the server go on training; another server takes them over."""
        if self.pool.outlives_server:
            with self.lock:
                self._closing = True
            if self._drainer:
                self._drainer.stop()
            with self.lock:
                self.pool.close()
            return
        with self.lock:
            self._closing = True
            for run_id in list(self.queue):
                self._finish(self.runs[run_id], "stopped",
                             message="the server shut down before this run started")
            for w in self.pool.workers:
                if w.busy:
                    w.send("control", w.run_id, "stop", None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._drainer and self._drainer.is_alive():
            with self.lock:
                if not self.runs:
                    break
            time.sleep(0.02)
        with self.lock:
            for run in list(self.runs.values()):
                self._finish(run, "stopped", message="the server shut down")
        if self._drainer:
            self._drainer.stop()
        with self.lock:
            self.pool.close()

    # -- internals (called with the lock held) -------------------------------------------------

    def _apply(self, run: Run, kind: str, args: tuple) -> None:
        if kind == "point":
            point, warning = finite_point(args[0])
            run.unsent.append(point)
            run.step, run.epoch = point.get("step", run.step), int(point.get("epoch", run.epoch))
            if warning and run.message is None:  # the first one says when it started
                self._flush(run, time.monotonic())  # the nulls reach watchers with the message
                run.message = warning
                if run.owned:
                    self.store.update_run(run.id, message=warning)
                self._publish(run)
        elif kind == "status":
            self._on_status(run, args[0])
        elif kind == "done":
            self._finish(run, args[0]["state"], summary=args[0])
        elif kind == "failed":
            if len(args) > 1 and args[1] is not None:
                run.step = args[1]  # the step its message names, past the last point's
            self._finish(run, "failed", message=args[0])
        elif kind == "frames":
            run.frames.receive(*args, list(run.watchers))
        elif kind == "watchers":  # how many watch it through other web processes (Ray)
            if args[0] != run.elsewhere:
                run.elsewhere = int(args[0])
                self._publish(run)
        elif kind == "memory":  # bytes of GPU memory the run holds, about once a second
            run.gpu_memory = int(args[0])
            self.placement.report(run.id, run.gpu_memory)
            self._publish(run)

    def _on_status(self, run: Run, status: dict) -> None:
        run.step, run.epoch = status.get("step", run.step), status.get("epoch", run.epoch)
        run.device = status.get("device") or run.device
        if status["state"] != run.state and run.can_become(status["state"]):
            self._move(run, status["state"])

    def _move(self, run: Run, state: str) -> None:
        self._flush(run, time.monotonic())  # points before the status that follows them
        run.state = state
        if run.owned:
            self.store.update_run(run.id, status=state, device=run.device, step=run.step,
                                  epoch=int(run.epoch))
        self._publish(run)

    def _finish(self, run: Run, state: str, summary: dict | None = None,
                message: str | None = None) -> None:
        self._flush(run, time.monotonic())
        self.store.add_points(run.id, run.unsaved)
        message = message or run.message  # a finished run keeps its non-finite warning
        summary = finite(summary) if summary else summary
        run.unsaved, run.state, run.message = [], state, message
        if summary:
            run.step, run.epoch = summary["steps"], summary["epochs"]
            run.device = summary["device"]
            run.gpu_memory = summary.get("gpu_memory", run.gpu_memory)
        self.placement.release(run.id)
        if run.owned:  # a mirror's end is its owner's to record
            self.store.update_run(run.id, status=state, device=run.device, step=run.step,
                                  epoch=int(run.epoch), message=message, finished=time.time(),
                                  summary=summary)
        self._publish(run)
        if run.owned:
            self.records.keep(run.id, run.frames.timeline)
        log.info("run %s %s%s", run.id, state, f": {message}" if message else "")
        del self.runs[run.id]
        for client in run.watchers:
            self.clients.get(client, set()).discard(run.id)
        if run.id in self.queue:
            self.queue.remove(run.id)
            self._publish_queue()

    def _flush(self, run: Run, now: float) -> None:
        if run.unsent:
            points, run.unsent = run.unsent, []
            run.history.extend(points)
            if len(run.history) > self.config.history_limit > 0:
                # Every other old point goes, the newest stays: an endless run's memory and
                # its watch acks stay bounded; the store keeps every point.
                run.history, run.thinned = run.history[:-1:2] + run.history[-1:], True
            if run.owned:
                run.unsaved.extend(points)
            self.emit("run_metrics", {"run_id": run.id, "points": points}, to=run.id)
        run.last_sent = now

    def _publish(self, run: Run, position: int | None = None) -> None:
        position = self._position(run) if position is None else position
        run.position_sent = position
        self.emit("run_status", run.status(position), to=run.id)

    def _publish_queue(self) -> None:
        """Tell every queued run whose place in the start order changed (a new one included)."""
        for position, run in enumerate(self._order(), 1):
            if run.position_sent != position:
                self._publish(run, position)

    def _order(self) -> list[Run]:
        """Queued runs in the order idle workers will take them (run.start_order)."""
        live: dict = {}
        training: dict = {}
        for run in self.runs.values():
            live[run.client] = live.get(run.client, 0) + 1
            if run.worker is not None:
                training[run.client] = training.get(run.client, 0) + 1
        return start_order([self.runs[run_id] for run_id in self.queue], live, training)

    def _position(self, run: Run) -> int | None:
        if run.state != "queued":
            return None
        return next(i for i, r in enumerate(self._order(), 1) if r is run)

    def _owned(self, run_id: str, token: object) -> Run:
        run = self.runs.get(run_id)
        if run is None:
            row = self.store.get_run(run_id)
            if row is None:
                raise RunError("not_found", f"there is no run {run_id!r}")
            if token_matches(token, row["token_hash"]):  # another server's run: mirror it
                run = self.pool.adopt(run_id)
            run = run or Run(run_id, row["token_hash"], row["document"], state=row["status"])
        if not token_matches(token, run.token_hash):
            raise RunError("forbidden", f"the token does not control run {run_id}; only the "
                           "page that started a run can control it")
        return run

    def _control_waiting(self, run: Run, action: str, steps: int) -> str:
        """Control a run no worker trains yet."""
        if action == "stop":
            if run.worker is not None:
                run.worker.send("control", run.id, "stop", None)
                run.worker.stop_asked = time.monotonic()
            self._finish(run, "stopped", message="stopped before training began")
            return "stopped"
        run.paused = action != "resume"
        run.steps = run.steps + steps if action == "step" else 0
        return run.state

    def _schedule(self) -> None:
        """Give queued runs to idle workers in the fair start order; tell the rest their place."""
        if self._closing:
            return
        while self.queue:
            placed = self._placed()
            w = self.pool.idle() if placed is not None else None
            if w is None:
                break
            run, device = placed
            self.queue.remove(run.id)
            run.worker, w.run_id = w, run.id
            self.placement.assign(run.id, device)
            w.send("job", {**run.job(), "device": device, "insight": self.config.insight})
            self._move(run, "starting")
        self._publish_queue()
        self.pool.top_up()

    def _placed(self) -> tuple[Run, str] | None:
        """The first queued run, in the start order, that has a device to train on now (a run
        pinned to a full GPU waits without holding up the others), with that device."""
        for run in self._order():
            asked = (run.document.get("training") or {}).get("device") or "auto"
            device = self.placement.place(asked)
            if device is not None:
                return run, device
        return None

    def _start_drainer(self) -> None:
        if self._drainer is None:
            self._drainer = Drainer(self)
            self._drainer.start()

    def _new_id(self) -> str:
        while True:
            run_id = secrets.token_urlsafe(6)
            if run_id not in self.runs and self.store.get_run(run_id) is None:
                return run_id
