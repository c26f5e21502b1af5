"""Visuals: a run's live pictures, computed in its worker only while someone watches.

The trainer calls `on_log` at each logged point (at most 20 a second). Each kind of picture has
its own rate, and together they may take at most `budget` of the wall time since they were
first wanted, so a large model's pictures thin out rather than slow its training. Everything
runs on the training thread between two steps: the model is never read while it changes.
Frames go to the server as one message per logged point:

    ("frames", run_id, {step, epoch, time, final}, {event: payload})
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable

BUDGET = 0.05  # share of wall time the pictures may take while wanted
BURST = 0.05  # seconds of picture work allowed ahead of the budget (the first frames)


class Visuals:
    """The pictures of one run: what is wanted, how often, and what they have cost. Which
    pictures there are, and how each is made, is the training kind's (its PICTURES)."""

    def __init__(self, run_id: str, control, send: Callable[[tuple], None],
                 settings: dict | None = None, wanted: bool = False, selected: int = 0,
                 kind=None):
        from server.kinds import kind as kind_named

        settings = settings or {}
        self.kind = kind or kind_named("supervised")
        self.pictures = list(self.kind.PICTURES)
        rates = {k: rate for k, (rate, _) in self.kind.PICTURES.items()}
        rates.update(settings.get("rates") or {})
        self.run_id, self.control, self.send = run_id, control, send
        self.intervals = {k: 1.0 / rates[k] for k in self.pictures if rates.get(k)}
        self.budget = settings.get("budget", BUDGET)
        self.wanted = wanted  # set from the command thread; read once per logged point
        self.selected = selected
        self.trainer = None
        self.insight = None
        self.samples_sent = False
        self.due: dict[str, float] = {}
        self.since: float | None = None  # when pictures were first wanted
        self.frames = 0  # frames made while training (the final set not counted)
        self.seconds = 0.0  # time those took, sending included
        self.broken: set[str] = set()  # kinds that raised: not tried again in this run

    # -- asked from the command thread ---------------------------------------------------------

    def want(self, on: bool) -> None:
        """Someone watches (True) or nobody does (False)."""
        self.wanted = bool(on)
        if self.wanted:
            self.control.call_soon(self.refresh)

    def select(self, index: int) -> None:
        """Follow fixed sample `index` through the network from now on."""
        self.selected = int(index)
        self.control.call_soon(self._apply_selection)

    # -- on the training thread ----------------------------------------------------------------

    def on_log(self, trainer) -> None:
        """The trainer's hook: send the kinds that are due, within the budget."""
        if not self.wanted:
            return
        now = time.perf_counter()
        if self.since is None:
            self.since = now
        control = trainer.control
        last_step = control.paused and not control.step_budget  # show where the steps ended
        if not last_step and self.seconds > self.budget * (now - self.since) + BURST:
            return
        due = [k for k in self.intervals if last_step or now >= self.due.get(k, 0.0)]
        if due:
            self.emit(trainer, due)

    def refresh(self) -> None:
        """Every kind now (a watcher arrived), also while paused."""
        if self.wanted and self.trainer is not None:
            self.emit(self.trainer, list(self.intervals))

    def final(self, trainer) -> None:
        """Every kind once more at the end of the run, watched or not, for the run's record."""
        if trainer.grad_norms is None:
            try:
                self.kind.final_gradients(trainer)
            except Exception:  # noqa: BLE001 - the run is over; its other pictures still go
                traceback.print_exc()
        self.emit(trainer, self.pictures, final=True)

    def emit(self, trainer, kinds: list[str], final: bool = False) -> None:
        """Make the frames of `kinds` and send them in one message."""
        start = time.perf_counter()
        insight = self._insight(trainer)
        if insight is None:
            return
        frames = {}
        for kind in kinds:
            payload = self._make(kind, insight)
            if payload is not None:
                frames[f"run_{kind}"] = {"run_id": self.run_id, "step": trainer.step, **payload}
            self.due[kind] = start + self.intervals.get(kind, 0.0)
        if not self.samples_sent:
            self.samples_sent = True
            samples = self._samples(insight)
            if samples is not None:
                frames["run_samples"] = {"run_id": self.run_id, **samples}
        if frames:
            self.send(("frames", self.run_id, self._info(trainer, final), frames))
        if not final:
            self.frames += len(frames)
            self.seconds += time.perf_counter() - start

    def stats(self) -> dict:
        """What the pictures cost this run (for the run's summary)."""
        return {"frames": self.frames, "seconds": round(self.seconds, 4)}

    def _insight(self, trainer):
        if self.insight is None and len(self.broken) < len(self.pictures):
            try:
                self.insight = self.kind.insight(trainer)
            except Exception:  # noqa: BLE001 - no pictures for this design; it still trains
                traceback.print_exc()
                self.broken.update(self.pictures)
                return None
            self.insight.select(self.selected)
            trainer.probe_grads = True  # gradient norms on the next step, for run_health
        return self.insight

    def _make(self, kind: str, insight) -> dict | None:
        if kind in self.broken:
            return None
        try:
            return self.kind.PICTURES[kind][1](insight)
        except Exception:  # noqa: BLE001 - a picture that fails must never fail the run
            traceback.print_exc()
            self.broken.add(kind)
            return None

    @staticmethod
    def _samples(insight) -> dict | None:
        try:
            return insight.samples()
        except Exception:  # noqa: BLE001 - without them the page cannot pick; the run goes on
            traceback.print_exc()
            return None

    def _apply_selection(self) -> None:
        if self.insight is not None:
            self.insight.select(self.selected)
        if self.wanted and self.trainer is not None:
            self.emit(self.trainer, ["activations"])

    @staticmethod
    def _info(trainer, final: bool) -> dict:
        seconds = time.perf_counter() - trainer.t0  # the metric points' clock
        return {"step": trainer.step, "epoch": trainer.epoch_now(),
                "time": round(seconds, 4), "final": final}
