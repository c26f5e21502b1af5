"""Which documents a baseline takes: a valid supervised design with a dataset of its own task."""

from __future__ import annotations

import hashlib
import json

from server.graph import DocumentError, Network, validate
from server.graph.kinds import SPECS

MAX_TREES = 1000  # the most trees one baseline grows
TASKS = ("classification", "regression")  # what a forest predicts


class BaselineError(Exception):
    """A baseline that cannot be fitted: a code clients branch on, a message people read, and
    the document's problems as {node, param, message} where there are some."""

    def __init__(self, code: str, message: str, errors: list | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.errors = errors or []


def trees_problem(value: object, label: str = "trees") -> str | None:
    """Why `value` is not a number of trees (a whole number from 1 to MAX_TREES), or None."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TREES:
        shown = json.dumps(value) if isinstance(value, (int, float, str, bool)) else (
            type(value).__name__)
        return f"{label} must be a whole number from 1 to {MAX_TREES:,}; got {shown[:80]}"
    return None


def check_document(doc: object, data_dir=None) -> Network:
    """The checked network of a document a baseline can be fitted on; raises BaselineError
    (`invalid_document`) with the same {node, param, message} errors as validate and train,
    or the one error that says why a valid design has no baseline."""
    report = validate(doc, data_dir=data_dir)
    network = report.network
    kind = network.training.get("kind", "supervised") if network is not None else None
    if kind is not None and not SPECS[kind].baseline:
        refuse("training.kind", f"the baseline compares with supervised designs; this is a "
               f"{kind} design")
    if report.errors:
        raise invalid(report.errors)
    if network.dataset is None:
        refuse("training.dataset", "choose a dataset to fit the baseline on")
    if network.training.get("task") == "reconstruction":
        refuse("training.task", "the baseline predicts the dataset's own targets; this design "
               "reconstructs its input (training.task is reconstruction), which a forest does "
               "not compare with")
    if network.dataset.task not in TASKS:
        refuse("training.dataset", f"the baseline fits classification or regression data; "
               f"{network.dataset.name} is a {network.dataset.task} dataset")
    return network


def refuse(param: str, message: str):
    """Raise the one error of a document that has no baseline."""
    raise invalid([{"node": None, "param": param, "message": message}])


def invalid(errors: list[dict]) -> BaselineError:
    """The invalid_document error of a document's problems (its message is the first's)."""
    return BaselineError("invalid_document", f"the baseline cannot be fitted: "
                         f"{DocumentError(errors)}", errors)


def dataset_key(network: Network) -> str:
    """A stable hash of a checked network's dataset spec, defaults filled ({} and the defaults
    are the same data): a design's baselines are kept one per dataset."""
    return spec_key({"name": network.dataset.name, **network.dataset.params})


def spec_key(spec: dict) -> str:
    """The hash of a resolved dataset spec ({"name", **params with defaults}): 16 hex digits."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
