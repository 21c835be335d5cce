"""``python -m imitate [overrides]``: one fine-tune + evaluation run (``-m`` for a sweep)."""

import hydra
from omegaconf import DictConfig

from imitate.train import run


@hydra.main(config_path="pkg://imitate.conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float:
    return run(cfg)


if __name__ == "__main__":
    main()
