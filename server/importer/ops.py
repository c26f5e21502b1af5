"""One ONNX operator -> one catalog layer: the table the importer looks single nodes up in.

Each entry takes (node, unit, context) and gives a Layer, or raises Unsupported saying which of
its attributes Layerlab's layer cannot take. Shapes come from the ONNX Runtime run, so a
Reshape's target or a Resize's scale need no shape arithmetic here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx

from server.importer.base import Context, Layer, Unsupported, attrs, nice, one, symmetric_pads
from server.importer.units import Unit

Recognizer = Callable[[onnx.NodeProto, Unit, Context], Layer]


def gemm(node, unit, ctx) -> Layer:
    """Gemm(x, W, b) = alpha * x @ op(W) + beta * b -> Linear."""
    a = attrs(node)
    if a.get("transA", 0):
        raise Unsupported("it transposes its input (transA); a Linear reads [batch, features]")
    w = ctx.const(node.input[1], "weight")
    if w.ndim != 2:
        raise Unsupported(f"its weight has {w.ndim} axes")
    w = (w if a.get("transB", 0) else w.T) * a.get("alpha", 1.0)
    bias = ctx.optional(node, 2, "bias")
    if bias is not None:
        bias = np.broadcast_to(bias * a.get("beta", 1.0), (w.shape[0],))
    return _linear(w, bias)


def matmul(node, unit, ctx) -> Layer:
    """MatMul(x, W) [+ b] -> Linear on the last axis."""
    w = ctx.const(node.input[1], "right-hand matrix")
    if w.ndim != 2:
        raise Unsupported("only x @ W with a fixed 2-D W is a Linear")
    bias = None
    if len(unit.nodes) == 2:  # the bias Add merged with it (units.py)
        add = unit.nodes[1]
        other = next(i for i in add.input if i != node.output[0])
        bias = ctx.const(other, "bias")
        if bias.size != w.shape[1] and bias.size != 1:
            raise Unsupported(f"its bias of shape {list(bias.shape)} is not one per output")
        bias = np.broadcast_to(bias.reshape(-1), (w.shape[1],))
    return _linear(w.T, bias)


def _linear(w: np.ndarray, bias: np.ndarray | None) -> Layer:
    tensors = {"weight": w}
    if bias is not None:
        tensors["bias"] = bias
    return Layer("Linear", {"out_features": int(w.shape[0]), "bias": bias is not None}, tensors)


def conv(node, unit, ctx) -> Layer:
    """Conv -> Conv1d / Conv2d (one group, square kernel, the same padding on every side)."""
    a, w = attrs(node), ctx.const(node.input[1], "weight")
    kind = {3: "Conv1d", 4: "Conv2d"}.get(w.ndim)
    if kind is None:
        raise Unsupported(f"it convolves {w.ndim - 2} spatial axes; Layerlab has Conv1d and "
                          "Conv2d")
    _one_group(a)
    rank = w.ndim - 2
    params = {"out_channels": int(w.shape[0]),
              "kernel_size": one(a.get("kernel_shape", w.shape[2:]), "kernel size"),
              "stride": one(a.get("strides", [1] * rank), "stride"),
              "padding": _padding(a, rank),
              "dilation": one(a.get("dilations", [1] * rank), "dilation")}
    return _with_bias(kind, params, w, ctx.optional(node, 2, "bias"))


def conv_transpose(node, unit, ctx) -> Layer:
    """ConvTranspose -> ConvTranspose2d."""
    a, w = attrs(node), ctx.const(node.input[1], "weight")
    if w.ndim != 4:
        raise Unsupported("Layerlab's transposed convolution is 2-D (ConvTranspose2d)")
    _one_group(a)
    if "output_shape" in a:
        raise Unsupported("it sets output_shape; give output_padding instead")
    if one(a.get("dilations", [1, 1]), "dilation") != 1:
        raise Unsupported("ConvTranspose2d takes no dilation")
    params = {"out_channels": int(w.shape[1]),
              "kernel_size": one(a.get("kernel_shape", w.shape[2:]), "kernel size"),
              "stride": one(a.get("strides", [1, 1]), "stride"),
              "padding": _padding(a, 2),
              "output_padding": one(a.get("output_padding", [0, 0]), "output padding")}
    return _with_bias("ConvTranspose2d", params, w, ctx.optional(node, 2, "bias"))


def _with_bias(kind: str, params: dict, w, bias) -> Layer:
    tensors = {"weight": w, **({"bias": bias} if bias is not None else {})}
    return Layer(kind, {**params, "bias": bias is not None}, tensors)


def _one_group(a: dict) -> None:
    if a.get("group", 1) != 1:
        raise Unsupported(f"it is a grouped convolution (group {a['group']}); Layerlab's "
                          "convolutions have one group")


def _padding(a: dict, rank: int) -> int:
    pad = a.get("auto_pad", "NOTSET")
    if pad not in ("NOTSET", "VALID"):
        raise Unsupported(f"auto_pad {pad} is not fixed padding")
    return 0 if pad == "VALID" else symmetric_pads(a.get("pads", []), rank)


def max_pool(node, unit, ctx) -> Layer:
    """MaxPool -> MaxPool1d / MaxPool2d."""
    return _pool(node, unit, ctx, {3: "MaxPool1d", 4: "MaxPool2d"})


def average_pool(node, unit, ctx) -> Layer:
    """AveragePool -> AvgPool2d (padding counted in the average, as PyTorch counts it)."""
    layer = _pool(node, unit, ctx, {4: "AvgPool2d"})
    if layer.params["padding"] and not attrs(node).get("count_include_pad", 0):
        raise Unsupported("it leaves padding out of the average (count_include_pad 0)")
    return layer


def _pool(node, unit, ctx, kinds: dict[int, str]) -> Layer:
    a, rank = attrs(node), len(ctx.shape(unit.inputs[0]))
    if rank not in kinds:
        raise Unsupported(f"it pools a rank-{rank} tensor; Layerlab has "
                          f"{', '.join(kinds.values())}")
    if len(node.output) > 1 and any(node.output[1:]):
        raise Unsupported("it also outputs the indices of the maxima")
    if a.get("ceil_mode", 0):
        raise Unsupported("it rounds the output size up (ceil_mode)")
    axes = rank - 2
    if one(a.get("dilations", [1] * axes), "dilation") != 1:
        raise Unsupported("Layerlab's pooling takes no dilation")
    kernel = one(a["kernel_shape"], "kernel size")
    stride = one(a.get("strides", [1] * axes), "stride")
    return Layer(kinds[rank], {"kernel_size": kernel, "stride": None if stride == kernel
                               else stride, "padding": _padding(a, axes)})


def global_average_pool(node, unit, ctx) -> Layer:
    """GlobalAveragePool -> AdaptiveAvgPool2d(1)."""
    if len(ctx.shape(unit.inputs[0])) != 4:
        raise Unsupported("Layerlab's adaptive pooling is 2-D")
    return Layer("AdaptiveAvgPool2d", {"output_size": 1})


def reduce_mean(node, unit, ctx) -> Layer:
    """ReduceMean over height and width, keeping them (x.mean((2, 3), keepdim=True)) ->
    AdaptiveAvgPool2d(1)."""
    a, rank = attrs(node), len(ctx.shape(unit.inputs[0]))
    axes = a.get("axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = ctx.const(node.input[1], "axes").reshape(-1).tolist()
    if rank != 4 or sorted(int(x) % 4 for x in axes or []) != [2, 3]:
        raise Unsupported("only a mean over an image's height and width is a layer "
                          "(AdaptiveAvgPool2d)")
    if not a.get("keepdims", 1):
        raise Unsupported("it drops the averaged axes; AdaptiveAvgPool2d(1) keeps them (add a "
                          "Flatten after it)")
    return Layer("AdaptiveAvgPool2d", {"output_size": 1})


def batch_norm(node, unit, ctx) -> Layer:
    """BatchNormalization (inference) -> BatchNorm1d / BatchNorm2d."""
    a, rank = attrs(node), len(ctx.shape(unit.inputs[0]))
    if a.get("training_mode", 0) or any(node.output[1:]):
        raise Unsupported("it is exported in training mode")
    kind = {2: "BatchNorm1d", 3: "BatchNorm1d", 4: "BatchNorm2d"}.get(rank)
    if kind is None:
        raise Unsupported(f"it normalizes a rank-{rank} tensor")
    names = ("weight", "bias", "running_mean", "running_var")
    tensors = {k: ctx.const(node.input[i + 1], k.replace("_", " ")) for i, k in enumerate(names)}
    params = {"eps": nice(a.get("epsilon", 1e-5)),
              "momentum": nice(1 - nice(a.get("momentum", 0.9)))}
    return Layer(kind, params, tensors)


def layer_norm(node, unit, ctx) -> Layer:
    """LayerNormalization over the last axis -> LayerNorm."""
    a, rank = attrs(node), len(ctx.shape(unit.inputs[0]))
    if a.get("axis", -1) not in (-1, rank - 1):
        raise Unsupported(f"it normalizes from axis {a['axis']}; LayerNorm normalizes the last")
    tensors = {"weight": ctx.const(node.input[1], "scale")}
    bias = ctx.optional(node, 2, "bias")
    if bias is not None:
        tensors["bias"] = bias
    return Layer("LayerNorm", {"eps": nice(a.get("epsilon", 1e-5))}, tensors)


def softmax(node, unit, ctx) -> Layer:
    """Softmax along one axis (not the batch's) -> Softmax."""
    rank = len(ctx.shape(unit.inputs[0]))
    axis = attrs(node).get("axis", -1 if ctx.graph.opset >= 13 else 1)
    if axis % rank == 0:
        raise Unsupported("it normalizes over the batch axis")
    if ctx.graph.opset < 13 and axis % rank != rank - 1:
        raise Unsupported("before opset 13 Softmax flattens the axes after its axis")
    return Layer("Softmax", {"dim": axis if axis < 0 else axis - 1})


def concat(node, unit, ctx) -> Layer:
    """Concat of data tensors along an axis other than the batch's -> Concat."""
    axis = attrs(node)["axis"]
    if axis % len(ctx.shape(unit.output)) == 0:
        raise Unsupported("it joins along the batch axis")
    if len(unit.inputs) != len(node.input):
        raise Unsupported("it joins fixed tensors to the data")
    return Layer("Concat", {"dim": axis if axis < 0 else axis - 1})


def add(node, unit, ctx) -> Layer:
    """Add / Sum of data tensors of one shape -> Add (a shortcut connection)."""
    if len(unit.inputs) != len(node.input) or len(unit.inputs) < 2:
        raise Unsupported("it adds a fixed tensor to the data (only a bias after a MatMul "
                          "becomes part of a layer)")
    shapes = {ctx.shape(i) for i in unit.inputs}
    if len(shapes) != 1:
        raise Unsupported(f"it broadcasts shapes {sorted(shapes)}; Add takes one shape")
    return Layer("Add")


def reshape(node, unit, ctx) -> Layer:
    """Reshape / Flatten / Squeeze / Unsqueeze keeping the batch axis -> Flatten or Reshape."""
    before, after = ctx.shape(unit.inputs[0]), ctx.shape(unit.output)
    if node.op_type == "Flatten" and attrs(node).get("axis", 1) != 1:
        raise Unsupported("it flattens from an axis other than 1")
    if after[:1] != before[:1]:
        raise Unsupported(f"it reshapes {list(before)} to {list(after)}, moving the batch axis")
    if len(after) == 2 and len(before) > 2:
        return Layer("Flatten")
    return Layer("Reshape", {"shape": list(after[1:])})


def dropout(node, unit, ctx) -> Layer:
    """Dropout (the identity at inference) -> Dropout, its rate kept for further training."""
    ratio = attrs(node).get("ratio") if ctx.graph.opset < 12 else ctx.optional(node, 1, "ratio")
    return Layer("Dropout", {"p": nice(0.5 if ratio is None else float(ratio))})


def resize(node, unit, ctx) -> Layer:
    """Resize / Upsample by a whole factor on height and width -> Upsample."""
    a = attrs(node)
    before, after = ctx.shape(unit.inputs[0]), ctx.shape(unit.output)
    if len(before) != 4 or before[:2] != after[:2]:
        raise Unsupported("Layerlab's Upsample enlarges the height and width of images")
    factors = {after[2] / before[2], after[3] / before[3]}
    if len(factors) != 1 or not float(next(iter(factors))).is_integer():
        raise Unsupported(f"it resizes {list(before[2:])} to {list(after[2:])}, not by one whole "
                          "factor")
    mode, ctm = a.get("mode", "nearest"), a.get("coordinate_transformation_mode", "half_pixel")
    params = {"scale_factor": int(next(iter(factors)))}
    if mode == "nearest" and (node.op_type == "Upsample" or (
            ctm == "asymmetric" and a.get("nearest_mode", "round_prefer_floor") == "floor")):
        return Layer("Upsample", {**params, "mode": "nearest"})
    if mode in ("linear", "bilinear") and ctm in ("half_pixel", "pytorch_half_pixel",
                                                 "align_corners"):
        return Layer("Upsample", {**params, "mode": "bilinear",
                                  "align_corners": ctm == "align_corners"})
    raise Unsupported(f"its {mode} mode with {ctm} coordinates is neither of Upsample's modes")


def plain(kind: str, **defaults) -> Recognizer:
    """An activation whose attributes are its params (ONNX name -> Layerlab name)."""

    def recognize(node, unit, ctx) -> Layer:
        a = attrs(node)
        params = {}
        for theirs, (ours, default) in defaults.items():
            value = a.get(theirs, default)
            params[ours] = nice(value) if isinstance(default, float) else value
        return Layer(kind, params)

    return recognize


OPS: dict[str, Recognizer] = {
    "Gemm": gemm, "MatMul": matmul, "Conv": conv, "ConvTranspose": conv_transpose,
    "MaxPool": max_pool, "AveragePool": average_pool, "GlobalAveragePool": global_average_pool,
    "ReduceMean": reduce_mean,
    "BatchNormalization": batch_norm, "LayerNormalization": layer_norm,
    "Relu": plain("ReLU"), "Sigmoid": plain("Sigmoid"), "Tanh": plain("Tanh"),
    "LeakyRelu": plain("LeakyReLU", alpha=("negative_slope", 0.01)),
    "Elu": plain("ELU", alpha=("alpha", 1.0)),
    "Gelu": plain("GELU", approximate=("approximate", "none")),
    "Softmax": softmax, "Concat": concat, "Add": add, "Sum": add,
    "Flatten": reshape, "Reshape": reshape, "Squeeze": reshape, "Unsqueeze": reshape,
    "Dropout": dropout, "Resize": resize, "Upsample": resize,
}
