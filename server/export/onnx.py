"""ONNX export: one self-contained file, a dynamic batch axis, checked against ONNX Runtime.

Which exporter first. The dynamo exporter (`torch.export` + onnxscript) is the one PyTorch
maintains; its nodes carry module paths, from which their names get the canvas node id, and it
handles what TorchScript refuses (AdaptiveAvgPool2d to a size that does not divide the input).
It costs 0.5-2 s per design on CPU against TorchScript's 0.01-0.3 s. But it unrolls recurrent
layers over time: a bidirectional GRU over 200 steps takes ~30 s (an RNN also becomes a
2,400-node graph), where TorchScript emits one ONNX RNN/GRU/LSTM op in under a second whatever
the length. So designs with RNN/GRU/LSTM try TorchScript first, every other design dynamo
first; when the first one raises or its file fails the ONNX Runtime check, the other is tried
and `message` says why.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import io
import json
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import numpy as np
import onnx
import torch

from server.export.errors import ExportError
from server.graph import CATALOG, Network
from server.model import LayerlabModel

DEFAULT_OPSET = 18  # supported by both exporters and by ONNX Runtime >= 1.14
RTOL, ATOL = 1e-3, 1e-5  # the --check tolerance of CONTRACTS.md §2
CHECK_BATCHES = (3, 1)  # batch 1 proves the batch axis is really dynamic
EXPORTERS = ("dynamo", "torchscript")
# Debug metadata the dynamo exporter attaches to every node: source paths of this server and
# FX dumps, no use to whoever opens the file.
DROPPED_METADATA = ("pkg.torch.onnx.stack_trace", "pkg.torch.onnx.fx_node")
QUIET_LOGGERS = ("torch.onnx", "torch.export", "torch._dynamo", "torch.fx", "onnxscript")

FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16,
               onnx.TensorProto.DOUBLE}

Progress = Callable[[str], None]
_LOCK = threading.Lock()  # exporters and _quiet() touch process-wide state: one export at a time


@dataclass
class ExportResult:
    """What an ONNX export produced and how it compared with PyTorch."""

    path: str | None  # where the file was written (None: returned as bytes or to a stream)
    opset: int  # ONNX opset of the file
    exporter: str  # "dynamo" or "torchscript"
    max_abs_diff: float | None  # largest |ONNX Runtime - PyTorch| over the check (None: unchecked)
    ok: bool  # the file passed onnx.checker and, when asked, the ONNX Runtime check
    message: str  # which exporter was used, and why a fallback happened
    seconds: float = 0.0  # wall time of the whole export

    def to_json(self) -> dict:
        """The result as a JSON-ready dict (the CLI's --json line adds nothing else)."""
        return asdict(self)


def export_onnx(model: LayerlabModel, network: Network, path, *, opset: int | None = None,
                check: bool = True, progress: Progress | None = None,
                input_name: str = "input") -> ExportResult:
    """Export to `path` (a file path or a binary stream); raises ExportError on failure."""
    data, result = export_onnx_bytes(model, network, opset=opset, check=check, progress=progress,
                                     input_name=input_name)
    if hasattr(path, "write"):
        path.write(data)
        return result
    with open(path, "wb") as f:
        f.write(data)
    result.path = os.fspath(path)
    return result


def export_onnx_bytes(model: LayerlabModel, network: Network, *, opset: int | None = None,
                      check: bool = True, progress: Progress | None = None,
                      exporters: tuple[str, ...] | None = None,
                      input_name: str = "input") -> tuple[bytes, ExportResult]:
    """The ONNX file as bytes plus its ExportResult; raises ExportError on failure. The graph's
    input is called `input_name` (a gan's generator takes `noise`)."""
    started = time.perf_counter()
    exporters = exporters or preferred_exporters(network)
    report = progress or (lambda stage: None)
    opset = opset or DEFAULT_OPSET
    twin = cpu_copy(model)
    inputs = {n: sample_input(network, n) for n in CHECK_BATCHES}
    failures: list[str] = []
    last: ExportResult | None = None
    for exporter in exporters:
        report("exporting")
        try:
            proto = _EXPORT[exporter](twin, inputs[CHECK_BATCHES[0]], opset)
            _tidy(proto, network)
            _rename_input(proto, input_name)
            onnx.checker.check_model(proto)
            opset = _opset_of(proto)
        except Exception as e:  # any failure: try the next exporter
            failures.append(f"the {exporter} exporter failed: {_first_line(e)}")
            continue
        data = proto.SerializeToString()
        diff = None
        if check:
            report("checking")
            try:
                diff, close = compare(twin, data, inputs, input_name)
            except Exception as e:  # ORT refusing the file
                failures.append(f"ONNX Runtime could not run the {exporter} export: "
                                f"{_first_line(e)}")
                continue
            if not close:
                failures.append(f"the {exporter} export differs from PyTorch by up to {diff:.3g} "
                                f"(allowed: rtol={RTOL:g}, atol={ATOL:g})")
                last = ExportResult(None, opset, exporter, diff, False, "; ".join(failures))
                continue
        used = f"exported with the {exporter} exporter (opset {opset})"
        message = "; ".join([*failures, used]) if failures else used
        report("done")
        seconds = time.perf_counter() - started
        return data, ExportResult(None, opset, exporter, diff, True, message, seconds)
    message = "ONNX export failed: " + "; ".join(failures)
    if last is not None:
        last.message, last.seconds = message, time.perf_counter() - started
    raise ExportError(message, last)


def cpu_copy(model: torch.nn.Module) -> torch.nn.Module:
    """An eval-mode deep copy on the CPU; a GPU model's tensors are copied straight to the CPU."""
    memo: dict[int, object] = {}
    for p in model.parameters():
        memo[id(p)] = torch.nn.Parameter(p.detach().to("cpu", copy=True), requires_grad=False)
    for b in model.buffers():
        memo[id(b)] = b.detach().to("cpu", copy=True)
    return copy.deepcopy(model, memo).eval()


def preferred_exporters(network: Network) -> tuple[str, ...]:
    """The exporters in the order to try them (see the module docstring for why)."""
    if any(CATALOG[node.type].recurrent for node in network.nodes):  # dynamo unrolls them
        return ("torchscript", "dynamo")
    return EXPORTERS


def sample_input(network: Network, batch: int, seed: int = 0) -> torch.Tensor:
    """A random batch of the network's input; integer ids in range when it feeds an Embedding."""
    shape = (batch, *network.node(network.input_id).shape)
    gen = torch.Generator().manual_seed(seed + batch)
    vocab = [n.params[v] for n in network.nodes if (v := CATALOG[n.type].vocabulary)]
    if vocab:
        return torch.randint(0, min(vocab), shape, generator=gen).float()
    return torch.randn(shape, generator=gen)


def compare(model: torch.nn.Module, data: bytes, inputs: dict[int, torch.Tensor],
            input_name: str = "input") -> tuple[float, bool]:
    """Run the file in ONNX Runtime on each input; (max |diff| to PyTorch, all within tolerance)."""
    session = ort_session(data)
    worst, close = 0.0, True
    for x in inputs.values():
        with torch.no_grad():
            expected = model(x).numpy()
        (actual,) = session.run(["output"], {input_name: x.numpy()})
        if actual.shape != expected.shape:
            raise ExportError(f"ONNX Runtime returned shape {list(actual.shape)} for a batch of "
                              f"{len(x)}; PyTorch returns {list(expected.shape)}")
        if expected.size:
            worst = max(worst, float(np.nanmax(np.abs(actual - expected), initial=0.0)))
        close = close and bool(np.isclose(actual, expected, RTOL, ATOL, equal_nan=True).all())
    return worst, close


def ort_session(data: bytes):
    """An ONNX Runtime CPU session for a serialized model, quiet about graph optimizations."""
    import onnxruntime as ort  # imported here: only checks need it

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def _rename_input(proto: onnx.ModelProto, name: str) -> None:
    """Call the graph's input `name` (both exporters are asked for `input`)."""
    if name == "input":
        return
    for value in proto.graph.input:
        if value.name == "input":
            value.name = name
    for node in proto.graph.node:
        for i, used in enumerate(node.input):
            if used == "input":
                node.input[i] = name


def _export_dynamo(model: torch.nn.Module, x: torch.Tensor, opset: int) -> onnx.ModelProto:
    batch = torch.export.Dim("batch")
    with _quiet(), _nodes_kept_apart():
        program = torch.onnx.export(model, (x,), None, input_names=["input"],
                                    output_names=["output"], opset_version=opset,
                                    dynamic_shapes=({0: batch},), dynamo=True, verbose=False)
    return program.model_proto


def _export_torchscript(model: torch.nn.Module, x: torch.Tensor, opset: int) -> onnx.ModelProto:
    buffer = io.BytesIO()
    with _quiet():
        torch.onnx.export(model, (x,), buffer, input_names=["input"], output_names=["output"],
                          opset_version=opset, dynamo=False, do_constant_folding=True,
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    return onnx.load_from_string(buffer.getvalue())


_EXPORT = {"dynamo": _export_dynamo, "torchscript": _export_torchscript}


def _tidy(proto: onnx.ModelProto, network: Network) -> None:
    """Name the batch axes, prefix node names with canvas ids, drop server-side debug metadata."""
    for value in (*proto.graph.input, *proto.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    for node in proto.graph.node:
        kept = [m for m in node.metadata_props if m.key not in DROPPED_METADATA]
        scope = next((m.value for m in kept if m.key == "pkg.torch.onnx.name_scopes"), None)
        del node.metadata_props[:]
        node.metadata_props.extend(kept)
        node_id = _node_id_of(scope)
        if node_id and not node.name.startswith(f"/{node_id}/"):
            node.name = f"/{node_id}/{node.name}"
    _name_initializers(proto.graph, _opset_of(proto), {n.id for n in network.nodes})
    proto.doc_string = f"{network.name}: exported by Layerlab"
    onnx.helper.set_model_props(proto, design_metadata(network))


def design_metadata(network: Network) -> dict[str, str]:
    """The file's metadata_props, so that `layerlab import` gives the design back: under
    `layerlab.design` the exported network as a document (ids, params as written, positions;
    its training section unless it is a gan's generator), under `layerlab.kind` its kind."""
    written = {n.get("id"): n for n in network.document.get("nodes") or []
               if isinstance(n, dict)}
    nodes, edges = [], []
    for node in network.nodes:
        raw = written.get(node.id, {})
        if node.id == network.input_id:  # an Input, or a generator's Noise: fed as an Input
            entry = {"id": node.id, "type": "Input", "params": {"shape": list(node.shape)}}
        else:
            entry = {"id": node.id, "type": node.type, "params": dict(raw.get("params") or {})}
            several = len(node.inputs) > 1
            edges += [{"source": s, "target": node.id, **({"port": i} if several else {})}
                      for i, s in enumerate(node.inputs)]
        if isinstance(raw.get("ui"), dict):
            entry["ui"] = raw["ui"]
        nodes.append(entry)
    kind = network.training.get("kind") or "supervised"
    doc = {"format": "layerlab.network", "version": 1,
           "name": network.document.get("name") or network.name, "nodes": nodes, "edges": edges}
    if isinstance(network.document.get("description"), str):
        doc["description"] = network.document["description"]
    training = network.document.get("training")
    if kind != "gan" and isinstance(training, dict):  # a generator alone has no training
        doc["training"] = {k: v for k, v in training.items() if k != "init"}
    return {"layerlab.design": json.dumps(doc, separators=(",", ":")), "layerlab.kind": kind}


def _opset_of(proto: onnx.ModelProto) -> int:
    return next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))


def _name_initializers(graph: onnx.GraphProto, opset: int, ids: set[str]) -> None:
    """Give weights the exporter derived (transposed, packed for LSTM, ...) their node's id.

    'val_43' becomes 'layers.lstm.LSTM.W': the canvas id, then the op and its input slot. Integer
    constants (shapes, axes, indices) keep the exporter's names.
    """
    uses: dict[str, set[tuple[str, str, str]]] = {}
    for node, top in _walk(graph, None):
        owner = top.split("/")[1] if top.startswith("/") and top.count("/") > 1 else ""
        owner = owner if owner in ids else ""
        for slot, name in enumerate(node.input):
            uses.setdefault(name, set()).add((owner, node.op_type, _slot_name(node, slot, opset)))
    taken = {i.name for i in graph.initializer} | {o for n, _ in _walk(graph, None)
                                                   for o in n.output}
    renames = {}
    for init in graph.initializer:
        used = uses.get(init.name, set())
        owners = {owner for owner, _, _ in used}
        weight = init.data_type in FLOAT_TYPES
        if not weight or init.name.startswith("layers.") or len(owners) != 1 or "" in owners:
            continue
        _, op, slot = min(used)
        base = f"layers.{owners.pop()}.{op}.{slot}"
        new, k = base, 1
        while new in taken:
            k += 1
            new = f"{base}_{k}"
        taken.add(new)
        renames[init.name] = new
    if not renames:
        return
    for init in graph.initializer:
        init.name = renames.get(init.name, init.name)
    for value in graph.input:
        value.name = renames.get(value.name, value.name)
    for node, _ in _walk(graph, None):
        node.input[:] = [renames.get(name, name) for name in node.input]


def _walk(graph: onnx.GraphProto, top: str | None) -> Iterator[tuple[onnx.NodeProto, str]]:
    """Every node, subgraphs included, with the name of the top-level node it belongs to."""
    for node in graph.node:
        owner = top or node.name
        yield node, owner
        for attr in node.attribute:
            for sub in [attr.g] if attr.HasField("g") else attr.graphs:
                yield from _walk(sub, owner)


def _slot_name(node: onnx.NodeProto, slot: int, opset: int) -> str:
    """The schema's name for an input slot ('W' of LSTM), else its index."""
    try:
        schema = onnx.defs.get_schema(node.op_type, opset, node.domain)
        return schema.inputs[min(slot, len(schema.inputs) - 1)].name
    except Exception:  # custom domains have no schema here
        return f"input{slot}"


def _node_id_of(scope: str | None) -> str | None:
    """The canvas id in the dynamo exporter's name scopes: "['', 'layers.fc1', 'linear']" -> fc1."""
    try:
        parts = ast.literal_eval(scope) if scope else []
    except (ValueError, SyntaxError):
        return None
    ids = [p.split(".")[1] for p in parts if isinstance(p, str) and p.startswith("layers.")]
    return ids[0] if ids else None


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".rstrip(": ")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' Python warnings and loggers; disable the attention fast path."""
    # Only Python-level warnings and these loggers: never fds 1/2 nor sys.stdout/stderr,
    # which belong to the whole process, so other threads' logs would vanish meanwhile
    # (finding 11). What TorchScript prints from C++ on a failed graph reaches the log.
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    with _LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        levels = [lg.level for lg in loggers]
        fastpath = torch.backends.mha.get_fastpath_enabled()
        try:
            for lg in loggers:
                lg.setLevel(logging.ERROR)
            # In eval mode MultiheadAttention/TransformerEncoderLayer may take a fused kernel
            # (torch._transformer_encoder_layer_fwd) that has no ONNX translation.
            torch.backends.mha.set_fastpath_enabled(False)
            with _torchscript_log_off():
                yield
        finally:
            torch.backends.mha.set_fastpath_enabled(fastpath)
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


@contextlib.contextmanager
def _nodes_kept_apart() -> Iterator[None]:
    """Keep every canvas node its own ONNX node: without the optimizer's rewrites that merge
    neighbours (a BatchNorm folded into the Linear or convolution before it, two ReLUs or two
    Reshapes in a row made one), which would lose the BatchNorm's own weights and statistics
    and leave nothing to import back. ONNX Runtime folds BatchNorm itself when it loads a file."""
    try:
        from onnxscript import rewriter
        from onnxscript.rewriter.rules.common import (
            _basic_rules,
            _fuse_batchnorm,
            _fuse_relus_clips,
        )

        merging = {id(r) for r in (*_fuse_batchnorm.rules, *_fuse_relus_clips.rules,
                                   _basic_rules.reshape_reshape_rule)}
        original = rewriter._DEFAULT_REWRITE_RULES
    except (ImportError, AttributeError):  # another onnxscript layout: its rewrites stay
        yield
        return
    rewriter._DEFAULT_REWRITE_RULES = tuple(r for r in original if id(r) not in merging)
    try:
        yield
    finally:
        rewriter._DEFAULT_REWRITE_RULES = original


@contextlib.contextmanager
def _torchscript_log_off() -> Iterator[None]:
    """Keep TorchScript's ONNX log (its failed graphs, printed to stdout) off while exporting."""
    # torch's setup_onnx_logging tests the function _jit_is_onnx_log_enabled, not its result,
    # so it always turns the log on; stand in a version that honours verbose=False instead.
    try:
        from torch.onnx._internal.torchscript_exporter import utils as ts_utils
    except ImportError:  # another torch layout: nothing to fix there
        yield
        return
    original = getattr(ts_utils, "setup_onnx_logging", None)

    @contextlib.contextmanager
    def setup_onnx_logging(verbose: bool) -> Iterator[None]:
        was = torch._C._jit_is_onnx_log_enabled()
        torch._C._jit_set_onnx_log_enabled(bool(was or verbose))
        try:
            yield
        finally:
            torch._C._jit_set_onnx_log_enabled(was)

    ts_utils.setup_onnx_logging = setup_onnx_logging
    try:
        yield
    finally:
        ts_utils.setup_onnx_logging = original
