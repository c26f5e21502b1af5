"""Checks on a shaped network: does the output fit the dataset, does it fit the size budget."""

from __future__ import annotations

from math import prod

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


def check_budget(network: Network, budget: Budget, err) -> None:
    shaped = [n for n in network.nodes if n.shape is not None]
    total = sum(n.n_params for n in shaped)
    if total > budget.max_params:
        big = max(shaped, key=lambda n: n.n_params)
        err(big.id, None, f"the design has {total:,} parameters; the limit is "
            f"{budget.max_params:,} ('{big.id}' alone has {big.n_params:,})")
    batch = network.training.get("batch_size")
    batch = batch if isinstance(batch, int) and batch > 0 else 1
    act = 4 * batch * sum(prod(n.shape) for n in shaped)
    if act > budget.max_activation_bytes:
        big = max(shaped, key=lambda n: prod(n.shape))
        err(big.id, None, f"one batch of {batch} needs {act / 2**30:.1f} GiB of activations; "
            f"the limit is {budget.max_activation_bytes / 2**30:.1f} GiB ('{big.id}' outputs "
            f"{fmt(big.shape)})")
