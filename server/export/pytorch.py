"""PyTorch source export: one readable .py file that rebuilds the design with plain torch.

The generated class keeps Layerlab's submodule names (`self.layers["fc1"]`), so a state_dict
saved by Layerlab loads into it with strict=True. Only the small wrappers the design uses
(Recurrent, Embedding, SelfAttention, Add, Concat, Reshape) are written into the file; they match
server/model/layers.py, which the round-trip tests check for every catalog layer.
"""

from __future__ import annotations

import inspect
import json
import keyword
import re
import textwrap
from collections.abc import Callable

import torch
from torch import nn

from server.export.errors import ExportError
from server.graph import Network, Node

WRAPPERS = {
    "Reshape": '''
class Reshape(nn.Module):
    """Reshape every sample to a fixed shape."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)
''',
    "Recurrent": '''
class Recurrent(nn.Module):
    """RNN/GRU/LSTM over (N, T, F): every step's output, or the last step of each direction."""

    def __init__(self, rnn: nn.RNNBase, return_sequences: bool):
        super().__init__()
        self.rnn = rnn
        self.return_sequences = return_sequences
        self.directions = 2 if rnn.bidirectional else 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, h = self.rnn(x)  # out: (N, T, H * directions)
        if self.return_sequences:
            return out
        if isinstance(h, tuple):  # LSTM: (h_n, c_n)
            h = h[0]
        last = h[-self.directions:]  # (directions, N, H): the top layer
        return last.transpose(0, 1).reshape(x.shape[0], -1)
''',
    "Embedding": '''
class Embedding(nn.Module):
    """nn.Embedding that takes float ids (cast to long) and, optionally, (N, T, 1) columns."""

    def __init__(self, num_embeddings: int, embedding_dim: int, squeeze_last: bool = False):
        super().__init__()
        self.embedding = nn.Embedding(num_embeddings, embedding_dim)
        self.squeeze_last = squeeze_last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.squeeze_last:
            x = x[..., 0]
        return self.embedding(x.long())
''',
    "SelfAttention": '''
class SelfAttention(nn.Module):
    """Multi-head self-attention over (N, T, E): query, key and value are the input."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.attn = nn.MultiheadAttention(embed_dim, num_heads, dropout=dropout, bias=bias,
                                          batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x, x, x, need_weights=False)[0]
''',
    "Add": '''
class Add(nn.Module):
    """Element-wise sum of its inputs."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out
''',
    "Concat": '''
class Concat(nn.Module):
    """Concatenate its inputs along `dim` (counted with the batch axis)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=self.dim)
''',
}

RESERVED = {"x", "self", "torch", "nn", "sys", "model", "load", "INPUT_SHAPE", *WRAPPERS}
RNN_DEFAULTS = {"num_layers": 1, "bidirectional": False, "dropout": 0.0, "nonlinearity": "tanh"}
WIDTH = 100  # the generated file keeps to the project's line length where it can


def _call(fn: str, *args, defaults: dict | None = None, **kwargs) -> str:
    """Source of a call; keywords at their default (PyTorch's, for nn.*) are left out."""
    known = {}
    if fn.startswith("nn."):
        signature = inspect.signature(getattr(nn, fn[3:]))
        known = {k: p.default for k, p in signature.parameters.items()}
    known.update(defaults or {})
    parts = [_literal(a) for a in args]
    for key, value in kwargs.items():
        default = known.get(key, inspect.Parameter.empty)
        if value == default and isinstance(value, bool) == isinstance(default, bool):
            continue
        parts.append(f"{key}={_literal(value)}")
    return f"{fn}({', '.join(parts)})"


def _literal(value) -> str:
    """Python source for a param value; strings in double quotes, like the rest of the file."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def _batch_dim(dim: int) -> int:
    """A dim counted without the batch axis, as counted with it (as server/model does)."""
    return dim + 1 if dim >= 0 else dim


def _recurrent(n: Node) -> str:
    p = n.params
    extra = {"nonlinearity": p["nonlinearity"]} if n.type == "RNN" else {}
    rnn = _call(f"nn.{n.type}", n.in_shapes[0][-1], p["hidden_size"],
                num_layers=p["num_layers"], bidirectional=p["bidirectional"], batch_first=True,
                dropout=p["dropout"] if p["num_layers"] > 1 else 0.0, **extra,
                defaults=RNN_DEFAULTS)
    return f"Recurrent({rnn}, return_sequences={p['return_sequences']})"


def _conv(n: Node) -> str:
    p = n.params
    return _call(f"nn.{n.type}", n.in_shapes[0][0], p["out_channels"], p["kernel_size"],
                 stride=p["stride"], padding=p["padding"], dilation=p["dilation"], bias=p["bias"])


def _pool(n: Node) -> str:
    p = n.params
    k = p["kernel_size"]
    stride = None if p["stride"] in (None, k) else p["stride"]  # PyTorch's None means k
    return _call(f"nn.{n.type}", k, stride=stride, padding=p["padding"])


def _norm(n: Node) -> str:
    p = n.params
    return _call(f"nn.{n.type}", n.in_shapes[0][0], eps=p["eps"], momentum=p["momentum"],
                 affine=p["affine"])


def _plain(name: str) -> Callable[[Node], str]:
    return lambda n: f"nn.{name}()"


MODULES: dict[str, Callable[[Node], str]] = {
    "Linear": lambda n: _call("nn.Linear", n.in_shapes[0][-1], n.params["out_features"],
                              bias=n.params["bias"]),
    "Flatten": _plain("Flatten"),
    "Reshape": lambda n: _call("Reshape", tuple(n.shape)),
    "Dropout": lambda n: _call("nn.Dropout", n.params["p"]),
    "Identity": _plain("Identity"),
    "Conv1d": _conv,
    "Conv2d": _conv,
    "MaxPool1d": _pool,
    "MaxPool2d": _pool,
    "AvgPool2d": _pool,
    "AdaptiveAvgPool2d": lambda n: _call("nn.AdaptiveAvgPool2d", n.params["output_size"]),
    "BatchNorm1d": _norm,
    "BatchNorm2d": _norm,
    "LayerNorm": lambda n: _call("nn.LayerNorm", n.in_shapes[0][-1], eps=n.params["eps"],
                                 elementwise_affine=n.params["elementwise_affine"]),
    "ReLU": _plain("ReLU"),
    "LeakyReLU": lambda n: _call("nn.LeakyReLU", negative_slope=n.params["negative_slope"]),
    "ELU": lambda n: _call("nn.ELU", alpha=n.params["alpha"]),
    "GELU": lambda n: _call("nn.GELU", approximate=n.params["approximate"]),
    "Sigmoid": _plain("Sigmoid"),
    "Tanh": _plain("Tanh"),
    "Softmax": lambda n: _call("nn.Softmax", dim=_batch_dim(n.params["dim"])),
    "RNN": _recurrent,
    "GRU": _recurrent,
    "LSTM": _recurrent,
    "Embedding": lambda n: _call(
        "Embedding", n.params["num_embeddings"], n.params["embedding_dim"],
        squeeze_last=len(n.in_shapes[0]) > 1 and n.in_shapes[0][-1] == 1,
        defaults={"squeeze_last": False}),
    "MultiheadAttention": lambda n: _call(
        "SelfAttention", n.in_shapes[0][-1], n.params["num_heads"], dropout=n.params["dropout"],
        bias=n.params["bias"], defaults={"dropout": 0.0, "bias": True}),
    "TransformerEncoderLayer": lambda n: _call(
        "nn.TransformerEncoderLayer", n.in_shapes[0][-1], n.params["nhead"],
        dim_feedforward=n.params["dim_feedforward"], dropout=n.params["dropout"],
        activation=n.params["activation"], batch_first=True, norm_first=n.params["norm_first"],
        defaults={"activation": "relu"}),
    "Add": lambda n: "Add()",
    "Concat": lambda n: _call("Concat", _batch_dim(n.params["dim"])),
}
WRAPPER_OF = {"RNN": "Recurrent", "GRU": "Recurrent", "LSTM": "Recurrent",
              "MultiheadAttention": "SelfAttention", "Embedding": "Embedding",
              "Reshape": "Reshape", "Add": "Add", "Concat": "Concat"}


def class_name(network: Network) -> str:
    """The generated class's name: the design's name in CamelCase ('Spiral MLP' -> SpiralMLP)."""
    words = re.findall(r"[A-Za-z0-9]+", network.name or "")
    name = "".join(w[0].upper() + w[1:] for w in words) or "Network"
    if name[0].isdigit():
        name = "Net" + name
    if name in RESERVED or name in {"Module", "Tensor"}:
        name += "Net"
    return name


def export_pytorch(network: Network, state_dict: dict | None = None) -> str:
    """Readable, self-contained PyTorch source rebuilding the design; checks `state_dict` fits."""
    unknown = sorted({n.type for n in network.nodes if n.type != "Input"} - set(MODULES))
    if unknown:
        raise ExportError(f"PyTorch export does not know the layer type(s) {', '.join(unknown)}")
    name = class_name(network)
    used = sorted({WRAPPER_OF[n.type] for n in network.nodes if n.type in WRAPPER_OF})
    source = "\n".join([
        _header(network, name),
        *(WRAPPERS[w] for w in used),
        _model_class(network, name),
        _footer(name),
    ])
    if state_dict is not None:
        _check_state_dict(source, name, state_dict)
    return source


def _shape(shape) -> str:
    """(N, 16): a shape with the batch axis written N."""
    return "(" + ", ".join(["N", *(str(d) for d in shape)]) + ")"


def _header(network: Network, name: str) -> str:
    title = " ".join((network.name or "Network").split()).replace("\\", "/").replace('"', "'")
    params = sum(n.n_params for n in network.nodes)
    shape = tuple(network.node(network.input_id).shape)
    about = textwrap.fill(
        f"`{name}` rebuilds the design with plain torch; each submodule is named by its canvas "
        "node id, so weights trained in Layerlab load with strict=True. Weights files are "
        "safetensors, or a state_dict saved by torch.save (loaded with weights_only=True).",
        WIDTH - 4)
    return f'''"""{title}: a PyTorch model exported by Layerlab ({params:,} parameters).

{about}

    python this_file.py [weights.safetensors]
"""

import sys

import torch
from torch import nn

INPUT_SHAPE = {shape!r}  # one sample, without the batch axis
'''


def _variables(network: Network) -> dict[str, str]:
    """A Python name for each node's output in forward(): its id where that is a valid name."""
    names: dict[str, str] = {}
    taken = set(RESERVED)
    for node in network.nodes:
        if node.type == "Input":
            names[node.id] = "x"
            continue
        base = re.sub(r"\W", "_", node.id)
        if base[0].isdigit() or keyword.iskeyword(base) or base in RESERVED:
            base = f"{base}_" if not base[0].isdigit() else f"n{base}"
        var, k = base, 1
        while var in taken:
            k += 1
            var = f"{base}_{k}"
        taken.add(var)
        names[node.id] = var
    return names


def _line(indent: int, code: str, comment: str) -> list[str]:
    """`code  # comment`, wrapped after the first "(" and then at spaces to stay within WIDTH."""
    pad = " " * indent
    lines = [pad + code]
    if len(lines[0]) > WIDTH and "(" in code:
        head, rest = code.split("(", 1)
        wrapped = textwrap.wrap(rest, WIDTH - indent - 4, break_long_words=False,
                                break_on_hyphens=False)
        lines = [f"{pad}{head}("] + [f"{pad}    {part}" for part in wrapped]
    if len(lines[-1]) + len(comment) + 4 <= WIDTH:
        lines[-1] += f"  # {comment}"
    else:
        lines.insert(0, f"{pad}# {comment}")
    return lines


def _model_class(network: Network, name: str) -> str:
    layers = [n for n in network.nodes if n.type != "Input"]
    var = _variables(network)
    inp = network.node(network.input_id)
    lines = [
        "",
        f"class {name}(nn.Module):",
        f'    """{len(layers)} layer{"" if len(layers) == 1 else "s"}; forward runs them in '
        'topological order."""',
        "",
        "    def __init__(self):",
        "        super().__init__()",
    ]
    if layers:
        lines.append("        self.layers = nn.ModuleDict({")
        for n in layers:
            lines += _line(12, f'"{n.id}": {MODULES[n.type](n)},', f"-> {_shape(n.shape)}")
        lines.append("        })")
    else:
        lines.append("        self.layers = nn.ModuleDict()")
    lines += [
        "",
        "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
        f'        # x: the input "{inp.id}", {_shape(inp.shape)}',
    ]
    for n in layers:
        args = ", ".join(var[i] for i in n.inputs)
        lines += _line(8, f'{var[n.id]} = self.layers["{n.id}"]({args})', _shape(n.shape))
    lines.append(f"        return {var[network.output_id]}")
    return "\n".join(lines) + "\n"


def _footer(name: str) -> str:
    return f'''
def load(path=None) -> {name}:
    """The model in eval mode, with the weights in `path` when one is given."""
    model = {name}()
    if path is not None:
        if str(path).endswith(".safetensors"):
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    return model.eval()


if __name__ == "__main__":
    model = load(sys.argv[1] if len(sys.argv) > 1 else None)
    x = torch.randn(3, *INPUT_SHAPE)
    with torch.no_grad():
        y = model(x)
    print(f"{{tuple(x.shape)}} -> {{tuple(y.shape)}}")
'''


def build_class(source: str, name: str) -> type[torch.nn.Module]:
    """Execute generated source and return its model class (for checks and tests)."""
    namespace: dict = {"__name__": "layerlab_export"}
    exec(compile(source, f"<{name}>", "exec"), namespace)  # our own generated source
    return namespace[name]


def _check_state_dict(source: str, name: str, state_dict: dict) -> None:
    """The generated class must take `state_dict` strictly (built on the meta device: free)."""
    with torch.device("meta"):
        model = build_class(source, name)()
        try:
            model.load_state_dict(state_dict, strict=True, assign=True)
        except RuntimeError as e:
            raise ExportError(f"the weights do not fit the design: {e}") from e
