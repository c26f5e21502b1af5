"""DQN benchmark: Layerlab's dqn loop against a plain single-file PyTorch DQN loop, and what the
live pictures (the environment at 30 frames a second, the Q-network's nodes) cost it.

    python bench/bench_dqn.py [--rounds 5] [--steps 4000] [--device cpu|cuda]

(a) environment steps per second of the dqn kind's loop (the code behind `layerlab train` and
    the worker) against the well-known single-file structure (CleanRL's dqn.py): a numpy replay
    buffer, a target network, ε-greedy with a linear schedule, one update per step (Huber TD
    loss on a sampled batch, double DQN, gradient clipping), the target copied every
    target_update steps. Same environment (CartPole-v1), network sizes (an nn.Sequential of
    the design's layers), batch, optimizer, schedule and seeds. Interleaved rounds, median.
    ratio = layerlab / plain steps per second (>= 0.95 is the target: not slower).
(b) the same loop with every picture of the kind made as a watcher would get them (Visuals,
    wanted, frames pickled and dropped) against none. ratio = on / off steps per second
    (>= 0.95: at most 5 % slower).
"""

from __future__ import annotations

import argparse
import copy
import json
import pickle
import statistics
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.graph import parse_document  # noqa: E402
from server.kinds import kind  # noqa: E402
from server.runs.visuals import Visuals  # noqa: E402
from server.train import Control  # noqa: E402

EXAMPLE = ROOT / "server" / "examples" / "dqn_cartpole.layerlab.json"
LEARNING_STARTS = 500  # most steps measured are update steps, as in a real run


def design(steps: int) -> dict:
    doc = json.loads(EXAMPLE.read_text())
    doc["training"]["steps"] = steps
    doc["training"]["dqn"]["learning_starts"] = LEARNING_STARTS
    return doc


def sequential(doc: dict) -> nn.Sequential:
    """The design's Linear/ReLU chain as a plain nn.Sequential."""
    layers, width = [], doc["nodes"][0]["params"]["shape"][0]
    for node in doc["nodes"][1:]:
        if node["type"] == "Linear":
            layers.append(nn.Linear(width, node["params"]["out_features"]))
            width = node["params"]["out_features"]
        elif node["type"] == "ReLU":
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def plain_loop(doc: dict, device: str) -> float:
    """Environment steps per second of the single-file DQN loop."""
    t = doc["training"]
    d, opt = t["dqn"], t["optimizer"]
    steps, bs, seed = t["steps"], t["batch_size"], t["seed"]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    env = gym.make("CartPole-v1")
    q_net = sequential(doc).to(device)
    target = copy.deepcopy(q_net)
    optimizer = torch.optim.Adam(q_net.parameters(), lr=opt["lr"])
    size, n, pos = d["replay_size"], 0, 0
    obs_buf = np.zeros((size, 4), np.float32)
    next_buf = np.zeros((size, 4), np.float32)
    act_buf = np.zeros(size, np.int64)
    rew_buf = np.zeros(size, np.float32)
    done_buf = np.zeros(size, np.float32)
    obs, _ = env.reset(seed=seed)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        frac = min(1.0, step / d["epsilon_decay_steps"])
        eps = d["epsilon_start"] + (d["epsilon_end"] - d["epsilon_start"]) * frac
        if rng.random() < eps:
            action = int(rng.integers(2))
        else:
            with torch.no_grad():
                action = int(q_net(torch.as_tensor(obs, device=device)[None]).argmax())
        next_obs, reward, terminated, truncated, _ = env.step(action)
        obs_buf[pos], next_buf[pos], act_buf[pos] = obs, next_obs, action
        rew_buf[pos], done_buf[pos] = reward, terminated
        pos, n = (pos + 1) % size, min(n + 1, size)
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
        if step >= LEARNING_STARTS and step % d["train_every"] == 0:
            idx = rng.integers(0, n, bs)
            b_obs = torch.as_tensor(obs_buf[idx], device=device)
            b_next = torch.as_tensor(next_buf[idx], device=device)
            b_act = torch.as_tensor(act_buf[idx], device=device)
            b_rew = torch.as_tensor(rew_buf[idx], device=device)
            b_done = torch.as_tensor(done_buf[idx], device=device)
            with torch.no_grad():
                best = q_net(b_next).argmax(1, keepdim=True)
                next_q = target(b_next).gather(1, best).squeeze(1)
                td_target = b_rew + d["gamma"] * (1 - b_done) * next_q
            q = q_net(b_obs).gather(1, b_act[:, None]).squeeze(1)
            loss = nn.functional.smooth_l1_loss(q, td_target)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(q_net.parameters(), opt["grad_clip"])
            optimizer.step()
            if step % 100 == 0:
                loss.item()  # the single-file loop logs every 100 steps
        if step % d["target_update"] == 0:
            target.load_state_dict(q_net.state_dict())
    return steps / (time.perf_counter() - start)


def layerlab_loop(doc: dict, device: str, pictures: bool = False) -> float:
    """Environment steps per second of the dqn kind's trainer, with or without pictures."""
    module = kind("dqn")
    control = Control()
    visuals = Visuals("bench", control, lambda message: pickle.dumps(message), wanted=pictures,
                      kind=module)
    trainer = module.trainer(parse_document(doc), control=control, device=device,
                             on_log=visuals.on_log)
    visuals.trainer = trainer
    result = trainer.run()
    assert result.steps == doc["training"]["steps"]
    if pictures:
        assert visuals.frames > 0, "no picture was made"
    return result.samples_per_second


def rounds(fns: dict, n: int) -> dict:
    """Each function run `n` times, interleaved (the order flips each round); medians."""
    times = {k: [] for k in fns}
    for r in range(n):
        for k in (list(fns) if r % 2 == 0 else list(fns)[::-1]):
            times[k].append(fns[k]())
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    """Run the rounds and print both tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    print(f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.rounds} interleaved rounds (median), CartPole-v1, {args.steps} steps "
          f"(updates from step {LEARNING_STARTS})")
    doc = design(args.steps)
    warm = design(LEARNING_STARTS + 200)
    plain_loop(warm, args.device)  # warm up both paths once
    layerlab_loop(warm, args.device, pictures=True)
    print("\n(a) the dqn loop against a plain single-file DQN loop")
    got = rounds({"plain": lambda: plain_loop(doc, args.device),
                  "layerlab": lambda: layerlab_loop(doc, args.device)}, args.rounds)
    print(f"{'plain steps/s':>14} {'layerlab steps/s':>17} {'ratio':>7}")
    print(f"{got['plain']:>14.0f} {got['layerlab']:>17.0f} {got['layerlab'] / got['plain']:>7.3f}")
    print("\n(b) every picture on (one watcher) against none")
    got = rounds({"off": lambda: layerlab_loop(doc, args.device),
                  "on": lambda: layerlab_loop(doc, args.device, pictures=True)}, args.rounds)
    print(f"{'off steps/s':>12} {'on steps/s':>11} {'ratio':>7}")
    print(f"{got['off']:>12.0f} {got['on']:>11.0f} {got['on'] / got['off']:>7.3f}")


if __name__ == "__main__":
    main()
