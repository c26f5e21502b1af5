"""Build one nn.Module from a checked network, its submodules named by node ids."""

from __future__ import annotations

import torch
from torch import nn

from server.graph import Network
from server.model.layers import BUILDERS


class LayerlabModel(nn.Module):
    """Runs the design's DAG in topological order; `layers[node_id]` is each node's module."""

    def __init__(self, network: Network):
        super().__init__()
        self.input_id = network.input_id
        self.output_id = network.output_id
        self.layers = nn.ModuleDict()
        plan = []
        for node in network.nodes:
            if node.id == self.input_id:  # the Input (or a generator's Noise): fed, not built
                continue
            self.layers[node.id] = BUILDERS[node.type](node)
            plan.append((node.id, tuple(node.inputs)))
        self.plan = tuple(plan)
        # A plain chain (each node fed by the one before) runs without the dict of values.
        feeders = [self.input_id] + [node_id for node_id, _ in plan[:-1]]
        is_chain = all(ins == (f,) for (_, ins), f in zip(plan, feeders[:len(plan)], strict=True))
        self.chain = tuple(self.layers[i] for i, _ in plan) if is_chain and plan else None
        self.shapes = {n.id: tuple(n.shape) for n in network.nodes}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.chain is not None:
            for layer in self.chain:
                x = layer(x)
            return x
        return self._run(x, ())[0]

    def capture(self, x: torch.Tensor, node_ids) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Run forward and also return the outputs of the chosen nodes (no hooks involved)."""
        return self._run(x, tuple(node_ids))

    def _run(self, x: torch.Tensor, keep: tuple[str, ...]):
        values = {self.input_id: x}
        for node_id, inputs in self.plan:
            values[node_id] = self.layers[node_id](*[values[i] for i in inputs])
        captured = {k: values[k] for k in keep if k in values}
        return values[self.output_id], captured


def build_model(network: Network, seed: int | None = None) -> LayerlabModel:
    """The network as an nn.Module; with a seed, its initial weights are reproducible."""
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return LayerlabModel(network)
    return LayerlabModel(network)
