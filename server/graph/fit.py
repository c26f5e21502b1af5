"""Checks on a shaped network: does the output fit the dataset, does it fit the size budget."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from server.graph.catalog import CATALOG
from server.graph.network import Budget, Network
from server.graph.rules import fmt


def check_fit(network: Network, err) -> None:
    """The output must fit the dataset's targets under the chosen loss."""
    ds = network.dataset
    out = network.node(network.output_id) if network.output_id else None
    if ds is None or out is None or out.shape is None:
        return
    loss = network.training["loss"]
    where = "out_features" if out.type == "Linear" else None
    if network.training["task"] == "reconstruction":
        inp = tuple(ds.input_shape)
        if out.shape != inp:
            err(out.id, where, f"a reconstruction must output the input's shape {fmt(inp)}; "
                f"'{out.id}' outputs {fmt(out.shape)}")
        if loss in ("cross_entropy", "bce_with_logits"):
            err(None, "training.loss", f"{loss} does not fit a reconstruction; use mse or l1")
        return
    if ds.task == "classification":
        k = ds.num_classes
        if loss in ("mse", "l1"):
            err(None, "training.loss", f"{loss} is for regression; {ds.name} is a "
                "classification dataset (use cross_entropy)")
        elif loss == "bce_with_logits":
            if k != 2 or out.shape != (1,):
                err(out.id, where, f"bce_with_logits needs 2 classes and an output of [1]; "
                    f"'{out.id}' outputs {fmt(out.shape)} for {k} classes")
        elif out.shape != (k,):
            err(out.id, where, f"{ds.name} has {k} classes, so the output must be [{k}]; "
                f"'{out.id}' outputs {fmt(out.shape)}")
    else:
        target = tuple(ds.target_shape)
        if loss in ("cross_entropy", "bce_with_logits"):
            err(None, "training.loss", f"{loss} is for classification; {ds.name} is a "
                "regression dataset (use mse or l1)")
        elif out.shape != target:
            err(out.id, where, f"{ds.name} targets have shape {fmt(target)}, so the output must "
                f"be {fmt(target)}; '{out.id}' outputs {fmt(out.shape)}")


# Optimizer state per parameter, in copies of the weights (Adam keeps two moments).
OPTIMIZER_COPIES = {"sgd": 1, "adam": 2, "adamw": 2, "adagrad": 1, "rmsprop": 2}
BACKWARD_FACTOR = 2  # backward holds a gradient per saved activation while it runs
STEP_COPIES = 1  # the optimizer's step works on a temporary copy of the gradients
RUNTIME_BYTES = 64 * 2**20  # what torch itself takes once a step has run (threads, caches)


@dataclass
class Estimate:
    """Peak training memory in bytes, and the node that contributes most."""

    total: int
    params_bytes: int
    activation_bytes: int
    batch: int
    node: str | None
    field: str | None
    node_bytes: int


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def estimate_memory(network: Network) -> Estimate:
    """Weights + gradients + optimizer state + a batch's saved activations (float32)."""
    shaped = [n for n in network.nodes if n.shape is not None]
    batch = network.training.get("batch_size")
    batch = batch if isinstance(batch, int) and batch > 0 else 1
    opt = (network.training.get("optimizer") or {}).get("name", "adam")
    # Weights, gradients, the step's temporaries and the optimizer's state.
    copies = 2 + STEP_COPIES + OPTIMIZER_COPIES.get(opt, 2)
    params_bytes = 4 * copies * sum(n.n_params for n in shaped)
    best, best_bytes, best_field, act = None, -1, None, 0
    for n in shaped:
        spec = CATALOG.get(n.type)
        values, field_ = (spec.saved(n.in_shapes, n.shape, n.params) if spec and n.in_shapes
                          else (prod(n.shape), None))
        node_act = 4 * BACKWARD_FACTOR * batch * values
        act += node_act
        own = node_act + 4 * copies * n.n_params
        if own > best_bytes:
            best, best_bytes, best_field = n.id, own, field_
    return Estimate(RUNTIME_BYTES + params_bytes + act, params_bytes, act, batch, best,
                    best_field, best_bytes)


def check_budget(network: Network, budget: Budget, err) -> None:
    """Refuse designs over the parameter or training-memory limit, naming node and field."""
    shaped = [n for n in network.nodes if n.shape is not None]
    total = sum(n.n_params for n in shaped)
    if total > budget.max_params:
        big = max(shaped, key=lambda n: n.n_params)
        err(big.id, None, f"the design has {total:,} parameters; the limit is "
            f"{budget.max_params:,} ('{big.id}' alone has {big.n_params:,})")
    batch = network.training.get("batch_size")
    batch = batch if isinstance(batch, int) and batch > 0 else 1
    act = 4 * batch * sum(prod(n.shape) for n in shaped)
    if act > budget.max_activation_bytes:  # node outputs alone: the plainest message
        big = max(shaped, key=lambda n: prod(n.shape))
        err(big.id, None, f"one batch of {batch} needs {act / 2**30:.1f} GiB of activations; "
            f"the limit is {budget.max_activation_bytes / 2**30:.1f} GiB ('{big.id}' outputs "
            f"{fmt(big.shape)})")
    if total > budget.max_params or act > budget.max_activation_bytes:
        return  # the memory estimate would only repeat those
    est = estimate_memory(network)
    if est.total > budget.max_memory_bytes:
        # A smaller batch fits: blame the batch size; else the biggest node's own field.
        per_sample = est.activation_bytes // est.batch
        small = min(est.batch, 32)
        fixed = RUNTIME_BYTES + est.params_bytes
        if est.batch > small and fixed + per_sample * small <= budget.max_memory_bytes:
            node, field_ = None, "training.batch_size"  # no node is at fault, the batch is
            hint = f"; a smaller batch_size fits (each sample needs {_size(per_sample)})"
        else:
            node, field_, hint = est.node, est.field, ""
        err(node, field_, f"training needs about {_size(est.total)} at batch_size {est.batch} "
            f"(weights, gradients, optimizer state and activations); the limit is "
            f"{_size(budget.max_memory_bytes)} ('{est.node}' alone needs "
            f"{_size(est.node_bytes)}){hint}")
