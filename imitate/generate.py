"""``python -m imitate.generate llm=<teacher> [generate=nq_synthetic|collect]``: imitation data from a teacher."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import cast

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from imitate.config_hints import run_with_hints
from imitate.config_schema import checked_task
from imitate.redact import redact

log = logging.getLogger(__name__)


@hydra.main(config_path="pkg://imitate.conf", config_name="generate", version_base="1.3")
@checked_task("generate")  # keys of llm and generate, llm chosen: before any file is read
def main(cfg: DictConfig) -> dict:
    return generate(cfg)


def generate(cfg: DictConfig) -> dict:
    """Run (or continue) the job with the teacher, log its manifest to MLflow, print the counts."""
    # The job reads its input files first, so a bad path fails before a model loads.
    job = instantiate(cfg.generate)
    llm = instantiate(cfg.llm)
    try:
        manifest = job.run(llm)
    finally:
        if callable(close := getattr(llm, "close", None)):  # HTTP connections, the cache file
            close()
    if cfg.get("tracking") is not None:  # `~tracking` runs without MLflow
        log_to_mlflow(cfg, manifest)
    print(json.dumps({"output": str(job.output), **manifest["counts"]}, indent=2))
    if manifest["stopped"] not in ("n_examples", "done"):
        log.warning("the job stopped early (%s): rerun to continue it", manifest["stopped"])
    return manifest


def log_to_mlflow(cfg: DictConfig, manifest: dict) -> str:
    """One finished MLflow run: config as params, the LLM ledger as metrics, the manifest as artifact."""
    # MLflow and Lightning take seconds to import: only here, so config errors come back fast.
    from imitate.metric_log import log_metrics
    from imitate.tracking import mlflow_run

    client, experiment_id = mlflow_run.ensure_experiment(cfg.tracking)
    hydra_dir = None
    choices: dict = {}
    if HydraConfig.initialized():
        choices = dict(HydraConfig.get().runtime.choices)
        hydra_dir = Path(HydraConfig.get().runtime.output_dir) / ".hydra"
    tags = mlflow_run.run_tags(choices) | {"kind": "generate", "job": manifest["job"]}
    run_id = client.create_run(experiment_id, run_name=cfg.run_name).info.run_id
    mlflow_run.set_tags(client, run_id, tags)
    mlflow_run.log_params(client, run_id, cast(dict, OmegaConf.to_container(cfg, resolve=True)))
    mlflow_run.log_config_artifacts(client, run_id, cfg, hydra_dir)
    log_metrics(client, run_id, manifest["usage"])  # the ledger, summed over every run of the job
    client.log_dict(run_id, redact(manifest), f"generate/{manifest['job']}.manifest.json")
    client.set_terminated(run_id, "FINISHED")
    return run_id


def cli() -> None:
    run_with_hints(main)  # a refused config also prints the valid keys and the closest match


if __name__ == "__main__":
    cli()
