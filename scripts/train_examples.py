"""Train every example design as shipped and keep its weights with it, so a talk can open on a
model that already works (the page's "Load trained weights"; `training.init: {"weights":
"example-ID"}`).

    .venv/bin/python scripts/train_examples.py [ID ...]

Each example is trained on the CPU with its own seed, steps and epochs, exactly as a user's
`layerlab train` would, and written to server/examples/weights/ID.safetensors; one JSON line a
design prints the figures tests/test_examples.py holds it to. An example whose dataset must be
downloaded (MNIST) is skipped where it is not.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.graph import parse_document  # noqa: E402
from server.graph.init import example_weights_path  # noqa: E402
from server.kinds import kind_of  # noqa: E402
from server.model import save_weights  # noqa: E402

EXAMPLES = ROOT / "server" / "examples"
# Examples whose trained weights do not ship, and why (tests/test_examples.py reads this too).
NOT_SHIPPED = {
    "dqn_acrobot": "its final Q-network, played greedily, holds the arm still (-500 every "
                   "episode; -321 at ε 0.05) although the last 20 training episodes average "
                   "-109: DQN's policy oscillates, and a talk should train it live instead",
}


def downloaded(name: str) -> bool:
    from server.data import default_data_dir
    from server.data.downloads import FILES, cache_dir

    return all((cache_dir(default_data_dir(), name) / f).is_file() for f in FILES)


def main(ids: list[str]) -> int:
    paths = sorted(EXAMPLES.glob("*.layerlab.json"))
    chosen = [p for p in paths if not ids or p.name.removesuffix(".layerlab.json") in ids]
    for path in chosen:
        example_id = path.name.removesuffix(".layerlab.json")
        network = parse_document(json.loads(path.read_text()))
        data = network.dataset
        if data is not None and data.name in ("mnist", "fashion_mnist") and \
                not downloaded(data.name):
            print(json.dumps({"id": example_id, "skipped": f"{data.name} is not downloaded"}))
            continue
        if example_id in NOT_SHIPPED:
            print(json.dumps({"id": example_id, "skipped": NOT_SHIPPED[example_id]}))
            continue
        kind = kind_of(network)
        start = time.perf_counter()
        result = kind.trainer(network, device="cpu").run()
        out = save_weights(result.model.cpu(), example_weights_path(example_id))
        figures = {k: v for k, v in kind.summary(result).items() if not isinstance(v, dict)}
        print(json.dumps({"id": example_id, "steps": result.steps,
                          "seconds": round(time.perf_counter() - start, 1),
                          "bytes": out.stat().st_size, **figures}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
