"""The pictures of a gan run: D over the plane, the generated samples, both networks' nodes.

The per-node pictures reuse the supervised Insight on each network in turn: the discriminator
sees the data (so its units are drawn over the data plane), the generator sees the noise (its
units over the noise plane when `dim` is 2).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch

from server.data.catalog import DatasetInfo
from server.insight import Insight
from server.insight.frames import quantize_fixed
from server.insight.health import badges, dead_fraction

POINTS = 256  # generated (and real) points drawn on 2-D data
IMAGES = 64  # samples in the image grid
MANIFOLD = 16  # noise grid side (dim 2) or line length / 4 (dim 1)
NOISE_EXTENT = {"normal": 3.0, "uniform": 1.0}  # the noise plane drawn: [-e, e] on each axis
COLLAPSE = 0.15  # generated spread under this share of the real spread: mode collapse
D_WINS = 0.95  # D(real) above and D(fake) under 1 - this: the discriminator wins outright
VANISHING = 1e-4  # generator gradient norm under this: vanishing gradients


class GanInsight:
    """Frames for one GanTrainer: boundary, generated, activations, health, weights."""

    def __init__(self, trainer):
        self.trainer = trainer
        g_net, d_net = trainer.g_network, trainer.d_network
        info = trainer.dataset.info
        self.plane = info.extent is not None and tuple(info.input_shape) == (2,)
        e = NOISE_EXTENT[trainer.distribution]
        noise_info = DatasetInfo("noise", "regression", (trainer.dim,), None, (),
                                 extent=(-e, e, -e, e) if trainer.dim == 2 else None)
        real = trainer.x_val
        self.d = Insight(_view(trainer, d_net, trainer.discriminator, info, real))
        self.g = Insight(_view(trainer, g_net, trainer.generator_model, noise_info,
                               trainer.fixed_noise))
        self.selected = 0

    def select(self, index: int) -> None:
        """Follow fixed sample `index` (a real sample through D, a noise vector through G)."""
        self.selected = index
        self.d.select(index)
        self.g.select(index)

    def samples(self) -> None:
        """No sample picker for a game: its real and generated samples come in run_generated."""
        return None

    def boundary(self) -> dict | None:
        """The discriminator's D(x) over the data plane (2-D data only)."""
        return self.d.boundary()

    def activations(self) -> dict:
        """Both networks' node pictures, keyed by node id."""
        return {**self.g.activations(), **self.d.activations()}

    def weights(self) -> dict:
        """Both networks' weight pictures."""
        return {**self.g.weights(), **self.d.weights()}

    def health(self) -> dict | None:
        """Per-node gradient norms (both networks) and dead ReLUs, with badges."""
        t = self.trainer
        if t.grad_norms is None:
            t.probe_grads = True
            return None
        norms = dict(zip((n for n, _ in t.grad_groups), t.grad_norms.tolist(), strict=True))
        dead = {}
        for insight in (self.g, self.d):
            if insight.relu_ids:
                _, outs = insight._eval(lambda i=insight: i.model.capture(i.samples_x,
                                                                          i.relu_ids))
                dead.update({node: dead_fraction(v) for node, v in outs.items()})
        t.probe_grads = True
        return {"gradients": norms, "nodes": badges(norms, dead)}

    # -- what the generator makes ----------------------------------------------------------------

    def generated(self) -> dict:
        """run_generated fields: points (2-D) or images, and the game's badges."""
        t = self.trainer
        out, fake = self._points() if self.plane else self._images()
        out["badges"] = self.badges(fake)
        out["mmd"] = t.history[-1].get("mmd") if t.history else None
        return out

    def _points(self) -> dict:
        t = self.trainer
        z = t.fixed_noise[:POINTS]
        fake = t.generate(z)
        # Where the generator's loss would move each point: minus its gradient, through D.
        was = t.discriminator.training
        t.discriminator.eval()
        try:
            with torch.enable_grad():
                x = fake.detach().requires_grad_(True)
                loss = t.g_loss_of(t.discriminator(x)) * x.shape[0]  # each point its own
                (grad,) = torch.autograd.grad(loss, x)
        finally:
            t.discriminator.train(was)
        out = {"kind": "points", "points": _rounded(fake), "gradients": _rounded(-grad),
               "real": _rounded(t.x_val[:POINTS]), "extent": list(t.dataset.info.extent),
               "manifold": None}
        if t.dim <= 2:
            e = NOISE_EXTENT[t.distribution] * (0.999 if t.distribution == "uniform" else 1)
            if t.dim == 1:
                grid = torch.linspace(-e, e, MANIFOLD * 4, device=t.device)[:, None]
                size = [1, MANIFOLD * 4]
            else:
                axis = torch.linspace(-e, e, MANIFOLD, device=t.device)
                gy, gx = torch.meshgrid(axis, axis, indexing="ij")
                grid = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
                size = [MANIFOLD, MANIFOLD]
            out["manifold"] = {"size": size, "points": _rounded(t.generate(grid))}
        return out, fake

    def _images(self) -> dict:
        t = self.trainer
        fake = t.generate(t.fixed_noise[:IMAGES]).float()
        lo, hi = float(t.x_train.min()), float(t.x_train.max())
        frame = quantize_fixed(fake.clamp(lo, hi).reshape(image_shape(fake)), lo, hi)
        return {"kind": "images", "frame": frame}, fake

    def badges(self, fake: torch.Tensor) -> list[dict]:
        """Plain warnings about the game (from `fake`, the fixed noise's samples), each with
        what to try."""
        t = self.trainer
        last = {}
        for point in t.history[-5:]:
            last.update({k: v for k, v in point.items() if v is not None})
        out = []
        fake = fake.float().reshape(fake.shape[0], -1)
        real = t.x_val[:POINTS].float().reshape(min(POINTS, t.x_val.shape[0]), -1)
        spread, real_spread = float(fake.std(0).mean()), float(real.std(0).mean())
        if real_spread > 0 and spread < COLLAPSE * real_spread and t.step >= 50:
            out.append({"id": "mode_collapse", "title": "Mode collapse",
                        "message": f"the generator makes nearly the same sample for every "
                        f"noise (spread {spread:.3g} against the data's {real_spread:.3g})",
                        "advice": "lower the generator's learning rate, raise d_steps, try the "
                        "least_squares loss or more noise dimensions"})
        d_real, d_fake = last.get("d_real"), last.get("d_fake")
        if d_real is not None and d_fake is not None and d_real > D_WINS and \
                d_fake < 1 - D_WINS and t.step >= 50:
            out.append({"id": "discriminator_wins", "title": "The discriminator wins outright",
                        "message": f"D(real) {d_real:.2f} and D(fake) {d_fake:.2f}: it tells "
                        "every generated sample apart, so the generator learns little",
                        "advice": "lower the discriminator's learning rate, raise g_steps, "
                        "make the discriminator smaller or add Dropout to it"})
        g_norm = self._generator_gradient()
        if g_norm is not None and g_norm < VANISHING and t.step >= 10:
            out.append({"id": "vanishing_gradients", "title": "Vanishing gradients for G",
                        "message": f"the generator's gradient is {g_norm:.2g}: the "
                        "discriminator's output is flat where the generated samples are",
                        "advice": "use the log (non-saturating) or least_squares loss, lower "
                        "the discriminator's learning rate or add Dropout to it"})
        return out

    def _generator_gradient(self) -> float | None:
        t = self.trainer
        if t.grad_norms is None:
            return None
        g_ids = {n.id for n in t.g_network.nodes}
        values = [v for (node, _), v in zip(t.grad_groups, t.grad_norms.tolist(), strict=True)
                  if node in g_ids]
        return math.sqrt(sum(v * v for v in values)) if values else None


def image_shape(x: torch.Tensor) -> tuple:
    """(N, C, H, W) for a batch of samples: images as they are, square vectors as squares."""
    n, rest = x.shape[0], tuple(x.shape[1:])
    if len(rest) == 3:
        return (n, *rest)
    if len(rest) == 2:
        return (n, 1, *rest)
    side = math.isqrt(rest[0])
    if side * side == rest[0]:
        return (n, 1, side, side)
    return (n, 1, 1, rest[0])


def _view(trainer, network, model, info, samples) -> SimpleNamespace:
    """What Insight reads of a trainer, for one of the two networks."""
    n = samples.shape[0]
    return SimpleNamespace(
        network=network, model=model, dataset=SimpleNamespace(info=info), device=trainer.device,
        x_val=samples, y_val=torch.zeros(n, dtype=torch.long, device=samples.device),
        loss_name="bce_with_logits", classify=False, grad_norms=None, grad_groups=[],
        probe_grads=False)


def _rounded(t: torch.Tensor) -> list:
    return [[round(v, 4) for v in row] for row in t.detach().float().cpu().reshape(
        t.shape[0], -1).tolist()]
