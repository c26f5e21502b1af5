"""Which layers of a supervised design pre-train as RBMs (CONTRACTS.md §6, deep belief nets).

Each `Linear` followed by `Sigmoid` on the path from the Input, the output layer excepted, is
one restricted Boltzmann machine: its visible units are the Linear's input, its hidden units
the Sigmoid's output. Pure.
"""

from __future__ import annotations

from server.graph.network import Network


def rbm_layers(network: Network) -> list[tuple[str, str]]:
    """(Linear id, Sigmoid id) of each layer to pre-train, Input first.

    The path is the chain from the Input that neither branches nor merges; a pair whose
    Sigmoid is the design's output is the output layer, so it is left to backprop."""
    by_id = {n.id: n for n in network.nodes}
    node = by_id.get(network.input_id) if network.input_id else None
    pairs = []
    while node is not None and len(node.children) == 1:
        child = by_id.get(node.children[0])
        if child is None or len(child.inputs) != 1:
            break
        if child.type == "Sigmoid" and node.type == "Linear" and child.id != network.output_id:
            pairs.append((node.id, child.id))
        node = child
    return pairs


def check_pretrain(network: Network, err) -> None:
    """Pre-training asked for on a design with nothing to pre-train is an error."""
    method = (network.training.get("pretrain") or {}).get("method", "none")
    if method != "rbm" or not network.input_id:
        return
    if not rbm_layers(network):
        err(None, "training.pretrain", "pre-training (rbm) needs a Linear followed by a Sigmoid "
            "on the path from the Input, before the output layer; this design has none (add "
            "Linear + Sigmoid layers, or set pretrain.method to none)")
