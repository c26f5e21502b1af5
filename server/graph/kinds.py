"""What each training kind shows a user, as data (pure): its metrics and the chart each is drawn
on, its step buttons, and the rates that change while it trains.

The loops live in server/kinds/ (torch); this is what GET /api/training says of them, beside the
fields of server/graph/training.py. A live rate names the field it changes, whose bounds are
the ones `set_hparams` and validation both apply.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """One figure of a metric point."""

    name: str  # its key in run_metrics points
    doc: str
    chart: str | None  # the chart it is drawn on (null: marked on the charts when it changes)
    x: str = "step"  # what its chart's x axis counts: "step", or "episode" (one point each)
    average: int | None = None  # also draw its moving average over this many points
    goal: str | None = None  # a line to draw: a field of the run's environment (solved_return)


@dataclass(frozen=True)
class Step:
    """One step button: what `control`'s `network` says to step."""

    name: str  # "both" steps everything (the one button of a kind with one network)
    label: str
    doc: str


@dataclass(frozen=True)
class Hparam:
    """A rate the run card changes mid-run (`set_hparams`)."""

    name: str  # its key in set_hparams and in metric points
    path: str  # the training field it changes (and whose bounds it has)
    label: str
    doc: str


@dataclass(frozen=True)
class KindSpec:
    """A training kind as the page and the events see it."""

    name: str
    doc: str
    metrics: tuple[Metric, ...]
    steps: tuple[Step, ...]
    hparams: tuple[Hparam, ...]
    baseline: bool = False  # a random-forest baseline can be fitted on its data (§7)


LR_DOC = "The learning rate: change it while training (the optimizer keeps its state)."

SPECS: dict[str, KindSpec] = {s.name: s for s in (
    KindSpec("supervised", "Learns to map inputs to targets: a dataset's labels, its next value, "
             "or the input itself.", (
                 Metric("train_loss", "Running loss on the training batches.", "loss"),
                 Metric("train_accuracy", "Running share of training samples classed right.",
                        "accuracy"),
                 Metric("val_loss", "Loss on the validation split.", "loss"),
                 Metric("val_accuracy", "Share of validation samples classed right.",
                        "accuracy"),
                 Metric("lr", "The learning rate.", None),
             ), (Step("both", "Step", "One optimizer step"),),
             (Hparam("lr", "optimizer.lr", "Learning rate", LR_DOC),), baseline=True),
    KindSpec("gan", "A generator from Noise learns to make samples that a discriminator cannot "
             "tell from the data's (Goodfellow et al. 2014).", (
                 Metric("d_loss", "The discriminator's loss.", "loss"),
                 Metric("g_loss", "The generator's loss.", "loss"),
                 Metric("d_real", "Mean D probability on real samples.", "discriminator"),
                 Metric("d_fake", "Mean D probability on generated samples.", "discriminator"),
                 Metric("mmd", "Squared maximum mean discrepancy between generated samples and "
                        "the validation split (0: the same distribution).", "mmd"),
                 Metric("lr", "The discriminator's learning rate.", None),
                 Metric("generator_lr", "The generator's learning rate.", None),
             ), (
                 Step("d", "Step D", "One discriminator step"),
                 Step("g", "Step G", "One generator step"),
                 Step("both", "Step both", "One iteration: the discriminator's steps, then the "
                      "generator's"),
             ), (
                 Hparam("lr", "optimizer.lr", "Discriminator lr", "The discriminator's "
                        "learning rate: change it while training."),
                 Hparam("generator_lr", "gan.generator_optimizer.lr", "Generator lr",
                        "The generator's learning rate: change it while training."),
             )),
    KindSpec("dqn", "A Q-network learns the value of each action by playing an environment, "
             "exploring less as it learns (deep Q-learning, Mnih et al. 2015).", (
                 Metric("episode_return", "The return of each finished episode (the sum of its "
                        "rewards), with its moving average and the return that counts as "
                        "solved.", "return", x="episode", average=20, goal="solved_return"),
                 Metric("td_loss", "The Huber loss between Q(s, a) and its TD target.",
                        "td_loss"),
                 Metric("q_mean", "The mean Q-value of the replayed actions.", "q"),
                 Metric("epsilon", "The chance of a random action (exploration).", "epsilon"),
                 Metric("episode", "Episodes finished.", None),
                 Metric("lr", "The learning rate.", None),
             ), (Step("both", "Step", "One environment step (and the update it is due)"),),
             (Hparam("lr", "optimizer.lr", "Learning rate", LR_DOC),
              Hparam("epsilon", "dqn.epsilon_start", "Exploration ε", "The chance of a random "
                     "action from now on: setting it ends the schedule."))),
)}
STEP_NAMES = tuple(dict.fromkeys(s.name for spec in SPECS.values() for s in spec.steps))
