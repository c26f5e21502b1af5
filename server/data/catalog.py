"""Dataset metadata: the catalog, spec checking and `describe` (pure Python, no numpy)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DatasetError

MIN_SAMPLES, MAX_SAMPLES = 10, 100_000
# 2-D sets: TF Playground's coordinates (about -6..6) divided by this, so points lie in about -1..1.
PLANE_SCALE = 6.0
EXTENT_2D = (-1.0, 1.0, -1.0, 1.0)
DIGIT_CLASSES = [str(i) for i in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]


@dataclass(frozen=True)
class Param:
    """One key a dataset spec accepts."""

    name: str
    type: str  # "int" | "float" | "str" | "choice"
    default: Any
    doc: str
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    required: bool = False

    def to_json(self) -> dict:
        """The param as the catalog lists it."""
        return {"name": self.name, "type": self.type, "default": self.default,
                "min": self.min, "max": self.max,
                "choices": list(self.choices) if self.choices else None,
                "required": self.required, "doc": self.doc}


@dataclass(frozen=True)
class DatasetMeta:
    """Static facts about one dataset (shapes that depend on params are filled by `describe`)."""

    name: str
    title: str
    task: str | None  # None: decided by the upload (csv)
    kind: str  # "synthetic" | "sequence" | "shipped" | "upload" | "download"
    doc: str
    params: tuple[Param, ...]
    input_shape: tuple | None = None
    num_classes: int | None = None
    target_shape: tuple | None = None
    classes: tuple | None = None
    fixed_size: int | None = None
    offline: bool = True
    extent: tuple | None = None


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset spec resolves to: shapes, task and classes (no data)."""

    name: str
    task: str  # "classification" | "regression"
    input_shape: tuple
    num_classes: int | None
    target_shape: tuple  # () for class labels
    input_dtype: str = "float32"
    classes: list | None = None
    extent: tuple | None = None  # 2-D sets: (x0, x1, y0, y1) to plot a decision boundary on
    train_size: int | None = None
    val_size: int | None = None
    params: dict = field(default_factory=dict)  # the spec with defaults filled

    def to_json(self) -> dict:
        """The info as JSON-ready dict (tuples become lists)."""
        return {"name": self.name, "task": self.task, "input_shape": list(self.input_shape),
                "num_classes": self.num_classes, "target_shape": list(self.target_shape),
                "input_dtype": self.input_dtype,
                "classes": list(self.classes) if self.classes is not None else None,
                "extent": list(self.extent) if self.extent else None,
                "train_size": self.train_size, "val_size": self.val_size,
                "params": dict(self.params)}


def _samples(default: int, lo: int = MIN_SAMPLES, hi: int = MAX_SAMPLES) -> Param:
    return Param("samples", "int", default, "Number of examples generated (train + val).", lo, hi)


def _noise(default: float, hi: float, doc: str) -> Param:
    return Param("noise", "float", default, doc, 0.0, hi)


def _val(default: float, doc: str = "Fraction of examples held out for validation.") -> Param:
    return Param("val_fraction", "float", default, doc, 0.0, 0.9)


SEED = Param("seed", "int", 0, "Random seed: the same seed gives the same data and split.",
             0, 2**32 - 1)
NOISE_2D = "Label/position noise as a fraction (TF Playground's noise slider / 100)."
NOISE_REG = ("Label noise: each target is read at a point moved by up to this fraction of the "
             "plane's half-width (TF Playground).")
PARAMS_2D_CLS = (_samples(500), _noise(0.1, 1.0, NOISE_2D), _val(0.3), SEED)
PARAMS_2D_REG = (_samples(500), _noise(0.1, 5.0, NOISE_REG), _val(0.3), SEED)
MNIST_SAMPLES = Param("samples", "int", None, "Use only the first N training images, split by "
                      "val_fraction; empty: the official 60,000 train / 10,000 test split.",
                      MIN_SAMPLES, 60_000)
MNIST_VAL = _val(0.2, "With `samples`: fraction held out (ignored for the official split).")


def _meta2d(name: str, title: str, task: str, doc: str) -> DatasetMeta:
    cls = task == "classification"
    return DatasetMeta(name, title, task, "synthetic", doc,
                       PARAMS_2D_CLS if cls else PARAMS_2D_REG, input_shape=(2,),
                       num_classes=2 if cls else None, target_shape=() if cls else (1,),
                       classes=("0", "1") if cls else None, extent=EXTENT_2D)


DATASETS: dict[str, DatasetMeta] = {m.name: m for m in (
    _meta2d("circle", "Circle", "classification",
            "Two classes: a disc inside a ring (TF Playground)."),
    _meta2d("xor", "Exclusive or", "classification",
            "Two classes by the sign of x*y: the four quadrants (TF Playground)."),
    _meta2d("gaussian", "Two Gaussians", "classification",
            "Two classes from two Gaussian blobs (TF Playground)."),
    _meta2d("spiral", "Spiral", "classification",
            "Two interleaved spirals (TF Playground)."),
    _meta2d("plane", "Plane", "regression",
            "Regression: the target is a linear function of x and y (TF Playground)."),
    _meta2d("multi_gaussian", "Multi-Gaussian", "regression",
            "Regression: the target is made of six signed Gaussian bumps (TF Playground)."),
    DatasetMeta("digits", "Digits 8x8", "classification", "shipped",
                "1,797 real 8x8 handwritten digits (UCI optdigits), 10 classes, shipped.",
                (_val(0.2), SEED), input_shape=(1, 8, 8), num_classes=10, target_shape=(),
                classes=tuple(DIGIT_CLASSES), fixed_size=1797),
    DatasetMeta("sine", "Sine waves", "regression", "sequence",
                "Windows of noisy sine waves (random frequency and phase); predict the next value.",
                (_samples(1000), Param("seq_len", "int", 20, "Time steps per window.", 4, 200),
                 _noise(0.05, 5.0, "Standard deviation of Gaussian noise added to the inputs."),
                 _val(0.2), SEED),
                num_classes=None, target_shape=(1,)),
    DatasetMeta("parity", "Parity", "classification", "sequence",
                "Sequences of random 0/1 bits; the class is their parity (sum mod 2).",
                (_samples(1000), Param("seq_len", "int", 8, "Bits per sequence.", 2, 64),
                 _val(0.2), SEED),
                num_classes=2, target_shape=(), classes=("even", "odd")),
    DatasetMeta("csv", "Uploaded CSV", None, "upload",
                "An uploaded table: numeric feature columns and one target column.",
                (Param("upload", "str", None, "The id returned by the upload.", required=True),
                 Param("target", "str", None, "The column to predict.", required=True),
                 Param("task", "choice", "auto", "auto: classification when the target has text "
                       "or at most 20 distinct whole numbers, else regression.",
                       choices=("auto", "classification", "regression")),
                 _val(0.2), SEED)),
    DatasetMeta("images", "Uploaded images", "classification", "upload",
                "Your own images: an uploaded zip of class_name/*.png|jpg folders (ImageFolder's "
                "layout), decoded at the size and channels chosen.",
                (Param("upload", "str", None, "The id returned by the upload.", required=True),
                 Param("size", "shape", [28, 28], "[height, width] every image is resized to.",
                       4, 256),
                 Param("channels", "choice", 1, "1: greyscale; 3: colour (RGB).",
                       choices=(1, 3)),
                 _val(0.2), SEED), target_shape=()),
    DatasetMeta("text", "Uploaded text", "classification", "upload",
                "Your own UTF-8 text: predict the next character from the seq_len before it; "
                "the classes are the characters the text uses.",
                (Param("upload", "str", None, "The id returned by the upload.", required=True),
                 Param("seq_len", "int", 64, "Characters the network reads before predicting "
                       "the next.", 4, 256),
                 _samples(10_000, 100, MAX_SAMPLES),
                 _val(0.1, "Fraction of windows held out for validation, taken from the end "
                      "of the text."), SEED), target_shape=()),
    DatasetMeta("mnist", "MNIST", "classification", "download",
                "70,000 28x28 handwritten digits; downloaded and cached on first use.",
                (MNIST_SAMPLES, MNIST_VAL, SEED), input_shape=(1, 28, 28), num_classes=10,
                target_shape=(), classes=tuple(DIGIT_CLASSES), offline=False),
    DatasetMeta("fashion_mnist", "Fashion-MNIST", "classification", "download",
                "70,000 28x28 clothing images in 10 classes; downloaded and cached on first use.",
                (MNIST_SAMPLES, MNIST_VAL, SEED), input_shape=(1, 28, 28), num_classes=10,
                target_shape=(), classes=tuple(FASHION_CLASSES), offline=False),
)}


def default_data_dir() -> Path:
    """The data folder used when none is given: $LAYERLAB_DATA_DIR, else ~/.layerlab."""
    env = os.environ.get("LAYERLAB_DATA_DIR")
    return Path(env) if env else Path.home() / ".layerlab"


def dataset_catalog() -> list[dict]:
    """The dataset catalog served by GET /api/datasets."""
    out = []
    for m in DATASETS.values():
        defaults = {p.name: p.default for p in m.params}
        if m.kind == "sequence":
            input_shape: list | None = [defaults["seq_len"], 1]
        else:
            input_shape = list(m.input_shape) if m.input_shape is not None else None
        if m.fixed_size is not None:
            default_samples = m.fixed_size
        elif m.kind == "download":
            default_samples = 70_000
        else:
            default_samples = defaults.get("samples")
        out.append({
            "name": m.name, "title": m.title, "task": m.task, "input_shape": input_shape,
            "num_classes": m.num_classes,
            "target_shape": list(m.target_shape) if m.target_shape is not None else None,
            "classes": list(m.classes) if m.classes else None,
            "default_samples": default_samples,
            "params": [p.to_json() for p in m.params], "doc": m.doc, "offline": m.offline,
            "extent": list(m.extent) if m.extent else None,
        })
    return out


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _check(p: Param, value: Any, dataset: str) -> Any:
    """Type- and range-check one spec value; returns it normalised."""
    if p.type == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise DatasetError(f"{p.name} must be a whole number (got {value!r})", p.name)
    elif p.type == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise DatasetError(f"{p.name} must be a number (got {value!r})", p.name)
        value = float(value)
    elif p.type == "str":
        if not isinstance(value, str) or not value:
            raise DatasetError(f"{p.name} must be a non-empty string (got {value!r})", p.name)
    elif p.type == "shape":  # images' size: [H, W]
        from .imagezip import check_size

        return check_size(value)
    elif p.type == "choice" and (value not in (p.choices or ()) or isinstance(value, bool)):
        raise DatasetError(f"{p.name} must be one of {', '.join(map(str, p.choices or ()))} "
                           f"(got {value!r})", p.name)
    if p.min is not None and p.max is not None and not p.min <= value <= p.max:
        raise DatasetError(f"{p.name} must be between {_fmt(p.min)} and {_fmt(p.max)} for "
                           f"{dataset} (got {value!r})", p.name)
    return value


def split_sizes(n: int, val_fraction: float) -> tuple[int, int]:
    """(train, val) sizes for n examples; raises unless both are at least 1."""
    n_val = int(n * val_fraction + 0.5)
    if n_val < 1:
        raise DatasetError(f"val_fraction {val_fraction} of {n} examples leaves no validation "
                           f"example; use at least {math.ceil(50 / n) / 100}",
                           "val_fraction")
    if n - n_val < 1:
        raise DatasetError(f"val_fraction {val_fraction} of {n} examples leaves no training "
                           "example", "val_fraction")
    return n - n_val, n_val


def resolve(spec: Any) -> tuple[DatasetMeta, dict]:
    """Check a dataset spec's name, keys, types and ranges; returns (meta, params with defaults)."""
    if not isinstance(spec, dict):
        raise DatasetError('the dataset must be an object like {"name": "spiral"}', None)
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise DatasetError(f"the dataset needs a name, one of: {', '.join(DATASETS)}", "name")
    meta = DATASETS.get(name)
    if meta is None:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}", "name")
    accepted = {p.name: p for p in meta.params}
    for key in spec:
        if key != "name" and key not in accepted:
            raise DatasetError(f"{name} does not take {key!r}; it takes: "
                               f"{', '.join(accepted)}", key)
    params: dict[str, Any] = {}
    for p in meta.params:
        value = spec.get(p.name)
        if value is None:
            if p.required:
                raise DatasetError(f"{name} needs {p.name!r}: {p.doc}", p.name)
            params[p.name] = p.default
        else:
            params[p.name] = _check(p, value, name)
    return meta, params


def _upload_id(value: Any) -> str:
    from .csvfile import UPLOAD_ID

    if not isinstance(value, str) or not UPLOAD_ID.match(value):
        raise DatasetError(f"upload id must match [A-Za-z0-9_-]{{1,64}} (got {value!r})",
                           "upload")
    return value


def describe(spec: Any, data_dir: str | os.PathLike | None = None) -> DatasetInfo:
    """Resolve a dataset spec to its DatasetInfo cheaply (no data generated or downloaded)."""
    meta, params = resolve(spec)
    task, input_shape = meta.task, meta.input_shape
    num_classes, target_shape = meta.num_classes, meta.target_shape
    classes = list(meta.classes) if meta.classes else None
    if meta.name == "images":
        from .imagezip import inspect_zip

        upload = _upload_id(params["upload"])
        summary = inspect_zip(data_dir if data_dir is not None else default_data_dir(), upload)
        classes = [c["name"] for c in summary["classes"]]
        num_classes = len(classes)
        input_shape = (params["channels"], *params["size"])
        n = summary["images"]
    elif meta.name == "text":
        from .textfile import inspect_text, split_point

        upload = _upload_id(params["upload"])
        summary = inspect_text(data_dir if data_dir is not None else default_data_dir(), upload)
        split_point(summary["characters"], params["seq_len"], params["val_fraction"])
        classes = list(summary["vocab"])
        num_classes = len(classes)
        input_shape = (params["seq_len"],)
        n = params["samples"]
    elif meta.kind == "upload":
        from .csvfile import describe_upload

        table = describe_upload(data_dir if data_dir is not None else default_data_dir(),
                                params["upload"], params["target"], params["task"])
        task, classes = table["task"], table["classes"]
        input_shape = (table["n_features"],)
        num_classes = len(classes) if classes is not None else None
        target_shape = () if task == "classification" else (1,)
        n = table["rows"]
    elif meta.kind == "sequence":
        input_shape = (params["seq_len"], 1)
        n = params["samples"]
    elif meta.fixed_size is not None:
        n = meta.fixed_size
    else:
        n = params["samples"]
    if meta.kind == "download" and n is None:
        sizes = (60_000, 10_000)
    else:
        sizes = split_sizes(n, params["val_fraction"])
    assert task is not None and input_shape is not None and target_shape is not None
    return DatasetInfo(name=meta.name, task=task, input_shape=tuple(input_shape),
                       num_classes=num_classes, target_shape=tuple(target_shape),
                       classes=classes, extent=meta.extent, train_size=sizes[0],
                       val_size=sizes[1], params=params)
