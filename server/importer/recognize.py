"""Each unit becomes one catalog layer, tested against the ONNX Runtime run; a unit that does
not is split into single nodes, and what still fails is reported, every node by name and op.

A Layerlab export carries its design: where the graph cannot show a param (Dropout's rate, a
TransformerEncoderLayer's dropout, a bias that was zero and left out) or shows the same function
another way (a Flatten exported as a Reshape), the design's node is taken when it reproduces
the run, so the design comes back as it was drawn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch

from server.graph import CATALOG
from server.importer.base import Context, Layer, Unsupported
from server.importer.capture import Capture
from server.importer.check import close, difference
from server.importer.composite import RECURRENT, activation, attention, embedding, recurrent
from server.importer.graph import Graph
from server.importer.ops import OPS, matmul
from server.importer.units import ELEMENTWISE, Unit, first_units, split


@dataclass
class Placed:
    """A unit and the layer it became."""

    unit: Unit
    layer: Layer  # params as the document writes them
    state: dict[str, torch.Tensor]  # the layer's module state_dict (its own names)
    from_design: bool = False  # taken from the design a Layerlab export carries
    note: str | None = None  # why the design's own node was not taken, if it was not


def place_all(graph: Graph, run: Capture) -> tuple[list[Placed], list[dict]]:
    """Every unit placed, or the problems: one {node, op, message} per ONNX node."""
    hints = design_nodes(graph)
    placed, problems = [], []

    def settle(unit: Unit, hint: dict | None) -> None:
        try:
            placed.append(place(unit, graph, run, hint))
            return
        except Unsupported as e:
            parts = unit.parts or (split(graph, unit.nodes, unit.key) if len(unit.nodes) > 1
                                   else [])
            if len(parts) <= 1:
                problems.extend(_problem(graph, n, str(e)) for n in unit.nodes)
                return
        for part in parts:
            settle(part, hints.get(part.key) if unit.parts else None)

    for unit in first_units(graph):
        settle(unit, hints.get(unit.key))
    return placed, problems


def design_nodes(graph: Graph) -> dict[str, dict]:
    """The nodes of the design a Layerlab export carries, by id (known types only)."""
    nodes = (graph.design or {}).get("nodes", [])
    return {n["id"]: n for n in nodes if isinstance(n, dict) and isinstance(n.get("id"), str)
            and n.get("type") in CATALOG and isinstance(n.get("params", {}), dict)}


def place(unit: Unit, graph: Graph, run: Capture, hint: dict | None) -> Placed:
    """The layer a unit is, tested; the design's node when it is one and reproduces the run."""
    if len(unit.outputs) != 1:
        raise Unsupported(f"its nodes give {len(unit.outputs)} tensors to the rest of the graph;"
                          " a layer gives one")
    tested: dict[int, tuple[float, dict]] = {}

    def test(layer: Layer) -> tuple[float, dict]:
        if id(layer) not in tested:
            tested[id(layer)] = difference(layer, unit, run)
        return tested[id(layer)]

    def fits(layer: Layer) -> bool:
        try:
            return close(test(layer)[0], run.values[unit.output])
        except Unsupported:
            return False

    ctx = Context(graph, run, fits)
    try:
        found, problem = recognize(unit, ctx), None
    except Unsupported as e:
        found, problem = None, e
    except Exception as e:  # an attribute combination no recognizer expected: this node's
        line = (str(e).strip().splitlines() or [""])[0][:160]  # problem, not a traceback
        found, problem = None, Unsupported(f"it could not be read ({type(e).__name__}: {line})")
    note = None
    if hint is not None and hint.get("type") != "Input":
        written = dict(hint.get("params") or {})
        drawn = Layer(hint["type"], written, found.tensors if found else {})
        if found is not None and _same(found, drawn):
            if fits(found):
                return Placed(unit, drawn, test(found)[1], True)
        elif fits(drawn):
            return Placed(unit, drawn, test(drawn)[1], True)
        note = f"the design's {hint['type']} does not reproduce the ONNX graph here"
    if found is None:
        raise problem
    diff, state = test(found)
    if not close(diff, run.values[unit.output]):
        raise Unsupported(f"rebuilt as a {found.type} it differs from the ONNX graph by up to "
                          f"{diff:.3g}")
    return Placed(unit, Layer(found.type, compact(found), found.tensors), state, note=note)


def recognize(unit: Unit, ctx: Context) -> Layer:
    """The layer a unit's operators make, by what they are."""
    ops = unit.ops()
    if any(op in RECURRENT for op in ops):
        return recurrent(unit, ctx)
    if "Softmax" in ops and any(n.op_type == "MatMul" and ctx.graph.is_data(n.input[1])
                                for n in unit.nodes):
        return attention(unit, ctx)
    if any(n.op_type == "Gather" and ctx.graph.const(n.input[0]) is not None
           for n in unit.nodes):
        return embedding(unit, ctx)
    if ops == ["MatMul", "Add"]:
        return matmul(unit.nodes[0], unit, ctx)
    if len(ops) == 1:
        recognizer = OPS.get(ops[0])
        if recognizer is None:
            raise Unsupported(f"Layerlab has no layer type for the ONNX operator {ops[0]}")
        return recognizer(unit.nodes[0], unit, ctx)
    if all(op in ELEMENTWISE for op in ops):
        return activation(unit, ctx)
    raise Unsupported(f"its operators together ({', '.join(sorted(set(ops)))}) are no one "
                      "Layerlab layer")


def compact(layer: Layer) -> dict:
    """A layer's params as a document writes them: those off their default, and its size."""
    spec = CATALOG[layer.type]
    defaults = spec.defaults()
    return {k: v for k, v in {**defaults, **layer.params}.items()
            if v != defaults.get(k) or k == spec.size_param}


def _same(a: Layer, b: Layer) -> bool:
    spec = CATALOG[a.type]
    resolved = [json.dumps({**spec.defaults(), **x.params}, sort_keys=True) for x in (a, b)]
    return a.type == b.type and resolved[0] == resolved[1]


def _problem(graph: Graph, node, message: str) -> dict:
    return {"node": graph.label(node), "op": node.op_type, "message": message}
