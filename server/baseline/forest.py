"""The forest itself: a design's split flattened, a random forest grown on it, its score on the
validation split and, on 2-D data, its output over the plane as a run_boundary frame."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from server.baseline.check import BaselineError
from server.data import DatasetInfo, load_dataset
from server.graph import Network

BOUNDARY_SIZE = (64, 64)  # rows, columns: Insight's run_boundary grid
STEPS = 20  # the forest grows in about this many steps, each one a tick of the progress bar
LOSSES = ("mse", "l1")  # regression val_loss: the design's own loss where it is one of these


@dataclass
class Split:
    """A design's train and validation data as the forest sees it: one row per example."""

    x_train: np.ndarray  # float32 (N, F): each example flattened (images, sequences)
    y_train: np.ndarray  # int64 (N,) class indices, or float32 (N, T) regression targets
    x_val: np.ndarray  # float32 (M, F)
    y_val: np.ndarray  # int64 (M,) or float32 (M, T)
    info: DatasetInfo


@dataclass
class Fitted:
    """A grown forest, the data it saw and the baseline JSON it scored."""

    forest: RandomForestClassifier | RandomForestRegressor
    split: Split
    result: dict  # {"ok", "model", "trees", "val_accuracy" | "val_loss", "seconds", ...}


def load_split(network: Network, data_dir=None) -> Split:
    """The arrays the Trainer trains and validates on (the loader of Loop._load, on the same
    spec), each example flattened to one row."""
    data = load_dataset(network.training["dataset"], data_dir)
    if not (np.isfinite(data.x_train).all() and np.isfinite(data.x_val).all()):
        raise BaselineError("baseline_failed", "the dataset has NaN or infinite input values; "
                            "clean the data")

    def rows(a: np.ndarray, dtype) -> np.ndarray:
        return np.ascontiguousarray(a.reshape(a.shape[0], -1), dtype=dtype)

    if data.info.task == "classification":
        y_train, y_val = data.y_train.astype(np.int64), data.y_val.astype(np.int64)
    else:
        y_train, y_val = rows(data.y_train, np.float32), rows(data.y_val, np.float32)
    return Split(rows(data.x_train, np.float32), y_train, rows(data.x_val, np.float32), y_val,
                 data.info)


def fit_forest(network: Network, trees: int, *, data_dir=None, jobs: int = 1,
               progress: Callable[[int], None] | None = None) -> Fitted:
    """Grow `trees` trees on the design's train split (seeded by training.seed), a few at a time
    so that `progress(trees so far)` can follow, and score them on its validation split."""
    split = load_split(network, data_dir)
    classify = split.info.task == "classification"
    workers = jobs if jobs >= 1 else (os.cpu_count() or 1)
    step = max(workers, math.ceil(trees / STEPS))
    kind = RandomForestClassifier if classify else RandomForestRegressor
    forest = kind(n_estimators=min(step, trees), warm_start=True,
                  random_state=network.training["seed"], n_jobs=workers)
    y = split.y_train if classify or split.y_train.shape[1] > 1 else split.y_train[:, 0]
    t0 = time.perf_counter()
    grown = 0
    while grown < trees:
        # warm_start keeps the trees grown so far and draws the next ones' seeds where a single
        # fit would: the forest is the same as one grown in one go.
        grown = min(trees, grown + step)
        forest.set_params(n_estimators=grown)
        forest.fit(split.x_train, y)
        if progress is not None:
            progress(grown)
    seconds = time.perf_counter() - t0
    result = {"ok": True, "model": "random_forest", "trees": trees, "task": split.info.task,
              **score(forest, split, network.training.get("loss", "auto")),
              "seconds": round(seconds, 4), "train_samples": int(split.x_train.shape[0]),
              "val_samples": int(split.x_val.shape[0]), "features": int(split.x_train.shape[1]),
              "dataset": {"name": split.info.name, **split.info.params}}
    frame = boundary(forest, split.info)
    if frame is not None:
        result["boundary"] = frame
    return Fitted(forest, split, result)


def score(forest, split: Split, loss: str) -> dict:
    """val_accuracy (classification), or val_loss as the Trainer's evaluate computes it for the
    design's loss: the mean over every target element of the squared (mse; auto) or absolute
    (l1) error."""
    pred = forest.predict(split.x_val)
    if split.info.task == "classification":
        return {"val_accuracy": float(np.mean(pred == split.y_val))}
    loss = loss if loss in LOSSES else "mse"
    error = pred.reshape(split.y_val.shape).astype(np.float64) - split.y_val
    value = np.mean(error ** 2) if loss == "mse" else np.mean(np.abs(error))
    return {"val_loss": float(value), "loss": loss}


def boundary(forest, info: DatasetInfo) -> dict | None:
    """The forest's output over the input plane, as Insight's boundary frame (2-D data only):
    {size, extent, mode, min, max, data}; mode "probability" (of class 1, fixed 0..1 scale),
    "class" (the class index) or "value" (the regression's first target)."""
    if info.extent is None or tuple(info.input_shape) != (2,):
        return None
    h, w = BOUNDARY_SIZE
    grid = plane_grid(info.extent, (h, w))
    if info.task == "classification" and info.num_classes == 2:
        classes = list(forest.classes_)
        proba = forest.predict_proba(grid)
        values = proba[:, classes.index(1)] if 1 in classes else np.zeros(len(grid))
        frame = quantize_fixed(values, 0.0, 1.0)
        mode = "probability"
    else:
        values = forest.predict(grid).reshape(len(grid), -1)[:, 0]
        frame = quantize(values)
        mode = "class" if info.task == "classification" else "value"
    return {"size": [h, w], "extent": list(info.extent), "mode": mode, **frame}


def plane_grid(extent, size: tuple[int, int]) -> np.ndarray:
    """Points covering extent (x0, x1, y0, y1) as float32 (h*w, 2), row-major, top row first:
    the grid of server.insight.frames.plane_grid."""
    x0, x1, y0, y1 = extent
    h, w = size
    xs = np.linspace(x0, x1, w, dtype=np.float32)
    ys = np.linspace(y1, y0, h, dtype=np.float32)  # image rows run top (y1) to bottom (y0)
    gy, gx = np.meshgrid(ys, xs, indexing="ij")
    return np.stack([gx.reshape(-1), gy.reshape(-1)], axis=1)


def quantize(values: np.ndarray) -> dict:
    """{min, max, data}: uint8 with 0 at min and 255 at max (Insight's quantize, in numpy)."""
    t = values.astype(np.float32)
    lo, hi = (t.min(), t.max()) if t.size else (np.float32(0), np.float32(0))
    q = np.round((t - lo) / max(hi - lo, np.float32(1e-12)) * 255).astype(np.uint8)
    return {"min": float(lo), "max": float(hi), "data": q.tobytes()}


def quantize_fixed(values: np.ndarray, lo: float, hi: float) -> dict:
    """{min, max, data} on a fixed scale (lo -> 0, hi -> 255), outside values clamped."""
    t = values.astype(np.float32)
    q = np.round(np.clip((t - lo) / (hi - lo) * 255, 0, 255)).astype(np.uint8)
    return {"min": lo, "max": hi, "data": q.tobytes()}
