"""Where runs train: the server's GPUs, how many runs each takes, and which one a run goes to.

The run manager keeps one Placement. Its GPUs are found once when the server starts
(`detect_gpus`) or given (the tests pass fake ones); each takes up to `room` runs at once
(RUNS_PER_GPU: one number for every GPU, or one per GPU). A run whose document says `auto` or
`cuda` goes to the GPU with the most room left (then the one whose runs hold the least memory,
then the lowest index); `cuda:N` waits for GPU N; `cpu` trains on the CPU. Every run is a
worker process of its own, so each has its own CUDA context and stream on its GPU, and a run
that runs out of GPU memory fails alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_RUNS_PER_GPU = 4  # tiny designs leave a GPU mostly idle: several share one


@dataclass(frozen=True)
class Gpu:
    """One CUDA device as the server sees it."""

    index: int  # its N in cuda:N
    name: str  # e.g. "NVIDIA H200"
    memory: int  # bytes of GPU memory in all
    room: int  # runs it trains at once

    @property
    def device(self) -> str:
        """Its device string: "cuda:0"."""
        return f"cuda:{self.index}"


def detect_gpus() -> list[tuple[str, int]]:
    """(name, memory in bytes) of each CUDA device this process can see; [] without CUDA."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") == "":
        return []
    import torch  # the workers need it anyway; reading properties allocates nothing

    if not torch.cuda.is_available():
        return []
    props = [torch.cuda.get_device_properties(i) for i in range(torch.cuda.device_count())]
    return [(p.name, int(p.total_memory)) for p in props]


def gpus_with_room(found: list[tuple[str, int]], runs_per_gpu) -> list[Gpu]:
    """The GPUs found, each with its room: `runs_per_gpu` is a number for all, or a list with
    one per GPU (a GPU past its end takes the last); None: DEFAULT_RUNS_PER_GPU."""
    if runs_per_gpu is None:
        runs_per_gpu = DEFAULT_RUNS_PER_GPU
    rooms = list(runs_per_gpu) if isinstance(runs_per_gpu, (list, tuple)) else [runs_per_gpu]
    if not rooms or any(not isinstance(r, int) or isinstance(r, bool) or r < 1 for r in rooms):
        raise ValueError(f"RUNS_PER_GPU must be a positive whole number or a list of them; got "
                         f"{runs_per_gpu!r}")
    return [Gpu(i, name, memory, rooms[min(i, len(rooms) - 1)])
            for i, (name, memory) in enumerate(found)]


def gpu_index(device: str) -> int | None:
    """N of "cuda:N"; None for any other device string."""
    kind, _, index = device.partition(":")
    return int(index) if kind == "cuda" and index.isdigit() else None


class Placement:
    """The devices of the runs training now, and where the next one goes. Not locked itself:
    the RunManager calls it with its own lock held."""

    def __init__(self, gpus: list[Gpu]):
        self.gpus = list(gpus)
        self.devices: dict[str, str] = {}  # run id -> the device it was sent to train on
        self.memory: dict[str, int] = {}  # run id -> bytes of GPU memory it last reported

    @property
    def room(self) -> int:
        """Runs the GPUs take at once in all (0 without GPUs)."""
        return sum(g.room for g in self.gpus)

    def runs_on(self, gpu: Gpu) -> list[str]:
        """The runs training on a GPU."""
        return [run_id for run_id, device in self.devices.items()
                if gpu_index(device) == gpu.index]

    def place(self, asked: str) -> str | None:
        """The device a run that asks for `asked` trains on now, or None: it waits for room.

        Without GPUs, and for cpu, mps or a GPU that does not exist, the answer is `asked`
        itself: the worker then trains there or fails the run saying why."""
        if not self.gpus or asked in ("cpu", "mps"):
            return asked
        pinned = gpu_index(asked)
        if pinned is not None:
            if pinned >= len(self.gpus):
                return asked
            gpu = self.gpus[pinned]
            return gpu.device if len(self.runs_on(gpu)) < gpu.room else None
        free = [g for g in self.gpus if len(self.runs_on(g)) < g.room]
        if not free:
            return None
        return min(free, key=lambda g: (len(self.runs_on(g)) / g.room, self.held(g),
                                        g.index)).device

    def held(self, gpu: Gpu) -> int:
        """Bytes of GPU memory its runs last reported holding."""
        return sum(self.memory.get(run_id, 0) for run_id in self.runs_on(gpu))

    def assign(self, run_id: str, device: str) -> None:
        """A run was sent to train on `device`."""
        self.devices[run_id] = device

    def report(self, run_id: str, memory: int) -> None:
        """A run's worker reported the GPU memory it holds."""
        if run_id in self.devices:
            self.memory[run_id] = int(memory)

    def release(self, run_id: str) -> None:
        """A run ended: its place is free."""
        self.devices.pop(run_id, None)
        self.memory.pop(run_id, None)

    def describe(self, cores: int | None = None) -> dict:
        """GET /api/devices: the CPU, each GPU with its runs and memory, and where a run that
        asks for `auto` would go now (null: it would wait for room on a GPU)."""
        cpu_runs = sum(gpu_index(d) is None for d in self.devices.values())
        auto = self.place("auto")
        return {
            "cpu": {"cores": cores or os.cpu_count() or 1, "runs": cpu_runs},
            "gpus": [{"index": g.index, "device": g.device, "name": g.name, "memory": g.memory,
                      "room": g.room, "runs": len(self.runs_on(g)), "memory_used": self.held(g)}
                     for g in self.gpus],
            "auto": "cpu" if auto == "auto" else auto,
        }
