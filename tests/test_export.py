"""Export every catalog case and every example to ONNX (checked in ONNX Runtime) and source."""

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
from server.export.pytorch import build_class
from server.graph import CATALOG, Network, parse_document
from server.graph.gan import split
from server.model import build_model
from tests import catalog_cases as cases
from tests.catalog_cases import CASES, case_names, case_network

EXAMPLES = sorted((Path(__file__).parents[1] / "server" / "examples").glob("*.layerlab.json"))
RTOL, ATOL = 1e-3, 1e-5
CASE_NAMES = case_names()  # "Conv2d", "Conv2d-1", ...: every case of tests/catalog_cases.py
BUILT = sorted(t for t, spec in CATALOG.items() if spec.module is not None)  # all but Input


def example_networks(path: Path) -> dict[str, Network]:
    """An example by name; a gan design as the two networks its kind exports (CONTRACTS §6)."""
    name = path.name.split(".")[0]
    network = parse_document(json.loads(path.read_text()))
    if network.training.get("kind") == "gan":
        generator, discriminator = split(network)
        return {f"{name}-generator": generator, f"{name}-discriminator": discriminator}
    return {name: network}


def designs() -> dict[str, Network]:
    """Every catalog case and every example, by name, as checked networks."""
    networks = {name: case_network(*case) for name, case in CASE_NAMES.items()}
    for path in EXAMPLES:
        networks.update(example_networks(path))
    return networks


DESIGNS = designs()
_EXPORTS: dict[str, tuple] = {}


def model_of(design: dict | Network):
    """The network and a seeded model in eval mode, BatchNorm statistics made non-trivial."""
    network = design if isinstance(design, Network) else parse_document(design)
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


def twin_of(network: Network, model: torch.nn.Module) -> torch.nn.Module:
    """The exported source, exec'd, with the model's weights loaded strictly."""
    source = export_pytorch(network, model.state_dict())
    twin = build_class(source, class_name(network))()
    twin.load_state_dict(model.state_dict(), strict=True)
    return twin.eval()


def test_cases_name_catalog_types():
    assert set(CASES) <= set(CATALOG), set(CASES) - set(CATALOG)


@pytest.mark.parametrize("layer_type", BUILT)
def test_every_catalog_type_builds_and_exports(layer_type):
    # One catalog entry plus one case in tests/catalog_cases.py is all a new layer needs.
    assert CASES.get(layer_type), f"{layer_type} has no case in tests/catalog_cases.py"
    network, model, data, result = exported(layer_type)
    shape, params = CASES[layer_type][0]
    x = cases.sample_input(layer_type, shape, params, batch=4)
    with torch.no_grad():
        out = model(x)
        assert list(out.shape) == [4, *network.node(network.output_id).shape]
        torch.testing.assert_close(twin_of(network, model)(x), out)
    (actual,) = onnx_export.ort_session(data).run(["output"], {"input": x.numpy()})
    np.testing.assert_allclose(actual, out.numpy(), rtol=RTOL, atol=ATOL)
    assert result.ok, result.message


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
    by_id = {n.id: n for n in network.nodes}
    ops = {n.op_type for n in proto.graph.node}
    for node in network.nodes:
        # The dynamo exporter folds an eval-mode BatchNorm into the Linear or convolution before
        # it: its statistics then live in that node's weights, and no initializer names it.
        folded = (node.type.startswith("BatchNorm") and "BatchNormalization" not in ops
                  and by_id[node.inputs[0]].n_params > 0)
        if node.n_params and not folded:
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
    docs = [DESIGNS["residual_mlp"].document, pooled]
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
    # The file carries exactly the Layerlab wrappers the built model is made of.
    wrappers = {type(m).__name__ for m in model.modules()
                if type(m).__module__ == "server.model.layers"}
    assert classes == {class_name(network), *wrappers}
    twin = build_class(source, class_name(network))()
    twin.load_state_dict(model.state_dict(), strict=True)
    twin.eval()
    x = sample_input(network, 4)
    with torch.no_grad():
        torch.testing.assert_close(twin(x), model(x))


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed")
def test_pytorch_source_is_lint_clean(tmp_path):
    for name, network in DESIGNS.items():
        (tmp_path / f"{name.replace('-', '_').lower()}.py").write_text(export_pytorch(network))
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
