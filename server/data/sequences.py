"""Sequence sets: `sine` (next-value regression) and `parity` (bit-parity classification)."""

from __future__ import annotations

import numpy as np

OMEGA_RANGE = (0.1, 0.6)  # radians per time step: periods of about 10 to 63 steps


def sine(n: int, seq_len: int, noise: float,
         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Noisy sine windows x (n, seq_len, 1) and the clean next value y (n, 1), both float32."""
    omega = rng.uniform(*OMEGA_RANGE, (n, 1))
    phase = rng.uniform(0.0, 2 * np.pi, (n, 1))
    wave = np.sin(omega * np.arange(seq_len + 1)[None, :] + phase)
    x = wave[:, :seq_len] + rng.normal(0.0, 1.0, (n, seq_len)) * noise
    return x[:, :, None].astype(np.float32), wave[:, seq_len:].astype(np.float32)


def parity(n: int, seq_len: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random bits x (n, seq_len, 1) float32 and their parity y (n,) int64 (1 = odd)."""
    bits = rng.integers(0, 2, (n, seq_len))
    return bits[:, :, None].astype(np.float32), (bits.sum(axis=1) % 2).astype(np.int64)
