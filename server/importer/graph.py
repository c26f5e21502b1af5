"""A read-only view of an ONNX graph for the importer: which tensors carry the sample (data)
and which are fixed (weights, constants, shape arithmetic), who makes and who reads each one,
the module scope each node came from, and, for a Layerlab export, the design it was made from.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from server.importer.errors import OnnxImportError
from server.importer.reading import DOMAINS, opset_of

ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
META_OPS = {"Shape", "Size"}  # read a tensor's shape, not its values: their outputs are fixed
ALIAS_OPS = {"Identity"}  # the tensor passes through unchanged: no node of its own
INT_TYPES = {onnx.TensorProto.INT64, onnx.TensorProto.INT32}
SAMPLE_TYPES = {onnx.TensorProto.FLOAT, *INT_TYPES}  # float samples, or integer ids
LAYERLAB = "exported by Layerlab"  # the end of a Layerlab export's doc_string
# Past this many ONNX nodes a graph cannot fold into the 500 layers a design may have.
MAX_ONNX_NODES = 50_000


@dataclass
class Graph:
    """An ONNX graph with one input and one output, seen as the importer needs it."""

    model: onnx.ModelProto
    opset: int
    nodes: list[onnx.NodeProto]  # in the graph's (topological) order
    input: str
    input_dims: list[int | None]  # None where an axis has no fixed size
    input_type: int
    output: str
    initializers: dict[str, onnx.TensorProto]
    constants: dict[str, np.ndarray]  # outputs of Constant nodes
    producer: dict[str, onnx.NodeProto]
    readers: dict[str, list[onnx.NodeProto]]  # data nodes reading each tensor (aliases resolved)
    data: set[str] = field(default_factory=set)  # tensors that depend on the sample
    alias: dict[str, str] = field(default_factory=dict)  # Identity outputs -> their source
    layerlab: bool = False  # exported by Layerlab: node names start with the canvas id
    design: dict | None = None  # the design a Layerlab export carries in its metadata
    kind: str | None = None  # that design's training kind

    def real(self, name: str) -> str:
        """The tensor an alias stands for (itself when it is none)."""
        while name in self.alias:
            name = self.alias[name]
        return name

    def const(self, name: str) -> np.ndarray | None:
        """A fixed tensor's value from the file itself (initializer or Constant, through
        Identity nodes), else None."""
        node = self.producer.get(name)
        while node is not None and node.op_type == "Identity":
            name = node.input[0]
            node = self.producer.get(name)
        if name in self.initializers:
            return numpy_helper.to_array(self.initializers[name])
        return self.constants.get(name)

    def is_data(self, name: str) -> bool:
        """Whether a tensor depends on the sample."""
        return bool(name) and name in self.data

    def data_nodes(self) -> list[onnx.NodeProto]:
        """The nodes that compute on the sample (not shape arithmetic, not aliases)."""
        return [n for n in self.nodes if _computes(n, self.data) and n.op_type not in ALIAS_OPS]

    def label(self, node: onnx.NodeProto) -> str:
        """How an error names a node: its name, else its first output."""
        return node.name or (node.output[0] if node.output else node.op_type)


def view(model: onnx.ModelProto) -> Graph:
    """The Graph of a checked model; refuses what no design can be (inputs, outputs, domains)."""
    g = model.graph
    if len(g.node) > MAX_ONNX_NODES:
        raise OnnxImportError(f"the model has {len(g.node):,} ONNX nodes; the importer reads at "
                              f"most {MAX_ONNX_NODES:,}")
    initializers = {t.name: t for t in g.initializer}
    inputs = [v for v in g.input if v.name not in initializers]
    if len(inputs) != 1:
        names = ", ".join(v.name for v in inputs) or "none"
        raise OnnxImportError(f"a Layerlab design has one input; the model has {len(inputs)} "
                              f"({names})")
    if len(g.output) != 1:
        names = ", ".join(v.name for v in g.output)
        raise OnnxImportError(f"a Layerlab design has one output; the model has "
                              f"{len(g.output)} ({names})")
    (inp,) = inputs
    tensor = inp.type.tensor_type
    if not inp.type.HasField("tensor_type") or tensor.elem_type not in SAMPLE_TYPES:
        raise OnnxImportError(f"the model's input '{inp.name}' must be a float tensor (or "
                              "integer ids); it is "
                              f"{onnx.TensorProto.DataType.Name(tensor.elem_type)}")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
    foreign = [n for n in g.node if n.domain not in DOMAINS]
    if foreign:
        raise OnnxImportError(
            f"{len(foreign)} ONNX node(s) use operators outside the standard set",
            [{"node": n.name or n.output[0], "op": f"{n.domain}.{n.op_type}",
              "message": f"operator domain '{n.domain}' has no Layerlab layer types"}
             for n in foreign])
    graph = Graph(model, opset_of(model), list(g.node), inp.name, dims, tensor.elem_type,
                  g.output[0].name, initializers, _constants(g.node), {}, {})
    _mark_data(graph)
    _read_design(graph)
    return graph


def _constants(nodes) -> dict[str, np.ndarray]:
    out = {}
    for node in nodes:
        if node.op_type != "Constant" or not node.attribute:
            continue
        attr = node.attribute[0]
        value = helper.get_attribute_value(attr)
        if isinstance(value, onnx.TensorProto):
            out[node.output[0]] = numpy_helper.to_array(value)
        elif isinstance(value, (int, float, list)):
            out[node.output[0]] = np.array(value)
    return out


def _computes(node: onnx.NodeProto, data: set[str]) -> bool:
    return node.op_type not in META_OPS and any(i in data for i in node.input if i)


def _mark_data(graph: Graph) -> None:
    """Which tensors depend on the sample; Identity outputs become aliases; who reads what."""
    graph.data.add(graph.input)
    for node in graph.nodes:
        graph.producer.update({o: node for o in node.output if o})
        if not _computes(node, graph.data):
            continue
        graph.data.update(o for o in node.output if o)
        if node.op_type in ALIAS_OPS:
            graph.alias[node.output[0]] = node.input[0]
    for node in graph.data_nodes():
        for name in {graph.real(i) for i in node.input if graph.is_data(i)}:
            graph.readers.setdefault(name, []).append(node)


def _read_design(graph: Graph) -> None:
    """A Layerlab export: its node names carry the canvas ids, its metadata the design."""
    props = {p.key: p.value for p in graph.model.metadata_props}
    graph.layerlab = "layerlab.design" in props or graph.model.doc_string.endswith(LAYERLAB)
    try:
        design = json.loads(props.get("layerlab.design", "null"))
    except ValueError:
        design = None
    if isinstance(design, dict) and isinstance(design.get("nodes"), list):
        graph.design = design
        graph.kind = props.get("layerlab.kind")


def scope_of(graph: Graph, node: onnx.NodeProto) -> str | None:
    """The module a node belongs to: a Layerlab export's canvas id; else the innermost module
    path the exporter recorded (dynamo's name scopes, TorchScript's "/a/b/Op" names); None
    for top-level operations, which stand alone."""
    name = node.name or ""
    parts = name.split("/")
    if graph.layerlab:
        return parts[1] if name.startswith("/") and len(parts) > 2 and ID.match(parts[1]) \
            else None
    scopes = next((p.value for p in node.metadata_props if p.key == "pkg.torch.onnx.name_scopes"),
                  None)
    if scopes:
        try:
            path = ast.literal_eval(scopes)
        except (ValueError, SyntaxError):
            path = []
        if isinstance(path, list) and len(path) >= 3 and isinstance(path[-2], str):
            return path[-2] or None
        return None
    if name.startswith("/") and len(parts) > 2:
        return "/".join(parts[1:-1]) or None
    return None


def attributes(node: onnx.NodeProto) -> dict:
    """A node's attributes as Python values (strings decoded)."""
    out = {}
    for attr in node.attribute:
        value = helper.get_attribute_value(attr)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, list):
            value = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value]
        out[attr.name] = value
    return out
