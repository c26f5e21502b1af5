"""The forest as one ONNX file (skl2onnx, an optional extra), checked with ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from server.baseline.check import BaselineError
from server.baseline.forest import Fitted

RTOL, ATOL = 1e-3, 1e-5  # as `layerlab export --check`
INPUT = "input"  # [batch, features]: each example flattened, as the forest was fitted


def export_forest(fitted: Fitted, path: str | Path) -> dict:
    """Write the forest to `path` and compare ONNX Runtime with scikit-learn on the validation
    split: {"ok", "path", "max_abs_diff", "opset", "outputs"}. A classifier's outputs are
    `label` [batch] and `probabilities` [batch, classes]; a regressor's `variable` [batch, T]."""
    try:
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import FloatTensorType
    except ImportError:
        raise BaselineError("unavailable", "exporting the forest to ONNX needs skl2onnx: pip "
                            "install 'layerlab[forest-onnx]'") from None
    import onnxruntime

    forest, x = fitted.forest, fitted.split.x_val
    classify = fitted.split.info.task == "classification"
    options = {id(forest): {"zipmap": False}} if classify else None  # a tensor, not dicts
    model = to_onnx(forest, initial_types=[(INPUT, FloatTensorType([None, x.shape[1]]))],
                    options=options)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outputs = [o.name for o in session.get_outputs()]
    got = session.run(None, {INPUT: x})
    if classify:
        expected, actual = forest.predict_proba(x), got[outputs.index("probabilities")]
        labels_agree = bool(np.array_equal(got[outputs.index("label")], forest.predict(x)))
    else:
        expected, actual = forest.predict(x).reshape(len(x), -1), got[0].reshape(len(x), -1)
        labels_agree = True
    diff = float(np.max(np.abs(actual - expected))) if len(x) else 0.0
    ok = labels_agree and bool(np.allclose(actual, expected, rtol=RTOL, atol=ATOL))
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                default=None)
    return {"ok": ok, "path": str(path), "max_abs_diff": diff, "opset": opset,
            "outputs": outputs}
