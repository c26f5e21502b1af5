"""`training.init` (CONTRACTS.md §7): start a run from weights instead of fresh ones. Pure: the
weights file's safetensors header is read as JSON (no torch), so a design that the weights do
not fit is refused at validation, on the node, before a worker is asked.

    {"weights": UPLOAD_ID}   an uploaded (or imported) weights file
    {"run": RUN_ID}          the weights an earlier run left
"""

from __future__ import annotations

import json
import re
import struct
from math import prod
from pathlib import Path
from typing import Any

from server.graph.network import Network
from server.graph.rules import fmt, show

ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
BUFFERS = ("running_mean", "running_var", "num_batches_tracked")  # state, not parameters
MAX_HEADER = 100 * 2**20  # a safetensors header past this is not one a design could fit
# Trained weights shipped with the examples (scripts/train_examples.py writes them), reached as
# the uploads "example-<example id>", which no real upload id (hex) can be.
EXAMPLE_WEIGHTS = Path(__file__).resolve().parents[1] / "examples" / "weights"
EXAMPLE_PREFIX = "example-"


class InitError(ValueError):
    """A training.init that cannot be used; `field` is the key at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


def weights_upload_path(data_dir, upload_id: str) -> Path:
    """Where an uploaded weights file lives (an example's trained weights: where they ship)."""
    if upload_id.startswith(EXAMPLE_PREFIX):
        return example_weights_path(upload_id[len(EXAMPLE_PREFIX):])
    return Path(data_dir) / "uploads" / f"{upload_id}.safetensors"


def example_weights_path(example_id: str) -> Path:
    """The trained weights shipped for an example design."""
    return EXAMPLE_WEIGHTS / f"{example_id}.safetensors"


def run_weights_path(data_dir, run_id: str) -> Path:
    """Where a run's weights file lives."""
    return Path(data_dir) / "runs" / run_id / "weights.safetensors"


def init_path(init: Any, data_dir) -> Path:
    """The weights file a checked training.init names (InitError when it is not there)."""
    if not isinstance(init, dict) or len(init) != 1 or next(iter(init)) not in ("weights", "run"):
        raise InitError('training.init must be {"weights": upload id} or {"run": run id}; got '
                        f"{show(init)}")
    (key, value), = init.items()
    if not isinstance(value, str) or not ID.match(value):
        raise InitError(f"training.init.{key} must be an id (letters, digits, _ or -); got "
                        f"{show(value)}", key)
    if data_dir is None:
        return Path(value)  # nothing to look in: the worker resolves it with its data folder
    path = (weights_upload_path(data_dir, value) if key == "weights"
            else run_weights_path(data_dir, value))
    if not path.is_file():
        what = (f"upload {value!r} holds no weights; import or upload them again"
                if key == "weights" else
                f"run {value!r} left no weights (it has not finished, failed, or was deleted)")
        raise InitError(what, key)
    return path


def read_header(path: Path) -> dict[str, list[int]]:
    """{tensor name: shape} of a safetensors file, from its JSON header."""
    try:
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size > MAX_HEADER:
                raise ValueError("header too large")
            header = json.loads(f.read(size))
    except (OSError, ValueError, struct.error) as e:
        raise InitError(f"{path.name} is not a safetensors weights file ({e})") from None
    return {k: list(v["shape"]) for k, v in header.items() if k != "__metadata__"}


def check_init(network: Network, shapes: dict[str, list[int]], prefixes: dict[str, str],
               err) -> None:
    """Each node with parameters finds as many in the weights: named by node, with shapes.

    `prefixes` maps a node id to its tensors' prefix ("layers.fc1." in a plain model); the
    exact shapes are checked again when the weights are loaded."""
    for node in network.nodes:
        if node.shape is None or node.id not in prefixes:
            continue
        prefix = prefixes[node.id]
        mine = {k[len(prefix):]: v for k, v in shapes.items() if k.startswith(prefix)}
        params = {k: v for k, v in mine.items() if k.rsplit(".", 1)[-1] not in BUFFERS}
        count = sum(prod(v) for v in params.values())
        if count == node.n_params:
            continue
        if not params:
            err(node.id, None, f"the init weights hold nothing for '{node.id}' (no tensor named "
                f"{prefix}*); they were trained for another design")
            continue
        listed = ", ".join(f"{k} {fmt(tuple(v))}" for k, v in sorted(params.items()))
        err(node.id, None, f"the init weights do not fit '{node.id}': it has {node.n_params:,} "
            f"parameters in the design, {count:,} in the weights ({listed})")


def prefixes_of(network: Network) -> dict[str, str]:
    """Node id -> tensor-name prefix in the run's weights: one module's `layers.ID.`, or a
    gan's `generator.layers.ID.` and `discriminator.layers.ID.`."""
    if network.training.get("kind") == "gan":
        from server.graph.gan import split

        g, d = split(network)
        return {**{n.id: f"generator.layers.{n.id}." for n in g.nodes},
                **{n.id: f"discriminator.layers.{n.id}." for n in d.nodes}}
    return {n.id: f"layers.{n.id}." for n in network.nodes}
