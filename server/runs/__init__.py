"""Runs: the manager, its spawned worker processes, the queue, status and history."""

from server.runs.gate import FrameGate
from server.runs.manager import ManagerConfig, RunManager
from server.runs.run import ACTIONS, TERMINAL, TRANSITIONS, Run, RunError

__all__ = ["ACTIONS", "TERMINAL", "TRANSITIONS", "FrameGate", "ManagerConfig", "Run", "RunError",
           "RunManager"]
