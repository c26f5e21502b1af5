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
    """Final losses and accuracy."""
    return {"train_loss": result.train_loss, "val_loss": result.val_loss,
            "val_accuracy": result.val_accuracy}


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


PICTURES = {
    "boundary": (10.0, boundary), "activations": (4.0, activations), "health": (2.0, health),
    "results": (1.0, lambda insight: insight.results()), "weights": (1.0, weights),
}


def final_gradients(trainer) -> None:
    """Gradient norms on one training batch, for a run none of whose steps was probed."""
    # In eval mode, so BatchNorm's running statistics stay as trained.
    model, was_training = trainer.model, trainer.model.training
    model.eval()
    try:
        xb, yb = trainer.x_train[:trainer.batch_size], trainer.y_train[:trainer.batch_size]
        trainer.loss_fn(model(xb), yb).backward()
        trainer.grad_norms = gradient_norms(trainer.grad_groups)
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
