"""Placed units -> a Layerlab document and its state_dict, checked as a whole.

Ids: a Layerlab export's canvas ids; else the PyTorch module's name where the file keeps one
(`fc1`, `encoder_conv1`; `linear0` for an nn.Sequential's `0`), else the type (`relu`,
`relu_2`). The whole design is then validated and built by the ordinary builder, its weights
loaded strictly, and its output compared with ONNX Runtime's on the run's sample.
"""

from __future__ import annotations

import re

import numpy as np
import torch

from server.graph import validate
from server.graph.reserved import RESERVED_IDS
from server.importer.capture import CHECK_BATCH, Capture, rerun
from server.importer.check import close
from server.importer.errors import OnnxImportError
from server.importer.graph import ID, INT_TYPES, Graph
from server.importer.layout import tidy
from server.importer.recognize import Placed
from server.model import WeightsError, apply_weights, build_model

PASS_THROUGH = ("Dropout", "Identity")  # nodes exporters drop: nothing to see at inference
GENERIC_NAMES = {"", "main_graph", "torch_jit", "torch-jit-export", "graph"}


def assemble(graph: Graph, run: Capture, placed: list[Placed],
             name: str | None) -> tuple[dict, dict[str, torch.Tensor], list[str]]:
    """The document, its state_dict (`layers.ID.*`) and what the user should know."""
    design = graph.design or {}
    warnings: list[str] = []
    hinted_input = next((n["id"] for n in design.get("nodes", []) if isinstance(n, dict)
                         and n.get("type") == "Input" and ID.match(str(n.get("id")))), None)
    input_id = hinted_input or "in"
    used = {input_id}
    ids = [_node_id(p, graph.layerlab, used) for p in placed]
    made = {graph.input: input_id, **{p.unit.output: i for p, i in zip(placed, ids, strict=True)}}
    out = made.get(graph.real(graph.output))
    if out is None:
        raise OnnxImportError("the model's output does not depend on its input")
    kept = _ancestors(out, placed, ids, made)
    if len(kept) < len(placed):
        warnings.append(f"left out {len(placed) - len(kept)} node(s) whose results the output "
                        "never uses")
    nodes = [{"id": input_id, "type": "Input",
              "params": {"shape": [int(d) for d in run.sample.shape[1:]]}}]
    edges, state = [], {}
    for p, node_id in zip(placed, ids, strict=True):
        if node_id not in kept:
            continue
        nodes.append({"id": node_id, "type": p.layer.type, "params": p.layer.params})
        several = len(p.unit.inputs) > 1
        edges += [{"source": made[t], "target": node_id, **({"port": k} if several else {})}
                  for k, t in enumerate(p.unit.inputs)]
        state.update({f"layers.{node_id}.{k}": v for k, v in p.state.items()})
        if p.note:
            warnings.append(f"'{node_id}': {p.note}; kept the {p.layer.type} the graph computes")
    _restore_dropped(design, nodes, edges, warnings)
    if len(nodes) == 1:
        raise OnnxImportError("the model's output is its input: there is nothing to import")
    doc = {"format": "layerlab.network", "version": 1,
           "name": _name(design, name, graph), "nodes": nodes, "edges": edges}
    _place(doc, design)
    description = design.get("description")
    doc["description"] = description if isinstance(description, str) else (
        f"Imported from ONNX ({graph.model.producer_name or 'unknown producer'} "
        f"{graph.model.producer_version}, opset {graph.opset}).".replace(" ,", ","))
    _training(doc, design, graph, warnings)
    if run.fixed_batch:
        warnings.append(f"the file fixes the batch size at {run.batch}; the design takes any")
    if graph.input_type in INT_TYPES:
        warnings.append("the model takes integer ids; the design's Input takes them as numbers "
                        "(its Embedding casts them)")
    return doc, state, warnings


def verify(doc: dict, state: dict[str, torch.Tensor], graph: Graph, run: Capture) -> float:
    """Build the document, load the weights strictly, compare with ONNX Runtime; max |diff|."""
    report = validate(doc)
    if not report.ok:
        raise OnnxImportError("the imported design is not valid: "
                              + "; ".join(e["message"] for e in report.errors[:3]),
                              report.errors)
    model = build_model(report.network)
    try:
        apply_weights(model, state)
    except WeightsError as e:
        raise OnnxImportError(f"the imported weights do not fit the design: {e}") from None
    model.eval()
    runs = [(run.sample, run.values[graph.output])]
    if not run.fixed_batch:  # another batch size too: nothing may mix the samples
        runs.append(rerun(graph, CHECK_BATCH))
    worst = 0.0
    for sample, theirs in runs:
        with torch.no_grad():
            ours = model(torch.from_numpy(sample).float()).numpy()
        if ours.shape != theirs.shape:
            raise OnnxImportError(f"the imported design outputs {list(ours.shape)}; the ONNX "
                                  f"model {list(theirs.shape)}")
        diff = float(np.abs(ours - theirs).max()) if ours.size else 0.0
        if not close(diff, theirs):
            raise OnnxImportError(f"the imported design differs from the ONNX model by up to "
                                  f"{diff:.3g} on a random sample")
        worst = max(worst, diff)
    return worst


def _node_id(p: Placed, layerlab: bool, used: set[str]) -> str:
    key, kind = p.unit.key or "", p.layer.type.lower()
    if layerlab and ID.match(key):
        base = key
    else:
        base = re.sub(r"[^A-Za-z0-9_-]", "_", key.rsplit("/", 1)[-1])[:48].strip("_")
        base = f"{kind}{base}" if base[:1].isdigit() else base or kind
    if base in RESERVED_IDS:
        base += "_"
    node_id, k = base, 1
    while node_id in used:
        k += 1
        node_id = f"{base}_{k}"
    used.add(node_id)
    return node_id


def _ancestors(out: str, placed: list[Placed], ids: list[str], made: dict) -> set[str]:
    inputs = {i: [made[t] for t in p.unit.inputs] for p, i in zip(placed, ids, strict=True)}
    kept, stack = set(), [out]
    while stack:
        node_id = stack.pop()
        if node_id in kept or node_id not in inputs:
            continue
        kept.add(node_id)
        stack += inputs[node_id]
    return kept


def _restore_dropped(design: dict, nodes: list[dict], edges: list[dict],
                     warnings: list[str]) -> None:
    """Put back the design's Dropout and Identity nodes, which the export left out, where
    the graph still has the edge they sat on."""
    present = {n["id"] for n in nodes}
    wired = [e for e in design.get("edges", []) if isinstance(e, dict)]
    missing = []
    for node in design.get("nodes", []):
        if not isinstance(node, dict) or node.get("id") in present or node.get("type") == "Input":
            continue
        node_id = node["id"]
        sources = [e.get("source") for e in wired if e.get("target") == node_id]
        targets = {e.get("target") for e in wired if e.get("source") == node_id}
        spanned = [e for e in edges if len(sources) == 1 and e["source"] == sources[0]
                   and e["target"] in targets]
        sink = {n["id"] for n in nodes} - {e["source"] for e in edges}
        fits = len(sources) == 1 and (len(spanned) == len(targets) if targets
                                      else sink == {sources[0]})
        if node.get("type") not in PASS_THROUGH or not fits or not ID.match(str(node_id)):
            missing.append(str(node_id))
            continue
        for e in spanned:
            e["source"] = node_id
        edges.append({"source": sources[0], "target": node_id})
        at = next(k for k, n in enumerate(nodes) if n["id"] == sources[0]) + 1
        nodes.insert(at, {"id": node_id, "type": node["type"],
                          "params": dict(node.get("params") or {})})
        present.add(node_id)
    if missing:
        warnings.append(f"the design's node(s) {', '.join(missing[:5])} are not in the ONNX "
                        "graph (the exporter merged or removed them)")


def _place(doc: dict, design: dict) -> None:
    drawn = {n.get("id"): n.get("ui") for n in design.get("nodes", []) if isinstance(n, dict)}
    if all(_point(drawn.get(n["id"])) for n in doc["nodes"]):
        for n in doc["nodes"]:
            n["ui"] = dict(drawn[n["id"]])
        return
    order = [n["id"] for n in doc["nodes"]]
    positions = tidy(_topological(order, doc["edges"]), doc["edges"])
    for n in doc["nodes"]:
        n["ui"] = positions[n["id"]]


def _point(ui) -> bool:
    return isinstance(ui, dict) and all(isinstance(ui.get(k), (int, float)) for k in "xy")


def _topological(order: list[str], edges: list[dict]) -> list[str]:
    preds = {i: {e["source"] for e in edges if e["target"] == i} for i in order}
    done, out = set(), []
    while len(out) < len(order):
        ready = [i for i in order if i not in done and preds[i] <= done]
        out += ready
        done.update(ready)
    return out


def _name(design: dict, name: str | None, graph: Graph) -> str:
    for candidate in (design.get("name"), name, graph.model.graph.name):
        if isinstance(candidate, str) and candidate.strip() not in GENERIC_NAMES:
            return candidate.strip()[:200]
    return "Imported model"


def _training(doc: dict, design: dict, graph: Graph, warnings: list[str]) -> None:
    """The design's own training section (a Layerlab export of a whole design), if it still
    validates here; none otherwise: the user chooses the data before training."""
    if graph.kind == "gan":
        warnings.append("the file is a gan design's generator (what Layerlab exports of a "
                        "gan): it imports as a network from the noise to a sample")
    training = design.get("training")
    if not isinstance(training, dict):
        return
    doc["training"] = training
    problems = [e for e in validate(doc).errors if str(e.get("param") or "").startswith(
        "training")]
    if problems:
        del doc["training"]
        warnings.append(f"the design's training section was left out: {problems[0]['message']}")

