"""TrainConfig: the document's training section as the loop reads it."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.graph import Network


@dataclass
class TrainConfig:
    """How to train one design; every field comes from the document's `training` section."""

    dataset: dict | None = None  # the dataset spec, e.g. {"name": "spiral", "samples": 500}
    task: str = "auto"  # "auto": the dataset's own task; "reconstruction": target = input
    loss: str = "auto"  # auto | cross_entropy | mse | l1 | bce_with_logits
    optimizer: dict = field(default_factory=lambda: {"name": "adam", "lr": 0.01})
    batch_size: int = 32  # samples per step (the last batch of an epoch may be smaller)
    epochs: int | None = None  # stop after this many epochs (None and steps None: until stopped)
    steps: int | None = None  # or after this many optimizer steps
    seed: int = 0  # seeds weights, shuffling and dropout: a rehearsed run repeats exactly on CPU
    device: str = "auto"  # auto (CUDA when present) | cpu | cuda | cuda:N
    precision: str = "auto"  # auto (bf16 on a GPU that has it, else fp32) | fp32 | bf16 | fp16
    cuda_graphs: bool = True  # replay the step as a CUDA graph where it can be captured
    log_interval: float = 0.05  # seconds between running-loss points (20 a second at most)
    epoch_points: int = 100  # and a point at each epoch's end until the run has this many
    eval_interval: float = 0.25  # least seconds between validation passes (always at the end)
    init_weights: str | None = None  # start from this weights file (`train --init-weights`)

    @classmethod
    def from_network(cls, network: Network, **overrides) -> TrainConfig:
        """Read a validated network's training section; overrides win when not None."""
        t = network.training
        cfg = cls(
            dataset=t.get("dataset"), task=t["task"], loss=t["loss"],
            optimizer=dict(t["optimizer"]), batch_size=t["batch_size"], epochs=t["epochs"],
            steps=t["steps"], seed=t["seed"], device=t["device"],
            precision=t.get("precision", "auto"),
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(cfg, key, value)
        if overrides.get("steps") is not None and overrides.get("epochs") is None:
            cfg.epochs = None  # --steps N alone bounds the run by steps
        if overrides.get("epochs") is not None and overrides.get("steps") is None:
            cfg.steps = None
        return cfg
