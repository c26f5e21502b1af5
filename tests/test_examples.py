"""Every shipped template trains to its stated bar and exports ONNX that ONNX Runtime matches."""

import json
from pathlib import Path

import pytest

from server.export import export_onnx
from server.graph import parse_document, validate
from server.kinds import kind_of

EXAMPLES = Path(__file__).resolve().parent.parent / "server" / "examples"

# name -> (metric, comparison, bar): what a user can expect from the template as shipped.
BARS = {
    "spiral_mlp": ("val_accuracy", ">=", 0.95),
    "digits_softmax": ("val_accuracy", ">=", 0.93),
    "digits_cnn": ("val_accuracy", ">=", 0.95),
    "residual_mlp": ("val_accuracy", ">=", 0.95),
    "lstm_sine": ("val_loss", "<=", 0.01),
    "digits_autoencoder": ("val_loss", "<=", 0.05),
    "attention_parity": ("val_accuracy", ">=", 0.95),
    "digits_dbn": ("val_accuracy", ">=", 0.93),  # RBM pre-training, then backprop
    # gan templates: MMD to the validation split, as a share of the untrained generator's.
    "gan_gaussians": ("mmd_ratio", "<=", 0.25),
    "gan_circle": ("mmd_ratio", "<=", 0.4),
    "gan_spiral": ("mmd_ratio", "<=", 0.7),
    "gan_digits": ("mmd_ratio", "<=", 0.2),
    "gan_mnist": ("mmd_ratio", "<=", 0.3),  # trained only where MNIST is downloaded
}


def downloaded(name: str) -> bool:
    """Whether a download dataset's files are in the default data folder's cache."""
    from server.data import default_data_dir
    from server.data.downloads import FILES, cache_dir

    return all((cache_dir(default_data_dir(), name) / f).is_file() for f in FILES)


@pytest.mark.parametrize("name", sorted(BARS))
def test_example_is_valid(name):
    report = validate(json.loads((EXAMPLES / f"{name}.layerlab.json").read_text()))
    assert report.ok, report.errors


def test_every_example_has_a_bar():
    assert {p.name.removesuffix(".layerlab.json") for p in EXAMPLES.glob("*.json")} == set(BARS)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BARS))
def test_example_trains_to_its_bar_and_exports(name, tmp_path):
    doc = json.loads((EXAMPLES / f"{name}.layerlab.json").read_text())
    network = parse_document(doc)
    if network.dataset.name in ("mnist", "fashion_mnist") and not downloaded(network.dataset.name):
        pytest.skip(f"{network.dataset.name} is not downloaded on this machine (no internet)")
    kind = kind_of(network)
    result = kind.trainer(network, device="cpu").run()
    metric, op, bar = BARS[name]
    value = (result.mmd / result.mmd_initial if metric == "mmd_ratio"
             else getattr(result, metric))
    assert (value >= bar) if op == ">=" else (value <= bar), f"{name}: {metric} {value}"
    target, module, input_name = kind.onnx_target(network, result.model)
    exported = export_onnx(module, target, tmp_path / f"{name}.onnx", check=True,
                           input_name=input_name)
    assert exported.ok and exported.max_abs_diff is not None
