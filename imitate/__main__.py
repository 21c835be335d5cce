"""``python -m imitate [overrides]``: one fine-tune + evaluation run (``-m`` for a sweep)."""

import hydra
from omegaconf import DictConfig

from imitate.config_hints import run_with_hints
from imitate.config_schema import checked_task
from imitate.train import run


@hydra.main(config_path="pkg://imitate.conf", config_name="train", version_base="1.3")
@checked_task("train")  # before any data is read: keys forced in with `+`, bad choices
def main(cfg: DictConfig) -> float:
    return run(cfg)


def cli() -> None:
    run_with_hints(main)  # a refused config also prints the valid keys and the closest match


if __name__ == "__main__":
    cli()
