"""Layers that are several ONNX nodes: recurrent layers (RNN/GRU/LSTM ops and the transposes
around them), attention (MultiheadAttention, TransformerEncoderLayer, written out as MatMuls
and a Softmax), Embedding (a Gather from a table) and activations written out in arithmetic.

Where the graph leaves a param open (the number of heads, GELU's approximation), each value is
tried against the ONNX Runtime run and the one that reproduces it is kept.
"""

from __future__ import annotations

import numpy as np

from server.importer.base import Context, Layer, Unsupported, attrs
from server.importer.units import Unit

RECURRENT = {"RNN": 1, "GRU": 3, "LSTM": 4}  # ONNX op -> gates
# PyTorch's gate order in ONNX's chunks: LSTM i,o,f,c -> i,f,g,o; GRU z,r,h -> r,z,n.
GATES = {"RNN": [0], "GRU": [1, 0, 2], "LSTM": [0, 2, 3, 1]}
DEFAULT_ACTIVATIONS = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"],
                       "LSTM": ["Sigmoid", "Tanh", "Tanh"]}


def recurrent(unit: Unit, ctx: Context) -> Layer:
    """RNN/GRU/LSTM ops (one per stacked layer) -> RNN/GRU/LSTM, batch first."""
    cells = [n for n in unit.nodes if n.op_type in RECURRENT]
    kind = cells[0].op_type
    if any(c.op_type != kind for c in cells):
        raise Unsupported("it mixes recurrent cell types")
    hidden, directions, extra = None, None, {}
    tensors: dict[str, np.ndarray] = {}
    for layer, cell in enumerate(cells):
        a = attrs(cell)
        direction = a.get("direction", "forward")
        if direction == "reverse":
            raise Unsupported("it reads the sequence backwards only")
        for name, allowed in (("clip", None), ("input_forget", 0)):
            if a.get(name, allowed) != allowed:
                raise Unsupported(f"it sets {name}, which PyTorch's {kind} has not")
        if kind == "GRU" and a.get("linear_before_reset", 0) != 1:
            raise Unsupported("its GRU resets before the linear map (PyTorch's resets after)")
        dirs = 2 if direction == "bidirectional" else 1
        acts = [s.capitalize() for s in a.get("activations", DEFAULT_ACTIVATIONS[kind] * dirs)]
        if kind == "RNN":
            if len(set(acts)) != 1 or acts[0] not in ("Tanh", "Relu"):
                raise Unsupported(f"its activations {acts} are not tanh or relu")
            extra["nonlinearity"] = acts[0].lower()
        elif acts != DEFAULT_ACTIVATIONS[kind] * dirs:
            raise Unsupported(f"its activations {acts} are not PyTorch's")
        size = a["hidden_size"]
        if (hidden, directions) not in ((None, None), (size, dirs)):
            raise Unsupported("its stacked layers differ in size or direction")
        hidden, directions = size, dirs
        _states_are_zero(cell, ctx, kind)
        tensors.update(_cell_weights(cell, ctx, kind, layer, dirs, size))
    rank = len(ctx.shape(unit.output))
    params = {"hidden_size": hidden, "num_layers": len(cells),
              "bidirectional": directions == 2, "return_sequences": rank == 3, **extra}
    return Layer(kind, params, tensors)


def _states_are_zero(cell, ctx: Context, kind: str) -> None:
    slots = {5: "initial hidden state", 6: "initial cell state", 7: "peepholes"}
    for slot, what in slots.items():
        value = ctx.optional(cell, slot, what)
        if value is not None and np.any(value):
            raise Unsupported(f"its {what} is not zero; Layerlab's {kind} starts from zeros")


def _cell_weights(cell, ctx: Context, kind: str, layer: int, dirs: int, size: int) -> dict:
    w = ctx.const(cell.input[1], "input weights")  # (dirs, gates*H, in)
    r = ctx.const(cell.input[2], "recurrent weights")  # (dirs, gates*H, H)
    b = ctx.optional(cell, 3, "biases")  # (dirs, 2*gates*H)
    gates = RECURRENT[kind]
    if b is None:
        b = np.zeros((dirs, 2 * gates * size), dtype=w.dtype)

    def torch_order(m: np.ndarray) -> np.ndarray:
        chunks = np.split(m, gates, axis=0)
        return np.concatenate([chunks[i] for i in GATES[kind]], axis=0)

    out = {}
    for d in range(dirs):
        suffix = f"_l{layer}" + ("_reverse" if d else "")
        out[f"rnn.weight_ih{suffix}"] = torch_order(w[d])
        out[f"rnn.weight_hh{suffix}"] = torch_order(r[d])
        out[f"rnn.bias_ih{suffix}"] = torch_order(b[d][:gates * size])
        out[f"rnn.bias_hh{suffix}"] = torch_order(b[d][gates * size:])
    return out


def linear_maps(unit: Unit, ctx: Context) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Every x @ W (+ b) with a fixed W inside a unit, in graph order: (W as [out, in], b)."""
    maps = []
    made_by = {o: n for n in unit.nodes for o in n.output}
    readers = {}
    for n in unit.nodes:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    for node in unit.nodes:
        if node.op_type not in ("MatMul", "Gemm") or ctx.graph.is_data(node.input[1]):
            continue
        w = ctx.const(node.input[1], "weight")
        if node.op_type == "Gemm":
            a = attrs(node)
            w = (w if a.get("transB", 0) else w.T) * a.get("alpha", 1.0)
            bias = ctx.optional(node, 2, "bias")
        else:
            w, bias = w.T, None
            after = readers.get(node.output[0], [])
            if len(after) == 1 and after[0].op_type == "Add":
                other = next(i for i in after[0].input if i != node.output[0])
                if other not in made_by and not ctx.graph.is_data(other):
                    bias = ctx.const(other, "bias")
        maps.append((w, None if bias is None else np.broadcast_to(bias.reshape(-1),
                                                                  (w.shape[0],))))
    return maps


def attention(unit: Unit, ctx: Context) -> Layer:
    """Self-attention as exported (packed in-projection, Softmax, out-projection), with its
    feed-forward block and two LayerNorms -> TransformerEncoderLayer, else MultiheadAttention."""
    maps = linear_maps(unit, ctx)
    norms = [n for n in unit.nodes if n.op_type == "LayerNormalization"]
    width = ctx.shape(unit.inputs[0])[-1]
    if len(unit.inputs) != 1 or len(maps) < 2 or maps[0][0].shape != (3 * width, width):
        raise Unsupported("it is attention, but not self-attention with one packed "
                          "query/key/value projection")
    (w_in, b_in), (w_out, b_out) = maps[0], maps[1]
    if len(norms) == 2 and len(maps) == 4:
        (w1, b1), (w2, b2) = maps[2], maps[3]
        order = {id(n): i for i, n in enumerate(unit.nodes)}
        first_map = next(n for n in unit.nodes if n.op_type in ("MatMul", "Gemm"))
        tensors = {"self_attn.in_proj_weight": w_in, "self_attn.out_proj.weight": w_out,
                   "linear1.weight": w1, "linear2.weight": w2}
        for key, value in (("self_attn.in_proj_bias", b_in), ("self_attn.out_proj.bias", b_out),
                           ("linear1.bias", b1), ("linear2.bias", b2)):
            if value is not None:
                tensors[key] = value
        for k, norm in enumerate(norms, 1):
            tensors[f"norm{k}.weight"] = ctx.const(norm.input[1], "LayerNorm scale")
            bias = ctx.optional(norm, 2, "LayerNorm bias")
            if bias is not None:
                tensors[f"norm{k}.bias"] = bias
        params = {"dim_feedforward": int(w1.shape[0]),
                  "activation": "relu" if "Relu" in unit.ops() else "gelu",
                  "norm_first": order[id(norms[0])] < order[id(first_map)]}
        return _heads(Layer("TransformerEncoderLayer", params, tensors), "nhead", width, ctx)
    if norms or len(maps) != 2:
        raise Unsupported("it is attention with a block around it that is no "
                          "TransformerEncoderLayer")
    tensors = {"attn.in_proj_weight": w_in, "attn.out_proj.weight": w_out}
    if b_in is not None:
        tensors["attn.in_proj_bias"] = b_in
    if b_out is not None:
        tensors["attn.out_proj.bias"] = b_out
    params = {"bias": b_in is not None or b_out is not None}
    return _heads(Layer("MultiheadAttention", params, tensors), "num_heads", width, ctx)


def _heads(layer: Layer, param: str, width: int, ctx: Context) -> Layer:
    """The layer with the head count that reproduces the run."""
    for heads in (h for h in range(1, width + 1) if width % h == 0):
        candidate = Layer(layer.type, {**layer.params, param: heads}, layer.tensors)
        if ctx.fits(candidate):
            return candidate
    raise Unsupported(f"no head count reproduces its output as a {layer.type}")


def embedding(unit: Unit, ctx: Context) -> Layer:
    """Gather from a fixed table by the input's ids (cast first, maybe a last axis of 1 taken
    away) -> Embedding."""
    (table_node,) = [n for n in unit.nodes if n.op_type == "Gather"
                     and ctx.graph.const(n.input[0]) is not None]
    if attrs(table_node).get("axis", 0) != 0:
        raise Unsupported("it gathers along another axis than the table's rows")
    table = ctx.const(table_node.input[0], "table")
    if table.ndim != 2:
        raise Unsupported(f"its table has {table.ndim} axes")
    return Layer("Embedding", {"num_embeddings": int(table.shape[0]),
                               "embedding_dim": int(table.shape[1])},
                 {"embedding.weight": table})


def activation(unit: Unit, ctx: Context) -> Layer:
    """Element-wise arithmetic on one tensor that is an activation (GELU written out)."""
    for layer in (Layer("GELU", {"approximate": "none"}), Layer("GELU", {"approximate": "tanh"})):
        if ctx.fits(layer):
            return layer
    raise Unsupported(f"its arithmetic ({', '.join(unit.ops())}) is no activation Layerlab has")
