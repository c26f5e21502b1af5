"""The modules a catalog entry's Call names, and the builder that instantiates those Calls.

Each catalog entry says which module it becomes (`LayerSpec.module`, a pure Call from
server/graph/modules.py): a torch.nn class or one of the small wrappers below. The PyTorch source
export writes these wrappers into the exported file as they are (inspect.getsource), so each must
stand alone on `torch` and `nn`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from server.graph import CATALOG, Node
from server.graph.modules import Call


class Reshape(nn.Module):
    """Reshape every sample to a fixed shape."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)


class Recurrent(nn.Module):
    """RNN/GRU/LSTM over (N, T, F): every step's output, or the last step of each direction."""

    def __init__(self, rnn: nn.RNNBase, return_sequences: bool):
        super().__init__()
        self.rnn = rnn
        self.return_sequences = return_sequences
        self.directions = 2 if rnn.bidirectional else 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, h = self.rnn(x)  # out: (N, T, H * directions)
        if self.return_sequences:
            return out
        if isinstance(h, tuple):  # LSTM: (h_n, c_n)
            h = h[0]
        last = h[-self.directions:]  # (directions, N, H): the top layer
        return last.transpose(0, 1).reshape(x.shape[0], -1)


class Embedding(nn.Module):
    """nn.Embedding that takes float ids (cast to long) and, optionally, (N, T, 1) columns."""

    def __init__(self, num_embeddings: int, embedding_dim: int, squeeze_last: bool = False):
        super().__init__()
        self.embedding = nn.Embedding(num_embeddings, embedding_dim)
        self.squeeze_last = squeeze_last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.squeeze_last:
            x = x[..., 0]
        return self.embedding(x.long())


class SelfAttention(nn.Module):
    """Multi-head self-attention over (N, T, E): query, key and value are the input."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.attn = nn.MultiheadAttention(embed_dim, num_heads, dropout=dropout, bias=bias,
                                          batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x, x, x, need_weights=False)[0]


class Add(nn.Module):
    """Element-wise sum of its inputs."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Concat(nn.Module):
    """Concatenate its inputs along `dim` (counted with the batch axis)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=self.dim)


WRAPPERS: dict[str, type[nn.Module]] = {
    cls.__name__: cls for cls in (Reshape, Recurrent, Embedding, SelfAttention, Add, Concat)}


def module_class(fn: str) -> type[nn.Module]:
    """The class a Call names: "nn.Conv2d" or a wrapper above."""
    return getattr(nn, fn[3:]) if fn.startswith("nn.") else WRAPPERS[fn]


def instantiate(call: Call) -> nn.Module:
    """The module a Call describes, its Call arguments instantiated first."""

    def value(v):
        return instantiate(v) if isinstance(v, Call) else v

    args = [value(a) for a in call.args]
    kwargs = {k: value(v) for k, v in call.kwargs.items()}
    return module_class(call.fn)(*args, **kwargs)


def build_layer(node: Node) -> nn.Module:
    """A checked node's module, as its catalog entry describes it."""
    return instantiate(CATALOG[node.type].module(node))


# Every type that becomes a module (all but Input, which is fed), for builder.py's lookup.
BUILDERS: dict[str, Callable[[Node], nn.Module]] = {
    t: build_layer for t, spec in CATALOG.items() if spec.module is not None}
