"""What recognizers take and give: a Layer (catalog type, params, weights under the builder's
names), the context they read the graph through, and Unsupported, which says why not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import onnx

from server.importer.capture import Capture
from server.importer.graph import Graph, attributes


class Unsupported(Exception):
    """A unit that is no catalog layer; the message says why, in the user's terms."""


@dataclass
class Layer:
    """A canvas node as a recognizer found it."""

    type: str  # a catalog type
    params: dict = field(default_factory=dict)  # catalog params (the rest take their defaults)
    # Weights and buffers by the built module's own names ("weight", "rnn.weight_ih_l0");
    # a bias the file leaves out (it was zero) is filled with zeros when the layer is built.
    tensors: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Context:
    """The graph, the run, and a way to test a candidate layer against the run."""

    graph: Graph
    run: Capture
    fits: Callable[[Layer], bool]  # the candidate reproduces this unit's output in the run

    def const(self, name: str, what: str) -> np.ndarray:
        """A fixed input's value (from the file or the run); Unsupported when it is data."""
        if not name:
            raise Unsupported(f"it has no {what}")
        if self.graph.is_data(name):
            raise Unsupported(f"its {what} is computed from the input, not a fixed tensor")
        value = self.graph.const(name)
        if value is None:
            value = self.run.values.get(name)
        if value is None:
            raise Unsupported(f"its {what} could not be read")
        return np.asarray(value)

    def optional(self, node: onnx.NodeProto, slot: int, what: str) -> np.ndarray | None:
        """An optional fixed input of a node, or None when it is left out."""
        if len(node.input) <= slot or not node.input[slot]:
            return None
        return self.const(node.input[slot], what)

    def shape(self, name: str) -> tuple[int, ...]:
        """A tensor's shape in the run, batch axis included."""
        return self.run.shape(name)


def attrs(node: onnx.NodeProto) -> dict:
    """A node's attributes."""
    return attributes(node)


def one(values, what: str) -> int:
    """The one value of an attribute given per axis (a square kernel); Unsupported otherwise."""
    values = list(values)
    if not values or any(v != values[0] for v in values):
        raise Unsupported(f"its {what} {values} differs between axes; Layerlab's layers take "
                          "one value for every axis")
    return int(values[0])


def symmetric_pads(pads, rank: int) -> int:
    """The one padding of `pads` ([begin..., end...]); Unsupported when sides differ."""
    pads = list(pads) or [0] * (2 * rank)
    return one(pads, "padding")


def nice(value: float) -> float:
    """A float attribute as the decimal it was written as (0.2, not 0.20000000298)."""
    return float(f"{float(np.float32(value)):.7g}")
