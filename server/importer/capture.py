"""One run of the model in ONNX Runtime on a random sample, keeping the tensors the importer
needs: the real shape of everything, and for each rebuilt layer the inputs it is fed and the
output it must reproduce.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper

from server.importer.errors import OnnxImportError
from server.importer.graph import INT_TYPES, Graph

BATCH = 5  # samples in the run when the batch axis is free (rarely any other axis's size)
CHECK_BATCH = 2  # samples of the second run that checks the whole design
SEED = 0  # the same file always gives the same document and the same figures
# Ops through which an integer id keeps being an id on its way to an embedding table.
ID_PATH = {"Cast", "Gather", "Squeeze", "Unsqueeze", "Reshape", "Flatten", "Identity"}


@dataclass
class Capture:
    """What one ONNX Runtime run saw."""

    batch: int  # samples in the run
    fixed_batch: bool  # the file fixes its batch size (it was exported without a free axis)
    sample: np.ndarray  # what the input was fed
    values: dict[str, np.ndarray]  # tensor name -> its value in the run

    def shape(self, name: str) -> tuple[int, ...]:
        """A tensor's shape in the run, the batch axis included."""
        return tuple(self.values[name].shape)


def capture(graph: Graph) -> Capture:
    """Run the model once, keeping every tensor that depends on the sample."""
    sample, fixed = _sample(graph)
    wanted = sorted(graph.data | _fixed_inputs(graph))
    model = onnx.ModelProto()
    model.CopyFrom(graph.model)
    present = {o.name for o in model.graph.output}
    model.graph.output.extend(helper.make_empty_tensor_value_info(n) for n in wanted
                              if n not in present and n != graph.input)
    try:
        session = session_for(model.SerializeToString())
        names = [o.name for o in session.get_outputs()]
        values = dict(zip(names, session.run(names, {graph.input: sample}), strict=True))
    except Exception as e:  # ORT's own errors: a model it cannot load or run
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise OnnxImportError(f"ONNX Runtime could not run the model: {first[:300]}") from None
    values[graph.input] = sample
    return Capture(len(sample), fixed, sample, values)


def rerun(graph: Graph, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """(a fresh sample of `batch`, the model's output for it): the file run as it is."""
    sample, _ = _sample(graph, batch, SEED + 1)
    (output,) = session_for(graph.model.SerializeToString()).run([graph.output],
                                                                  {graph.input: sample})
    return sample, output


def session_for(data: bytes):
    """An ONNX Runtime CPU session, quiet."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def vocabulary(graph: Graph) -> int | None:
    """The rows of the smallest embedding table the input's ids index, if they index one."""
    sizes, seen, stack = [], set(), [graph.input]
    while stack:
        name = stack.pop()
        for node in graph.readers.get(graph.real(name), []):
            if node.op_type == "Gather" and node.input[1] and graph.real(node.input[1]) == name:
                table = graph.const(node.input[0])
                if table is not None and table.ndim == 2:
                    sizes.append(table.shape[0])
                    continue
            if node.op_type in ID_PATH and node.output[0] not in seen:
                seen.add(node.output[0])
                stack.append(node.output[0])
    return min(sizes) if sizes else None


def _sample(graph: Graph, batch: int | None = None, seed: int = SEED) -> tuple[np.ndarray, bool]:
    dims = graph.input_dims
    if len(dims) < 2:
        raise OnnxImportError(f"the model's input '{graph.input}' has {len(dims)} axis/axes; a "
                              "design's input has a batch axis and at least one more")
    free = [i for i, d in enumerate(dims[1:], 1) if not d]
    if free:
        raise OnnxImportError(f"the model's input '{graph.input}' has no fixed size on axis "
                              f"{free[0]}; a Layerlab Input has a fixed shape (export the model "
                              "with only the batch axis dynamic)")
    fixed = bool(dims[0])
    shape = (dims[0] or batch or BATCH, *dims[1:])
    rng = np.random.default_rng(seed)
    vocab = vocabulary(graph)
    if vocab is not None:
        ids = rng.integers(0, vocab, shape)
        dtype = np.float32 if graph.input_type not in INT_TYPES else (
            np.int64 if graph.input_type == onnx.TensorProto.INT64 else np.int32)
        return ids.astype(dtype), fixed
    if graph.input_type in INT_TYPES:
        raise OnnxImportError(f"the model's input '{graph.input}' is integer but indexes no "
                              "embedding table; a design's input is float")
    return rng.standard_normal(shape).astype(np.float32), fixed


def _fixed_inputs(graph: Graph) -> set[str]:
    """Fixed tensors that data nodes read and the file does not hold as values (computed
    ones: a BatchNorm statistic behind an Identity, a zero state, a Resize's sizes)."""
    return {i for n in graph.data_nodes() for i in n.input
            if i and not graph.is_data(i) and graph.const(i) is None}
