"""Validate a network document and infer every node's shape.

`validate` collects every problem as {node, param, message}; it never stops at the first one,
and it never allocates a tensor, so an absurd design is refused in milliseconds.
"""

from __future__ import annotations

import re
from collections import deque
from difflib import get_close_matches
from typing import Any

from server.data.catalog import DatasetError, DatasetInfo, describe
from server.envs import EnvError, EnvInfo, describe_environment
from server.graph import dqn, gan
from server.graph.catalog import CATALOG, Param
from server.graph.fit import check_budget, check_fit
from server.graph.init import InitError, check_init, init_path, prefixes_of, read_header
from server.graph.network import Budget, DocumentError, Network, Node, Report
from server.graph.pretrain import check_pretrain
from server.graph.reserved import RESERVED_IDS
from server.graph.rules import ShapeError, fmt, show
from server.graph.training import resolve_training

FORMAT = "layerlab.network"
VERSION = 1
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


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
        err(None, "format", f"format must be '{FORMAT}'; got {show(doc.get('format'))}")
    if doc.get("version") != VERSION:
        err(None, "version", f"version must be {VERSION}; got {show(doc.get('version'))}")
    name = doc.get("name", "Untitled")
    if not isinstance(name, str) or len(name) > 200:
        err(None, "name", "name must be a string of at most 200 characters")
        name = "Untitled"
    raw_nodes, raw_edges = doc.get("nodes"), doc.get("edges", [])
    wired = isinstance(raw_nodes, list) and isinstance(raw_edges, list)
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
    kind = training.get("kind", "supervised")
    dataset = (_describe_environment(training, err) if kind == "dqn"
               else _describe_dataset(training, data_dir, err))
    nodes, rejected = _check_nodes(raw_nodes, err)
    gan.check_sources(nodes, kind, err)
    if not wired:  # without both lists the wiring cannot be judged; guesses would be noise
        return Report(Network(name, [], None, None, training, dataset, doc), errors)
    open_ends = _check_edges(raw_edges, nodes, rejected, err, kind)
    order = _topological_order(nodes, err)
    input_id, output_id = _check_endpoints(nodes, open_ends, err)
    network = Network(name, order, input_id, output_id, training, dataset, doc)
    if kind == "gan" and order:
        gan.check_structure(network, err)
    if order and input_id:
        # Nodes whose own inputs are broken were marked invalid, so the rest still get shapes.
        _infer(network, err)
        if kind == "gan":
            gan.check_fit(network, err)
        elif kind == "dqn":
            dqn.check_fit(network, err)
        else:
            check_fit(network, err)
            check_pretrain(network, err)
        check_budget(network, budget, err)
    if kind == "dqn":
        dqn.check_training(network, budget, err)
    if training.get("init") is not None and order and input_id:
        _check_init(network, data_dir, err)
    return Report(network, errors)


def _check_init(network: Network, data_dir, err) -> None:
    """training.init names weights that exist (with a data folder) and fit every node."""
    try:
        path = init_path(network.training["init"], data_dir)
        if data_dir is None:
            return
        shapes = read_header(path)
    except InitError as e:
        err(None, f"training.init.{e.field}" if e.field else "training.init", e.message)
        return
    if all(n.shape is not None for n in network.nodes):
        check_init(network, shapes, prefixes_of(network), err)


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


def _describe_environment(training: dict, err) -> EnvInfo | None:
    spec = training.get("environment")
    if spec is None:
        return None
    try:
        return describe_environment(spec)
    except EnvError as e:
        err(None, f"training.environment.{e.field}" if e.field else "training.environment",
            e.message)
        return None


def _check_param(node_id: str, p: Param, value: Any, err) -> bool:
    def bad(message: str) -> bool:
        err(node_id, p.name, message)
        return False

    if value is None:
        return True if p.nullable else bad(f"{p.name} must be set")
    if p.type == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            return bad(f"{p.name} must be an integer; got {show(value)}")
    elif p.type == "float":
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
            return bad(f"{p.name} must be a number; got {show(value)}")
    elif p.type == "bool":
        if not isinstance(value, bool):
            return bad(f"{p.name} must be true or false; got {show(value)}")
    elif p.type == "choice":
        if value not in p.choices:
            choices = ", ".join(p.choices)
            return bad(f"{p.name} must be one of {choices}; got {show(value)}")
    elif p.type == "shape":
        ok = isinstance(value, list) and 1 <= len(value) <= 4 and all(
            isinstance(d, int) and not isinstance(d, bool) for d in value)
        if not ok:
            return bad(f"{p.name} must be a list of 1 to 4 integers; got {show(value)}")
        if any(d < p.min or d > p.max or d == 0 for d in value):
            low = "-1 or from 1" if p.min < 0 else f"from {_num(max(p.min, 1))}"
            return bad(f"{p.name} sizes must be {low} to {_num(p.max)}; got {value}")
        return True
    if p.type in ("int", "float") and not p.min <= value <= p.max:
        return bad(f"{p.name} must be from {_num(p.min)} to {_num(p.max)}; got {value}")
    return True


def _num(x: float) -> str:
    """A bound as a user reads it: 1,000,000,000 rather than 1e+09, 0.99 rather than 0.990."""
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def _check_nodes(raw_nodes: list, err) -> tuple[dict[str, Node], set[str]]:
    """Nodes by id, and the ids of nodes refused outright (bad id, duplicate, unknown type).

    Edges that touch a refused node are dropped without a second error about them.
    """
    nodes: dict[str, Node] = {}
    rejected: set = set()  # ids as written, even invalid ones, so their edges are recognised
    for i, raw in enumerate(raw_nodes):
        if not isinstance(raw, dict):
            err(None, "nodes", f"node #{i + 1} must be an object")
            continue
        node_id = raw.get("id")
        if not isinstance(node_id, str) or not ID_RE.match(node_id):
            given = (f"an id of {len(node_id)} characters" if isinstance(node_id, str)
                     and len(node_id) > 64 else f"id {show(node_id)}")
            err(None, "id", f"node #{i + 1} has {given}; ids are 1 to 64 letters, digits, "
                "'_' or '-'")
            if isinstance(node_id, (str, int, float)):
                rejected.add(node_id)
            continue
        if node_id in RESERVED_IDS:
            err(node_id, "id", f"'{node_id}' is a name PyTorch modules already use; rename the "
                f"node (e.g. '{node_id}_1')")
            rejected.add(node_id)
            continue
        if node_id in nodes or node_id in rejected:
            err(node_id, "id", f"two nodes have the id '{node_id}'; give each node its own id")
            nodes.pop(node_id, None)  # edges naming it are ambiguous, so both are left out
            rejected.add(node_id)
            continue
        layer_type = raw.get("type")
        spec = CATALOG.get(layer_type) if isinstance(layer_type, str) else None
        if spec is None:
            err(node_id, "type", _unknown_type(layer_type))
            rejected.add(node_id)
            continue
        params = raw.get("params", {})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            err(node_id, "params",
                f"params of '{node_id}' must be an object; got {show(params)}")
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
    return nodes, rejected


def _unknown_type(layer_type: Any) -> str:
    if not isinstance(layer_type, str):
        return f"the node needs a layer type such as 'Linear'; got {show(layer_type)}"
    close = get_close_matches(layer_type, list(CATALOG), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else " (the palette lists every layer type)"
    return f"unknown layer type {show(layer_type)}{hint}"


def _check_edges(raw_edges: list, nodes: dict[str, Node], rejected: set, err,
                 kind: str = "supervised") -> set[str]:
    """Resolve edges into each node's ordered inputs; returns the ids with a dropped out-edge.

    A node that lost an edge (to a refused or missing node) or has the wrong number of inputs
    is marked invalid: its shape is not inferred, so nothing downstream repeats its problem.
    """
    incoming: dict[str, list[tuple[int, int, str]]] = {n: [] for n in nodes}
    seen = set()
    lost_input: set[str] = set()  # a dropped edge led into these: their input count is unknown
    open_ends: set[str] = set()  # a dropped edge left these: they are not outputs
    for i, e in enumerate(raw_edges):
        if not isinstance(e, dict):
            err(None, "edges", f"edge #{i + 1} must be an object with source and target")
            continue
        src, dst, port = e.get("source"), e.get("target"), e.get("port")
        src_ok, dst_ok = _is_node(src, nodes), _is_node(dst, nodes)
        if not (src_ok and dst_ok):
            if src_ok:
                open_ends.add(src)
            if dst_ok:
                lost_input.add(dst)
            if src is None or dst is None:
                err(dst if dst_ok else None, "edges",
                    f"edge #{i + 1} needs both a source and a target node id")
            elif not any(isinstance(end, (str, int, float)) and end in rejected
                         for end in (src, dst)):
                # An edge touching a refused node is dropped quietly: that node is reported.
                missing = dst if src_ok else src
                err(dst if dst_ok else None, "edges", f"edge #{i + 1} ({src} -> {dst}) names a "
                    f"node that does not exist: {show(missing)}")
            continue
        if src == dst:
            err(src, "edges", f"'{src}' is connected to itself; a network must flow one way")
            lost_input.add(dst)
            open_ends.add(src)
            continue
        if (src, dst) in seen:
            err(dst, "edges", f"'{src}' is connected to '{dst}' twice")
            continue
        if port is not None and (not isinstance(port, int) or isinstance(port, bool) or port < 0):
            err(dst, "edges",
                f"edge #{i + 1} port must be a non-negative integer; got {show(port)}")
            port = None
        seen.add((src, dst))
        incoming[dst].append((port if port is not None else 1 << 30, i, src))
    for node_id, ins in incoming.items():
        nodes[node_id].inputs = [src for _, _, src in sorted(ins)]
    for node in nodes.values():
        if node.id in lost_input:
            node.valid = False
        elif not _check_input_count(node, kind, err):
            node.valid = False
    return open_ends


def _is_node(end: Any, nodes: dict[str, Node]) -> bool:
    return isinstance(end, str) and end in nodes


def _check_input_count(node: Node, kind: str, err) -> bool:
    spec = CATALOG[node.type]
    n, most = len(node.inputs), spec.inputs_for(kind)
    if most == 0 and n:
        fed = [k for k, m in spec.kind_inputs if m]  # kinds whose designs feed it (a gan's Input)
        hint = f", or set training.kind to {fed[0]}" if fed else ""
        err(node.id, "edges", f"{node.type} takes no input; remove the edge into '{node.id}'"
            f"{hint}")
    elif spec.min_inputs and n == 0:
        err(node.id, "edges", f"'{node.id}' has no input; connect something to it")
    elif n < spec.min_inputs:
        err(node.id, "edges", f"{node.type} needs at least {spec.min_inputs} inputs; "
            f"'{node.id}' has {n}")
    elif n > most:
        word = "one input" if most == 1 else f"at most {most} inputs"
        err(node.id, "edges", f"{node.type} takes {word}; '{node.id}' has {n} (use Add or "
            "Concat to merge)")
    else:
        return True
    return False


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
        for n in _on_cycles({n for n, d in indegree.items() if d > 0}, children):
            err(n, "edges", f"'{n}' is part of a cycle; a network must flow one way")
        return []
    for node in order:
        node.children = children[node.id]
    return order


def _on_cycles(stuck: set[str], children: dict[str, list[str]]) -> list[str]:
    """The stuck nodes that lie on a cycle, not merely downstream of one."""
    out_degree = {n: sum(c in stuck for c in children[n]) for n in stuck}
    parents: dict[str, list[str]] = {n: [] for n in stuck}
    for n in stuck:
        for c in children[n]:
            if c in stuck:
                parents[c].append(n)
    leaves = deque(n for n, d in out_degree.items() if d == 0)
    on_cycle = set(stuck)
    while leaves:  # peel off nodes that only lead out of the cycles
        n = leaves.popleft()
        on_cycle.discard(n)
        for p in parents[n]:
            out_degree[p] -= 1
            if out_degree[p] == 0:
                leaves.append(p)
    return sorted(on_cycle)


def _check_endpoints(nodes: dict[str, Node], open_ends: set[str],
                     err) -> tuple[str | None, str | None]:
    inputs = [n for n in nodes.values() if n.type == "Input"]
    if not inputs:
        err(None, "nodes", "the design needs one Input node")
    for extra in inputs[1:]:
        err(extra.id, "type", f"only one Input is allowed; '{inputs[0].id}' is already the input")
    has_out = {src for n in nodes.values() for src in n.inputs} | open_ends
    sinks = [n for n in nodes.values() if n.id not in has_out]
    if not sinks and nodes and not open_ends:
        err(None, "edges", "the design has no output (a node with no outgoing edge)")
    if len(sinks) > 1:
        names = ", ".join(f"'{s.id}'" for s in sinks)
        for s in sinks:
            err(s.id, "edges", f"the design must have exactly one output; {names} lead nowhere")
    input_id = inputs[0].id if inputs else None
    return input_id, sinks[0].id if len(sinks) == 1 else None


def _infer(network: Network, err) -> None:
    ds = network.dataset
    by_id = {n.id: n for n in network.nodes}
    for node in network.nodes:
        if not node.valid:
            continue
        if node.type == "Input":
            _input_shape(node, ds, err, network.training.get("kind"))
            continue
        parents = [by_id[i] for i in node.inputs]
        if any(p.shape is None for p in parents):
            continue  # the problem is upstream and already reported there
        node.in_shapes = [p.shape for p in parents]
        try:
            shape, n_params = CATALOG[node.type].rule(node.in_shapes, node.params)
        except ShapeError as e:
            err(node.id, e.param, e.message)
            continue
        node.shape, node.n_params = tuple(int(d) for d in shape), int(n_params)


def _input_shape(node: Node, ds: DatasetInfo | EnvInfo | None, err, kind=None) -> None:
    given = node.params.get("shape")
    if given is not None:
        if any(d < 1 for d in given):
            err(node.id, "shape", f"Input shape sizes must be positive; got {given}")
            return
        if ds is not None and tuple(given) != tuple(ds.input_shape):
            err(node.id, "shape", f"Input shape {fmt(tuple(given))} does not match the "
                f"{_source(ds)} {fmt(tuple(ds.input_shape))}")
            return
        node.shape = tuple(given)
    elif ds is not None:
        node.shape = tuple(ds.input_shape)
        node.params["shape"] = list(ds.input_shape)
    else:
        source = "an environment" if kind == "dqn" else "a dataset"
        err(node.id, "shape", f"set the Input shape or choose {source}")


def _source(ds) -> str:
    """What an Input is fed, in an error's words: "the spiral dataset's" or an observation."""
    if isinstance(ds, EnvInfo):
        what = "one-hot observation" if ds.meta.observation == "discrete" else "observation"
        return f"{ds.name} environment's {what}"
    return f"{ds.name} dataset's"


