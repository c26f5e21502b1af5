"""ONNX import (CONTRACTS.md §7): every example exported and imported back to the same graph,
weights and function; foreign PyTorch exports; unsupported operators all named; bad files
refused cleanly by the library, the CLI and POST /api/import; a run started from an import."""

from __future__ import annotations

import functools
import io
import json
import random
import subprocess
import sys
import warnings

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from server.__main__ import main
from server.export import export_onnx_bytes, sample_input
from server.graph import CATALOG, parse_document, validate
from server.graph.init import weights_upload_path
from server.importer import OnnxImportError, import_onnx
from server.kinds import kind_of
from server.model import apply_weights, build_model, load_weights
from server.train import Trainer
from tests.live import EXAMPLES, ROOT, example, make_app

pytestmark = pytest.mark.timeout(300)

NAMES = sorted(p.name.removesuffix(".layerlab.json") for p in EXAMPLES.glob("*.layerlab.json"))
TOLERANCE = 1e-4


@functools.cache
def exported(name: str) -> tuple[bytes, object, nn.Module]:
    """An example's ONNX file as Layerlab exports it (a gan: its generator), with weights off
    their initial values so that none is trivially 0 or 1; (file, network, module)."""
    network = parse_document(example(name))
    kind = kind_of(network)
    model = kind.build(network, seed=0)
    with torch.no_grad():
        gen = torch.Generator().manual_seed(1)
        for key, t in model.state_dict().items():
            if t.is_floating_point():
                noise = torch.randn(t.shape, generator=gen) * 0.1
                t.copy_(t.abs() + 0.5 if key.endswith("running_var") else t + noise)
    target, module, input_name = kind.onnx_target(network, model)
    data, _ = export_onnx_bytes(module, target, check=False, input_name=input_name)
    return data, target, module.eval()


def graph_of(doc_or_network) -> dict:
    """{id: (type, resolved params, input ids, shape)} of a document or a checked network."""
    network = (doc_or_network if hasattr(doc_or_network, "nodes")
               else parse_document(doc_or_network))
    out = {}
    for n in network.nodes:
        if n.id == network.input_id:
            out[n.id] = ("Input", {"shape": list(n.shape)}, (), tuple(n.shape))
        else:
            params = json.loads(json.dumps({**CATALOG[n.type].defaults(), **n.params}))
            out[n.id] = (n.type, params, tuple(n.inputs), tuple(n.shape))
    return out


def outputs_match(doc: dict, state: dict, module: nn.Module, network) -> float:
    """Build the imported design with its weights; max |it - the original| on random input."""
    model = build_model(parse_document(doc))
    apply_weights(model, state)
    model.eval()
    x = sample_input(network, 5, seed=7)
    with torch.no_grad():
        diff = (model(x) - module(x)).abs().max().item()
    assert diff <= TOLERANCE
    return diff


def strip_design(data: bytes) -> bytes:
    """The file without the design Layerlab's export writes into its metadata."""
    proto = onnx.load_model_from_string(data)
    del proto.metadata_props[:]
    return proto.SerializeToString()


# -- Layerlab's own exports ------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_example_imports_back_to_the_same_design(name):
    data, network, module = exported(name)
    result = import_onnx(data)
    doc = result.document
    assert graph_of(doc) == graph_of(network)  # types, params, ids, edges and shapes
    original = {n["id"]: n for n in example(name)["nodes"]}
    for node in doc["nodes"]:
        assert node["ui"] == original[node["id"]]["ui"]
        if node["type"] != "Input":
            assert node["params"] == original[node["id"]].get("params", {})
    for key, value in module.state_dict().items():  # the same weights, under the same names
        assert torch.equal(result.state_dict[key], value), key
    assert set(result.state_dict) == set(module.state_dict())
    if kind_of(example(name)).NAME != "gan":  # the whole design came back, training and all
        assert doc["training"] == example(name)["training"]
    else:
        assert "training" not in doc and any("generator" in w for w in result.warnings)
    assert result.max_abs_diff <= TOLERANCE
    outputs_match(doc, result.state_dict, module, network)


@pytest.mark.parametrize("name", ["residual_mlp", "digits_cnn", "gan_digits", "lstm_sine",
                                  "attention_parity", "dqn_cartpole"])
def test_without_its_design_an_export_still_imports_by_its_node_names(name):
    data, network, module = exported(name)
    result = import_onnx(strip_design(data))
    ours, theirs = graph_of(result.document), graph_of(network)
    theirs["in"] = theirs.pop(network.input_id)  # the Input's id is only in the design
    assert {k: v[0] for k, v in ours.items()} == {k: v[0] for k, v in theirs.items()}
    assert {k: v[3] for k, v in ours.items()} == {k: v[3] for k, v in theirs.items()}
    assert "training" not in result.document  # no dataset: the user chooses one
    outputs_match(result.document, result.state_dict, module, network)


def test_a_dropout_the_export_left_out_comes_back_from_the_design():
    doc = example("spiral_mlp")
    doc["nodes"].insert(2, {"id": "drop", "type": "Dropout", "params": {"p": 0.3}})
    doc["edges"] = [e for e in doc["edges"] if e["source"] != "fc1"] + [
        {"source": "fc1", "target": "drop"}, {"source": "drop", "target": "a1"}]
    network = parse_document(doc)
    model = build_model(network, seed=0).eval()
    data, _ = export_onnx_bytes(model, network, check=False)
    result = import_onnx(data)
    assert graph_of(result.document) == graph_of(network)
    bare = import_onnx(strip_design(data))  # nothing in the graph says it was there
    assert "drop" not in graph_of(bare.document)


# -- foreign PyTorch exports -----------------------------------------------------------------


def torch_export(module: nn.Module, x: torch.Tensor, dynamo: bool, folder,
                 **options) -> bytes:
    """The file a user gets from a plain torch.onnx.export (no dynamic axes, no names), with
    its weights inside unless told otherwise."""
    path = folder / "model.onnx"
    if dynamo:
        options.setdefault("external_data", False)
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (x,), str(path), dynamo=dynamo, verbose=False,
                          **options)
    return path.read_bytes()


def compare_foreign(result, module: nn.Module, shape: tuple[int, ...]) -> None:
    model = build_model(parse_document(result.document))
    apply_weights(model, result.state_dict)
    x = torch.randn(5, *shape, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert (model.eval()(x) - module(x)).abs().max().item() <= TOLERANCE


@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "torchscript"])
def test_a_foreign_sequential_imports_and_computes_the_same(dynamo, tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10), nn.LeakyReLU(0.2))
    net[1].running_mean.uniform_(-1, 1)
    net[1].running_var.uniform_(0.5, 2)
    data = torch_export(net, torch.randn(2, 1, 8, 8), dynamo, tmp_path)
    result = import_onnx(data, name="my_cnn")
    doc = result.document
    types = [n["type"] for n in doc["nodes"]]
    assert types[0] == "Input" and doc["nodes"][0]["params"] == {"shape": [1, 8, 8]}
    assert [t for t in types if t != "BatchNorm2d"] == [  # the exporter may fold it
        "Input", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "LeakyReLU"]
    assert "linear5" in {n["id"] for n in doc["nodes"]}  # named after the Sequential's index
    assert doc["name"] == "my_cnn" and "training" not in doc
    assert any("batch size at 2" in w for w in result.warnings)  # exported without a free axis
    compare_foreign(result, net, (1, 8, 8))


class Residual(nn.Module):
    """A small module with a shortcut: out(relu(fc1(x)) + fc2(relu(fc1(x))))."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.out = nn.Linear(4, 8), nn.Linear(8, 8), nn.Linear(8, 3)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        return self.out(h + self.fc2(h))


@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "torchscript"])
def test_a_module_with_a_residual_add_imports_with_its_shortcut(dynamo, tmp_path):
    torch.manual_seed(0)
    net = Residual()
    result = import_onnx(torch_export(net, torch.randn(2, 4), dynamo, tmp_path))
    graph = graph_of(result.document)
    assert {k: v[0] for k, v in graph.items()} == {
        "in": "Input", "fc1": "Linear", "relu": "ReLU", "fc2": "Linear", "add": "Add",
        "out": "Linear"}
    assert graph["add"][2] == ("relu", "fc2") and graph["out"][2] == ("add",)
    compare_foreign(result, net, (4,))


class LastStep(nn.Module):
    """The usual sequence classifier: fc(lstm(x)[0][:, -1])."""

    def __init__(self):
        super().__init__()
        self.lstm, self.fc = nn.LSTM(3, 8, batch_first=True), nn.Linear(8, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])


@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "torchscript"])
def test_an_lstm_read_at_its_last_step_imports_as_one_layer(dynamo, tmp_path):
    torch.manual_seed(0)
    net = LastStep()
    result = import_onnx(torch_export(net, torch.randn(2, 6, 3), dynamo, tmp_path))
    graph = graph_of(result.document)
    assert [(v[0], v[1].get("return_sequences")) for v in graph.values()] == [
        ("Input", None), ("LSTM", False), ("Linear", None)]
    compare_foreign(result, net, (6, 3))


# -- what is refused -------------------------------------------------------------------------


def odd_model() -> bytes:
    """Gemm -> Cos -> Gemm -> Round: two operators with no layer type between two Linears."""
    rng = np.random.default_rng(0)

    def init(name, *shape):
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)

    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h1"], name="fc1", transB=1),
             helper.make_node("Cos", ["h1"], ["h2"], name="odd_cos"),
             helper.make_node("Gemm", ["h2", "w2", "b2"], ["h3"], name="fc2", transB=1),
             helper.make_node("Round", ["h3"], ["y"], name="odd_round")]
    graph = helper.make_graph(
        nodes, "odd", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
        [init("w1", 5, 4), init("b1", 5), init("w2", 2, 5), init("b2", 2)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    return model.SerializeToString()


def test_every_unsupported_operator_is_named_with_its_op():
    with pytest.raises(OnnxImportError) as caught:
        import_onnx(odd_model())
    e = caught.value
    assert [(d["node"], d["op"]) for d in e.details] == [("odd_cos", "Cos"), ("odd_round", "Round")]
    assert "odd_cos (Cos)" in e.message and "odd_round (Round)" in e.message
    assert all("no layer type" in d["message"] for d in e.details)


def bad_files() -> dict[str, bytes]:
    good = exported("spiral_mlp")[0]
    return {"empty": b"", "random": random.Random(0).randbytes(4096),
            "truncated": good[: len(good) // 2], "a document": json.dumps(example()).encode()}


@pytest.mark.parametrize("case", ["empty", "random", "truncated", "a document"])
def test_files_that_are_not_onnx_models_are_refused_with_a_sentence(case):
    with pytest.raises(OnnxImportError) as caught:
        import_onnx(bad_files()[case])
    assert caught.value.code == "invalid_upload"
    assert ("empty" if case == "empty" else "not an ONNX model") in caught.value.message


def test_a_file_past_the_limit_is_refused_before_it_is_read():
    with pytest.raises(OnnxImportError) as caught:
        import_onnx(b"\x08" * 5000, max_bytes=4096)
    assert caught.value.code == "too_large" and "limit is 4 KiB" in caught.value.message


# -- the CLI ---------------------------------------------------------------------------------


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = main(["import", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_writes_the_document_and_its_weights(tmp_path, capsys):
    model = tmp_path / "residual.onnx"
    model.write_bytes(exported("residual_mlp")[0])
    code, out, err = run_cli(capsys, model, "-o", tmp_path / "res.layerlab.json", "--json")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["ok"] and summary["warnings"] == []
    assert summary["document"] == str(tmp_path / "res.layerlab.json")
    assert summary["weights"] == str(tmp_path / "res.safetensors")  # beside the document
    doc = json.loads((tmp_path / "res.layerlab.json").read_text())
    assert validate(doc).ok and doc["name"] == "Residual MLP"
    state = load_weights(tmp_path / "res.safetensors")
    assert set(state) == set(exported("residual_mlp")[2].state_dict())
    code, out, err = run_cli(capsys, model, "-o", tmp_path / "b.json", "--weights-out",
                             tmp_path / "w" / "mine.safetensors")
    assert code == 0 and (tmp_path / "w" / "mine.safetensors").is_file()
    assert "imported" in out and "9 nodes" in out


def test_cli_reads_the_weights_torch_keeps_beside_the_model(tmp_path, capsys):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 256), nn.ReLU(), nn.Linear(256, 3))  # big enough for it
    data = torch_export(net, torch.randn(2, 4), True, tmp_path, external_data=True)
    assert (tmp_path / "model.onnx.data").is_file()  # torch's default for a path
    with pytest.raises(OnnxImportError, match="separate files"):
        import_onnx(data)  # an upload has nothing beside it
    code, _, err = run_cli(capsys, tmp_path / "model.onnx", "-o", tmp_path / "r.layerlab.json")
    assert code == 0, err
    doc = json.loads((tmp_path / "r.layerlab.json").read_text())
    model = build_model(parse_document(doc))
    apply_weights(model, load_weights(tmp_path / "r.safetensors"))
    x = torch.randn(3, 4)
    with torch.no_grad():
        assert (model.eval()(x) - net(x)).abs().max().item() <= TOLERANCE


def test_cli_refuses_bad_files_on_stderr_without_a_traceback(tmp_path, capsys):
    for case, data in {**bad_files(), "odd": odd_model()}.items():
        model = tmp_path / f"{case}.onnx"
        model.write_bytes(data)
        code, out, err = run_cli(capsys, model, "-o", tmp_path / "x.layerlab.json", "--json")
        assert code == 1, case
        assert err.startswith("error: ") and "Traceback" not in err + out
        assert json.loads(out.strip().splitlines()[-1])["ok"] is False
        assert not (tmp_path / "x.layerlab.json").exists()
    assert "odd_cos (Cos)" in err and "odd_round (Round)" in err
    code, _, err = run_cli(capsys, tmp_path / "missing.onnx", "-o", tmp_path / "x.json")
    assert code == 2 and "no such file" in err


def test_the_console_script_imports_and_fails_with_exit_codes(tmp_path):
    (tmp_path / "odd.onnx").write_bytes(odd_model())
    proc = subprocess.run([sys.executable, "-m", "server", "import", str(tmp_path / "odd.onnx"),
                           "-o", str(tmp_path / "odd.layerlab.json")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "odd_cos (Cos)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_web_process_imports_no_torch_for_the_route():
    code = ("import sys, server.importer.job, server.web.importing; print(sorted(m for m in "
            "('torch', 'onnx', 'onnxruntime') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


# -- POST /api/import and training.init ------------------------------------------------------


@pytest.fixture(scope="module")
def small_app(tmp_path_factory):
    """One app for the module (its export process starts once) whose uploads may be 256 KiB
    at most; the examples' files are smaller."""
    app = make_app(tmp_path_factory.mktemp("data"), MAX_UPLOAD_BYTES=256 * 2**10)
    yield app
    app.extensions["layerlab"].close()


def post(client, data: bytes, name: str = "model.onnx"):
    return client.post("/api/import", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_post_import_answers_a_design_whose_weights_start_a_run(small_app):
    client, data_dir = small_app.test_client(), small_app.extensions["layerlab"].data_dir
    data, network, module = exported("spiral_mlp")
    response = post(client, data)
    assert response.status_code == 201, response.data
    body = response.get_json()
    assert body["ok"] and body["warnings"] == [] and len(body["weights"]) == 16
    assert graph_of(body["document"]) == graph_of(network)
    assert weights_upload_path(data_dir, body["weights"]).is_file()
    doc = body["document"]
    doc["training"].update(init={"weights": body["weights"]}, epochs=None, steps=3)
    assert client.post("/api/validate", json=doc).get_json()["ok"]
    trainer = Trainer(doc, data_dir=data_dir)
    trainer.setup()
    for key, value in module.state_dict().items():
        assert torch.equal(trainer.model.state_dict()[key].cpu(), value), key
    result = Trainer(doc, data_dir=data_dir).run()
    assert result.state == "finished" and result.steps == 3


def test_post_import_refuses_bad_files_in_the_error_shape(small_app):
    client = small_app.test_client()
    for case, data in bad_files().items():
        response = post(client, data)
        assert response.status_code == 400, case
        body = response.get_json()
        assert body["error"] == "invalid_upload" and body["message"], case
        assert set(body) == {"error", "message", "details"}
    body = post(client, odd_model()).get_json()
    assert [(d["node"], d["op"]) for d in body["details"]] == [("odd_cos", "Cos"),
                                                               ("odd_round", "Round")]
    big = post(client, random.Random(1).randbytes(300 * 2**10))
    assert big.status_code == 413 and big.get_json()["error"] == "too_large"
    assert client.post("/api/import", json={"file": "x"}).status_code == 415
    missing = client.post("/api/import", data={}, content_type="multipart/form-data")
    assert missing.status_code == 400 and "'file'" in missing.get_json()["message"]
