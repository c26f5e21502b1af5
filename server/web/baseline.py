"""The random-forest baseline for POST /api/baseline and the `baseline` event: the document
checked here (cheap, pure), the forest fitted in the baseline pool, the result stored with the
design's runs (by design and dataset) and answered."""

from __future__ import annotations

import re
from collections.abc import Callable

from server.baseline import BaselineError, check_document, dataset_key, trees_problem
from server.baseline.check import spec_key
from server.baseline.result import json_ready
from server.data import DatasetError
from server.data.catalog import resolve
from server.runs.run import design_key
from server.web.errors import ApiError
from server.web.services import lab

DEFAULT_TREES = 100
KEY = re.compile(r"^[0-9a-f]{16}$")  # what design_key and dataset_key look like
SUMMARY = ("trees", "task", "val_accuracy", "val_loss", "loss", "seconds", "dataset_key",
           "created")  # what a run listing shows of its design's baseline


def fit(document: dict, trees: object = DEFAULT_TREES,
        progress: Callable[[dict], None] | None = None) -> dict:
    """The baseline JSON of a document (boundary bytes as bytes), stored with its design;
    `progress` gets {design_key, trees, grown} as the forest grows. Raises ApiError."""
    problem = trees_problem(trees)
    if problem:
        raise ApiError("bad_request", problem, [{"field": "trees", "message": problem}])
    services = lab()
    try:
        network = check_document(document, data_dir=services.data_dir)
    except BaselineError as e:
        raise ApiError(e.code, e.message, e.errors) from None
    keys = {"design_key": design_key(document), "dataset_key": dataset_key(network)}

    def grown(count: int) -> None:
        if progress is not None:
            progress({"design_key": keys["design_key"], "trees": trees, "grown": count})

    try:
        result = services.baselines.call(document, trees, str(services.data_dir), grown)
    except BaselineError as e:
        raise ApiError(e.code, e.message, e.errors) from None
    return services.store.save_baseline(keys["design_key"], keys["dataset_key"],
                                        {**result, **keys})


def stored(design: str, dataset: str | None = None) -> list[dict]:
    """A design's stored baselines (on one dataset when given), newest first, as JSON."""
    for field, value in (("design_key", design), ("dataset_key", dataset)):
        if value is not None and not KEY.match(value):
            message = f"{field} must be 16 hex digits, as runs and baselines carry it"
            raise ApiError("bad_request", message, [{"field": field, "message": message}])
    return [json_ready(b) for b in lab().store.baselines([design], dataset)]


def with_baselines(runs: list[dict]) -> list[dict]:
    """Run listings with `baseline`: their design's stored baseline on the run's own dataset
    (trees, task, val_accuracy or val_loss and loss, seconds, dataset_key, created), or null."""
    keys = sorted({r["design_key"] for r in runs if r.get("design_key")})
    found = {(b["design_key"], b["dataset_key"]): b for b in lab().store.baselines(keys)}
    for run in runs:
        baseline = found.get((run.get("design_key"), run_dataset_key(run.get("training"))))
        run["baseline"] = ({k: baseline[k] for k in SUMMARY if k in baseline}
                           if baseline is not None else None)
    return runs


def run_dataset_key(training: object) -> str | None:
    """The dataset_key of a run's training section, None where it has no valid dataset."""
    spec = training.get("dataset") if isinstance(training, dict) else None
    if spec is None:
        return None
    try:
        meta, params = resolve(spec)
    except DatasetError:
        return None
    return spec_key({"name": meta.name, **params})
