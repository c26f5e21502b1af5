"""Shape rules: each maps (input shapes, params) to (output shape, parameter count).

Shapes exclude the batch dimension. A rule raises ShapeError naming the param at fault (or None
when the incoming shape itself is the problem). Rules are pure arithmetic, so a graph of any size
is checked before anything is allocated.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from math import prod
from typing import Any

Shape = tuple[int, ...]


class ShapeError(Exception):
    """A node cannot take the shapes it gets, or its params do not fit them."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param


def fmt(shape: Shape) -> str:
    """Render a shape the way the page and the docs write it: [2, 8, 8]."""
    return "[" + ", ".join(str(d) for d in shape) + "]"


def show(value: Any) -> str:
    """Render a value from a document for a message: 'gpu', true, null, [1, 2] (JSON's words)."""
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _need_rank(shape: Shape, rank: int, layer: str, what: str) -> None:
    if len(shape) != rank:
        raise ShapeError(f"{layer} needs an input of shape {what}; it gets {fmt(shape)}")


def _out_len(size: int, k: int, s: int, p: int, d: int, axis: str, layer: str) -> int:
    span = d * (k - 1) + 1
    out = (size + 2 * p - span) // s + 1
    if out < 1:
        extra = "".join([f" plus padding {2 * p}" if p else "",
                         f" (with dilation {d} the kernel spans {span})" if d > 1 else ""])
        raise ShapeError(
            f"{layer} kernel_size {k} is larger than the input {axis} {size}{extra}",
            "kernel_size",
        )
    return out


def same(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
    """Element-wise layers: the shape passes through, no weights."""
    return in_shapes[0], 0


def input_(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
    """Input: its shape is its param (filled from the dataset by validation)."""
    return tuple(p["shape"]), 0


def linear(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
    """Linear acts on the last axis: [..., in_features] -> [..., out_features]."""
    (x,) = in_shapes
    if len(x) < 1:
        raise ShapeError("Linear needs an input with at least one axis")
    n_in, n_out = x[-1], p["out_features"]
    return x[:-1] + (n_out,), n_in * n_out + (n_out if p["bias"] else 0)


def flatten(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
    """Flatten everything after the batch axis into one."""
    return (prod(in_shapes[0]),), 0


def reshape(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
    """Reshape to `shape`; one -1 takes what is left."""
    (x,) = in_shapes
    target = list(p["shape"])
    total = prod(x)
    if target.count(-1) > 1:
        raise ShapeError("Reshape shape may contain -1 only once", "shape")
    known = prod(d for d in target if d != -1)
    if -1 in target:
        if known == 0 or total % known:
            raise ShapeError(
                f"Reshape cannot fit {total} values ({fmt(x)}) into {fmt(tuple(target))}", "shape"
            )
        target[target.index(-1)] = total // known
    elif known != total:
        raise ShapeError(
            f"Reshape to {fmt(tuple(target))} needs {known} values; its input {fmt(x)} has {total}",
            "shape",
        )
    return tuple(target), 0


def conv1d(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
    """Conv1d: [channels, length] -> [out_channels, length']."""
    (x,) = in_shapes
    _need_rank(x, 2, "Conv1d", "[channels, length]")
    c, n = x
    k, s, pad, d = p["kernel_size"], p["stride"], p["padding"], p["dilation"]
    out = _out_len(n, k, s, pad, d, "length", "Conv1d")
    oc = p["out_channels"]
    return (oc, out), c * oc * k + (oc if p["bias"] else 0)


def conv2d(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
    """Conv2d: [channels, height, width] -> [out_channels, height', width']."""
    (x,) = in_shapes
    _need_rank(x, 3, "Conv2d", "[channels, height, width]")
    c, h, w = x
    k, s, pad, d = p["kernel_size"], p["stride"], p["padding"], p["dilation"]
    oh = _out_len(h, k, s, pad, d, "height", "Conv2d")
    ow = _out_len(w, k, s, pad, d, "width", "Conv2d")
    oc = p["out_channels"]
    return (oc, oh, ow), c * oc * k * k + (oc if p["bias"] else 0)


def conv_transpose2d(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
    """ConvTranspose2d: [C, H, W] -> [out_channels, H', W'], H' = (H-1)*stride + kernel_size
    + output_padding - 2*padding (PyTorch's rule, dilation 1)."""
    (x,) = in_shapes
    layer = "ConvTranspose2d"
    _need_rank(x, 3, layer, "[channels, height, width]")
    c, h, w = x
    k, s, pad, extra = p["kernel_size"], p["stride"], p["padding"], p["output_padding"]
    if extra >= s:
        raise ShapeError(f"{layer} output_padding {extra} must be smaller than stride {s}",
                         "output_padding")
    out = []
    for size, axis in ((h, "height"), (w, "width")):
        full = (size - 1) * s + k + extra
        if full - 2 * pad < 1:
            raise ShapeError(f"{layer} padding {pad} on each side leaves no output {axis} (it is "
                             f"{full} before padding)", "padding")
        out.append(full - 2 * pad)
    oc = p["out_channels"]
    return (oc, *out), c * oc * k * k + (oc if p["bias"] else 0)


def upsample(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
    """Upsample: [C, H, W] -> [C, H * scale_factor, W * scale_factor]."""
    (x,) = in_shapes
    _need_rank(x, 3, "Upsample", "[channels, height, width]")
    if p["align_corners"] and p["mode"] != "bilinear":
        raise ShapeError(f"Upsample align_corners applies to bilinear mode only; mode is "
                         f"{p['mode']}", "align_corners")
    s = p["scale_factor"]
    return (x[0], x[1] * s, x[2] * s), 0


def noise(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
    """Noise takes no input: one sample is a vector z of `dim` values."""
    return (p["dim"],), 0


def _pool_args(p: dict, layer: str) -> tuple[int, int, int]:
    k = p["kernel_size"]
    s = p["stride"] if p.get("stride") is not None else k
    pad = p.get("padding", 0)
    if pad > k // 2:
        raise ShapeError(f"{layer} padding {pad} must be at most half of kernel_size {k}",
                         "padding")
    return k, s, pad


def pool1d(layer: str):
    """Rule for a 1-D pooling layer: [channels, length]."""

    def rule(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
        (x,) = in_shapes
        _need_rank(x, 2, layer, "[channels, length]")
        k, s, pad = _pool_args(p, layer)
        return (x[0], _out_len(x[1], k, s, pad, 1, "length", layer)), 0

    return rule


def pool2d(layer: str):
    """Rule for a 2-D pooling layer: [channels, height, width]."""

    def rule(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
        (x,) = in_shapes
        _need_rank(x, 3, layer, "[channels, height, width]")
        k, s, pad = _pool_args(p, layer)
        oh = _out_len(x[1], k, s, pad, 1, "height", layer)
        ow = _out_len(x[2], k, s, pad, 1, "width", layer)
        return (x[0], oh, ow), 0

    return rule


def adaptive_avg_pool2d(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
    """AdaptiveAvgPool2d: [C, H, W] -> [C, output_size, output_size]."""
    (x,) = in_shapes
    _need_rank(x, 3, "AdaptiveAvgPool2d", "[channels, height, width]")
    o = p["output_size"]
    return (x[0], o, o), 0


def batchnorm1d(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
    """BatchNorm1d over [features] or [channels, length]; num_features is inferred."""
    (x,) = in_shapes
    if len(x) not in (1, 2):
        raise ShapeError(
            "BatchNorm1d needs an input of shape [features] or [channels, length]; "
            f"it gets {fmt(x)}"
        )
    return x, 2 * x[0] if p["affine"] else 0


def batchnorm2d(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
    """BatchNorm2d over [channels, height, width]."""
    (x,) = in_shapes
    _need_rank(x, 3, "BatchNorm2d", "[channels, height, width]")
    return x, 2 * x[0] if p["affine"] else 0


def layernorm(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
    """LayerNorm over the last axis."""
    (x,) = in_shapes
    return x, 2 * x[-1] if p["elementwise_affine"] else 0


def softmax(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
    """Softmax along `dim` (counted without the batch axis; -1 is the last)."""
    (x,) = in_shapes
    if not -len(x) <= p["dim"] < len(x):
        raise ShapeError(f"Softmax dim {p['dim']} is out of range for {fmt(x)}", "dim")
    return x, 0


def recurrent(layer: str, gates: int):
    """Rule for RNN/GRU/LSTM: [time, features] -> [time, H*dirs] or [H*dirs]."""

    def rule(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
        (x,) = in_shapes
        _need_rank(x, 2, layer, "[time, features]")
        t, f = x
        h, dirs = p["hidden_size"], 2 if p["bidirectional"] else 1
        n = 0
        for layer_i in range(p["num_layers"]):
            n_in = f if layer_i == 0 else h * dirs
            n += dirs * (gates * h * (n_in + h) + 2 * gates * h)
        out = (t, h * dirs) if p["return_sequences"] else (h * dirs,)
        return out, n

    return rule


def embedding(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
    """Embedding: integer ids [time] (or [time, 1]) -> [time, embedding_dim]."""
    (x,) = in_shapes
    base = x[:-1] if len(x) > 1 and x[-1] == 1 else x
    return base + (p["embedding_dim"],), p["num_embeddings"] * p["embedding_dim"]


def _need_heads(x: Shape, heads: int, layer: str, param: str) -> int:
    _need_rank(x, 2, layer, "[time, features]")
    e = x[1]
    if e % heads:
        raise ShapeError(f"{layer} {param} {heads} must divide the feature size {e}", param)
    return e


def multihead_attention(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
    """Self-attention over a sequence: [time, embed_dim] -> the same."""
    (x,) = in_shapes
    e = _need_heads(x, p["num_heads"], "MultiheadAttention", "num_heads")
    return x, 4 * e * e + (4 * e if p["bias"] else 0)


def transformer_encoder_layer(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
    """TransformerEncoderLayer: [time, d_model] -> the same."""
    (x,) = in_shapes
    e = _need_heads(x, p["nhead"], "TransformerEncoderLayer", "nhead")
    ff = p["dim_feedforward"]
    attn = 4 * e * e + 4 * e
    mlp = e * ff + ff + ff * e + e
    return x, attn + mlp + 4 * e


def add(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
    """Add: every input must have the same shape."""
    first = in_shapes[0]
    for other in in_shapes[1:]:
        if other != first:
            shapes = ", ".join(fmt(s) for s in in_shapes)
            raise ShapeError(f"Add needs inputs of one shape; it gets {shapes}")
    return first, 0


def concat(in_shapes: list[Shape], p: dict) -> tuple[Shape, int]:
    """Concat along `dim`; every other axis must agree."""
    first = in_shapes[0]
    rank = len(first)
    dim = p["dim"]
    if not -rank <= dim < rank:
        raise ShapeError(f"Concat dim {dim} is out of range for {fmt(first)}", "dim")
    dim %= rank
    for other in in_shapes[1:]:
        if len(other) != rank or any(
                a != b for i, (a, b) in enumerate(zip(first, other, strict=True)) if i != dim):
            shapes = ", ".join(fmt(s) for s in in_shapes)
            raise ShapeError(
                f"Concat along dim {p['dim']} needs the other axes to match; it gets {shapes}")
    out = list(first)
    out[dim] = sum(s[dim] for s in in_shapes)
    return tuple(out), 0


# What a layer keeps for the backward pass, per sample, in float32 values: its output plus what
# it allocates inside (attention scores, feed-forward hidden, gates over time, im2col columns).
# Each returns (values, the param that drives the inner part) so a refusal can name the field.
Saved = tuple[int, str | None]
SavedRule = Callable[[list[Shape], Shape, dict], Saved]


def saved_output(in_shapes: list[Shape], out: Shape, p: dict) -> Saved:
    """Element-wise and shape-only layers keep their output."""
    return prod(out), None


def saved_dropout(in_shapes: list[Shape], out: Shape, p: dict) -> Saved:
    """Dropout keeps its output and a mask of the same size."""
    return 2 * prod(out), None


def saved_linear(in_shapes: list[Shape], out: Shape, p: dict) -> Saved:
    """Linear keeps its output (its input is the previous node's)."""
    return prod(out), "out_features"


def saved_conv(in_shapes: list[Shape], out: Shape, p: dict) -> Saved:
    """Conv on CPU unfolds its input into columns: in_channels * kernel taps per output point."""
    c, rank = in_shapes[0][0], len(out) - 1
    points = prod(out[1:])
    return prod(out) + c * p["kernel_size"] ** rank * points, "kernel_size"


def saved_conv_transpose(in_shapes: list[Shape], out: Shape, p: dict) -> Saved:
    """ConvTranspose2d on CPU: columns of out_channels * kernel taps per input point."""
    points = prod(in_shapes[0][1:])
    return prod(out) + out[0] * p["kernel_size"] ** 2 * points, "kernel_size"


def saved_recurrent(gates: int):
    """RNN/GRU/LSTM keep every gate and hidden state of every layer at every step."""

    def saved(in_shapes: list[Shape], out: Shape, p: dict) -> Saved:
        t = in_shapes[0][0]
        dirs = 2 if p["bidirectional"] else 1
        # The CPU cell keeps input and hidden projections, their sum and the activated gates
        # (about 3 x gates values per unit), plus the cell state, its tanh and the new hidden.
        per_layer = t * p["hidden_size"] * dirs * (3 * gates + 3)
        return prod(out) + p["num_layers"] * per_layer, "hidden_size"

    return saved


def _attention(t: int, e: int, heads: int) -> int:
    # q, k, v and the projected output (4 t*e), scores and their softmax (2 heads*t*t).
    return 4 * t * e + 2 * heads * t * t


def saved_attention(in_shapes: list[Shape], out: Shape, p: dict) -> Saved:
    """MultiheadAttention keeps q, k, v and heads x time x time scores."""
    t, e = in_shapes[0]
    return prod(out) + _attention(t, e, p["num_heads"]), "num_heads"


def saved_encoder(in_shapes: list[Shape], out: Shape, p: dict) -> Saved:
    """TransformerEncoderLayer: attention, time x dim_feedforward (x3: linear, act, dropout)."""
    t, e = in_shapes[0]
    attn = _attention(t, e, p["nhead"]) + 2 * p["nhead"] * t * t  # + dropout mask on weights
    ff = 3 * t * p["dim_feedforward"]
    rest = 8 * t * e  # two norms, two residual sums, dropouts
    return attn + ff + rest, "dim_feedforward" if ff >= attn else "nhead"
