"""The `dqn` kind (CONTRACTS.md §6): a Q-network from one Input (an observation of a Gymnasium
environment) to one sink (a Q-value per action), trained by deep Q-learning. Export gives the
Q-network."""

from __future__ import annotations

from server.kinds.dqn_loop import DqnTrainer
from server.model import build_model
from server.train.gradients import gradient_norms

NAME = "dqn"


def trainer(network, **kwargs) -> DqnTrainer:
    """The agent's loop (dqn_loop.py)."""
    return DqnTrainer(network, **kwargs)


def build(network, seed: int | None = None):
    """The Q-network (the target network is a copy of it, not saved)."""
    return build_model(network, seed=seed)


def summary(result) -> dict:
    """Episodes played, the mean return of the last 20 and the best, the last TD loss."""
    return {"episodes": result.episodes, "mean_return": result.mean_return,
            "best_return": result.best_return, "td_loss": result.td_loss}


def onnx_target(network, model):
    """The Q-network: an observation at `input`, a Q-value per action at `output`."""
    return network, model, "input"


def pytorch_source(network, model) -> str:
    """One self-contained module file, as a supervised design's."""
    from server.export import export_pytorch

    return export_pytorch(network, model.state_dict())


def insight(trainer):
    """The environment and the Q-network's node pictures."""
    from server.kinds.dqn_pictures import DqnInsight

    return DqnInsight(trainer)


def health(insight) -> dict | None:
    """run_health fields (once an update has measured the gradients)."""
    return insight.health()


PICTURES = {
    "environment": (30.0, lambda insight: insight.environment()),
    "activations": (4.0, lambda insight: {"nodes": insight.activations(), "selected": 0}),
    "health": (2.0, health),
    "weights": (1.0, lambda insight: {"nodes": insight.weights()}),
}


def final_gradients(trainer) -> None:
    """Gradient norms of one update's loss on a replayed batch, without changing a weight."""
    if trainer.replay.n < 1:
        return
    model = trainer.model
    obs, action, reward, next_obs, done = trainer.replay.sample(
        min(trainer.batch_size, trainer.replay.n), trainer.torch_rng)
    try:
        q = model(obs).gather(1, action.unsqueeze(1)).squeeze(1)
        import torch

        with torch.no_grad():
            target = reward + trainer.gamma * (1 - done) * trainer.target(next_obs).max(1).values
        torch.nn.functional.smooth_l1_loss(q, target).backward()
        trainer.grad_norms = gradient_norms(trainer.grad_groups)
    finally:
        model.zero_grad(set_to_none=True)
