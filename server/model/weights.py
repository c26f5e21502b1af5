"""Weights files: safetensors (or a state_dict read with weights_only=True), written atomically.

A weights file from a stranger never runs code: safetensors holds only tensors, and the
fallback uses torch.load(weights_only=True).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn


class WeightsError(Exception):
    """A weights file cannot be read or does not fit the design."""


def save_weights(model: nn.Module | dict, path: str | os.PathLike) -> Path:
    """Write a model's state_dict as safetensors; a crash mid-write leaves no partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = model.state_dict() if isinstance(model, nn.Module) else model
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".weights-", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a safetensors file (or a plain state_dict saved by torch.save) without running code."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist")
    try:
        return load_file(str(path))
    except Exception:  # not safetensors: try a state_dict, still without code execution
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise WeightsError(f"{path} is neither a safetensors file nor a state_dict "
                               f"({type(e).__name__}: {e})") from e
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} does not hold a state_dict of tensors")
    return state


def apply_weights(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load a state_dict strictly, saying which layers do not fit."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k} is {list(state[k].shape)}, the design needs {list(v.shape)}"
             for k, v in own.items() if k in state and state[k].shape != v.shape]
    problems = []
    if missing:
        problems.append("missing " + ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else ""))
    if unexpected:
        problems.append("unexpected " + ", ".join(unexpected[:5])
                        + (" ..." if len(unexpected) > 5 else ""))
    problems += wrong[:5]
    if problems:
        raise WeightsError("the weights do not fit this design: " + "; ".join(problems))
    model.load_state_dict(state, strict=True)
