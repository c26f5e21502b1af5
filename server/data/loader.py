"""`load_dataset`: a spec to numpy arrays (numpy is imported only when data is loaded)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .catalog import DatasetInfo, default_data_dir, describe
from .errors import DatasetError

if TYPE_CHECKING:
    import numpy as np

    from .downloads import Progress


@dataclass(eq=False)
class Dataset:
    """Train and validation arrays plus the DatasetInfo they match."""

    x_train: np.ndarray  # float32 (N, *input_shape)
    y_train: np.ndarray  # int64 (N,) class indices, or float32 (N, *target_shape)
    x_val: np.ndarray
    y_val: np.ndarray
    info: DatasetInfo

    @property
    def name(self) -> str:
        """The dataset's name."""
        return self.info.name

    @property
    def task(self) -> str:
        """"classification" or "regression"."""
        return self.info.task

    @property
    def input_shape(self) -> tuple:
        """One example's shape, without the batch dimension."""
        return self.info.input_shape

    @property
    def num_classes(self) -> int | None:
        """Number of classes (None for regression)."""
        return self.info.num_classes

    @property
    def target_shape(self) -> tuple:
        """One target's shape: () for class labels."""
        return self.info.target_shape

    @property
    def classes(self) -> list | None:
        """Class names, index i naming class i (None for regression)."""
        return self.info.classes


def split(x: np.ndarray, y: np.ndarray, n_val: int,
          rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Shuffle (x, y) with rng and cut off the first n_val as validation: (xt, yt, xv, yv)."""
    order = rng.permutation(len(x))
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]


def _csv(info: DatasetInfo, data_dir: Any, rng: np.random.Generator) -> tuple:
    import numpy as np

    from .csvfile import read_upload

    p = info.params
    feats, ys, _ = read_upload(data_dir, p["upload"], p["target"], p["task"])
    x = np.frombuffer(feats, dtype=np.float64).reshape(-1, info.input_shape[0])
    if info.task == "classification":
        y = np.frombuffer(ys, dtype=np.float64).astype(np.int64)
    else:
        y = np.frombuffer(ys, dtype=np.float64).astype(np.float32)[:, None]
    xt, yt, xv, yv = split(x, y, info.val_size or 0, rng)
    mean, std = xt.mean(axis=0), xt.std(axis=0)
    std[std == 0] = 1.0
    return ((xt - mean) / std).astype(np.float32), yt, ((xv - mean) / std).astype(np.float32), yv


def load_dataset(spec: Any, data_dir: str | os.PathLike | None = None,
                 progress: Progress | None = None) -> Dataset:
    """Load (generate, read or download) a dataset spec as numpy arrays, deterministic by seed."""
    import numpy as np

    info = describe(spec, data_dir)
    data_dir = data_dir if data_dir is not None else default_data_dir()
    p, name = info.params, info.name
    rng = np.random.default_rng(p["seed"])
    if name == "csv":
        return Dataset(*_csv(info, data_dir, rng), info=info)
    if name == "images":
        from .imagezip import load_images

        x, y = load_images(data_dir, p["upload"], p["size"], p["channels"])
        return Dataset(*split(x, y, info.val_size or 0, rng), info=info)
    if name == "text":
        from .textfile import load_text

        return Dataset(*load_text(data_dir, p["upload"], p["seq_len"], info.train_size or 0,
                                  info.val_size or 0, p["val_fraction"], rng), info=info)
    if name in ("mnist", "fashion_mnist"):
        from .downloads import load_idx_set

        xt, yt, xv, yv = load_idx_set(name, data_dir, progress)
        if p["samples"] is None:
            return Dataset(xt, yt, xv, yv, info=info)
        return Dataset(*split(xt[: p["samples"]], yt[: p["samples"]], info.val_size or 0, rng),
                       info=info)
    if name == "digits":
        from .digits import load_digits

        x, y = load_digits()
    elif name == "sine":
        from .sequences import sine

        x, y = sine(p["samples"], p["seq_len"], p["noise"], rng)
    elif name == "parity":
        from .sequences import parity

        x, y = parity(p["samples"], p["seq_len"], rng)
    else:
        from .synthetic import GENERATORS, generate

        if name not in GENERATORS:  # pragma: no cover - the catalog and loaders disagree
            raise DatasetError(f"no loader for dataset {name!r}", "name")
        x, y = generate(name, p["samples"], p["noise"], rng)
    return Dataset(*split(x, y, info.val_size or 0, rng), info=info)
