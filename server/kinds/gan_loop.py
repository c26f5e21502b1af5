"""The gan kind's loop: a generator and a discriminator trained as a two-player game.

Each iteration (one `step`) is `d_steps` discriminator updates on real batches and generated
ones, then `g_steps` generator updates through the discriminator, in plain visible order. The
generator's loss is the non-saturating `-log D(G(z))` (`loss: "log"`) or least squares.
While paused, `control.step(1, network="d")` runs one discriminator update only, `"g"` one
generator update, `"both"` one whole iteration (GAN Lab's three step buttons).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from server.graph import Network, parse_document
from server.graph.gan import split
from server.model import build_model
from server.train.config import TrainConfig
from server.train.control import Control
from server.train.gradients import gradient_norms, parameter_groups
from server.train.loop import Loop, TrainError, device_label, make_optimizer

MMD_SAMPLES = 1000  # generated and real samples the MMD compares
FIXED_POINTS = 256  # fixed noise batch whose samples the page draws (2-D data)
FIXED_IMAGES = 64  # fixed noise batch of the sample grid (images)
EVAL_INTERVAL = 1.0  # least seconds between MMD measurements (always at the end)
EVAL_SHARE = 0.02  # most of the training time MMD measurements may take


class GanModel(nn.Module):
    """Both players in one module, so one weights file holds the run."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (N, dim) -> (N, 1): D(G(z))
        return self.discriminator(self.generator(z))


def build(network: Network, seed: int | None = None) -> GanModel:
    """The design's GanModel; with a seed, reproducible initial weights for both networks."""
    g_net, d_net = split(network)
    generator = build_model(g_net, seed=seed)
    discriminator = build_model(d_net, seed=None if seed is None else seed + 1)
    return GanModel(generator, discriminator)


def noise_spec(network: Network) -> tuple[int, str]:
    """(dim, distribution) of the design's Noise node."""
    node = next(n for n in network.nodes if n.type == "Noise")
    return int(node.params["dim"]), node.params["distribution"]


def sample_noise(n: int, dim: int, distribution: str, device, generator=None) -> torch.Tensor:
    """z ~ N(0, 1) or U(-1, 1), shape (n, dim)."""
    if distribution == "uniform":
        return torch.rand(n, dim, device=device, generator=generator) * 2 - 1
    return torch.randn(n, dim, device=device, generator=generator)


def mmd2(x: torch.Tensor, y: torch.Tensor) -> float:
    """Squared maximum mean discrepancy, Gaussian kernel, bandwidth by the median heuristic."""
    x, y = x.reshape(x.shape[0], -1).double(), y.reshape(y.shape[0], -1).double()
    z = torch.cat([x, y])
    d2 = torch.cdist(z, z).pow(2)
    n = d2.shape[0]
    off = d2[~torch.eye(n, dtype=torch.bool, device=d2.device)]
    sigma2 = float(off.median()) or 1.0
    k = torch.exp(-d2 / sigma2)
    m = x.shape[0]
    kxx, kyy, kxy = k[:m, :m], k[m:, m:], k[:m, m:]
    mx, my = m, n - m
    xx = (kxx.sum() - kxx.diagonal().sum()) / (mx * (mx - 1))
    yy = (kyy.sum() - kyy.diagonal().sum()) / (my * (my - 1))
    return float(xx + yy - 2 * kxy.mean())


@dataclass
class GanResult:
    """What a finished (or stopped) GAN run leaves behind."""

    state: str  # "finished" | "stopped"
    steps: int
    epochs: int
    d_loss: float | None
    g_loss: float | None
    d_real: float | None
    d_fake: float | None
    mmd: float | None
    mmd_initial: float | None
    samples_per_second: float  # real samples seen by the discriminator per second
    seconds: float
    device: str
    model: GanModel
    history: list[dict] = field(default_factory=list)


class GanTrainer(Loop):
    """Trains one gan document; the same callbacks, Control and hooks as the supervised Trainer."""

    kind = "gan"

    def __init__(self, document: dict | Network, *, data_dir=None, control: Control | None = None,
                 on_point=None, on_status=None, on_log=None, **overrides):
        self.network = (document if isinstance(document, Network)
                        else parse_document(document, data_dir=data_dir))
        self.cfg = TrainConfig.from_network(self.network, **overrides)
        gan = self.network.training.get("gan") or {}
        self.loss_kind = gan.get("loss", "log")
        self.d_steps, self.g_steps = int(gan.get("d_steps", 1)), int(gan.get("g_steps", 1))
        self.g_opt_spec = dict(gan.get("generator_optimizer") or self.cfg.optimizer)
        self.data_dir = data_dir
        self.control = control or Control()
        self.on_point = on_point or (lambda point: None)
        self.on_status = on_status or (lambda status: None)
        self.on_log = on_log or (lambda trainer: None)
        self.history: list[dict] = []
        self.step = 0
        self.epoch = 0
        self.batches = 0  # real batches the discriminator has seen
        self.probe_grads = False  # set it to record gradient norms on the next iteration
        self.grad_norms: torch.Tensor | None = None

    # -- setup ---------------------------------------------------------------------------------

    def setup(self) -> None:
        """Data on the device; both networks, both optimizers, the fixed noise batches."""
        cfg = self.cfg
        data = self._load()
        self.x_train = self._real(data.x_train)
        self.x_val = self._real(data.x_val if len(data.x_val) else data.x_train)
        self.g_network, self.d_network = split(self.network)
        self.model = build(self.network, seed=cfg.seed)
        self._init_weights(self.model)
        self.model = self.model.to(self.device)
        self.generator_model, self.discriminator = self.model.generator, self.model.discriminator
        self.d_optimizer = make_optimizer(self.discriminator.parameters(), cfg.optimizer)
        self.g_optimizer = make_optimizer(self.generator_model.parameters(), self.g_opt_spec)
        self.lr, self.generator_lr = cfg.optimizer["lr"], self.g_opt_spec["lr"]
        self.g_groups = parameter_groups(self.generator_model)
        self.d_groups = parameter_groups(self.discriminator)
        self.grad_groups = self.g_groups + self.d_groups  # node ids: the two never share one
        self.d_norms: torch.Tensor | None = None
        self.dim, self.distribution = noise_spec(self.network)
        self.rng = torch.Generator(device=self.device).manual_seed(cfg.seed)
        fixed = torch.Generator(device=self.device).manual_seed(cfg.seed + 7)
        self.fixed_noise = sample_noise(max(FIXED_POINTS, MMD_SAMPLES), self.dim,
                                        self.distribution, self.device, fixed)
        n = self.x_train.shape[0]
        self.batch_size = min(cfg.batch_size, n)
        self.batches_per_epoch = max(1, n // self.batch_size)  # whole batches only
        self.steps_per_epoch = max(1, math.ceil(self.batches_per_epoch / self.d_steps))
        self.mmd_initial = self.measure_mmd()

    def _real(self, x) -> torch.Tensor:
        import numpy as np

        if not np.isfinite(x).all():
            raise TrainError("the dataset has NaN or infinite input values; clean the data")
        return torch.from_numpy(np.ascontiguousarray(x)).float().to(self.device)

    def noise(self, n: int) -> torch.Tensor:
        """A fresh noise batch from the run's own generator (reproducible runs)."""
        return sample_noise(n, self.dim, self.distribution, self.device, self.rng)

    # -- the two players' losses -----------------------------------------------------------------

    def d_loss_of(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """Discriminator: real -> 1, generated -> 0."""
        if self.loss_kind == "least_squares":
            return 0.5 * ((real_logits - 1).pow(2).mean() + fake_logits.pow(2).mean())
        bce = nn.functional.binary_cross_entropy_with_logits
        return (bce(real_logits, torch.ones_like(real_logits))
                + bce(fake_logits, torch.zeros_like(fake_logits)))

    def g_loss_of(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """Generator: non-saturating -log D(G(z)), or least squares toward 'real'."""
        if self.loss_kind == "least_squares":
            return 0.5 * (fake_logits - 1).pow(2).mean()
        return nn.functional.binary_cross_entropy_with_logits(
            fake_logits, torch.ones_like(fake_logits))

    def d_update(self, real: torch.Tensor) -> None:
        """One discriminator step on a real batch and as many generated samples."""
        with torch.no_grad():
            fake = self.generator_model(self.noise(real.shape[0]))
        real_logits, fake_logits = self.discriminator(real), self.discriminator(fake)
        loss = self.d_loss_of(real_logits, fake_logits)
        loss.backward()
        if self.probe_grads:
            self.d_norms = gradient_norms(self.d_groups)
        self._clip(self.discriminator, self.cfg.optimizer)
        self.d_optimizer.step()
        self.d_optimizer.zero_grad(set_to_none=True)
        self._add("d", loss, real_logits, fake_logits)

    def g_update(self) -> None:
        """One generator step through the (unchanged) discriminator."""
        fake_logits = self.discriminator(self.generator_model(self.noise(self.batch_size)))
        loss = self.g_loss_of(fake_logits)
        loss.backward()
        if self.probe_grads:
            self._record_norms()
        self._clip(self.generator_model, self.g_opt_spec)
        self.g_optimizer.step()
        self.g_optimizer.zero_grad(set_to_none=True)
        self.discriminator.zero_grad(set_to_none=True)  # G's backward passed through D
        self._add("g", loss, None, fake_logits)

    def _record_norms(self) -> None:
        """Per-node gradient norms: G's from this step, D's from its last probed step."""
        parts = [gradient_norms(self.g_groups) if self.g_groups else None,
                 self.d_norms if self.d_groups else None]
        parts = [p for p in parts if p is not None]
        if len(parts) == (bool(self.g_groups) + bool(self.d_groups)) and parts:
            self.grad_norms, self.probe_grads = torch.cat(parts), False

    @staticmethod
    def _clip(model: nn.Module, opt: dict) -> None:
        if opt.get("grad_clip"):
            nn.utils.clip_grad_norm_(model.parameters(), opt["grad_clip"])

    # -- the loop ------------------------------------------------------------------------------

    def _loop(self) -> GanResult:
        cfg, control = self.cfg, self.control
        self.device_name = device_label(self.device)
        self.on_status({"state": "running", "step": 0, "epoch": 0, "device": self.device_name})
        self._reset_running()
        self.t0 = time.perf_counter()
        self.paused_time = 0.0
        next_log, last_eval = self.t0 + cfg.log_interval, -math.inf
        state = "finished"
        self.model.train()
        batches = self._batches()
        while not self._done():
            network = "both"
            if control.dirty:
                network = self._obey()
                if network is None:
                    state = "stopped"
                    break
            if network in ("both", "d"):
                for _ in range(1 if network == "d" else self.d_steps):
                    self.d_update(next(batches))
            if network in ("both", "g"):
                for _ in range(1 if network == "g" else self.g_steps):
                    self.g_update()
            if network == "both":
                self.step += 1
            now = time.perf_counter()
            self.epoch = self.batches // self.batches_per_epoch
            # MMD at most every EVAL_INTERVAL and within EVAL_SHARE of the time: on big images
            # one measurement costs more than many steps.
            due = max(EVAL_INTERVAL, self.mmd_seconds / EVAL_SHARE)
            if now - last_eval >= due or self._done():
                self._log_point(now, evaluate=True)
                last_eval, next_log = time.perf_counter(), now + cfg.log_interval
            elif now >= next_log or control.paused:
                self._log_point(now)
                next_log = now + cfg.log_interval
        if not self.history or self.history[-1]["step"] != self.step or (
                "mmd" not in self.history[-1] and self.counts["d"] + self.counts["g"]):
            self._log_point(time.perf_counter(), evaluate=True)
        return self._result(state)

    def _batches(self):
        """Real batches forever, reshuffled each epoch."""
        n, bs = self.x_train.shape[0], self.batch_size
        while True:
            perm = torch.randperm(n, device=self.device, generator=self.rng)
            xs = self.x_train[perm]
            for i in range(self.batches_per_epoch):
                self.batches += 1
                yield xs[i * bs:(i + 1) * bs]

    def _obey(self) -> str | None:
        """Apply pending commands; block while paused. None means stop; else what to step."""
        if not super()._obey():
            return None
        return self.control.step_network if self.control.paused else "both"

    def _apply_lr(self) -> None:
        """The rates asked for: the discriminator's (lr) and the generator's."""
        for opt, lr in ((self.d_optimizer, self.control.take_lr()),
                        (self.g_optimizer, self.control.take_lr("g"))):
            if lr is not None:
                for group in opt.param_groups:
                    group["lr"] = lr
                if opt is self.d_optimizer:
                    self.lr = lr
                else:
                    self.generator_lr = lr

    # -- metrics -------------------------------------------------------------------------------

    def _reset_running(self) -> None:
        zero = (lambda: torch.zeros((), device=self.device)) if self.device.type != "cpu" \
            else (lambda: 0.0)
        self.sums = {k: zero() for k in ("d_loss", "g_loss", "d_real", "d_fake")}
        self.counts = {"d": 0, "g": 0}
        if not hasattr(self, "samples"):
            self.samples = 0

    def _add(self, who: str, loss, real_logits, fake_logits) -> None:
        on_device = self.device.type != "cpu"
        value = loss.detach() if on_device else loss.item()
        if not on_device and not math.isfinite(value):
            self._diverged(self.step + 1)
        self.sums[f"{who}_loss"] += value
        if who == "d":
            with torch.no_grad():
                real = torch.sigmoid(real_logits).mean()
                fake = torch.sigmoid(fake_logits).mean()
            self.sums["d_real"] += real if on_device else float(real)
            self.sums["d_fake"] += fake if on_device else float(fake)
            self.samples += real_logits.shape[0]
        self.counts[who] += 1

    def _diverged(self, step: int) -> None:
        raise TrainError(f"a loss became NaN or infinite at step {step}; try lower learning "
                         "rates or gradient clipping", step)

    def _log_point(self, now: float, evaluate: bool = False) -> None:
        point = {"step": self.step, "epoch": round(self.batches / self.batches_per_epoch, 4),
                 "time": round(now - self.t0, 4), "lr": self.lr,
                 "generator_lr": self.generator_lr}
        d, g = self.counts["d"], self.counts["g"]
        if d:
            point["d_loss"] = float(self.sums["d_loss"]) / d
            point["d_real"] = float(self.sums["d_real"]) / d
            point["d_fake"] = float(self.sums["d_fake"]) / d
        if g:
            point["g_loss"] = float(self.sums["g_loss"]) / g
        if not (d or g or evaluate):
            return
        for key in ("d_loss", "g_loss"):
            if key in point and not math.isfinite(point[key]):
                self._diverged(self.step)
        if evaluate:
            point["mmd"] = self.measure_mmd()
        self._reset_running()
        self.history.append(point)
        self.on_point(point)
        self.on_log(self)

    @torch.no_grad()
    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """G(z) in eval mode (BatchNorm and Dropout as at test time), restored afterwards."""
        was = self.generator_model.training
        self.generator_model.eval()
        try:
            return self.generator_model(z)
        finally:
            self.generator_model.train(was)

    def measure_mmd(self) -> float:
        """MMD² between 1,000 samples of the fixed noise and (up to) 1,000 validation samples."""
        start = time.perf_counter()
        fake = self.generate(self.fixed_noise[:MMD_SAMPLES])
        value = mmd2(fake, self.x_val[:MMD_SAMPLES])
        self.mmd_seconds = time.perf_counter() - start
        return value

    def _result(self, state: str) -> GanResult:
        elapsed = time.perf_counter() - self.t0 - self.paused_time
        last: dict = {}
        for point in self.history:
            last.update({k: v for k, v in point.items() if v is not None})
        return GanResult(
            state=state, steps=self.step, epochs=self.epoch, d_loss=last.get("d_loss"),
            g_loss=last.get("g_loss"), d_real=last.get("d_real"), d_fake=last.get("d_fake"),
            mmd=last.get("mmd"), mmd_initial=self.mmd_initial,
            samples_per_second=self.samples / elapsed if elapsed > 0 else 0.0, seconds=elapsed,
            device=self.device_name, model=self.model, history=self.history)
