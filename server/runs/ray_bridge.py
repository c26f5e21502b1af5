"""The bridge: a web process's one Ray driver, in a spawned process of its own.

Ray ends a driver process that loses its cluster's head for a minute ("Failed to connect to GCS
within 60 seconds ... The program will terminate"): in the web process that would take every
watcher and every finished run down with the head. Here it takes only this process, which the
web process restarts (ray_runner.py). The bridge makes run actors (ray_actor.py), finds them by
name, passes commands on, and reads each followed run's stream in a thread of its own.

Web process -> bridge, on its command queue:

    ("start", run_id, job, data_dir, mark, threads)   make the run's actor and train the job
    ("attach", run_id, after, frames_after, wait)     follow a run's actor from message `after`
                                                      (pictures from `frames_after`; None: none);
                                                      wait: keep looking until it exists
    ("control", run_id, action, arg)                  worker.py's commands ("visuals" also says
                                                      whether this process reads pictures)
    ("kill", run_id)     ("detach", run_id)     ("release", run_id)     ("exit",)

Bridge -> web process, on its pipe:

    ("cluster", ok, info | why)                       connected (resources) or the head is lost
    ("msg", run_id, seq, point_index, message)        one of the run's messages (worker.py's)
    ("died", run_id, why)     ("missing", run_id)     the actor died / there is no such actor
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
import traceback

from server.runs.ray_actor import END, RunActor
from server.runs.worker import commands_from

NAMESPACE = "layerlab"
HEAD_TIMEOUT = 5.0  # seconds without an answer from the head before it is reported lost
PROBE_SECONDS = 1.0  # between two questions to the head
READ_WAIT = 1.0  # seconds one read of a run's stream waits for news
ATTACH_RETRY = 0.5  # seconds between two looks for an actor that does not exist yet
# Seconds an ended run's actor lives on for readers a little behind (it holds its CPU or GPU
# until it exits; a reader later than this finds the end in the store).
RELEASE_GRACE = 3.0
MAX_CONCURRENCY = 32  # an actor's threads: reads from every web process, and commands


def actor_name(run_id: str) -> str:
    """The name a run's actor has in the namespace `layerlab`."""
    return f"layerlab-run-{run_id}"


def main(address: str, who: str, commands, results) -> None:
    """Entry point of the spawned bridge process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the web process's to handle
    out = Outbox(results)
    try:
        import ray

        ray.init(address=address, namespace=NAMESPACE, log_to_driver=False,
                 logging_level=logging.WARNING)
    except Exception as e:  # noqa: BLE001 - any failure to connect is reported, then retried
        out.send(("cluster", False, f"cannot connect to the Ray cluster at {address}: "
                                    f"{type(e).__name__}: {e}"))
        os._exit(1)
    bridge = Bridge(ray, who, out)
    out.send(("cluster", True, bridge.describe()))
    threading.Thread(target=bridge.watch_head, args=(address,), name="head",
                     daemon=True).start()
    # The web process dying ends the bridge (commands_from): its runs' actors go on without it.
    for message in commands_from(commands):
        if message[0] == "exit":
            os._exit(0)
        try:
            bridge.handle(message)
        except Exception:  # noqa: BLE001 - one bad command must not end every run's stream
            traceback.print_exc()


class Outbox:
    """The pipe to the web process, shared by every thread of the bridge."""

    def __init__(self, conn):
        self.conn = conn
        self.lock = threading.Lock()

    def send(self, message: tuple) -> None:
        try:
            with self.lock:
                self.conn.send(message)
        except OSError:  # the web process is gone
            os._exit(0)


class Bridge:
    """The driver's side of every run this web process starts or follows."""

    def __init__(self, ray, who: str, out: Outbox):
        self.ray, self.who, self.out = ray, who, out
        self.remote = ray.remote(RunActor)
        self.readers: dict[str, Reader] = {}
        self.answered = time.monotonic()  # when the head last answered
        self.resources = ray.cluster_resources()  # as the head last said

    def describe(self) -> dict:
        """The cluster's resources, for GET /api/health."""
        resources = self.resources
        return {"cpus": resources.get("CPU", 0), "gpus": resources.get("GPU", 0),
                "nodes": sum(1 for n in self.ray.nodes() if n.get("Alive"))}

    def handle(self, message: tuple) -> None:
        """Carry out one command from the web process."""
        kind, run_id, *args = message
        reader = self.readers.get(run_id)
        if kind == "start":
            self.start(run_id, *args)
        elif kind == "attach":
            after, frames_after, wait = args
            if reader is not None and reader.is_alive():
                reader.wait = wait
                return
            self.follow(run_id, None, after, frames_after, wait)
        elif kind == "control" and reader is not None:
            reader.command(*args)
        elif kind == "kill" and reader is not None:
            reader.kill()
        elif kind in ("detach", "release") and reader is not None:
            reader.stop(release=kind == "release")
            del self.readers[run_id]

    def start(self, run_id: str, job: dict, data_dir: str, mark: str, threads: int) -> None:
        """Make the run's actor (one GPU where the cluster has GPUs, else CPUs) and start it."""
        wants_gpu = ((job["document"].get("training") or {}).get("device") or "auto") != "cpu"
        gpus = self.resources.get("GPU", 0)  # never asks the head here: it may be away
        resources = {"num_gpus": 1} if gpus and wants_gpu else {}
        actor = self.remote.options(name=actor_name(run_id), namespace=NAMESPACE,
                                    lifetime="detached", num_cpus=max(1, threads),
                                    max_concurrency=MAX_CONCURRENCY, **resources).remote()
        actor.start.remote(job, data_dir, mark, threads, self.who)
        self.follow(run_id, actor, 0, 0 if job.get("visuals") else None, False)

    def follow(self, run_id: str, actor, after: int, frames_after: int | None,
               wait: bool) -> None:
        reader = Reader(self, run_id, actor, after, frames_after, wait)
        self.readers[run_id] = reader
        reader.start()

    def watch_head(self, address: str) -> None:
        """Report the head lost when it stops answering, and back when it answers again."""
        threading.Thread(target=self._ask_head, name="probe", daemon=True).start()
        lost = False
        while True:
            time.sleep(PROBE_SECONDS / 2)
            silent = time.monotonic() - self.answered
            if silent > HEAD_TIMEOUT and not lost:
                lost = True
                self.out.send(("cluster", False, f"the Ray head at {address} has not answered "
                                                 f"for {silent:.0f} s"))
            elif silent <= HEAD_TIMEOUT and lost:
                lost = False
                self.out.send(("cluster", True, self.describe()))

    def _ask_head(self) -> None:
        while True:
            try:
                self.resources = self.ray.cluster_resources()  # hangs while the head is away
                self.answered = time.monotonic()
            except Exception:  # noqa: BLE001 - not answered: the watcher reports the silence
                pass
            time.sleep(PROBE_SECONDS)


class Reader(threading.Thread):
    """Follows one run's actor: its stream to the web process, commands to it."""

    def __init__(self, bridge: Bridge, run_id: str, actor, after: int,
                 frames_after: int | None, wait: bool):
        super().__init__(name=f"read-{run_id}", daemon=True)
        self.bridge, self.run_id, self.actor = bridge, run_id, actor
        self.after, self.frames_after, self.wait = after, frames_after, wait
        self.pending: list[tuple] = []  # commands given before the actor was found
        self.lock = threading.Lock()
        self.stopped = threading.Event()

    def command(self, action: str, arg) -> None:
        """Pass a command on (kept until the actor is found)."""
        if action == "visuals":
            # This process reads pictures while its watchers want them, starting with the few
            # newest the actor kept (latest wins: a new watcher sees one at once).
            if not arg:
                self.frames_after = None
            elif self.frames_after is None:
                self.frames_after = 0
        with self.lock:
            if self.actor is None:
                self.pending.append((action, arg))
                return
        self.actor.command.remote(action, arg, self.bridge.who)

    def kill(self) -> None:
        """End the actor now (it ignored a stop)."""
        if self.actor is not None:
            self.bridge.ray.kill(self.actor, no_restart=True)

    def stop(self, release: bool) -> None:
        """Stop reading; with release the actor may exit (the run's end is recorded)."""
        self.stopped.set()
        if release and self.actor is not None:
            self.actor.release.remote(RELEASE_GRACE)

    def run(self) -> None:
        ray, out = self.bridge.ray, self.bridge.out
        from ray.exceptions import GetTimeoutError, RayActorError

        while not self.stopped.is_set():
            if self.actor is None and not self._find():
                return
            try:
                entries = ray.get(self.actor.read.remote(self.after, self.frames_after,
                                                         READ_WAIT), timeout=READ_WAIT + 30)
            except GetTimeoutError:
                continue  # a busy node or a lost head: the head watcher says which
            except RayActorError as e:
                if not self.stopped.is_set():
                    out.send(("died", self.run_id, death(e)))
                return
            for seq, index, message in entries:
                if message[0] == "frames":
                    self.frames_after = seq
                else:
                    self.after = seq
                out.send(("msg", self.run_id, seq, index, message))
                if message[0] in END:
                    return

    def _find(self) -> bool:
        """Look the actor up by name (again and again while waiting); False: stop reading."""
        while not self.stopped.is_set():
            try:
                actor = self.bridge.ray.get_actor(actor_name(self.run_id), namespace=NAMESPACE)
            except ValueError:
                if not self.wait:
                    self.bridge.out.send(("missing", self.run_id))
                    return False
                time.sleep(ATTACH_RETRY)
                continue
            with self.lock:
                self.actor, pending, self.pending = actor, self.pending, []
            for action, arg in pending:
                actor.command.remote(action, arg, self.bridge.who)
            return True
        return False


def death(error: Exception) -> str:
    """Why an actor died, in a line: Ray's own message is a page ("... pid: 2800 ... ip: ...
    Worker exit detail: Worker unexpectedly exits ... (1) The process is killed by SIGKILL
    ...")."""
    text = " ".join(str(error).split())
    pid, ip = re.search(r"\bpid: (\d+)", text), re.search(r"\bip: (\S+)", text)
    detail = re.search(r"Worker exit detail: (.*?\.)(?: |$)", text)
    where = f" ({pid.group(1)}{f' on {ip.group(1)}' if ip else ''})" if pid else ""
    why = detail.group(1) if detail else text[:200]
    return (f"its process{where} ended unexpectedly (killed, out of memory or crashed); Ray "
            f"says: {why}")
