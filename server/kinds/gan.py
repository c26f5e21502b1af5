"""The `gan` kind (CONTRACTS.md §6): a generator from `Noise` into the `Input`, a discriminator
from the `Input` to a one-logit sink, trained as a two-player game. Export gives the generator.
"""

from __future__ import annotations

from server.graph.gan import split
from server.kinds import gan_loop
from server.kinds.gan_loop import GanTrainer

NAME = "gan"


def trainer(network, **kwargs) -> GanTrainer:
    """The two-player loop (gan_loop.py)."""
    return GanTrainer(network, **kwargs)


def build(network, seed: int | None = None):
    """Both players in one module: `generator` and `discriminator`."""
    return gan_loop.build(network, seed=seed)


def summary(result) -> dict:
    """Final losses, D's view of real and generated samples, and MMD before and after."""
    return {"d_loss": result.d_loss, "g_loss": result.g_loss, "d_real": result.d_real,
            "d_fake": result.d_fake, "mmd": result.mmd, "mmd_initial": result.mmd_initial}


def onnx_target(network, model):
    """The generator, fed at `noise` [batch, dim], giving a sample at `output`."""
    g_network, _ = split(network)
    return g_network, model.generator, "noise"


def pytorch_source(network, model) -> str:
    """Both networks in one file: Generator, Discriminator and a loader for each."""
    from server.export import export_pytorch_gan

    g_network, d_network = split(network)
    return export_pytorch_gan(g_network, d_network, model.state_dict())


def insight(trainer):
    """The pictures of both networks and of what the generator makes."""
    from server.kinds.gan_pictures import GanInsight

    return GanInsight(trainer)


def boundary(insight) -> dict | None:
    """run_boundary: the discriminator's D(x) over the data plane."""
    frame = insight.boundary()
    if frame is None:
        return None
    frame.pop("shape")
    return frame


PICTURES = {
    "boundary": (10.0, boundary),
    "generated": (10.0, lambda insight: insight.generated()),
    "activations": (4.0, lambda insight: {"nodes": insight.activations(),
                                          "selected": insight.selected}),
    "health": (2.0, lambda insight: insight.health()),
    "weights": (1.0, lambda insight: {"nodes": insight.weights()}),
}


def final_gradients(trainer) -> None:
    """One probed iteration's worth of gradients, without changing a weight."""
    trainer.probe_grads = True
    real = trainer.x_train[:trainer.batch_size]
    for model in (trainer.generator_model, trainer.discriminator):
        model.zero_grad(set_to_none=True)
    fake = trainer.generator_model(trainer.noise(real.shape[0]))
    trainer.d_loss_of(trainer.discriminator(real), trainer.discriminator(fake.detach())).backward()
    from server.train.gradients import gradient_norms

    trainer.d_norms = gradient_norms(trainer.d_groups)
    trainer.discriminator.zero_grad(set_to_none=True)
    trainer.g_loss_of(trainer.discriminator(fake)).backward()
    trainer._record_norms()
    for model in (trainer.generator_model, trainer.discriminator):
        model.zero_grad(set_to_none=True)
