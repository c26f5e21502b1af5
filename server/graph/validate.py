"""Validate a network document and infer every node's shape.

`validate` collects every problem as {node, param, message}; it never stops at the first one,
and it never allocates a tensor, so an absurd design is refused in milliseconds.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from math import prod
from typing import Any

from server.data.catalog import DatasetError, DatasetInfo, describe
from server.graph.catalog import CATALOG, Param
from server.graph.rules import Shape, ShapeError, fmt
from server.graph.training import resolve_training

FORMAT = "layerlab.network"
VERSION = 1
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Budget:
    """Limits checked before anything is allocated."""

    max_nodes: int = 500  # nodes in one design
    max_params: int = 100_000_000  # trainable parameters (400 MB of float32)
    max_activation_bytes: int = 4 * 2**30  # float32 outputs of every node for one batch


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
        """{ok, shapes, params, total_params, errors}."""
        nodes = self.network.nodes if self.network else []
        shapes = {n.id: list(n.shape) for n in nodes if n.shape is not None}
        params = {n.id: n.n_params for n in nodes if n.shape is not None}
        return {
            "ok": self.ok,
            "shapes": shapes,
            "params": params,
            "total_params": sum(params.values()),
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


def parse_document(doc: Any, *, budget: Budget | None = None, data_dir=None) -> Network:
    """Validate and return the Network, or raise DocumentError with every problem."""
    report = validate(doc, budget=budget, data_dir=data_dir)
    if not report.ok:
        raise DocumentError(report.errors)
    return report.network


def validate(doc: Any, *, budget: Budget | None = None, data_dir=None) -> Report:
    """Check a document and infer shapes; collects every problem."""
    budget = budget or Budget()
    errors: list[dict] = []

    def err(node: str | None, param: str | None, message: str) -> None:
        errors.append({"node": node, "param": param, "message": message})

    if not isinstance(doc, dict):
        err(None, None, "the document must be a JSON object")
        return Report(None, errors)
    if doc.get("format") != FORMAT:
        err(None, "format", f"format must be '{FORMAT}'; got {doc.get('format')!r}")
    if doc.get("version") != VERSION:
        err(None, "version", f"version must be {VERSION}; got {doc.get('version')!r}")
    name = doc.get("name", "Untitled")
    if not isinstance(name, str) or len(name) > 200:
        err(None, "name", "name must be a string of at most 200 characters")
        name = "Untitled"
    raw_nodes, raw_edges = doc.get("nodes"), doc.get("edges", [])
    if not isinstance(raw_nodes, list):
        err(None, "nodes", "nodes must be a list")
        raw_nodes = []
    if not isinstance(raw_edges, list):
        err(None, "edges", "edges must be a list")
        raw_edges = []
    if len(raw_nodes) > budget.max_nodes:
        err(None, "nodes", f"the design has {len(raw_nodes)} nodes; the limit is "
            f"{budget.max_nodes}")
        return Report(None, errors)

    training = resolve_training(doc.get("training"), errors)
    dataset = _describe_dataset(training, data_dir, err)
    nodes = _check_nodes(raw_nodes, err)
    _check_edges(raw_edges, nodes, err)
    order = _topological_order(nodes, err)
    input_id, output_id = _check_endpoints(nodes, err)
    network = Network(name, order, input_id, output_id, training, dataset, doc)
    if order and input_id and not any(e["param"] == "edges" for e in errors):
        _infer(network, err)
        _check_fit(network, err)
        _check_budget(network, budget, err)
    return Report(network, errors)


def _describe_dataset(training: dict, data_dir, err) -> DatasetInfo | None:
    spec = training.get("dataset")
    if spec is None:
        return None
    try:
        return describe(spec, data_dir)
    except DatasetError as e:
        field_ = f"training.dataset.{e.field}" if e.field else "training.dataset"
        err(None, field_, str(e.message if hasattr(e, "message") else e))
        return None


def _check_param(node_id: str, p: Param, value: Any, err) -> bool:
    def bad(message: str) -> bool:
        err(node_id, p.name, message)
        return False

    if value is None:
        return True if p.nullable else bad(f"{p.name} must be set")
    if p.type == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            return bad(f"{p.name} must be an integer; got {value!r}")
    elif p.type == "float":
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
            return bad(f"{p.name} must be a number; got {value!r}")
    elif p.type == "bool":
        if not isinstance(value, bool):
            return bad(f"{p.name} must be true or false; got {value!r}")
    elif p.type == "choice":
        if value not in p.choices:
            return bad(f"{p.name} must be one of {', '.join(p.choices)}; got {value!r}")
    elif p.type == "shape":
        ok = isinstance(value, list) and 1 <= len(value) <= 4 and all(
            isinstance(d, int) and not isinstance(d, bool) for d in value)
        if not ok:
            return bad(f"{p.name} must be a list of 1 to 4 integers; got {value!r}")
        if any(d < p.min or d > p.max or d == 0 for d in value):
            return bad(f"{p.name} sizes must be from {max(p.min, 1)} to {p.max:,}; got {value}")
        return True
    if p.type in ("int", "float") and not p.min <= value <= p.max:
        return bad(f"{p.name} must be from {p.min:g} to {p.max:,g}; got {value}")
    return True


def _check_nodes(raw_nodes: list, err) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    for i, raw in enumerate(raw_nodes):
        if not isinstance(raw, dict):
            err(None, "nodes", f"node #{i + 1} must be an object")
            continue
        node_id = raw.get("id")
        if not isinstance(node_id, str) or not ID_RE.match(node_id):
            err(None, "id", f"node #{i + 1} has id {node_id!r}; ids are 1 to 64 letters, "
                "digits, '_' or '-'")
            continue
        if node_id in nodes:
            err(node_id, "id", f"two nodes have the id '{node_id}'")
            continue
        spec = CATALOG.get(raw.get("type"))
        if spec is None:
            err(node_id, "type", f"unknown layer type {raw.get('type')!r}")
            continue
        params = raw.get("params", {}) or {}
        if not isinstance(params, dict):
            err(node_id, "params", "params must be an object")
            params = {}
        resolved = spec.defaults()
        known = {p.name: p for p in spec.params}
        ok = True
        for key, value in params.items():
            if key not in known:
                hint = f" (it takes {', '.join(known)})" if known else " (it takes none)"
                err(node_id, key, f"{spec.type} has no param '{key}'{hint}")
                ok = False
            elif _check_param(node_id, known[key], value, err):
                resolved[key] = value
            else:
                ok = False
        nodes[node_id] = Node(node_id, spec.type, resolved, valid=ok)
    return nodes


def _check_edges(raw_edges: list, nodes: dict[str, Node], err) -> None:
    incoming: dict[str, list[tuple[int, int, str]]] = {n: [] for n in nodes}
    seen = set()
    for i, e in enumerate(raw_edges):
        if not isinstance(e, dict):
            err(None, "edges", f"edge #{i + 1} must be an object with source and target")
            continue
        src, dst, port = e.get("source"), e.get("target"), e.get("port")
        missing = [end for end in (src, dst) if end not in nodes]
        if missing:
            err(dst if dst in nodes else None, "edges",
                f"edge #{i + 1} ({src} -> {dst}) names a node that does not exist: {missing[0]!r}")
            continue
        if src == dst:
            err(src, "edges", f"'{src}' is connected to itself")
            continue
        if (src, dst) in seen:
            err(dst, "edges", f"'{src}' is connected to '{dst}' twice")
            continue
        if port is not None and (not isinstance(port, int) or isinstance(port, bool) or port < 0):
            err(dst, "edges", f"edge #{i + 1} port must be a non-negative integer; got {port!r}")
            port = None
        seen.add((src, dst))
        incoming[dst].append((port if port is not None else 1 << 30, i, src))
    for node_id, ins in incoming.items():
        nodes[node_id].inputs = [src for _, _, src in sorted(ins)]
    for node in nodes.values():
        spec = CATALOG[node.type]
        n = len(node.inputs)
        if spec.max_inputs == 0 and n:
            err(node.id, "edges", f"{node.type} takes no input; remove the edge into '{node.id}'")
        elif spec.min_inputs and n == 0:
            err(node.id, "edges", f"'{node.id}' has no input; connect something to it")
        elif n < spec.min_inputs:
            err(node.id, "edges", f"{node.type} needs at least {spec.min_inputs} inputs; it has {n}")
        elif n > spec.max_inputs:
            word = "one input" if spec.max_inputs == 1 else f"at most {spec.max_inputs} inputs"
            err(node.id, "edges", f"{node.type} takes {word}; it has {n} (use Add or Concat to "
                "merge)")


def _topological_order(nodes: dict[str, Node], err) -> list[Node]:
    indegree = {n: len(node.inputs) for n, node in nodes.items()}
    children: dict[str, list[str]] = {n: [] for n in nodes}
    for node in nodes.values():
        for src in node.inputs:
            children[src].append(node.id)
    ready = deque(n for n, d in indegree.items() if d == 0)
    order = []
    while ready:
        n = ready.popleft()
        order.append(nodes[n])
        for c in children[n]:
            indegree[c] -= 1
            if indegree[c] == 0:
                ready.append(c)
    if len(order) < len(nodes):
        stuck = [n for n, d in indegree.items() if d > 0]
        for n in stuck:
            err(n, "edges", f"'{n}' is part of a cycle; a network must flow one way")
        return []
    for node in order:
        node.children = children[node.id]
    return order


def _check_endpoints(nodes: dict[str, Node], err) -> tuple[str | None, str | None]:
    inputs = [n for n in nodes.values() if n.type == "Input"]
    if not inputs:
        err(None, "nodes", "the design needs one Input node")
    for extra in inputs[1:]:
        err(extra.id, "type", f"only one Input is allowed; '{inputs[0].id}' is already the input")
    has_out = {src for n in nodes.values() for src in n.inputs}
    sinks = [n for n in nodes.values() if n.id not in has_out]
    if not sinks and nodes:
        err(None, "edges", "the design has no output (a node with no outgoing edge)")
    if len(sinks) > 1:
        names = ", ".join(f"'{s.id}'" for s in sinks)
        for s in sinks:
            err(s.id, "edges", f"the design must have exactly one output; {names} lead nowhere")
    input_id = inputs[0].id if inputs else None
    return input_id, sinks[0].id if len(sinks) == 1 else None


def _infer(network: Network, err) -> None:
    ds = network.dataset
    for node in network.nodes:
        if not node.valid:
            continue
        if node.type == "Input":
            _input_shape(node, ds, err)
            continue
        parents = [network.node(i) for i in node.inputs]
        if any(p.shape is None for p in parents):
            continue  # the problem is upstream and already reported there
        node.in_shapes = [p.shape for p in parents]
        try:
            shape, n_params = CATALOG[node.type].rule(node.in_shapes, node.params)
        except ShapeError as e:
            err(node.id, e.param, e.message)
            continue
        node.shape, node.n_params = tuple(int(d) for d in shape), int(n_params)


def _input_shape(node: Node, ds: DatasetInfo | None, err) -> None:
    given = node.params.get("shape")
    if given is not None:
        if any(d < 1 for d in given):
            err(node.id, "shape", f"Input shape sizes must be positive; got {given}")
            return
        if ds is not None and tuple(given) != tuple(ds.input_shape):
            err(node.id, "shape", f"Input shape {fmt(tuple(given))} does not match the "
                f"{ds.name} dataset's {fmt(tuple(ds.input_shape))}")
            return
        node.shape = tuple(given)
    elif ds is not None:
        node.shape = tuple(ds.input_shape)
        node.params["shape"] = list(ds.input_shape)
    else:
        err(node.id, "shape", "set the Input shape or choose a dataset")


def _check_fit(network: Network, err) -> None:
    """The output must fit the dataset's targets under the chosen loss."""
    ds = network.dataset
    out = network.node(network.output_id) if network.output_id else None
    if ds is None or out is None or out.shape is None:
        return
    loss = network.training["loss"]
    where = "out_features" if out.type == "Linear" else None
    if network.training["task"] == "reconstruction":
        inp = tuple(ds.input_shape)
        if out.shape != inp:
            err(out.id, where, f"a reconstruction must output the input's shape {fmt(inp)}; "
                f"'{out.id}' outputs {fmt(out.shape)}")
        if loss in ("cross_entropy", "bce_with_logits"):
            err(None, "training.loss", f"{loss} does not fit a reconstruction; use mse or l1")
        return
    if ds.task == "classification":
        k = ds.num_classes
        if loss in ("mse", "l1"):
            err(None, "training.loss", f"{loss} is for regression; {ds.name} is a "
                "classification dataset (use cross_entropy)")
        elif loss == "bce_with_logits":
            if k != 2 or out.shape != (1,):
                err(out.id, where, f"bce_with_logits needs 2 classes and an output of [1]; "
                    f"'{out.id}' outputs {fmt(out.shape)} for {k} classes")
        elif out.shape != (k,):
            err(out.id, where, f"{ds.name} has {k} classes, so the output must be [{k}]; "
                f"'{out.id}' outputs {fmt(out.shape)}")
    else:
        target = tuple(ds.target_shape)
        if loss in ("cross_entropy", "bce_with_logits"):
            err(None, "training.loss", f"{loss} is for classification; {ds.name} is a "
                "regression dataset (use mse or l1)")
        elif out.shape != target:
            err(out.id, where, f"{ds.name} targets have shape {fmt(target)}, so the output must "
                f"be {fmt(target)}; '{out.id}' outputs {fmt(out.shape)}")


def _check_budget(network: Network, budget: Budget, err) -> None:
    shaped = [n for n in network.nodes if n.shape is not None]
    total = sum(n.n_params for n in shaped)
    if total > budget.max_params:
        big = max(shaped, key=lambda n: n.n_params)
        err(big.id, None, f"the design has {total:,} parameters; the limit is "
            f"{budget.max_params:,} ('{big.id}' alone has {big.n_params:,})")
    batch = network.training.get("batch_size")
    batch = batch if isinstance(batch, int) and batch > 0 else 1
    act = 4 * batch * sum(prod(n.shape) for n in shaped)
    if act > budget.max_activation_bytes:
        big = max(shaped, key=lambda n: prod(n.shape))
        err(big.id, None, f"one batch of {batch} needs {act / 2**30:.1f} GiB of activations; "
            f"the limit is {budget.max_activation_bytes / 2**30:.1f} GiB ('{big.id}' outputs "
            f"{fmt(big.shape)})")
