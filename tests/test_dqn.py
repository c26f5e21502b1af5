"""The dqn kind without a server: its environments, its design checks, its loop and exports."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from server.envs import ENVIRONMENTS, EnvMeta, describe_environment, env_catalog, make_env
from server.graph import Budget, validate
from server.kinds.dqn_loop import DqnTrainer, Replay
from server.train import Control, TrainError
from tests.live import example

pytestmark = pytest.mark.timeout(300)


def q_network(env: str, hidden: int = 32, **training) -> dict:
    """A small Q-network for `env` with the Input's shape left to validation."""
    meta = ENVIRONMENTS[env]
    doc = example("dqn_cartpole")
    doc["nodes"][0]["params"] = {}
    doc["nodes"][1]["params"]["out_features"] = hidden
    doc["nodes"][3]["params"]["out_features"] = hidden
    doc["nodes"][-1]["params"]["out_features"] = meta.actions
    doc["training"]["environment"] = {"name": env, "seed": 0}
    doc["training"].update(training)
    return doc


def errors_of(doc) -> dict:
    return {(e["node"], e["param"]): e["message"] for e in validate(doc).errors}


# -- the catalog -----------------------------------------------------------------------------

def test_the_catalog_lists_every_environment_with_its_shapes_and_solved_return(client):
    served = client.get("/api/environments").get_json()
    assert [e["name"] for e in served] == ["cartpole", "acrobot", "mountain_car",
                                           "lunar_lander", "frozen_lake", "cliff_walking"]
    by = {e["name"]: e for e in served}
    assert by["cartpole"]["input_shape"] == [4] and by["cartpole"]["actions"] == 2
    assert by["cartpole"]["solved_return"] == 475 and by["cartpole"]["view"] == "cartpole"
    assert by["frozen_lake"]["observation"]["kind"] == "discrete"
    assert by["frozen_lake"]["input_shape"] == [16]  # one-hot over the cells
    assert by["frozen_lake"]["grid"]["cells"][0] == "SFFF"
    assert by["cliff_walking"]["grid"]["rows"] == 4 and by["cliff_walking"]["grid"]["cols"] == 12
    assert [p["name"] for p in by["frozen_lake"]["params"]] == ["seed", "slippery"]
    for entry in served:
        assert entry["doc"] and len(entry["action_names"]) == entry["actions"]
        assert entry["available"] == (entry["unavailable_reason"] is None)


@pytest.mark.parametrize("name", list(ENVIRONMENTS))
def test_every_environment_builds_validates_and_matches_gymnasium(name):
    meta = ENVIRONMENTS[name]
    if meta.missing():
        pytest.skip(f"{name} needs {meta.missing()}")
    report = validate(q_network(name))
    assert report.ok, report.errors
    assert report.to_json()["shapes"]["obs"] == list(meta.input_shape)
    env = make_env(describe_environment({"name": name}))
    assert env.action_space.n == meta.actions
    space = env.observation_space
    assert (space.n if hasattr(space, "n") else space.shape[0]) == meta.obs_size
    assert env.spec.max_episode_steps == meta.max_episode_steps
    env.close()


def test_an_environment_this_server_cannot_run_is_listed_with_why_and_refused():
    meta = EnvMeta("moon", "Moon-v0", "Moon", "A test entry.", "vector", 2, ("a", "b"),
                   ("left", "right"), 1.0, 10, "cartpole", requires=("no_such_module_here",),
                   extra="moon")
    entry = meta.to_json()
    assert entry["available"] is False
    assert "no_such_module_here" in entry["unavailable_reason"]
    assert "pip install 'layerlab[moon]'" in entry["unavailable_reason"]
    lunar = next(e for e in env_catalog() if e["name"] == "lunar_lander")
    assert lunar["available"] == (not ENVIRONMENTS["lunar_lander"].missing())


# -- bad documents ---------------------------------------------------------------------------

def test_an_unknown_environment_is_an_error_naming_the_field_and_the_choices():
    doc = q_network("cartpole")
    doc["training"]["environment"] = {"name": "pong"}
    message = errors_of(doc)[(None, "training.environment.name")]
    assert "unknown environment 'pong'" in message and "cartpole" in message


@pytest.mark.parametrize("env, words", [
    ({"name": "cartpole", "slippery": True}, ("training.environment.slippery", "takes no field")),
    ({"name": "frozen_lake", "slippery": "yes"},
     ("training.environment.slippery", "true or false")),
    ({"name": "cartpole", "seed": -1}, ("training.environment.seed", "integer from 0")),
    ("cartpole", ("training.environment", "an object like")),
])
def test_bad_environment_fields_name_the_key(env, words):
    doc = q_network("cartpole")
    doc["training"]["environment"] = env
    errors = errors_of(doc)
    param, word = words
    assert any(p == param and word in m for (_, p), m in errors.items()), errors


def test_the_observation_and_the_actions_are_checked_on_their_nodes():
    doc = q_network("cartpole")
    doc["nodes"][0]["params"] = {"shape": [3]}
    errors = errors_of(doc)
    assert "does not match the cartpole environment's observation [4]" in errors[("obs", "shape")]
    doc = q_network("cartpole")
    doc["nodes"][-1]["params"]["out_features"] = 3
    message = errors_of(doc)[("q", "out_features")]
    assert "cartpole has 2 actions (push left, push right)" in message and "outputs [3]" in message
    lake = q_network("frozen_lake")
    lake["nodes"][0]["params"] = {"shape": [4]}
    assert "one-hot observation [16]" in errors_of(lake)[("obs", "shape")]


def test_nonsense_schedules_and_buffers_are_refused_on_their_fields():
    doc = q_network("cartpole", steps=500, batch_size=128)
    doc["training"]["dqn"].update(epsilon_start=0.1, epsilon_end=0.5, learning_starts=600,
                                  replay_size=100)
    errors = errors_of(doc)
    message = errors[(None, "training.dqn.epsilon_end")]
    assert "epsilon_end 0.5 is above epsilon_start 0.1" in message
    assert "the run would end before its first update" in errors[
        (None, "training.dqn.learning_starts")]
    assert "larger than dqn.replay_size 100" in errors[(None, "training.batch_size")]


def test_a_replay_buffer_past_the_memory_budget_names_replay_size():
    doc = q_network("cliff_walking")
    doc["training"]["dqn"]["replay_size"] = 10_000_000
    report = validate(doc, budget=Budget(max_memory_bytes=2**30))
    (error,) = [e for e in report.errors if e["param"] == "training.dqn.replay_size"]
    assert "needs 3.7 GiB; the limit is 1.0 GiB" in error["message"]
    assert "at most 2,684,354 transitions" in error["message"]


def test_steps_past_the_bound_and_a_dataset_on_a_dqn_design_are_refused():
    doc = q_network("cartpole", steps=10**9, dataset={"name": "spiral"})
    errors = errors_of(doc)
    assert "steps must be a positive integer; got 1000000000" in errors[(None, "training.steps")]
    assert "only used by kind supervised or gan" in errors[(None, "training.dataset")]
    sup = example("spiral_mlp", environment={"name": "cartpole"}, dqn={})
    errors = errors_of(sup)
    assert "only used by kind dqn" in errors[(None, "training.environment")]
    assert "only used by kind dqn" in errors[(None, "training.dqn")]


# -- the loop --------------------------------------------------------------------------------

def test_the_replay_buffer_wraps_and_samples_what_it_holds():
    import torch

    replay = Replay(4, 2, torch.device("cpu"))
    for i in range(6):
        replay.add(np.full(2, i, np.float32), i % 2, float(i), np.full(2, i + 1, np.float32),
                   i == 5)
    assert replay.n == 4 and replay.i == 2
    obs, action, reward, next_obs, done = replay.sample(64, torch.Generator().manual_seed(0))
    assert set(reward.tolist()) == {2.0, 3.0, 4.0, 5.0}  # the two oldest were overwritten
    assert torch.equal(obs[:, 0], reward) and torch.equal(next_obs[:, 0], reward + 1)
    assert torch.equal(done, (reward == 5).float())


def test_frozen_lake_is_solved_and_its_greedy_policy_reaches_the_goal():
    trainer = DqnTrainer(example("dqn_frozen_lake"))
    result = trainer.run()
    assert result.state == "finished" and result.steps == 6000
    assert result.mean_return >= 0.7, result.mean_return  # Gymnasium's solved line
    env = make_env(describe_environment({"name": "frozen_lake"}))
    obs, _ = env.reset(seed=0)
    model = result.model.eval()
    import torch

    for _ in range(20):
        action = int(model(torch.eye(16)[obs:obs + 1]).argmax())
        obs, reward, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            break
    assert reward == 1.0, "the greedy policy fell in a hole or wandered"


def short(env="cartpole", steps=600, **dqn):
    doc = q_network(env, steps=steps, batch_size=32)
    doc["training"]["dqn"].update(learning_starts=100, **dqn)
    return doc


def test_runs_are_reproducible_on_cpu_and_points_carry_the_contracts_figures():
    import torch

    runs = []
    for _ in range(2):
        points = []
        result = DqnTrainer(short(), on_point=points.append).run()
        runs.append((points, result))
    (a, ra), (b, rb) = runs
    # Points come at the clock's pace; the episodes and the weights are the run's own.
    episodes = [p for p in a if "episode_return" in p]
    assert [(p["step"], p["episode_return"]) for p in episodes] == [
        (p["step"], p["episode_return"]) for p in b if "episode_return" in p]
    assert ra.episodes == rb.episodes > 0
    for key, value in ra.model.state_dict().items():
        assert torch.equal(value, rb.model.state_dict()[key]), key
    assert [p["episode"] for p in episodes] == list(range(1, ra.episodes + 1))
    assert all({"step", "epoch", "time", "lr", "epsilon"} <= set(p) for p in a)
    trained = [p for p in a if "td_loss" in p]
    assert trained and all("q_mean" in p for p in trained) and trained[0]["step"] >= 100
    eps = [p["epsilon"] for p in a]
    assert eps == sorted(eps, reverse=True) and eps[0] < 1.0
    assert ra.best_return == max(p["episode_return"] for p in episodes)


def test_episodes_bound_a_run_and_an_epsilon_set_mid_run_holds():
    control = Control()
    control.set_epsilon(0.0)
    doc = short(steps=None)
    doc["training"].pop("steps")
    doc["training"]["episodes"] = 5
    points = []
    result = DqnTrainer(doc, control=control, on_point=points.append).run()
    assert result.episodes == 5 and result.state == "finished"
    assert {p["epsilon"] for p in points} == {0.0}


def test_a_diverging_run_ends_with_a_clear_message():
    # The Huber loss keeps real designs from overflowing in a test's time, so the weights are
    # broken between two steps, as a diverged update leaves them.
    control = Control()
    trainer = DqnTrainer(short(steps=3000), control=control)
    broken = []

    def on_point(point):
        if point["step"] > 200 and not broken:
            broken.append(point["step"])
            control.call_soon(lambda: trainer.model.layers["q"].weight.data.fill_(float("nan")))

    trainer.on_point = on_point
    with pytest.raises(TrainError, match="the Q-values became NaN or infinite at step") as e:
        trainer.run()
    assert "lower learning rate" in str(e.value) and e.value.step > broken[0]


def test_the_greedy_player_plays_its_own_copy_without_exploring():
    trainer = DqnTrainer(short(steps=200))
    trainer.run()
    before = copy.deepcopy(trainer.player.state())
    player = trainer.greedy_step()
    assert player is not trainer.player and player.t == 0
    for _ in range(5):
        player = trainer.greedy_step()
    assert player.t == 5 and trainer.player.state() == before


# -- the starter on CartPole, through the CLI (slow) ---------------------------------------------

@pytest.fixture(scope="module")
def cartpole(tmp_path_factory):
    """The starter CartPole design trained once by `layerlab train`, and exported to ONNX."""
    import json
    import subprocess
    import sys

    from tests.live import ROOT

    out = tmp_path_factory.mktemp("cartpole")
    path = out / "cartpole.layerlab.json"
    path.write_text(json.dumps(example("dqn_cartpole")))
    proc = subprocess.run([sys.executable, "-m", "server", "train", str(path), "--json",
                           "--out", str(out / "run"), "--device", "cpu"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    onnx_path = out / "policy.onnx"
    proc = subprocess.run([sys.executable, "-m", "server", "export", str(path), "--weights",
                           summary["weights"], "-o", str(onnx_path), "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return summary, onnx_path


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_starter_balances_cartpole_within_60000_steps(cartpole):
    summary, _ = cartpole
    assert summary["steps"] <= 60_000 and summary["episodes"] == summary["epochs"] > 20
    assert summary["mean_return"] >= 150, summary  # the last 20 episodes
    assert summary["best_return"] >= summary["mean_return"]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_exported_onnx_policy_holds_the_pole_in_gymnasium(cartpole):
    import gymnasium as gym
    import onnxruntime as ort

    _, onnx_path = cartpole
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    env = gym.make("CartPole-v1")
    returns = []
    for seed in range(5):
        obs, _ = env.reset(seed=100 + seed)
        total, done = 0.0, False
        while not done:
            (q,) = session.run(["output"], {"input": obs[None].astype(np.float32)})
            obs, reward, terminated, truncated, _ = env.step(int(q[0].argmax()))
            total += reward
            done = terminated or truncated
        returns.append(total)
    assert sum(returns) / len(returns) >= 150, returns
