"""The shipped 8x8 digits (UCI optdigits test set, via scikit-learn's digits.csv.gz)."""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

import numpy as np

DIGITS_FILE = Path(__file__).parent / "files" / "digits.csv.gz"


@functools.lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(DIGITS_FILE, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.float32)
    x = (table[:, :-1] / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    y = table[:, -1].astype(np.int64)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits in file order: x float32 (1797, 1, 8, 8) in 0..1, labels int64."""
    x, y = _raw()
    return x.copy(), y.copy()
