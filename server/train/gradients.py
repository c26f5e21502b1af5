"""Per-node gradient norms, probed on a real training step at a bounded rate."""

from __future__ import annotations

import torch
from torch import nn


def parameter_groups(model: nn.Module) -> list[tuple[str, list[torch.Tensor]]]:
    """(node id, its trainable tensors) for every node that has weights, in model order."""
    groups: dict[str, list[torch.Tensor]] = {}
    for name, p in model.named_parameters():
        if p.requires_grad and name.startswith("layers."):
            groups.setdefault(name.split(".")[1], []).append(p)
    return list(groups.items())


def gradient_norms(groups: list[tuple[str, list[torch.Tensor]]]) -> torch.Tensor | None:
    """Each group's gradient L2 norm as one device tensor (no host sync)."""
    norms = []
    for _, params in groups:
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            norms.append(torch.zeros((), device=params[0].device))
            continue
        per = torch._foreach_norm(grads)
        norms.append(torch.linalg.vector_norm(torch.stack(per)))
    return torch.stack(norms) if norms else None
