"""The 2-D sets of TensorFlow Playground (dataset.ts), vectorised with numpy.

Coordinates follow TF Playground (about -6..6) and are then divided by `PLANE_SCALE` (6), so
points lie in about [-1, 1] x [-1, 1]. Labels are 1 for TF's positive class and 0 for the
negative one. `noise` is TF's noise slider / 100 (0.1 = slider at 10).
"""

from __future__ import annotations

import numpy as np

from .catalog import PLANE_SCALE


def _halves(n: int) -> tuple[int, int]:
    return n // 2, n - n // 2


def circle(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A disc of class 1 inside a ring of class 0 (labels judged at a noisy position)."""
    radius = 5.0
    n_in, n_out = _halves(n)
    r = np.concatenate([rng.uniform(0, radius * 0.5, n_in), rng.uniform(radius * 0.7, radius,
                                                                           n_out)])
    angle = rng.uniform(0, 2 * np.pi, n)
    xy = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    jitter = rng.uniform(-radius, radius, (n, 2)) * noise
    label = np.linalg.norm(xy + jitter, axis=1) < radius * 0.5
    return xy, label.astype(np.int64)


def xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Class 1 where x*y >= 0 (quadrants I and III), padded away from the axes."""
    xy = rng.uniform(-5, 5, (n, 2))
    xy += np.where(xy > 0, 0.3, -0.3)
    jitter = rng.uniform(-5, 5, (n, 2)) * noise
    p = xy + jitter
    return xy, (p[:, 0] * p[:, 1] >= 0).astype(np.int64)


def gaussian(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian blobs at (2, 2) (class 1) and (-2, -2) (class 0); noise widens them."""
    variance = 0.5 + noise * 7.0  # TF: linear [0, 0.5] -> [0.5, 4]
    n_pos, n_neg = _halves(n)
    centers = np.concatenate([np.full((n_pos, 2), 2.0), np.full((n_neg, 2), -2.0)])
    xy = centers + rng.normal(0.0, np.sqrt(variance), (n, 2))
    label = np.concatenate([np.ones(n_pos), np.zeros(n_neg)])
    return xy, label.astype(np.int64)


def spiral(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals, class 1 and class 0 half a turn apart."""
    parts, labels = [], []
    for count, delta, label in ((n // 2, 0.0, 1), (n - n // 2, np.pi, 0)):
        i = np.arange(count)
        r = i / count * 5
        t = 1.75 * i / count * 2 * np.pi + delta
        xy = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
        parts.append(xy + rng.uniform(-1, 1, (count, 2)) * noise)
        labels.append(np.full(count, label))
    return np.concatenate(parts), np.concatenate(labels).astype(np.int64)


def plane(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Regression: target (x + y) / 10 in TF units, read at a noisy position (about -1.2..1.2)."""
    xy = rng.uniform(-6, 6, (n, 2))
    p = xy + rng.uniform(-6, 6, (n, 2)) * noise
    return xy, ((p[:, 0] + p[:, 1]) / 10.0)[:, None]


_BUMPS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1],
                   [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]], dtype=np.float64)


def multi_gaussian(n: int, noise: float,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Regression: six signed bumps; the target is the strongest bump at the point (-1..1)."""
    xy = rng.uniform(-6, 6, (n, 2))
    p = xy + rng.uniform(-6, 6, (n, 2)) * noise
    d = np.linalg.norm(p[:, None, :] - _BUMPS[None, :, :2], axis=2)  # (n, 6)
    values = _BUMPS[None, :, 2] * np.clip(1.0 - d / 2.0, 0.0, 1.0)
    pick = np.argmax(np.abs(values), axis=1)
    return xy, values[np.arange(n), pick][:, None]


GENERATORS = {"circle": circle, "xor": xor, "gaussian": gaussian, "spiral": spiral,
              "plane": plane, "multi_gaussian": multi_gaussian}


def generate(name: str, n: int, noise: float,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Generate n points of a 2-D set: x float32 (n, 2) scaled to about -1..1, and its targets."""
    xy, y = GENERATORS[name](n, noise, rng)
    x = (xy / PLANE_SCALE).astype(np.float32)
    return x, (y if y.dtype == np.int64 else y.astype(np.float32))
