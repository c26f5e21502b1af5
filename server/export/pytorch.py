"""PyTorch source export: one readable .py file that rebuilds the design with plain torch.

The generated class keeps Layerlab's submodule names (`self.layers["fc1"]`), so a state_dict
saved by Layerlab loads into it with strict=True. Each module is written from its catalog
entry's Call (the one the builder instantiates); only the wrappers the design uses (Recurrent,
Embedding, SelfAttention, Add, Concat, Reshape) are copied into the file, from
server/model/layers.py itself. The round-trip tests check every catalog layer.
"""

from __future__ import annotations

import inspect
import json
import keyword
import re
import textwrap

import torch

from server.export.errors import ExportError
from server.graph import CATALOG, Network, Node
from server.graph.modules import Call
from server.model.layers import WRAPPERS, module_class

RESERVED = {"x", "self", "torch", "nn", "sys", "model", "load", "INPUT_SHAPE", *WRAPPERS}
# Keyword defaults that inspect cannot read from these classes' signatures (`*args, **kwargs`,
# or a function as the default), so that the file leaves them out as it does every other default.
RNN_DEFAULTS = {"num_layers": 1, "bidirectional": False, "dropout": 0.0, "nonlinearity": "tanh"}
SIGNATURE_DEFAULTS = {"nn.RNN": RNN_DEFAULTS, "nn.GRU": RNN_DEFAULTS, "nn.LSTM": RNN_DEFAULTS,
                      "nn.TransformerEncoderLayer": {"activation": "relu"}}
WIDTH = 100  # the generated file keeps to the project's line length where it can


def _call(call: Call) -> str:
    """Source of a Call; keywords at their default are left out."""
    signature = inspect.signature(module_class(call.fn))
    known = {k: p.default for k, p in signature.parameters.items()}
    known.update(SIGNATURE_DEFAULTS.get(call.fn, {}))
    parts = [_literal(a) for a in call.args]
    for key, value in call.kwargs.items():
        default = known.get(key, inspect.Parameter.empty)
        if value == default and isinstance(value, bool) == isinstance(default, bool):
            continue
        parts.append(f"{key}={_literal(value)}")
    return f"{call.fn}({', '.join(parts)})"


def _literal(value) -> str:
    """Python source for a param value; strings in double quotes, like the rest of the file."""
    if isinstance(value, Call):
        return _call(value)
    return json.dumps(value) if isinstance(value, str) else repr(value)


def _wrappers(call: Call) -> set[str]:
    """The Layerlab wrappers a Call uses, its arguments' included."""
    inner = [a for a in (*call.args, *call.kwargs.values()) if isinstance(a, Call)]
    own = set() if call.fn.startswith("nn.") else {call.fn}
    return own.union(*(_wrappers(a) for a in inner))


def _layers(network: Network) -> list[Node]:
    """The nodes that become modules: all but the one the network is fed at."""
    return [n for n in network.nodes if n.id != network.input_id]


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
    unknown = sorted({n.type for n in _layers(network) if CATALOG[n.type].module is None})
    if unknown:
        raise ExportError(f"PyTorch export does not know the layer type(s) {', '.join(unknown)}")
    name = class_name(network)
    calls = {n.id: CATALOG[n.type].module(n) for n in _layers(network)}
    used = sorted(set().union(*(_wrappers(c) for c in calls.values())))
    source = "\n".join([
        _header(network, name),
        *("\n" + inspect.getsource(WRAPPERS[w]) for w in used),
        _model_class(network, name, calls),
        _footer(name),
    ])
    if state_dict is not None:
        _check_state_dict(source, name, state_dict)
    return source


def export_pytorch_gan(generator: Network, discriminator: Network,
                       state_dict: dict | None = None) -> str:
    """Both networks of a gan design in one file: `Generator` and `Discriminator` classes,
    `load_generator(path)` and `load_discriminator(path)` reading the run's one weights file
    (keys `generator.*` and `discriminator.*`), and a main that samples and scores."""
    parts = [("generator", generator), ("discriminator", discriminator)]
    for _, network in parts:
        unknown = sorted({n.type for n in _layers(network) if CATALOG[n.type].module is None})
        if unknown:
            raise ExportError(f"PyTorch export does not know the layer type(s) "
                              f"{', '.join(unknown)}")
    calls = {role: {n.id: CATALOG[n.type].module(n) for n in _layers(network)}
             for role, network in parts}
    used = sorted(set().union(*(_wrappers(c) for role in calls for c in calls[role].values())))
    header = _gan_header(generator, discriminator)
    source = "\n".join([
        header,
        *("\n" + inspect.getsource(WRAPPERS[w]) for w in used),
        _model_class(generator, "Generator", calls["generator"]),
        _model_class(discriminator, "Discriminator", calls["discriminator"]),
        _GAN_FOOTER,
    ])
    if state_dict is not None:
        for role, cls in (("generator", "Generator"), ("discriminator", "Discriminator")):
            prefix = f"{role}."
            _check_state_dict(source, cls, {k[len(prefix):]: v for k, v in state_dict.items()
                                            if k.startswith(prefix)})
    return source


def _gan_header(generator: Network, discriminator: Network) -> str:
    title = " ".join((generator.document.get("name") or "GAN").split()).replace(
        "\\", "/").replace('"', "'")
    params = sum(n.n_params for n in generator.nodes + discriminator.nodes)
    noise = tuple(generator.node(generator.input_id).shape)
    sample = tuple(discriminator.node(discriminator.input_id).shape)
    about = textwrap.fill(
        "`Generator` turns noise into samples and `Discriminator` scores samples (a logit: "
        "real > 0 > generated); each submodule is named by its canvas node id, so the weights "
        "Layerlab trained load with strict=True (both live in the run's one weights file).",
        WIDTH - 4)
    return f'''"""{title}: a GAN exported by Layerlab ({params:,} parameters).

{about}

    python this_file.py [weights.safetensors]
"""

import sys

import torch
from torch import nn

NOISE_SHAPE = {noise!r}  # one noise vector, without the batch axis
INPUT_SHAPE = {sample!r}  # one sample
'''


_GAN_FOOTER = '''
def _state(path, prefix: str) -> dict:
    """The weights of one network from Layerlab's weights file (or a plain state_dict)."""
    if str(path).endswith(".safetensors"):
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    if any(k.startswith(prefix) for k in state):
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    return state


def load_generator(path=None) -> Generator:
    """The generator in eval mode: noise (N, *NOISE_SHAPE) -> samples (N, *INPUT_SHAPE)."""
    model = Generator()
    if path is not None:
        model.load_state_dict(_state(path, "generator."), strict=True)
    return model.eval()


def load_discriminator(path=None) -> Discriminator:
    """The discriminator in eval mode: samples -> one logit each (real > 0 > generated)."""
    model = Discriminator()
    if path is not None:
        model.load_state_dict(_state(path, "discriminator."), strict=True)
    return model.eval()


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else None
    generator, discriminator = load_generator(path), load_discriminator(path)
    z = torch.randn(3, *NOISE_SHAPE)
    with torch.no_grad():
        x = generator(z)
        print(f"noise {tuple(z.shape)} -> samples {tuple(x.shape)}; "
              f"D(samples) = {torch.sigmoid(discriminator(x)).flatten().tolist()}")
'''


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
        if node.id == network.input_id:
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


def _model_class(network: Network, name: str, calls: dict[str, Call]) -> str:
    layers = _layers(network)
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
            lines += _line(12, f'"{n.id}": {_call(calls[n.id])},', f"-> {_shape(n.shape)}")
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
