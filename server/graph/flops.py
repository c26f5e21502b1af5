"""Per-node cost beside the parameter counts, as torchinfo shows it: multiply-accumulates
(MACs) and the bytes of the node's output, both for one example (batch 1, float32).

MACs count the layers whose work is matrix products: Linear, the convolutions, the recurrent
layers, attention and the transformer layer. Element-wise layers, norms, pooling, reshapes and
embeddings (a lookup) count 0, as torchinfo counts them; their cost is memory, which the
activation bytes show.
"""

from __future__ import annotations

from math import prod

from server.graph.catalog import CATALOG

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
BYTES = 4  # float32


def _param(node, name: str):
    value = node.params.get(name) if node.params else None
    if value is None:
        value = next((p.default for p in CATALOG[node.type].params if p.name == name), None)
    return value


def _pair(value) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else (int(value),)


def macs(node) -> int:
    """The node's multiply-accumulates for one example (0 where it has no matrix product)."""
    if node.shape is None or not node.in_shapes or node.in_shapes[0] is None:
        return 0
    t, out, inp = node.type, node.shape, node.in_shapes[0]
    if t == "Linear":
        return prod(out) * inp[-1]
    if t in ("Conv1d", "Conv2d"):
        k = _pair(_param(node, "kernel_size"))
        k = k * (2 if t == "Conv2d" else 1) if len(k) == 1 else k
        return prod(out) * inp[0] * prod(k)
    if t == "ConvTranspose2d":
        k = _pair(_param(node, "kernel_size"))
        k = k * 2 if len(k) == 1 else k
        return prod(inp) * out[0] * prod(k)
    if t in GATES:
        steps, features = (inp[0], inp[1]) if len(inp) == 2 else (1, inp[0])
        h = int(_param(node, "hidden_size"))
        dirs = 2 if _param(node, "bidirectional") else 1
        total, width = 0, features
        for _ in range(int(_param(node, "num_layers") or 1)):
            total += dirs * steps * GATES[t] * (width * h + h * h)
            width = h * dirs
        return total
    if t == "MultiheadAttention":
        steps, e = (inp[0], inp[1]) if len(inp) == 2 else (1, inp[0])
        return 4 * steps * e * e + 2 * steps * steps * e
    if t == "TransformerEncoderLayer":
        steps, e = (inp[0], inp[1]) if len(inp) == 2 else (1, inp[0])
        ff = int(_param(node, "dim_feedforward"))
        return 4 * steps * e * e + 2 * steps * steps * e + 2 * steps * e * ff
    return 0


def activation_bytes(node) -> int:
    """The bytes of the node's output for one example."""
    return BYTES * prod(node.shape) if node.shape is not None else 0
