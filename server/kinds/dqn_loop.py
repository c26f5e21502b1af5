"""The dqn kind's loop: a Q-network learns to act in a Gymnasium environment (deep Q-learning).

Each `step` is one environment step: act ε-greedily, store the transition in the replay buffer
(on the training device), and every `train_every` steps past `learning_starts` do one update:
the Huber loss between Q(s, a) and the TD target r + γ max Q_target(s', ·) (double DQN: the
online network picks the next action, the target network values it), gradient clipping as the
optimizer says. The target network copies the online one every `target_update` steps. ε falls
linearly from epsilon_start to epsilon_end over epsilon_decay_steps; a rate set mid-run holds.

A second copy of the environment, the greedy player, plays the current policy without exploring
one step per picture frame while someone watches it (`control.greedy`).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from server.envs import EnvInfo, make_env
from server.graph import Network, parse_document
from server.model import build_model
from server.train.config import TrainConfig
from server.train.control import Control
from server.train.gradients import gradient_norms, parameter_groups
from server.train.loop import Loop, TrainError, device_label, make_optimizer, resolve_device
from server.train.precision import prepare_device

FRAME_INTERVAL = 1 / 30  # the most often the loop offers the pictures a turn (run_environment)
RETURN_WINDOW = 20  # episodes the mean return is taken over (CONTRACTS.md §6)


class Replay:
    """A ring buffer of transitions on the training device.

    Rows are written into host arrays; on a GPU the rows written since the last sample are
    copied over in one transfer before the next sample, never one row at a time."""

    def __init__(self, size: int, obs: int, device: torch.device):
        self.size, self.device, self.n, self.i = size, device, 0, 0
        host = {"obs": np.zeros((size, obs), np.float32), "next": np.zeros((size, obs), np.float32),
                "action": np.zeros(size, np.int64), "reward": np.zeros(size, np.float32),
                "done": np.zeros(size, np.float32)}
        self.host = host
        if device.type == "cpu":
            self.dev = {k: torch.from_numpy(v) for k, v in host.items()}  # the same memory
        else:
            self.dev = {k: torch.from_numpy(v).to(device) for k, v in host.items()}
        self.synced = 0  # rows [synced, i) are on the host only (a GPU's)
        self.pending = 0

    def add(self, obs: np.ndarray, action: int, reward: float, next_obs: np.ndarray,
            done: bool) -> None:
        """Store one transition, overwriting the oldest when full."""
        h, i = self.host, self.i
        h["obs"][i] = obs
        h["next"][i] = next_obs
        h["action"][i] = action
        h["reward"][i] = reward
        h["done"][i] = done
        self.i = (i + 1) % self.size
        self.n = min(self.n + 1, self.size)
        self.pending += 1

    def _sync(self) -> None:
        if self.device.type == "cpu" or not self.pending:
            return
        start, count = self.synced, min(self.pending, self.size)
        rows = [(start + k) % self.size for k in range(count)]
        if count == self.size or rows[-1] >= start:  # one contiguous slice
            lo, hi = (0, self.size) if count == self.size else (start, start + count)
            for k, v in self.host.items():
                self.dev[k][lo:hi].copy_(torch.from_numpy(v[lo:hi]), non_blocking=False)
        else:  # wrapped around: two slices
            for lo, hi in ((start, self.size), (0, rows[-1] + 1)):
                for k, v in self.host.items():
                    self.dev[k][lo:hi].copy_(torch.from_numpy(v[lo:hi]))
        self.synced, self.pending = self.i, 0

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """(obs, action, reward, next_obs, done) of `batch` transitions drawn uniformly."""
        self._sync()
        idx = torch.randint(0, self.n, (batch,), device=self.device, generator=generator)
        d = self.dev
        return d["obs"][idx], d["action"][idx], d["reward"][idx], d["next"][idx], d["done"][idx]


class Player:
    """One copy of the environment and the episode being played in it."""

    def __init__(self, info: EnvInfo, seed: int):
        self.env = make_env(info)
        self.discrete = info.meta.observation == "discrete"
        self.size = info.input_shape[0]
        self.seed = seed
        self.episode = 1  # the number of the episode being played
        self.reset(seed)
        self.last_return: float | None = None

    def reset(self, seed: int | None = None) -> None:
        raw, _ = self.env.reset(seed=seed)
        self.raw, self.obs = raw, self.encode(raw)
        self.t, self.ret = 0, 0.0
        self.action, self.reward, self.done = None, None, False

    def encode(self, raw) -> np.ndarray:
        """What the network sees: the vector, or the cell one-hot."""
        if self.discrete:
            out = np.zeros(self.size, np.float32)
            out[int(raw)] = 1.0
            return out
        return np.asarray(raw, dtype=np.float32)

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool]:
        """(next observation, reward, terminated, truncated); the state moves on."""
        raw, reward, terminated, truncated, _ = self.env.step(action)
        next_obs = self.encode(raw)
        self.raw, self.obs = raw, next_obs
        self.t += 1
        self.ret += float(reward)
        self.action, self.reward = int(action), float(reward)
        return next_obs, float(reward), bool(terminated), bool(truncated)

    def end_episode(self) -> float:
        """Finish the episode (its return) and start the next one."""
        ret = self.ret
        self.last_return = ret
        self.episode += 1
        self.reset()
        return ret

    def state(self) -> list[float]:
        """The state as run_environment carries it: the vector, or [cell]."""
        if self.discrete:
            return [float(int(self.raw))]
        return [float(v) for v in np.asarray(self.raw).ravel()]


@dataclass
class DqnResult:
    """What a finished (or stopped) dqn run leaves behind."""

    state: str  # "finished" | "stopped"
    steps: int  # environment steps
    epochs: int  # episodes finished (a dqn run's epochs)
    episodes: int
    mean_return: float | None  # over the last RETURN_WINDOW episodes
    best_return: float | None
    td_loss: float | None
    samples_per_second: float  # environment steps per second
    seconds: float
    device: str
    model: nn.Module
    history: list[dict] = field(default_factory=list)


class DqnTrainer(Loop):
    """Trains one dqn document; the same callbacks, Control and hooks as the supervised Trainer."""

    kind = "dqn"

    def __init__(self, document: dict | Network, *, data_dir=None, control: Control | None = None,
                 on_point=None, on_status=None, on_log=None, **overrides):
        self.network = (document if isinstance(document, Network)
                        else parse_document(document, data_dir=data_dir))
        self.cfg = TrainConfig.from_network(self.network, **overrides)
        self.dqn = dict(self.network.training["dqn"])
        self.episodes_bound = overrides.get("episodes") or self.network.training.get("episodes")
        self.data_dir = data_dir
        self.control = control or Control()
        self.on_point = on_point or (lambda point: None)
        self.on_status = on_status or (lambda status: None)
        self.on_log = on_log or (lambda trainer: None)
        self.history: list[dict] = []
        self.step = 0
        self.epoch = 0  # episodes finished
        self.steps_per_epoch = None  # a dqn run has no epochs of data
        self.returns: list[float] = []
        self.probe_grads = False
        self.grad_norms: torch.Tensor | None = None
        self.greedy_player: Player | None = None

    # -- setup ---------------------------------------------------------------------------------

    def setup(self) -> None:
        """The environment, the online and target networks, the buffer and the optimizer."""
        cfg, d = self.cfg, self.dqn
        self.env_info = self.network.dataset
        if not isinstance(self.env_info, EnvInfo):
            raise TrainError("choose an environment in training.environment before training")
        self.device = resolve_device(cfg.device)
        prepare_device(self.device)  # its GPU current, TF32 matmuls: as every kind's run
        torch.manual_seed(cfg.seed)
        self.env_seed = int(self.env_info.params["seed"])
        self.player = Player(self.env_info, self.env_seed)
        self.model = build_model(self.network, seed=cfg.seed)
        self._init_weights(self.model)
        self.model = self.model.to(self.device)
        self.target = copy.deepcopy(self.model).eval()
        for p in self.target.parameters():
            p.requires_grad_(False)
        self.optimizer = make_optimizer(self.model.parameters(), cfg.optimizer)
        self.grad_groups = parameter_groups(self.model)
        self.lr = cfg.optimizer["lr"]
        self.grad_clip = cfg.optimizer.get("grad_clip")
        self.batch_size = cfg.batch_size
        self.replay = Replay(d["replay_size"], self.env_info.input_shape[0], self.device)
        self.rng = np.random.default_rng(self.env_seed)  # exploration
        self.torch_rng = torch.Generator(device=self.device).manual_seed(cfg.seed)  # replay
        self.gamma, self.double = float(d["gamma"]), bool(d["double"])
        self.starts = max(int(d["learning_starts"]), self.batch_size)  # a full first batch
        self.train_every, self.target_every = int(d["train_every"]), int(d["target_update"])
        self.eps_start, self.eps_end = float(d["epsilon_start"]), float(d["epsilon_end"])
        self.eps_steps = int(d["epsilon_decay_steps"])
        self.eps_fixed: float | None = None  # set mid-run: the schedule has ended
        self.actions = self.env_info.actions
        self.obs_t = torch.zeros(1, self.env_info.input_shape[0], device=self.device)
        self.updates = 0
        # What the node pictures (Insight) read: observations to follow, the environment's shapes.
        from types import SimpleNamespace

        from server.data.catalog import DatasetInfo

        obs = self.env_info.input_shape[0]
        self.x_val = torch.zeros(32, obs, device=self.device)
        self.y_val = torch.zeros(32, dtype=torch.long, device=self.device)
        self.dataset = SimpleNamespace(info=DatasetInfo(
            self.env_info.name, "regression", self.env_info.input_shape, None,
            (self.actions,)))
        self.classify, self.loss_name = False, "huber"

    # -- acting --------------------------------------------------------------------------------

    @property
    def epsilon(self) -> float:
        """The chance of a random action now."""
        if self.eps_fixed is not None:
            return self.eps_fixed
        frac = min(1.0, self.step / self.eps_steps)
        return self.eps_start + (self.eps_end - self.eps_start) * frac

    @torch.no_grad()
    def q_values(self, obs: np.ndarray) -> torch.Tensor:
        """Q(obs, ·) from the online network, in whatever mode it is in (no Dropout here in
        practice; BatchNorm designs act in eval mode, see act())."""
        self.obs_t.copy_(torch.from_numpy(obs).unsqueeze(0))
        return self.model(self.obs_t)[0]

    def act(self, obs: np.ndarray, epsilon: float) -> int:
        """ε-greedy: a random action with probability ε, else the best by the online network."""
        if epsilon > 0 and self.rng.random() < epsilon:
            return int(self.rng.integers(self.actions))
        return int(self.greedy_q(obs).argmax())

    def greedy_q(self, obs: np.ndarray) -> torch.Tensor:
        """Q(obs, ·) in eval mode (BatchNorm and Dropout as at test time), mode restored."""
        was = self.model.training
        if was:
            self.model.eval()
        try:
            return self.q_values(obs)
        finally:
            if was:
                self.model.train()

    # -- learning ------------------------------------------------------------------------------

    def update(self) -> None:
        """One gradient step on a replayed batch."""
        obs, action, reward, next_obs, done = self.replay.sample(self.batch_size, self.torch_rng)
        q = self.model(obs).gather(1, action.unsqueeze(1)).squeeze(1)
        with torch.no_grad():
            if self.double:
                best = self.model(next_obs).argmax(1, keepdim=True)
                next_q = self.target(next_obs).gather(1, best).squeeze(1)
            else:
                next_q = self.target(next_obs).max(1).values
            target = reward + self.gamma * (1.0 - done) * next_q
        loss = nn.functional.smooth_l1_loss(q, target)
        loss.backward()
        if self.probe_grads:
            self.grad_norms, self.probe_grads = gradient_norms(self.grad_groups), False
        if self.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.updates += 1
        if self.on_device:
            self.run_loss += loss.detach()
            self.run_q += q.detach().mean()
        else:
            value = loss.item()
            if not math.isfinite(value):
                self._diverged(self.step)
            self.run_loss += value
            self.run_q += float(q.detach().mean())
        self.run_count += 1

    # -- the loop ------------------------------------------------------------------------------

    def _done(self) -> bool:
        return bool((self.cfg.steps and self.step >= self.cfg.steps)
                    or (self.episodes_bound and self.epoch >= self.episodes_bound))

    def total_steps(self) -> int | None:
        """Environment steps the run will take when bounded by steps, else None."""
        return self.cfg.steps or None

    def epoch_now(self) -> float:
        """What a picture's `epoch` says: episodes finished."""
        return self.epoch

    def _loop(self) -> DqnResult:
        cfg, control, player, replay = self.cfg, self.control, self.player, self.replay
        self.on_device = self.device.type != "cpu"
        self.device_name = device_label(self.device)
        self.on_status({"state": "running", "step": 0, "epoch": 0, "device": self.device_name})
        self._reset_running()
        self.t0 = time.perf_counter()
        self.paused_time = 0.0
        next_log = next_frame = self.t0
        state = "finished"
        self.model.train()
        starts, every, target_every = self.starts, self.train_every, self.target_every
        while not self._done():
            if control.dirty and not self._obey():
                state = "stopped"
                break
            obs = player.obs
            action = self.act(obs, self.epsilon)
            next_obs, reward, terminated, truncated = player.step(action)
            replay.add(obs, action, reward, next_obs, terminated)  # a time limit still bootstraps
            self.step += 1
            if self.step >= starts and self.step % every == 0:
                self.update()
            if self.step % target_every == 0:
                self.target.load_state_dict(self.model.state_dict())
            finished = None
            if terminated or truncated:
                finished = player.end_episode()
                self.returns.append(finished)
                self.epoch += 1
            now = time.perf_counter()
            if finished is not None or now >= next_log or control.paused:
                self._log_point(now, finished)
                next_log = now + cfg.log_interval
            if now >= next_frame or control.paused:
                self.on_log(self)
                next_frame = time.perf_counter() + FRAME_INTERVAL
        if self.run_count or not self.history or self.history[-1]["step"] != self.step:
            self._log_point(time.perf_counter(), None, force=True)
        return self._result(state)

    def _apply_lr(self) -> None:
        """The rates asked for: the learning rate, and ε (which then holds)."""
        lr = self.control.take_lr()
        if lr is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            self.lr = lr
        eps = self.control.take_epsilon()
        if eps is not None:
            self.eps_fixed = eps

    # -- the greedy player ---------------------------------------------------------------------

    def greedy_step(self) -> Player:
        """One step of the current policy, without exploring, in the greedy player's own copy
        of the environment (started on first use; a finished episode starts the next)."""
        if self.greedy_player is None:
            self.greedy_player = Player(self.env_info, self.env_seed + 1)
            return self.greedy_player
        g = self.greedy_player
        if g.done:
            g.end_episode()
            return g
        _, _, terminated, truncated = g.step(int(self.greedy_q(g.obs).argmax()))
        g.done = terminated or truncated
        return g

    # -- metrics -------------------------------------------------------------------------------

    def _reset_running(self) -> None:
        zero = (lambda: torch.zeros((), device=self.device)) if self.device.type != "cpu" \
            else (lambda: 0.0)
        self.run_loss, self.run_q, self.run_count = zero(), zero(), 0

    def _diverged(self, step: int) -> None:
        raise TrainError(f"the Q-values became NaN or infinite at step {step}; try a lower "
                         "learning rate, gradient clipping (optimizer.grad_clip) or a smaller "
                         "gamma", step)

    def _log_point(self, now: float, episode_return: float | None = None,
                   force: bool = False) -> None:
        if not (self.run_count or episode_return is not None or force):
            return
        point = {"step": self.step, "epoch": self.epoch, "time": round(now - self.t0, 4),
                 "lr": self.lr, "epsilon": round(self.epsilon, 6)}
        if self.run_count:
            loss = float(self.run_loss) / self.run_count
            q = float(self.run_q) / self.run_count
            if not (math.isfinite(loss) and math.isfinite(q)):
                self._diverged(self.step)
            point["td_loss"], point["q_mean"] = loss, q
        if episode_return is not None:
            point["episode"], point["episode_return"] = self.epoch, episode_return
        self._reset_running()
        self.history.append(point)
        self.on_point(point)

    def _result(self, state: str) -> DqnResult:
        elapsed = time.perf_counter() - self.t0 - self.paused_time
        recent = self.returns[-RETURN_WINDOW:]
        losses = [p["td_loss"] for p in self.history if "td_loss" in p]
        return DqnResult(
            state=state, steps=self.step, epochs=self.epoch, episodes=self.epoch,
            mean_return=sum(recent) / len(recent) if recent else None,
            best_return=max(self.returns) if self.returns else None,
            td_loss=losses[-1] if losses else None,
            samples_per_second=self.step / elapsed if elapsed > 0 else 0.0, seconds=elapsed,
            device=self.device_name, model=self.model, history=self.history)
