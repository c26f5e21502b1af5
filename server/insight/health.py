"""Gradient health: per-layer gradient norms, vanishing/exploding and dead-ReLU badges."""

from __future__ import annotations

import math

import torch

VANISHING_RATIO = 1e-4  # a layer's gradient below this share of the largest layer's
VANISHING_ABS = 1e-8
EXPLODING_ABS = 1e3
DEAD_SHARE = 0.5  # a ReLU with at least half its units never active on a batch

HINTS = {
    "vanishing": "Gradients barely reach this layer, so it hardly learns. Try ReLU or GELU "
                 "instead of sigmoid/tanh, a normalization layer, a shortcut (Add), or fewer "
                 "layers.",
    "exploding": "Gradients here are huge, so steps overshoot. Lower the learning rate, add "
                 "gradient clipping (grad_clip) or a normalization layer.",
    "dead": "Most units of this ReLU output zero for every sample, so they stop learning. Lower "
            "the learning rate, use LeakyReLU or ELU, or add BatchNorm before it.",
}


def dead_fraction(output: torch.Tensor) -> float:
    """Share of units (features, or channels of a map) that are zero for every sample."""
    out = output.detach()
    if out.dim() > 2:  # (N, C, ...) -> a unit is a channel
        out = out.transpose(0, 1).reshape(out.shape[1], -1).T
    active = (out > 0).any(dim=0)
    return 1.0 - float(active.float().mean())


def badges(norms: dict[str, float], dead: dict[str, float]) -> dict[str, dict]:
    """{node: {grad_norm?, dead_fraction?, badges: [...], hints: [...]}} for the page."""
    finite = [v for v in norms.values() if math.isfinite(v)]
    top = max(finite) if finite else 0.0
    out: dict[str, dict] = {}
    for node, norm in norms.items():
        found = []
        if not math.isfinite(norm) or norm > EXPLODING_ABS:
            found.append("exploding")
        elif top > 0 and (norm < VANISHING_ABS or norm < VANISHING_RATIO * top):
            found.append("vanishing")
        out[node] = {"grad_norm": norm if math.isfinite(norm) else None, "badges": found}
    for node, share in dead.items():
        entry = out.setdefault(node, {"grad_norm": None, "badges": []})  # no weights
        entry["dead_fraction"] = share
        if share >= DEAD_SHARE:
            entry["badges"].append("dead")
    for entry in out.values():
        entry["hints"] = [HINTS[b] for b in entry["badges"]]
    return out
