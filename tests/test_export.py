"""Export every catalog layer and every example to ONNX (checked in ONNX Runtime) and source."""

from __future__ import annotations

import ast
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from server.export import (
    ExportError,
    class_name,
    export_onnx,
    export_onnx_bytes,
    export_pytorch,
    sample_input,
)
from server.export import onnx as onnx_export
from server.export.pytorch import WRAPPER_OF, build_class
from server.graph import CATALOG, parse_document
from server.model import build_model

EXAMPLES = sorted((Path(__file__).parents[1] / "server" / "examples").glob("*.layerlab.json"))
RTOL, ATOL = 1e-3, 1e-5

# name -> (input shape, layer type, params, widths of two Linear branches for merge layers)
CASES: dict[str, tuple[list[int], str, dict, tuple[int, int] | None]] = {}


def case(name: str, shape: list[int], type_: str, params: dict | None = None,
         merge: tuple[int, int] | None = None) -> None:
    CASES[name] = (shape, type_, params or {}, merge)


case("Linear", [4], "Linear", {"out_features": 3})
case("Linear-seq", [5, 4], "Linear", {"out_features": 3, "bias": False})
case("Flatten", [3, 4, 4], "Flatten")
case("Reshape", [12], "Reshape", {"shape": [3, -1]})
case("Dropout", [4], "Dropout", {"p": 0.5})
case("Identity", [4], "Identity")
case("Conv1d", [3, 10], "Conv1d", {"out_channels": 4, "padding": 1, "stride": 2})
case("Conv2d", [3, 8, 8], "Conv2d", {"out_channels": 4, "dilation": 2, "bias": False})
case("MaxPool1d", [3, 10], "MaxPool1d", {"kernel_size": 3, "padding": 1})
case("MaxPool2d", [3, 8, 8], "MaxPool2d")
case("AvgPool2d", [3, 8, 8], "AvgPool2d", {"kernel_size": 3, "stride": 2, "padding": 1})
case("AdaptiveAvgPool2d", [3, 8, 8], "AdaptiveAvgPool2d", {"output_size": 2})
case("AdaptiveAvgPool2d-uneven", [3, 7, 7], "AdaptiveAvgPool2d", {"output_size": 3})
case("BatchNorm1d", [4], "BatchNorm1d")
case("BatchNorm1d-seq", [3, 10], "BatchNorm1d", {"eps": 1e-3})
case("BatchNorm2d", [3, 8, 8], "BatchNorm2d", {"affine": False})
case("LayerNorm", [5, 8], "LayerNorm")
case("ReLU", [4], "ReLU")
case("LeakyReLU", [4], "LeakyReLU", {"negative_slope": 0.2})
case("ELU", [4], "ELU", {"alpha": 0.5})
case("GELU", [4], "GELU")
case("GELU-tanh", [4], "GELU", {"approximate": "tanh"})
case("Sigmoid", [4], "Sigmoid")
case("Tanh", [4], "Tanh")
case("Softmax", [3, 5], "Softmax", {"dim": 0})
for rnn in ("RNN", "GRU", "LSTM"):
    case(rnn, [5, 3], rnn, {"hidden_size": 6})
    case(f"{rnn}-seq", [5, 3], rnn, {"hidden_size": 6, "return_sequences": True})
    case(f"{rnn}-bi", [5, 3], rnn, {"hidden_size": 6, "bidirectional": True, "num_layers": 2})
    case(f"{rnn}-bi-seq", [5, 3], rnn, {"hidden_size": 6, "bidirectional": True,
                                        "return_sequences": True})
case("RNN-relu", [5, 3], "RNN", {"hidden_size": 6, "nonlinearity": "relu"})
case("Embedding", [5], "Embedding", {"num_embeddings": 10, "embedding_dim": 4})
case("Embedding-column", [5, 1], "Embedding", {"num_embeddings": 10, "embedding_dim": 4})
case("MultiheadAttention", [5, 8], "MultiheadAttention", {"num_heads": 2})
case("TransformerEncoderLayer", [5, 8], "TransformerEncoderLayer",
     {"nhead": 2, "dim_feedforward": 16})
case("TransformerEncoderLayer-pre", [5, 8], "TransformerEncoderLayer",
     {"nhead": 2, "dim_feedforward": 16, "norm_first": True, "activation": "gelu"})
case("Add", [4], "Add", merge=(6, 6))
case("Concat", [4], "Concat", merge=(6, 3))
case("Concat-last", [5, 4], "Concat", {"dim": -1}, merge=(6, 3))


def document(name: str) -> dict:
    """A tiny design: Input -> the layer (merge layers get two Linear branches)."""
    shape, type_, params, merge = CASES[name]
    nodes = [{"id": "in", "type": "Input", "params": {"shape": shape}}]
    edges = []
    sources = ["in"]
    if merge:
        sources = ["left", "right"]
        for node_id, width in zip(sources, merge, strict=True):
            nodes.append({"id": node_id, "type": "Linear", "params": {"out_features": width}})
            edges.append({"source": "in", "target": node_id})
    nodes.append({"id": "layer", "type": type_, "params": params})
    edges += [{"source": s, "target": "layer"} for s in sources]
    return {"format": "layerlab.network", "version": 1, "name": f"test {name}",
            "nodes": nodes, "edges": edges}


def designs() -> dict[str, dict]:
    """Every catalog case and every example, by name."""
    docs = {name: document(name) for name in CASES}
    docs.update({p.name.split(".")[0]: json.loads(p.read_text()) for p in EXAMPLES})
    return docs


DESIGNS = designs()
_EXPORTS: dict[str, tuple] = {}


def model_of(doc: dict):
    """The network and a seeded model in eval mode, BatchNorm statistics made non-trivial."""
    network = parse_document(doc)
    model = build_model(network, seed=0)
    gen = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.copy_(torch.rand(module.running_mean.shape, generator=gen) - 0.5)
            module.running_var.copy_(torch.rand(module.running_var.shape, generator=gen) + 0.5)
    return network, model.eval()


def exported(name: str):
    """(network, model, file bytes, result): each design is exported once per test session."""
    if name not in _EXPORTS:
        network, model = model_of(DESIGNS[name])
        data, result = export_onnx_bytes(model, network)
        _EXPORTS[name] = (network, model, data, result)
    return _EXPORTS[name]


def test_every_catalog_type_has_a_case():
    # Input opens every case; a design of an Input alone is no layer to export.
    covered = {type_ for _, type_, _, _ in CASES.values()} | {"Input"}
    assert covered == set(CATALOG)


@pytest.mark.parametrize("name", DESIGNS)
def test_onnx_export_matches_pytorch(name):
    network, model, data, result = exported(name)
    assert result.ok and result.opset == onnx_export.DEFAULT_OPSET
    assert result.exporter == onnx_export.preferred_exporters(network)[0], result.message
    assert result.max_abs_diff is not None and result.max_abs_diff < 1e-3
    onnx.checker.check_model(onnx.load_from_string(data))


@pytest.mark.parametrize("name", DESIGNS)
def test_onnx_batch_axis_is_dynamic(name):
    network, model, data, _ = exported(name)
    session = onnx_export.ort_session(data)
    assert [i.name for i in session.get_inputs()] == ["input"]
    assert [o.name for o in session.get_outputs()] == ["output"]
    assert session.get_inputs()[0].shape[0] == "batch"
    x = sample_input(network, 7, seed=3)
    (actual,) = session.run(["output"], {"input": x.numpy()})
    with torch.no_grad():
        expected = model(x).numpy()
    assert actual.shape == (7, *network.node(network.output_id).shape)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", DESIGNS)
def test_onnx_file_is_self_contained_and_named_by_node_ids(name):
    network, _, data, _ = exported(name)
    proto = onnx.load_from_string(data)
    inits = proto.graph.initializer
    assert not any(i.data_location == onnx.TensorProto.EXTERNAL or i.external_data for i in inits)
    ids = {n.id for n in network.nodes}
    for node in network.nodes:
        if node.n_params:
            assert any(i.name.startswith(f"layers.{node.id}.") for i in inits), node.id
    for init in inits:
        if init.data_type == onnx.TensorProto.FLOAT and np.prod(init.dims) > 1:
            assert init.name.split(".")[:1] == ["layers"] and init.name.split(".")[1] in ids
    named = [n.name for n in proto.graph.node if n.name.startswith("/")]
    assert {n.split("/")[1] for n in named} <= ids


def test_export_onnx_writes_one_file_and_reports_progress(tmp_path):
    network, model = model_of(DESIGNS["spiral_mlp"])
    stages = []
    path = tmp_path / "model.onnx"
    result = export_onnx(model, network, path, progress=stages.append)
    assert stages == ["exporting", "checking", "done"]
    assert list(tmp_path.iterdir()) == [path]
    assert result.path == str(path) and result.ok and result.exporter in result.message
    assert json.loads(json.dumps(result.to_json()))["opset"] == result.opset
    stream = io.BytesIO()
    export_onnx(model, network, stream, check=False)
    assert onnx.load_from_string(stream.getvalue()).graph.input[0].name == "input"


QUIET_SCRIPT = """
import json, sys
from server.export import export_onnx_bytes
from server.graph import parse_document
from server.model import build_model
for doc in json.loads(sys.argv[1]):
    network = parse_document(doc)
    data, result = export_onnx_bytes(build_model(network), network)
print(json.dumps(result.to_json()))
"""


def test_export_prints_nothing_but_what_the_caller_prints():
    # A fresh interpreter: the dynamo exporter warns on first use. The second design has a
    # recurrent layer (TorchScript first) and an uneven AdaptiveAvgPool2d that TorchScript
    # refuses, printing the failed graph from C++, before dynamo exports it.
    pooled = {"format": "layerlab.network", "version": 1, "name": "pooled GRU", "nodes": [
        {"id": "in", "type": "Input", "params": {"shape": [3, 7, 7]}},
        {"id": "pool", "type": "AdaptiveAvgPool2d", "params": {"output_size": 3}},
        {"id": "seq", "type": "Reshape", "params": {"shape": [9, 3]}},
        {"id": "gru", "type": "GRU", "params": {"hidden_size": 4}},
    ], "edges": [{"source": "in", "target": "pool"}, {"source": "pool", "target": "seq"},
                 {"source": "seq", "target": "gru"}]}
    docs = [DESIGNS["residual_mlp"], pooled]
    run = subprocess.run([sys.executable, "-c", QUIET_SCRIPT, json.dumps(docs)],
                         capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).parents[1])
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    result = json.loads(run.stdout)  # one line: nothing else was printed
    assert result["ok"] and result["exporter"] == "dynamo"
    assert "torchscript exporter failed" in result["message"]


def test_export_leaves_the_callers_model_alone():
    network, model = model_of(DESIGNS["digits_cnn"])
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    export_onnx_bytes(model, network, check=False)
    assert model.training and all(p.requires_grad for p in model.parameters())
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.device.type == "cpu" for p in model.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_gpu_model_exports_and_stays_on_its_gpu():
    network, model = model_of(DESIGNS["digits_cnn"])
    model.cuda()
    _, result = export_onnx_bytes(model, network)
    assert result.ok and all(p.is_cuda for p in model.parameters())


def test_falls_back_to_torchscript_when_dynamo_fails(monkeypatch):
    def broken(*args):
        raise RuntimeError("no luck today")

    monkeypatch.setitem(onnx_export._EXPORT, "dynamo", broken)
    network, model = model_of(DESIGNS["residual_mlp"])
    _, result = export_onnx_bytes(model, network)
    assert result.exporter == "torchscript" and result.ok
    assert "dynamo exporter failed: RuntimeError: no luck today" in result.message


def test_recurrent_designs_try_torchscript_first_and_fall_back_to_dynamo(monkeypatch):
    def broken(*args):
        raise RuntimeError("gone")

    network, model = model_of(DESIGNS["lstm_sine"])
    assert onnx_export.preferred_exporters(network) == ("torchscript", "dynamo")
    monkeypatch.setitem(onnx_export._EXPORT, "torchscript", broken)
    _, result = export_onnx_bytes(model, network)
    assert result.exporter == "dynamo" and result.ok
    assert result.message.startswith("the torchscript exporter failed: RuntimeError: gone")


def test_a_file_that_disagrees_with_pytorch_is_refused(monkeypatch):
    network, model = model_of(DESIGNS["spiral_mlp"])
    stranger = build_model(network, seed=1).eval()  # other weights: other outputs
    real = onnx_export._export_torchscript
    for exporter in onnx_export.EXPORTERS:
        monkeypatch.setitem(onnx_export._EXPORT, exporter, lambda m, x, o: real(stranger, x, o))
    with pytest.raises(ExportError) as caught:
        export_onnx_bytes(model, network)
    assert "differs from PyTorch" in caught.value.message
    assert caught.value.result is not None and caught.value.result.max_abs_diff > 1e-3
    assert not caught.value.result.ok


@pytest.mark.parametrize("name", DESIGNS)
def test_pytorch_source_round_trips(name):
    network, model = model_of(DESIGNS[name])
    source = export_pytorch(network, model.state_dict())
    tree = ast.parse(source)
    imports = {alias.name.split(".")[0] for node in tree.body
               if isinstance(node, ast.Import | ast.ImportFrom)
               for alias in ([ast.alias(node.module)] if isinstance(node, ast.ImportFrom)
                             else node.names)}
    assert imports == {"sys", "torch"}
    classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    wrappers = {WRAPPER_OF[n.type] for n in network.nodes if n.type in WRAPPER_OF}
    assert classes == {class_name(network), *wrappers}
    twin = build_class(source, class_name(network))()
    twin.load_state_dict(model.state_dict(), strict=True)
    twin.eval()
    x = sample_input(network, 4)
    with torch.no_grad():
        torch.testing.assert_close(twin(x), model(x))


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed")
def test_pytorch_source_is_lint_clean(tmp_path):
    for name, doc in DESIGNS.items():
        (tmp_path / f"{name.replace('-', '_').lower()}.py").write_text(
            export_pytorch(parse_document(doc)))
    run = subprocess.run(["ruff", "check", "--no-cache", "--isolated", "--line-length", "100",
                          "--select", "E,F,W,I,B,UP", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout


def test_pytorch_source_takes_any_node_id():
    ids = ["2fc", "class", "a-b", "a_b", "x", "torch"]
    nodes = [{"id": "in", "type": "Input", "params": {"shape": [3]}}]
    nodes += [{"id": i, "type": "Linear", "params": {"out_features": 3}} for i in ids]
    chain = ["in", *ids]
    edges = [{"source": a, "target": b} for a, b in zip(chain, chain[1:], strict=False)]
    doc = {"format": "layerlab.network", "version": 1, "name": "1 odd: names!",
           "nodes": nodes, "edges": edges}
    network, model = model_of(doc)
    source = export_pytorch(network)
    assert class_name(network) == "Net1OddNames"
    twin = build_class(source, "Net1OddNames")()
    twin.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 3)
    torch.testing.assert_close(twin.eval()(x), model(x))


def test_pytorch_source_refuses_weights_that_do_not_fit():
    network, _ = model_of(DESIGNS["spiral_mlp"])
    _, other = model_of(DESIGNS["residual_mlp"])
    with pytest.raises(ExportError, match="do not fit"):
        export_pytorch(network, other.state_dict())


def test_pytorch_source_runs_as_a_script(tmp_path):
    from safetensors.torch import save_file

    network, model = model_of(DESIGNS["lstm_sine"])
    script = tmp_path / "lstm_sine.py"
    script.write_text(export_pytorch(network))
    weights = tmp_path / "weights.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    run = subprocess.run([sys.executable, str(script), str(weights)], capture_output=True,
                         text=True, timeout=120, check=True)
    assert run.stdout.strip().splitlines()[-1] == "(3, 20, 1) -> (3, 1)"
    namespace: dict = {"__name__": "exported"}
    exec(compile(script.read_text(), str(script), "exec"), namespace)
    loaded = namespace["load"](tmp_path / "weights.pt")
    x = sample_input(network, 2)
    torch.testing.assert_close(loaded(x), model(x))
