"""Training kinds (CONTRACTS.md §6): how a design learns, one module each.

Each kind module owns its loop, its metric names, its pictures and what it exports, behind the
same few names, and the run manager, worker, CLI and exports reach a kind only through them:

    NAME                      the `training.kind` it answers to
    trainer(network, **kw)    its trainer (Trainer's keywords: data_dir, control, on_point,
                              on_status, on_log, and overrides such as steps or device); `.run()`
                              returns a result with `.model`, `.history`, `.state`, `.steps`
    build(network, seed)      the nn.Module whose state_dict is the run's weights file
    summary(result)           the final figures of a run (`layerlab train --json`, `done`)
    onnx_target(network, model) -> (network, module, input name): what Export ONNX exports
    pytorch_source(network, model) -> str: what the PyTorch source export writes
    PICTURES                  {picture: (frames per second, producer(insight) -> payload)}
    insight(trainer)          the object PICTURES' producers read
    final_gradients(trainer)  measure gradient norms for the final health picture, if unset

The fields of each kind's training section are data in server/graph/training.py (served by
`GET /api/training`), as the layer catalog is.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# name -> module, imported on first use: the server process asks about kinds without torch.
MODULES = {"supervised": "server.kinds.supervised", "gan": "server.kinds.gan",
           "dqn": "server.kinds.dqn"}
# Every picture any kind makes (run_<name> events), for the server's INSIGHT_<NAME>_RATE settings.
PICTURE_NAMES = ("boundary", "generated", "environment", "activations", "health", "results",
                 "weights", "filters", "text")


def kind(name: str) -> ModuleType:
    """The kind module called `name` (a checked document's training.kind)."""
    return importlib.import_module(MODULES[name])


def kind_of(network) -> ModuleType:
    """The kind module of a checked network (or of a document's training section)."""
    training = network.training if hasattr(network, "training") else (
        (network or {}).get("training") or {})
    return kind(training.get("kind") or "supervised")
