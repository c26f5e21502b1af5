"""The shape of a `dqn` design (CONTRACTS.md §6): one Input fed an observation, one sink giving
a Q-value per action, and a training section whose exploration schedule makes sense. Pure."""

from __future__ import annotations

from server.envs import EnvInfo
from server.graph.gan import size_param
from server.graph.network import Budget, Network
from server.graph.rules import fmt
from server.graph.training import BY_PATH

# Bytes one replayed transition keeps: observation and next observation (float32), action
# (int64), reward and done (float32).
TRANSITION_EXTRA = 8 + 4 + 4


def replay_bytes(env: EnvInfo, replay_size: int) -> int:
    """What the replay buffer holds on the training device when full."""
    obs = env.input_shape[0]
    return replay_size * (2 * 4 * obs + TRANSITION_EXTRA)


def check_fit(network: Network, err) -> None:
    """The sink gives one Q-value per action of the environment."""
    env = network.dataset
    out = network.node(network.output_id) if network.output_id else None
    if not isinstance(env, EnvInfo) or out is None or out.shape is None:
        return
    k = env.actions
    if tuple(out.shape) != (k,):
        names = ", ".join(env.meta.action_names)
        err(out.id, size_param(out), f"{env.name} has {k} actions ({names}), so the output must "
            f"be [{k}]: one Q-value per action; '{out.id}' outputs {fmt(out.shape)}")


def check_training(network: Network, budget: Budget, err) -> None:
    """An exploration schedule that goes somewhere, a buffer that fits, updates that happen."""
    t, env = network.training, network.dataset
    dqn = t.get("dqn") or {}

    def bad(path: str, message: str) -> None:
        err(None, f"training.{path}", message)

    def valid(path: str) -> bool:  # a value with a problem of its own has its field's error
        value = dqn.get(path[4:]) if path.startswith("dqn.") else t.get(path)
        return BY_PATH[path].problem(value) is None and value is not None

    start, end = dqn.get("epsilon_start"), dqn.get("epsilon_end")
    if valid("dqn.epsilon_start") and valid("dqn.epsilon_end") and end > start:
        bad("dqn.epsilon_end", f"epsilon_end {end:g} is above epsilon_start {start:g}: ε falls "
            "from epsilon_start to epsilon_end as the agent learns")
    steps, starts = t.get("steps"), dqn.get("learning_starts")
    if valid("steps") and valid("dqn.learning_starts") and starts >= steps:
        bad("dqn.learning_starts", f"learning_starts {starts:,} is not below steps {steps:,}: "
            "the run would end before its first update")
    size, batch = dqn.get("replay_size"), t.get("batch_size")
    if valid("dqn.replay_size") and valid("batch_size") and batch > size:
        bad("batch_size", f"batch_size {batch:,} is larger than dqn.replay_size {size:,}: an "
            "update replays batch_size transitions from the buffer")
    if isinstance(env, EnvInfo) and valid("dqn.replay_size"):
        need = replay_bytes(env, size)
        if need > budget.max_memory_bytes:
            per = replay_bytes(env, 1)
            bad("dqn.replay_size", f"a replay buffer of {size:,} transitions needs "
                f"{need / 2**30:.1f} GiB; the limit is {budget.max_memory_bytes / 2**30:.1f} GiB "
                f"(at most {budget.max_memory_bytes // per:,} transitions of {env.name})")

