"""Insight: the pictures of a training run, computed from its live model on the training device.

Everything here runs between training steps, on a fixed small sample, under no_grad and in
eval mode (restored afterwards), and returns plain dicts whose tensors are uint8 frames.
"""

from __future__ import annotations

import torch

from server.graph import CATALOG
from server.insight.frames import plane_grid, quantize, quantize_fixed
from server.insight.health import badges, dead_fraction

MAX_UNITS = 64  # units (or channels) per node drawn as pictures
MAX_STRIP = 256  # units per node drawn as a strip
MAX_WEIGHTS = 64 * 64  # a dense layer's matrix is sent whole up to this size, else a histogram
HIST_BINS = 32


class Insight:
    """Frames for one trainer: boundary, activations, weights, gradient health, results."""

    def __init__(self, trainer, boundary_size=(64, 64), unit_size=(24, 24), samples: int = 32):
        self.trainer = trainer
        self.network = trainer.network
        self.model = trainer.model
        info = trainer.dataset.info
        device = trainer.device
        self.plane = info.extent is not None and tuple(info.input_shape) == (2,)
        self.extent = list(info.extent) if self.plane else None
        self.boundary_size = boundary_size
        self.unit_size = unit_size
        if self.plane:
            self.grid = plane_grid(info.extent, boundary_size, device)
            self.unit_grid = plane_grid(info.extent, unit_size, device)
        self.samples_x = trainer.x_val[:samples]
        self.samples_y = trainer.y_val[:samples]
        self.selected = 0
        self.node_ids = [n.id for n in self.network.nodes]
        self.specs = {n.id: CATALOG[n.type] for n in self.network.nodes}
        self.relu_ids = [node_id for node_id, spec in self.specs.items() if spec.relu_like]
        self.inputs = {n.id: n.inputs for n in self.network.nodes}

    def select(self, index: int) -> None:
        """Follow validation sample `index` (of the fixed sample) through the network."""
        self.selected = max(0, min(int(index), self.samples_x.shape[0] - 1))

    def _eval(self, fn):
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                return fn()
        finally:
            self.model.train(was_training)

    # -- the decision boundary -----------------------------------------------------------------

    def boundary(self) -> dict | None:
        """The model's output over the input plane (2-D datasets only)."""
        if not self.plane:
            return None
        return self._eval(self._boundary)

    def _boundary(self) -> dict:
        out = self.model(self.grid)
        h, w = self.boundary_size
        loss = self.trainer.loss_name
        if loss == "bce_with_logits":
            values, mode = torch.sigmoid(out[:, 0]), "probability"
        elif loss == "cross_entropy" and out.shape[1] == 2:
            values, mode = torch.softmax(out, dim=1)[:, 1], "probability"
        elif loss == "cross_entropy":
            values, mode = out.argmax(dim=1).float(), "class"
        else:
            values, mode = out[:, 0], "value"
        values = values.reshape(h, w)
        # Probabilities keep a fixed 0..1 scale, so a colour means the same in every frame.
        frame = quantize_fixed(values, 0.0, 1.0) if mode == "probability" else quantize(values)
        return {"size": [h, w], "extent": self.extent, "mode": mode, **frame}

    # -- what each node computes ---------------------------------------------------------------

    def activations(self) -> dict:
        """{node: frame with a kind}: planes for dense units on 2-D data, else the sample's."""
        return self._eval(self._activations)

    def _activations(self) -> dict:
        x = self.samples_x[self.selected:self.selected + 1]
        _, sample = self.model.capture(x, self.node_ids)
        sample[self.network.input_id] = x
        planes = {}
        if self.plane:
            _, planes = self.model.capture(self.unit_grid, self.node_ids)
        nodes = {}
        for node_id, value in sample.items():
            if node_id in planes and planes[node_id].dim() == 2:
                nodes[node_id] = self._plane_frame(planes[node_id], value[0])
            elif self.specs[node_id].recurrent and value.dim() == 2:
                nodes[node_id] = self._sample_frame(node_id, self._over_time(node_id, sample))
            else:
                nodes[node_id] = self._sample_frame(node_id, value[0])
        return nodes

    def _plane_frame(self, values: torch.Tensor, at_sample: torch.Tensor) -> dict:
        h, w = self.unit_size
        units = values[:, :MAX_UNITS].T.reshape(-1, h, w)  # (units, h, w)
        # The followed sample's own value of each unit, to read beside the pictures.
        return {"kind": "plane", "units": values.shape[1], **quantize(units),
                "sample": at_sample[:MAX_UNITS].float().cpu().tolist()}

    def _over_time(self, node_id: str, sample: dict) -> torch.Tensor:
        """A recurrent layer that returns its last state only: its top layer's state at every
        time step (T, H * directions), from its input."""
        source = sample[self.inputs[node_id][0]]  # (1, T, F)
        return self.model.layers[node_id].rnn(source)[0][0]

    def _sample_frame(self, node_id: str, value: torch.Tensor) -> dict:
        if value.dim() == 3:  # (C, H, W): feature maps
            return {"kind": "maps", "units": value.shape[0], **quantize(value[:MAX_UNITS])}
        if value.dim() == 2:  # (T, F): a sequence over time (or a 1-D conv's channels)
            kind = "maps" if self.specs[node_id].channels_first else "sequence"
            return {"kind": kind, "units": value.shape[1], **quantize(value[:, :MAX_STRIP])}
        return {"kind": "units", "units": value.shape[0], **quantize(value[:MAX_STRIP])}

    # -- weights -------------------------------------------------------------------------------

    def weights(self) -> dict:
        """Small dense layers: the weight matrix; other weighted layers: a histogram."""
        out = {}
        for node_id, layer in self.model.layers.items():
            w = getattr(layer, "weight", None)
            if w is None:
                continue
            w = w.detach()
            if w.dim() == 2 and w.numel() <= MAX_WEIGHTS:
                out[node_id] = {"kind": "matrix", **quantize(w)}
            else:
                lo, hi = float(w.min()), float(w.max())
                hist = torch.histc(w.float(), bins=HIST_BINS, min=lo, max=hi if hi > lo else lo + 1)
                out[node_id] = {"kind": "histogram", "min": lo, "max": hi,
                                "counts": [int(c) for c in hist.tolist()]}
        return out

    # -- gradient health -----------------------------------------------------------------------

    def health(self) -> dict:
        """Per-node gradient norm (from the last probed step) and dead-ReLU share, with badges."""
        trainer = self.trainer
        norms = {}
        if trainer.grad_norms is not None:
            values = trainer.grad_norms.tolist()
            norms = {node: v for (node, _), v in zip(trainer.grad_groups, values, strict=True)}
        dead = {}
        if self.relu_ids:
            _, outs = self._eval(lambda: self.model.capture(self.samples_x, self.relu_ids))
            dead = {node: dead_fraction(v) for node, v in outs.items()}
        trainer.probe_grads = True  # measure again on the next step
        return {"gradients": norms, "nodes": badges(norms, dead)}

    # -- classification results ----------------------------------------------------------------

    def results(self, limit: int = 2048) -> dict | None:
        """Confusion matrix on the validation set and the fixed samples' predictions."""
        if not self.trainer.classify or self.trainer.loss_name != "cross_entropy":
            return None
        return self._eval(lambda: self._results(limit))

    def _results(self, limit: int) -> dict:
        x, y = self.trainer.x_val[:limit], self.trainer.y_val[:limit]
        out = torch.cat([self.model(x[i:i + 512]) for i in range(0, x.shape[0], 512)])
        k = out.shape[1]
        pred = out.argmax(dim=1)
        confusion = torch.bincount(y * k + pred, minlength=k * k).reshape(k, k)
        probs = torch.softmax(self.model(self.samples_x), dim=1)
        conf, guess = probs.max(dim=1)
        truth = self.samples_y.tolist()
        items = [{"index": i, "true": t, "pred": p, "confidence": round(c, 4)}
                 for i, (t, p, c) in enumerate(zip(truth, guess.tolist(), conf.tolist(),
                                                   strict=True))]
        items.sort(key=lambda it: (it["true"] == it["pred"], -it["confidence"]))
        return {"confusion": confusion.tolist(), "classes": self.trainer.dataset.info.classes,
                "predictions": items}

    def samples(self) -> dict:
        """The fixed validation samples for the page (run_samples, sent once per watcher):
        2-D points exactly, other inputs as one uint8 frame; with their labels or targets."""
        x = self.samples_x
        n = x.shape[0]
        if self.plane:
            out = {"kind": "points", "points": x.float().cpu().tolist(), "extent": self.extent}
        else:
            kind = {4: "images", 3: "sequences"}.get(x.dim(), "vectors")
            out = {"kind": kind, "frame": quantize(x.reshape(n, -1) if kind == "vectors" else x)}
        data = self.trainer.dataset
        y = data.y_val[:n]  # the dataset's own labels, also for an autoencoder
        if data.info.task == "classification":
            out["labels"] = [int(v) for v in y.reshape(n)]
            if data.info.classes is not None:
                out["classes"] = [str(c) for c in data.info.classes]
        else:
            out["targets"] = y.reshape(n, -1).astype(float).tolist()
        return {"count": n, **out}
