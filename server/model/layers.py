"""Builders: one per catalog type, mapping a checked node to its nn.Module.

Params arrive resolved (defaults filled) and sizes that follow from the incoming shape
(`in_features`, `in_channels`, `num_features`, `input_size`, `embed_dim`) are taken from
`node.in_shapes`, never asked of the user.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from server.graph import Node


def _doc_dim(dim: int) -> int:
    """A dim counted without the batch axis, as counted with it."""
    return dim + 1 if dim >= 0 else dim


class Reshape(nn.Module):
    """Reshape every sample to a fixed shape."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)


class Recurrent(nn.Module):
    """RNN/GRU/LSTM over (N, T, F); the full sequence or the last hidden state of each direction."""

    def __init__(self, rnn: nn.RNNBase, return_sequences: bool):
        super().__init__()
        self.rnn = rnn
        self.return_sequences = return_sequences
        self.directions = 2 if rnn.bidirectional else 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, h = self.rnn(x)  # out: (N, T, H*dirs)
        if self.return_sequences:
            return out
        if isinstance(h, tuple):  # LSTM: (h_n, c_n)
            h = h[0]
        last = h[-self.directions:]  # (dirs, N, H): the top layer, both directions
        return last.transpose(0, 1).reshape(x.shape[0], -1)


class Embedding(nn.Module):
    """Embedding that accepts float ids (datasets are float32) and [T, 1] columns."""

    def __init__(self, num_embeddings: int, dim: int, squeeze_last: bool):
        super().__init__()
        self.embedding = nn.Embedding(num_embeddings, dim)
        self.squeeze_last = squeeze_last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.squeeze_last:
            x = x[..., 0]
        return self.embedding(x.long())


class SelfAttention(nn.Module):
    """Multi-head self-attention over (N, T, E)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float, bias: bool):
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
    """Concatenate inputs along a sample axis."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = _doc_dim(dim)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=self.dim)


def _recurrent(cls: type[nn.RNNBase]) -> Callable[[Node], nn.Module]:
    def build(n: Node) -> nn.Module:
        p = n.params
        extra = {"nonlinearity": p["nonlinearity"]} if cls is nn.RNN else {}
        rnn = cls(n.in_shapes[0][-1], p["hidden_size"], num_layers=p["num_layers"],
                  bidirectional=p["bidirectional"], batch_first=True,
                  dropout=p["dropout"] if p["num_layers"] > 1 else 0.0, **extra)
        return Recurrent(rnn, p["return_sequences"])

    return build


def _conv(cls: type[nn.Module]) -> Callable[[Node], nn.Module]:
    def build(n: Node) -> nn.Module:
        p = n.params
        return cls(n.in_shapes[0][0], p["out_channels"], p["kernel_size"], stride=p["stride"],
                   padding=p["padding"], dilation=p["dilation"], bias=p["bias"])

    return build


def _pool(cls: type[nn.Module]) -> Callable[[Node], nn.Module]:
    def build(n: Node) -> nn.Module:
        p = n.params
        return cls(p["kernel_size"], stride=p["stride"] or p["kernel_size"], padding=p["padding"])

    return build


def _norm(cls: type[nn.Module]) -> Callable[[Node], nn.Module]:
    def build(n: Node) -> nn.Module:
        p = n.params
        return cls(n.in_shapes[0][0], eps=p["eps"], momentum=p["momentum"], affine=p["affine"])

    return build


BUILDERS: dict[str, Callable[[Node], nn.Module]] = {
    "Linear": lambda n: nn.Linear(n.in_shapes[0][-1], n.params["out_features"],
                                  bias=n.params["bias"]),
    "Flatten": lambda n: nn.Flatten(),
    "Reshape": lambda n: Reshape(n.shape),
    "Dropout": lambda n: nn.Dropout(n.params["p"]),
    "Identity": lambda n: nn.Identity(),
    "Conv1d": _conv(nn.Conv1d),
    "Conv2d": _conv(nn.Conv2d),
    "MaxPool1d": _pool(nn.MaxPool1d),
    "MaxPool2d": _pool(nn.MaxPool2d),
    "AvgPool2d": _pool(nn.AvgPool2d),
    "AdaptiveAvgPool2d": lambda n: nn.AdaptiveAvgPool2d(n.params["output_size"]),
    "BatchNorm1d": _norm(nn.BatchNorm1d),
    "BatchNorm2d": _norm(nn.BatchNorm2d),
    "LayerNorm": lambda n: nn.LayerNorm(n.in_shapes[0][-1], eps=n.params["eps"],
                                        elementwise_affine=n.params["elementwise_affine"]),
    "ReLU": lambda n: nn.ReLU(),
    "LeakyReLU": lambda n: nn.LeakyReLU(n.params["negative_slope"]),
    "ELU": lambda n: nn.ELU(n.params["alpha"]),
    "GELU": lambda n: nn.GELU(approximate=n.params["approximate"]),
    "Sigmoid": lambda n: nn.Sigmoid(),
    "Tanh": lambda n: nn.Tanh(),
    "Softmax": lambda n: nn.Softmax(dim=_doc_dim(n.params["dim"])),
    "RNN": _recurrent(nn.RNN),
    "GRU": _recurrent(nn.GRU),
    "LSTM": _recurrent(nn.LSTM),
    "Embedding": lambda n: Embedding(n.params["num_embeddings"], n.params["embedding_dim"],
                                     len(n.in_shapes[0]) > 1 and n.in_shapes[0][-1] == 1),
    "MultiheadAttention": lambda n: SelfAttention(n.in_shapes[0][-1], n.params["num_heads"],
                                                  n.params["dropout"], n.params["bias"]),
    "TransformerEncoderLayer": lambda n: nn.TransformerEncoderLayer(
        n.in_shapes[0][-1], n.params["nhead"], dim_feedforward=n.params["dim_feedforward"],
        dropout=n.params["dropout"], activation=n.params["activation"], batch_first=True,
        norm_first=n.params["norm_first"]),
    "Add": lambda n: Add(),
    "Concat": lambda n: Concat(n.params["dim"]),
}
