"""The pictures of a dqn run: the environment as the agent sees it, and the Q-network's nodes.

run_environment carries the state of the episode being played (or of the greedy player's,
while someone watches it), the last transition and the Q-values at the state; on a grid, also
each cell's best action and its value. The node pictures are the supervised Insight's, over
the current observation (the followed sample) and the most recent ones (dead units).
"""

from __future__ import annotations

import torch

from server.insight import Insight

SAMPLES = 32  # observations the node pictures are measured on: the current one, then recent


class DqnInsight(Insight):
    """Frames for one DqnTrainer: environment, activations, health, weights."""

    def __init__(self, trainer):
        super().__init__(trainer, samples=SAMPLES)
        meta = trainer.env_info.meta
        self.grid = meta.grid is not None
        if self.grid:
            self.cells = torch.eye(meta.obs_size, device=trainer.device)

    def samples(self) -> None:
        """No sample picker: the followed sample is the observation now."""
        return None

    def select(self, index: int) -> None:
        self.selected = 0

    def _refresh(self) -> None:
        """The fixed sample becomes the current observation and the most recent ones."""
        t = self.trainer
        rows = [t.player.obs]
        replay = t.replay
        for k in range(1, min(SAMPLES, replay.n + 1)):
            rows.append(replay.host["obs"][(replay.i - k) % replay.size])
        x = torch.from_numpy(__import__("numpy").stack(rows)).to(t.device)
        t.x_val[:x.shape[0]].copy_(x)
        if x.shape[0] < SAMPLES:
            t.x_val[x.shape[0]:].copy_(x[0].expand(SAMPLES - x.shape[0], -1))

    def activations(self) -> dict:
        self._refresh()
        return super().activations()

    def health(self) -> dict | None:
        if self.trainer.grad_norms is None:
            self.trainer.probe_grads = True
            return None
        self._refresh()
        return super().health()

    def environment(self) -> dict:
        """run_environment fields: the episode now (the greedy player's while watched)."""
        t = self.trainer
        greedy = bool(t.control.greedy)
        player = t.greedy_step() if greedy else t.player
        q = t.greedy_q(player.obs)
        out = {"episode": player.episode, "t": player.t, "state": player.state(),
               "action": player.action, "reward": player.reward,
               "q": [round(float(v), 4) for v in q.tolist()],
               "episode_return": round(player.ret, 4), "last_return": player.last_return,
               "greedy": greedy, "done": bool(player.done), "env": t.env_info.name}
        if self.grid:
            values = self._eval(lambda: self.model(self.cells))
            best = values.max(1)
            out["values"] = [round(float(v), 4) for v in best.values.tolist()]
            out["policy"] = [int(a) for a in best.indices.tolist()]
        return out
