"""Hydra's own records in the outputs folder, secrets redacted before the job runs.

Hydra writes ``.hydra/config.yaml``, ``hydra.yaml`` and ``overrides.yaml`` (and a sweep's
``multirun.yaml``) verbatim, so ``+judge.api_key=...`` on the command line would sit in the
outputs folder in clear. Configured under ``hydra.callbacks`` in conf/train.yaml and
conf/evaluate.yaml: ``on_job_start`` comes right after Hydra saved them, before the task runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from imitate.redact import secret_values
from imitate.tracking.mlflow_run import redacted_yaml

HYDRA_FILES = ("config.yaml", "hydra.yaml", "overrides.yaml")
MULTIRUN_FILE = "multirun.yaml"


class RedactHydraOutput(Callback):
    """Rewrites Hydra's saved configs with every secret replaced by ``<redacted>``."""

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        known = secret_values(list(config.hydra.overrides.task))
        files = []
        if config.hydra.output_subdir is not None:
            folder = Path(config.hydra.runtime.output_dir) / str(config.hydra.output_subdir)
            files += [folder / name for name in HYDRA_FILES]
        if config.hydra.mode == RunMode.MULTIRUN:
            files.append(Path(str(config.hydra.sweep.dir)) / MULTIRUN_FILE)
        for path in files:
            if path.is_file():
                redact_file(path, known)


def redact_file(path: Path, known=()) -> None:
    """Rewrite a YAML file in place with its secrets redacted."""
    path.write_text(redacted_yaml(path, known))
