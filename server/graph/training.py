"""The document's `training` section as data: one table of fields (pure; no torch, no Flask).

`FIELDS` is to the training section what the layer catalog is to layers: `resolve_training`
checks a section against it and fills its defaults, `GET /api/training` serves it (with each
kind's metrics, step buttons and live rates, `server/graph/kinds.py`), and the page builds its
training form from it. A field's `path` is where it sits in the section (`optimizer.lr`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from server.graph.kinds import SPECS, KindSpec
from server.graph.rules import show

KINDS = tuple(SPECS)  # every `training.kind`, the default first
OPTIMIZER_NAMES = ("sgd", "adam", "adamw", "adagrad", "rmsprop")
DEFAULT_LR = {"sgd": 0.1, "adam": 0.01, "adamw": 0.01, "adagrad": 0.05, "rmsprop": 0.01}
PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # training.precision
MAX_COUNT = 100_000_000  # most epochs or steps a run may ask for
MAX_SEED = 2**53  # a seed JavaScript can hold exactly, as every document number must be


@dataclass(frozen=True)
class Field:
    """One field of the training section, with every rule the server and the page apply."""

    path: str  # dotted, inside `training`: "batch_size", "optimizer.lr", "gan.d_steps"
    type: str  # "choice" | "int" | "float" | "bool" | "dataset" | "environment" (checked by
    # server.data and server.envs)
    default: Any  # what an absent field resolves to (None: off, or until stopped)
    doc: str  # one line, shown under the form field
    min: float | None = None  # bounds of an int or float, inclusive unless said below
    max: float | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False
    choices: tuple[str, ...] | None = None  # the values of a "choice", as the form lists them
    pattern: str | None = None  # more values a "choice" accepts, as a regex (device "cuda:1")
    nullable: bool = False  # null is a value (epochs null: until stopped)
    kinds: tuple[str, ...] = KINDS  # the kinds whose designs use the field
    when: tuple[tuple[str, tuple], ...] = ()  # (path, values): used only where path holds one
    default_by: tuple[str, tuple[tuple[str, Any], ...]] | None = None  # default by another field
    label: str | None = None  # its name in messages, where not its path
    expect: str | None = None  # what "must be" says, where the type's own words do not fit

    @property
    def name(self) -> str:
        """The key inside its object: "lr" for "optimizer.lr"."""
        return self.path.rpartition(".")[2]

    def default_for(self, values: dict) -> Any:
        """The default, given the fields resolved so far (an optimizer's own rate)."""
        if self.default_by is None:
            return self.default
        path, table = self.default_by
        return dict(table).get(values.get(path), self.default)

    def holds(self, values: dict) -> bool:
        """Whether the field is used, given the fields resolved so far; where one it depends on
        is unknown (refused), it is, so that a misspelt optimizer is the one error."""
        return all(path not in values or values[path] in allowed for path, allowed in self.when)

    def problem(self, value: Any, label: str | None = None) -> str | None:
        """Why `value` is not one of this field's values (None when it is)."""
        if value is None and self.nullable:
            return None
        if _accepts(self, value):
            return None
        return f"{label or self.label or self.path} must be {self.expected()}; got {show(value)}"

    def expected(self) -> str:
        """What the field's values are, in the words a message uses after "must be"."""
        if self.expect:
            return self.expect
        if self.type == "choice":
            return f"one of {', '.join(self.choices)}"
        if self.type == "bool":
            return "true or false"
        if self.type == "dataset":
            return 'an object like {"name": "spiral"}'
        if self.type == "environment":
            return 'an object like {"name": "cartpole"}'
        if self.type == "init":
            return 'an object like {"run": "RUN_ID"} or {"weights": "UPLOAD_ID"}'
        return _range_words(self)

    def to_json(self) -> dict:
        """The field as GET /api/training serves it."""
        return {
            "path": self.path, "name": self.name, "type": self.type, "default": self.default,
            "min": self.min, "max": self.max, "min_exclusive": self.min_exclusive,
            "max_exclusive": self.max_exclusive,
            "choices": list(self.choices) if self.choices else None, "pattern": self.pattern,
            "nullable": self.nullable, "doc": self.doc, "kinds": list(self.kinds),
            "when": {path: list(allowed) for path, allowed in self.when} or None,
            "default_by": None if self.default_by is None else {
                "path": self.default_by[0], "values": dict(self.default_by[1])},
            "label": self.label or self.path,
        }


def _accepts(f: Field, v: Any) -> bool:
    if f.type == "int":
        return _is_int(v) and _in_range(f, v)
    if f.type == "float":
        return _is_num(v) and _in_range(f, v)
    if f.type == "bool":
        return isinstance(v, bool)
    if f.type == "choice":
        return isinstance(v, str) and (v in f.choices or bool(f.pattern and re.match(f.pattern, v)))
    return isinstance(v, dict)  # "dataset", "environment", "init": checked by their modules


def _in_range(f: Field, v: float) -> bool:
    low = f.min is None or (v > f.min if f.min_exclusive else v >= f.min)
    high = f.max is None or (v < f.max if f.max_exclusive else v <= f.max)
    return low and high  # False for NaN, as every comparison with it is


def _range_words(f: Field) -> str:
    lo, hi = f.min, f.max
    if f.type == "int":
        if hi is None or hi >= MAX_COUNT:
            return {1: "a positive integer", 0: "a non-negative integer"}.get(
                lo, f"an integer of at least {_num(lo)}")
        return f"an integer from {_num(lo)} to {_num(hi)}"
    if hi is None:
        return "a positive number" if f.min_exclusive else "a non-negative number"
    return (f"a number in {'(' if f.min_exclusive else '['}{_num(lo)}, "
            f"{_num(hi)}{')' if f.max_exclusive else ']'}")


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _optimizer(prefix: str, kinds: tuple[str, ...], doc: str) -> list[Field]:
    """The fields of one optimizer at `prefix`; those of one algorithm only carry `when`."""
    sel = f"{prefix}.name"
    short = prefix == "optimizer"  # the plain optimizer's fields keep their short names

    def f(name: str, type_: str, default: Any, doc: str, only: tuple = (), **kw) -> Field:
        return Field(f"{prefix}.{name}", type_, default, doc, kinds=kinds,
                     when=((sel, only),) if only else (), label=name if short else None, **kw)

    return [
        Field(sel, "choice", "adam", doc, choices=OPTIMIZER_NAMES, kinds=kinds,
              label=prefix if short else None),
        f("lr", "float", DEFAULT_LR["adam"], "Step size; each optimizer has its own default.",
          min=0, max=10, min_exclusive=True, default_by=(sel, tuple(DEFAULT_LR.items()))),
        f("weight_decay", "float", 0.0, "L2 penalty on the weights (AdamW: decoupled).",
          min=0, max=1),
        f("grad_clip", "float", None, "Clip the gradient norm to this (empty: off).",
          min=0, min_exclusive=True, nullable=True),
        f("momentum", "float", 0.0, "Fraction of the last update carried into the next.",
          ("sgd", "rmsprop"), min=0, max=1, max_exclusive=True),
        f("nesterov", "bool", False, "Nesterov momentum (needs momentum above 0).", ("sgd",)),
        f("beta1", "float", 0.9, "Decay of the running mean gradient (a GAN often wants 0.5).",
          ("adam", "adamw"), min=0, max=1, max_exclusive=True),
        f("beta2", "float", 0.999, "Decay of the running squared gradient.",
          ("adam", "adamw"), min=0, max=1, max_exclusive=True),
    ]


SUPERVISED, GAN, DQN = ("supervised",), ("gan",), ("dqn",)
FROM_DATA = ("supervised", "gan")  # the kinds that learn from a dataset
OBJECTS = ("dataset", "environment", "init")  # fields whose insides other modules check
FIELDS: tuple[Field, ...] = (
    Field("kind", "choice", "supervised", "How the design learns: supervised (inputs to "
          "targets), gan (a generator against a discriminator) or dqn (a Q-network playing "
          "an environment).", choices=KINDS),
    Field("dataset", "dataset", None, "What to learn from: {\"name\", ...} with the dataset's "
          "own params (GET /api/datasets).", kinds=FROM_DATA),
    Field("init", "init", None, "Start from these weights instead of fresh ones: {\"run\": "
          "RUN_ID} (an earlier run's) or {\"weights\": UPLOAD_ID} (imported or uploaded); "
          "null: fresh weights.", nullable=True),
    Field("environment", "environment", None, "Where the agent acts: {\"name\", \"seed\"} "
          "of one of GET /api/environments.", kinds=DQN),
    Field("gan.loss", "choice", "log", "log: the non-saturating generator loss; least_squares: "
          "LSGAN's squared error.", choices=("log", "least_squares"), kinds=GAN),
    Field("gan.d_steps", "int", 1, "Discriminator steps per iteration.", min=1, max=100,
          kinds=GAN),
    Field("gan.g_steps", "int", 1, "Generator steps per iteration.", min=1, max=100, kinds=GAN),
    Field("dqn.gamma", "float", 0.99, "Discount: how much a reward one step later is worth.",
          min=0, max=1, min_exclusive=True, kinds=DQN),
    Field("dqn.replay_size", "int", 50_000, "Transitions the replay buffer keeps (the oldest "
          "go first).", min=1, max=10_000_000, kinds=DQN),
    Field("dqn.learning_starts", "int", 1000, "Environment steps of acting before the first "
          "update (the buffer fills first).", min=0, max=MAX_COUNT, kinds=DQN),
    Field("dqn.train_every", "int", 1, "Environment steps per Q-network update.", min=1,
          max=1000, kinds=DQN),
    Field("dqn.target_update", "int", 500, "Environment steps between copies of the Q-network "
          "into the target network.", min=1, max=MAX_COUNT, kinds=DQN),
    Field("dqn.epsilon_start", "float", 1.0, "Exploration at the start: the chance of a random "
          "action.", min=0, max=1, kinds=DQN),
    Field("dqn.epsilon_end", "float", 0.05, "Exploration once the schedule ends.", min=0,
          max=1, kinds=DQN),
    Field("dqn.epsilon_decay_steps", "int", 10_000, "Environment steps over which ε falls "
          "linearly from epsilon_start to epsilon_end.", min=1, max=MAX_COUNT, kinds=DQN),
    Field("dqn.double", "bool", True, "Double DQN: the online network picks the next action, "
          "the target network values it (less overestimation).", kinds=DQN),
    *_optimizer("optimizer", KINDS, "How the weights follow the gradient (a gan: the "
                "discriminator's). Adam is a safe first choice; SGD with momentum often "
                "generalises well."),
    *_optimizer("gan.generator_optimizer", GAN, "How the generator's weights follow the "
                "gradient (optimizer is the discriminator's)."),
    Field("pretrain.method", "choice", "none", "rbm: pre-train each Linear followed by Sigmoid "
          "as a restricted Boltzmann machine, one layer at a time, before backprop (a deep "
          "belief net, Hinton et al. 2006); none: start from random weights.",
          choices=("none", "rbm"), kinds=SUPERVISED),
    Field("pretrain.epochs", "int", 5, "Passes over the training data for each pre-trained "
          "layer.", min=1, max=1000, kinds=SUPERVISED, when=(("pretrain.method", ("rbm",)),)),
    Field("pretrain.k", "int", 1, "Gibbs steps of contrastive divergence (CD-k).", min=1,
          max=100, kinds=SUPERVISED, when=(("pretrain.method", ("rbm",)),)),
    Field("pretrain.lr", "float", 0.05, "The RBMs' learning rate.", min=0, max=10,
          min_exclusive=True, kinds=SUPERVISED, when=(("pretrain.method", ("rbm",)),)),
    Field("batch_size", "int", 32, "Samples per optimizer step (dqn: transitions replayed per "
          "update).", min=1, max=65536),
    Field("epochs", "int", None, "Passes over the training data (empty: no limit of its own).",
          min=1, max=MAX_COUNT, nullable=True, kinds=FROM_DATA),
    Field("steps", "int", None, "Training steps (dqn: environment steps; empty: no limit of "
          "its own). With no bound at all, the run goes on until Stop.", min=1, max=MAX_COUNT,
          nullable=True),
    Field("episodes", "int", None, "Episodes to play (empty: no limit of its own).", min=1,
          max=MAX_COUNT, nullable=True, kinds=DQN),
    Field("loss", "choice", "auto", "auto: cross-entropy for classes, mean squared error "
          "otherwise.", choices=("auto", "cross_entropy", "mse", "l1", "bce_with_logits"),
          kinds=SUPERVISED),
    Field("task", "choice", "auto", "auto: the dataset's own task; reconstruction: the target "
          "is the input (an autoencoder).", choices=("auto", "reconstruction"), kinds=SUPERVISED),
    Field("device", "choice", "auto", "auto uses the GPU when the server has one; cuda:N picks "
          "one of several.", choices=("auto", "cpu", "cuda"), pattern=r"^(cuda:\d{1,2}|mps)$",
          expect="auto, cpu, cuda or cuda:N"),
    Field("precision", "choice", "auto", "auto: bf16 on a GPU that has it, else fp32; bf16 or "
          "fp16 (with a grad scaler) run matmuls and convolutions in half precision; weights "
          "and exports stay fp32.", choices=PRECISIONS, kinds=SUPERVISED),
    Field("seed", "int", 0, "Seeds weights, shuffling and dropout: the same seed repeats a run.",
          min=0, max=MAX_SEED),
)
BY_PATH = {f.path: f for f in FIELDS}
SELECTORS = {path for f in FIELDS for path, _ in f.when}  # fields that others depend on
_DEVICE = BY_PATH["device"]
DEVICE_RE = re.compile(rf"^({'|'.join(_DEVICE.choices)})$|{_DEVICE.pattern}")


def _members(prefix: str) -> dict[str, Field | str]:
    """The keys of the object at `prefix` ("" is the section): a Field, or the path of a group."""
    out: dict[str, Field | str] = {}
    start = f"{prefix}." if prefix else ""
    for f in FIELDS:
        if f.path.startswith(start):
            key, dot, _ = f.path[len(start):].partition(".")
            out.setdefault(key, f"{start}{key}" if dot else f)
    return out


GROUPS = {p: _members(p) for p in ["", *{f.path.rpartition(".")[0] for f in FIELDS} - {""}]}


def kinds_of(path: str) -> tuple[str, ...]:
    """The kinds that use a field or a group of fields."""
    return tuple(k for k in KINDS if any(
        k in f.kinds for f in FIELDS if f.path == path or f.path.startswith(f"{path}.")))


def training_json() -> dict:
    """What GET /api/training serves: every field of every kind, and each kind's descriptor."""
    return {"fields": [f.to_json() for f in FIELDS],
            "kinds": [_kind_json(spec) for spec in SPECS.values()]}


def _kind_json(spec: KindSpec) -> dict:
    bounds = ("type", "default", "min", "max", "min_exclusive", "max_exclusive")
    return {"name": spec.name, "doc": spec.doc, "baseline": spec.baseline,
            "metrics": [asdict(m) for m in spec.metrics],
            "steps": [asdict(s) for s in spec.steps],
            "hparams": [{**asdict(h), **{k: getattr(BY_PATH[h.path], k) for k in bounds}}
                        for h in spec.hparams]}


def live_hparams() -> dict[str, Field]:
    """Each live rate of any kind (`set_hparams`' fields) -> the training field it changes."""
    return {h.name: BY_PATH[h.path] for spec in SPECS.values() for h in spec.hparams}


def resolve_training(section: Any, errors: list[dict]) -> dict:
    """Fill defaults into a training section, appending a {node, param, message} per problem.

    The result has every top-level field (its default where absent; `dataset` only when given),
    `kind`, the resolved `optimizer`, and a kind's own group (a gan's `gan`) for that kind."""

    def err(path: str | None, message: str) -> None:
        errors.append({"node": None, "param": f"training.{path}" if path else "training",
                       "message": message})

    if section is None:
        section = {}
    if not isinstance(section, dict):
        err(None, f"training must be an object; got {show(section)}")
        section = {}
    kind = section.get("kind", BY_PATH["kind"].default)
    known = isinstance(kind, str) and kind in KINDS
    if not known:
        err("kind", BY_PATH["kind"].problem(kind))
        kind = BY_PATH["kind"].default
    out = {k: m.default for k, m in GROUPS[""].items()
           if isinstance(m, Field) and m.type not in OBJECTS}
    out["kind"] = kind
    values = {"kind": kind}
    members = GROUPS[""]
    for key, value in section.items():
        member = members.get(key)
        if member is None:
            err(key, f"unknown training field '{key}' (known: {', '.join(sorted(members))})")
        elif kind not in kinds_of(key):
            if known:  # with a bad kind, which fields belong is unknown: one error, the kind's
                err(key, f"training.{key} is only used by kind {' or '.join(kinds_of(key))} "
                    f"(this design's kind is {kind})")
        elif isinstance(member, Field) and key != "kind":
            problem = member.problem(value)
            if problem:
                err(key, problem)
            else:
                values[key] = value
            if member.type not in OBJECTS or not problem:
                out[key] = value
    for key, member in members.items():
        if isinstance(member, str) and kind in kinds_of(key):
            out[key] = _resolve_group(key, section.get(key), values, err)
    return out


def _resolve_group(prefix: str, given: Any, values: dict, err) -> dict:
    """One object of the section (an optimizer, `gan`): its fields checked, defaults filled."""
    members = GROUPS[prefix]
    if given is None:
        given = {}
    if not isinstance(given, dict):
        example = {k: m.default for k, m in list(members.items())[:2] if isinstance(m, Field)}
        err(prefix, f"{prefix} must be an object like {show(example)}")
        given = {}
    out: dict[str, Any] = {}
    for key, member in members.items():
        path = f"{prefix}.{key}"
        if isinstance(member, str):
            out[key] = _resolve_group(path, given.get(key), values, err)
            continue
        if not member.holds(values):
            continue
        value = given.get(key, member.default_for(values))
        problem = member.problem(value)
        if problem:
            err(path, problem)
            if path in SELECTORS:  # check the rest as if it were the default (the one error)
                value = member.default
        else:
            values[path] = value
        out[key] = value
    selector = members.get("name")
    for key in given:
        if key in out:
            continue
        member = members.get(key)
        if isinstance(member, Field) and member.when and not isinstance(selector, Field):
            (path, allowed), = member.when
            err(f"{prefix}.{key}", f"{prefix}.{key} is used only when {path} is "
                f"{' or '.join(allowed)}; remove it or set {path} to {allowed[0]}")
        elif isinstance(selector, Field):
            taken = ", ".join(sorted(k for k in out if k != "name"))
            err(f"{prefix}.{key}", f"{out['name']} takes no field '{key}' (it takes {taken})")
        else:
            err(f"{prefix}.{key}", f"unknown {prefix} field '{key}' "
                f"(known: {', '.join(sorted(members))})")
    return out
