"""Environments of the `dqn` kind (CONTRACTS.md §6): Gymnasium's own, as a catalog.

The catalog is data (pure Python: no gymnasium, no numpy): each environment's observation and
actions, the return that counts as solved, how the page draws it, and whether this server can
run it. `describe_environment` checks a document's `training.environment` against it, and
`make_env` (which imports Gymnasium) builds the environment a run steps.

A discrete observation (a grid cell) reaches the network one-hot, as `[states]`.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any


def show(value: Any) -> str:
    """A value from a document as a message quotes it (server.graph.rules.show, which this
    package cannot import: validation imports it)."""
    from server.graph.rules import show as shown

    return shown(value)

MAX_SEED = 2**31 - 1  # Gymnasium seeds numpy's generators, which take 32-bit seeds here


class EnvError(ValueError):
    """A training.environment that cannot be used; `field` names the key at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class EnvParam:
    """One key a training.environment accepts besides its name."""

    name: str
    type: str  # "int" | "bool"
    default: Any
    doc: str
    min: int | None = None
    max: int | None = None

    def to_json(self) -> dict:
        """The param as GET /api/environments lists it."""
        return {"name": self.name, "type": self.type, "default": self.default, "min": self.min,
                "max": self.max, "doc": self.doc}


SEED = EnvParam("seed", "int", 0, "Seeds the environment's resets and the agent's exploration: "
                "the same seed repeats a run.", 0, MAX_SEED)
SLIPPERY = EnvParam("slippery", "bool", False, "The ice is slippery: a move goes sideways two "
                    "times in three (FrozenLake's original, much harder).")


@dataclass(frozen=True)
class EnvMeta:
    """Static facts about one environment."""

    name: str  # the name a document uses
    gym_id: str  # Gymnasium's id
    title: str
    doc: str
    observation: str  # "vector" | "discrete" (one-hot into the network)
    obs_size: int  # floats in a vector observation, or states of a discrete one
    obs_labels: tuple[str, ...]  # what each float is (a discrete observation: the cell)
    action_names: tuple[str, ...]
    solved_return: float  # the mean return (over the last 20 episodes) that counts as solved
    max_episode_steps: int  # the episode's time limit
    view: str  # how the page draws it: cartpole | acrobot | mountain_car | lunar_lander | grid
    params: tuple[EnvParam, ...] = (SEED,)
    requires: tuple[str, ...] = ()  # modules it imports beyond Gymnasium
    extra: str | None = None  # the pip extra that installs them
    grid: tuple[str, ...] | None = None  # a grid's rows: S start, G goal, H hole, C cliff, F free
    moves: tuple[tuple[int, int], ...] | None = None  # a grid's (drow, dcol) per action
    make_kwargs: dict = field(default_factory=dict)

    @property
    def actions(self) -> int:
        """How many discrete actions the agent chooses from."""
        return len(self.action_names)

    @property
    def input_shape(self) -> tuple[int]:
        """The Input's shape: the vector, or one-hot over the states."""
        return (self.obs_size,)

    def missing(self) -> list[str]:
        """The modules this environment needs that this server lacks."""
        return [m for m in self.requires if importlib.util.find_spec(m) is None]

    def unavailable_reason(self) -> str | None:
        """Why this server cannot run it (None: it can)."""
        missing = self.missing()
        if not missing:
            return None
        return (f"{self.title} needs {' and '.join(missing)}, which this server lacks; install "
                f"them with pip install 'layerlab[{self.extra}]'")

    def to_json(self) -> dict:
        """The entry as GET /api/environments serves it."""
        reason = self.unavailable_reason()
        out = {
            "name": self.name, "gym_id": self.gym_id, "title": self.title, "doc": self.doc,
            "observation": {"kind": self.observation, "shape": list(self.input_shape),
                            "labels": list(self.obs_labels)},
            "input_shape": list(self.input_shape), "actions": self.actions,
            "action_names": list(self.action_names), "solved_return": self.solved_return,
            "max_episode_steps": self.max_episode_steps, "view": self.view,
            "params": [p.to_json() for p in self.params],
            "available": reason is None, "unavailable_reason": reason,
        }
        if self.grid is not None:
            out["grid"] = {"rows": len(self.grid), "cols": len(self.grid[0]),
                           "cells": list(self.grid), "moves": [list(m) for m in self.moves]}
        return out


FROZEN_LAKE = ("SFFF", "FHFH", "FFFH", "HFFG")
CLIFF = ("FFFFFFFFFFFF", "FFFFFFFFFFFF", "FFFFFFFFFFFF", "SCCCCCCCCCCG")

ENVIRONMENTS: dict[str, EnvMeta] = {e.name: e for e in (
    EnvMeta("cartpole", "CartPole-v1", "CartPole",
            "Push a cart left or right to keep the pole on it upright; +1 for every step it "
            "stays up, 500 at most.", "vector", 4,
            ("cart position", "cart velocity", "pole angle", "pole angular velocity"),
            ("push left", "push right"), 475.0, 500, "cartpole"),
    EnvMeta("acrobot", "Acrobot-v1", "Acrobot",
            "Swing a two-link arm by torquing its middle joint until its tip rises above the "
            "bar; -1 a step until it does.", "vector", 6,
            ("cos θ1", "sin θ1", "cos θ2", "sin θ2", "θ1 velocity", "θ2 velocity"),
            ("torque -1", "no torque", "torque +1"), -100.0, 500, "acrobot"),
    EnvMeta("mountain_car", "MountainCar-v0", "MountainCar",
            "An underpowered car must rock back and forth to climb to the flag; -1 a step "
            "until it arrives (hard: the reward is rare).", "vector", 2,
            ("position", "velocity"), ("push left", "no push", "push right"), -110.0, 200,
            "mountain_car"),
    EnvMeta("lunar_lander", "LunarLander-v3", "LunarLander",
            "Fire the main and side engines to land softly between the flags; about +100 to "
            "+140 for a landing, -100 for a crash.", "vector", 8,
            ("x", "y", "x velocity", "y velocity", "angle", "angular velocity",
             "left leg touches", "right leg touches"),
            ("do nothing", "fire left engine", "fire main engine", "fire right engine"),
            200.0, 1000, "lunar_lander", requires=("Box2D", "pygame"), extra="box2d"),
    EnvMeta("frozen_lake", "FrozenLake-v1", "FrozenLake 4x4",
            "Walk from the start to the goal across a frozen lake without falling into a "
            "hole; 1 for reaching the goal, else 0.", "discrete", 16,
            ("cell",), ("left", "down", "right", "up"), 0.7, 100, "grid",
            params=(SEED, SLIPPERY), grid=FROZEN_LAKE,
            moves=((0, -1), (1, 0), (0, 1), (-1, 0)), make_kwargs={"map_name": "4x4"}),
    EnvMeta("cliff_walking", "CliffWalking-v1", "CliffWalking",
            "Walk along a cliff from the start to the goal; -1 a step, -100 and back to the "
            "start for a step off the cliff. The shortest path scores -13.", "discrete", 48,
            ("cell",), ("up", "right", "down", "left"), -13.0, 200, "grid", grid=CLIFF,
            moves=((-1, 0), (0, 1), (1, 0), (0, -1))),
)}


@dataclass(frozen=True)
class EnvInfo:
    """What a training.environment resolves to: the design's shapes (no environment built)."""

    name: str
    meta: EnvMeta
    params: dict  # the spec with defaults filled: name, seed (and slippery)
    noun: str = "environment"

    @property
    def input_shape(self) -> tuple[int]:
        return self.meta.input_shape

    @property
    def actions(self) -> int:
        return self.meta.actions

    def to_json(self) -> dict:
        return {"name": self.name, "input_shape": list(self.input_shape),
                "actions": self.actions, "params": dict(self.params)}


def env_catalog() -> list[dict]:
    """GET /api/environments: every environment, runnable here or not (with why not)."""
    return [meta.to_json() for meta in ENVIRONMENTS.values()]


def describe_environment(spec: Any) -> EnvInfo:
    """Check a training.environment and fill its defaults; EnvError names the bad key."""
    if not isinstance(spec, dict):
        raise EnvError(f'training.environment must be an object like {{"name": "cartpole"}}; '
                       f"got {show(spec)}")
    name = spec.get("name")
    if not isinstance(name, str) or name not in ENVIRONMENTS:
        raise EnvError(f"unknown environment {show(name)}; choose one of "
                       f"{', '.join(ENVIRONMENTS)}", "name")
    meta = ENVIRONMENTS[name]
    reason = meta.unavailable_reason()
    if reason:
        raise EnvError(reason, "name")
    params = {"name": name}
    known = {p.name: p for p in meta.params}
    for key in spec:
        if key != "name" and key not in known:
            raise EnvError(f"{name} takes no field '{key}' (it takes "
                           f"{', '.join(sorted(known))})", key)
    for p in meta.params:
        value = spec.get(p.name, p.default)
        if p.type == "bool" and not isinstance(value, bool):
            raise EnvError(f"{p.name} must be true or false; got {show(value)}", p.name)
        if p.type == "int" and (not isinstance(value, int) or isinstance(value, bool)
                                or not p.min <= value <= p.max):
            raise EnvError(f"{p.name} must be an integer from {p.min} to {p.max:,}; got "
                           f"{show(value)}", p.name)
        params[p.name] = value
    return EnvInfo(name, meta, params)


def make_env(info: EnvInfo):
    """The Gymnasium environment of a checked spec, with its time limit (imports gymnasium)."""
    import gymnasium as gym

    meta = info.meta
    kwargs = dict(meta.make_kwargs)
    if "slippery" in info.params:
        kwargs["is_slippery"] = bool(info.params["slippery"])
    return gym.make(meta.gym_id, max_episode_steps=meta.max_episode_steps, **kwargs)
