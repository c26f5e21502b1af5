"""CUDA graphs for the supervised step: captured once, replayed once per step.

A tiny model's step is a few dozen kernels of a few microseconds each, and launching them one
by one from Python takes longer than running them. So the whole step (forward, loss, backward,
gradient clipping, the optimizer's update and the running metric sums) is recorded once as a
CUDA graph and then replayed with one launch per step (PyTorch's whole-network capture):

- The first WARMUP_STEPS full batches train eagerly on a side stream, so that everything
  created lazily (the optimizer's moments, cuBLAS workspaces) exists before the capture.
- Every replay reads the same input buffers: each batch is copied into them first.
- A batch of another shape (an epoch's smaller last batch) trains eagerly, into the same
  gradient buffers, so the graph's view of the model never goes stale.
- A learning-rate change re-captures at the next full batch: the rate is a constant of the
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
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.device(self.device), torch.cuda.graph(graph):
            body()
        return graph.replay


class GraphStep:
    """The supervised Trainer's step, as a CUDA graph where it can be (see the module doc)."""

    def __init__(self, trainer: Trainer, backend, shape: tuple[int, ...]):
        self.trainer = trainer
        self.backend = backend  # CudaBackend, or a stand-in in the CPU tests
        self.shape = tuple(shape)  # the full batch's input shape, (N, ...)
        self.warm = 0  # eager warm-up steps taken
        self.replay: Callable[[], None] | None = None  # set once captured
        self.captures = 0  # how many times the step was captured (learning-rate changes)
        self.reason: str | None = None  # why it fell back to eager (None: it has not)
        self.static_x: torch.Tensor | None = None  # the input buffers every replay reads
        self.static_y: torch.Tensor | None = None

    @property
    def state(self) -> str:
        """"on" while the step is a graph (or about to be), else why it trains eagerly."""
        return self.reason or "on"

    def step(self, xb: torch.Tensor, yb: torch.Tensor) -> None:
        """One training step: replayed when captured for this shape, else eager."""
        t = self.trainer
        if self.reason is not None or tuple(xb.shape) != self.shape:
            self._eager(xb, yb)
            return
        if self.warm < WARMUP_STEPS:
            with self.backend.warm_up(), _quiet():
                t.eager_step(xb, yb)
            self.warm += 1
            return
        if self.replay is None and not self._capture(xb, yb):
            self._eager(xb, yb)
            return
        self.static_x.copy_(xb)
        self.static_y.copy_(yb)
        self.replay()
        t.count_step(yb.shape[0])
        if t.probe_grads:  # the gradient buffers hold this step's (clipped) gradients
            t.grad_norms, t.probe_grads = gradient_norms(t.grad_groups), False

    def recapture(self) -> None:
        """Capture again at the next full batch (the learning rate changed)."""
        if self.replay is not None:
            self.replay = None
            self.trainer.optimizer.zero_grad(set_to_none=True)  # the graph's buffers go with it

    def _eager(self, xb: torch.Tensor, yb: torch.Tensor) -> None:
        t = self.trainer
        if self.replay is None:
            t.eager_step(xb, yb)
            return
        # The graph's gradient buffers must stay the parameters' own: zero them in place and
        # let backward accumulate into them, instead of dropping them.
        t.optimizer.zero_grad(set_to_none=False)
        with _quiet():
            loss, out = t.train_step(xb, yb, t.probe_grads)
        t.add_metrics(loss, out, yb)
        t.count_step(yb.shape[0])

    def _capture(self, xb: torch.Tensor, yb: torch.Tensor) -> bool:
        """Record the step; on failure fall back to eager for good. True when captured."""
        t = self.trainer
        if self.static_x is None:
            self.static_x, self.static_y = torch.empty_like(xb), torch.empty_like(yb)
        t.optimizer.zero_grad(set_to_none=True)  # backward then writes the graph's own buffers

        def body() -> None:
            loss, out = t.train_step(self.static_x, self.static_y, False)
            t.add_metrics(loss, out, self.static_y)

        try:
            self.replay = self.backend.capture(body)
        except Exception as e:  # noqa: BLE001 - any failure to capture means: train eagerly
            self.fall_back(f"capture failed: {type(e).__name__}: {e}".strip())
            t.optimizer.zero_grad(set_to_none=True)
            return False
        self.captures += 1
        log.info("the step of batch %s is a CUDA graph (capture %d)", list(self.shape),
                 self.captures)
        return True

    def fall_back(self, reason: str) -> None:
        """Train eagerly from now on, saying why."""
        self.reason, self.replay = reason, None
        log.warning("training without CUDA graphs: %s", reason)


@contextlib.contextmanager
def _quiet():
    """A capturable optimizer warns when it steps outside a graph; here that is meant."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=UNCAPTURED_WARNING)
        yield
