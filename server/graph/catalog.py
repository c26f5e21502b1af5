"""The layer catalog: one table that drives validation, the model builder, the exports and the page.

Adding a layer is one entry here (its params, shape rule, module and the facts below) and one case
in tests/catalog_cases.py: the catalog, build and export tests are parametrized over this table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from server.graph import modules, rules
from server.graph.modules import Call
from server.graph.network import Node


@dataclass(frozen=True)
class Param:
    """One keyword of a layer, named as PyTorch names it."""

    name: str
    type: str  # "int" | "float" | "bool" | "choice" | "shape" (a list of ints)
    default: Any
    doc: str
    min: float | None = None  # inclusive bounds for int/float
    max: float | None = None
    choices: tuple | None = None  # for "choice"
    nullable: bool = False  # null means "follow another param" (e.g. pooling stride)

    def to_json(self) -> dict:
        """The param as /api/layers serves it."""
        return {
            "name": self.name,
            "type": self.type,
            "default": list(self.default) if isinstance(self.default, tuple) else self.default,
            "min": self.min,
            "max": self.max,
            "choices": list(self.choices) if self.choices else None,
            "nullable": self.nullable,
            "doc": self.doc,
        }


Rule = Callable[[list[rules.Shape], dict], tuple[rules.Shape, int]]
ModuleRule = Callable[[Node], Call]


@dataclass(frozen=True)
class LayerSpec:
    """A layer type: where it sits in the palette, its params, its shape rule and its module.

    Everything a later stage needs to know about a type is a field here, so the builder, the
    exports and the insight read the entry instead of testing type names.
    """

    type: str
    group: str
    doc: str
    params: tuple[Param, ...]
    rule: Rule
    min_inputs: int = 1
    max_inputs: int = 1
    # The module it becomes, as a pure Call (server/graph/modules.py) that the builder
    # instantiates and the PyTorch source export writes; None: fed, never built (Input).
    module: ModuleRule | None = None
    # What it keeps for backward per sample (its output plus what it allocates inside).
    saved: rules.SavedRule = rules.saved_output
    # A recurrent layer (its module's `.rnn` is an nn.RNNBase): the dynamo ONNX exporter
    # unrolls it over time, and the insight draws its state at every step.
    recurrent: bool = False
    # Rectifies at 0 (ReLU-like): a unit that outputs 0 on every sample is dead.
    relu_like: bool = False
    # The param that bounds the integer ids it takes (Embedding: num_embeddings); sample
    # inputs for checks are drawn below it.
    vocabulary: str | None = None
    # Its output's first axis is channels ([C, L], [C, H, W]): drawn as feature maps, never
    # as [time, features].
    channels_first: bool = False
    # The param that sets its output size: an error about a wrong output size sits on it.
    size_param: str | None = None
    # Inputs it takes in a design of another training kind, where that differs from
    # max_inputs: a gan's Input is fed by the generator's last node ({"gan": 1}).
    kind_inputs: tuple[tuple[str, int], ...] = ()

    def inputs_for(self, kind: str) -> int:
        """The most inputs it takes in a design of training kind `kind`."""
        return dict(self.kind_inputs).get(kind, self.max_inputs)

    @property
    def source(self) -> bool:
        """Takes no input: a network starts at it and feeds it a tensor (Input, Noise)."""
        return self.max_inputs == 0

    def defaults(self) -> dict:
        """Every param at its default."""
        return {p.name: p.default for p in self.params}

    def to_json(self) -> dict:
        """The entry as /api/layers serves it."""
        return {
            "type": self.type,
            "group": self.group,
            "doc": self.doc,
            # "kinds", where some training kind differs: {"gan": 1} for the Input.
            "inputs": {"min": self.min_inputs, "max": self.max_inputs,
                       **({"kinds": dict(self.kind_inputs)} if self.kind_inputs else {})},
            "params": [p.to_json() for p in self.params],
        }


BIG = 1_000_000_000  # int params are bounded by the size budget, not here


def _int(name: str, default: int | None, doc: str, lo: int = 1, hi: int = BIG, **kw) -> Param:
    return Param(name, "int", default, doc, lo, hi, **kw)


def _float(name: str, default: float, doc: str, lo: float, hi: float) -> Param:
    return Param(name, "float", default, doc, lo, hi)


def _bool(name: str, default: bool, doc: str) -> Param:
    return Param(name, "bool", default, doc)


BIAS = _bool("bias", True, "Learn an additive bias.")
KERNEL = _int("kernel_size", 3, "Width of the sliding window.", 1, 1024)
STRIDE = _int("stride", 1, "Step of the sliding window.", 1, 1024)
PADDING = _int("padding", 0, "Zeros added on each side.", 0, 1024)
DILATION = _int("dilation", 1, "Spacing between kernel taps.", 1, 1024)
POOL = (
    _int("kernel_size", 2, "Width of the pooling window.", 1, 1024),
    _int("stride", None, "Step of the window (empty: kernel_size).", 1, 1024, nullable=True),
    _int("padding", 0, "Padding on each side (at most half of kernel_size).", 0, 512),
)
RECURRENT = (
    _int("hidden_size", 32, "Units in the hidden state.", 1, 65536),
    _int("num_layers", 1, "Stacked recurrent layers.", 1, 16),
    _bool("bidirectional", False, "Also read the sequence backwards (doubles the output)."),
    _bool("return_sequences", False, "Output every time step (else the last one only)."),
    _float("dropout", 0.0, "Dropout between stacked layers.", 0.0, 0.99),
)
BN = (
    _float("eps", 1e-5, "Added to the variance for stability.", 0.0, 1.0),
    _float("momentum", 0.1, "Weight of the newest batch in the running statistics.", 0.0, 1.0),
    _bool("affine", True, "Learn a scale and a shift."),
)


CONV_TRANSPOSE = (
    _int("out_channels", 16, "Number of filters.", 1, 65536),
    _int("kernel_size", 2, "Width of the sliding window.", 1, 1024),
    _int("stride", 2, "Step between the input's points in the output (2: twice the size).",
         1, 1024),
    _int("padding", 0, "Rows and columns trimmed from each side of the output.", 0, 1024),
    _int("output_padding", 0, "Rows and columns added on one side (less than stride).", 0, 1023),
    BIAS,
)
UPSAMPLE = (
    Param("mode", "choice", "nearest", "Repeat the nearest value or interpolate.",
          choices=("nearest", "bilinear")),
    _int("scale_factor", 2, "Whole factor that multiplies the height and the width.", 1, 16),
    _bool("align_corners", False, "Bilinear only: align the corner pixels of input and output."),
)
NOISE = (
    _int("dim", 2, "Size of the noise vector z.", 1, 1024),
    Param("distribution", "choice", "normal", "z ~ N(0, 1) (normal) or U(-1, 1) (uniform).",
          choices=("normal", "uniform")),
)


def _entries() -> list[LayerSpec]:
    L = LayerSpec
    M = modules
    act = "Activation"
    maps = {"channels_first": True}
    rnn = {"module": M.recurrent, "recurrent": True, "size_param": "hidden_size"}
    return [
        # Core
        L("Input", "Core", "The network's input: one sample's shape, without the batch axis "
          "(in a GAN, real and generated samples both enter the discriminator here).",
          (Param("shape", "shape", None, "Shape of one sample, e.g. [2] or [1, 28, 28] "
                 "(empty: taken from the dataset).", 1, 1_000_000, nullable=True),),
          rules.input_, 0, 0, kind_inputs=(("gan", 1),)),
        L("Noise", "Core", "Random noise z, drawn afresh for every batch: a GAN's generator "
          "starts here.", NOISE, rules.noise, 0, 0, module=M.plain("nn.Identity"),
          size_param="dim"),
        L("Linear", "Core", "Fully connected layer: every output unit sees every input unit.",
          (_int("out_features", 16, "Number of output units.", 1, 1_000_000_000), BIAS),
          rules.linear, module=M.linear, saved=rules.saved_linear, size_param="out_features"),
        L("Flatten", "Core", "Flattens everything but the batch axis into one vector.", (),
          rules.flatten, module=M.plain("nn.Flatten")),
        L("Reshape", "Core", "Reshapes a sample; one -1 takes the remaining size.",
          (Param("shape", "shape", (-1,), "Target shape without the batch axis.", -1, BIG),),
          rules.reshape, module=M.reshape, size_param="shape"),
        L("Dropout", "Core", "Zeroes random units while training to fight overfitting.",
          (_float("p", 0.5, "Probability of zeroing a unit.", 0.0, 0.99),), rules.same,
          module=M.dropout, saved=rules.saved_dropout),
        L("Identity", "Core", "Passes its input through unchanged.", (), rules.same,
          module=M.plain("nn.Identity")),
        # Convolution
        L("Conv1d", "Convolution", "1-D convolution over [channels, length].",
          (_int("out_channels", 16, "Number of filters.", 1, 65536), KERNEL, STRIDE, PADDING,
           DILATION, BIAS), rules.conv1d, module=M.conv, saved=rules.saved_conv,
          size_param="out_channels", **maps),
        L("Conv2d", "Convolution", "2-D convolution over images [channels, height, width].",
          (_int("out_channels", 16, "Number of filters.", 1, 65536), KERNEL, STRIDE, PADDING,
           DILATION, BIAS), rules.conv2d, module=M.conv, saved=rules.saved_conv,
          size_param="out_channels", **maps),
        L("ConvTranspose2d", "Convolution", "Transposed 2-D convolution: learns to enlarge "
          "images [channels, height, width] (stride 2: twice the size).", CONV_TRANSPOSE,
          rules.conv_transpose2d, module=M.conv_transpose, saved=rules.saved_conv_transpose,
          size_param="out_channels", **maps),
        L("Upsample", "Convolution", "Enlarges images [channels, height, width] by a whole "
          "factor, without weights.", UPSAMPLE, rules.upsample, module=M.upsample, **maps),
        L("MaxPool1d", "Convolution", "Keeps the maximum of each window along the length.",
          POOL, rules.pool1d("MaxPool1d"), module=M.pool, **maps),
        L("MaxPool2d", "Convolution", "Keeps the maximum of each window of an image.",
          POOL, rules.pool2d("MaxPool2d"), module=M.pool, **maps),
        L("AvgPool2d", "Convolution", "Averages each window of an image.",
          POOL, rules.pool2d("AvgPool2d"), module=M.pool, **maps),
        L("AdaptiveAvgPool2d", "Convolution", "Averages an image down to a fixed size.",
          (_int("output_size", 1, "Output height and width.", 1, 4096),),
          rules.adaptive_avg_pool2d, module=M.adaptive_pool, size_param="output_size", **maps),
        # Normalization
        L("BatchNorm1d", "Normalization", "Normalizes each feature over the batch.", BN,
          rules.batchnorm1d, module=M.batchnorm, **maps),
        L("BatchNorm2d", "Normalization", "Normalizes each channel over the batch.", BN,
          rules.batchnorm2d, module=M.batchnorm, **maps),
        L("LayerNorm", "Normalization", "Normalizes each sample over its last axis.",
          (_float("eps", 1e-5, "Added to the variance for stability.", 0.0, 1.0),
           _bool("elementwise_affine", True, "Learn a scale and a shift.")), rules.layernorm,
          module=M.layernorm),
        # Activation
        L("ReLU", act, "max(0, x): the default choice for deep networks.", (), rules.same,
          module=M.plain("nn.ReLU"), relu_like=True),
        L("LeakyReLU", act, "Like ReLU but lets a small slope through for x < 0.",
          (_float("negative_slope", 0.01, "Slope for x < 0.", 0.0, 1.0),), rules.same,
          module=M.keywords("negative_slope"), relu_like=True),
        L("ELU", act, "Smooth ReLU that saturates at -alpha for x < 0.",
          (_float("alpha", 1.0, "Value approached for very negative x.", 0.0, 10.0),),
          rules.same, module=M.keywords("alpha")),
        L("GELU", act, "Smooth ReLU used in transformers.",
          (Param("approximate", "choice", "none", "Exact or tanh approximation.",
                 choices=("none", "tanh")),), rules.same, module=M.keywords("approximate")),
        L("Sigmoid", act, "Squashes to (0, 1).", (), rules.same, module=M.plain("nn.Sigmoid")),
        L("Tanh", act, "Squashes to (-1, 1).", (), rules.same, module=M.plain("nn.Tanh")),
        L("Softmax", act, "Turns scores into probabilities (not needed before cross-entropy).",
          (_int("dim", -1, "Axis that sums to one (-1: the last).", -8, 7),), rules.softmax,
          module=M.softmax),
        # Recurrent and attention
        L("RNN", "Recurrent", "Simple recurrent layer over [time, features].",
          RECURRENT + (Param("nonlinearity", "choice", "tanh", "Activation of the cell.",
                             choices=("tanh", "relu")),), rules.recurrent("RNN", 1),
          saved=rules.saved_recurrent(1), **rnn),
        L("GRU", "Recurrent", "Gated recurrent unit over [time, features].", RECURRENT,
          rules.recurrent("GRU", 3), saved=rules.saved_recurrent(3), **rnn),
        L("LSTM", "Recurrent", "Long short-term memory over [time, features].", RECURRENT,
          rules.recurrent("LSTM", 4), saved=rules.saved_recurrent(4), **rnn),
        L("Embedding", "Recurrent", "Maps integer ids to learned vectors.",
          (_int("num_embeddings", 16, "Size of the vocabulary (ids 0..n-1).", 1, 10_000_000),
           _int("embedding_dim", 16, "Length of each vector.", 1, 65536)), rules.embedding,
          module=M.embedding, vocabulary="num_embeddings", size_param="embedding_dim"),
        L("MultiheadAttention", "Recurrent", "Self-attention over [time, features].",
          (_int("num_heads", 1, "Attention heads (must divide the feature size).", 1, 1024),
           _float("dropout", 0.0, "Dropout on attention weights.", 0.0, 0.99), BIAS),
          rules.multihead_attention, module=M.self_attention, saved=rules.saved_attention),
        L("TransformerEncoderLayer", "Recurrent",
          "Self-attention plus a feed-forward block, with residuals and LayerNorm.",
          (_int("nhead", 2, "Attention heads (must divide the feature size).", 1, 1024),
           _int("dim_feedforward", 64, "Width of the feed-forward block.", 1, 65536),
           _float("dropout", 0.1, "Dropout inside the block.", 0.0, 0.99),
           Param("activation", "choice", "relu", "Activation of the feed-forward block.",
                 choices=("relu", "gelu")),
           _bool("norm_first", False, "LayerNorm before each block (pre-norm).")),
          rules.transformer_encoder_layer, module=M.encoder_layer, saved=rules.saved_encoder),
        # Merge
        L("Add", "Merge", "Adds inputs of one shape: shortcut (residual) connections.", (),
          rules.add, 2, 16, module=M.plain("Add")),
        L("Concat", "Merge", "Joins inputs along an axis.",
          (_int("dim", 0, "Axis without the batch (0: features or channels; -1: last).", -8, 7),),
          rules.concat, 2, 16, module=M.concat),
    ]


CATALOG: dict[str, LayerSpec] = {spec.type: spec for spec in _entries()}


def catalog_json() -> list[dict]:
    """The catalog as GET /api/layers serves it."""
    return [spec.to_json() for spec in CATALOG.values()]
