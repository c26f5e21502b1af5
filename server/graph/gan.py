"""The shape of a `gan` design (CONTRACTS.md §6): a generator from `Noise` into `Input`, a
discriminator from `Input` to a one-logit sink. Pure: checks and the split into two networks.
"""

from __future__ import annotations

from dataclasses import replace

from server.graph.network import Network, Node
from server.graph.rules import fmt

NOISE = "Noise"


def size_param(node: Node) -> str | None:
    """The param that sets a node's output size, for errors that sit on it."""
    return {"Linear": "out_features", "Conv2d": "out_channels", "ConvTranspose2d": "out_channels",
            "Conv1d": "out_channels", "Reshape": "shape"}.get(node.type)


def check_sources(nodes: dict[str, Node], kind: str, err) -> None:
    """A Noise node only in gan designs, and exactly one there (before edges are read)."""
    noises = [n for n in nodes.values() if n.type == NOISE]
    if kind != "gan":
        for n in noises:
            err(n.id, "type", "a Noise node feeds a GAN's generator; set training.kind to "
                "'gan' or remove '" + n.id + "'")
            n.valid = False
        return
    if not noises:
        err(None, "nodes", "a gan design needs one Noise node: the generator starts there")
    for extra in noises[1:]:
        err(extra.id, "type", f"only one Noise is allowed; '{noises[0].id}' is already the "
            "generator's noise")
        extra.valid = False


def check_structure(network: Network, err) -> None:
    """Generator and discriminator meet only at the Input (after edges and order are known)."""
    by_id = {n.id: n for n in network.nodes}
    inp = by_id.get(network.input_id) if network.input_id else None
    noise = next((n for n in network.nodes if n.type == NOISE), None)
    if inp is None or noise is None:
        return
    if len(inp.inputs) != 1:
        err(inp.id, "edges", "connect the generator's last node to the Input: real and "
            "generated samples both enter the discriminator there")
        return
    generator = _ancestors(inp.id, by_id)
    if noise.id not in generator:
        err(inp.inputs[0], "edges",
            f"the generator must start at '{noise.id}' (Noise) and flow into the Input")
        return
    for node_id in generator:
        node = by_id[node_id]
        for child in node.children:
            if child != inp.id and child not in generator:
                err(node_id, "edges", f"'{node_id}' is part of the generator, so it may only "
                    f"flow into the Input; '{child}' is past the Input")
    for node in network.nodes:
        if node.id in generator or node.id == inp.id:
            continue
        if node.type == NOISE:
            continue
        stray = [i for i in node.inputs if i in generator]
        for i in stray:
            err(node.id, "edges", f"the discriminator sees generated samples only through the "
                f"Input; remove the edge '{i}' -> '{node.id}'")


def check_fit(network: Network, err) -> None:
    """The generator's output is a sample of the data; the discriminator's a logit."""
    by_id = {n.id: n for n in network.nodes}
    inp = by_id.get(network.input_id) if network.input_id else None
    if inp is not None and len(inp.inputs) == 1 and inp.shape is not None:
        last = by_id[inp.inputs[0]]
        if last.shape is not None and tuple(last.shape) != tuple(inp.shape):
            data = network.dataset.name if network.dataset else "the Input"
            err(last.id, size_param(last), f"the generator's output must match {data}'s "
                f"sample shape {fmt(tuple(inp.shape))}; '{last.id}' outputs {fmt(last.shape)}")
    out = by_id.get(network.output_id) if network.output_id else None
    if out is not None and out.shape is not None and tuple(out.shape) != (1,):
        err(out.id, size_param(out), f"the discriminator must output one logit [1] (real or "
            f"generated?); '{out.id}' outputs {fmt(out.shape)}")


def split(network: Network) -> tuple[Network, Network]:
    """(generator, discriminator) as networks of their own, sharing the nodes' checked facts.

    The generator's input is the Noise node (fed a `[batch, dim]` tensor); its output is the
    node that feeds the Input. The discriminator is the rest, from the Input to the sink.
    """
    by_id = {n.id: n for n in network.nodes}
    inp = by_id[network.input_id]
    last = inp.inputs[0]
    generator = _ancestors(inp.id, by_id)
    noise = next(n.id for n in network.nodes if n.type == NOISE)
    g_nodes = [n for n in network.nodes if n.id in generator]
    d_nodes = [replace(inp, inputs=[], in_shapes=[])] + [
        n for n in network.nodes if n.id not in generator and n.id != inp.id]
    g = Network(f"{network.name} (generator)", g_nodes, noise, last, network.training,
                network.dataset, network.document)
    d = Network(f"{network.name} (discriminator)", d_nodes, inp.id, network.output_id,
                network.training, network.dataset, network.document)
    return g, d


def _ancestors(node_id: str, by_id: dict[str, Node]) -> set[str]:
    """Every node upstream of `node_id` (not itself)."""
    seen, stack = set(), list(by_id[node_id].inputs)
    while stack:
        n = stack.pop()
        if n in seen or n not in by_id:
            continue
        seen.add(n)
        stack.extend(by_id[n].inputs)
    return seen
