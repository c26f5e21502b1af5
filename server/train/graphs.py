"""CUDA graphs for the supervised step: captured once, replayed once per step.

A tiny model's step is a few dozen kernels of a few microseconds each, and launching them one
by one from Python takes longer than running them. So the whole step (zeroing the gradients,
forward, loss, backward, gradient clipping, the optimizer's update and the running metric sums)
is recorded once as a CUDA graph and then replayed with one launch per step (PyTorch's
whole-network capture):

- The first WARMUP_STEPS steps train eagerly on a side stream, so that everything created
  lazily (the gradients, the optimizer's moments, cuBLAS workspaces) exists before a capture.
  The gradients are then kept, zeroed in place: every graph reads and writes those buffers.
- Each batch shape gets its own graph (an epoch's smaller last batch is a second one), all in
  one memory pool: nothing a graph leaves in it is read after its replay.
- Every replay reads the same input buffers: each batch is copied into them first.
- A learning-rate change re-captures at the next step: the rate is a constant of the
  optimizer's kernels.
- Where the step cannot be captured, `eager_reason` says why before anything is tried, and a
  capture that fails falls back to eager training for the rest of the run; either way the
  reason is logged and kept (`GraphStep.reason`, the run's `cuda_graphs` figure).

Nothing here runs without a CUDA GPU; the CPU tests drive GraphStep with a stand-in backend.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import torch

from server.train.gradients import gradient_norms

if TYPE_CHECKING:
    from server.train.loop import Trainer

log = logging.getLogger(__name__)
WARMUP_STEPS = 3  # eager steps on a side stream before the capture (PyTorch's advice)
# Layers whose step cannot be captured, and why.
EAGER_LAYERS = {
    "Embedding": "its backward pass sorts and counts the indices on the host, a sync that a "
                 "graph cannot hold",
}
# Optimizers whose step cannot be captured, and why.
EAGER_OPTIMIZERS = {
    "adagrad": "adagrad counts its steps on the host",
}
CAPTURABLE = ("adam", "adamw", "rmsprop")  # optimizers whose `capturable` flag capture needs
UNCAPTURED_WARNING = "This instance was constructed with capturable=True"  # eager steps say so


def eager_reason(*, device: torch.device, enabled: bool, precision: str, optimizer: str,
                 layer_types: Iterable[str]) -> str | None:
    """Why a run's step cannot be a CUDA graph (None: it can be tried)."""
    if device.type != "cuda":
        return f"the run is on {device.type}, not a CUDA GPU"
    if not enabled:
        return "CUDA graphs are turned off for this run"
    if precision == "fp16":
        return "fp16's grad scaler decides on the host whether each step is skipped"
    if optimizer in EAGER_OPTIMIZERS:
        return EAGER_OPTIMIZERS[optimizer]
    for layer in sorted(set(layer_types)):
        if layer in EAGER_LAYERS:
            return f"{layer}: {EAGER_LAYERS[layer]}"
    return None


class CudaBackend:
    """Warm-up on a side stream and capture with torch.cuda.graph, on one device."""

    def __init__(self, device: torch.device):
        self.device = device
        self.stream = torch.cuda.Stream(device)
        self.pool = None  # the memory pool every graph of the run shares

    @contextlib.contextmanager
    def warm_up(self):
        """Run the body on the side stream, ordered after and before the current stream."""
        with torch.cuda.device(self.device):
            current = torch.cuda.current_stream()
            self.stream.wait_stream(current)
            with torch.cuda.stream(self.stream):
                yield
            current.wait_stream(self.stream)

    def capture(self, body: Callable[[], None]) -> Callable[[], None]:
        """Record `body` (nothing runs) and return what replays it."""
        with torch.cuda.device(self.device):
            if self.pool is None:
                self.pool = torch.cuda.graph_pool_handle()
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=self.pool):
                body()
        return graph.replay


class GraphStep:
    """The supervised Trainer's step, as CUDA graphs where it can be (see the module doc)."""

    def __init__(self, trainer: Trainer, backend):
        self.trainer = trainer
        self.backend = backend  # CudaBackend, or a stand-in in the CPU tests
        self.warm = 0  # eager warm-up steps taken
        self.graphs: dict[tuple[int, ...], Callable[[], None]] = {}  # batch shape -> replay
        self.inputs: dict[tuple[int, ...], tuple[torch.Tensor, torch.Tensor]] = {}  # buffers
        self.captures = 0  # graphs recorded in all (a new shape, a new learning rate)
        self.reason: str | None = None  # why it fell back to eager (None: it has not)

    @property
    def state(self) -> str:
        """"on" while the step is a graph (or about to be), else why it trains eagerly."""
        return self.reason or "on"

    def step(self, xb: torch.Tensor, yb: torch.Tensor) -> None:
        """One training step: a replay where captured, else eager."""
        t = self.trainer
        if self.reason is not None:
            t.eager_step(xb, yb)
            return
        if self.warm < WARMUP_STEPS:
            self._warm_up(xb, yb)
            return
        shape = tuple(xb.shape)
        replay = self.graphs.get(shape) or self._capture(shape, xb, yb)
        if replay is None:  # the capture failed: eager from now on
            t.eager_step(xb, yb)
            return
        x, y = self.inputs[shape]
        x.copy_(xb)
        y.copy_(yb)
        replay()
        t.count_step(yb.shape[0])
        if t.probe_grads:  # the gradient buffers hold this step's (clipped) gradients
            t.grad_norms, t.probe_grads = gradient_norms(t.grad_groups), False

    def recapture(self) -> None:
        """Capture again at the next step (the learning rate changed)."""
        self.graphs.clear()

    def _warm_up(self, xb: torch.Tensor, yb: torch.Tensor) -> None:
        t = self.trainer
        with self.backend.warm_up(), _quiet():
            loss, out = t.train_step(xb, yb, t.probe_grads)
            t.optimizer.zero_grad(set_to_none=False)  # kept: the graphs' gradient buffers
            t.add_metrics(loss, out, yb)
        t.count_step(yb.shape[0])
        self.warm += 1

    def _capture(self, shape: tuple[int, ...], xb: torch.Tensor, yb: torch.Tensor):
        """Record the step for batches of `shape`; on failure fall back to eager for good.
        Returns the replay, or None."""
        t = self.trainer
        if shape not in self.inputs:
            self.inputs[shape] = (torch.empty_like(xb), torch.empty_like(yb))
        x, y = self.inputs[shape]

        def body() -> None:
            t.optimizer.zero_grad(set_to_none=False)  # in place: the same buffers every replay
            loss, out = t.train_step(x, y, False)
            t.add_metrics(loss, out, y)

        try:
            replay = self.backend.capture(body)
        except Exception as e:  # noqa: BLE001 - any failure to capture means: train eagerly
            self.fall_back(f"capture failed: {type(e).__name__}: {e}".strip())
            return None
        self.graphs[shape] = replay
        self.captures += 1
        log.info("the step of batch %s is a CUDA graph (capture %d)", list(shape), self.captures)
        return replay

    def fall_back(self, reason: str) -> None:
        """Train eagerly from now on, saying why."""
        self.reason = reason
        self.graphs.clear()
        self.trainer.optimizer.zero_grad(set_to_none=True)
        log.warning("training without CUDA graphs: %s", reason)


@contextlib.contextmanager
def _quiet():
    """A capturable optimizer warns when it steps outside a graph; here that is meant."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=UNCAPTURED_WARNING)
        yield
