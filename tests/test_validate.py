"""The validator: a corpus of bad documents with the error each must produce, and its promises.

Each file in tests/graphs/bad/ is `{"expect": [{"node", "param", "message"}], "document": ...}`:
the document must be refused with, for every expected entry, an error on that node and param
whose message contains that text. Adding a case is adding a file.
"""

from __future__ import annotations

import copy
import json
import re
import statistics
import time
from pathlib import Path

import pytest

from server.graph import Budget, DocumentError, parse_document, validate

ROOT = Path(__file__).resolve().parents[1]
CORPUS = sorted((ROOT / "tests" / "graphs" / "bad").glob("*.json"))
VALID = sorted((ROOT / "server" / "examples").glob("*.layerlab.json")) + sorted(
    (ROOT / "tests" / "graphs").glob("*.json"))
REPORT_KEYS = {"ok", "shapes", "params", "total_params", "macs", "total_macs", "activations",
               "errors"}


def load(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def check_report_shape(report: dict) -> None:
    """The validate JSON of CONTRACTS.md §2, exactly."""
    assert set(report) == REPORT_KEYS
    assert isinstance(report["ok"], bool)
    assert report["ok"] == (not report["errors"])
    assert all(isinstance(k, str) and isinstance(v, list) and all(
        isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in v)
        for k, v in report["shapes"].items())
    assert all(isinstance(k, str) and isinstance(v, int) and v >= 0
               for k, v in report["params"].items())
    assert set(report["params"]) == set(report["shapes"])
    assert report["total_params"] == sum(report["params"].values())
    for error in report["errors"]:
        assert set(error) == {"node", "param", "message"}, error
        assert error["node"] is None or isinstance(error["node"], str)
        assert error["param"] is None or isinstance(error["param"], str)
        assert isinstance(error["message"], str) and error["message"].strip()
    assert json.loads(json.dumps(report)) == report  # plain JSON: what the CLI and HTTP send


def matches(error: dict, want: dict) -> bool:
    return (error["node"] == want["node"] and error["param"] == want["param"]
            and want["message"] in error["message"])


def doc(nodes: list, edges: list, training: dict | None = None, **extra) -> dict:
    d = {"format": "layerlab.network", "version": 1, "name": "test", "nodes": nodes,
         "edges": edges, **extra}
    if training is not None:
        d["training"] = training
    return d


def node(node_id: str, layer_type: str, **params) -> dict:
    return {"id": node_id, "type": layer_type, **({"params": params} if params else {})}


def edge(source: str, target: str, **extra) -> dict:
    return {"source": source, "target": target, **extra}


def chain(n: int) -> dict:
    """A valid spiral MLP of n nodes: Input, then Linear/ReLU pairs, then a Linear to 2 classes."""
    nodes = [node("n0", "Input", shape=[2])]
    for i in range(1, n - 1):
        nodes.append(node(f"n{i}", "Linear", out_features=8) if i % 2 else node(f"n{i}", "ReLU"))
    nodes.append(node(f"n{n - 1}", "Linear", out_features=2))
    edges = [edge(f"n{i}", f"n{i + 1}") for i in range(n - 1)]
    return doc(nodes, edges, {"dataset": {"name": "spiral"}})


def median_seconds(fn, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --- the corpus

def test_corpus_is_well_formed():
    assert len(CORPUS) >= 30
    for path in CORPUS:
        assert re.fullmatch(r"\d{2}-[a-z0-9-]+\.json", path.name), path.name
        case = load(path)
        assert set(case) == {"expect", "document"}, path.name
        assert case["expect"], path.name
        for want in case["expect"]:
            assert set(want) == {"node", "param", "message"} and want["message"], path.name
    numbers = [path.name[:2] for path in CORPUS]
    assert len(numbers) == len(set(numbers)), "two corpus files share a number"


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_bad_document_is_refused_with_its_error(path):
    case = load(path)
    report = validate(case["document"]).to_json()
    check_report_shape(report)
    assert report["ok"] is False
    for want in case["expect"]:
        assert any(matches(e, want) for e in report["errors"]), (
            f"expected {want}\n got {json.dumps(report['errors'], indent=1)}")


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_parse_document_raises_with_every_error(path):
    document = load(path)["document"]
    with pytest.raises(DocumentError) as info:
        parse_document(document)
    assert info.value.errors == validate(document).errors


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name.split(".")[0])
def test_valid_document_gets_every_shape(path):
    document = load(path)
    report = validate(document).to_json()
    check_report_shape(report)
    assert report["ok"], report["errors"]
    assert set(report["shapes"]) == {n["id"] for n in document["nodes"]}
    assert report["total_params"] > 0


@pytest.mark.parametrize("document", [
    None, "", 0, 1.5, True, [], {}, {"nodes": None, "edges": None},
    {"nodes": [None, 1, "x", [], {}]},
    {"nodes": [{"id": "a", "type": "Input", "params": {"shape": "x"}}], "edges": [[1], 2]},
    {"nodes": [{"id": ["a"], "type": {"t": 1}, "params": []}],
     "edges": [{"source": {}, "target": []}, {"source": None}, {"port": "x"}]},
    {"format": ["x"], "version": {}, "name": 7, "training": {"optimizer": {"name": ["x"]},
                                                            "dataset": {"name": ["x"]}}},
    {"training": {"loss": [], "task": {}, "device": 1, "seed": -1, "steps": 0.5}},
], ids=lambda d: type(d).__name__)
def test_garbage_is_refused_not_crashed(document):
    report = validate(document).to_json()
    check_report_shape(report)
    assert report["ok"] is False


# --- every problem, each once

def test_every_independent_problem_is_reported():
    # Three unrelated problems: a bad param, a shape that does not fit, a bad training field.
    d = doc([node("in", "Input", shape=[2]), node("a", "Linear", out_features=-1),
             node("b", "Linear", out_features=8), node("c", "Conv2d"), node("add", "Add"),
             node("out", "Linear", out_features=2)],
            [edge("in", "a"), edge("in", "b"), edge("b", "c"), edge("a", "add"),
             edge("c", "add"), edge("add", "out")],
            {"dataset": {"name": "spiral"}, "device": "gpu"})
    errors = validate(d).errors
    found = sorted((e["node"] or "", e["param"] or "") for e in errors)
    assert found == [("", "training.device"), ("a", "out_features"), ("c", "")], errors


SPIRAL = {"dataset": {"name": "spiral"}}
MLP_NODES = [node("in", "Input", shape=[2]), node("fc1", "Linear", out_features=8),
             node("a1", "Tanh"), node("fc2", "Linear", out_features=8),
             node("out", "Linear", out_features=2)]
MLP_EDGES = [edge("in", "fc1"), edge("fc1", "a1"), edge("a1", "fc2"), edge("fc2", "out")]


def mlp(replace: dict | None = None, edges: list | None = None) -> dict:
    """in [2] -> fc1 Linear 8 -> a1 Tanh -> fc2 Linear 8 -> out Linear 2, on spiral."""
    nodes = [replace.get(n["id"], n) if replace else n for n in copy.deepcopy(MLP_NODES)]
    return doc(nodes, edges if edges is not None else copy.deepcopy(MLP_EDGES),
               copy.deepcopy(SPIRAL))


@pytest.mark.parametrize(("document", "only"), [
    (mlp({"fc1": node("fc1", "Linear", out_features="8")}), ("fc1", "out_features")),
    (mlp({"fc1": node("fc1", "Conv2d")}), ("fc1", None)),
    (mlp({"fc1": node("fc1", "Linaer")}), ("fc1", "type")),
    (mlp({"fc1": node("fc 1", "Linear")}, [edge("in", "fc 1"), edge("fc 1", "a1"),
                                             *MLP_EDGES[2:]]), (None, "id")),
    (mlp({"fc1": node("fc1", "Reshape", shape=[3])}), ("fc1", "shape")),
    (mlp(edges=MLP_EDGES + [edge("in", "a1")]), ("a1", "edges")),
    (mlp(edges=MLP_EDGES + [edge("ghost", "a1")]), ("a1", "edges")),
    (mlp(edges=MLP_EDGES + [edge("a1", "a1")]), ("a1", "edges")),
], ids=["bad-param", "bad-shape", "unknown-type", "bad-id", "reshape", "two-inputs",
        "dangling", "self-loop"])
def test_a_broken_node_is_reported_once_and_not_by_its_children(document, only):
    report = validate(document).to_json()
    assert [(e["node"], e["param"]) for e in report["errors"]] == [only], report["errors"]
    assert "out" not in report["shapes"]  # downstream shapes are unknown, not guessed
    assert report["shapes"]["in"] == [2]  # upstream shapes are still shown


def test_a_cycle_names_its_members_not_what_follows_it():
    d = doc([node("in", "Input", shape=[2]), node("add", "Add"),
             node("fc", "Linear", out_features=2), node("after", "ReLU")],
            [edge("in", "add"), edge("fc", "add"), edge("add", "fc"), edge("fc", "after")],
            copy.deepcopy(SPIRAL))
    errors = validate(d).errors
    assert sorted(e["node"] for e in errors) == ["add", "fc"]
    assert all("cycle" in e["message"] for e in errors)


# --- size: refused fast, before anything is allocated

def test_a_200_node_chain_validates_fast():
    d = chain(200)
    report = validate(d)
    assert report.ok, report.errors
    assert len(report.to_json()["shapes"]) == 200
    # Complexity, not a benchmark: quadratic work would blow this bound by far.
    assert median_seconds(lambda: validate(d)) < 0.050


def test_a_5000_node_chain_is_refused_fast():
    d = chain(5000)
    errors = validate(d).errors
    assert errors == [{"node": None, "param": "nodes",
                       "message": f"the design has 5000 nodes; the limit is {Budget().max_nodes}"}]
    assert median_seconds(lambda: validate(d)) < 0.200


def test_a_billion_unit_layer_is_refused_fast():
    d = mlp({"fc1": node("fc1", "Linear", out_features=10**9)})
    errors = validate(d).errors
    # fc2 (10^9 x 8 weights) is the biggest; fc1's output is the biggest activation.
    assert any(e["node"] == "fc2" and "parameters; the limit is 100,000,000" in e["message"]
               for e in errors), errors
    assert any(e["node"] == "fc1" and "GiB of activations" in e["message"] for e in errors)
    assert median_seconds(lambda: validate(d)) < 0.200


def test_budget_is_a_parameter():
    d = chain(20)
    assert validate(d).ok
    assert not validate(d, budget=Budget(max_nodes=10)).ok
    assert not validate(d, budget=Budget(max_params=100)).ok
    assert not validate(d, budget=Budget(max_activation_bytes=1000)).ok


# --- the document is read, never changed

def test_unknown_top_level_keys_are_kept_and_the_document_is_not_mutated():
    d = mlp({"in": node("in", "Input")})
    d["description"] = "kept"
    d["x-editor"] = {"zoom": 1.5, "selected": ["fc1"]}
    before = copy.deepcopy(d)
    report = validate(d)
    assert report.ok, report.errors
    assert d == before
    assert report.network.document["x-editor"] == {"zoom": 1.5, "selected": ["fc1"]}
    assert json.loads(json.dumps(report.network.document)) == before


def test_input_shape_omitted_is_taken_from_the_dataset():
    d = mlp({"in": node("in", "Input")})
    report = validate(d)
    assert report.ok, report.errors
    assert report.to_json()["shapes"]["in"] == [2]
    assert report.network.node("in").params["shape"] == [2]
    assert "params" not in d["nodes"][0]

    d["training"]["dataset"] = {"name": "digits"}
    d["nodes"][-1]["params"]["out_features"] = 10
    d["nodes"][1] = node("fc1", "Flatten")
    assert validate(d).to_json()["shapes"]["in"] == [1, 8, 8]


# --- Concat takes its inputs in port order, else document order

def concat_doc(cat_edges: list) -> dict:
    return doc([node("in", "Input", shape=[2]), node("p3", "Linear", out_features=3),
                node("p5", "Linear", out_features=5), node("cat", "Concat"),
                node("out", "Linear", out_features=2)],
               [edge("in", "p3"), edge("in", "p5"), *cat_edges, edge("cat", "out")],
               copy.deepcopy(SPIRAL))


@pytest.mark.parametrize(("cat_edges", "order"), [
    ([edge("p3", "cat"), edge("p5", "cat")], ["p3", "p5"]),
    ([edge("p5", "cat"), edge("p3", "cat")], ["p5", "p3"]),
    ([edge("p3", "cat", port=1), edge("p5", "cat", port=0)], ["p5", "p3"]),
    ([edge("p5", "cat", port=1), edge("p3", "cat", port=0)], ["p3", "p5"]),
], ids=["document-order", "document-order-swapped", "ports", "ports-swapped"])
def test_concat_inputs_follow_port_then_document_order(cat_edges, order):
    report = validate(concat_doc(cat_edges))
    assert report.ok, report.errors
    cat = report.network.node("cat")
    assert cat.inputs == order
    assert cat.in_shapes == [(3,) if i == "p3" else (5,) for i in order]
    assert report.to_json()["shapes"]["cat"] == [8]
