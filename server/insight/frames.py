"""Frames: tensors quantized to uint8 on their device, so only bytes cross to the host."""

from __future__ import annotations

import torch


def quantize(t: torch.Tensor) -> dict:
    """{shape, min, max, data}: data is uint8, 0 maps to min and 255 to max (row-major)."""
    t = t.detach().float()
    lo, hi = torch.aminmax(t) if t.numel() else (t.new_zeros(()), t.new_zeros(()))
    q = ((t - lo) / (hi - lo).clamp_min(1e-12) * 255).round_().to(torch.uint8)
    return {"shape": list(t.shape), "min": float(lo), "max": float(hi),
            "data": q.cpu().numpy().tobytes()}


def quantize_fixed(t: torch.Tensor, lo: float, hi: float) -> dict:
    """Quantize on a fixed scale (lo -> 0, hi -> 255), clamping outside values."""
    q = ((t.detach().float() - lo) / (hi - lo) * 255).clamp_(0, 255).round_().to(torch.uint8)
    return {"shape": list(t.shape), "min": lo, "max": hi, "data": q.cpu().numpy().tobytes()}


def dequantize(frame: dict):
    """The inverse of quantize, as a numpy array (for tests and tools)."""
    import numpy as np

    q = np.frombuffer(frame["data"], dtype=np.uint8).reshape(frame["shape"]).astype(np.float32)
    return frame["min"] + q / 255.0 * (frame["max"] - frame["min"])


def plane_grid(extent, size: tuple[int, int], device) -> torch.Tensor:
    """Points covering extent (x0, x1, y0, y1) as (h*w, 2), row-major with the top row first."""
    x0, x1, y0, y1 = extent
    h, w = size
    xs = torch.linspace(x0, x1, w, device=device)
    ys = torch.linspace(y1, y0, h, device=device)  # image rows run top (y1) to bottom (y0)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
