"""Control: pause, resume, step, stop and learning-rate changes, safe to call from any thread."""

from __future__ import annotations

import threading


class Control:
    """Commands for a running Trainer. The loop reads one flag per step; the rest is locked."""

    def __init__(self, paused: bool = False):
        self._cond = threading.Condition()
        self.dirty = paused  # read by the loop each step without the lock: cheap
        self.paused = paused
        self.stopping = False
        self.step_budget = 0  # steps allowed while paused
        self.pending_lr: float | None = None

    def pause(self) -> None:
        """Pause after the current step."""
        with self._cond:
            self.paused, self.dirty = True, True

    def resume(self) -> None:
        """Resume from a pause."""
        with self._cond:
            self.paused, self.step_budget, self.dirty = False, 0, True
            self._cond.notify_all()

    def step(self, steps: int = 1) -> None:
        """Run `steps` more steps and then stay paused."""
        with self._cond:
            self.paused, self.dirty = True, True
            self.step_budget += max(1, int(steps))
            self._cond.notify_all()

    def stop(self) -> None:
        """Stop after the current step."""
        with self._cond:
            self.stopping, self.dirty = True, True
            self._cond.notify_all()

    def set_lr(self, lr: float) -> None:
        """Change the learning rate from the next step on (optimizer state is kept)."""
        with self._cond:
            self.pending_lr, self.dirty = float(lr), True

    def take_lr(self) -> float | None:
        """The learning rate asked for since the last call, if any."""
        with self._cond:
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
                self._cond.wait(0.1)
            if self.stopping:
                return False
            if self.paused:
                self.step_budget -= 1
            self._refresh()
            return True

    def _refresh(self) -> None:
        self.dirty = self.stopping or self.paused or self.pending_lr is not None
