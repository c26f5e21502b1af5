"""The training section's schema (server/graph/training.py): served whole at GET /api/training,
the one source of validation's checks, the live rates' bounds and the page's form."""

from __future__ import annotations

import copy
import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest

from server.graph import validate
from server.graph.kinds import SPECS, STEP_NAMES
from server.graph.training import BY_PATH, FIELDS, KINDS, live_hparams, resolve_training
from tests.live import example

ROOT = Path(__file__).resolve().parents[1]
FIELD_KEYS = {"path", "name", "type", "default", "min", "max", "min_exclusive", "max_exclusive",
              "choices", "pattern", "nullable", "doc", "kinds", "when", "default_by", "label"}
# A valid design of each kind.
DOCS = {"supervised": "spiral_mlp", "gan": "gan_gaussians", "dqn": "dqn_cartpole"}


def strict(text: str):
    def refuse(name):
        raise ValueError(f"{name} in strict JSON")

    return json.loads(text, parse_constant=refuse)


def set_path(training: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for key in parents:
        training = training.setdefault(key, {})
    training[last] = value


def design_for(f) -> dict:
    """A valid design of the field's (first) kind, with the fields its `when` needs."""
    # Pre-training needs Linear + Sigmoid layers to pre-train: the deep belief net has them.
    doc = example("digits_dbn" if f.path.startswith("pretrain.") else DOCS[f.kinds[0]])
    if f.path == "pretrain.method":
        doc["training"]["pretrain"] = {"method": "rbm"}  # the fields of rbm only come with it
    for path, allowed in f.when:
        set_path(doc["training"], path, allowed[0])
    return doc


# -- served ------------------------------------------------------------------------------------

def test_every_field_of_every_kind_is_served_as_strict_json(client):
    res = client.get("/api/training")
    assert res.status_code == 200
    body = strict(res.get_data(as_text=True))
    assert set(body) == {"fields", "kinds"}
    assert [f["path"] for f in body["fields"]] == [f.path for f in FIELDS]
    for served in body["fields"]:
        assert set(served) == FIELD_KEYS, served
        f = BY_PATH[served["path"]]
        assert served["doc"] and served["type"] == f.type and set(served["kinds"]) <= set(KINDS)
        if served["choices"]:
            assert served["default"] in served["choices"], served
    assert BY_PATH["kind"].choices == KINDS == tuple(k["name"] for k in body["kinds"])
    assert "steps" in BY_PATH and BY_PATH["device"].choices == ("auto", "cpu", "cuda")


@pytest.mark.parametrize("f", FIELDS, ids=lambda f: f.path)
def test_every_default_is_one_of_its_fields_values(f):
    unset = f.default is None and (f.nullable or f.type in ("dataset", "environment"))
    assert unset or f.problem(f.default) is None


def test_each_kind_is_described_with_its_metrics_steps_and_live_rates(client):
    kinds = {k["name"]: k for k in client.get("/api/training").get_json()["kinds"]}
    sup, gan = kinds["supervised"], kinds["gan"]
    assert [m["name"] for m in sup["metrics"]] == ["train_loss", "train_accuracy", "val_loss",
                                                   "val_accuracy", "lr"]
    assert sup["steps"] == [{"name": "both", "label": "Step", "doc": "One optimizer step"}]
    assert {m["name"]: m["chart"] for m in gan["metrics"]} == {
        "d_loss": "loss", "g_loss": "loss", "d_real": "discriminator", "d_fake": "discriminator",
        "mmd": "mmd", "lr": None, "generator_lr": None}
    assert [(s["name"], s["label"]) for s in gan["steps"]] == [
        ("d", "Step D"), ("g", "Step G"), ("both", "Step both")]
    assert [(h["name"], h["path"]) for h in gan["hparams"]] == [
        ("lr", "optimizer.lr"), ("generator_lr", "gan.generator_optimizer.lr")]
    for kind in kinds.values():
        assert kind["doc"] and all(m["doc"] for m in kind["metrics"])
        for h in kind["hparams"]:
            field = BY_PATH[h["path"]]
            assert (h["min"], h["max"], h["min_exclusive"]) == (
                field.min, field.max, field.min_exclusive), h
    assert set(STEP_NAMES) == {"d", "g", "both"} and set(SPECS) == set(KINDS)


# -- validation comes from the table --------------------------------------------------------------

def bad_values(f) -> list:
    """Values the field must refuse: the wrong type, just outside each bound, not a choice."""
    out = [] if f.nullable else [None]
    if f.type in ("int", "float"):
        out += ["3", True] + ([1.5] if f.type == "int" else [])
        step = 1 if f.type == "int" else 0.5
        if f.min is not None:
            out.append(f.min if f.min_exclusive else f.min - step)
        if f.max is not None:
            out.append(f.max if f.max_exclusive else f.max + step)
    elif f.type == "bool":
        out += ["yes", 1]
    elif f.type == "choice":
        out += ["nope", 3, ["auto"]]
    else:
        out += [5, "spiral"]
    return out


CASES = [(f, v) for f in FIELDS for v in bad_values(f)]


@pytest.mark.parametrize("f, value", CASES, ids=[f"{f.path}={v!r}" for f, v in CASES])
def test_each_field_refuses_what_its_entry_refuses_naming_it(f, value):
    doc = design_for(f)
    set_path(doc["training"], f.path, value)
    errors = validate(doc).errors
    assert {e["param"] for e in errors} == {f"training.{f.path}"}, errors
    (error,) = errors
    assert error["node"] is None and (f.label or f.path) in error["message"], error


def good_values(f) -> list:
    if f.type in ("int", "float"):
        tiny = 1 if f.type == "int" else 1e-9
        low = f.min + tiny if f.min_exclusive else f.min
        high = f.max - tiny if f.max_exclusive else f.max
        return [v for v in (low, high) if v is not None]
    if f.type == "choice":
        return list(f.choices)
    return [True, False] if f.type == "bool" else []


GOOD = [(f, v) for f in FIELDS for v in good_values(f)]


@pytest.mark.parametrize("f, value", GOOD, ids=[f"{f.path}={v!r}" for f, v in GOOD])
def test_each_field_takes_its_values_up_to_its_bounds(f, value):
    training = {} if f.path == "kind" else copy.deepcopy(design_for(f)["training"])
    set_path(training, f.path, value)
    errors: list = []
    resolve_training(training, errors)
    assert errors == []


def test_grad_clip_zero_is_refused():
    doc = example(optimizer={"name": "adam", "grad_clip": 0})
    (error,) = validate(doc).errors
    assert error["param"] == "training.optimizer.grad_clip"
    assert "grad_clip must be a positive number; got 0" in error["message"]


def test_device_takes_cuda_n_as_its_pattern_says():
    for device in ("cuda:1", "cuda:12", "mps"):
        errors: list = []
        assert resolve_training({"device": device}, errors)["device"] == device and not errors
    errors = []
    resolve_training({"device": "cuda:123"}, errors)
    assert errors[0]["param"] == "training.device"


def test_a_field_of_another_kind_is_an_error_naming_it_and_its_kind():
    doc = example(gan={"d_steps": 2})
    (error,) = validate(doc).errors
    assert error["param"] == "training.gan"
    assert "training.gan is only used by kind gan" in error["message"]
    doc = example("gan_gaussians", loss="mse", task="reconstruction")
    messages = {e["param"]: e["message"] for e in validate(doc).errors}
    assert set(messages) == {"training.loss", "training.task"}, messages
    assert "training.loss is only used by kind supervised" in messages["training.loss"]


def test_an_unknown_kind_lists_the_known_ones_and_is_the_one_error():
    errors: list = []
    resolve_training({"kind": "ppo", "gan": {}, "loss": "mse"}, errors)
    assert [e["param"] for e in errors] == ["training.kind"]
    assert "supervised, gan, dqn" in errors[0]["message"] and "'ppo'" in errors[0]["message"]


def test_resolved_sections_keep_their_keys_and_add_kind_and_a_gans_game():
    errors: list = []
    out = resolve_training({"optimizer": {"name": "sgd", "momentum": 0.9}}, errors)
    assert not errors
    assert set(out) == {"kind", "task", "loss", "batch_size", "epochs", "steps", "episodes",
                        "seed", "device", "precision", "optimizer", "pretrain"}
    assert out["pretrain"] == {"method": "none"}
    assert out["kind"] == "supervised" and out["epochs"] is None and out["steps"] is None
    assert out["optimizer"] == {"name": "sgd", "lr": 0.1, "weight_decay": 0.0, "grad_clip": None,
                                "momentum": 0.9, "nesterov": False}
    gan = resolve_training(example("gan_digits")["training"], errors)
    assert not errors and gan["kind"] == "gan"
    assert gan["gan"] == {"loss": "log", "d_steps": 1, "g_steps": 1, "generator_optimizer": {
        "name": "adam", "lr": 0.0005, "weight_decay": 0.0, "grad_clip": None, "beta1": 0.5,
        "beta2": 0.999}}


def test_a_field_of_another_method_names_the_field_it_needs():
    errors: list = []
    resolve_training({"pretrain": {"method": "none", "k": 2}}, errors)
    assert [e["param"] for e in errors] == ["training.pretrain.k"]
    assert "pretrain.k is used only when pretrain.method is rbm" in errors[0]["message"]


def test_a_misspelt_optimizer_is_the_one_error():
    errors: list = []
    out = resolve_training({"optimizer": {"name": "adamm", "momentum": 0.5}}, errors)
    assert [e["param"] for e in errors] == ["training.optimizer.name"]
    assert out["optimizer"]["name"] == "adam" and out["optimizer"]["lr"] == 0.01


# -- the page checks with the same entries ------------------------------------------------

def boundary_cases() -> list[tuple[str, float]]:
    out = []
    for f in FIELDS:
        if f.type not in ("int", "float"):
            continue
        step = 1 if f.type == "int" else 0.25
        for bound in (f.min, f.max):
            if bound is not None and abs(bound) < 1e15:
                out += [(f.path, v) for v in (bound - step, bound, bound + step)]
    return out


def test_the_page_marks_invalid_exactly_what_the_server_refuses(client, tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    cases = boundary_cases()
    assert ("optimizer.grad_clip", 0) in cases
    (tmp_path / "schema.json").write_text(client.get("/api/training").get_data(as_text=True))
    (tmp_path / "cases.json").write_text(json.dumps(
        [[p, str(int(v)) if BY_PATH[p].type == "int" else repr(float(v))] for p, v in cases]))
    static = (ROOT / "static" / "js").as_uri()
    script = f"""
import {{ readFileSync }} from 'node:fs';
import {{ TrainingSchema }} from '{static}/training-schema.js';
import {{ paramOf }} from '{static}/training-form.js';
import {{ parseValue }} from '{static}/fields.js';
const schema = new TrainingSchema(JSON.parse(readFileSync('{tmp_path}/schema.json', 'utf8')));
const cases = JSON.parse(readFileSync('{tmp_path}/cases.json', 'utf8'));
console.log(JSON.stringify(cases.map(([path, text]) =>
  parseValue(paramOf(schema, schema.field(path), {{}}), text).error === null)));
"""
    run = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    page = json.loads(run.stdout)
    server = [BY_PATH[p].problem(int(v) if BY_PATH[p].type == "int" else float(v)) is None
              for p, v in cases]
    differ = [(p, v, s) for (p, v), s, b in zip(cases, server, page, strict=True) if s != b]
    assert not differ, f"page and server disagree (path, value, server accepts): {differ}"


# -- the events read their bounds and step names from it ---------------------------------------

def refused(ack, *words: str) -> None:
    assert ack["ok"] is False and ack["error"] == "bad_request", ack
    for word in words:
        assert word in ack["message"], ack["message"]


@pytest.mark.parametrize("payload, words", [
    ({"generator_lr": 0}, ("generator_lr", "(0, 10]")),
    ({"generator_lr": "fast"}, ("generator_lr",)),
    ({"lr": 10.5}, ("lr must be a number in (0, 10]",)),
])
def test_set_hparams_bounds_are_the_fields(sio_client, payload, words):
    ack = sio_client.emit("set_hparams", {"run_id": "r", "token": "t", **payload}, callback=True)
    refused(ack, *words)


def test_set_hparams_and_control_take_each_kinds_names(sio_client):
    assert set(live_hparams()) == {"lr", "generator_lr", "epsilon"}
    assert not math.isnan(live_hparams()["generator_lr"].max)
    ack = sio_client.emit("set_hparams", {"run_id": "nope", "token": "t", "generator_lr": 0.001},
                          callback=True)
    assert ack["error"] == "not_found", ack  # a valid rate: the run is what is missing
    ack = sio_client.emit("control", {"run_id": "nope", "token": "t", "action": "step",
                                      "network": "g"}, callback=True)
    assert ack["error"] == "not_found", ack
    ack = sio_client.emit("control", {"run_id": "r", "token": "t", "action": "step",
                                      "network": "x"}, callback=True)
    refused(ack, "network", "d", "g", "both")
