"""``python -m imitate [overrides]``: one fine-tune + evaluation run (``-m`` for a sweep)."""

import sys

import hydra
from omegaconf import DictConfig

from imitate.train import run


@hydra.main(config_path="pkg://imitate.conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float:
    return run(cfg)


def cli() -> None:
    try:
        main()
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            from imitate.config_hints import unknown_key_hints

            for hint in unknown_key_hints(sys.argv[1:]):
                print(hint, file=sys.stderr)
        raise


if __name__ == "__main__":
    cli()
