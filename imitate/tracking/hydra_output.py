"""Hydra's own records in the outputs folder and its launcher's log lines, secrets redacted.

Hydra writes ``.hydra/config.yaml``, ``hydra.yaml`` and ``overrides.yaml`` (and a sweep's
``multirun.yaml``) verbatim, and its launchers log each sweep job's overrides, so
``+judge.api_key=...`` on the command line would sit in the outputs folder and the console in
clear. Configured under ``hydra.callbacks`` in conf/train.yaml and conf/evaluate.yaml:
``on_job_start`` comes right after Hydra saved the files, before the task runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from imitate.redact import redact, secret_values
from imitate.tracking.mlflow_run import redacted_yaml

HYDRA_FILES = ("config.yaml", "hydra.yaml", "overrides.yaml")
MULTIRUN_FILE = "multirun.yaml"
# Loggers that print each sweep job's overrides ("#0 : a=1 +judge.api_key=...").
LAUNCHER_LOGGERS = (
    "hydra._internal.core_plugins.basic_launcher",
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher",
)


class RedactHydraOutput(Callback):
    """Rewrites Hydra's saved configs with every secret replaced by ``<redacted>``."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # A logger's filter only sees that logger's own records, so each launcher gets one.
        known = secret_values(list(config.hydra.overrides.task))
        for name in LAUNCHER_LOGGERS:
            logging.getLogger(name).addFilter(RedactingFilter(known))

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


def redact_file(path: Path, known: Iterable[str] = ()) -> None:
    """Rewrite a YAML file in place with its secrets redacted."""
    path.write_text(redacted_yaml(path, known))


class RedactingFilter(logging.Filter):
    """Redacts a log record's message (with its arguments filled in) before any handler sees it."""

    def __init__(self, known: Iterable[str] = ()) -> None:
        super().__init__()
        self.known = set(known)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage(), self.known), None
        return True
