"""Cutting the graph into units, each to become one canvas node.

A unit is a set of data nodes with the tensors it reads from the rest of the graph and the one
tensor it gives back. First guess: the module each node came from (a Layerlab export's canvas
id, a PyTorch module path); a unit that does not turn out to be one layer is split into single
nodes, except for the pairs and chains that are one layer whatever made them: MatMul + bias
Add (Linear), Cast + Gather from a table (Embedding), and element-wise chains with one input
(GELU written out as Erf or Tanh arithmetic).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import onnx

from server.importer.graph import Graph, attributes, scope_of

RECURRENT_OPS = {"RNN", "GRU", "LSTM"}
# Element-wise operations an activation may be written out in.
ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Pow", "Erf", "Tanh", "Sqrt", "Neg", "Exp",
               "Sigmoid", "Reciprocal"}


@dataclass
class Unit:
    """Data nodes that become one canvas node."""

    key: str | None  # the scope they share (a Layerlab export: the canvas id), or None
    nodes: list[onnx.NodeProto]  # in graph order
    inputs: list[str] = field(default_factory=list)  # data tensors read from outside, in order
    outputs: list[str] = field(default_factory=list)  # tensors the rest of the graph reads
    parts: list[Unit] = field(default_factory=list)  # what it was merged from, to fall back on

    @property
    def output(self) -> str:
        """The one tensor the unit gives back."""
        return self.outputs[0]

    def ops(self) -> list[str]:
        """Its nodes' operator types."""
        return [n.op_type for n in self.nodes]


def first_units(graph: Graph) -> list[Unit]:
    """One unit per scope; nodes without a scope each stand alone (pairs kept together)."""
    scoped: dict[str, list[onnx.NodeProto]] = {}
    loose: list[onnx.NodeProto] = []
    for node in graph.data_nodes():
        key = scope_of(graph, node)
        if key is None:
            loose.append(node)
        else:
            scoped.setdefault(key, []).append(node)
    units = [bounded(graph, key, nodes) for key, nodes in scoped.items()]
    units += split(graph, loose)
    at = {id(n): i for i, n in enumerate(graph.nodes)}
    units.sort(key=lambda u: at[id(u.nodes[-1])])
    return _last_steps(graph, units)


def _last_steps(graph: Graph, units: list[Unit]) -> list[Unit]:
    """`out[:, -1]` (a Gather on the time axis) right after a recurrent unit joins it: the
    last step is what `return_sequences: false` gives of a one-way layer. Tried as one unit;
    the two stand apart again when that does not reproduce the graph."""
    unit_of = {id(n): u for u in units for n in u.nodes}
    merged: dict[int, Unit] = {}
    gone: set[int] = set()
    for unit in units:
        if len(unit.outputs) != 1 or not RECURRENT_OPS & set(unit.ops()):
            continue
        readers = graph.readers.get(unit.output, [])
        step = readers[0] if len(readers) == 1 else None
        index = graph.const(step.input[1]) if step is not None and step.op_type == "Gather" \
            else None
        after = unit_of.get(id(step)) if step is not None else None
        if index is None or index.size != 1 or after is None or len(after.nodes) != 1 \
                or attributes(step).get("axis", 0) != 1:
            continue
        joined = bounded(graph, unit.key, [*unit.nodes, step])
        joined.parts = [unit, after]
        merged[id(unit)] = joined
        gone.add(id(after))
    return [merged.get(id(u), u) for u in units if id(u) not in gone]


def split(graph: Graph, nodes: list[onnx.NodeProto], key: str | None = None) -> list[Unit]:
    """Single-node units, with the pairs and element-wise chains that are one layer merged."""
    order = {id(n): i for i, n in enumerate(nodes)}
    taken: set[int] = set()
    groups: list[list[onnx.NodeProto]] = []
    for node in nodes:
        pair = _pair(graph, node, order)
        if pair and not taken & {id(n) for n in pair}:
            groups.append(pair)
            taken.update(id(n) for n in pair)
    rest = [n for n in nodes if id(n) not in taken]
    for chain in _chains(graph, [n for n in rest if n.op_type in ELEMENTWISE]):
        groups.append(chain)
        taken.update(id(n) for n in chain)
    groups += [[n] for n in rest if id(n) not in taken]
    groups.sort(key=lambda g: order[id(g[0])])
    return [bounded(graph, key, sorted(g, key=lambda n: order[id(n)])) for g in groups]


def bounded(graph: Graph, key: str | None, nodes: list[onnx.NodeProto]) -> Unit:
    """A unit with its inputs and outputs worked out."""
    made = {o for n in nodes for o in n.output if o}
    mine = {id(n) for n in nodes}
    inputs: list[str] = []
    for node in nodes:
        for name in node.input:
            real = graph.real(name) if name else ""
            if graph.is_data(real) and real not in made and real not in inputs:
                inputs.append(real)
    out = graph.real(graph.output)
    outputs = [o for o in made if o == out
               or any(id(r) not in mine for r in graph.readers.get(o, []))]
    outputs.sort(key=lambda o: [o for n in nodes for o in n.output].index(o))
    return Unit(key, nodes, inputs, outputs)


def _pair(graph: Graph, node: onnx.NodeProto, order: dict) -> list[onnx.NodeProto] | None:
    """MatMul(x, W) + Add(b), or [Gather(select) +] Cast + Gather(table), as one unit."""
    if node.op_type == "MatMul" and graph.const(node.input[1]) is not None:
        (reader, *more) = graph.readers.get(node.output[0], [None])
        if reader is not None and not more and reader.op_type == "Add" and id(reader) in order \
                and any(graph.const(i) is not None for i in reader.input):
            return [node, reader]
    if node.op_type == "Gather" and graph.const(node.input[0]) is not None:
        chain, name = [node], node.input[1]
        for op in ("Cast", "Gather"):
            before = graph.producer.get(graph.real(name))
            if before is None or before.op_type != op or id(before) not in order \
                    or len(graph.readers.get(before.output[0], [])) != 1:
                break
            chain.insert(0, before)
            name = before.input[0]
        return chain
    return None


def _chains(graph: Graph, nodes: list[onnx.NodeProto]) -> list[list[onnx.NodeProto]]:
    """Connected element-wise nodes that read one outside tensor and give one back."""
    by_output = {o: n for n in nodes for o in n.output}
    parent = {id(n): id(n) for n in nodes}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for node in nodes:
        for name in node.input:
            source = by_output.get(graph.real(name)) if name else None
            if source is not None:
                parent[root(id(node))] = root(id(source))
    groups: dict[int, list[onnx.NodeProto]] = {}
    for node in nodes:
        groups.setdefault(root(id(node)), []).append(node)
    chains = []
    for group in groups.values():
        unit = bounded(graph, None, group)
        if len(group) > 1 and len(unit.inputs) == 1 and len(unit.outputs) == 1:
            chains.append(group)
    return chains
