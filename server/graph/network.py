"""The checked form of a document: nodes with shapes, the network, the report, the budget."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from server.data.catalog import DatasetInfo
from server.graph.rules import Shape


def _env_mib(name: str, default_mib: int) -> int:
    """A size setting in MiB from the environment (the serve/CLI process), in bytes."""
    try:
        return max(1, int(os.environ.get(name, default_mib))) * 2**20
    except ValueError:
        return default_mib * 2**20


@dataclass(frozen=True)
class Budget:
    """Limits checked before anything is allocated."""

    max_nodes: int = 500  # nodes in one design
    max_params: int = 100_000_000  # trainable parameters (400 MB of float32)
    max_activation_bytes: int = 4 * 2**30  # float32 outputs of every node for one batch
    # Estimated peak training memory: weights, gradients, optimizer state and what one batch
    # keeps for backward. Two runs may train at once, so the default leaves room for both.
    max_memory_bytes: int = field(
        default_factory=lambda: _env_mib("LAYERLAB_MAX_TRAIN_MEMORY_MIB", 4096))


@dataclass
class Node:
    """A checked node: params resolved with defaults, inputs in port order, inferred shape."""

    id: str
    type: str
    params: dict
    inputs: list[str] = field(default_factory=list)
    in_shapes: list[Shape] = field(default_factory=list)
    shape: Shape | None = None
    n_params: int = 0
    children: list[str] = field(default_factory=list)
    valid: bool = True  # False when a param is bad: its shape is then not inferred


@dataclass
class Network:
    """A document after validation: nodes in topological order and the resolved training."""

    name: str
    nodes: list[Node]
    input_id: str | None
    output_id: str | None
    training: dict
    dataset: DatasetInfo | None
    document: dict

    def node(self, node_id: str) -> Node:
        """The node with this id."""
        return next(n for n in self.nodes if n.id == node_id)


@dataclass
class Report:
    """What validation found; `to_json` is the validate JSON of CONTRACTS.md §2."""

    network: Network | None
    errors: list[dict]

    @property
    def ok(self) -> bool:
        """True when the document has no problem."""
        return not self.errors

    def to_json(self) -> dict:
        """{ok, shapes, params, total_params, macs, total_macs, activations, errors}."""
        from server.graph.flops import activation_bytes, macs

        nodes = self.network.nodes if self.network else []
        shaped = [n for n in nodes if n.shape is not None]
        shapes = {n.id: list(n.shape) for n in shaped}
        params = {n.id: n.n_params for n in shaped}
        cost = {n.id: macs(n) for n in shaped}
        return {
            "ok": self.ok,
            "shapes": shapes,
            "params": params,
            "total_params": sum(params.values()),
            "macs": cost,
            "total_macs": sum(cost.values()),
            "activations": {n.id: activation_bytes(n) for n in shaped},
            "errors": self.errors,
        }


class DocumentError(Exception):
    """A document that failed validation; `errors` holds every problem."""

    def __init__(self, errors: list[dict]):
        self.errors = errors
        first = errors[0] if errors else {"message": "invalid document"}
        where = f"{first['node']}: " if first.get("node") else ""
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{where}{first['message']}{more}")
