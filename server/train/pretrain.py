"""Greedy layer-wise pre-training of a supervised design as a deep belief net (Hinton, Osindero &
Teh 2006; CONTRACTS.md §6).

Each (Linear, Sigmoid) pair of `server.graph.pretrain.rbm_layers`, Input first, is trained in
turn as a Bernoulli restricted Boltzmann machine with contrastive divergence (CD-k): its
visible units are the Linear's input as the network computes it (the layers before it already
pre-trained: the previous RBM's hidden probabilities), its weights and hidden biases are the
Linear's own, so the network is left holding them. Every CD update is one `step` of the run,
so pause, step, stop and slow motion work as in fine-tuning; points carry `phase: "pretrain"`,
`layer` and `reconstruction_error` (the mean squared error of a one-step reconstruction, over
the batches since the last point), at most 20 a second and at the end of each epoch.
"""

from __future__ import annotations

import time

import torch

from server.graph.pretrain import rbm_layers


class Pretrainer:
    """Pre-trains the RBM layers of one Trainer's model, on its device and training data."""

    def __init__(self, trainer):
        self.trainer = trainer
        spec = trainer.network.training["pretrain"]
        self.epochs, self.k, self.lr = int(spec["epochs"]), int(spec["k"]), float(spec["lr"])
        self.layers = rbm_layers(trainer.network)
        self.inputs = {n.id: n.inputs[0] for n in trainer.network.nodes if n.inputs}
        self.layer: str | None = None  # the Linear being pre-trained (pictures read it)
        self.errors: dict[str, float] = {}  # each layer's final reconstruction error
        self.visible_bias: torch.Tensor | None = None

    def steps(self) -> int:
        """CD updates in all: every layer, every epoch, every batch."""
        t = self.trainer
        return len(self.layers) * self.epochs * self._batches(t.x_train.shape[0])

    def _batches(self, n: int) -> int:
        bs = self.trainer.batch_size
        return (n + bs - 1) // bs

    @torch.no_grad()
    def visible(self, layer: str) -> torch.Tensor:
        """The layer's input over the training data, flattened (eval mode: no Dropout)."""
        t = self.trainer
        source = self.inputs[layer]
        model, was = t.model, t.model.training
        model.eval()
        try:
            out = []
            for i in range(0, t.x_train.shape[0], 1024):
                xb = t.x_train[i:i + 1024]
                if source == t.network.input_id:
                    out.append(xb)
                else:
                    out.append(model.capture(xb, (source,))[1][source])
            v = torch.cat(out)
        finally:
            model.train(was)
        return v.reshape(v.shape[0], -1).float()

    def run(self) -> bool:
        """Pre-train every layer in turn; False when the run was stopped meanwhile."""
        t, cfg = self.trainer, self.trainer.cfg
        gen = t.generator
        next_log = time.perf_counter() + cfg.log_interval
        for layer, _ in self.layers:
            self.layer = layer
            linear = t.model.layers[layer]
            # Views of the layer's own weights, outside autograd: updated in place, they are the
            # layer's (on parameters that require grad each op costs twice as much).
            w, bh = linear.weight.detach(), linear.bias.detach()  # (hidden, visible), (hidden,)
            data = self.visible(layer)
            bv = torch.zeros(data.shape[1], device=t.device)
            self.visible_bias = bv
            n, bs = data.shape[0], t.batch_size
            self.run_error, self.run_count = 0.0, 0
            for _ in range(self.epochs):
                perm = torch.randperm(n, device=t.device, generator=gen)
                for i in range(0, n, bs):
                    if t.control.dirty and not t._obey():
                        return False
                    error = self.cd_step(data[perm[i:i + bs]], w, bh, bv, gen)
                    self.run_error += error
                    self.run_count += 1
                    t.step += 1
                    now = time.perf_counter()
                    if now >= next_log or t.control.paused:
                        self.log(now)
                        next_log = now + cfg.log_interval
                self.log(time.perf_counter())  # each epoch ends on a point of its own
            self.errors[layer] = self.last_error
        self.layer = None
        return True

    @torch.no_grad()
    def cd_step(self, v0, w, bh, bv, gen) -> torch.Tensor | float:
        """One CD-k update of (w, bh, bv) on a batch; returns its reconstruction error."""
        ph0 = torch.sigmoid(torch.addmm(bh, v0, w.t()))
        ph = ph0
        for step in range(self.k):
            h = torch.bernoulli(ph, generator=gen)
            pv = torch.sigmoid(torch.addmm(bv, h, w))  # visible probabilities, not samples
            if step == 0:
                error = (v0 - pv).pow(2).mean()
            ph = torch.sigmoid(torch.addmm(bh, pv, w.t()))
        scale = self.lr / v0.shape[0]
        w.add_(ph0.t() @ v0 - ph.t() @ pv, alpha=scale)
        bh.add_((ph0 - ph).sum(0), alpha=scale)
        bv.add_((v0 - pv).sum(0), alpha=scale)
        return error.detach() if v0.device.type != "cpu" else float(error)

    def log(self, now: float) -> None:
        """A pre-training point: the running reconstruction error of the layer."""
        t = self.trainer
        if not self.run_count:
            return
        self.last_error = float(self.run_error) / self.run_count
        t.check_finite(self.last_error, "the reconstruction error")
        point = {"step": t.step, "epoch": 0, "time": round(now - t.t0, 4), "lr": t.lr,
                 "phase": "pretrain", "layer": self.layer,
                 "reconstruction_error": self.last_error}
        self.run_error, self.run_count = 0.0, 0
        t.history.append(point)
        t.on_point(point)
        t.on_log(t)
