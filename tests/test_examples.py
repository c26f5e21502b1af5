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
    # dqn templates: the mean return of the last 20 episodes (trained), or of the greedy policy
    # over seeded episodes (shipped weights).
    "dqn_cartpole": ("mean_return", ">=", 150.0),
    "dqn_frozen_lake": ("mean_return", ">=", 0.7),
    "dqn_cliff_walking": ("mean_return", ">=", -40.0),
    "dqn_acrobot": ("mean_return", ">=", -150.0),
    "dqn_mountain_car": ("mean_return", ">=", -199.5),  # reaches the flag in the last 20
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


# -- the trained weights that ship with them (scripts/train_examples.py) ------------------------

def not_shipped() -> dict:
    """Examples whose weights do not ship, and why (scripts/train_examples.py)."""
    import importlib.util

    path = EXAMPLES.parents[1] / "scripts" / "train_examples.py"
    spec = importlib.util.spec_from_file_location("train_examples", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.NOT_SHIPPED


def shipped(name: str) -> bool:
    if name in not_shipped():
        return False
    doc = json.loads((EXAMPLES / f"{name}.layerlab.json").read_text())
    data = (doc["training"].get("dataset") or {}).get("name")
    return data not in ("mnist", "fashion_mnist") or downloaded(data)


def greedy_return(network, model, episodes: int = 5) -> float:
    """The mean return of the Q-network's greedy policy over a few seeded episodes."""
    import torch

    from server.envs import make_env

    env, total = make_env(network.dataset), 0.0
    discrete = network.dataset.meta.observation == "discrete"
    size = network.dataset.input_shape[0]
    model.eval()
    for seed in range(episodes):
        obs, _ = env.reset(seed=1000 + seed)
        done = False
        while not done:
            x = torch.eye(size)[int(obs)] if discrete else torch.as_tensor(obs, dtype=torch.float32)
            with torch.no_grad():
                action = int(model(x[None])[0].argmax())
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
    return total / episodes


def test_an_example_without_shipped_weights_lists_none(client):
    listed = {e["id"]: e for e in client.get("/api/examples").get_json()}
    for name in not_shipped():
        assert listed[name]["weights"] is None


@pytest.mark.parametrize("name", sorted(n for n in BARS if shipped(n)))
def test_shipped_weights_fit_and_reach_the_bar_at_once(name, client):
    from server.graph.init import example_weights_path
    from server.model import load_weights

    listed = {e["id"]: e for e in client.get("/api/examples").get_json()}
    assert listed[name]["weights"] == f"example-{name}"
    doc = json.loads((EXAMPLES / f"{name}.layerlab.json").read_text())
    doc["training"]["init"] = {"weights": f"example-{name}"}
    network = parse_document(doc, data_dir=client.application.config["DATA_DIR"])
    kind = kind_of(network)
    state = load_weights(example_weights_path(name))
    metric, op, bar = BARS[name]
    if network.training["kind"] == "dqn":
        model = kind.build(network)
        model.load_state_dict(state, strict=True)
        value = greedy_return(network, model)
    else:
        trainer = kind.trainer(network, device="cpu")
        trainer.setup()  # loads the shipped weights through training.init
        if metric == "mmd_ratio":
            fresh = kind.trainer(parse_document({**doc, "training": {
                k: v for k, v in doc["training"].items() if k != "init"}}), device="cpu")
            fresh.setup()
            value = trainer.measure_mmd() / fresh.mmd_initial
        else:
            value = trainer.evaluate()[metric]
    assert (value >= bar) if op == ">=" else (value <= bar), f"{name}: {metric} {value}"
