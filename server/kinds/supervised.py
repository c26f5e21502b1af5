"""The `supervised` kind: one graph from Input to its sink, one loss, one optimizer."""

from __future__ import annotations

from server.insight import Insight
from server.model import build_model
from server.train import Trainer
from server.train.gradients import gradient_norms

NAME = "supervised"


def trainer(network, **kwargs) -> Trainer:
    """The supervised Trainer (server/train/loop.py)."""
    return Trainer(network, **kwargs)


def build(network, seed: int | None = None):
    """The whole network as one module."""
    return build_model(network, seed=seed)


def summary(result) -> dict:
    """Final losses and accuracy, the precision it computed in, whether its step was a CUDA
    graph (on a GPU), and each pre-trained layer's reconstruction error."""
    out = {"train_loss": result.train_loss, "val_loss": result.val_loss,
           "val_accuracy": result.val_accuracy, "precision": result.precision}
    if result.cuda_graphs is not None:
        out["cuda_graphs"] = result.cuda_graphs
    if result.pretrain is not None:
        out["pretrain"] = result.pretrain
    return out


def onnx_target(network, model):
    """The whole network, fed at `input`."""
    return network, model, "input"


def pytorch_source(network, model) -> str:
    """One self-contained module file."""
    from server.export import export_pytorch

    return export_pytorch(network, model.state_dict())


def insight(trainer):
    """The supervised pictures."""
    return Insight(trainer)


def boundary(insight) -> dict | None:
    """run_boundary fields: size, extent, mode, min, max, data."""
    frame = insight.boundary()
    if frame is None:
        return None
    frame.pop("shape")  # the same as size
    return frame


def activations(insight) -> dict:
    """run_activations fields: nodes, and the fixed sample they follow (selected)."""
    return {"nodes": insight.activations(), "selected": insight.selected}


def health(insight) -> dict | None:
    """run_health fields: gradients, nodes (once a step has measured the gradients)."""
    if insight.trainer.grad_norms is None:
        insight.trainer.probe_grads = True
        return None
    return insight.health()


def weights(insight) -> dict:
    """run_weights fields: nodes."""
    return {"nodes": insight.weights()}


def filters(insight) -> dict | None:
    """run_filters fields while a layer pre-trains as an RBM: layer, units (its width) and
    frame [units <= 64, H, W]: each hidden unit's weights as an image of its visible units
    (the input's own image shape for the first layer, else a square or a strip)."""
    pretrainer = getattr(insight.trainer, "pretrainer", None)
    layer = pretrainer.layer if pretrainer is not None else None
    if layer is None:
        return None
    import math

    from server.insight.frames import quantize

    w = insight.model.layers[layer].weight.detach()  # (hidden, visible)
    units, visible = w.shape
    shape = insight.trainer.network.node(pretrainer.inputs[layer]).shape or (visible,)
    if len(shape) == 3 and shape[0] == 1:
        h, wd = shape[1], shape[2]
    elif len(shape) == 2:
        h, wd = shape
    else:
        side = math.isqrt(visible)
        h, wd = (side, side) if side * side == visible else (1, visible)
    if h * wd != visible:
        h, wd = 1, visible
    return {"layer": layer, "units": units, "frame": quantize(w[:64].reshape(-1, h, wd))}


def text(insight) -> dict | None:
    """run_text fields on a text dataset: prompt, samples (greedy, sampled), temperature."""
    trainer = insight.trainer
    if trainer.dataset.info.name != "text":
        return None
    writer = getattr(trainer, "text_writer", None)
    if writer is None:
        from server.insight.text import TextWriter

        writer = trainer.text_writer = TextWriter(trainer)
    return writer.frame()


PICTURES = {
    "boundary": (10.0, boundary), "activations": (4.0, activations), "health": (2.0, health),
    "results": (1.0, lambda insight: insight.results()), "weights": (1.0, weights),
    "filters": (4.0, filters), "text": (1.0, text),
}


def final_gradients(trainer) -> None:
    """Gradient norms on one training batch, for a run none of whose steps was probed."""
    # In eval mode, so BatchNorm's running statistics stay as trained.
    model, was_training = trainer.model, trainer.model.training
    model.eval()
    model.zero_grad(set_to_none=True)  # a CUDA-graph run keeps its last step's gradients
    try:
        xb, yb = trainer.x_train[:trainer.batch_size], trainer.y_train[:trainer.batch_size]
        trainer.loss_fn(model(xb), yb).backward()
        trainer.grad_norms = gradient_norms(trainer.grad_groups)
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
