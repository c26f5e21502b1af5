"""The training loop: data on the device, no per-step host sync, metrics at a bounded rate."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from server.data import load_dataset
from server.graph import Network, parse_document
from server.model import LayerlabModel, build_model
from server.train.config import TrainConfig
from server.train.control import Control
from server.train.gradients import gradient_norms, parameter_groups
from server.train.graphs import CAPTURABLE, CudaBackend, GraphStep, eager_reason
from server.train.precision import (
    PrecisionError,
    prepare_device,
    resolve_precision,
    wants_channels_last,
)


class TrainError(Exception):
    """Training cannot go on; the message says why and what to try (and `step`, where known,
    the step it names, so that the run's status can agree with it)."""

    def __init__(self, message: str, step: int | None = None):
        super().__init__(message)
        self.step = step


def _betas(opt: dict) -> tuple[float, float]:
    """Adam's moment decay rates (a GAN wants beta1 0.5; PyTorch's default is 0.9)."""
    return (opt.get("beta1", 0.9), opt.get("beta2", 0.999))


OPTIMIZERS: dict[str, Callable] = {
    "sgd": lambda p, o, **kw: torch.optim.SGD(p, lr=o["lr"], momentum=o["momentum"],
                                              nesterov=o["nesterov"],
                                              weight_decay=o["weight_decay"], **kw),
    "adam": lambda p, o, **kw: torch.optim.Adam(p, lr=o["lr"], betas=_betas(o),
                                                weight_decay=o["weight_decay"], **kw),
    "adamw": lambda p, o, **kw: torch.optim.AdamW(p, lr=o["lr"], betas=_betas(o),
                                                  weight_decay=o["weight_decay"], **kw),
    "adagrad": lambda p, o, **kw: torch.optim.Adagrad(p, lr=o["lr"],
                                                      weight_decay=o["weight_decay"], **kw),
    "rmsprop": lambda p, o, **kw: torch.optim.RMSprop(p, lr=o["lr"], momentum=o["momentum"],
                                                      weight_decay=o["weight_decay"], **kw),
}
FUSED = {"sgd", "adam", "adamw", "adagrad"}  # PyTorch has fused kernels for these


def make_optimizer(params, opt: dict, capturable: bool = False) -> torch.optim.Optimizer:
    """The optimizer, fused where PyTorch supports it (one kernel per step, not one per tensor);
    `capturable` keeps its step count on the GPU, as a CUDA graph of its step needs."""
    params = list(params)
    kw = {"capturable": True} if capturable and opt["name"] in CAPTURABLE else {}
    if opt["name"] in FUSED:
        try:
            return OPTIMIZERS[opt["name"]](params, opt, fused=True, **kw)
        except (RuntimeError, TypeError, ValueError):
            pass  # this device or build has no fused kernel: use the default one
    return OPTIMIZERS[opt["name"]](params, opt, **kw)


def resolve_device(name: str) -> torch.device:
    """auto -> CUDA when present, else CPU; a missing GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TrainError(f"device '{name}' was asked for, but this server has no CUDA GPU; "
                             "use 'auto' or 'cpu'")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise TrainError(f"device '{name}' does not exist; this server has "
                             f"{torch.cuda.device_count()} GPU(s)")
    if name == "mps" and not torch.backends.mps.is_available():
        raise TrainError("device 'mps' was asked for, but this machine has no Apple GPU")
    return torch.device(name)


def device_label(device: torch.device) -> str:
    """What the page's device badge shows: the GPU's name, or CPU."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


@dataclass
class TrainResult:
    """What a finished (or stopped) run leaves behind."""

    state: str  # "finished" | "stopped"
    steps: int
    epochs: int
    train_loss: float | None
    val_loss: float | None
    val_accuracy: float | None
    samples_per_second: float
    seconds: float  # training wall time, setup and pauses excluded
    device: str
    model: LayerlabModel
    history: list[dict] = field(default_factory=list)
    pretrain: dict | None = None  # each pre-trained layer's final reconstruction error
    precision: str = "fp32"  # what it computed in: fp32 | bf16 | fp16
    cuda_graphs: str | None = None  # "on", or why its step was not a CUDA graph (None: n/a)


class Loop:
    """What every training kind's loop shares: the run's shell, its bounds and its controls.

    A subclass sets cfg, control, on_status, step, epoch and steps_per_epoch, and defines
    setup(), _loop(), _log_point(now) and _apply_lr() (the rates asked for, into its
    optimizers)."""

    def run(self):
        """Train until the bound, a stop, or an error (raised as TrainError)."""
        self.on_status({"state": "starting", "step": 0, "epoch": 0})
        try:
            self.setup()
            return self._loop()
        except torch.cuda.OutOfMemoryError as e:
            half = getattr(self, "precision", None)
            hint = ("" if half is None or half.name != "fp32"
                    else ", or train in bf16 (training.precision)")
            raise TrainError(f"{getattr(self, 'device_name', None) or 'the GPU'} ran out of "
                             f"memory at step {self.step} (batch size {self.cfg.batch_size}); "
                             f"lower the batch size or the layer sizes{hint}") from e

    def _load(self):
        """The run's device and seed set, and its dataset loaded (setup's shared first part)."""
        if self.cfg.dataset is None:
            raise TrainError("choose a dataset in training.dataset before training")
        self.device = resolve_device(self.cfg.device)
        prepare_device(self.device)
        torch.manual_seed(self.cfg.seed)
        self.dataset = load_dataset(self.cfg.dataset, self.data_dir)
        return self.dataset

    step0 = 0  # steps taken before the steps that `steps` and `epochs` bound (pre-training's)
    pretrain_steps = 0  # those steps, as planned

    @property
    def tuned(self) -> int:
        """Steps taken since step0: the ones the run's bounds count."""
        return self.step - self.step0

    def _init_weights(self, model: nn.Module) -> None:
        """Start from training.init's weights (or --init-weights), if any: every tensor of the
        model must be there with its shape; a misfit names the node and both shapes."""
        from server.graph.init import InitError, init_path
        from server.model.weights import WeightsError, load_weights

        init = self.network.training.get("init")
        path = self.cfg.init_weights
        if path is None and init is None:
            return
        try:
            if path is None:
                from server.data import default_data_dir

                path = init_path(init, self.data_dir or default_data_dir())
            state = load_weights(path)
        except (InitError, WeightsError) as e:
            raise TrainError(f"training.init: {e}") from e
        own = model.state_dict()
        for key, tensor in own.items():
            node = _node_of(key)
            if key not in state:
                raise TrainError(f"the init weights hold no {key} for '{node}'; they were "
                                 "trained for another design")
            if tuple(state[key].shape) != tuple(tensor.shape):
                raise TrainError(f"the init weights do not fit '{node}': {key} is "
                                 f"{list(tensor.shape)} in the design and "
                                 f"{list(state[key].shape)} in the weights")
        extra = sorted(set(state) - set(own))
        if extra:
            raise TrainError(f"the init weights hold {extra[0]} (node '{_node_of(extra[0])}'), "
                             "which this design does not have; they were trained for another "
                             "design")
        model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})

    def total_steps(self) -> int | None:
        """Steps the run will take when bounded, else None."""
        cfg, per_epoch = self.cfg, getattr(self, "steps_per_epoch", None)
        bounds = [cfg.steps] if cfg.steps else []
        if cfg.epochs and per_epoch:
            bounds.append(cfg.epochs * per_epoch)
        return min(bounds) + self.pretrain_steps if bounds else None

    def epoch_now(self) -> float:
        """The epoch a picture is taken at (fractional: steps over steps per epoch)."""
        return round(self.tuned / self.steps_per_epoch, 4)

    def _done(self) -> bool:
        cfg = self.cfg
        return bool((cfg.epochs and self.epoch >= cfg.epochs)
                    or (cfg.steps and self.tuned >= cfg.steps))

    def _obey(self) -> bool:
        """Apply pending commands; block while paused. False means stop."""
        for fn in self.control.take_calls():
            fn()
        self._apply_lr()
        if not self.control.paused and not self.control.stopping:
            self.control.pace()  # slow motion: wait for this step's turn
            return not self.control.stopping
        if self.control.paused:
            self._log_point(time.perf_counter())  # steps since the last point (none: no-op)
        t = time.perf_counter()
        ok = self.control.wait_turn(lambda: self.on_status(self.status("paused")))
        self.paused_time += time.perf_counter() - t
        self._apply_lr()  # a rate set while paused counts from the step it waited for
        if ok and not self.control.paused:
            self.on_status(self.status("running"))
        return ok

    def status(self, state: str) -> dict:
        """A run_status payload (without run_id)."""
        return {"state": state, "step": self.step, "epoch": self.epoch,
                "device": getattr(self, "device_name", None)}


def _node_of(key: str) -> str:
    """The node a state_dict key belongs to: 'layers.fc1.weight' -> 'fc1'."""
    parts = key.split(".")
    return parts[parts.index("layers") + 1] if "layers" in parts[:-1] else key


class Trainer(Loop):
    """Trains one document. Callbacks receive plain dicts; nothing here knows about sockets."""

    def __init__(self, document: dict | Network, *, data_dir=None, control: Control | None = None,
                 on_point: Callable[[dict], None] | None = None,
                 on_status: Callable[[dict], None] | None = None,
                 on_log: Callable[[Trainer], None] | None = None, **overrides):
        self.network = (document if isinstance(document, Network)
                        else parse_document(document, data_dir=data_dir))
        self.cfg = TrainConfig.from_network(self.network, **overrides)
        self.data_dir = data_dir
        self.control = control or Control()
        self.on_point = on_point or (lambda point: None)
        self.on_status = on_status or (lambda status: None)
        self.on_log = on_log or (lambda trainer: None)  # each log point: hook for visuals
        self.history: list[dict] = []
        self.step = 0
        self.epoch = 0
        self.probe_grads = False  # set it to record gradient norms on the next step
        self.grad_norms: torch.Tensor | None = None  # one per parameter_groups entry
        self.graph: GraphStep | None = None  # the step as a CUDA graph, where it can be one
        self.graph_reason: str | None = None  # why it is not one (None: it is tried)

    # -- setup ---------------------------------------------------------------------------------

    def setup(self) -> None:
        """Load data onto the device and build the model, loss and optimizer."""
        cfg = self.cfg
        data = self._load()
        self.task = "regression" if cfg.task == "reconstruction" else data.info.task
        self.x_train, self.y_train = self._to_device(data.x_train, data.y_train)
        self.x_val, self.y_val = self._to_device(data.x_val, data.y_val)
        self.model = build_model(self.network, seed=cfg.seed)
        self._init_weights(self.model)
        self.model = self.model.to(self.device)
        self._set_precision()
        self.loss_name = cfg.loss if cfg.loss != "auto" else (
            "cross_entropy" if self.task == "classification" else "mse")
        self.loss_fn = {"cross_entropy": nn.functional.cross_entropy,
                        "bce_with_logits": nn.functional.binary_cross_entropy_with_logits,
                        "mse": nn.functional.mse_loss, "l1": nn.functional.l1_loss}[self.loss_name]
        if self.loss_name == "bce_with_logits":
            self.y_train = self.y_train.float().unsqueeze(1)
            self.y_val = self.y_val.float().unsqueeze(1)
        opt = cfg.optimizer
        self.graph_reason = eager_reason(
            device=self.device, enabled=cfg.cuda_graphs, precision=self.precision.name,
            optimizer=opt["name"], layer_types=[n.type for n in self.network.nodes])
        self.optimizer = make_optimizer(self.model.parameters(), opt,
                                        capturable=self.graph_reason is None)
        self.scaler = self.precision.scaler()
        self.grad_groups = parameter_groups(self.model)
        self.lr = opt["lr"]
        self.grad_clip = opt.get("grad_clip")
        self.generator = torch.Generator(device=self.device).manual_seed(cfg.seed)
        n = self.x_train.shape[0]
        self.batch_size = min(cfg.batch_size, n)
        self.steps_per_epoch = math.ceil(n / self.batch_size)
        if n % self.batch_size == 1 and self._has_batchnorm():
            self.steps_per_epoch -= 1  # a batch of one breaks BatchNorm: drop it
        self.classify = self.loss_name in ("cross_entropy", "bce_with_logits")
        if self.graph_reason is None:
            self.precision = replace(self.precision, cache=False)  # autocast's cache: not in graphs
            self.graph = GraphStep(self, CudaBackend(self.device))
        self.pretrainer = None
        if (self.network.training.get("pretrain") or {}).get("method") == "rbm":
            from server.train.pretrain import Pretrainer

            self.pretrainer = Pretrainer(self)
            self.pretrain_steps = self.pretrainer.steps()

    def _set_precision(self) -> None:
        """training.precision on this device; channels-last for convolutions where faster."""
        try:
            self.precision = resolve_precision(self.cfg.precision, self.device)
        except PrecisionError as e:
            raise TrainError(str(e)) from e
        self.channels_last = wants_channels_last(self.model, self.device, self.precision)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
            if self.x_train.dim() == 4:  # (N, C, H, W) images; other inputs are reshaped later
                self.x_train = self.x_train.contiguous(memory_format=torch.channels_last)
                self.x_val = self.x_val.contiguous(memory_format=torch.channels_last)

    def _to_device(self, x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        if not np.isfinite(x).all():
            raise TrainError("the dataset has NaN or infinite input values; clean the data")
        xt = torch.from_numpy(np.ascontiguousarray(x)).to(self.device)
        if self.cfg.task == "reconstruction":
            return xt, xt
        return xt, torch.from_numpy(np.ascontiguousarray(y)).to(self.device)

    def _has_batchnorm(self) -> bool:
        return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.model.modules())

    # -- the loop ------------------------------------------------------------------------------

    def _loop(self) -> TrainResult:
        cfg, control, model, bs = self.cfg, self.control, self.model, self.batch_size
        step = self.eager_step if self.graph is None else self.graph.step
        self.device_name = device_label(self.device)
        self.on_status({"state": "running", "step": 0, "epoch": 0, "device": self.device_name})
        self._reset_running()
        self.t0 = time.perf_counter()
        self.paused_time = 0.0
        next_log = self.t0 + cfg.log_interval
        last_eval = -math.inf
        state = "finished"
        n = self.x_train.shape[0]
        model.train()
        if self.pretrainer is not None:
            if not self.pretrainer.run():
                return self._result("stopped")
            self.step0 = self.step
            self._reset_running()
        while not self._done():
            perm = torch.randperm(n, device=self.device, generator=self.generator)
            xs, ys = self.x_train[perm], self.y_train[perm]
            evaluate, last_i = False, self.steps_per_epoch - 1  # a validation point ends it?
            for i in range(self.steps_per_epoch):
                if control.dirty and not self._obey():
                    state = "stopped"
                    break
                xb, yb = xs[i * bs:(i + 1) * bs], ys[i * bs:(i + 1) * bs]
                step(xb, yb)
                self.step += 1
                self.samples += yb.shape[0]
                now = time.perf_counter()
                if i == last_i or (cfg.steps and self.tuned >= cfg.steps):
                    evaluate = self._evaluates_next(i, now - last_eval)
                if (now >= next_log or control.paused) and not evaluate:
                    self._log_point(now)
                    next_log = now + cfg.log_interval
                if cfg.steps and self.tuned >= cfg.steps:
                    break
            if state == "stopped":
                break
            self.epoch += 1
            now = time.perf_counter()
            if evaluate or self._done():
                self._log_point(now, evaluate=True)
                last_eval = time.perf_counter()
            elif len(self.history) < cfg.epoch_points:  # a quick run still draws a curve
                self._log_point(now)
                next_log = now + cfg.log_interval
        return self._result(state)

    def train_step(self, xb: torch.Tensor, yb: torch.Tensor, probe: bool):
        """Forward, loss, backward, clip and the optimizer's step, in plain order (what a CUDA
        graph captures); returns (loss, output). The loss is taken on fp32 outputs."""
        with self.precision.autocast():
            out = self.model(xb)
        loss = self.loss_fn(out.float(), yb)
        scaler = self.scaler  # fp16's: the loss scaled up, the gradients back down
        (loss if scaler is None else scaler.scale(loss)).backward()
        if scaler is not None and (probe or self.grad_clip):
            scaler.unscale_(self.optimizer)
        if probe:
            self.grad_norms, self.probe_grads = gradient_norms(self.grad_groups), False
        if self.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        if scaler is None:
            self.optimizer.step()
        else:
            scaler.step(self.optimizer)  # skipped when the gradients overflowed
            scaler.update()
        return loss, out

    def eager_step(self, xb: torch.Tensor, yb: torch.Tensor) -> None:
        """One training step as PyTorch runs it, op by op."""
        loss, out = self.train_step(xb, yb, self.probe_grads)
        self.optimizer.zero_grad(set_to_none=True)
        self._accumulate(loss, out, yb, self.device.type != "cpu")

    def _evaluates_next(self, i: int, since_eval: float) -> bool:
        """Whether step `i` of the epoch ends it and a validation point follows at once: that
        point carries the running loss too, so a plain point now would repeat its step."""
        cfg = self.cfg
        bounded = bool(cfg.steps and self.tuned >= cfg.steps)
        if i != self.steps_per_epoch - 1 and not bounded:
            return False
        last_epoch = bool(cfg.epochs and self.epoch + 1 >= cfg.epochs)
        return since_eval >= cfg.eval_interval or bounded or last_epoch

    def _apply_lr(self) -> None:
        lr = self.control.take_lr()
        if lr is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            self.lr = lr
            if self.graph is not None:
                self.graph.recapture()

    # -- metrics -------------------------------------------------------------------------------

    def _reset_running(self) -> None:
        if isinstance(getattr(self, "run_loss", None), torch.Tensor):
            self.run_loss.zero_()  # in place: a CUDA graph adds into these very tensors
            self.run_correct.zero_()
        elif self.device.type != "cpu":
            self.run_loss = torch.zeros((), device=self.device)
            self.run_correct = torch.zeros((), device=self.device, dtype=torch.long)
        else:
            self.run_loss, self.run_correct = 0.0, 0
        self.run_count = 0
        self.run_samples = 0
        if not hasattr(self, "samples"):
            self.samples = 0

    def _accumulate(self, loss, out, yb, on_device: bool) -> None:
        if on_device:
            self.add_metrics(loss, out, yb)
        else:
            value = loss.item()
            if not math.isfinite(value):
                self._diverged(self.step + 1)  # this step's update is already applied
            self.run_loss += value
            if self.classify:
                self.run_correct += int(self._correct(out.detach(), yb))
        self.count_step(yb.shape[0])

    def add_metrics(self, loss, out, yb) -> None:
        """Add a step's loss (and correct count) to the running sums on the device, in place
        and without a sync: a CUDA graph replays these additions too."""
        self.run_loss += loss.detach()
        if self.classify:
            self.run_correct += self._correct(out.detach(), yb)

    def count_step(self, samples: int) -> None:
        """Count a step of `samples` into the running figures (host side)."""
        self.run_count += 1
        self.run_samples += samples

    def _correct(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.loss_name == "bce_with_logits":
            return ((out > 0).float() == y).sum()
        return (out.argmax(-1) == y).sum()

    def check_finite(self, value: float, what: str) -> None:
        """A pre-training figure that is NaN or infinite ends the run, saying what to try."""
        if not math.isfinite(value):
            raise TrainError(f"{what} became NaN or infinite at step {self.step}; try a lower "
                             "pretrain.lr", self.step)

    def _diverged(self, step: int) -> None:
        raise TrainError(f"the loss became NaN or infinite at step {step}; try a lower "
                         "learning rate, gradient clipping or a normalization layer", step)

    def _log_point(self, now: float, evaluate: bool = False) -> None:
        point = {"step": self.step, "epoch": round(self.tuned / self.steps_per_epoch, 4),
                 "time": round(now - self.t0, 4), "lr": self.lr}
        if self.pretrainer is not None:
            point["phase"] = "train"
        if self.run_count:
            loss = float(self.run_loss) / self.run_count
            if not math.isfinite(loss):
                self._diverged(self.step)
            point["train_loss"] = loss
            if self.classify:
                point["train_accuracy"] = int(self.run_correct) / self.run_samples
        elif not evaluate:
            return
        if evaluate:
            point.update(self.evaluate())
        self._reset_running()
        self.history.append(point)
        self.on_point(point)
        self.on_log(self)

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Validation loss (and accuracy) over the whole validation split."""
        if self.x_val.shape[0] == 0:
            return {}
        self.model.eval()
        total, correct, n = 0.0, 0, self.x_val.shape[0]
        for i in range(0, n, 1024):
            xb, yb = self.x_val[i:i + 1024], self.y_val[i:i + 1024]
            with self.precision.autocast():
                out = self.model(xb).float()
            total += float(self.loss_fn(out, yb, reduction="sum")) / (
                yb[0].numel() if self.loss_name in ("mse", "l1", "bce_with_logits") else 1)
            if self.classify:
                correct += int(self._correct(out, yb))
        self.model.train()
        metrics = {"val_loss": total / n}
        if self.classify:
            metrics["val_accuracy"] = correct / n
        return metrics

    def _result(self, state: str) -> TrainResult:
        elapsed = time.perf_counter() - self.t0 - self.paused_time
        last = {}
        for point in self.history:
            last.update({k: v for k, v in point.items() if v is not None})
        if "val_loss" not in (self.history[-1] if self.history else {}):
            last.update(self.evaluate())
        if self.channels_last:  # saved weights, pictures and exports read NCHW
            self.model = self.model.to(memory_format=torch.contiguous_format)
        return TrainResult(
            state=state, steps=self.step, epochs=self.epoch, train_loss=last.get("train_loss"),
            val_loss=last.get("val_loss"), val_accuracy=last.get("val_accuracy"),
            samples_per_second=self.samples / elapsed if elapsed > 0 else 0.0, seconds=elapsed,
            device=self.device_name, model=self.model, history=self.history,
            pretrain=dict(self.pretrainer.errors) if self.pretrainer is not None else None,
            precision=self.precision.name,
            cuda_graphs=self.graph.state if self.graph is not None else (
                None if self.device.type == "cpu" else self.graph_reason),
        )
