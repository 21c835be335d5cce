"""The default MLflow store, read from conf/tracking/mlflow.yaml so that it is written in one place.

The Hydra entry points compose ``tracking.uri`` themselves; the argparse CLIs (report, rate) call
``default_tracking_uri`` for theirs. A module of its own: importing ``mlflow_run`` costs seconds
(Lightning), which a CLI's start should not pay.
"""

from __future__ import annotations

import importlib.resources

from omegaconf import OmegaConf


def default_tracking_uri() -> str:
    """``tracking.uri`` as conf/tracking/mlflow.yaml resolves it: ``$MLFLOW_TRACKING_URI``, else the default."""
    path = importlib.resources.files("imitate.conf") / "tracking" / "mlflow.yaml"
    return str(OmegaConf.create(path.read_text()).uri)
