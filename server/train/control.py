"""Control: pause, resume, step, stop and learning-rate changes, safe to call from any thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Control:
    """Commands for a running Trainer. The loop reads one flag per step; the rest is locked."""

    def __init__(self, paused: bool = False):
        self._cond = threading.Condition()
        self.dirty = paused  # read by the loop each step without the lock: cheap
        self.paused = paused
        self.stopping = False
        self.step_budget = 0  # steps allowed while paused
        self.step_network = "both"  # what a step runs: a gan's "d", "g" or "both" (one iteration)
        self.pending_lr: float | None = None
        self.pending_generator_lr: float | None = None  # a gan's generator (set_lr network "g")
        self.pending_epsilon: float | None = None  # a dqn's exploration rate (set_epsilon)
        self.greedy = False  # a dqn's pictures show the greedy player (read between steps)
        self.speed: float | None = None  # slow motion: steps per second (None: full speed)
        self._next_step_at = 0.0
        self.calls: list[Callable[[], None]] = []  # run on the training thread (call_soon)

    def pause(self) -> None:
        """Pause after the current step."""
        with self._cond:
            self.paused, self.dirty = True, True

    def resume(self) -> None:
        """Resume from a pause."""
        with self._cond:
            self.paused, self.step_budget, self.dirty = False, 0, True
            self._cond.notify_all()

    def step(self, steps: int = 1, network: str = "both") -> None:
        """Run `steps` more steps (of a gan's `network`: d, g or both) and then stay paused."""
        with self._cond:
            self.paused, self.dirty = True, True
            self.step_network = network or "both"
            self.step_budget += max(1, int(steps))
            self._cond.notify_all()

    def stop(self) -> None:
        """Stop after the current step."""
        with self._cond:
            self.stopping, self.dirty = True, True
            self._cond.notify_all()

    def set_lr(self, lr: float, network: str = "d") -> None:
        """Change the learning rate from the next step on (optimizer state is kept); a gan's
        generator's with network "g"."""
        with self._cond:
            if network == "g":
                self.pending_generator_lr = float(lr)
            else:
                self.pending_lr = float(lr)
            self.dirty = True

    def set_epsilon(self, epsilon: float) -> None:
        """A dqn's exploration rate from the next step on (its schedule ends there)."""
        with self._cond:
            self.pending_epsilon = float(epsilon)
            self.dirty = True

    def take_epsilon(self) -> float | None:
        """The exploration rate asked for since the last call, if any."""
        with self._cond:
            eps, self.pending_epsilon = self.pending_epsilon, None
            self._refresh()
            return eps

    def set_greedy(self, on: bool) -> None:
        """A dqn's pictures follow the greedy player (True) or the training episodes."""
        self.greedy = bool(on)

    def set_speed(self, steps_per_second: float | None) -> None:
        """Slow motion: at most this many steps a second from now on (None: full speed)."""
        with self._cond:
            self.speed = float(steps_per_second) if steps_per_second else None
            self._next_step_at = 0.0
            self._refresh()
            self._cond.notify_all()

    def pace(self) -> None:
        """Under slow motion, wait until the next step is due; any command wakes it early."""
        with self._cond:
            if self.speed is None:
                return
            now = time.monotonic()
            if self._next_step_at > now:
                self._cond.wait(self._next_step_at - now)
                now = time.monotonic()
            if self.speed is not None:
                self._next_step_at = max(self._next_step_at, now) + 1.0 / self.speed

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run `fn` on the training thread before its next step, or at once while paused."""
        with self._cond:
            self.calls.append(fn)
            self.dirty = True
            self._cond.notify_all()

    def take_calls(self) -> list[Callable[[], None]]:
        """The calls asked for since the last take, to run now."""
        with self._cond:
            calls, self.calls = self.calls, []
            self._refresh()
            return calls

    def take_lr(self, network: str = "d") -> float | None:
        """The learning rate asked for since the last call, if any (a gan's generator's: "g")."""
        with self._cond:
            if network == "g":
                lr, self.pending_generator_lr = self.pending_generator_lr, None
            else:
                lr, self.pending_lr = self.pending_lr, None
            self._refresh()
            return lr

    def wait_turn(self, on_pause) -> bool:
        """Block while paused with no step budget; False once stop is asked."""
        with self._cond:
            announced = False
            while self.paused and not self.step_budget and not self.stopping:
                if not announced:
                    self._cond.release()
                    try:
                        on_pause()
                    finally:
                        self._cond.acquire()
                    announced = True
                    continue
                if self.calls:
                    calls, self.calls = self.calls, []
                    self._cond.release()
                    try:
                        for fn in calls:
                            fn()
                    finally:
                        self._cond.acquire()
                    continue
                self._cond.wait(0.1)
            if self.stopping:
                return False
            if self.paused:
                self.step_budget -= 1
            self._refresh()
            return True

    def _refresh(self) -> None:
        self.dirty = (self.stopping or self.paused or self.pending_lr is not None
                      or self.pending_generator_lr is not None
                      or self.pending_epsilon is not None or bool(self.calls)
                      or self.speed is not None)
