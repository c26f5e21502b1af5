"""The worker process: imports torch once, then trains one job after another.

Its main thread runs a Trainer; a reader thread takes commands from the worker's command queue
(jobs, pause/resume/step/stop/set_lr, visuals on/off, select) and exits the process when the
server has died. Every message to the server goes through the worker's one result pipe as a
tuple:

    ("ready", pid)                       imports done, waiting for a job
    ("status", run_id, {state, step, epoch, device?})
    ("point", run_id, point)             a metrics point, with the wall clock as `t_wall`
    ("done", run_id, summary)            finished or stopped; weights already on disk
    ("failed", run_id, message, step)    the run cannot go on; the message says why (and the
                                         step it names, or None)
    ("memory", run_id, bytes)            GPU memory the run holds (CUDA runs, once a second)
    ("frames", run_id, info, {event: payload})  pictures (visuals.py): {step, epoch, time,
                                         final}; the server delivers them latest-wins
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
import traceback
from pathlib import Path

from server.runs.visuals import Visuals

PARENT_CHECK_SECONDS = 0.5  # how often an idle reader checks that the server is still alive
MEMORY_SECONDS = 1.0  # least seconds between two reports of a run's GPU memory
OOM_HINT = ("lower the batch size or the layer sizes, or train in bf16 (training.precision); "
            "other runs on the same GPU share its memory")
# A few steps of a tiny design before reporting ready, so that the first real run finds every
# import done and every kernel loaded: the first metric then comes in a fraction of a second.
WARM_UP = {
    "format": "layerlab.network", "version": 1, "name": "warm-up",
    "nodes": [{"id": "in", "type": "Input", "params": {"shape": [2]}},
              {"id": "fc", "type": "Linear", "params": {"out_features": 4}},
              {"id": "act", "type": "Tanh"},
              {"id": "out", "type": "Linear", "params": {"out_features": 2}}],
    "edges": [{"source": "in", "target": "fc"}, {"source": "fc", "target": "act"},
              {"source": "act", "target": "out"}],
    "training": {"dataset": {"name": "spiral", "samples": 64}, "steps": 3, "batch_size": 16},
}


class Current:
    """The job being trained and its Control, shared by the two threads of a worker."""

    def __init__(self):
        self.lock = threading.Lock()
        self.run_id: str | None = None
        self.control = None
        self.visuals: Visuals | None = None


def main(slot: int, commands, results, data_dir: str, threads: int) -> None:
    """Entry point of a spawned worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    import torch

    torch.set_num_threads(max(1, threads))
    from server.train import Control

    send_lock = threading.Lock()

    def send(message: tuple) -> None:
        try:
            with send_lock:
                results.send(message)
        except OSError:  # the server is gone: nobody is left to train for
            os._exit(0)

    jobs: queue.Queue = queue.Queue()
    current = Current()
    reader = threading.Thread(target=read_commands, name="commands", daemon=True,
                              args=(commands, jobs, current, Control, send))
    reader.start()
    warm_up(slot)
    send(("ready", os.getpid()))
    while True:  # until the reader ends the process ("exit", or the server is gone)
        train(jobs.get(), current, send, data_dir)


def commands_from(commands):
    """The command queue's messages, one by one; ends this process once its parent has died
    (the server, or the web process of a Ray bridge) without telling it."""
    parent = mp.parent_process()
    while True:
        try:
            yield commands.get(timeout=PARENT_CHECK_SECONDS)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                os._exit(0)  # orphaned: nobody is left to take what it sends


def read_commands(commands, jobs: queue.Queue, current: Current, control_class, send) -> None:
    """Take jobs and controls from the command queue; exit when the server is gone."""
    for message in commands_from(commands):
        kind = message[0]
        if kind == "exit":
            os._exit(0)  # sent after every run was stopped and recorded: nothing left to save
        if kind == "job":
            job, control, visuals = prepare(message[1], control_class, send)
            with current.lock:
                current.run_id, current.control, current.visuals = job["run_id"], control, visuals
            jobs.put((job, control, visuals))
        elif kind == "control":
            _, run_id, action, arg = message
            with current.lock:
                mine = current.run_id == run_id
                control, visuals = current.control, current.visuals
            if mine:
                apply(control, visuals, action, arg)


def prepare(job: dict, control_class, send) -> tuple:
    """(the job, its Control, its Visuals), set as the job asks: paused, a step budget, the
    rates and settings its owner chose while it waited (a Ray actor prepares its job so too)."""
    control = control_class(paused=job.get("paused", False))
    if job.get("steps"):
        control.step(job["steps"])
    if job.get("lr") is not None:
        control.set_lr(job["lr"])
    if job.get("generator_lr") is not None:
        control.set_lr(job["generator_lr"], "g")
    if job.get("epsilon") is not None:
        control.set_epsilon(job["epsilon"])
    control.set_greedy(job.get("greedy", False))
    control.set_speed(job.get("speed"))
    from server.kinds import kind_of

    visuals = Visuals(job["run_id"], control, send, job.get("insight"),
                      wanted=job.get("visuals", False), selected=job.get("select", 0),
                      kind=kind_of(job["document"]))
    return job, control, visuals


def apply(control, visuals: Visuals, action: str, arg) -> None:
    """Call the Control (or Visuals) method for a command."""
    if action == "visuals":
        visuals.want(arg)
    elif action == "select":
        visuals.select(arg)
    elif action == "pause":
        control.pause()
    elif action == "resume":
        control.resume()
    elif action == "step":  # arg: steps, or [steps, network] (a gan's d, g or both)
        steps, network = arg if isinstance(arg, (list, tuple)) else (arg, "both")
        control.step(steps or 1, network)
    elif action == "stop":
        control.stop()
    elif action == "set_lr":  # arg: lr, or [lr, network] (a gan's "g": the generator's)
        lr, network = arg if isinstance(arg, (list, tuple)) else (arg, "d")
        control.set_lr(lr, network)
    elif action == "set_speed":
        control.set_speed(arg)
    elif action == "set_epsilon":
        control.set_epsilon(arg)
    elif action == "greedy":
        control.set_greedy(arg)


def train(work: tuple, current: Current, send, data_dir: str) -> None:
    """Run one job to its end and report how it ended."""
    import torch

    from server.graph import DocumentError, parse_document
    from server.kinds import kind_of
    from server.model import save_weights
    from server.train import TrainError

    job, control, visuals = work  # (the job, its Control, its Visuals) from the reader
    run_id = job["run_id"]
    trainer = None
    memory = GpuMemory(run_id, send)

    def on_point(point: dict) -> None:
        send(("point", run_id, {**point, "t_wall": time.time()}))
        memory.sample()

    try:
        network = parse_document(job["document"], data_dir=data_dir)
        kind = kind_of(network)
        trainer = kind.trainer(
            network, data_dir=data_dir, control=control, on_point=on_point,
            on_status=lambda s: send(("status", run_id, s)),
            on_log=visuals.on_log, device=job.get("device"))  # where the server placed it
        visuals.trainer = memory.trainer = trainer
        result = trainer.run()
        weights = save_weights(result.model, Path(data_dir) / "runs" / run_id /
                               "weights.safetensors")
        visuals.final(trainer)  # after the weights are safe: a picture never changes them
        send(("done", run_id, {**summarize(result, weights), **kind.summary(result),
                               "insight": visuals.stats(), **memory.summary()}))
    except (TrainError, DocumentError) as e:
        send(("failed", run_id, str(e), getattr(e, "step", None)))
    except torch.cuda.OutOfMemoryError:  # outside the loop: saving, the final pictures
        send(("failed", run_id, f"the GPU ran out of memory; {OOM_HINT}"))
    except MemoryError:
        send(("failed", run_id, "the server ran out of memory; use a smaller design, batch size "
                                "or dataset"))
    except Exception as e:  # noqa: BLE001 - any bug must fail this run, never the worker
        traceback.print_exc()
        send(("failed", run_id, f"internal error while training: {type(e).__name__}: {e}"))
    finally:
        with current.lock:
            if current.run_id == run_id:  # the next job may already have arrived
                current.run_id, current.control, current.visuals = None, None, None
        memory.trainer = None
        del trainer, visuals
        release_memory()


def warm_up(slot: int) -> None:
    """Train WARM_UP briefly on this worker's device; a failure here is the real run's to report."""
    from server.train import Trainer

    try:
        Trainer(WARM_UP, device=pick_device(WARM_UP, slot)).run()
    except Exception:  # noqa: BLE001 - e.g. a broken GPU: the first real run will say so
        traceback.print_exc()
    release_memory()


class GpuMemory:
    """Reports the GPU memory a CUDA run holds (its caching allocator's), at most once per
    MEMORY_SECONDS; the CUDA context's own few hundred MiB are not counted."""

    def __init__(self, run_id: str, send):
        self.run_id, self.send = run_id, send
        self.trainer = None  # the run's trainer, once made
        self.last = 0.0

    def held(self) -> int | None:
        """Bytes the run's device has reserved, or None off a GPU (or before setup)."""
        import torch

        device = getattr(self.trainer, "device", None)
        if device is None or device.type != "cuda":
            return None
        return torch.cuda.memory_reserved(device)

    def sample(self) -> None:
        """Send the memory held now, if a report is due."""
        now = time.monotonic()
        if now - self.last < MEMORY_SECONDS:
            return
        held = self.held()
        if held is not None:
            self.last = now
            self.send(("memory", self.run_id, held))

    def summary(self) -> dict:
        """{"gpu_memory": bytes} for a GPU run's final figures (the cache only grows during a
        run, so what it holds at the end is its peak), else nothing."""
        held = self.held()
        return {} if held is None else {"gpu_memory": held}


def pick_device(document: dict, slot: int) -> str | None:
    """The warm-up's GPU: with several, spread over them by worker slot (the server places
    real runs); else keep the document's."""
    import torch

    training = document.get("training") or {}
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if training.get("device", "auto") == "auto" and count > 1:
        return f"cuda:{slot % count}"
    return None


def summarize(result, weights: Path) -> dict:
    """The JSON-ready final figures every kind's result has (the kind's summary adds its own)."""
    return {"state": result.state, "steps": result.steps, "epochs": result.epochs,
            "samples_per_second": round(result.samples_per_second, 1),
            "seconds": round(result.seconds, 4),
            "device": result.device, "weights": weights.name}


def release_memory() -> None:
    """Give the GPU memory the last run cached back before the worker waits for the next one."""
    import torch

    if torch.cuda.is_available():
        gc.collect()  # tensors caught in reference cycles hold device memory until collected
        torch.cuda.empty_cache()
