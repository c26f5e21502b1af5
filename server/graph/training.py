"""The document's `training` section: defaults and checks (pure; the trainer reads the result)."""

from __future__ import annotations

import re
from typing import Any

from server.graph.rules import show

LOSSES = ("auto", "cross_entropy", "mse", "l1", "bce_with_logits")
TASKS = ("auto", "reconstruction")
# Optimizer name -> the fields it takes besides the common ones.
OPTIMIZERS = {
    "sgd": {"momentum": 0.0, "nesterov": False},
    "adam": {},
    "adamw": {},
    "adagrad": {},
    "rmsprop": {"momentum": 0.0},
}
COMMON = {"lr": None, "weight_decay": 0.0, "grad_clip": None}
DEFAULT_LR = {"sgd": 0.1, "adam": 0.01, "adamw": 0.01, "adagrad": 0.05, "rmsprop": 0.01}
DEVICE_RE = re.compile(r"^(auto|cpu|cuda|cuda:\d{1,2}|mps)$")
KEYS = {"dataset", "task", "loss", "optimizer", "batch_size", "epochs", "steps", "seed", "device"}

DEFAULTS: dict[str, Any] = {
    "task": "auto",
    "loss": "auto",
    "batch_size": 32,
    "epochs": None,  # epochs and steps both None: run until stopped
    "steps": None,
    "seed": 0,
    "device": "auto",
}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def resolve_training(section: Any, errors: list[dict]) -> dict:
    """Fill defaults into a training section, appending a {node, param, message} per problem."""

    def err(field: str | None, message: str) -> None:
        param = f"training.{field}" if field else "training"
        errors.append({"node": None, "param": param, "message": message})

    if section is None:
        section = {}
    if not isinstance(section, dict):
        err(None, f"training must be an object; got {show(section)}")
        section = {}
    out = dict(DEFAULTS)
    for key, value in section.items():
        if key not in KEYS:
            err(key, f"unknown training field '{key}' (known: {', '.join(sorted(KEYS))})")
        elif key != "optimizer":
            out[key] = value
    if out["loss"] not in LOSSES:
        err("loss", f"loss must be one of {', '.join(LOSSES)}; got {show(out['loss'])}")
    if out["task"] not in TASKS:
        err("task", f"task must be 'auto' or 'reconstruction'; got {show(out['task'])}")
    if not _is_int(out["batch_size"]) or not 1 <= out["batch_size"] <= 65536:
        err("batch_size",
            f"batch_size must be an integer from 1 to 65536; got {show(out['batch_size'])}")
    for key in ("epochs", "steps"):
        v = out[key]
        if v is not None and (not _is_int(v) or not 1 <= v <= 100_000_000):
            err(key, f"{key} must be a positive integer; got {show(v)}")
    if not _is_int(out["seed"]) or not 0 <= out["seed"] < 2**63:
        err("seed", f"seed must be a non-negative integer; got {show(out['seed'])}")
    if not isinstance(out["device"], str) or not DEVICE_RE.match(out["device"]):
        err("device", f"device must be auto, cpu, cuda or cuda:N; got {show(out['device'])}")
    out["optimizer"] = _resolve_optimizer(section.get("optimizer"), err)
    if "dataset" in out and not isinstance(out["dataset"], dict):
        err("dataset", "dataset must be an object like {\"name\": \"spiral\"}")
        out.pop("dataset")
    return out


def _resolve_optimizer(opt: Any, err) -> dict:
    if opt is None:
        opt = {"name": "adam"}
    if not isinstance(opt, dict):
        err("optimizer", "optimizer must be an object like {\"name\": \"adam\", \"lr\": 0.01}")
        opt = {"name": "adam"}
    name = opt.get("name", "adam")
    if not isinstance(name, str) or name not in OPTIMIZERS:
        err("optimizer.name",
            f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {show(name)}")
        # Check the other fields against every optimizer's, so a misspelt name is the one error.
        name = "adam"
        allowed = {**COMMON, **{k: v for fields in OPTIMIZERS.values() for k, v in fields.items()}}
    else:
        allowed = {**COMMON, **OPTIMIZERS[name]}
    out = {"name": name, **allowed, "lr": DEFAULT_LR[name]}
    for key, value in opt.items():
        if key == "name":
            continue
        if key not in allowed:
            err(f"optimizer.{key}", f"{name} takes no field '{key}' "
                f"(it takes {', '.join(sorted(allowed))})")
            continue
        out[key] = value
    if not _is_num(out["lr"]) or not 0 < out["lr"] <= 10:
        err("optimizer.lr", f"lr must be a number in (0, 10]; got {show(out['lr'])}")
    if not _is_num(out["weight_decay"]) or not 0 <= out["weight_decay"] <= 1:
        err("optimizer.weight_decay",
            f"weight_decay must be in [0, 1]; got {show(out['weight_decay'])}")
    if out["grad_clip"] is not None and (not _is_num(out["grad_clip"]) or out["grad_clip"] <= 0):
        err("optimizer.grad_clip",
            f"grad_clip must be a positive number; got {show(out['grad_clip'])}")
    if "momentum" in out and (not _is_num(out["momentum"]) or not 0 <= out["momentum"] < 1):
        err("optimizer.momentum", f"momentum must be in [0, 1); got {show(out['momentum'])}")
    if "nesterov" in out and not isinstance(out["nesterov"], bool):
        err("optimizer.nesterov", f"nesterov must be true or false; got {show(out['nesterov'])}")
    return out
