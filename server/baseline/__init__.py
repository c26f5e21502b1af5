"""The random-forest baseline (CONTRACTS.md §7): scikit-learn's forest on a design's own data.

The design's train split, loaded by the same loader the Trainer uses, fits a random forest
(a classifier or a regressor by the dataset's task), which is scored on the validation split,
so a network's curves can be read against a learner without neurons.

    check.py   which documents a baseline takes, and the errors for the rest (pure)
    forest.py  the fit itself: the split, the forest, its score and its boundary (numpy, sklearn)
    onnx.py    the forest as ONNX (skl2onnx), checked with ONNX Runtime
    pool.py    spawned processes that fit forests for the server, bounded in number and time

Importing this package loads neither numpy nor scikit-learn; only fitting does.
"""

from server.baseline.check import (
    MAX_TREES,
    BaselineError,
    check_document,
    dataset_key,
    trees_problem,
)
from server.baseline.pool import BaselinePool

__all__ = ["MAX_TREES", "BaselineError", "BaselinePool", "check_document", "dataset_key",
           "trees_problem"]
