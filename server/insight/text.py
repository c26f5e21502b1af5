"""run_text: what a next-character network writes, continuing a fixed prompt (text datasets).

The prompt is the first window of the text's validation part, so it was never trained on. Two
continuations a frame: the most likely character each time (greedy), and one sampled at
temperature 0.8 from a generator seeded the same way every frame, so that two frames differ only
because the network learned in between.
"""

from __future__ import annotations

import torch

LENGTH = 120  # characters written a continuation
TEMPERATURE = 0.8
SEED = 1234


class TextWriter:
    """Continues the prompt with the live model; the trainer's data says which text."""

    def __init__(self, trainer):
        from server.data import default_data_dir
        from server.data.textfile import prompt_ids

        info = trainer.dataset.info
        p = info.params
        self.trainer = trainer
        self.vocab = list(info.classes or ())
        self.seq_len = p["seq_len"]
        ids, self.prompt = prompt_ids(trainer.data_dir or default_data_dir(), p["upload"],
                                      p["seq_len"], p["val_fraction"])
        self.ids = torch.tensor(ids, dtype=torch.float32, device=trainer.device)

    def frame(self) -> dict:
        """{prompt, samples: [greedy, sampled], temperature}."""
        model = self.trainer.model
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                samples = [self._write(None), self._write(torch.Generator().manual_seed(SEED))]
        finally:
            model.train(was_training)
        return {"prompt": self.prompt, "samples": samples, "temperature": TEMPERATURE}

    def _write(self, generator: torch.Generator | None) -> str:
        window = self.ids.clone()
        out = []
        for _ in range(LENGTH):
            logits = self.trainer.model(window[None])[0].float().cpu()
            if generator is None:
                nxt = int(logits.argmax())
            else:
                probs = torch.softmax(logits / TEMPERATURE, dim=0)
                nxt = int(torch.multinomial(probs, 1, generator=generator))
            out.append(self.vocab[nxt] if nxt < len(self.vocab) else "?")
            window = torch.cat([window[1:], window.new_tensor([float(nxt)])])
        return "".join(out)
