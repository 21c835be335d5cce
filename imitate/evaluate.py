"""``python -m imitate.evaluate model=<name>|checkpoint=<dir> eval=paper``: benchmarks without training."""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from imitate.config_hints import run_with_hints
from imitate.eval.results import log_results
from imitate.eval.tasks import run_tasks
from imitate.tracking import mlflow_run

log = logging.getLogger(__name__)


@hydra.main(config_path="pkg://imitate.conf", config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> dict[str, float]:
    return evaluate(cfg)


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Load the model, run every task in ``cfg.eval.tasks``, log all of it to a new MLflow run."""
    torch.manual_seed(cfg.seed)
    model, tokenizer = load_model(cfg.model, cfg.checkpoint)
    results, records = run_tasks(
        cfg.eval.tasks,
        model,
        tokenizer,
        output_dir=Path(cfg.output_dir),
        cache_dir=Path(cfg.results_cache).expanduser(),
    )

    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    tags = mlflow_run.run_tags(dict(choices)) | {"kind": "evaluate"}
    logger = mlflow_run.mlflow_logger(cfg.tracking, cfg.run_name, tags)
    client, run_id = logger.experiment, logger.run_id
    mlflow_run.log_params(client, run_id, OmegaConf.to_container(cfg, resolve=True))
    log_results(client, run_id, results, records, cfg.eval.tasks)
    logger.finalize("success")
    print(
        "\n".join(
            f"{name} = {value:.4f}"
            for name, value in sorted(results.items())
            if "/acc/" not in name
        )
    )
    return results


def load_model(model_cfg: DictConfig, checkpoint: str | None):
    """A saved checkpoint when given, else the model group's backbone and tokenizer."""
    if checkpoint is not None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(checkpoint).expanduser()
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"checkpoint={checkpoint!r} is not a saved model dir (no config.json)"
            )
        return AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(
            path
        )
    return instantiate(model_cfg.backbone).eval(), instantiate(model_cfg.tokenizer)


if __name__ == "__main__":
    run_with_hints(main)  # a refused config also prints the valid keys and the closest match
