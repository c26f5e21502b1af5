"""The PyTorch module each layer type becomes, as pure data the builder and the source export share.

A catalog entry names a function `(node) -> Call`; server/model/layers.py instantiates the Call
and server/export/pytorch.py writes it as source, so the built model and the exported file
cannot drift apart. `fn` is a torch class (`"nn.Linear"`) or one of Layerlab's small wrappers in
server/model/layers.py (`"Recurrent"`). Sizes that follow from the incoming shape come from
`node.in_shapes`; dims the document counts without the batch axis are counted with it here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from server.graph.network import Node


@dataclass(frozen=True)
class Call:
    """`fn(*args, **kwargs)`: one module's constructor call; an argument may be a Call itself."""

    fn: str  # "nn.Conv2d" (a torch.nn class) or a wrapper's class name in server/model/layers.py
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def batch_dim(dim: int) -> int:
    """A dim counted without the batch axis, as counted with it (-1 stays the last)."""
    return dim + 1 if dim >= 0 else dim


def _last(n: Node) -> int:
    return n.in_shapes[0][-1]


def _channels(n: Node) -> int:
    return n.in_shapes[0][0]


def plain(fn: str):
    """A module without arguments (nn.ReLU(), Add())."""
    return lambda n: Call(fn)


def linear(n: Node) -> Call:
    """nn.Linear on the last axis."""
    return Call("nn.Linear", (_last(n), n.params["out_features"]), {"bias": n.params["bias"]})


def reshape(n: Node) -> Call:
    """Reshape to the node's inferred shape (its -1 resolved)."""
    return Call("Reshape", (tuple(n.shape),))


def dropout(n: Node) -> Call:
    """nn.Dropout(p)."""
    return Call("nn.Dropout", (n.params["p"],))


def conv(n: Node) -> Call:
    """nn.Conv1d / nn.Conv2d; in_channels from the input."""
    p = n.params
    return Call(f"nn.{n.type}", (_channels(n), p["out_channels"], p["kernel_size"]),
                {"stride": p["stride"], "padding": p["padding"], "dilation": p["dilation"],
                 "bias": p["bias"]})


def conv_transpose(n: Node) -> Call:
    """nn.ConvTranspose2d; in_channels from the input."""
    p = n.params
    return Call(f"nn.{n.type}", (_channels(n), p["out_channels"], p["kernel_size"]),
                {"stride": p["stride"], "padding": p["padding"],
                 "output_padding": p["output_padding"], "bias": p["bias"]})


def pool(n: Node) -> Call:
    """Max/average pooling; a stride equal to the kernel is PyTorch's default (None)."""
    p = n.params
    k = p["kernel_size"]
    stride = None if p["stride"] in (None, k) else p["stride"]
    return Call(f"nn.{n.type}", (k,), {"stride": stride, "padding": p["padding"]})


def adaptive_pool(n: Node) -> Call:
    """nn.AdaptiveAvgPool2d(output_size)."""
    return Call(f"nn.{n.type}", (n.params["output_size"],))


def batchnorm(n: Node) -> Call:
    """nn.BatchNorm1d / nn.BatchNorm2d; num_features from the input's first axis."""
    p = n.params
    return Call(f"nn.{n.type}", (_channels(n),),
                {"eps": p["eps"], "momentum": p["momentum"], "affine": p["affine"]})


def layernorm(n: Node) -> Call:
    """nn.LayerNorm over the last axis."""
    p = n.params
    return Call("nn.LayerNorm", (_last(n),),
                {"eps": p["eps"], "elementwise_affine": p["elementwise_affine"]})


def keywords(*names: str):
    """A torch class of the node's type taking these params as keywords (nn.ELU(alpha=...))."""
    return lambda n: Call(f"nn.{n.type}", (), {k: n.params[k] for k in names})


def softmax(n: Node) -> Call:
    """nn.Softmax along the document's dim."""
    return Call("nn.Softmax", (), {"dim": batch_dim(n.params["dim"])})


def recurrent(n: Node) -> Call:
    """Recurrent(nn.RNN/GRU/LSTM(...)): batch first, every step or the last one."""
    p = n.params
    extra = {"nonlinearity": p["nonlinearity"]} if "nonlinearity" in p else {}
    rnn = Call(f"nn.{n.type}", (_last(n), p["hidden_size"]),
               {"num_layers": p["num_layers"], "bidirectional": p["bidirectional"],
                "batch_first": True, "dropout": p["dropout"] if p["num_layers"] > 1 else 0.0,
                **extra})
    return Call("Recurrent", (rnn,), {"return_sequences": p["return_sequences"]})


def embedding(n: Node) -> Call:
    """Embedding over float ids; a trailing axis of 1 ([time, 1]) is squeezed first."""
    x = n.in_shapes[0]
    return Call("Embedding", (n.params["num_embeddings"], n.params["embedding_dim"]),
                {"squeeze_last": len(x) > 1 and x[-1] == 1})


def self_attention(n: Node) -> Call:
    """SelfAttention: MultiheadAttention with query, key and value the input."""
    p = n.params
    return Call("SelfAttention", (_last(n), p["num_heads"]),
                {"dropout": p["dropout"], "bias": p["bias"]})


def encoder_layer(n: Node) -> Call:
    """nn.TransformerEncoderLayer, batch first; d_model from the input."""
    p = n.params
    return Call("nn.TransformerEncoderLayer", (_last(n), p["nhead"]),
                {"dim_feedforward": p["dim_feedforward"], "dropout": p["dropout"],
                 "activation": p["activation"], "batch_first": True,
                 "norm_first": p["norm_first"]})


def upsample(n: Node) -> Call:
    """nn.Upsample by an integer factor; align_corners only where the mode interpolates."""
    p = n.params
    kwargs = {"scale_factor": float(p["scale_factor"]), "mode": p["mode"]}
    if p["mode"] == "bilinear":
        kwargs["align_corners"] = p["align_corners"]
    return Call("nn.Upsample", (), kwargs)


def concat(n: Node) -> Call:
    """Concat along the document's dim."""
    return Call("Concat", (batch_dim(n.params["dim"]),))
